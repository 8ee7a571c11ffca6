"""Sync throughput on real mail: the Enron corpus as mbox folders.

    python -m benchmarks.bench_sync [--owners N]

Prints messages per second and peak memory for (1) the largest Enron mailbox,
(2) every owner combined into one store, (3) an incremental sync of that
combined store when nothing changed, and (4) the time to judge every contact of
the combined store (facts, features, training, scoring). Targets: >= 20,000 messages/s for a local
mbox sync on one core; the no-change sync under one second.
Each measurement runs in a fresh process so that peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks import enron

LARGEST = "germany-c"


def child(config_path: str) -> None:
    """Run one sync in this process and print its figures as JSON."""
    from daemon.config import load
    from daemon.store import open_store
    from daemon.sync import sync_all

    config = load(Path(config_path))
    db = open_store(config.database_path)
    start, cpu = time.perf_counter(), time.process_time()
    results = sync_all(db, config)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    messages = sum(r.messages for r in results)
    errors = [r.error for r in results if r.error]
    stored = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "cpu": cpu, "messages": messages, "stored": stored, "peak_mb": peak_mb,
                      "errors": errors}))


def child_analyse(config_path: str) -> None:
    """Features, training and scoring of every contact of the store, as the morning digest does them."""
    from daemon.analysis import analyse
    from daemon.config import load
    from daemon.store import open_store

    config = load(Path(config_path))
    db = open_store(config.database_path)
    last = db.execute("SELECT max(sent_at) FROM messages WHERE sent_at < '2002-07-01'").fetchone()[0]
    start, cpu = time.perf_counter(), time.process_time()
    analysis = analyse(db, config, datetime.fromisoformat(last).date())
    print(json.dumps({"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                      "contacts": len(analysis.facts)}))


def measure(config_path: Path, mode: str = "--child") -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_sync", mode, str(config_path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(label: str, figures: dict) -> None:
    rate = figures["messages"] / figures["seconds"] if figures["seconds"] else float("inf")
    cpu_rate = figures["messages"] / figures["cpu"] if figures["cpu"] else float("inf")
    print(f"{label:<38} {figures['messages']:>9,} msgs {figures['seconds']:>8.2f} s {rate:>10,.0f} msg/s "
          f"({figures['cpu']:.2f} s CPU: {cpu_rate:,.0f} msg/s) "
          f"{figures['peak_mb']:>7.0f} MB peak  ({figures['stored']:,} distinct stored)")
    for error in figures["errors"]:
        print(f"  error: {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Kith sync benchmark on the Enron corpus")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-analyse", help=argparse.SUPPRESS)
    parser.add_argument("--owners", type=int, default=0, help="limit the combined run to the first N owners")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if args.child_analyse:
        child_analyse(args.child_analyse)
        return
    if not enron.HEADERS.is_dir():
        raise SystemExit(f"no Enron corpus at {enron.HEADERS}")
    names = enron.owners()[: args.owners] if args.owners else enron.owners()
    mbox_dir = enron.CACHE / "mbox"
    started = time.perf_counter()
    converted = enron.prepare(sorted(set(names) | {LARGEST}), mbox_dir)
    print(f"prepared Enron mbox folders in {mbox_dir} ({converted:,} messages converted now, "
          f"{time.perf_counter() - started:.1f} s)")
    work = Path(tempfile.mkdtemp(prefix="kith-bench-"))
    try:
        one = work / "one.toml"
        one.write_text(enron.config_text([LARGEST], mbox_dir, work / "one.db"))
        report(f"largest mailbox ({LARGEST}), first sync", measure(one))
        combined = work / "all.toml"
        combined.write_text(enron.config_text(names, mbox_dir, work / "all.db"))
        report(f"{len(names)} owners in one store, first sync", measure(combined))
        report("combined store, nothing new", measure(combined))
        judged = measure(combined, "--child-analyse")
        print(f"{'judging the combined store':<38} {judged['contacts']:>9,} contacts {judged['seconds']:>6.2f} s "
              f"({judged['cpu']:.2f} s CPU): facts, features, training and scoring (target < 10 s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
