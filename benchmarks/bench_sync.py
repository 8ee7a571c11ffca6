"""Sync throughput on real mail: the Enron corpus as mbox folders.

    python -m benchmarks.bench_sync [--owners N]

Prints messages per second and peak memory for (1) the largest Enron mailbox,
(2) every owner combined into one store, (3) an incremental sync of that
combined store when nothing changed, and (4) the time to judge every contact of
the combined store: reading the store into facts, then features, training and
scoring. Targets: >= 20,000 messages/s for a local mbox sync on one core; the
no-change sync under one second; features, training and scoring under 10 s.
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
import timeit
from datetime import datetime
from pathlib import Path

from benchmarks import enron
from daemon.config import Goal

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
    """The morning judgment of every contact, in its two parts: reading the store into each contact's facts
    (also what explanations and suggestions use), then features, training and scoring."""
    from daemon.analysis import analyse, collector_paused, end_of_day, facts_until, own_addresses
    from daemon.config import load
    from daemon.store import open_store
    from models.goals import goal_fits

    config = load(Path(config_path))
    db = open_store(config.database_path)
    last = db.execute("SELECT max(sent_at) FROM messages WHERE sent_at < '2002-07-01'").fetchone()[0]
    today = datetime.fromisoformat(last).date()
    start, cpu = time.perf_counter(), time.process_time()
    facts = facts_until(db, config, own_addresses(db, config), end_of_day(today, config))
    read, read_cpu = time.perf_counter(), time.process_time()
    analysis = analyse(db, config, today, facts)
    end, end_cpu = time.perf_counter(), time.process_time()
    with collector_paused():            # as in the daemon's judgment (`analyse`)
        goal_fits(facts, GOALS)
    goals, goals_cpu = time.perf_counter() - end, time.process_time() - end_cpu
    print(json.dumps({"seconds": end - start, "cpu": end_cpu - cpu, "read_seconds": read - start,
                      "read_cpu": read_cpu - cpu, "model_seconds": end - read, "model_cpu": end_cpu - read_cpu,
                      "goal_seconds": goals, "goal_cpu": goals_cpu, "contacts": len(analysis.facts)}))


# Goals of an energy trader, so that keywords and topics match much of the mail, as they would for a real user
GOALS = (Goal(name="Trading", description="gas and power trading desks", keywords=["trading", "gas", "power"],
              domains=["dynegy.com"]),
         Goal(name="Recruiting", description="hiring analysts and associates", keywords=["recruiting", "interview"]),
         Goal(name="Regulatory", description="FERC filings and California", keywords=["FERC", "tariff", "California"],
              organizations=["FERC"]))


def machine_speed() -> float:
    """Milliseconds for `sum(range(10**6))` (best of 5): a yardstick for comparing figures across machines.
    The README's figures give the yardstick of the machine they were taken on."""
    return 1000 * min(timeit.repeat("sum(range(10**6))", repeat=5, number=10)) / 10


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
    print(f"machine yardstick: sum(range(10**6)) takes {machine_speed():.1f} ms (lower is faster)")
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
              f"({judged['cpu']:.2f} s CPU) in all:")
        print(f"{'  features, training and scoring':<38} {judged['model_seconds']:>16.2f} s "
              f"({judged['model_cpu']:.2f} s CPU) (target < 10 s)")
        print(f"{'  reading the store into facts':<38} {judged['read_seconds']:>16.2f} s ({judged['read_cpu']:.2f} s CPU)")
        print(f"{'  then relevance to 3 goals':<38} {judged['goal_seconds']:>16.2f} s ({judged['goal_cpu']:.2f} s CPU) "
              "(keywords, domains and topics common in this mail)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
