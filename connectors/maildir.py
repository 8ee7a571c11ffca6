"""Read-only Maildir connector: a Maildir root and its folder tree.

The path is either a Maildir itself (it holds cur/ and new/; its own mail is the folder "INBOX"), or an
account folder as mbsync and offlineimap make it, which holds only Maildirs (INBOX/, Sent/,
Archive/2023/). Below either, folders come in both layouts: Maildir++ (`.Sent`, `.Lists.openbmc`, dots
as separators) and nested directories (`Sent/cur`, `Archive/2024/cur`). Each folder is a scope, named by
its path below the root ("Sent", "Lists/openbmc", "INBOX/Sent"); bytes of a name that are not UTF-8 are
written as escapes, so that the store can hold it.

Mail that was never sent or never wanted is not read: drafts and junk folders (said once, in a note) and
files flagged D (draft) in any folder. Trash is read: deleted mail still happened.

A message's id is `folder/unique-name`: the file name without its `:2,FLAGS`
info, so reading or flagging a message (a rename) is not a new message. Only
the header block of each file is read, in chunks, never the body.

The cursor keeps per folder the mtime of cur/ and new/ and the number of
files. Delivering, deleting or renaming a file changes a directory's mtime, so
an unchanged folder is skipped without opening a single file, and a changed
one is re-read whole with `scopes` so the store sweeps what is gone. A folder
that could not be read whole (a file or the folder itself unreadable) gets no
state that claims it was: it is read again on the next sync, and its mail
already stored is not swept meanwhile.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG

from connectors import local_cursor
from connectors.base import Batch, MessageMeta, coalesced
from connectors.local_source import LocalSource, storable
from connectors.folders import is_not_mail_folder, left_out_note, sent_labels
from connectors.headers import meta_from_header
from connectors.mbox import DOCUMENTS
from daemon.errors import SourceError

KIND = "maildir"
CHUNK = 16384
MAX_HEADER = 1 << 20           # a header block larger than 1 MiB is not a header block
MESSAGE_DIRS = ("cur", "new")
_INFO = re.compile(r"[:!][12],.*\Z", re.S)
FIX = ("set path to a Maildir (the folder that holds cur/ and new/) or to the folder that holds your "
       "Maildirs (INBOX/, Sent/, …)")
FIELD = "folder_states"        # "folders" before drafts were left out: such a cursor has every folder read once more
RETRY = [-1, -1, -1]           # a state no folder has: the folder is read again on the next sync
SKIPPED = [-2, -2, -2]         # a drafts or junk folder, said once and never read
UPGRADE_NOTE = "drafts are now left out: every folder is read once more"


@dataclass(slots=True)
class Tree:
    """What lies below the root: the folders to read by name, the drafts and junk folders left out, and
    notes for directories that could not be listed (folders inside them may exist unseen)."""

    folders: dict[str, Path] = field(default_factory=dict)
    unsent: set[str] = field(default_factory=set)
    unlisted: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)     # folder names of the directories not listed

    def may_hide(self, folder: str) -> bool:
        """Whether a folder not found may sit inside a directory that could not be listed."""
        return any(h == "" or folder == h or folder.startswith(h + "/") for h in self.hidden)


class MaildirSource(LocalSource):
    """A Maildir tree, read-only. `key` is "maildir:<name>"."""

    KIND = KIND

    def check(self) -> None:
        """Raise SourceError unless the path is a readable Maildir, or a folder with Maildirs below it."""
        where = self._check_exists("no such folder", FIX)
        if not self.path.is_dir():
            if _starts_with_from_line(self.path):
                raise SourceError("is an mbox file (it starts with a \"From \" line), not a Maildir", where=where,
                                  fix='set type = "mbox" for this source')
            raise SourceError("is not a Maildir (it is a file, not a folder)", where=where, fix=FIX)
        if self.path.name in (*MESSAGE_DIRS, "tmp") and _is_maildir(self.path.parent):
            raise SourceError(f"is the {self.path.name}/ folder inside a Maildir, not a Maildir", where=where,
                              fix=f"point path at the parent folder, {storable(str(self.path.parent))}")
        own = _is_maildir(self.path)
        needed = [self.path / d for d in MESSAGE_DIRS] if own else [self.path]
        if not all(os.access(p, os.R_OK | os.X_OK) for p in needed):
            raise SourceError("cannot be read (permission denied)", where=where,
                              fix="make it readable by the user Kith runs as")
        problems: list[OSError] = []
        if not own and next(_maildirs(self.path, problems), None) is None:
            if problems:
                raise SourceError(f"cannot be read ({problems[0].strerror or problems[0]})",
                                  where=storable(str(problems[0].filename or where)),
                                  fix="make it readable by the user Kith runs as")
            mbox = mbox_files(self.path)
            if mbox:
                named = ", ".join(storable(name) for name in mbox[:3]) + (", …" if len(mbox) > 3 else "")
                raise SourceError(f"is not a Maildir: it holds mbox files ({named}: files that start with a "
                                  "\"From \" line)", where=where, fix='set type = "mbox" for this source')
            raise SourceError("is not a Maildir (it has no cur/ and new/ folders, and no folder below it has them)",
                              where=where, fix=FIX)

    def pull(self, cursor: str | None) -> Iterator[Batch]:
        """New, changed and vanished folders (small ones merged into one batch); nothing for unchanged ones."""
        return coalesced(self._pieces(cursor))

    def _pieces(self, cursor: str | None) -> Iterator[Batch]:
        """One batch per new, changed or vanished folder, each with the cursor valid after it."""
        self.check()
        tree = self._tree()
        known, upgrading = self._load(cursor)
        if known is None and cursor is not None:
            yield self._full_resync(tree, cursor)
            return
        done = dict(known or {})
        notes = ([UPGRADE_NOTE] if upgrading else []) + tree.unlisted
        if notes:
            yield Batch(notes=tuple(notes), cursor=self._cursor(done))
        for folder in sorted(tree.folders.keys() | tree.unsent | done.keys()):
            batch = self._folder_batch(folder, tree, done)
            if batch is not None:
                yield batch

    def _folder_batch(self, folder: str, tree: Tree, done: dict[str, list[int]]) -> Batch | None:
        """The batch that brings one folder up to date (and updates `done`), or None when nothing changed."""
        if folder in tree.unsent:
            if done.get(folder) == SKIPPED:
                return None
            done[folder] = SKIPPED                      # what an older sync read of it is swept
            return Batch(scopes=(folder,), notes=(_unsent_note(folder),), cursor=self._cursor(done))
        if folder not in tree.folders:
            if tree.may_hide(folder):                   # it may sit in a directory that could not be listed
                return None
            del done[folder]
            return Batch(scopes=(folder,), cursor=self._cursor(done))
        path = tree.folders[folder]
        try:
            state, names = _folder_state(path)
        except OSError as exc:                          # its mail stored before stays, and so does its state
            return Batch(notes=(self._unreadable(exc, f"folder {folder} skipped"),), cursor=self._cursor(done))
        if done.get(folder) == state:
            return None
        messages, notes, whole = self._read_folder(folder, path, names)
        done[folder] = state if whole else RETRY
        return Batch(messages=tuple(messages), scopes=(folder,) if whole else (), notes=tuple(notes),
                     cursor=self._cursor(done))

    # ------------------------------------------------------------ folders

    def _tree(self) -> Tree:
        """Every folder by name ("INBOX", "Sent", "Lists/openbmc"), drafts and junk apart."""
        tree = Tree()
        problems: list[OSError] = []
        own = [self.path] if _is_maildir(self.path) else []
        for full in [*own, *_maildirs(self.path, problems)]:
            rel = full.relative_to(self.path)
            name = storable(_folder_name(rel)) if rel.parts else "INBOX"
            if is_not_mail_folder(name) or is_not_mail_folder(_as_windows_1252(rel)):
                tree.unsent.add(name)
                continue
            # two layouts can name one folder twice (".Lists.x" and "Lists/x", a subfolder "INBOX"):
            # the later one (in walk order, which is sorted) keeps its own path beside the name
            tree.folders[name if name not in tree.folders else f"{name} [{storable(rel.as_posix())}]"] = full
        tree.unlisted = [self._unreadable(exc, "skipped with the folders in it") for exc in problems]
        tree.hidden = [storable(_folder_name(Path(os.path.relpath(exc.filename, self.path)))) if exc.filename else ""
                       for exc in problems]
        return tree

    def _unreadable(self, exc: OSError, what: str) -> str:
        """A note naming the directory below the root that failed (".Private/cur"), why, and what is skipped."""
        where = os.path.relpath(exc.filename, self.path) if exc.filename else str(self.path)
        return f"{storable(where)}: cannot be read ({exc.strerror or exc}), {what}"

    def _load(self, cursor: str | None) -> tuple[dict[str, list[int]] | None, bool]:
        """The folder states in the cursor, and whether it was written before drafts were left out; such a
        cursor has every folder it knows read once more, so that drafts read then are swept."""
        root = os.path.abspath(self.path)
        known = local_cursor.load(cursor, KIND, root, FIELD)
        if known is not None:
            return known, False
        older = local_cursor.load(cursor, KIND, root, "folders")
        if older is None:
            return None, False
        return {folder: RETRY for folder in older}, True

    def _cursor(self, done: dict[str, list[int]]) -> str:
        return local_cursor.dump(KIND, os.path.abspath(self.path), FIELD, done)

    def _full_resync(self, tree: Tree, cursor: str) -> Batch:
        """Everything in one batch with full_resync: the old cursor could not be read. When a folder or
        file cannot be read, the batch does not hold everything: it sweeps only the folders read whole and
        keeps the old cursor, so that the next sync tries again and nothing stored is lost meanwhile."""
        messages: list[MessageMeta] = []
        notes = [self._resync_note(cursor, "folder"), *tree.unlisted]
        done: dict[str, list[int]] = {}
        whole = not tree.unlisted
        for folder in sorted(tree.folders):
            path = tree.folders[folder]
            try:
                state, names = _folder_state(path)
            except OSError as exc:
                notes.append(self._unreadable(exc, f"folder {folder} skipped"))
                whole = False
                continue
            found, problems, complete = self._read_folder(folder, path, names)
            messages += found
            notes += problems
            done[folder] = state if complete else RETRY
            whole = whole and complete
        for folder in sorted(tree.unsent):
            done[folder] = SKIPPED
            notes.append(_unsent_note(folder))
        if not whole:
            return Batch(messages=tuple(messages), scopes=tuple(f for f in sorted(done) if done[f] != RETRY),
                         notes=tuple(notes), cursor=cursor)
        return Batch(messages=tuple(messages), scopes=tuple(sorted(done)), full_resync=True,
                     notes=tuple(notes), cursor=self._cursor(done))

    # ------------------------------------------------------------ messages

    def _read_folder(self, folder: str, path: Path,
                     names: list[tuple[str, str]]) -> tuple[list[MessageMeta], list[str], bool]:
        """Every message of one folder, each id once (a file may sit in new/ and cur/ mid-move), the notes,
        and whether every file could be read (a FIFO is no message; a file denied or gone mid-read may be)."""
        labels = sent_labels(re.sub(r" \[.*\]\Z", "", folder), self.sent_folders)   # "Sent [Sent]": a second "Sent"
        messages: list[MessageMeta] = []
        notes: list[str] = []
        seen: set[str] = set()
        whole = True
        for sub, name in names:
            unique = _INFO.sub("", name)
            source_id = f"{folder}/{storable(unique)}"
            where = f"{folder}/{sub}/{storable(name)}"
            if source_id in seen or _is_draft(name):
                continue
            try:
                block = read_header_block(path / sub / name)
            except NotAFile as exc:
                notes.append(f"{where}: {exc.strerror}, skipped")
                continue
            except OSError as exc:
                notes.append(f"{where}: cannot be read ({exc.strerror or exc}), skipped")
                whole = False
                continue
            meta = meta_from_header(block, scope=folder, source_id=source_id, labels=labels,
                                    fallback_date=lambda u=unique: unique_name_date(u),
                                    arrived=lambda u=unique: delivery_time(u))
            if isinstance(meta, str):
                notes.append(f"{where}: message {meta}, skipped")
                continue
            seen.add(source_id)
            messages.append(meta)
        return messages, notes, whole


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


def delivery_time(unique: str) -> datetime | None:
    """The delivery time of a unique name, as the arrival a Date from a wrong clock is held to: only a time
    of ten digits (since September 2001), as Maildir writers stamp them now; a name such as "1.host", numbered
    by an import script, is no time, and would hold every Date to 1970."""
    moment = unique_name_date(unique)
    return moment if moment is not None and moment.timestamp() >= 10**9 else None


def _is_draft(name: str) -> bool:
    """Whether a file's Maildir info (`:2,DS`) flags an unsent draft: an upper-case D, as lower-case
    letters are a mail client's own keywords."""
    info = _INFO.search(name)
    return info is not None and info.group()[1:3] == "2," and "D" in info.group()[3:]


def _unsent_note(folder: str) -> str:
    return left_out_note(folder)


MBOX_LOOK = 200          # files looked at when telling a folder of mbox files from a wrong path


def mbox_files(root: Path, limit: int = 4) -> list[str]:
    """Up to `limit` files below root (by relative path, hidden ones and those named as documents aside, as the
    mbox source leaves them) that start with a "From " line, as an mbox file does: the likely cause when a
    Maildir source finds no Maildir. At most MBOX_LOOK files are looked at, so a large tree of other files is
    not read through."""
    found: list[str] = []
    looked = 0
    for parent, dirs, names in os.walk(root, onerror=lambda exc: None):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(n for n in names if not n.startswith(".")):
            looked += 1
            if Path(name).suffix.lower() not in DOCUMENTS and _starts_with_from_line(Path(parent, name)):
                found.append(os.path.relpath(os.path.join(parent, name), root))
            if len(found) >= limit or looked >= MBOX_LOOK:
                return found
    return found


def _starts_with_from_line(path: Path) -> bool:
    """Whether a regular file starts with "From " (a FIFO or device is never opened)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    with open(fd, "rb") as f:
        try:
            return S_ISREG(os.fstat(fd).st_mode) and f.read(5) == b"From "
        except OSError:
            return False


def _is_maildir(path: Path) -> bool:
    """Whether a directory holds cur/ and new/ (one that cannot be looked into does not)."""
    return all(os.path.isdir(path / d) for d in MESSAGE_DIRS)


def _maildirs(root: Path, problems: list[OSError]) -> Iterator[Path]:
    """Every Maildir below root (not root itself), in sorted walk order. A Maildir's own cur/, new/ and
    tmp/ are not entered, though a folder of that name elsewhere is; directories that cannot be listed
    are added to `problems`."""
    for parent, dirs, _files in os.walk(root, onerror=problems.append):
        own = (*MESSAGE_DIRS, "tmp") if _is_maildir(Path(parent)) else ()
        dirs[:] = sorted(d for d in dirs if d not in own)
        for name in dirs:
            if _is_maildir(Path(parent, name)):
                yield Path(parent, name)


def _as_windows_1252(relative: Path) -> str:
    """The folder's name read as Windows-1252, the way an old system or a Windows zip may have left a drafts
    folder ("Entw\\xfcrfe"): its escaped name alone would not be known as one."""
    return os.fsencode(_folder_name(relative)).decode("cp1252", "replace")


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
