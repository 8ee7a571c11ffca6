"""One daemon per user: an flock on a lock file in the state directory.

The kernel releases an flock when its process dies, however it dies, so a
crash or `kill -9` never leaves a stale lock behind and no pid-file cleanup
logic is needed (lieer does the same). The file holds the holder's pid only so
that a refused second start can say which process is running. The file is
never deleted: deleting it would let two processes lock two different files.

A sync takes the same kind of lock on a file next to the database (`kith.db.sync.lock`), one per store: a
second `kith sync` on that store waits for the first one to end, and `kith contacts` or `kith digest`
can tell that the figures they read may still be growing.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path

from daemon import paths
from daemon.errors import KithError

LOCK_NAME = "kith.lock"
SYNC_LOCK_SUFFIX = ".sync.lock"


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
    fd = _open(path)
    if not _try_lock(fd):
        pid = _read_pid(fd)
        os.close(fd)
        who = f"process {pid}" if pid else "another process"
        raise AlreadyRunning(f"kith is already running ({who} holds the lock)", where=str(path),
                             fix="stop it first (`systemctl --user stop kith` if it runs as a service), "
                                 "or use `kith status` to see what it does")
    return _claim(path, fd)


class SyncRunning(KithError):
    """Another sync of the same store still runs after the wait."""

    exit_code = 6


def sync_lock_path(database: Path) -> Path:
    """The sync lock of one store: beside the database, so that two configs sharing a store share it."""
    return database.with_name(database.name + SYNC_LOCK_SUFFIX)


ANNOUNCE_AFTER = 0.3      # seconds: a holder gone by then (or a reader's brief probe, see `holder`) goes unsaid


def acquire_sync(database: Path, *, wait: float, on_wait: Callable[[int | None], None] | None = None,
                 poll: float = 0.1) -> InstanceLock:
    """Take the store's sync lock, waiting up to `wait` seconds while another sync holds it; `on_wait(pid)` is
    called once when the wait is more than a moment. Raises SyncRunning when the other sync still runs."""
    path = sync_lock_path(database)
    fd = _open(path, elsewhere="set [storage] database to a folder you can write to (the lock lies beside it)")
    started = time.monotonic()
    announced = False
    while not _try_lock(fd):
        waited = time.monotonic() - started
        if waited >= wait:
            pid = _read_pid(fd)
            os.close(fd)
            who = f"process {pid}" if pid else "another process"
            raise SyncRunning(f"another sync of this store is still running ({who}) after {_duration(wait)}",
                              where=str(database), fix="let it finish (`kith status` shows the last syncs), "
                                                       "then run `kith sync` again")
        if not announced and waited >= ANNOUNCE_AFTER and on_wait is not None:
            on_wait(_read_pid(fd))
            announced = True
        time.sleep(poll)
    return _claim(path, fd)


def sync_holder(database: Path) -> int | None:
    """The pid of the sync running on this store (0 if unreadable), or None when none runs."""
    return holder(sync_lock_path(database))


def _duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} second{'' if round(seconds) == 1 else 's'}"


def _open(path: Path, **elsewhere: str) -> int:
    """The lock file, opened to lock; one that cannot be (owned by root, a read-only or full disk) is a StoreError
    naming it and the fix, not a traceback."""
    try:
        paths.ensure_private_dir(path.parent)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise paths.cannot_write(exc, "open the lock file", path, **elsewhere) from None


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _claim(path: Path, fd: int) -> InstanceLock:
    """Write our pid into the locked file, so that a refused second holder can name us. A full disk leaves the
    pid unwritten: the lock holds all the same, and a refused holder says "another process"."""
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
    except OSError:
        pass
    return InstanceLock(path, fd)


def daemon_state(path: Path | None = None) -> tuple[int | None, str | None]:
    """`holder()` for the status commands: (pid or None, None), or (None, the problem as one line) when the
    lock file cannot be read, so that status says "unknown" instead of failing."""
    path = path or lock_path()
    try:
        return holder(path), None
    except OSError as exc:
        return None, paths.cannot_write(exc, "read the lock file", path).line()


def holder(path: Path | None = None) -> int | None:
    """The pid of the running daemon (0 if unreadable), or None when nobody holds the lock.

    Probes with a non-blocking flock on a fresh descriptor, so a pid left in
    the file by a crashed daemon is not mistaken for a live one. A lock file that
    cannot be opened (another user's) raises OSError: who holds it is unknown.
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
