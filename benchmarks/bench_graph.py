"""Outlook sync throughput against the local fake Graph: a full sync, then an incremental one.

    /work/venv/bin/python benchmarks/bench_graph.py [--messages 100000] [--changes 100]

Everything runs on 127.0.0.1 (TLS, real MSAL, real requests, a real SQLite
store). Prints requests made and wall time for each phase, and how the
request count compares with Graph's Outlook limit (10,000 requests per
10 minutes per app and mailbox), which is what bounds a real first sync.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.graph_mail import PAGE_SIZE, OutlookMailSource  # noqa: E402
from daemon.store import apply_batch, cursor_of, open_store  # noqa: E402
from tests.fakes.fake_graph import FakeGraph, graph_config, message, sign_in  # noqa: E402

OUTLOOK_LIMIT = 10_000          # requests per 10 minutes per app + mailbox


def fill(fake: FakeGraph, n: int) -> None:
    """n messages, 90 % in the inbox and 10 % in sent items, from 2,000 correspondents."""
    for i in range(n):
        folder = "sentitems" if i % 10 == 0 else "inbox"
        fake.put_message(folder, message(i, sender=f"person{i % 2000}@example.com"))


def change(fake: FakeGraph, n: int, total: int) -> None:
    """n changes: half new mail, a third deletions, the rest re-filed (updated) messages."""
    for i in range(n):
        if i % 2 == 0:
            fake.put_message("inbox", message(total + i, sender="new@example.com"))
        elif i % 3 == 0:
            fake.delete_message("inbox", message(i * 10 + 1)["id"])
        else:
            fake.put_message("inbox", message(i * 10 + 1, subject=f"Updated {i}"))


def sync(source: OutlookMailSource, db, fake: FakeGraph) -> dict[str, float]:
    """Pull from the stored cursor into the store; time the pull and the store separately."""
    seen_before, sent_before = len(fake.paths()), source.graph.requests
    started, store_time, rows, batches = time.perf_counter(), 0.0, 0, 0
    for batch in source.pull(cursor_of(db, source.key)):
        t = time.perf_counter()
        counts = apply_batch(db, source.key, batch)
        store_time += time.perf_counter() - t
        rows += counts.messages + counts.deleted
        batches += 1
    total = time.perf_counter() - started
    return {"requests": source.graph.requests - sent_before, "graph_requests_seen": len(fake.paths()) - seen_before,
            "batches": batches, "rows": rows, "seconds": total, "store_seconds": store_time}


def report(label: str, figures: dict[str, float]) -> None:
    rate = figures["rows"] / figures["seconds"] if figures["seconds"] else 0
    print(f"{label}: {figures['requests']:.0f} Graph requests ({figures['graph_requests_seen']:.0f} seen by the server), "
          f"{figures['batches']:.0f} batches, {figures['rows']:,.0f} rows in {figures['seconds']:.2f} s "
          f"({rate:,.0f} rows/s; store {figures['store_seconds']:.2f} s, "
          f"connector + HTTP {figures['seconds'] - figures['store_seconds']:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, FakeGraph(Path(tmp) / "server") as fake:
        t = time.perf_counter()
        fill(fake, args.messages)
        print(f"fake mailbox: {args.messages:,} messages built in {time.perf_counter() - t:.1f} s; "
              f"page size asked: {PAGE_SIZE}")
        config = graph_config(fake, Path(tmp))
        sign_in(fake, config)
        source = OutlookMailSource(config.sources[0], config, http_client=fake.session())
        db = open_store(Path(tmp) / "kith.db")
        full = sync(source, db, fake)
        report(f"full sync of {args.messages:,} messages", full)
        change(fake, args.changes, args.messages)
        incremental = sync(source, db, fake)
        report(f"incremental sync with {args.changes} changes", incremental)
        stored = db.execute("SELECT count(*) FROM message_copies").fetchone()[0]
        print(f"rows in message_copies after both: {stored:,}")
        minutes = full["requests"] / OUTLOOK_LIMIT * 10
        print(f"at Graph's Outlook limit ({OUTLOOK_LIMIT:,} requests / 10 min) the full sync's requests "
              f"alone need ≥ {minutes:.1f} min of quota; real latency (~0.2–0.5 s per page) dominates: "
              f"≈ {full['requests'] * 0.35 / 60:.1f} min at 0.35 s per request")


if __name__ == "__main__":
    main()
