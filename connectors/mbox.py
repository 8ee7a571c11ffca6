"""Read-only mbox connector: one mbox file, or a folder tree of them.

Each file is a scope (its path below the folder, without ".mbox"). The file is
mapped into memory and split at lines that start with "From " and a date
(mboxrd escapes such body lines as ">From "; an mboxo writer may leave "From the
desk of…" as it is, which is body); only each message's header block, up to
its first empty line, is looked at. `mailbox.mbox` + `email` would parse every
body and is two orders of magnitude slower.

A message's id is its scope, Message-ID and Date: a file may hold the same
delivery twice (kept once, with the list headers of either copy, as the store
merges copies; when the copies differ, as a list's "[dev]" subject does, the
later one, as an append would leave it) but also a re-send under the same Message-ID with another Date
(git send-email run twice), which is a second message. Without a Date field the
Message-ID alone is the id; without a Message-ID, a hash of the header block.

The cursor remembers, per file, its size, mtime, a hash of the 4 KiB before
its end and where the next parse resumes. So a pull skips unchanged files,
reads only the new tail of a file that just grew (mail is appended), and
re-reads whole any file that changed otherwise, with `scopes` so the store
sweeps the messages that are gone.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import re
from collections.abc import Callable, Iterator
from itertools import takewhile
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from stat import S_ISREG

from connectors.base import Batch, MessageMeta, coalesced
from connectors.headers import (arrival_of, first_id, from_line_date, hash_source_id, meta_from_fields,
                                scan_fields)
from connectors.folders import is_not_mail_folder, left_out_note, sent_labels
from connectors.local_source import LocalSource, storable
from daemon.errors import SourceError

KIND = "mbox"
CURSOR_VERSION = 2            # 2: message ids carry the Date (v1 cursors re-read every file once)
TAIL_BYTES = 4096
BATCH_MESSAGES = 5000         # messages per batch: small files are merged up to it, long appends split at it
FIX = "set path to an mbox file (it starts with a \"From \" line) or a folder of them"


@dataclass(frozen=True, slots=True)
class FileState:
    """What the cursor knows about one file.

    `tail` hashes the TAIL_BYTES before `size`: if they are unchanged in a bigger
    file, the file was only appended to. `resume` is where the next parse starts
    (the end, or the start of a message cut off in its header); -1 marks a file
    that is not an mbox and was skipped.
    """

    size: int
    mtime_ns: int
    tail: str
    resume: int

    def as_json(self) -> list[object]:
        return [self.size, self.mtime_ns, self.tail, self.resume]


@dataclass(slots=True)
class Parsed:
    """The messages of one parsed range, where each ends, the notes, and where to resume."""

    messages: list[MessageMeta]
    ends: list[int]
    notes: list[str]
    resume: int
    more: bool = False      # stopped at its limit of messages: more follow from `resume` …
    number: int = 0         # … numbered on from this one (as notes name them: "message 3 has no usable Date")


class MboxSource(LocalSource):
    """An mbox file or folder, read-only. `key` is "mbox:<name>"."""

    KIND = KIND

    # ------------------------------------------------------------ interface

    def check(self) -> None:
        """Raise SourceError unless the path is a readable mbox file or folder."""
        where = self._check_readable(FIX)
        if self.path.is_file():
            with open(self.path, "rb") as f:
                if not _looks_like_mbox(f.read(5)):
                    raise SourceError("is not an mbox file (it does not start with a \"From \" line)",
                                      where=where, fix=FIX)
        elif not self.path.is_dir():
            raise SourceError("is neither a file nor a folder", where=where, fix=FIX)
        else:
            self._check_not_a_maildir(where)

    def _check_not_a_maildir(self, where: str) -> None:
        """Raise SourceError when the folder is a Maildir (it, or a folder right in it, holds cur/ and new/), or
        the cur/, new/ or tmp/ of one, and holds no mbox file: read as mbox folders, they hold nothing. A
        folder of mbox files beside a Maildir stays an mbox source."""
        inside = self.path.name in ("cur", "new", "tmp") and _is_maildir(self.path.parent)
        maildir = self.path.parent if inside else _maildir_at_or_in(self.path)
        if maildir is None or (not inside and _holds_mbox_file(self.path)):
            return
        if inside:
            raise SourceError(f"is the {self.path.name}/ folder inside a Maildir, not mbox files", where=where,
                              fix=f'set type = "maildir" for this source, and point path at the parent folder, '
                                  f'{storable(str(maildir))}')
        holder = "it holds" if maildir == self.path else f"{storable(maildir.name)}/ in it holds"
        raise SourceError(f"is a Maildir ({holder} cur/ and new/ folders), not mbox files", where=where,
                          fix='set type = "maildir" for this source')

    def pull(self, cursor: str | None) -> Iterator[Batch]:
        """Batches of new and changed files (small ones merged); see the module docstring."""
        return coalesced(self._pieces(cursor), BATCH_MESSAGES)

    def _pieces(self, cursor: str | None) -> Iterator[Batch]:
        """One batch per file (or chunk of a grown file), each with the cursor valid after it."""
        self.check()
        files = self._files(_is_candidate)
        known, upgrading = _read_cursor(cursor, self._root())
        self._check_not_emptied(files, len(known or {}))
        unsent = [rel for rel in files if self.path.is_dir() and is_not_mail_folder(_scope(rel))]
        for rel in unsent:
            del files[rel]
        if unsent and (known is None or known.keys() & set(unsent)):    # said on the first reading, or when it leaves
            yield Batch(notes=tuple(left_out_note(_scope(rel)) for rel in unsent), cursor=self._cursor({}) if cursor is None else cursor)
        if known is None:
            if cursor is not None:
                yield self._full_resync(files, cursor)
                return
            known = {}
            if not files:
                yield Batch(notes=self._empty_folder_notes(files, "mbox files (files that start with a \"From \" line)"),
                            cursor=self._cursor({}))
                return
        done = {rel: json.dumps(state.as_json()) for rel, state in known.items()}
        if upgrading:
            yield Batch(notes=("message ids now carry the Date: every file is read once more, and each message "
                               "is removed and added again under its new id",), cursor=self._cursor(done))
        for rel in sorted(files.keys() | known.keys()):
            if rel not in files:
                del done[rel]
                yield Batch(scopes=(_scope(rel),), cursor=self._cursor(done))
                continue
            for batch, state in self._pull_file(rel, files[rel], known.get(rel)):
                if state is not None:
                    done[rel] = json.dumps(state.as_json())
                yield Batch(messages=batch.messages, scopes=batch.scopes, notes=batch.notes,
                            cursor=self._cursor(done))

    # ------------------------------------------------------------ files

    def _root(self) -> str:
        return os.path.abspath(self.path)

    def _cursor(self, done: dict[str, str]) -> str:
        """Serialise from pre-dumped entries: cheap even with thousands of files."""
        body = ",".join(f"{json.dumps(rel)}:{text}" for rel, text in sorted(done.items()))
        return f'{{"kind":"{KIND}","v":{CURSOR_VERSION},"root":{json.dumps(self._root())},"files":{{{body}}}}}'

    def _pull_file(self, rel: str, path: Path,
                   old: FileState | None) -> Iterator[tuple[Batch, FileState | None]]:
        """Batches for one file with the file's state after each (None: leave it as it was)."""
        try:
            stat = path.stat()
            if not S_ISREG(stat.st_mode):       # opening a FIFO named *.mbox would block sync forever
                yield Batch(notes=(f"{rel}: not a regular file (a FIFO, socket or device), skipped",)), None
                return
            if old is not None and (old.size, old.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                return
            with _mapped(path) as data:
                if old is not None and old.resume >= 0 and len(data) > old.size \
                        and _tail_hash(data, old.size) == old.tail:
                    yield from self._append(rel, data, old, stat.st_mtime_ns)
                    return
                if old is None and _looks_like_mbox(data[:5]):
                    yield from self._first_reading(rel, data, stat.st_mtime_ns)
                    return
                yield self._whole(rel, data, stat.st_mtime_ns)
        except OSError as exc:
            yield Batch(notes=(f"{rel}: cannot be read ({exc.strerror or exc}), skipped",)), None

    def _first_reading(self, rel: str, data: bytes, mtime_ns: int) -> Iterator[tuple[Batch, FileState]]:
        """A file never read, in chunks as an append from its start: a Takeout mbox of 300,000 mails
        interrupted halfway keeps its first half, and memory holds one chunk at a time. A file of one chunk
        is its whole scope, as a changed file's reading is."""
        chunks = self._append(rel, data, FileState(0, 0, "", 0), mtime_ns)
        batch, state = next(chunks)
        following = next(chunks, None)
        if following is None:
            yield replace(batch, scopes=(_scope(rel),)), state
            return
        yield batch, state
        yield following
        yield from chunks

    def _whole(self, rel: str, data: bytes, mtime_ns: int) -> tuple[Batch, FileState | None]:
        """The whole file as one batch with its scope (the store sweeps what is gone)."""
        if not _looks_like_mbox(data[:5]):
            if self.path.is_file():
                raise SourceError("is not an mbox file (it does not start with a \"From \" line)",
                                  where=str(self.path), fix=FIX)
            note = f"{rel}: not an mbox file (no \"From \" line at the start), skipped"
            return Batch(notes=(note,)), FileState(len(data), mtime_ns, "", -1)
        parsed = self._parse(rel, data, 0)
        state = FileState(len(data), mtime_ns, _tail_hash(data, len(data)), parsed.resume)
        return Batch(messages=tuple(parsed.messages), scopes=(_scope(rel),), notes=tuple(parsed.notes)), state

    def _append(self, rel: str, data: bytes, old: FileState, mtime_ns: int) -> Iterator[tuple[Batch, FileState]]:
        """Only the messages after the old end, in chunks parsed one at a time, each with a cursor valid after
        it. A copy of a message in a later chunk under the same id reaches the store as an append's would."""
        start, number = old.resume, 0     # 0: numbered as the file's messages, counted if a note needs it
        while True:
            parsed = self._parse(rel, data, start, limit=BATCH_MESSAGES, number=number)
            if not parsed.more:
                state = FileState(len(data), mtime_ns, _tail_hash(data, len(data)), parsed.resume)
                yield Batch(messages=tuple(parsed.messages), notes=tuple(parsed.notes)), state
                return
            # a state as if the file ended after this chunk: the next pull resumes there
            start, number = parsed.resume, parsed.number
            yield (Batch(messages=tuple(parsed.messages), notes=tuple(parsed.notes)),
                   FileState(start, 0, _tail_hash(data, start), start))

    def _full_resync(self, files: dict[str, Path], cursor: str) -> Batch:
        """Everything in one batch with full_resync: the old cursor could not be read."""
        messages: list[MessageMeta] = []
        notes = [self._resync_note(cursor, "file")]
        done: dict[str, str] = {}
        for rel in sorted(files):
            for batch, state in self._pull_file(rel, files[rel], None):
                messages += batch.messages
                notes += batch.notes
                if state is not None:
                    done[rel] = json.dumps(state.as_json())
        return Batch(messages=tuple(messages), scopes=tuple(_scope(r) for r in sorted(files)),
                     full_resync=True, notes=tuple(notes), cursor=self._cursor(done))

    # ------------------------------------------------------------ parsing

    def _parse(self, rel: str, data: bytes, start: int, limit: int | None = None, number: int = 1) -> Parsed:
        """Header blocks of the messages from offset `start` (the first "From " line at or after it); with
        `limit`, of that many messages at most (`more` then says that others follow from `resume`). Notes
        number the messages on from `number`; 0: as in the whole file (counted only when a note needs it)."""
        scope = _scope(rel)
        labels = sent_labels(scope, self.sent_folders)
        # Resume at the start of an unfinished last line: it may be a "From " line being written.
        out = Parsed([], [], [], len(data) if data[-1:] in (b"", b"\n") else data.rfind(b"\n") + 1)
        seen: dict[str, int] = {}      # source id -> its place in out.messages
        bounds = _message_bounds(data, start)
        crlf = b"\r\n" in data[start:start + 4096]
        first = number

        def numbered(index: int) -> int:
            nonlocal first
            if not first:
                first = 1 + sum(1 for _ in takewhile(lambda bound: bound[0] < start, _message_bounds(data, 0)))
            return first + index

        for index, (begin, end) in enumerate(bounds):
            if limit is not None and len(out.messages) >= limit:
                out.resume, out.more, out.number = begin, True, first and first + index
                break
            if end == len(data) and _header_end(data, begin, end, crlf) < 0:
                out.notes.append(f"{rel}: message {numbered(index)} is cut off inside its header, skipped for now")
                out.resume = begin
                break
            fields = scan_fields(data, begin, end)        # stops at the empty line: the body is skipped
            message_id = first_id(fields.get(b"message-id"))
            source_id = (f"{scope}/{message_id}" if message_id
                         else hash_source_id(scope, data[slice(*_header_span(data, begin, end, crlf))]))
            meta = meta_from_fields(fields, source_id=source_id, scope=scope, labels=labels, message_id=message_id,
                                    fallback_date=_fallback(data, begin, end, crlf, fields), dated_id=True,
                                    arrived=partial(arrival_of, fields),
                                    arrival_clock_trusted=False)  # not the "From " line (_fallback)
            if isinstance(meta, str):
                out.notes.append(f"{rel}: message {numbered(index)} {meta}, skipped")
                continue
            first = seen.get(meta.source_id)
            if first is not None:       # a second copy under the same id: what the store makes of it after an append
                kept = out.messages[first]
                if _content(kept) != _content(meta):
                    out.messages[first] = meta      # other content (a "[list]" subject): the later copy replaces it
                elif (meta.bulk and not kept.bulk) or (meta.list_id and not kept.list_id):   # the same: merged
                    out.messages[first] = replace(kept, bulk=kept.bulk or meta.bulk, list_id=kept.list_id or meta.list_id)
                continue
            seen[meta.source_id] = len(out.messages)
            out.messages.append(meta)
            out.ends.append(end)
        return out


def _content(m: MessageMeta) -> tuple:
    """What makes two copies one message in the store (`daemon.store.content_key`)."""
    return m.sent_at, m.sender.email, sorted(a.email for a in m.to), sorted(a.email for a in m.cc), m.subject


def _fallback(data: bytes, begin: int, end: int, crlf: bool,
              fields: dict[bytes, bytes]) -> Callable[[], datetime | None]:
    """Date fallbacks, in order: the topmost Received field (when the mail arrived), then the "From " line
    (which exporters and download tools may fill with their own time, and `git format-patch` with a day in
    2001: no arrival time to hold a Date to)."""
    def date() -> datetime | None:
        return arrival_of(fields) or from_line_date(data[begin:_header_span(data, begin, end, crlf)[0]])
    return date


def _header_span(data: bytes, begin: int, end: int, crlf: bool) -> tuple[int, int]:
    """(start, end) of the header block of the message at data[begin:end], after its "From " line."""
    eol = data.find(b"\n", begin, end)
    if eol < 0:
        return end, end
    head_end = _header_end(data, eol, end, crlf)
    return eol + 1, end if head_end < 0 else head_end


# an mbox separator: "From " and the sender, then a date ("Tue Jun  8 10:52:24 2021", "Sat Jan 10 …" with
# Takeout's "+0000", "Mon, 2 Mar 2026 …"); or, after an empty line, "From " and an address alone or with a
# date no one can read. A body line "From the desk of Bob:" an mboxo writer left unescaped is none, so a
# quoted message's headers never reach the store.
_SEPARATOR = re.compile(rb"From \S+[ \t]+(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?[ \t]+)?"
                        rb"(?:(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*[ \t]+\d"
                        rb"|\d{1,2}[ \t]+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))", re.IGNORECASE)
_UNDATED_SEPARATOR = re.compile(rb"From (?:[^\s:]+@[^\s:]+|-|MAILER-DAEMON)(?:[ \t][^\r\n]*)?\r?\n")


def _is_separator(data: bytes, at: int) -> bool:
    """Whether the "From " line at `at` starts a message (see `_SEPARATOR`)."""
    if _SEPARATOR.match(data, at):
        return True
    after_empty_line = data[at - 2:at] == b"\n\n" or data[at - 3:at] == b"\n\r\n"
    return after_empty_line and bool(_UNDATED_SEPARATOR.match(data, at))


def _message_bounds(data: bytes, start: int) -> Iterator[tuple[int, int]]:
    """(begin, end) of each message from the first "From " line at or after `start`, found as they are
    asked for; a "From " line that is no separator (see `_SEPARATOR`) belongs to the message before it."""
    find = data.find
    if data[start:start + 5] == b"From " and (start == 0 or data[start - 1:start] == b"\n"):
        begin = start
    else:
        begin = _next_separator(data, start)
    while begin >= 0:
        nxt = find(b"\nFrom ", begin)
        while nxt >= 0 and not _is_separator(data, nxt + 1):
            nxt = find(b"\nFrom ", nxt + 1)
        end = nxt + 1 if nxt >= 0 else len(data)
        yield begin, end
        begin = nxt + 1 if nxt >= 0 else -1


def _next_separator(data: bytes, start: int) -> int:
    """Offset of the first separator line after `start`, or -1."""
    found = data.find(b"\nFrom ", start)
    while found >= 0 and not _is_separator(data, found + 1):
        found = data.find(b"\nFrom ", found + 1)
    return found + 1 if found >= 0 else -1


def _header_end(data: bytes, eol: int, end: int, crlf: bool) -> int:
    """Offset just past the last header line (its newline), or -1 without an empty line."""
    lf = data.find(b"\n\n", eol, end)
    if crlf:
        crlf_end = data.find(b"\n\r\n", eol, end)
        if crlf_end >= 0 and (lf < 0 or crlf_end < lf):
            lf = crlf_end
    return lf + 1 if lf >= 0 else -1


def _scope(rel: str) -> str:
    return rel[:-5] if rel.endswith(".mbox") else rel


def _looks_like_mbox(head: bytes) -> bool:
    return head == b"" or head.startswith(b"From ")


DOCUMENTS = {".txt", ".eml", ".md", ".html", ".htm", ".json", ".csv", ".tsv", ".log", ".xml"}


def _is_candidate(path: Path) -> bool:
    """`*.mbox`, or any other file whose first bytes are "From ", unless it is named as a document (a saved
    message, notes): mail clients name mbox files freely (Thunderbird's "Inbox.sbd/Lists.openbmc",
    "OpenBMC v2.11", Enron's "enron.owner.inbox"), and their index files never start with "From "."""
    if path.suffix == ".mbox":
        return True
    if path.suffix.lower() in DOCUMENTS:
        return False
    try:
        if not S_ISREG(path.stat().st_mode):
            return True             # a FIFO, socket or device: the pull notes it and never opens it
        with open(path, "rb") as f:
            return f.read(5) == b"From "
    except OSError:
        return True                 # a symlink loop, a dangling link, no permission: the pull notes it


MAILDIR_DIRS = ("cur", "new")


def _is_maildir(path: Path) -> bool:
    return all(os.path.isdir(path / d) for d in MAILDIR_DIRS)


def _maildir_at_or_in(folder: Path) -> Path | None:
    """The folder itself when it holds cur/ and new/, else the first folder right in it that does (an account
    folder as mbsync makes it: INBOX/, Sent/), else None."""
    if _is_maildir(folder):
        return folder
    try:
        with os.scandir(folder) as entries:
            inner = sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir())
    except OSError:
        return None
    return next((folder / name for name in inner if _is_maildir(folder / name)), None)


MAILDIR_LOOK = 1000      # files looked at beside a Maildir's messages before it is taken for a Maildir alone


def _holds_mbox_file(folder: Path) -> bool:
    """Whether a file below the folder is an mbox file to read (`_is_candidate`), the cur/, new/ and tmp/ of its
    Maildirs aside: their message files are not looked at, however many; nor more than MAILDIR_LOOK others
    (a mail server's index files)."""
    looked = 0
    for parent, dirs, names in os.walk(folder, onerror=lambda exc: None):
        skip = ("cur", "new", "tmp") if _is_maildir(Path(parent)) else ()
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in skip]
        for name in names:
            path = Path(parent, name)
            if not name.startswith(".") and path.is_file():
                if _is_candidate(path):
                    return True
                looked += 1
                if looked >= MAILDIR_LOOK:
                    return False
    return False


def _tail_hash(data: bytes, size: int) -> str:
    return hashlib.sha1(data[max(0, size - TAIL_BYTES):size]).hexdigest()[:16]


@contextmanager
def _mapped(path: Path) -> Iterator[bytes]:
    """The file's bytes, memory-mapped (an empty file cannot be mapped)."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            yield b""
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            yield mapped  # type: ignore[misc]


def _read_cursor(cursor: str | None, root: str) -> tuple[dict[str, FileState] | None, bool]:
    """The per-file states (None when the cursor is absent or not ours), and whether it is a v1 cursor
    being upgraded: its ids had no dates, so every file it knew is marked to be read whole once more, one
    by one, and swept (a file still marked after a crash is read on the next pull)."""
    if not cursor:
        return None, False
    try:
        data = json.loads(cursor)
        if data.get("kind") != KIND or data.get("v") not in (1, CURSOR_VERSION) or data.get("root") != root:
            return None, False
        states = {rel: FileState(*_checked(entry)) for rel, entry in data["files"].items()}
        if data["v"] == 1:
            return {rel: FileState(state.size, -1, "", -1) for rel, state in states.items()}, bool(states)
        return states, False
    except (ValueError, TypeError, AttributeError, KeyError):
        return None, False


def _checked(entry: object) -> tuple[int, int, str, int]:
    if not (isinstance(entry, list) and len(entry) == 4 and isinstance(entry[2], str)
            and all(isinstance(entry[i], int) for i in (0, 1, 3))):
        raise ValueError("bad cursor entry")
    return entry[0], entry[1], entry[2], entry[3]
