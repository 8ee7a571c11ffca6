"""The daemon: scheduling on an injected clock, backoff, the digest from database state,
stop between batches; then the real `kith run` in a subprocess (kill -9, signals, lock)."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from connectors.base import Batch
from daemon.config import parse
from daemon.errors import SourceError
from daemon.clock import JobState, SystemClock
from daemon.service import Service, Stopping, digest_due, next_digest_at
from daemon.store import open_store, utc_text
from daemon.sync import sync_source
from tests.conftest import ROOT, Address, message

BERLIN_0600 = datetime(2026, 3, 3, 5, 0, tzinfo=UTC)   # 06:00 in Berlin on 3 March 2026
ANNA = Address("anna@friends.example", "Anna")


class FakeClock:
    """Wall clock and monotonic clock that move only when told; `sleep()` moves the wall clock alone."""

    def __init__(self, start: datetime) -> None:
        self.wall, self.mono = start, 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, minutes: float) -> None:
        self.wall += timedelta(minutes=minutes)
        self.mono += minutes * 60

    def sleep(self, minutes: float) -> None:
        self.wall += timedelta(minutes=minutes)


class FakeSource:
    """A Source over fixed batches; the cursor is the number of batches applied."""

    def __init__(self, name: str, batches: list[Batch], error: Exception | None = None) -> None:
        self.key, self.batches, self.error, self.pulls = f"mbox:{name}", batches, error, 0
        self.after_batch = None

    def check(self) -> None:
        if self.error:
            raise self.error

    def pull(self, cursor: str | None):
        self.check()
        self.pulls += 1
        for i in range(int(cursor or 0), len(self.batches)):
            yield replace(self.batches[i], cursor=str(i + 1))
            if self.after_batch:
                self.after_batch(i)


def batches(name: str, count: int = 3, per: int = 4) -> list[Batch]:
    return [Batch(messages=tuple(message(b * per + i, sender=ANNA, scope=f"{name}{b}") for i in range(per)))
            for b in range(count)]


def make_config(tmp_path: Path, *, sources: dict[str, int], time: str = "07:30", zone: str = "Europe/Berlin"):
    blocks = "".join(f'[[sources]]\ntype = "mbox"\nname = "{n}"\npath = "x"\ninterval = {i}\n\n'
                     for n, i in sources.items())
    text = (f'[user]\naddresses = ["me@home.example"]\ntimezone = "{zone}"\n\n'
            f'[storage]\ndatabase = "{tmp_path / "kith.db"}"\n\n'
            f'[digest]\ntime = "{time}"\ndirectory = "{tmp_path / "digests"}"\n\n{blocks}')
    path = tmp_path / "config.toml"
    path.write_text(text)
    return parse(text, path)


def service_for(db, config, clock, sources: dict[str, FakeSource]) -> Service:
    return Service(config, db, clock, minute=60.0, build=lambda sc, cfg: sources[sc.name])


def table(db, sql: str) -> list[tuple]:
    return sorted(tuple(r) for r in db.execute(sql).fetchall())


def content(db) -> tuple:
    """What a sync leaves behind, for comparing a resumed run with a clean one."""
    return (table(db, "SELECT * FROM messages"), table(db, "SELECT * FROM message_copies"),
            table(db, "SELECT * FROM recipients"), table(db, "SELECT source, cursor, messages FROM sync_state"))


def schedule_row(db, job: str) -> dict:
    cur = db.execute("SELECT * FROM schedules WHERE job = ?", [job])
    row = cur.fetchone()
    return dict(zip([c[0] for c in cur.description], row, strict=True)) if row else {}


# ---------------------------------------------------------------------- in process, fake clock

def test_sources_sync_at_start_then_each_on_its_own_interval(db, tmp_path) -> None:
    clock = FakeClock(BERLIN_0600)
    sources = {"a": FakeSource("a", batches("a")), "b": FakeSource("b", batches("b"))}
    service = service_for(db, make_config(tmp_path, sources={"a": 5, "b": 10}), clock, sources)
    assert service.sleep_seconds() == 0               # both are due at start
    service.tick()
    assert (sources["a"].pulls, sources["b"].pulls) == (1, 1)
    assert db.execute("SELECT count(*) FROM message_copies").fetchone()[0] == 24
    clock.advance(5)
    service.tick()
    assert (sources["a"].pulls, sources["b"].pulls) == (2, 1)
    clock.advance(5)
    service.tick()
    assert (sources["a"].pulls, sources["b"].pulls) == (3, 2)
    assert schedule_row(db, "mbox:a")["next_run_at"] == utc_text(BERLIN_0600 + timedelta(minutes=15))
    assert schedule_row(db, "mbox:a")["last_messages"] == 0  # nothing new on the third pull
    assert service.sleep_seconds() == 30              # next sync in 5 min: the tick comes first
    clock.advance(4.75)
    assert service.sleep_seconds() == 15              # the sync of a is due in 15 s


def test_a_round_leaves_the_work_to_a_kith_sync_running_on_the_same_store(db, tmp_path, caplog) -> None:
    from daemon import lock
    clock = FakeClock(BERLIN_0600)
    sources = {"a": FakeSource("a", batches("a"))}
    config = make_config(tmp_path, sources={"a": 5})
    service = service_for(db, config, clock, sources)
    with lock.acquire_sync(config.database_path, wait=0), caplog.at_level("INFO"):
        service.tick()                                   # `kith sync` holds the store's sync lock
    assert sources["a"].pulls == 0 and "a `kith sync` of the same store is running" in caplog.text
    assert not schedule_row(db, "mbox:a").get("last_error")
    assert service.scheduler.jobs[0].state.failures == 0
    clock.advance(5)
    service.tick()
    assert sources["a"].pulls == 1 and db.execute("SELECT count(*) FROM message_copies").fetchone()[0] == 12


def test_a_round_left_to_kith_sync_keeps_a_failure_that_sync_did_not_clear(db, tmp_path) -> None:
    from daemon import lock
    clock = FakeClock(BERLIN_0600)
    failing = FakeSource("a", batches("a"))
    failing.error = SourceError("mbox:a: no such file or folder")
    config = make_config(tmp_path, sources={"a": 5})
    service = service_for(db, config, clock, {"a": failing})
    service.tick()
    assert schedule_row(db, "mbox:a")["failures"] == 1
    clock.advance(60)
    with lock.acquire_sync(config.database_path, wait=0):
        service.tick()                                  # left to a `kith sync` (that has not fixed anything)
    row = schedule_row(db, "mbox:a")
    assert row["failures"] == 1 and "no such file" in row["last_error"] and row["last_ok_at"] is None


def test_failing_source_backs_off_exponentially_and_never_stops_the_other(db, tmp_path, caplog) -> None:
    clock = FakeClock(BERLIN_0600)
    broken = FakeSource("broken", batches("x"), error=SourceError("no such folder", where="/nowhere", fix="fix it"))
    good = FakeSource("good", batches("g"))
    service = service_for(db, make_config(tmp_path, sources={"broken": 1, "good": 1}), clock,
                          {"broken": broken, "good": good})
    caplog.set_level(logging.DEBUG, logger="daemon")
    attempts = []
    for minute in range(40):
        before = schedule_row(db, "mbox:broken").get("failures", 0)
        service.tick()
        if schedule_row(db, "mbox:broken").get("failures", 0) != before:
            attempts.append(minute)
        clock.advance(1)
    assert attempts == [0, 2, 6, 14, 30]            # waits of 2, 4, 8, 16 minutes
    assert good.pulls == 40
    row = schedule_row(db, "mbox:broken")
    assert row["failures"] == 5 and "no such folder" in row["last_error"]
    assert row["next_run_at"] == utc_text(BERLIN_0600 + timedelta(minutes=62))  # 30 + 32
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "broken" in r.getMessage()]
    assert len(warnings) == 1                        # logged once per change of state, not per attempt
    broken.error = None
    clock.advance(40)
    service.tick()
    row = schedule_row(db, "mbox:broken")
    assert (row["failures"], row["last_error"], row["last_messages"]) == (0, None, 12)
    assert any("works again" in r.getMessage() for r in caplog.records)


def test_backoff_is_capped_at_six_hours_but_never_below_the_interval() -> None:
    state = JobState("s", timedelta(minutes=15), timedelta(hours=6), failures=9)
    assert state.delay() == timedelta(hours=6)
    assert replace(state, failures=2).delay() == timedelta(minutes=60)
    assert replace(state, interval=timedelta(hours=12), failures=3).delay() == timedelta(hours=12)
    assert replace(state, failures=10_000).delay() == timedelta(hours=6)


def test_unexpected_exception_in_one_source_is_contained(db, tmp_path, caplog) -> None:
    clock = FakeClock(BERLIN_0600)
    sources = {"odd": FakeSource("odd", batches("o"), error=KeyError("anna@friends.example")),
               "good": FakeSource("good", batches("g"))}
    service = service_for(db, make_config(tmp_path, sources={"odd": 1, "good": 1}), clock, sources)
    caplog.set_level(logging.DEBUG, logger="daemon")
    service.tick()
    assert any("anna@" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)
    assert "unexpected KeyError: 'anna@friends.example'" in schedule_row(db, "mbox:odd")["last_error"]
    assert schedule_row(db, "mbox:good")["last_messages"] == 12
    above_debug = [r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG]
    assert "mbox:odd failed: unexpected KeyError (see `kith status`)" in " ".join(above_debug)
    assert not any("anna@" in m for m in above_debug)        # an exception's text may quote an address


def test_digest_waits_for_its_local_time_then_is_delivered_once(db, tmp_path) -> None:
    clock = FakeClock(BERLIN_0600)
    config = make_config(tmp_path, sources={"a": 15})
    service = service_for(db, config, clock, {"a": FakeSource("a", batches("a"))})
    service.tick()
    assert db.execute("SELECT count(*) FROM digests").fetchone()[0] == 0
    assert next_digest_at(db, config, clock.now()) == datetime(2026, 3, 3, 6, 30, tzinfo=UTC)
    clock.advance(89)
    service.tick()
    assert db.execute("SELECT count(*) FROM digests").fetchone()[0] == 0
    clock.advance(1)                                  # 07:30 Berlin
    service.tick()
    first = table(db, "SELECT date, delivered_at FROM digests")
    assert first == [("2026-03-03", utc_text(datetime(2026, 3, 3, 6, 30, tzinfo=UTC)))]
    assert sorted(p.name for p in (tmp_path / "digests").iterdir()) == ["kith-2026-03-03.html", "kith-2026-03-03.md"]
    for _ in range(12):
        clock.advance(10)
        service.tick()
    assert table(db, "SELECT date, delivered_at FROM digests") == first
    assert next_digest_at(db, config, clock.now()) == datetime(2026, 3, 4, 6, 30, tzinfo=UTC)


def test_a_digest_written_before_its_time_moves_the_next_one_to_tomorrow(db, tmp_path) -> None:
    """`kith digest` at 06:00 writes the day's digest: the daemon writes none at 07:30, and `kith status`
    must not promise one (walkthrough 23)."""
    clock = FakeClock(BERLIN_0600)
    config = make_config(tmp_path, sources={"a": 15})
    db.execute("INSERT INTO digests (date, rendered_at, delivered_at, payload) VALUES ('2026-03-03', ?, ?, '{}')",
               [utc_text(clock.now())] * 2)
    assert next_digest_at(db, config, clock.now()) == datetime(2026, 3, 4, 6, 30, tzinfo=UTC)


def test_the_digest_waits_for_a_kith_sync_running_on_the_same_store(db, tmp_path, caplog) -> None:
    from daemon import lock
    clock = FakeClock(BERLIN_0600)
    config = make_config(tmp_path, sources={"a": 15})
    service = service_for(db, config, clock, {"a": FakeSource("a", batches("a"))})
    service.tick()                                     # synced: the digest is due at 07:30
    clock.advance(90)
    with lock.acquire_sync(config.database_path, wait=0), caplog.at_level("INFO"):
        service.tick()                                 # 07:30, while `kith sync` holds the store
    assert db.execute("SELECT count(*) FROM digests").fetchone()[0] == 0
    assert "the digest waits for the `kith sync` running on the same store" in caplog.text
    assert service.digest.failures == 0
    clock.advance(1)
    service.tick()                                     # the sync ended: delivered a minute later
    assert table(db, "SELECT date FROM digests") == [("2026-03-03",)]


def test_the_digest_waits_for_the_first_sync_instead_of_using_up_the_day(db, tmp_path, caplog) -> None:
    clock = FakeClock(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))   # 10:00 Berlin: the digest is due
    config = make_config(tmp_path, sources={"a": 15})
    failing = FakeSource("a", batches("a"))
    failing.error = SourceError("not signed in")
    service = service_for(db, config, clock, {"a": failing})
    caplog.set_level(logging.INFO, logger="daemon")
    for _ in range(3):
        service.tick()
        clock.advance(1)
    assert db.execute("SELECT count(*) FROM digests").fetchone()[0] == 0
    assert sum("waits: no mail or calendar synced yet" in r.getMessage() for r in caplog.records) == 1
    failing.error = None
    clock.advance(60)                                  # the source's retry
    service.tick()
    assert [r[0] for r in table(db, "SELECT date FROM digests")] == ["2026-03-03"]


def test_sleep_past_digest_time_catches_up_today_only(db, tmp_path, caplog) -> None:
    clock = FakeClock(datetime(2026, 3, 1, 20, 0, tzinfo=UTC))
    service = service_for(db, make_config(tmp_path, sources={"a": 15}), clock, {"a": FakeSource("a", batches("a"))})
    db.execute("INSERT INTO digests (date, rendered_at, delivered_at, path, payload) VALUES "
               "('2026-03-01', '2026-03-01T06:30:00Z', '2026-03-01T06:30:00Z', 'x', '{}')")
    service.tick()
    caplog.set_level(logging.INFO, logger="daemon")
    clock.sleep(minutes=(36 * 60) + 30)               # lid closed until 3 March, 09:30 Berlin
    service.tick()
    assert any("wall clock jumped" in r.getMessage() for r in caplog.records)
    assert [r[0] for r in table(db, "SELECT date FROM digests")] == ["2026-03-01", "2026-03-03"]
    clock.advance(1)
    service.tick()
    assert db.execute("SELECT count(*) FROM digests").fetchone()[0] == 2


def test_after_a_wake_the_digest_waits_for_a_source_that_failed_and_retries_it_soon(db, tmp_path, caplog) -> None:
    """The lid opens at 09:00 and Wi-Fi is not back yet: a digest from the evening's mail would miss the night's
    and call mail answered from the phone owed. It waits for the source, retried every 2 minutes, not 15."""
    clock = FakeClock(datetime(2026, 3, 2, 17, 0, tzinfo=UTC))       # 18:00 Berlin, then the lid closes
    source = FakeSource("mail", batches("mail", count=2))
    service = service_for(db, make_config(tmp_path, sources={"mail": 15}), clock, {"mail": source})
    service.tick()
    clock.sleep(minutes=15 * 60)                                     # 09:00 Berlin on 3 March
    source.error = SourceError("network is unreachable")
    caplog.set_level(logging.INFO, logger="daemon")
    for _ in range(2):
        service.tick()
        assert db.execute("SELECT count(*) FROM digests WHERE date = '2026-03-03'").fetchone()[0] == 0
        clock.advance(2)
    assert sum("digest for 2026-03-03 waits up to 15 min for mbox:mail to sync" in r.getMessage()
               for r in caplog.records) == 1
    source.error, source.batches = None, batches("mail", count=3)    # the network is back, with the night's mail
    service.tick()
    assert table(db, "SELECT delivered_at FROM digests WHERE date = '2026-03-03'") == [(utc_text(clock.now()),)]
    assert db.execute("SELECT count(*) FROM message_copies").fetchone()[0] == 12
    payload = db.execute("SELECT payload FROM digests WHERE date = '2026-03-03'").fetchone()[0]
    assert not any("Written before" in note for note in json.loads(payload)["json"]["notes"])


def test_a_source_still_failing_after_the_wait_after_a_wake_is_named_in_the_digest(db, tmp_path, caplog) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 17, 0, tzinfo=UTC))
    source = FakeSource("mail", batches("mail"))
    service = service_for(db, make_config(tmp_path, sources={"mail": 15}), clock, {"mail": source})
    service.tick()
    clock.sleep(minutes=15 * 60)
    woke = clock.now()
    source.error = SourceError("network is unreachable")
    caplog.set_level(logging.DEBUG, logger="daemon")
    while db.execute("SELECT count(*) FROM digests WHERE date = '2026-03-03'").fetchone()[0] == 0:
        assert clock.now() < woke + timedelta(minutes=16)
        service.tick()
        clock.advance(0.5)
    assert table(db, "SELECT delivered_at FROM digests WHERE date = '2026-03-03'") == [
        (utc_text(woke + timedelta(minutes=15)),)]
    payload = db.execute("SELECT payload FROM digests WHERE date = '2026-03-03'").fetchone()[0]
    notes = json.loads(payload)["json"]["notes"]
    assert ("Written before mbox:mail could sync since your computer woke or Kith started (network is unreachable): "
            "newer mail there is not in this digest.") in notes
    assert source.pulls == 1                                         # the evening's sync only
    assert sum(r.getMessage().startswith("mbox:mail failed:") for r in caplog.records) == 1   # logged once
    tried = [r for r in caplog.records if "failed again" in r.getMessage()]
    assert len(tried) >= 6                                           # retried every 2 minutes, not every 30
    row = schedule_row(db, "mbox:mail")                              # then the usual backoff: one failure's
    assert row["failures"] == 1                                      # tried last at +14 min: next at +14 + 30
    assert row["next_run_at"] == utc_text(woke + timedelta(minutes=14 + 30))


def test_a_source_failing_since_before_the_wake_does_not_hold_the_digest(db, tmp_path) -> None:
    """An expired sign-in fails all week: waiting for it each morning would help nothing."""
    clock = FakeClock(datetime(2026, 3, 2, 17, 0, tzinfo=UTC))
    sources = {"mail": FakeSource("mail", batches("mail")), "old": FakeSource("old", batches("old"))}
    service = service_for(db, make_config(tmp_path, sources={"mail": 15, "old": 15}), clock, sources)
    service.tick()
    sources["old"].error = SourceError("the sign-in expired")
    clock.advance(15)
    service.tick()                                   # failing before the lid closes
    clock.sleep(minutes=15 * 60)
    service.tick()
    assert db.execute("SELECT count(*) FROM digests WHERE date = '2026-03-03'").fetchone()[0] == 1


def test_restart_after_delivery_does_not_deliver_again(db, tmp_path) -> None:
    clock = FakeClock(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))   # started late: 10:00 Berlin
    config = make_config(tmp_path, sources={"a": 15})
    service_for(db, config, clock, {"a": FakeSource("a", batches("a"))}).tick()
    delivered = table(db, "SELECT date, delivered_at FROM digests")
    assert delivered == [("2026-03-03", utc_text(clock.now()))]
    clock.advance(60)
    restarted = service_for(db, config, clock, {"a": FakeSource("a", batches("a"))})
    restarted.tick()
    assert table(db, "SELECT date, delivered_at FROM digests") == delivered
    assert digest_due(db, config, clock.now()) is None


def test_backward_clock_jump_does_not_stall_syncs(db, tmp_path) -> None:
    clock = FakeClock(BERLIN_0600)
    source = FakeSource("a", batches("a"))
    service = service_for(db, make_config(tmp_path, sources={"a": 10}), clock, {"a": source})
    service.tick()
    clock.sleep(minutes=-24 * 60)                     # the wall clock is set back a day
    service.tick()
    clock.advance(10)
    service.tick()
    assert source.pulls == 2


def test_stop_request_lands_between_batches_and_a_restart_resumes(db, tmp_path) -> None:
    clock = FakeClock(BERLIN_0600)
    config = make_config(tmp_path, sources={"a": 15})
    source = FakeSource("a", batches("a", count=4))
    service = service_for(db, config, clock, {"a": source})
    source.after_batch = lambda i: setattr(service.flags, "stop", True)   # SIGTERM while batch 2 is pulled
    with pytest.raises(Stopping):
        service.tick()
    assert table(db, "SELECT source, cursor FROM sync_state") == [("mbox:a", "2")]   # batch 2 finished, 3 not begun
    source.after_batch = None
    service_for(db, config, clock, {"a": source}).tick()
    clean = open_store(tmp_path / "clean.db")
    sync_source(clean, FakeSource("a", batches("a", count=4)))
    assert content(db) == content(clean)


def test_locked_database_is_retried_later_and_nothing_is_lost(db, tmp_path) -> None:
    db.execute("PRAGMA busy_timeout = 50")
    clock = FakeClock(BERLIN_0600)
    service = service_for(db, make_config(tmp_path, sources={"a": 5}), clock, {"a": FakeSource("a", batches("a"))})
    other = sqlite3.connect(tmp_path / "kith.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO own_addresses (email, origin) VALUES ('x@y.example', 'test')")
    service.tick()
    assert "database is locked" in service.scheduler.jobs[0].state.last_error
    other.execute("ROLLBACK")
    clock.advance(10)
    service.tick()
    assert schedule_row(db, "mbox:a")["failures"] == 0
    clean = open_store(tmp_path / "clean.db")
    sync_source(clean, FakeSource("a", batches("a")))
    assert content(db) == content(clean)


def test_reload_takes_a_valid_config_and_keeps_the_old_one_when_invalid(db, tmp_path, caplog) -> None:
    clock = FakeClock(BERLIN_0600)
    config = make_config(tmp_path, sources={"a": 15})
    sources = {n: FakeSource(n, batches(n)) for n in "ab"}
    service = service_for(db, config, clock, sources)
    service.tick()
    make_config(tmp_path, sources={"a": 15, "b": 15}, time="08:00")
    service.reload()
    service.tick()
    assert (service.config.digest.time, sources["b"].pulls) == ("08:00", 1)
    config.path.write_text(config.path.read_text().replace("interval", "intervall"))
    service.reload()
    assert any("config not reloaded" in r.getMessage() and "did you mean" in r.getMessage()
               for r in caplog.records if r.levelno == logging.ERROR)
    assert len(service.scheduler.jobs) == 2 and service.config.digest.time == "08:00"


def test_a_reload_that_changes_the_database_keeps_the_old_one_whole_until_a_restart(db, tmp_path, caplog) -> None:
    """A new [storage] database is not half applied: the daemon keeps syncing into, locking and judging the
    store it has open, and creates nothing at the new path (a typo is not made real); the rest is applied."""
    clock = FakeClock(BERLIN_0600)
    config = make_config(tmp_path, sources={"a": 15})
    sources = {"a": FakeSource("a", batches("a", count=3))}
    service = service_for(db, config, clock, sources)
    service.tick()
    typo = tmp_path / "typo-dir" / "sub" / "kith.db"
    config.path.write_text(config.path.read_text().replace(str(tmp_path / "kith.db"), str(typo))
                           .replace('time = "07:30"', 'time = "08:00"'))
    caplog.set_level(logging.INFO, logger="daemon")
    service.reload()
    assert service.config.database_path == tmp_path / "kith.db" and service.config.digest.time == "08:00"
    said = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(said) == 1 and said[0].getMessage() == (
        f"[storage] database changed to {typo}: still using {tmp_path / 'kith.db'} until kith is restarted "
        "(`systemctl --user restart kith`)")
    sources["a"].batches = batches("a", count=6)          # new mail: synced into the open store
    for _ in range(3):
        clock.advance(15)
        service.tick()
    assert db.execute("SELECT count(*) FROM message_copies").fetchone()[0] == 24
    assert not (tmp_path / "typo-dir").exists()
    assert (tmp_path / "kith.db.sync.lock").exists()


def test_an_edited_config_file_is_read_before_the_next_round_as_sighup_reads_it(db, tmp_path, caplog) -> None:
    """The user removes source b and sets store_subjects = false without telling the daemon: b is not synced
    back (it would undo `kith forget`), and the next syncs store no subjects."""
    clock = FakeClock(BERLIN_0600)
    config = make_config(tmp_path, sources={"a": 15, "b": 15})
    sources = {n: FakeSource(n, batches(n)) for n in "ab"}
    service = service_for(db, config, clock, sources)
    service.tick()
    assert sources["b"].pulls == 1 and service.config.privacy.store_subjects
    text = config.path.read_text()
    config.path.write_text(text[:text.index('[[sources]]\ntype = "mbox"\nname = "b"')]
                           + "[privacy]\nstore_subjects = false\n")
    caplog.set_level(logging.INFO, logger="daemon")
    for _ in range(3):
        clock.advance(15)
        service.tick()
    assert sources["b"].pulls == 1 and sources["a"].pulls == 4
    assert not service.config.privacy.store_subjects and [j.state.name for j in service.scheduler.jobs] == ["mbox:a"]
    assert sum("the config file changed" in r.getMessage() for r in caplog.records) == 1
    config.path.write_text(config.path.read_text().replace("interval", "intervall"))     # a bad edit
    for _ in range(3):
        clock.advance(15)
        service.tick()
    refused = [r for r in caplog.records if r.levelno == logging.ERROR and "config not reloaded" in r.getMessage()]
    assert len(refused) == 1 and "did you mean" in refused[0].getMessage()            # once, not on every tick
    assert sources["a"].pulls == 7 and not service.config.privacy.store_subjects      # the last good one stays


def test_a_round_that_finds_the_config_edited_since_the_tick_began_waits_for_it(db, tmp_path) -> None:
    """The edit lands while a's round runs, after the tick looked at the file: b's round, next in the same
    tick, must not sync a source the new config dropped (and `kith forget` may be deleting)."""
    clock = FakeClock(BERLIN_0600)
    config = make_config(tmp_path, sources={"a": 15, "b": 15})
    sources = {n: FakeSource(n, batches(n)) for n in "ab"}

    def build(sc, cfg):
        if sc.name == "a" and sources["a"].pulls == 1:
            make_config(tmp_path, sources={"a": 15})        # saved while the daemon syncs a
        return sources[sc.name]
    service = Service(config, db, clock, minute=60.0, build=build)
    service.tick()
    clock.advance(15)
    service.tick()                                           # a's second round: the file changes meanwhile
    assert sources["b"].pulls == 1 and schedule_row(db, "mbox:b")["failures"] == 0
    clock.advance(1)
    service.tick()
    assert [j.state.name for j in service.scheduler.jobs] == ["mbox:a"] and sources["b"].pulls == 1


# ---------------------------------------------------------------------- the real daemon in a subprocess

def write_mbox(folder: Path, files: int, per: int) -> int:
    """`files` mbox files of `per` messages each; returns the number of messages."""
    folder.mkdir(parents=True, exist_ok=True)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    for f in range(files):
        parts = []
        for i in range(per):
            n = f * per + i
            d = t0 + timedelta(minutes=n)
            parts.append(f"From p{n % 40}@ex.example {d:%a %b %d %H:%M:%S %Y}\nFrom: P{n % 40} <p{n % 40}@ex.example>\n"
                         f"To: me@home.example\nSubject: hello {n}\nDate: {format_datetime(d)}\n"
                         f"Message-ID: <m{n}@ex.example>\n\nbody\n\n")
        (folder / f"f{f:03d}.mbox").write_text("".join(parts))
    return files * per


class Daemon:
    """`python -m daemon --config X run` with private XDG dirs, and helpers to watch it."""

    def __init__(self, tmp_path: Path, sources: dict[str, tuple[Path, int]], *, time: str = "07:30",
                 env: dict[str, str] | None = None) -> None:
        self.tmp = tmp_path
        self.config = tmp_path / "config.toml"
        self.db_path = tmp_path / "kith.db"
        self.log_path = tmp_path / "state" / "kith" / "kith.log"
        self.write_config(sources, time=time)
        keep = {k: v for k, v in os.environ.items()
                if k not in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "INVOCATION_ID", "JOURNAL_STREAM")}
        self.env = {**keep, "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"),
                    "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
                    "KITH_MINUTE_SECONDS": "0.05", "PYTHONPATH": str(ROOT), **(env or {})}
        self.proc: subprocess.Popen | None = None

    def write_config(self, sources: dict[str, tuple[Path, int]], *, time: str = "07:30", extra: str = "") -> None:
        blocks = "".join(f'[[sources]]\ntype = "mbox"\nname = "{n}"\npath = "{p}"\ninterval = {i}\n\n'
                         for n, (p, i) in sources.items())
        self.config.write_text(f'[user]\naddresses = ["me@home.example"]\ntimezone = "UTC"\n\n'
                               f'[storage]\ndatabase = "{self.db_path}"\n\n'
                               f'[digest]\ntime = "{time}"\ndirectory = "{self.tmp / "digests"}"\n{extra}\n{blocks}')

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "daemon", "--config", str(self.config), *args]

    def start(self) -> subprocess.Popen:
        self.proc = subprocess.Popen(self.command("run"), env=self.env, cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return self.proc

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 5.0) -> tuple[int, float]:
        """SIGTERM; the exit code and how long the exit took."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - started

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Read the daemon's database; [] while it does not exist yet."""
        if not self.db_path.exists():
            return []
        conn = sqlite3.connect(self.db_path, timeout=5)
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:
            return []
        finally:
            conn.close()

    def wait_for(self, what: str, check, timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"daemon exited ({self.proc.returncode}) waiting for {what}: "
                                     f"{self.proc.stderr.read()}\n{self.log()}")
            time.sleep(0.01)
        raise AssertionError(f"timed out waiting for {what}\n{self.log()}")

    def synced(self, job: str) -> list[tuple]:
        return self.query("SELECT last_ok_at FROM schedules WHERE job = ? AND last_ok_at IS NOT NULL", (job,))

    def __del__(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def offset_to(moment: datetime) -> str:
    return str((moment - datetime.now(UTC)).total_seconds())


def set_clock(clock_file: Path, moment: datetime) -> None:
    """Move the daemon's clock to `moment`, atomically: the daemon reads the file on every tick."""
    scratch = clock_file.with_suffix(".new")
    scratch.write_text(offset_to(moment))
    os.replace(scratch, clock_file)


def test_daemon_isolates_a_failing_source_logs_it_once_and_stops_on_sigterm(tmp_path) -> None:
    write_mbox(tmp_path / "mail", 2, 20)
    daemon = Daemon(tmp_path, {"good": (tmp_path / "mail", 1), "broken": (tmp_path / "missing", 1)})
    daemon.start()
    daemon.wait_for("good synced", lambda: daemon.synced("mbox:good"))
    daemon.wait_for("4 failures", lambda: daemon.query(
        "SELECT 1 FROM schedules WHERE job = 'mbox:broken' AND failures >= 4"))
    code, took = daemon.stop()
    assert (code, took < 5) == (0, True)
    assert daemon.query("SELECT count(*) FROM message_copies") == [(40,)]
    log = daemon.log()
    assert log.count("mbox:broken failed") == 1
    assert "@ex.example" not in log and "hello" not in log          # no addresses or subjects at INFO
    assert os.stat(daemon.log_path).st_mode & 0o777 == 0o600
    assert "mbox:broken failed" in daemon.proc.stderr.read()       # warnings reach the service manager


def test_kill_9_in_the_middle_of_a_sync_then_restart_equals_a_clean_run(tmp_path) -> None:
    total = write_mbox(tmp_path / "mail", 40, 300)
    daemon = Daemon(tmp_path, {"mail": (tmp_path / "mail", 60)})
    daemon.start()
    def count() -> int:
        rows = daemon.query("SELECT count(*) FROM message_copies")
        return rows[0][0] if rows else 0
    daemon.wait_for("first batches", lambda: count() > 0)
    daemon.proc.kill()                                # SIGKILL: no handler, no clean-up
    daemon.proc.wait()
    assert 0 < count() < total, "the kill should land in the middle of the sync"
    daemon.start()
    daemon.wait_for("sync finished", lambda: daemon.synced("mbox:mail"))
    assert daemon.stop()[0] == 0
    clean = open_store(tmp_path / "clean.db")
    from connectors.mbox import MboxSource
    sync_source(clean, MboxSource("mail", tmp_path / "mail"))
    resumed = open_store(daemon.db_path)
    assert content(resumed) == content(clean)
    assert resumed.execute("SELECT count(*) FROM message_copies").fetchone()[0] == total


def test_sigterm_during_a_sync_exits_fast_with_whole_batches_only(tmp_path) -> None:
    write_mbox(tmp_path / "mail", 40, 300)
    daemon = Daemon(tmp_path, {"mail": (tmp_path / "mail", 60)})
    daemon.start()
    daemon.wait_for("first batches", lambda: daemon.query("SELECT 1 FROM message_copies LIMIT 1"))
    code, took = daemon.stop()
    assert code == 0 and took < 5
    import json
    cursor = json.loads(daemon.query("SELECT cursor FROM sync_state")[0][0])
    scopes = {r[0] for r in daemon.query("SELECT DISTINCT scope FROM message_copies")}
    assert scopes == {name.removesuffix(".mbox") for name in cursor["files"]}   # each file whole, with its cursor
    assert daemon.query("SELECT count(*) FROM message_copies") == [(300 * len(scopes),)]


def test_the_clock_hook_keeps_its_offset_while_the_file_is_half_written(tmp_path) -> None:
    clock_file = tmp_path / "clock"
    clock_file.write_text("86400")
    clock = SystemClock(offset_file=clock_file)
    assert abs((clock.now() - datetime.now(UTC)).total_seconds() - 86400) < 5
    for caught in ("", "-", "garbage"):               # read between truncation and write, or a bad write
        clock_file.write_text(caught)
        assert abs((clock.now() - datetime.now(UTC)).total_seconds() - 86400) < 5
    clock_file.write_text("-3600")
    assert abs((clock.now() - datetime.now(UTC)).total_seconds() + 3600) < 5


def test_missed_digests_are_caught_up_on_start_and_on_wake_exactly_once(tmp_path) -> None:
    """Off at 07:30 on day 1: caught up at start (10:00). Asleep overnight: day 2's is caught up on
    wake (09:00). A restart that morning delivers nothing; days long past are never backfilled."""
    write_mbox(tmp_path / "mail", 1, 10)
    day1 = datetime.now(UTC).date()
    day2, old = day1 + timedelta(days=1), (day1 - timedelta(days=5)).isoformat()
    clock_file = tmp_path / "clock"
    set_clock(clock_file, datetime.combine(day1, datetime.min.time(), UTC) + timedelta(hours=10))
    daemon = Daemon(tmp_path, {"mail": (tmp_path / "mail", 1)}, env={"KITH_CLOCK_FILE": str(clock_file)})
    db = open_store(daemon.db_path)
    db.execute("INSERT INTO digests (date, rendered_at, delivered_at, path, payload) VALUES (?, ?, ?, 'x', '{}')",
               [old, old, old])
    db.close()
    def delivered(day):
        return daemon.query("SELECT delivered_at FROM digests WHERE date = ? AND delivered_at IS NOT NULL",
                            (day.isoformat(),))
    daemon.start()
    daemon.wait_for("day 1's digest at start", lambda: delivered(day1))
    daemon.wait_for("a sync", lambda: daemon.synced("mbox:mail"))
    set_clock(clock_file, datetime.combine(day2, datetime.min.time(), UTC) + timedelta(hours=9))
    on_wake = daemon.wait_for("day 2's digest on wake", lambda: delivered(day2))
    # the tick that delivered it may have begun before the clock moved: the jump shows at the next tick
    daemon.wait_for("the jump noticed", lambda: re.search(r"wall clock jumped \+8\d{4} s", daemon.log()))
    assert daemon.stop()[0] == 0
    daemon.start()                                     # a restart the same morning
    for _ in range(2):                                 # two ticks of the new process, at least
        seen = daemon.synced("mbox:mail")
        daemon.wait_for("a sync", lambda seen=seen: daemon.synced("mbox:mail") != seen)
    assert daemon.stop()[0] == 0
    assert [r[0] for r in daemon.query("SELECT date FROM digests ORDER BY date")] == [old, day1.isoformat(),
                                                                                        day2.isoformat()]
    assert on_wake[0][0].startswith(f"{day2.isoformat()}T09:00")
    log = daemon.log()
    assert log.count(f"digest for {day1.isoformat()} delivered") == log.count(f"digest for {day2} delivered") == 1
    assert re.search(r"wall clock jumped \+8\d{4} s", log)   # ~23 h, seen between two ticks
    assert len(list((tmp_path / "digests").iterdir())) == 4


def test_second_instance_is_refused_and_a_killed_holder_leaves_no_stale_lock(tmp_path) -> None:
    daemon = Daemon(tmp_path, {})
    first = daemon.start()
    daemon.wait_for("started", lambda: "daemon started" in daemon.log())
    second = subprocess.run(daemon.command("run"), env=daemon.env, cwd=ROOT, capture_output=True, text=True, timeout=10)
    assert second.returncode == 6
    assert second.stderr.count("\n") == 1 and f"process {first.pid}" in second.stderr
    first.kill()
    first.wait()
    daemon.start()
    daemon.wait_for("restarted", lambda: daemon.log().count("daemon started") == 2)
    assert daemon.stop()[0] == 0


def test_sighup_reloads_a_valid_config_and_keeps_the_old_one_when_invalid(tmp_path) -> None:
    write_mbox(tmp_path / "a", 1, 5)
    write_mbox(tmp_path / "b", 1, 7)
    daemon = Daemon(tmp_path, {"a": (tmp_path / "a", 1)})
    daemon.start()
    daemon.wait_for("a synced", lambda: daemon.synced("mbox:a"))
    daemon.write_config({"a": (tmp_path / "a", 1), "b": (tmp_path / "b", 1)})
    daemon.signal(signal.SIGHUP)
    daemon.wait_for("b synced", lambda: daemon.synced("mbox:b"))
    daemon.write_config({"a": (tmp_path / "a", 1)}, time="25:00")
    daemon.signal(signal.SIGHUP)
    daemon.wait_for("the refusal", lambda: "config not reloaded" in daemon.log())
    seen = daemon.synced("mbox:b")
    daemon.wait_for("b still synced", lambda: daemon.synced("mbox:b") != seen)   # the old config is still in force
    code, _ = daemon.stop()
    assert code == 0
    assert "digest.time '25:00' is not a time of day" in daemon.log()
    assert daemon.query("SELECT count(*) FROM message_copies") == [(12,)]


def test_the_daemon_reads_an_edited_config_by_itself_and_forget_stays_forgotten(tmp_path) -> None:
    """The README's steps to drop a source, with the daemon running and no SIGHUP: remove it from the config,
    `kith forget` it; the daemon must not sync it back on its next rounds."""
    write_mbox(tmp_path / "a", 1, 5)
    write_mbox(tmp_path / "b", 1, 7)
    daemon = Daemon(tmp_path, {"a": (tmp_path / "a", 1), "b": (tmp_path / "b", 1)})
    daemon.start()
    daemon.wait_for("b synced", lambda: daemon.synced("mbox:b"))
    daemon.write_config({"a": (tmp_path / "a", 1)})
    forget = subprocess.run(daemon.command("forget", "mbox:b"), env=daemon.env, cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert forget.returncode == 0 and forget.stdout.startswith("Forgot mbox:b: 7 message copies dropped"), forget
    seen = daemon.synced("mbox:a")
    for _ in range(3):                               # a few more rounds of a
        daemon.wait_for("a synced again", lambda: daemon.synced("mbox:a") != seen)
        seen = daemon.synced("mbox:a")
    assert daemon.query("SELECT source, count(*) FROM message_copies GROUP BY source") == [("mbox:a", 5)]
    assert daemon.stop()[0] == 0
    assert "the config file changed: reading it again" in daemon.log()


def test_sigint_stops_an_idle_daemon_with_code_zero(tmp_path) -> None:
    daemon = Daemon(tmp_path, {}, env={"KITH_MINUTE_SECONDS": "60"})   # ticks 30 s apart: the signal must wake it
    daemon.start()
    daemon.wait_for("started", lambda: "daemon started" in daemon.log())
    daemon.signal(signal.SIGINT)
    assert daemon.proc.wait(timeout=5) == 0   # well before the next tick, 30 s away: the signal woke it


def test_run_refuses_a_broken_config_with_one_line(tmp_path) -> None:
    daemon = Daemon(tmp_path, {}, time="7:3")
    done = subprocess.run(daemon.command("run"), env=daemon.env, cwd=ROOT, capture_output=True, text=True, timeout=10)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "digest.time" in done.stderr and str(daemon.config) in done.stderr




def test_a_bug_outside_the_jobs_is_logged_once_and_the_loop_goes_on(db, tmp_path, caplog) -> None:
    class BrokenClock(FakeClock):
        def monotonic(self) -> float:
            raise RuntimeError("clock trouble")

    service = service_for(db, make_config(tmp_path, sources={"a": 15}), BrokenClock(BERLIN_0600),
                          {"a": FakeSource("a", batches("a"))})
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        service.flags.stop = len(waits) == 3

    service.run(wait)
    assert waits == [30.0, 30.0, 30.0]               # a full tick apart: no busy loop
    assert [r.levelno for r in caplog.records if "daemon loop" in r.getMessage()] == [logging.ERROR]


def test_a_full_disk_is_a_store_error_retried_later_and_nothing_is_lost(db, tmp_path) -> None:
    clock = FakeClock(BERLIN_0600)
    source = FakeSource("a", batches("a", per=100))
    service = service_for(db, make_config(tmp_path, sources={"a": 5}), clock, {"a": source})
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")     # the disk is full: no page more
    service.tick()
    state = service.scheduler.jobs[0].state
    assert "database or disk is full" in state.last_error and state.failures == 1
    db.execute("PRAGMA max_page_count = 1073741823")
    clock.advance(10)
    service.tick()
    assert state.failures == 0
    clean = open_store(tmp_path / "clean.db")
    sync_source(clean, FakeSource("a", batches("a", per=100)))
    assert content(db) == content(clean)


def test_log_lines_carry_their_utc_offset(tmp_path) -> None:
    import io
    import logging
    import re
    from daemon.logs import setup_service_logging
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        path = setup_service_logging(path=tmp_path / "kith.log", env={}, stream=stream)
        logging.getLogger("daemon.test").warning("hello")
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level = saved[0], saved[1]
    line = path.read_text().splitlines()[-1]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d WARNING daemon.test: hello$", line), line
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d WARNING hello$", stream.getvalue().strip())
