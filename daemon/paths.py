"""Where Kith keeps its files, and how they are kept private.

Config, data and state live in the platform's per-user folders (XDG on Linux).
Everything Kith writes is readable by the user only: `private_umask()` is set at
start-up and `write_private()` replaces files atomically with mode 0600.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import platformdirs

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
    """Atomically replace `path` with `data`, mode 0600 (mkstemp + os.replace).

    A crash leaves either the old file or the new one, never half of either.
    """
    ensure_private_dir(path.parent)
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
