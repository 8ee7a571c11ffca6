"""Deliver the day's digest: the only code that writes outside the database.

Delivery is idempotent per date. The rendered digest is first recorded in
`digests` (with the suggestions it made), then the files are written atomically
and their path recorded, then `delivered_at` is set. A crash in between reruns
only what is missing, with the payload recorded first; a second run on the same
day delivers nothing new.

Each mailbox (Gmail, Outlook) is recorded in `digest_deliveries` as soon as the
digest landed there, with the provider's id: a retry after another mailbox
failed, after a kill, or a `kith digest --force` places no second copy of the
day's digest in a mailbox that has one, wherever the user moved it since.

A digest's suggestions count as shown (and keep its people from being suggested
again for a while, `daemon.analysis`) only once its file is written: a digest
that reached the user nowhere hides no one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

from sqlite_utils import Database

from daemon import paths
from daemon.analysis import Digest
from daemon.config import Config
from daemon.errors import ConfigError, KithError, StoreError
from daemon.digest import render_html, render_markdown, render_text, to_json
from daemon.store import utc_text


DIGEST_FILES = r"kith-\d{4}-\d{2}-\d{2}\.(?:md|html)"   # the digest folder's files, as a regular expression
PARTNER_POSITION = 2000  # the second person of suggestion i is recorded at this position + i
FOCUS_POSITION = 1000  # the week's focus person is recorded with the day's suggestions, after them


@dataclass
class Delivered:
    date: date
    payload: dict          # {"json": ..., "markdown": ..., "html": ..., "text": ...}
    files: list[Path]
    already: bool          # True when this date had been delivered before
    kept: list[str] = field(default_factory=list)   # mailboxes that had this date's digest: not placed again


def stored(db: Database, day: date) -> tuple[dict, str | None] | None:
    row = db.execute("SELECT payload, delivered_at FROM digests WHERE date = ?", [day.isoformat()]).fetchone()
    return (json.loads(row[0]), row[1]) if row else None


def render(digest: Digest) -> dict:
    """The digest in every form it is shown in: {"json", "markdown", "html", "text"}."""
    return {"json": to_json(digest), "markdown": render_markdown(digest), "html": render_html(digest),
            "text": render_text(digest)}


def record(db: Database, digest: Digest, now: datetime | None = None, *, replay: bool = False,
           replace: bool = False) -> dict:
    """Store the rendered digest and its suggestions for its date, once, with its `replay` flag; `replace` (a
    forced render) swaps them for the stored ones in the same transaction, keeping the stored flag: a digest
    shown on its day stays one, and a kill midway leaves the old one whole."""
    payload = render(digest)
    day = digest.date.isoformat()
    with db.atomic():
        old = db.execute("SELECT replay FROM digests WHERE date = ?", [day]).fetchone()
        if old and not replace:
            return stored(db, digest.date)[0]
        if old:
            replay = bool(old[0])
            db.execute("DELETE FROM suggestions WHERE date = ?", [day])
            db.execute("DELETE FROM digests WHERE date = ?", [day])
        db.execute("INSERT INTO digests (date, rendered_at, payload, replay) VALUES (?, ?, ?, ?)",
                   [day, utc_text(now or datetime.now(UTC)), json.dumps(payload, ensure_ascii=False), int(replay)])
        rows = [(day, i, s.kind, s.contact_id, s.goal, s.thread or None) for i, s in enumerate(digest.suggestions)]
        # the second person of an introduction was suggested too: not asked about another one tomorrow
        rows += [(day, PARTNER_POSITION + i, s.kind, s.other_id, s.goal, None)
                 for i, s in enumerate(digest.suggestions) if s.other_id]
        if digest.focus:
            rows.append((day, FOCUS_POSITION, "focus", digest.focus[0], digest.focus[2], None))
        db.conn.executemany("INSERT INTO suggestions (date, position, kind, address, goal, thread) "
                            "VALUES (?, ?, ?, ?, ?, ?)", rows)
    return payload


def write_files(directory: Path, day: date, payload: dict) -> list[Path]:
    files = [directory / f"kith-{day.isoformat()}.md", directory / f"kith-{day.isoformat()}.html"]
    try:
        paths.remove_stale_temp_files(directory, DIGEST_FILES)    # a kill mid-write on any earlier day
        paths.write_private(files[0], payload["markdown"])
        paths.write_private(files[1], payload["html"])
    except OSError as exc:   # the date stays undelivered: the next run writes it once the folder is fixed
        raise digest_folder_error(exc, directory) from None
    return files


def digest_folder_error(exc: OSError, directory: Path) -> KithError:
    """A failed digest write as what the user must fix: the setting (a folder that is not one, not theirs, not
    there and not makeable) is a ConfigError; a full disk or an I/O error under a folder they can write to is
    a StoreError, a runtime trouble the next run gets past once it is solved."""
    problem = f"cannot write the digest into {directory} ({exc.strerror or exc})"
    usable = directory.is_dir() and os.access(directory, os.W_OK | os.X_OK)
    if exc.errno in paths.DISK_ERRORS or usable:
        return StoreError(problem, where="[digest] directory",
                          fix=f"{paths.disk_fix(exc, directory)}; the day's digest stays due and is written on the next try")
    return ConfigError(problem, where="[digest] directory", fix="set it to a folder you can write to")


def mark_shown(db: Database, day: date, markdown: Path) -> None:
    """The digest's file is written: from now on its suggestions count as shown (`daemon.analysis.SHOWN`)."""
    db.execute("UPDATE digests SET path = ? WHERE date = ?", [str(markdown), day.isoformat()])


def deliver(db: Database, digest: Digest, directory: Path, now: datetime | None = None, *,
            config: Config | None = None, replay: bool = False, replace: bool = False) -> Delivered:
    """Record, write, place in the user's own mailboxes, and mark delivered; a date delivered before is left alone.
    A `replay` (an earlier day's digest, rendered now to read) is marked so: what it suggests was never shown on
    its day, and hides no one from today's digest or those to come (`daemon.analysis.SHOWN`); the flag is stored
    with the digest, so a run interrupted before its files are written keeps it. `replace` (`kith digest --force`)
    renders a delivered date again, swapping the stored digest atomically (see `record`).

    A mailbox that fails leaves the date undelivered, so the next run tries again;
    each mailbox recognises a digest it already holds, so nothing arrives twice.
    """
    previous = stored(db, digest.date)
    if previous and previous[1] and not replace:
        return Delivered(digest.date, previous[0], _files_of(db, digest.date), already=True)
    payload = record(db, digest, now, replay=replay, replace=replace)
    files = write_files(directory, digest.date, payload)
    mark_shown(db, digest.date, files[0])
    kept = to_own_mailboxes(db, config, digest.date, payload, now) if config is not None else []
    db.execute("UPDATE digests SET delivered_at = ? WHERE date = ?",
               [utc_text(now or datetime.now(UTC)), digest.date.isoformat()])
    return Delivered(digest.date, payload, files, already=False, kept=kept)


def to_own_mailboxes(db: Database, config: Config, day: date, payload: dict, now: datetime | None = None
                     ) -> list[str]:
    """Place the digest in the user's own Gmail / Outlook inbox, as `[digest] deliver` asks, each once per day;
    returns the mailboxes that had it already (placed by an earlier run). Never sends."""
    subject = f"Kith — your people for {day:%A} {day.day} {day:%B}"
    done = delivered_mailboxes(db, day)
    kept = []
    for target in ("gmail", "outlook"):
        if target not in config.digest.deliver:
            continue
        source = next((s for s in config.sources if s.type == target and s.enabled), None)
        if source is None:
            raise ConfigError(f"[digest] deliver has {target!r} but no enabled {target} source", where=str(config.path),
                              fix=f"add a [[sources]] entry with type = \"{target}\", or remove {target!r} from deliver")
        mailbox = f"{source.type}:{source.name}"
        if mailbox in done:
            kept.append(mailbox)
            continue
        placed = partial(record_delivery, db, day, mailbox, now=now)   # as soon as it landed: a kill loses nothing
        if target == "gmail":
            from daemon.deliver_gmail import insert_digest
            insert_digest(source, config, day, subject, payload["text"], payload["html"], on_placed=placed)
        else:
            from daemon.deliver_outlook import create_digest
            create_digest(source, config, day, subject, payload["text"], payload["html"], on_placed=placed)
    return kept


def delivered_mailboxes(db: Database, day: date) -> dict[str, str]:
    """The mailboxes this date's digest was placed in, with the provider's id of each copy."""
    return dict(db.execute("SELECT mailbox, provider_id FROM digest_deliveries WHERE date = ?", [day.isoformat()]))


def record_delivery(db: Database, day: date, mailbox: str, provider_id: str, *, now: datetime | None = None) -> None:
    db.execute("INSERT OR REPLACE INTO digest_deliveries (date, mailbox, delivered_at, provider_id) VALUES (?, ?, ?, ?)",
               [day.isoformat(), mailbox, utc_text(now or datetime.now(UTC)), provider_id])


def _files_of(db: Database, day: date) -> list[Path]:
    row = db.execute("SELECT path FROM digests WHERE date = ?", [day.isoformat()]).fetchone()
    if not row or not row[0]:
        return []
    markdown = Path(row[0])
    return [markdown, markdown.with_suffix(".html")]
