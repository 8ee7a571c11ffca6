"""User-facing errors: one line saying where, what is wrong, and how to fix it.

Every error Kith expects is a KithError subclass with its own exit code. They are
caught in exactly one place, `daemon.cli.main`, and printed as one line.
"""

from __future__ import annotations


class KithError(Exception):
    """An expected failure the user can fix. `str()` is the one-line message."""

    exit_code = 1

    def __init__(self, problem: str, *, where: str = "", fix: str = "") -> None:
        self.where = where
        self.problem = problem
        self.fix = fix
        super().__init__(self.line())

    def line(self) -> str:
        text = f"{self.where}: {self.problem}" if self.where else self.problem
        return f"{text} — {self.fix}" if self.fix else text


class ConfigError(KithError):
    """The configuration file is missing, unreadable or invalid."""

    exit_code = 2


class SourceError(KithError):
    """A source cannot be read: missing file, bad credentials, broken data."""

    exit_code = 3


class AuthError(SourceError):
    """A provider refused our credentials; the fix is a `kith auth` command."""

    exit_code = 4


class StoreError(KithError):
    """The database cannot be opened or written."""

    exit_code = 5


class UsageError(KithError):
    """A command-line argument is invalid."""

    exit_code = 2
