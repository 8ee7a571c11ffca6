"""The daemon's log and the crash log when the disk under them fails: one line saying so, never a traceback per
log call, and a crash log that stays small however often a service manager restarts Kith into the same bug."""

from __future__ import annotations

import errno
import io
import logging
import sys

import pytest

from daemon import cli
from daemon.logs import CRASH_MAX_BYTES, PrivateRotatingFileHandler, write_crash_log


class FullDisk(io.StringIO):
    """A log file on a full disk: every write is refused, as the kernel refuses it."""

    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


class FullDiskHandler(PrivateRotatingFileHandler):
    """The real handler whose file, each time it is opened, lies on a full disk while `full` is set."""

    full = True

    def _open(self):
        stream = super()._open()
        if not self.full:
            return stream
        stream.close()
        return FullDisk()


def test_a_log_file_on_a_full_disk_is_one_line_not_a_traceback_per_log_call(tmp_path, capsys) -> None:
    problems = io.StringIO()
    handler = FullDiskHandler(tmp_path / "kith.log", maxBytes=1000, backupCount=1, encoding="utf-8",
                              problems=problems)
    logger = logging.getLogger("kith.test.full")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for n in range(4):
            logger.warning("line %d", n)
        said = problems.getvalue()
        assert said.count("\n") == 1 and "Traceback" not in said + capsys.readouterr().err
        assert said.startswith(f"kith: {tmp_path / 'kith.log'}: cannot write the log file (No space left on device)")
        assert "free disk space" in said
        FullDiskHandler.full = False                  # space freed: the next line reopens the file and lands
        logger.warning("back")
        handler.flush()
        assert problems.getvalue().count("\n") == 2 and "works again" in problems.getvalue().splitlines()[1]
        assert (tmp_path / "kith.log").read_text().endswith("back\n")
    finally:
        FullDiskHandler.full = True
        logger.removeHandler(handler)
        handler.close()


def test_the_crash_log_is_capped_and_one_that_cannot_be_written_still_gives_one_line(tmp_path, monkeypatch,
                                                                                       capsys) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    crash = state / "kith" / "crash.log"
    crash.parent.mkdir(parents=True)
    crash.write_text("x" * (CRASH_MAX_BYTES + 1))
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        assert write_crash_log() == crash
    assert crash.stat().st_size < 2000 and "RuntimeError: a bug" in crash.read_text()
    assert (state / "kith" / "crash.log.1").stat().st_size == CRASH_MAX_BYTES + 1     # one old log kept, no more

    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the state folder should be")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\ndatabase = "{tmp_path / "kith.db"}"\n')

    def bug(*args, **kwargs):
        raise RuntimeError("a bug in status")
    monkeypatch.setattr("daemon.status.status_report", bug)
    monkeypatch.setattr(sys, "argv", ["kith", "--config", str(config), "status"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    err = capsys.readouterr().err
    assert exited.value.code == 70 and "Traceback" not in err and err.count("\n") == 1
    assert "unexpected error (RuntimeError: a bug in status) — no crash log could be written" in err
