"""One daemon per user: an flock on a lock file in the state directory.

The kernel releases an flock when its process dies, however it dies, so a
crash or `kill -9` never leaves a stale lock behind and no pid-file cleanup
logic is needed (lieer does the same). The file holds the holder's pid only so
that a refused second start can say which process is running. The file is
never deleted: deleting it would let two processes lock two different files.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from daemon import paths
from daemon.errors import KithError

LOCK_NAME = "kith.lock"


class AlreadyRunning(KithError):
    """Another `kith run` holds the lock."""

    exit_code = 6


def lock_path() -> Path:
    return paths.state_dir() / LOCK_NAME


class InstanceLock:
    """The held lock; `release()` (or leaving the `with` block) gives it up."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None

    def __enter__(self) -> InstanceLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(path: Path | None = None) -> InstanceLock:
    """Take the lock and write our pid into it, or raise AlreadyRunning naming the holder."""
    path = path or lock_path()
    paths.ensure_private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _read_pid(fd)
        os.close(fd)
        who = f"process {pid}" if pid else "another process"
        raise AlreadyRunning(f"kith is already running ({who} holds the lock)", where=str(path),
                             fix="stop it first (`systemctl --user stop kith` if it runs as a service), "
                                 "or use `kith status` to see what it does") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    os.fsync(fd)
    return InstanceLock(path, fd)


def holder(path: Path | None = None) -> int | None:
    """The pid of the running daemon (0 if unreadable), or None when nobody holds the lock.

    Probes with a non-blocking flock on a fresh descriptor, so a pid left in
    the file by a crashed daemon is not mistaken for a live one.
    """
    path = path or lock_path()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(fd) or 0
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None
