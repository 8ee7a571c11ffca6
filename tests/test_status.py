"""`kith status`: last sync and counts per source, errors and next runs, the daemon, the digests, the size."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from daemon.cli import cli
from daemon.errors import SourceError
from daemon.lock import acquire, lock_path
from daemon.status import status_lines, status_report
from daemon.store import utc_text
from tests.conftest import ROOT
from daemon.service import Service
from tests.test_service import BERLIN_0600, FakeClock, FakeSource, batches, make_config, service_for, write_mbox


@pytest.fixture
def state_home(tmp_path, monkeypatch):
    """A private state dir, so the lock probed is this test's, not the user's."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def ran(db, tmp_path, state_home):
    """One tick of the daemon at 06:00 Berlin with a good source, a broken one and a disabled one."""
    config = make_config(tmp_path, sources={"good": 15, "broken": 10, "off": 5})
    text = config.path.read_text().replace('name = "off"', 'name = "off"\nenabled = false')
    config.path.write_text(text)
    from daemon.config import load
    config = load(config.path)
    clock = FakeClock(BERLIN_0600)
    sources = {"good": FakeSource("good", batches("g")), "off": FakeSource("off", batches("o")),
               "broken": FakeSource("broken", [], error=SourceError("token expired", fix="run `kith auth google`"))}
    service = service_for(db, config, clock, sources)
    service.tick()
    return config, clock, service


def test_sources_show_last_sync_counts_errors_and_next_runs(db, ran) -> None:
    config, clock, _ = ran
    report = status_report(db, config, now=clock.now())
    by_key = {s["source"]: s for s in report["sources"]}
    assert sorted(by_key) == ["mbox:broken", "mbox:good", "mbox:off"]
    good, broken, off = by_key["mbox:good"], by_key["mbox:broken"], by_key["mbox:off"]
    assert (good["messages"], good["failing"], good["last_run_counts"]["messages"]) == (12, False, 12)
    assert good["synced_at"] is not None and good["last_ok_at"] == utc_text(clock.now())
    assert good["next_run_at"] == utc_text(clock.now() + timedelta(minutes=15))
    assert (broken["failing"], broken["failures"]) == (True, 1)
    assert "token expired" in broken["current_error"] and "token expired" in broken["last_error"]
    assert broken["next_run_at"] == utc_text(clock.now() + timedelta(minutes=20))    # 10 min × 2^1
    assert (off["configured"], off["enabled"], off["next_run_at"], off["messages"]) == (True, False, None, 0)
    text = status_lines(report, now=clock.now())
    assert [line for line in text if "mbox:off" in line][0].endswith("— disabled (enabled = false)")


def test_a_source_dropped_from_the_config_is_marked(db, ran, tmp_path) -> None:
    config, clock, _ = ran
    from daemon.config import load
    config.path.write_text(re.sub(r'\[\[sources\]\]\ntype = "mbox"\nname = "good"[^\[]*', "", config.path.read_text()))
    report = status_report(db, load(config.path), now=clock.now())
    dropped = [s for s in report["sources"] if s["source"] == "mbox:good"][0]
    assert (dropped["configured"], dropped["messages"]) == (False, 12)
    line = [line for line in status_lines(report, now=clock.now()) if "mbox:good" in line][0]
    assert line.endswith("12 messages, 0 events — not in this config (what it synced still counts; "
                         "`kith forget mbox:good` drops it)")


def test_digest_times_and_database_size(db, ran) -> None:
    config, clock, service = ran
    report = status_report(db, config, now=clock.now())
    assert report["next_digest_at"] == "2026-03-03T07:30:00+01:00" and report["last_digest"] is None
    assert report["database_bytes"] > 0 and report["database_bytes"] + report["wal_bytes"] > 4096
    clock.advance(120)                                 # 08:00: the digest is written
    service.tick()
    report = status_report(db, config, now=clock.now())
    assert report["last_digest"]["date"] == "2026-03-03"
    assert report["last_digest"]["path"] == str(config.digest_dir / "kith-2026-03-03.md")
    assert report["next_digest_at"] == "2026-03-04T07:30:00+01:00"


def test_a_digest_written_to_its_file_but_not_yet_to_the_inbox_says_so(db, ran) -> None:
    """Since the file's path is recorded as soon as it is written, a path alone no longer means delivered."""
    config, clock, service = ran
    db.execute("INSERT INTO digests (date, rendered_at, path, payload) VALUES ('2026-03-03', ?, 'd/kith.md', '{}')",
               [utc_text(clock.now())])
    text = "\n".join(status_lines(status_report(db, config, now=clock.now()), UTC, clock.now()))
    assert "Last digest: 2026-03-03 → d/kith.md; not in your inbox yet" in text
    db.execute("UPDATE digests SET delivered_at = ?", [utc_text(clock.now())])
    text = "\n".join(status_lines(status_report(db, config, now=clock.now()), UTC, clock.now()))
    assert "Last digest: 2026-03-03 → d/kith.md\n" in text + "\n" and "inbox" not in text


def test_an_overdue_digest_is_due_now(db, tmp_path, state_home) -> None:
    config = make_config(tmp_path, sources={})
    late = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    assert status_report(db, config, now=late)["next_digest_at"] == late.isoformat(timespec="seconds")


def test_daemon_state_comes_from_the_lock(db, ran) -> None:
    config, clock, _ = ran
    report = status_report(db, config, now=clock.now())
    assert report["daemon"]["running"] is False
    text = "\n".join(status_lines(report))
    assert "Daemon: not running" in text and "next sync" not in text
    assert "    failing (1 time in a row): token expired" in text
    with acquire(lock_path()):
        report = status_report(db, config, now=clock.now())
        assert report["daemon"] == {"running": True, "pid": os.getpid(),
                                    "log_file": str(lock_path().parent / "kith.log")}
        text = "\n".join(status_lines(report, UTC, clock.now()))
        assert f"next sync {clock.now() + timedelta(minutes=15):%Y-%m-%d %H:%M} (in 15 min)" in text


def test_cli_status_json_and_text_after_a_sync(tmp_path, state_home) -> None:
    write_mbox(tmp_path / "mail", 1, 6)
    config = tmp_path / "config.toml"
    config.write_text(f'[user]\ntimezone = "UTC"\n[storage]\ndatabase = "{tmp_path / "kith.db"}"\n'
                      f'[[sources]]\ntype = "mbox"\nname = "mail"\npath = "{tmp_path / "mail"}"\n')
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    kith = [sys.executable, "-m", "daemon", "--config", str(config)]
    assert subprocess.run([*kith, "sync"], env=env, cwd=ROOT, capture_output=True, timeout=30).returncode == 0
    runner = CliRunner()
    done = runner.invoke(cli, ["--config", str(config), "status", "--json"], env=env)
    report = json.loads(done.output)
    assert report["sources"][0]["source"] == "mbox:mail" and report["sources"][0]["messages"] == 6
    assert report["daemon"]["running"] is False and report["next_digest_at"]
    text = runner.invoke(cli, ["--config", str(config), "status"], env=env).output
    assert "mbox:mail: last sync" in text and "6 messages" in text and "Next digest:" in text
    assert re.search(r"last sync \d{4}-\d\d-\d\d \d\d:\d\d \((now|\d+ min ago)\)", text)   # local time, and how long ago


def test_before_the_first_sync_the_digest_waits_for_it(db, tmp_path, state_home) -> None:
    config = make_config(tmp_path, sources={"a": 15})
    report = status_report(db, config, now=datetime(2026, 3, 3, 9, 0, tzinfo=UTC))     # past 07:30 Berlin
    assert report["digest_waits_for_first_sync"] is True
    assert "Next digest: once the first sync brings mail or meetings (nothing synced yet)" in status_lines(report)
    service_for(db, config, FakeClock(BERLIN_0600), {"a": FakeSource("a", batches("a"))}).tick()
    assert status_report(db, config)["digest_waits_for_first_sync"] is False


def archive_config(tmp_path):
    """A config with one real mbox source, `mbox:archive`, at tmp_path/archive (not created here)."""
    from daemon.config import load
    path = tmp_path / "config.toml"
    path.write_text(f'[user]\naddresses = ["me@home.example"]\ntimezone = "UTC"\n'
                    f'[storage]\ndatabase = "{tmp_path / "kith.db"}"\n'
                    f'[[sources]]\ntype = "mbox"\nname = "archive"\npath = "{tmp_path / "archive"}"\ninterval = 15\n')
    return load(path)


def test_a_manual_sync_that_works_clears_what_the_daemon_recorded_as_failing(tmp_path, state_home) -> None:
    from daemon.store import open_store
    config = archive_config(tmp_path)
    db = open_store(config.database_path)
    clock = FakeClock(BERLIN_0600)
    service = Service(config, db, clock, minute=60.0)         # the daemon, with the real mbox connector
    service.tick()                                            # the path is missing: the daemon records a failure
    daemon_time = utc_text(clock.now())
    (archive,) = status_report(db, config)["sources"]
    assert (archive["failing"], archive["failures"], archive["last_run_at"]) == (True, 1, daemon_time)
    write_mbox(tmp_path / "archive", 1, 3)                    # the path is fixed; the daemon stopped
    runner = CliRunner()
    done = runner.invoke(cli, ["--config", str(config.path), "sync"])
    assert done.exit_code == 0, done.output
    report = json.loads(runner.invoke(cli, ["--config", str(config.path), "status", "--json"]).output)
    (archive,) = report["sources"]
    assert (archive["failing"], archive["failures"], archive["current_error"]) == (False, 0, None)
    assert archive["last_run_at"] > daemon_time and archive["last_ok_at"] == archive["last_run_at"]
    assert archive["last_run_counts"] == {"messages": 3, "events": 0, "deleted": 0}
    assert {"synced_at", "last_error", "error_at", "next_run_at", "messages", "events", "configured",
            "enabled"} <= set(archive)                        # every field is kept
    text = runner.invoke(cli, ["--config", str(config.path), "status"]).output
    line = [line for line in text.splitlines() if "mbox:archive" in line]
    assert len(line) == 1 and "3 messages, 0 events" in line[0] and "(now)" in line[0], text
    assert "failing" not in text and "no such" not in text
    restarted = Service(config, db, clock, minute=60.0)._job("mbox:archive", 15)
    assert (restarted.failures, restarted.last_ok_at) == (0, archive["last_ok_at"])   # the daemon does not back off


def test_a_manual_sync_that_fails_is_recorded_as_the_daemons_are(tmp_path, state_home) -> None:
    config = archive_config(tmp_path)
    runner = CliRunner()
    kith = lambda *args: runner.invoke(cli, ["--config", str(config.path), *args])  # noqa: E731
    assert kith("sync").exit_code == 3
    (archive,) = json.loads(kith("status", "--json").output)["sources"]
    assert (archive["failing"], archive["failures"], archive["last_ok_at"]) == (True, 1, None)
    assert "archive" in archive["current_error"] and archive["last_run_at"] is not None
    assert kith("sync").exit_code == 3
    assert f"    failing (2 times in a row): {tmp_path / 'archive'}: no such file or folder" in kith("status").output
    write_mbox(tmp_path / "archive", 1, 1)
    assert kith("sync").exit_code == 0
    text = kith("status").output
    assert "1 message, 0 events" in text and "failing" not in text and "error" not in text
