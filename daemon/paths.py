"""Where Kith keeps its files, and how they are kept private.

Config, data and state live in the platform's per-user folders (XDG on Linux).
Everything Kith writes is readable by the user only: `private_umask()` is set at
start-up and `write_private()` replaces files atomically with mode 0600.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
import time
from pathlib import Path

import platformdirs

from daemon.errors import StoreError

APP = "kith"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP))


def state_dir() -> Path:
    return Path(platformdirs.user_state_dir(APP))


def default_config_path() -> Path:
    return config_dir() / "config.toml"


def private_umask() -> None:
    """New files 0600 and folders 0700: covers the database, its -wal/-shm, tokens, digests."""
    os.umask(0o077)


def ensure_private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write_private(path: Path, data: str | bytes) -> None:
    """Atomically replace `path` with `data`, mode 0600 (mkstemp + os.replace, then the folder fsynced).

    A crash leaves either the old file or the new one, never half of either; and once this returns, the new
    one survives a power loss (the rename is on disk, not only the data). A temp file a kill left behind is
    removed by the next write of the same file (`remove_stale_temp_files`).
    """
    ensure_private_dir(path.parent)
    remove_stale_temp_files(path.parent, re.escape(path.name))
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


STALE_SECONDS = 60.0     # a temp file untouched this long is no write in progress: a kill or power loss left it


def remove_stale_temp_files(folder: Path, names: str) -> list[Path]:
    """Remove the temp files `write_private` leaves when killed mid-write (`.NAME.XXXXXXXX.tmp`, NAME matching
    the regular expression `names`) that are older than STALE_SECONDS; nothing else. Returns those removed."""
    pattern = re.compile(rf"\.(?:{names})\.[a-z0-9_]{{8}}\.tmp")
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            age = time.time() - entry.stat(follow_symlinks=False).st_mtime
            if entry.is_file(follow_symlinks=False) and age > STALE_SECONDS:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:     # gone meanwhile, or not ours to remove: the write itself does not depend on it
            pass
    return removed


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable. File systems that cannot fsync a folder (EINVAL) are left as they are."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def cannot_write(exc: OSError, what: str, path: Path, elsewhere: str = "set XDG_STATE_HOME to a folder you can write to"
                 ) -> StoreError:
    """An OSError on one of Kith's own files or folders (a lock, the log, the state folder) as one line naming
    the file and the fix: a file left to root by `sudo kith …`, a read-only folder, a full disk. `elsewhere`:
    how to put the file somewhere else (the sync lock lies beside the database, not in the state folder)."""
    name = Path(exc.filename) if isinstance(exc.filename, str) else path
    if exc.errno == errno.EROFS:
        fix = f"the file system is read-only: mount it writable, or {elsewhere}"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        fix = _make_yours(name)
    else:
        fix = disk_fix(exc, name.parent)
    return StoreError(f"cannot {what} ({exc.strerror or exc})", where=str(name), fix=fix)


DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG}   # the disk, not the path chosen


def disk_fix(exc: OSError, folder: Path) -> str:
    """How to get a write into `folder` going again when the disk, not the path, failed it."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"free disk space on the disk that holds {folder}"
    if exc.errno == errno.EIO:
        return f"the disk that holds {folder} reported an I/O error: check it (`dmesg`) and its connection"
    return f"check that {folder} is a folder you can write to, on a disk with room"


def _make_yours(path: Path) -> str:
    """The command that gives the user back a file or folder: chown when another user owns it (root, after
    `sudo kith run`), chmod when it is the user's own but closed to them."""
    try:
        owner = path.stat().st_uid
    except FileNotFoundError:   # it cannot be made: its folder is the one to give back
        return _make_yours(path.parent) if path.parent != path else f"`sudo chown $USER {path}`"
    except OSError:             # its folder is closed to the user
        return f"make its folder yours: `sudo chown -R $USER {path.parent}`"
    if owner != os.getuid():
        recursive = "-R " if path.is_dir() else ""
        return f"it belongs to another user (left by `sudo kith`?): `sudo chown {recursive}$USER {path}`"
    return f"`chmod u+rwX {path}`"
