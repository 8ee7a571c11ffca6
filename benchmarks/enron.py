"""Turn the Enron headers corpus (JSON Lines) into mbox folders Kith can sync.

    python -m benchmarks.enron --out DIR [--owner germany-c ...]

Writes DIR/<owner>/<folder>.mbox with the headers of every message and an empty
body, and DIR/<owner>.toml / DIR/all.toml configs. Only the mail's metadata
is in the corpus; nothing here invents content.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "enron"
HEADERS = SHARED / "headers"
CACHE = Path(__file__).resolve().parent / ".cache"


def owners() -> list[str]:
    return sorted(p.name.removesuffix(".jsonl.gz") for p in HEADERS.glob("*.jsonl.gz"))


def read_owner(owner: str) -> Iterator[dict]:
    with gzip.open(HEADERS / f"{owner}.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def plain_name(x_from: str | None) -> str:
    """The display name in x_from, as the mail showed it: 'Taylor, Mark E (Legal)' of an Exchange sender
    ('Taylor, Mark E (Legal) </O=ENRON/OU=NA/CN=RECIPIENTS/CN=MTAYLOR>'), 'Jeff Smith' of '"Jeff Smith"
    <jsmith@…>'; nothing for a bare address or Notes path ('Mark Taylor/HOU/ECT')."""
    name = (x_from or "").split("<", 1)[0].strip().strip('"').strip()
    return "" if any(ch in name for ch in "<>/@=\"") else name


def header_block(record: dict) -> str:
    lines = [f"Message-ID: {record['message_id']}", f"Date: {record['date']}"]
    sender = record["from"] or ""
    if "<" in sender:       # 'legal <.schuler@enron.com>': a From that carries a name of its own
        sender = parseaddr(sender)[1] or sender
    name = plain_name(record.get("x_from"))
    lines.append(f'From: "{name}" <{sender}>' if name and sender else f"From: {sender}")
    for field, header in (("to", "To"), ("cc", "Cc"), ("subject", "Subject")):
        value = record.get(field)
        if value:
            lines.append(f"{header}: {' '.join(value.split())}")
    return "\n".join(lines)


def envelope_date(record: dict) -> str:
    try:
        return parsedate_to_datetime(record["date"]).strftime("%a %b %d %H:%M:%S %Y")
    except (TypeError, ValueError):
        return "Thu Jan  1 00:00:00 1970"


def write_owner(owner: str, out: Path) -> int:
    """Write one owner's folders as mbox files; returns the number of messages."""
    files: dict[str, list[str]] = {}
    for record in read_owner(owner):
        text = f"From MAILER-DAEMON {envelope_date(record)}\n{header_block(record)}\n\n"
        files.setdefault(record["folder"], []).append(text)
    for folder, messages in files.items():
        target = out / owner / f"{folder}.mbox"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(messages), encoding="utf-8", errors="surrogateescape")
    return sum(len(m) for m in files.values())


def config_text(names: Iterable[str], out: Path, database: Path) -> str:
    sources = "".join(f'\n[[sources]]\ntype = "mbox"\nname = "{o}"\npath = "{out / o}"\n' for o in names)
    return (f'[user]\nname = "Enron owner"\ntimezone = "America/Chicago"\n\n[storage]\ndatabase = "{database}"\n'
            f'\n[digest]\ndirectory = "{database.parent / "digests"}"\n{sources}')


CONVERTER = "3"       # the conversion's version: owners converted by an older one are converted again


def prepare(names: list[str], out: Path = CACHE / "mbox") -> int:
    """Convert the owners not converted yet by this version (a marker file per owner); returns messages
    written now."""
    written = 0
    for owner in names:
        marker = out / f".{owner}.done"
        if marker.exists() and marker.read_text() == CONVERTER:
            continue
        shutil.rmtree(out / owner, ignore_errors=True)
        written += write_owner(owner, out)
        marker.write_text(CONVERTER)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CACHE / "mbox")
    parser.add_argument("--owner", action="append", help="owner to convert (default: all)")
    args = parser.parse_args()
    if not HEADERS.is_dir():
        raise SystemExit(f"no Enron corpus at {HEADERS}: it lives in ../shared/data/enron beside the project")
    names = args.owner or owners()
    os.makedirs(args.out, exist_ok=True)
    print(f"converted {prepare(names, args.out)} messages of {len(names)} owners into {args.out}")


if __name__ == "__main__":
    main()
