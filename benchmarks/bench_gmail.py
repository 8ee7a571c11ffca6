"""Gmail sync against a quota-enforcing fake: how close does a full sync get to the quota's minimum time?

One command, prints figures:

    /work/venv/bin/python benchmarks/bench_gmail.py
    /work/venv/bin/python benchmarks/bench_gmail.py --units-per-second 250    # the real limit: ~35 min

The fake Gmail (tests/fakes/fake_gmail.py) runs in its own process, holds
`--messages` synthetic messages and answers 429 as soon as a per-user token
bucket of `--units-per-second` (burst: one second's worth) runs dry, as Gmail
does. 250 units/s is the documented per-user limit of older Cloud projects; at
that rate 100,000 messages need 100,000 x 5 units / 250 = 2,000 s, so the
default scales the quota up 20x (5,000 units/s, about 100 s) and keeps the
same ratio logic: the connector is configured with `--headroom` of the fake's
limit, and the figure that matters is elapsed time / quota minimum (target:
<= 1.15, with zero failed requests). Then `--changes` changes are made and an
incremental sync is timed and its requests counted.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

import httplib2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.gmail import COST, GmailSource  # noqa: E402
from daemon.config import parse  # noqa: E402
from daemon.store import apply_batch, open_store  # noqa: E402
from tests.fakes.fake_gmail import FakeGoogle  # noqa: E402

REAL_LIMIT = 250          # Gmail per-user units per second (legacy projects)
TARGET = 1.15


def serve(messages: int, units_per_second: float, conn) -> None:
    """The fake Google, in a child process so that its CPU does not compete with the client's."""
    with FakeGoogle(units_per_second=units_per_second) as fake:
        fake.populate(messages)
        conn.send(fake.url)
        while True:
            command, arg = conn.recv()
            if command == "stats":
                conn.send({"statuses": dict(fake.statuses), "spent": dict(fake.spent), "http": fake.http_requests})
            elif command == "change":
                conn.send(make_changes(fake, arg))
            else:
                return


def make_changes(fake: FakeGoogle, count: int) -> dict:
    """Half new mail, a third starred, the rest deleted: `count` history records in all."""
    newest = sorted(fake.messages.values(), key=lambda m: -m.internal)[:count]
    added = count // 2
    starred = count // 3
    for n in range(added):
        fake.add_message(sender=f"New {n} <new{n}@example.com>", subject=f"Fresh {n}")
    for msg in newest[:starred]:
        fake.relabel(msg.id, add=("STARRED",))
    for msg in newest[starred:count - added]:
        fake.delete_message(msg.id)
    return {"added": added, "starred": starred, "deleted": count - added - starred}


def units_of(spent: dict) -> int:
    return sum(COST[kind] * n for kind, n in spent.items())


def source_for(url: str, units_per_minute: int) -> GmailSource:
    text = (f'[[sources]]\ntype = "gmail"\nname = "bench"\napi_endpoint = "{url}"\n'
            f"quota_units_per_minute = {units_per_minute}\n")
    config = parse(text, Path(tempfile.gettempdir()) / "bench-config.toml")
    return GmailSource(config.sources[0], config, http=httplib2.Http(timeout=60))


def timed_pull(source: GmailSource, db, cursor: str | None) -> tuple[float, str | None, int, int]:
    """Pull into the real store; returns (seconds, cursor, messages written, deleted)."""
    start, messages, deleted = time.monotonic(), 0, 0
    for batch in source.pull(cursor):
        counts = apply_batch(db, source.key, batch)
        messages, deleted, cursor = messages + counts.messages, deleted + counts.deleted, batch.cursor
    return time.monotonic() - start, cursor, messages, deleted


def report_full_sync(parent, source: GmailSource, db, args) -> tuple[dict, str | None, bool]:
    """Time the first sync; compare with the least time the fake's quota allows."""
    rate = args.units_per_second
    elapsed, cursor, written, _ = timed_pull(source, db, None)
    parent.send(("stats", None))
    stats = parent.recv()
    units = units_of(stats["spent"])
    minimum = max(units - rate, 0) / rate           # the fake's bucket starts with one second's burst
    failed = sum(n for status, n in stats["statuses"].items() if status != 200)
    ratio = elapsed / minimum if minimum else float("nan")
    print(f"  messages stored      {written:,}")
    print(f"  elapsed              {elapsed:,.1f} s")
    print(f"  quota minimum        {minimum:,.1f} s  ({units:,} units; calls {stats['spent']})")
    print(f"  ratio                {ratio:.3f}  (elapsed / quota minimum; target <= {TARGET})")
    print(f"  failed requests      {failed}  (statuses {stats['statuses']})")
    print(f"  HTTP requests        {stats['http']:,}  (a batch of up to 50 gets is one)")
    if rate != REAL_LIMIT:
        print(f"  at the real {REAL_LIMIT} units/s the same sync needs >= {units / REAL_LIMIT / 60:,.1f} min")
    return stats, cursor, failed == 0 and ratio <= TARGET and written == args.messages


def report_incremental(parent, source: GmailSource, db, cursor: str | None, before: dict, changes: int) -> None:
    parent.send(("change", changes))
    made = parent.recv()
    elapsed, _, written, deleted = timed_pull(source, db, cursor)
    parent.send(("stats", None))
    after = parent.recv()
    api_calls = sum(after["spent"].values()) - sum(before["spent"].values())
    print(f"Incremental sync: {changes} changes {made}")
    print(f"  HTTP requests        {after['http'] - before['http']}  (API calls inside them: {api_calls})")
    print(f"  written / deleted    {written} / {deleted}")
    print(f"  elapsed              {elapsed:.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--units-per-second", type=float, default=REAL_LIMIT * 20,
                        help="the fake's per-user quota (default: 20x Gmail's 250, to finish in minutes)")
    parser.add_argument("--headroom", type=float, default=0.97,
                        help="share of the fake's quota the connector is configured to use")
    parser.add_argument("--changes", type=int, default=100)
    args = parser.parse_args(argv)
    parent, child = mp.Pipe()
    server = mp.Process(target=serve, args=(args.messages, args.units_per_second, child), daemon=True)
    server.start()
    url = parent.recv()
    rate = args.units_per_second
    print(f"Gmail full sync: {args.messages:,} messages; fake quota {rate:,.0f} units/s per user "
          f"({rate / REAL_LIMIT:g}x the real {REAL_LIMIT}/s); connector set to {args.headroom:.0%} of it")
    with tempfile.TemporaryDirectory() as tmp:
        db = open_store(Path(tmp) / "kith.db")
        source = source_for(url, int(rate * 60 * args.headroom))
        stats, cursor, ok = report_full_sync(parent, source, db, args)
        report_incremental(parent, source, db, cursor, stats, args.changes)
        db.conn.close()
    parent.send(("stop", None))
    server.join(timeout=5)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
