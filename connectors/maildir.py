"""Read-only Maildir connector: a Maildir root and its folder tree.

Folders come in both layouts: Maildir++ (`.Sent`, `.Lists.openbmc`, dots as
separators) and nested directories (`Sent/cur`, `Archive/2024/cur`). The root
is the folder "INBOX". Each folder is a scope.

A message's id is `folder/unique-name`: the file name without its `:2,FLAGS`
info, so reading or flagging a message (a rename) is not a new message. Only
the header block of each file is read, in chunks, never the body.

The cursor keeps per folder the mtime of cur/ and new/ and the number of
files. Delivering, deleting or renaming a file changes a directory's mtime, so
an unchanged folder is skipped without opening a single file, and a changed
one is re-read whole with `scopes` so the store sweeps what is gone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG

from connectors import local_cursor
from connectors.base import Batch, MessageMeta, coalesced
from connectors.local_source import LocalSource
from connectors.folders import sent_labels
from connectors.headers import meta_from_header
from daemon.errors import SourceError

KIND = "maildir"
CHUNK = 16384
MAX_HEADER = 1 << 20           # a header block larger than 1 MiB is not a header block
MESSAGE_DIRS = ("cur", "new")
_INFO = re.compile(r"[:!][12],.*\Z", re.S)
FIX = "set path to a Maildir folder (the one that holds cur/ and new/)"


class MaildirSource(LocalSource):
    """A Maildir tree, read-only. `key` is "maildir:<name>"."""

    KIND = KIND

    def check(self) -> None:
        """Raise SourceError unless the path is a readable Maildir root."""
        where = self._check_exists("no such folder", FIX)
        if not self.path.is_dir() or not _is_maildir(self.path):
            raise SourceError("is not a Maildir (it has no cur/ and new/ folders)", where=where, fix=FIX)
        if not all(os.access(self.path / d, os.R_OK | os.X_OK) for d in MESSAGE_DIRS):
            raise SourceError("cannot be read (permission denied)", where=where,
                              fix="make it readable by the user Kith runs as")

    def pull(self, cursor: str | None) -> Iterator[Batch]:
        """New, changed and vanished folders (small ones merged into one batch); nothing for unchanged ones."""
        return coalesced(self._pieces(cursor))

    def _pieces(self, cursor: str | None) -> Iterator[Batch]:
        """One batch per new, changed or vanished folder, each with the cursor valid after it."""
        self.check()
        folders = self._folders()
        known = local_cursor.load(cursor, KIND, os.path.abspath(self.path), "folders")
        if known is None and cursor is not None:
            yield self._full_resync(folders)
            return
        done = dict(known or {})
        for folder in sorted(folders.keys() | done.keys()):
            if folder not in folders:
                del done[folder]
                yield Batch(scopes=(folder,), cursor=self._cursor(done))
                continue
            state, names = _folder_state(folders[folder])
            if done.get(folder) == state:
                continue
            messages, notes = self._read_folder(folder, folders[folder], names)
            done[folder] = state
            yield Batch(messages=tuple(messages), scopes=(folder,), notes=tuple(notes),
                        cursor=self._cursor(done))

    # ------------------------------------------------------------ folders

    def _folders(self) -> dict[str, Path]:
        """Folder name ("INBOX", "Sent", "Lists/openbmc") -> its directory."""
        found = {"INBOX": self.path}
        for parent, dirs, _files in os.walk(self.path):
            dirs[:] = sorted(d for d in dirs if d not in (*MESSAGE_DIRS, "tmp"))
            for name in dirs:
                full = Path(parent, name)
                if _is_maildir(full):
                    rel = full.relative_to(self.path)
                    name = _folder_name(rel)
                    # two layouts can name one folder twice (".Lists.x" and "Lists/x", a subfolder "INBOX"):
                    # the later one (in walk order, which is sorted) keeps its own path beside the name
                    found[name if name not in found else f"{name} [{rel}]"] = full
        return found

    def _cursor(self, done: dict[str, list[int]]) -> str:
        return local_cursor.dump(KIND, os.path.abspath(self.path), "folders", done)

    def _full_resync(self, folders: dict[str, Path]) -> Batch:
        """Everything in one batch with full_resync: the old cursor could not be read."""
        messages: list[MessageMeta] = []
        notes = ["cursor not understood (another source or an older format): re-read every folder"]
        done: dict[str, list[int]] = {}
        for folder in sorted(folders):
            done[folder], names = _folder_state(folders[folder])
            found, problems = self._read_folder(folder, folders[folder], names)
            messages += found
            notes += problems
        return Batch(messages=tuple(messages), scopes=tuple(sorted(folders)), full_resync=True,
                     notes=tuple(notes), cursor=self._cursor(done))

    # ------------------------------------------------------------ messages

    def _read_folder(self, folder: str, path: Path,
                     names: list[tuple[str, str]]) -> tuple[list[MessageMeta], list[str]]:
        """Every message of one folder, each id once (a file may sit in new/ and cur/ mid-move)."""
        labels = sent_labels(folder, self.sent_folders)
        messages: list[MessageMeta] = []
        notes: list[str] = []
        seen: set[str] = set()
        for sub, name in names:
            unique = _INFO.sub("", name)
            source_id = f"{folder}/{unique}"
            if source_id in seen:
                continue
            try:
                block = read_header_block(path / sub / name)
            except NotAFile as exc:
                notes.append(f"{folder}/{sub}/{name}: {exc.strerror}, skipped")
                continue
            except OSError as exc:
                notes.append(f"{folder}/{sub}/{name}: cannot be read ({exc.strerror or exc}), skipped")
                continue
            meta = meta_from_header(block, scope=folder, source_id=source_id, labels=labels,
                                    fallback_date=lambda u=unique: unique_name_date(u))
            if isinstance(meta, str):
                notes.append(f"{folder}/{sub}/{name}: message {meta}, skipped")
                continue
            seen.add(source_id)
            messages.append(meta)
        return messages, notes


class NotAFile(OSError):
    """A FIFO, socket or device where a message file should be: reading it could block forever."""

    def __init__(self) -> None:
        super().__init__("not a regular file (a FIFO, socket or device)")
        self.strerror = self.args[0]


def read_header_block(path: Path) -> bytes:
    """The bytes before the first empty line, read in chunks so a big body is never loaded."""
    block = b""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))    # opening a FIFO must not wait for a writer
    with open(fd, "rb") as f:
        if not S_ISREG(os.fstat(fd).st_mode):
            raise NotAFile()
        while len(block) < MAX_HEADER:
            chunk = f.read(CHUNK)
            if not chunk:
                return block
            searched_from = max(0, len(block) - 3)
            block += chunk
            end = _blank_line(block, searched_from)
            if end >= 0:
                return block[:end]
    return block[:MAX_HEADER]


def _blank_line(data: bytes, start: int) -> int:
    """Offset just past the last header line, or -1 when no empty line follows it yet."""
    if data.startswith((b"\n", b"\r\n")):
        return 0
    found = [i for i in (data.find(b"\n\n", start), data.find(b"\n\r\n", start)) if i >= 0]
    return min(found) + 1 if found else -1


def unique_name_date(unique: str) -> datetime | None:
    """The delivery time at the start of a Maildir unique name (`1700000000.M1P2.host`)."""
    seconds = unique.split(".", 1)[0]
    if not seconds.isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(seconds), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _is_maildir(path: Path) -> bool:
    return all((path / d).is_dir() for d in MESSAGE_DIRS)


def _folder_name(relative: Path) -> str:
    """`.Lists.openbmc` -> `Lists/openbmc`; `Archive/2024` stays; both may mix."""
    parts: list[str] = []
    for part in relative.parts:
        parts += [p for p in part[1:].split(".") if p] if part.startswith(".") else [part]
    return "/".join(parts)


def _folder_state(path: Path) -> tuple[list[int], list[tuple[str, str]]]:
    """[cur mtime, new mtime, file count] and the (dir, file name) pairs, sorted."""
    mtimes, names = [], []
    for sub in MESSAGE_DIRS:
        mtimes.append((path / sub).stat().st_mtime_ns)
        with os.scandir(path / sub) as entries:
            names += sorted((sub, e.name) for e in entries if not e.name.startswith(".") and _listed(e))
    return [*mtimes, len(names)], names


def _listed(entry: os.DirEntry[str]) -> bool:
    """Anything but a folder: reading a FIFO, a dangling link or a symlink loop then notes which file was
    skipped, where the error would otherwise fail the whole source or go unsaid."""
    try:
        return not entry.is_dir()
    except OSError:
        return True
