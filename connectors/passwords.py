"""The password of a source that logs in with one (IMAP, CalDAV): never in the config, but in a file only its
owner can read (`password_file`, by default the one `kith auth TYPE` writes into the state directory) or in
an environment variable (`password_env`). A password file other users could read is refused rather than
used: it would have been exposed already, and the fix, `chmod 600`, takes a second.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from daemon import paths
from daemon.config import Config, SourceConfig
from daemon.errors import SourceError


def source_key(source: SourceConfig) -> str:
    return f"{source.type}:{source.name}"


def password_path(source: SourceConfig, config: Config) -> Path:
    """The password file: `password_file`, or <type>-<name>.password in the state directory."""
    if source.password_file:
        return config.resolve(source.password_file)
    return default_password_path(source.type, source.name)


def default_password_path(kind: str, name: str) -> Path:
    """Where `kith auth imap|caldav` keeps a source's password unless `password_file` says otherwise."""
    return paths.state_dir() / f"{kind}-{name}.password"


def read_password(source: SourceConfig, config: Config) -> str:
    """The password, from the environment variable or the file the config names; SourceError with the fix
    when it is missing, empty, or in a file other users may read."""
    where = source_key(source)
    auth = f"run `kith auth {source.type} --source {source.name}`"
    if source.password_env:
        value = os.environ.get(source.password_env, "")
        if not value:
            raise SourceError(f"the environment variable {source.password_env} (password_env) is not set", where=where,
                              fix="set it where Kith runs (the daemon's service too), or remove password_env and "
                                  f"{auth} to keep the password in a file readable by you only")
        return value
    path = password_path(source, config)
    try:
        info = path.stat()
        if os.name == "posix" and stat.S_ISREG(info.st_mode) and info.st_mode & 0o077:
            raise SourceError(f"the password file {path} can be read or changed by other users "
                              f"(mode {stat.S_IMODE(info.st_mode):04o})", where=where, fix=f"run `chmod 600 {path}`")
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(f"the password file {path} is not a file", where=where,
                              fix=f"point password_file at a file, or {auth}")
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SourceError(f"no password file at {path}", where=where,
                          fix=f"{auth} (it asks for the password and keeps it readable by you only)") from None
    except UnicodeDecodeError:
        raise SourceError(f"the password file {path} is not UTF-8 text", where=where, fix=auth) from None
    except OSError as exc:
        raise SourceError(f"cannot read the password file {path} ({exc.strerror or exc})", where=where,
                          fix=f"make it readable by you (`chmod 600 {path}`), or {auth}") from None
    password = text.split("\n", 1)[0].removesuffix("\r")
    if not password:
        raise SourceError(f"the password file {path} is empty", where=where,
                          fix=f"{auth}, or write the password on its first line")
    return password


def save_password(source: SourceConfig, config: Config, password: str) -> Path:
    """Keep the password in the source's password file, readable by the user only; the file's path."""
    path = password_path(source, config)
    paths.write_private(path, password + "\n")
    return path
