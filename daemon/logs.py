"""Logging for `kith run`: a rotating private file in the state dir, plus stderr.

Under systemd, stderr goes to the journal, which adds its own timestamps and
reads a `<N>` syslog-priority prefix per line (sd-daemon(3)), so that is what
we write there. Elsewhere stderr carries warnings only, unless it is a terminal
or --verbose is given: launchd appends stderr to a file that nobody rotates.
At INFO the daemon logs counts and source keys, never addresses or subjects.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Mapping
from datetime import datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TextIO

from daemon import paths

LOG_NAME = "kith.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
CRASH_MAX_BYTES = 256_000
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


def log_path() -> Path:
    return paths.state_dir() / LOG_NAME


def write_crash_log() -> Path | None:
    """Append the traceback being handled to the private crash log, for a bug report; its path, or None when
    it cannot be written (the state folder is what failed, often): the one-line error must still come out.
    Past CRASH_MAX_BYTES the log moves to crash.log.1 (replacing the one before), so a service manager
    restarting Kith into the same bug all day fills no disk."""
    log_file = paths.state_dir() / "crash.log"
    try:
        paths.ensure_private_dir(log_file.parent)
        if log_file.exists() and log_file.stat().st_size > CRASH_MAX_BYTES:
            os.replace(log_file, log_file.with_name(log_file.name + ".1"))
        with open(log_file, "a", encoding="utf-8") as handle:
            handle.write(traceback.format_exc() + "\n")
    except OSError:
        return None
    return log_file


def under_journald(env: Mapping[str, str]) -> bool:
    """systemd sets INVOCATION_ID for every unit and JOURNAL_STREAM when stderr is the journal."""
    return "JOURNAL_STREAM" in env or "INVOCATION_ID" in env


class OffsetFormatter(logging.Formatter):
    """Times as ISO 8601 with their UTC offset (2026-11-24T07:30:02+01:00): the machine's clock zone may not
    be the `[user] timezone` that `kith status` and the digest time use, and the offset says which it is."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="seconds")


class JournalFormatter(logging.Formatter):
    """`<priority>message`: journald turns the prefix into the entry's priority."""

    def format(self, record: logging.LogRecord) -> str:
        priority = PRIORITIES.get(record.levelno, 6)
        return f"<{priority}>{record.name}: {super().format(record)}"


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A RotatingFileHandler whose files are 0600 whatever the umask, and which says in one line when it cannot
    write (a full disk, a file taken away) instead of logging's "--- Logging error ---" traceback per line."""

    def __init__(self, *args, problems: TextIO | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.problems = problems            # where the one line goes (stderr, so the journal); None: sys.stderr
        self.failing: str | None = None     # the problem last said, until a line is written again
        self._failed_now = False

    def _open(self) -> TextIO:
        stream = super()._open()
        os.chmod(self.baseFilename, 0o600)
        return stream

    def emit(self, record: logging.LogRecord) -> None:
        before = self.failing
        self._failed_now = False
        super().emit(record)                # calls handleError on any failure
        if before and not self._failed_now:
            self.failing = None
            self._say(f"kith: writing the log file {self.baseFilename} works again")

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        self._failed_now = True
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            super().handleError(record)     # a bug in a log call: logging's own report shows where
            return
        problem = paths.cannot_write(exc, "write the log file", Path(self.baseFilename)).line()
        if problem != self.failing:
            self.failing = problem
            self._say(f"kith: {problem}; log lines go to stderr only until then")
        if self.stream is not None:         # reopened on the next line: the disk may have room by then
            try:
                self.stream.close()
            except OSError:
                pass
            self.stream = None

    def _say(self, line: str) -> None:
        try:
            (self.problems or sys.stderr).write(line + "\n")
        except (OSError, ValueError):
            pass


class QuietSyncFailures(logging.Filter):
    """sync_source warns on every failed attempt; the service and `kith sync` report failures themselves
    (the service once per change), so the warning would only say it twice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.WARNING and str(record.msg).startswith("sync of"))


QUIET_SYNC_FAILURES = QuietSyncFailures()


def setup_service_logging(verbose: bool = False, *, path: Path | None = None,
                          env: Mapping[str, str] | None = None, stream: TextIO | None = None) -> Path:
    """Replace the root logger's handlers with the file and stderr handlers; return the log file."""
    env = os.environ if env is None else env
    stream = stream or sys.stderr
    path = path or log_path()
    level = logging.DEBUG if verbose else logging.INFO
    try:
        paths.ensure_private_dir(path.parent)
        file_handler = PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8",
                                                  problems=stream)
    except OSError as exc:      # another user's (after `sudo kith run`), a read-only or full disk
        raise paths.cannot_write(exc, "open the log file", path) from None
    file_handler.setFormatter(OffsetFormatter(FILE_FORMAT))
    file_handler.setLevel(level)
    stderr_handler = logging.StreamHandler(stream)
    if under_journald(env):
        stderr_handler.setFormatter(JournalFormatter("%(message)s"))
        stderr_handler.setLevel(level)
    else:
        stderr_handler.setFormatter(OffsetFormatter("%(asctime)s %(levelname)s %(message)s"))
        chatty = verbose or (hasattr(stream, "isatty") and stream.isatty())
        stderr_handler.setLevel(level if chatty else logging.WARNING)
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
        handler.close()
    root.addHandler(file_handler)
    root.addHandler(stderr_handler)
    root.setLevel(level)
    logging.getLogger("schedule").setLevel(logging.WARNING)  # logs every job run at DEBUG
    return path
