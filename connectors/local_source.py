"""What the file-based sources (mbox, Maildir, .ics) share: how one is built from its config entry, and
the first checks of its path. Each source adds what its format needs."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from daemon.errors import SourceError


class LocalSource:
    """A source read from a path on this machine. `key` is "<KIND>:<name>"."""

    KIND: ClassVar[str]

    def __init__(self, name: str, path: str | os.PathLike[str], *,
                 sent_folders: Sequence[str] | None = None, now: datetime | None = None) -> None:
        self.name = name
        self.path = Path(path)
        self.key = f"{self.KIND}:{name}"
        self.sent_folders = sent_folders    # folder names that hold the user's own mail (mail sources)
        self.now = now                      # the reading's "now" (calendars); mail carries its own dates

    def _check_readable(self, fix: str) -> str:
        """Raise SourceError unless the path exists and can be read (and entered, for a folder); the path
        as text, for the caller's own checks."""
        where = self._check_exists("no such file or folder", fix)
        if not os.access(self.path, os.R_OK | (os.X_OK if self.path.is_dir() else 0)):
            raise SourceError("cannot be read (permission denied)", where=where,
                              fix="make it readable by the user Kith runs as")
        return where

    def _check_exists(self, missing: str, fix: str) -> str:
        """Raise SourceError (`missing`, or a link that leads nowhere) unless the path exists; the path as text."""
        where = str(self.path)
        if not self.path.exists():
            if os.path.lexists(self.path):
                raise SourceError("cannot be read (a dangling link or a symlink loop)", where=where,
                                  fix="point path at the file or folder itself")
            raise SourceError(missing, where=where, fix=fix)
        return where

    def _files(self, wanted: Callable[[Path], bool]) -> dict[str, Path]:
        """The file itself, or every file below the folder that `wanted` takes, by relative path in
        sorted order (names made `storable`); hidden files and folders are skipped."""
        if self.path.is_file():
            return {storable(self.path.name): self.path}
        found: dict[str, Path] = {}
        visited = {os.path.realpath(self.path)}
        for folder, dirs, names in os.walk(self.path, followlinks=True):    # a linked folder is read too …
            dirs[:] = [d for d in sorted(dirs) if not d.startswith(".") and _first_visit(Path(folder, d), visited)]
            for name in sorted(names):
                full = Path(folder, name)
                if not name.startswith(".") and wanted(full):
                    found[storable(full.relative_to(self.path).as_posix())] = full
        return found

    def _check_not_emptied(self, files: dict[str, Path], known: int) -> None:
        """Raise SourceError when a folder that held `known` files read before holds none now: an unmounted
        disk or share leaves its mount point as an empty folder, and sweeping would wipe all its mail."""
        if known and not files and self.path.is_dir():
            raise SourceError(f"none of the {known} files read before is there now (an unmounted disk or share?)",
                              where=str(self.path), fix="check the folder; if you emptied it on purpose, run "
                              f"`kith forget {self.name}` (with the source disabled) to drop what it synced")

    def _resync_note(self, cursor: str, what: str) -> str:
        """Why every {what} is read again when the stored cursor could not be used. A cursor of this kind
        written for another absolute path means the folder was moved or the config points elsewhere: blaming
        "another source or an older format" would send the user looking for a fault that is not there."""
        before = _cursor_root(cursor, self.KIND)
        if before is not None and before != os.path.abspath(self.path):
            return f"the source's path changed (it was {storable(before)}): every {what} is read again"
        return f"cursor not understood (another source or an older format): re-read every {what}"

    def _empty_folder_notes(self, files: dict[str, Path], what: str) -> tuple[str, ...]:
        """On a first reading, a folder without a single file of the source's kind is most likely the wrong
        folder (or a source of the wrong type): say so once, instead of a silent "0 messages"."""
        if files:
            return ()
        return (f"no {what} found in {self.path}: check that path points at them and that the type is right",)


def storable(name: str) -> str:
    """A file name as text the store can hold: bytes that are not UTF-8 (a Latin-1 name from an old archive
    or a Windows zip, "Gel\\xf6scht") are written as escapes, so that two such names stay apart."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _cursor_root(cursor: str, kind: str) -> str | None:
    """The path a cursor of this kind of source was written for, or None when it names none (damaged, or
    another kind's)."""
    try:
        data = json.loads(cursor)
    except ValueError:
        return None
    root = data.get("root") if isinstance(data, dict) and data.get("kind") == kind else None
    return root if isinstance(root, str) else None


def _first_visit(folder: Path, visited: set[str]) -> bool:
    """… once: a link back up the tree (or to a folder read already) would repeat it forever."""
    real = os.path.realpath(folder)
    if real in visited:
        return False
    visited.add(real)
    return True
