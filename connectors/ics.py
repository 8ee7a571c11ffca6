"""Read-only iCalendar connector: one .ics file or a folder tree of them.

The folder is read as one calendar. An invitation, its updates and its cancellations arrive as separate
files that share a UID, so events are computed per UID from every file that holds it:

- the version of the event (the VEVENT without RECURRENCE-ID) with the highest SEQUENCE, in any file, is
  the truth for the whole series (ties: the later DTSTAMP, then a cancellation, then the later file);
  the occurrences older versions produced and the newer one does not are gone, so a series moved to a new
  rule, or a single invitation later turned into a series, is stored once, as its newest version says;
- an override (RECURRENCE-ID) counts when it is the highest SEQUENCE for its occurrence and is not older
  than that version, or comes from the same file, or still names one of its occurrences;
- a cancellation of the whole series (METHOD:CANCEL or STATUS:CANCELLED on that version) cancels every
  occurrence of the UID, those only older versions or overrides produced included.

A single event's id is its UID; an occurrence of a recurring event is `UID@<original start, UTC>`, so an
override lands on the occurrence it replaces, and so does a cancellation of a series dated on one occurrence
without a rule. Recurring events are expanded with recurring_ical_events (EXDATE and overrides applied) over a
window from the event's earliest start (at most ten years back) to a year after `now`, lazily and at most
MAX_OCCURRENCES per event, so a rule that fires every second is cut short with a note instead of filling
memory. A single event is kept whatever its date.

The scope of an event is its UID (as `uid:<hash>`), not a file: when files change, every UID they held or
hold is computed again from all the files that hold it, and the batch sweeps exactly those UIDs. The
cursor remembers each file's size, mtime and the UIDs (hashed) with their highest SEQUENCE, so a pull
reads only the changed files and the files that share a UID with them. The store never lets a lower
SEQUENCE overwrite a higher one; when a file that held the highest version goes away, the ids computed
again are also listed in `deleted` (the store deletes before it upserts), so the older truth can return.
An event's `sequence` is the SEQUENCE of the version it is computed from (an override's, if higher).

Only metadata leaves: times, people, summary, status. DESCRIPTION, LOCATION, alarms and attachments are
never read; rooms and equipment among the attendees (CUTYPE=ROOM or RESOURCE) are not people and are left
out. One event that cannot be held (a date past 9999, a broken value) is skipped with a note naming its file
and UID; the rest of the file is kept.

A floating time (no TZID, no Z) is wall-clock time wherever the reader is (RFC 5545 3.3.5): it is read in the
user's zone (`[user] timezone`, passed in as `zone`), so a weekly 09:00 stays at 09:00 across DST. So is a time
in a zone nobody defines, with a note. An all-day date stays midnight UTC of the date written. The cursor
records the zone; when it changes (or a cursor from before it was recorded, read as UTC, meets another zone),
every file is read again once, and the times and ids moved by it replace the old ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from stat import S_ISREG
from typing import Any

import icalendar
import recurring_ical_events

from connectors.base import Address, Batch, EventMeta
from connectors.local_source import LocalSource, storable
from daemon.errors import SourceError

KIND = "ics"
CURSOR_VERSION = 2
LOOK_BACK = timedelta(days=3650)
LOOK_AHEAD = timedelta(days=365)
MAX_OCCURRENCES = 5000        # per event in the window: a daily series over the whole window still fits
MAX_STEPS = 50_000            # rule starts walked per event, those before the window included
SCOPES_PER_BATCH = 500        # the store sweeps with `scope IN (...)`: stay far below SQLite's variable limit
BIRTHDAY_WORDS = ("birthday", "geburtstag")
_MAILTO = re.compile(r"^mailto:", re.I)
_FOLD = re.compile(rb"(\r?\n)+[ \t]")     # RFC 5545 3.1, as icalendar unfolds: a line break and one blank
NOT_PEOPLE = {"ROOM", "RESOURCE"}           # ATTENDEE CUTYPEs that are rooms and equipment, not people
SEQUENCE_RANGE = (-2**31, 2**31 - 1)        # RFC 5545 3.3.8 INTEGER; SQLite holds it, and nothing beyond 2**63
# what one event's broken or out-of-range values raise, from icalendar and from datetime arithmetic
# (an all-day event on 9999-12-31 has no next day to end on)
BAD_VALUE = (ValueError, TypeError, AttributeError, KeyError, OverflowError)
FIX = "set path to an .ics file or a folder of them"

FileState = list[Any]         # [size, mtime_ns, parsed (0/1), {uid hash: highest SEQUENCE}]


class IcsSource(LocalSource):
    """An .ics file or folder, read-only. `key` is "ics:<name>"."""

    KIND = KIND

    def __init__(self, name: str, path: str | os.PathLike[str], *, sent_folders: Sequence[str] | None = None,
                 now: datetime | None = None, zone: tzinfo = UTC) -> None:
        super().__init__(name, path, sent_folders=sent_folders, now=now)
        self.now = (now or datetime.now(UTC)).astimezone(UTC)   # recurring events are expanded around it
        self.zone = zone                                        # the user's: floating times are read in it

    def check(self) -> None:
        """Raise SourceError unless the path is a readable file or folder."""
        where = self._check_readable(FIX)
        if not (self.path.is_file() or self.path.is_dir()):
            raise SourceError("is neither a file nor a folder", where=where, fix=FIX)

    def pull(self, cursor: str | None) -> Iterator[Batch]:
        """Everything in one full_resync batch without a usable cursor; else the UIDs that new, changed or
        vanished files hold or held, computed again from every file that holds them; nothing when no file
        changed."""
        self.check()
        files = self._files(lambda path: path.name.lower().endswith(".ics"))
        known = _load_cursor(cursor, self._root())
        self._check_not_emptied(files, len(known or {}))
        before = _cursor_zone(cursor) if known is not None else None
        if known is None:
            yield self._everything(files, old_cursor=cursor)
        elif zone_changed(before, self.zone):
            yield self._everything(files, old_cursor=cursor, note=zone_note(before, self.zone, "file"))
        else:
            yield from self._changes(files, known, cursor or "")

    # ------------------------------------------------------------ files

    def _root(self) -> str:
        return os.path.abspath(self.path)

    def _everything(self, files: dict[str, Path], *, old_cursor: str | None, note: str = "") -> Batch:
        """Every file read, every UID computed, in one batch with full_resync. After a cursor that could not
        be used (`old_cursor`; `note` says why when it was readable), every id is also in `deleted`: what the
        store holds came from an unknown state, perhaps with a higher SEQUENCE than the truth now (the store
        counts them as read again)."""
        notes = [note or self._resync_note(old_cursor, "file")] if old_cursor is not None \
            else list(self._empty_folder_notes(files, ".ics files"))
        order = {rel: i for i, rel in enumerate(sorted(files))}
        state: dict[str, FileState] = {}
        groups: dict[str, list[_Part]] = defaultdict(list)
        for rel in sorted(files):
            stat, problem = _stat(rel, files[rel])
            if stat is None:
                notes += [problem] if problem else []
                continue
            parts, problems, ok = self._read_file(rel, files[rel], order[rel])
            notes += problems
            state[rel] = [stat.st_size, stat.st_mtime_ns, int(ok), _uid_sequences(parts)]
            for part in parts:
                groups[part.key].append(part)
        events = _resolve_groups(groups, self.now, notes)
        deleted = tuple(e.source_id for e in events) if old_cursor is not None else ()
        return Batch(events=tuple(events), deleted=deleted, full_resync=True, notes=tuple(notes),
                     cursor=_dump_cursor(self._root(), state, self.zone))

    def _changes(self, files: dict[str, Path], known: dict[str, FileState], old_cursor: str) -> Iterator[Batch]:
        state = {rel: list(entry) for rel, entry in known.items()}
        order = {rel: i for i, rel in enumerate(sorted(files))}
        notes: list[str] = []
        affected: set[str] = set()
        frozen: set[str] = set()      # UIDs a file held that cannot be read now: their rows are left alone
        groups: dict[str, list[_Part]] = defaultdict(list)
        read: set[str] = set()
        for rel in sorted(files.keys() | known.keys()):
            old = known.get(rel)
            if rel not in files:                                     # vanished: what it held is computed again
                del state[rel]
                affected |= old[3].keys()
                continue
            stat, problem = _stat(rel, files[rel])
            if stat is None:
                notes += [problem] if problem else []
                frozen |= old[3].keys() if old else set()
                continue
            if old is not None and old[:2] == [stat.st_size, stat.st_mtime_ns]:
                continue
            parts, problems, ok = self._read_file(rel, files[rel], order[rel])
            notes += problems
            if ok:
                state[rel] = [stat.st_size, stat.st_mtime_ns, 1, _uid_sequences(parts)]
                affected |= state[rel][3].keys() | (old[3].keys() if old else set())
                read.add(rel)
                for part in parts:
                    groups[part.key].append(part)
            else:   # a broken file keeps what it held: its UIDs are left alone until it can be read again
                state[rel] = [stat.st_size, stat.st_mtime_ns, 0, old[3] if old else {}]
        # the unchanged files that share a UID with the changed ones
        for rel in sorted(state):
            entry = state[rel]
            if rel in read or not entry[2] or not affected & entry[3].keys():
                continue
            stat, _ = _stat(rel, files[rel])
            parts, problems, ok = self._read_file(rel, files[rel], order[rel]) if stat else ([], [], False)
            notes += problems
            if not ok:
                frozen |= entry[3].keys()
                continue
            for part in parts:
                if part.key in affected:
                    groups[part.key].append(part)
        affected -= frozen | {key for entry in state.values() if not entry[2] for key in entry[3]}
        new_cursor = _dump_cursor(self._root(), state, self.zone)
        if not affected:
            if notes or state != known:
                yield Batch(notes=tuple(notes), cursor=new_cursor)
            return
        ordered = sorted(affected)
        highest = _highest_sequences(known)
        for first in range(0, len(ordered), SCOPES_PER_BATCH):
            keys = ordered[first:first + SCOPES_PER_BATCH]
            events = _resolve_groups({key: groups.get(key, []) for key in keys}, self.now, notes)
            deleted = tuple(e.source_id for e in events if e.sequence < highest.get(_key_of_scope(e.scope), -1))
            last = first + SCOPES_PER_BATCH >= len(ordered)
            # only the last batch moves the cursor: after a crash the whole change is computed again
            yield Batch(events=tuple(events), deleted=deleted, scopes=tuple(_SCOPE + key for key in keys),
                        notes=tuple(notes), cursor=new_cursor if last else old_cursor)
            notes = []

    def _read_file(self, rel: str, path: Path, order: int) -> tuple[list[_Part], list[str], bool]:
        """(parts, notes, parsed). A broken file is an error as the only path, a note in a folder."""
        try:
            parts, notes = read_parts(path.read_bytes(), rel=rel, stem=_stem(path), zone=self.zone, order=order)
            return parts, [f"{rel}: {n}" for n in notes], True
        except (ValueError, OSError) as exc:
            problem = (f"cannot be read ({exc.strerror or exc})" if isinstance(exc, OSError)
                       else f"cannot be read as iCalendar ({_short(exc)})")
            if self.path.is_file():
                raise SourceError(problem, where=storable(str(path)),
                                  fix="export the calendar again, or point path at a valid .ics file") from None
            return [], [f"{rel}: {problem}, skipped"], False


# ------------------------------------------------------------ cursor

def _dump_cursor(root: str, state: dict[str, FileState], zone: tzinfo) -> str:
    return json.dumps({"kind": KIND, "v": CURSOR_VERSION, "root": root, "zone": zone_name(zone),
                       "files": dict(sorted(state.items()))}, separators=(",", ":"))


def _cursor_zone(cursor: str | None) -> str | None:
    """The zone a readable cursor records; None when it records none (older versions, which read floating
    times as UTC)."""
    return json.loads(cursor or "{}").get("zone")


def zone_name(zone: tzinfo) -> str:
    """The IANA name of the user's zone (datetime's UTC is "UTC" too)."""
    return str(getattr(zone, "key", None) or zone)


def zone_changed(before: str | None, zone: tzinfo) -> bool:
    """Whether floating times were read in another zone than `zone` (`before` None: in UTC, by an older
    version)."""
    return (before or "UTC") != zone_name(zone)


def zone_note(before: str | None, zone: tzinfo, what: str) -> str:
    """Why every {what} is read again when the zone floating times are read in changed (see zone_changed)."""
    if before is None:
        return (f"times written without a zone are now read in your time zone, {zone_name(zone)} (older versions "
                f"read them as UTC): every {what} is read again")
    return (f"your time zone is now {zone_name(zone)} (was {before[:60]}): every {what} is read again, for the "
            "times written without a zone")


def _load_cursor(cursor: str | None, root: str) -> dict[str, FileState] | None:
    """The per-file states, or None when the cursor is absent, damaged, of another source or path, or of
    the older per-file format (whose rows the store holds per file: they are all read again)."""
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
        if data.get("kind") != KIND or data.get("v") != CURSOR_VERSION or data.get("root") != root \
                or not isinstance(data.get("zone", ""), str):
            return None
        files = data["files"]
        for entry in files.values():
            if not (isinstance(entry, list) and len(entry) == 4 and all(type(x) is int for x in entry[:3])
                    and isinstance(entry[3], dict) and all(type(s) is int for s in entry[3].values())):
                return None
        return {rel: list(entry) for rel, entry in files.items()}
    except (ValueError, TypeError, AttributeError, KeyError):
        return None


def _highest_sequences(state: dict[str, FileState]) -> dict[str, int]:
    """Per UID hash, the highest SEQUENCE any file held: no stored row of that UID has a higher one."""
    highest: dict[str, int] = {}
    for entry in state.values():
        for key, sequence in entry[3].items():
            highest[key] = max(sequence, highest.get(key, sequence))
    return highest


_SCOPE = "uid:"


def _uid_key(uid: str) -> str:
    return hashlib.blake2b(uid.encode("utf-8", "replace"), digest_size=8).hexdigest()


def _key_of_scope(scope: str) -> str:
    return scope[len(_SCOPE):]


def _uid_sequences(parts: Iterable[_Part]) -> dict[str, int]:
    found: dict[str, int] = {}
    for part in parts:
        found[part.key] = max(part.sequence, found.get(part.key, part.sequence))
    return dict(sorted(found.items()))


def _stat(rel: str, path: Path) -> tuple[os.stat_result | None, str]:
    """The file's stat, or None and a note why it is skipped unopened: reading a FIFO or a device would
    block sync forever, and a symlink loop or a dangling link cannot be opened at all. No note for a file
    that vanished since the listing: the next pull sweeps it."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            return None, f"{rel}: a link to a file that does not exist, skipped"
        return None, ""
    except OSError as exc:
        return None, f"{rel}: cannot be read ({exc.strerror or exc}), skipped"
    if not S_ISREG(stat.st_mode):
        return None, f"{rel}: not a regular file (a FIFO, socket or device), skipped"
    return stat, ""


# ------------------------------------------------------------ parts: the VEVENTs of the files

_EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(slots=True, eq=False)
class _Part:
    """One VEVENT of one file, with what its file says about it."""

    uid: str
    key: str                    # hash of the UID: the cursor's and the scope's name for it
    component: Any
    rel: str
    order: tuple[int, int]      # (file, position in the file): the later one wins a tie
    calendar: str
    birthdays: bool
    cancelled: bool             # METHOD:CANCEL in its file, or STATUS:CANCELLED
    sequence: int
    stamp: datetime
    start: datetime             # UTC
    recurrence_id: datetime | None   # UTC original start, for an override
    recurring: bool             # RRULE or RDATE
    zone: tzinfo                # the user's: its floating times are read in it

    def rank(self) -> tuple[int, datetime, bool, tuple[int, int]]:
        return (self.sequence, self.stamp, self.cancelled, self.order)


def read_parts(data: bytes, *, rel: str, stem: str, zone: tzinfo, order: int = 0) -> tuple[list[_Part], list[str]]:
    """The VEVENTs of one .ics file's bytes (CRLF or LF); an unreadable one is noted and skipped. Floating
    times are read in `zone`.

    Raises ValueError when the bytes are not iCalendar at all.
    """
    parsed, notes = _parse(_text_of(data))
    calendars = [c for c in parsed if c.name == "VCALENDAR"]
    if not calendars:
        raise ValueError("no VCALENDAR in the file")
    parts: list[_Part] = []
    zones: dict[str, list[str]] = defaultdict(list)       # unknown TZID -> the UIDs that use it
    for calendar in calendars:
        name = str(calendar.get("X-WR-CALNAME", "")).strip() or stem
        cancel = str(calendar.get("METHOD", "")).strip().upper() == "CANCEL"
        birthdays = any(w in f"{stem} {name}".lower() for w in BIRTHDAY_WORDS)
        for event in calendar.walk("VEVENT"):
            start = _start_of(event, zone)
            if start is None:
                notes.append(f"event {_uid(event)} has no usable DTSTART or DTEND, skipped")
                continue
            uid = str(event.get("UID", "")).strip()
            try:
                if not uid:
                    raise ValueError("no UID")
                original = event.get("RECURRENCE-ID")
                parts.append(_Part(
                    uid=uid, key=_uid_key(uid), component=event, rel=rel, order=(order, len(parts)),
                    calendar=name, birthdays=birthdays,
                    cancelled=cancel or "CANCELLED" in _texts(event.get("STATUS")),
                    sequence=_sequence(event.get("SEQUENCE")), stamp=_stamp(event.get("DTSTAMP"), zone), start=start,
                    recurrence_id=_utc(original.dt, zone)[0] if original is not None else None,
                    recurring="RRULE" in event or "RDATE" in event, zone=zone))
            except BAD_VALUE as exc:
                notes.append(f"event {_uid(event)} could not be read ({_short(exc)}), skipped")
                continue
            for tzid in _unknown_zones(event):
                zones[tzid] += [uid[:60]] if uid[:60] not in zones[tzid] else []
    return parts, notes + [_zone_note(tzid, uids, zone) for tzid, uids in zones.items()]


def events_of(data: bytes, *, rel: str, calendar: str, now: datetime, zone: tzinfo,
              notes: list[str]) -> list[EventMeta]:
    """The events one resource holds (a CalDAV calendar object: one UID, its series and its overrides), as
    an .ics file of its own would give them (floating times in `zone`); what cannot be read is added to
    `notes`.

    Raises ValueError when the bytes are not iCalendar at all.
    """
    parts, problems = read_parts(data, rel=rel, stem=calendar, zone=zone)
    notes += problems
    groups: dict[str, list[_Part]] = defaultdict(list)
    for part in parts:
        groups[part.key].append(part)
    return _resolve_groups(groups, now, notes)


def _text_of(data: bytes) -> str:
    """The file's text, unfolded before it is decoded: a fold may split a UTF-8 character (Exchange folds
    at 75 octets), and decoding the halves apart would turn "Müller" into "M\ufffd\ufffdller". A file that
    is not UTF-8 is decoded line by line, so that one stray line does not garble the UTF-8 ones."""
    data = _FOLD.sub(b"", data.removeprefix(b"\xef\xbb\xbf"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "\n".join(_decoded(line) for line in data.split(b"\n"))


def _decoded(line: bytes) -> str:
    """One content line: UTF-8, else Windows' cp1252 (Outlook's exports), else Latin-1 where cp1252 leaves a
    byte undefined; never a replacement character."""
    for encoding in ("utf-8", "cp1252"):
        try:
            return line.decode(encoding)
        except UnicodeDecodeError:
            continue
    return line.decode("latin-1")


def _parse(text: str) -> tuple[list[Any], list[str]]:
    """icalendar's components of the text, and a note for each warning the library gave about it.

    The library reports some of what it guesses with warnings.warn, which would print two raw lines with a
    site-packages path into the user's terminal; they are caught here, around the parse only. A vendor
    prefixed TZID (/mozilla.org/20070129_1/Europe/Berlin, as libical, Lightning and Evolution write) read
    as the zone it ends in needs no note: that is what those programs mean. Deprecations are about Kith's
    code, not the file: they and other non-user warnings go back to Python's own filters (silent for users,
    shown by pytest).
    Raises ValueError when the text is not iCalendar at all.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parsed = icalendar.Calendar.from_ical(text, multiple=True)
        except Exception as exc:  # noqa: BLE001 - icalendar raises several kinds on bad syntax
            raise ValueError(_short(exc)) from None
    notes: list[str] = []
    for warning in caught:
        if _GUESSED is not None and issubclass(warning.category, _GUESSED):
            continue
        if issubclass(warning.category, UserWarning):          # what the library says about the data
            notes.append(f"the iCalendar library warns: {_short(warning.message)}")
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return parsed, notes


_GUESSED: type[Warning] | None = getattr(icalendar, "GloballyUniqueTZIDGuessed", None)
_TIMED = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE")


def _unknown_zones(event: Any) -> set[str]:
    """The TZIDs of the event's times that neither a VTIMEZONE of the file nor the library knows (Windows
    and vendor-prefixed names it maps): the library gives such a time without a zone, and Kith reads a time
    without a zone in the user's zone, which may be hours off."""
    found: set[str] = set()
    for name in _TIMED:
        values = event.get(name)
        for value in values if isinstance(values, list) else [values] if values is not None else []:
            tzid = getattr(value, "params", {}).get("TZID")
            if tzid and any(isinstance(moment, datetime) and moment.tzinfo is None for moment in _moments(value)):
                found.add(" ".join(str(tzid).split()))
    return found


def _moments(value: Any) -> list[Any]:
    """The dates and times one DTSTART, EXDATE or RDATE line holds (a period counts by its start)."""
    try:
        items = [v.dt for v in value.dts] if hasattr(value, "dts") else [value.dt]
    except BAD_VALUE:
        return []           # a broken value: the event is noted where it is read
    return [item[0] if isinstance(item, tuple) else item for item in items]


def _zone_note(tzid: str, uids: list[str], zone: tzinfo) -> str:
    who = f"event {uids[0]}" if len(uids) == 1 else \
        f"{len(uids)} events ({', '.join(uids[:3])}{', …' if len(uids) > 3 else ''})"
    read = "as UTC" if zone_name(zone) == "UTC" else f"in your time zone, {zone_name(zone)}"
    return (f"unknown time zone {tzid[:80]} and no VTIMEZONE for it: the times of {who} are read {read}, "
            "perhaps hours off")


def _stamp(value: Any, zone: tzinfo) -> datetime:
    try:
        return _utc(value.dt, zone)[0] if value is not None else _EARLIEST
    except Exception:  # noqa: BLE001 - a broken DTSTAMP only loses the tie-break
        return _EARLIEST


# ------------------------------------------------------------ events: the parts of one UID, resolved

def _resolve_groups(groups: dict[str, list[_Part]], now: datetime, notes: list[str]) -> list[EventMeta]:
    """The events of every UID in `groups` (UID hash -> its parts from all files), each id once."""
    events: dict[str, EventMeta] = {}
    for key in sorted(groups):
        by_uid: dict[str, list[_Part]] = defaultdict(list)
        for part in groups[key]:
            by_uid[part.uid].append(part)
        for uid in sorted(by_uid):
            for event in _resolve(uid, sorted(by_uid[uid], key=lambda p: p.order), now, notes):
                old = events.get(event.source_id)
                if old is None or event.sequence > old.sequence:
                    events[event.source_id] = event
    return list(events.values())


def _resolve(uid: str, parts: list[_Part], now: datetime, notes: list[str]) -> list[EventMeta]:
    """One UID's events from all its versions and overrides (see the module's docstring)."""
    masters = [p for p in parts if p.recurrence_id is None]
    winner = max(masters, key=_Part.rank) if masters else None
    best: dict[datetime, _Part] = {}
    for part in parts:
        if part.recurrence_id is not None:
            old = best.get(part.recurrence_id)
            if old is None or part.rank() > old.rank():
                best[part.recurrence_id] = part
    overrides = list(best.values())
    first = min(p.start for p in parts)
    # in the user's zone: the library compares a floating start with the window's clock time, and in UTC the
    # 09:00 first occurrence of a New York series (14:00 UTC) would fall before a window starting at 14:00
    zone = parts[0].zone
    window = (max(first, now - LOOK_BACK).astimezone(zone), (now + LOOK_AHEAD).astimezone(zone))
    where, zone = (winner or parts[0]).rel, parts[0].zone
    kept = overrides
    if winner is not None:
        kept = [o for o in overrides if o.rel == winner.rel or o.sequence >= winner.sequence]
        doubtful = [o for o in overrides if all(o is not k for k in kept)]
        if doubtful and winner.recurring:       # an older override counts while it names an occurrence
            starts = {_start_or_none(c, zone) for c in _components([winner], window, [], where, uid)}  # noted below
            kept += [o for o in doubtful if o.recurrence_id in starts]
    out: dict[str, EventMeta] = {}
    base = winner.sequence if winner is not None else 0
    if winner is not None and not winner.recurring and not kept:
        source_id = _single_id(uid, winner, parts)
        try:
            out[source_id] = _event(winner.component, source_id=source_id, part=winner, cancelled=winner.cancelled,
                                    sequence=base)      # a single event, whatever its date
        except BAD_VALUE as exc:
            notes.append(f"{where}: event {uid[:60]} could not be read ({_short(exc)}), skipped")
    else:
        by_rid = {o.recurrence_id: o for o in kept}
        for occurrence in _components(([winner] if winner else []) + kept, window, notes, where, uid):
            try:
                original = occurrence.get("RECURRENCE-ID")
                rid = _utc(original.dt, zone)[0] if original is not None else None
                part = by_rid.get(rid) if rid is not None else None
                source_id = f"{uid}@{_iso(rid or _utc(occurrence.start, zone)[0])}"
                if part is None:
                    part = winner or parts[0]
                    cancelled = part.cancelled or "CANCELLED" in _texts(occurrence.get("STATUS"))
                else:
                    cancelled = part.cancelled or bool(winner and winner.cancelled and part.sequence <= base)
                out[source_id] = _event(occurrence, source_id=source_id, part=part, cancelled=cancelled,
                                        sequence=max(part.sequence, base))
            except BAD_VALUE as exc:
                notes.append(f"{where}: event {uid[:60]} could not be read ({_short(exc)}), skipped")
    if winner is not None and winner.cancelled:
        others = [p for p in parts if p is not winner and all(p is not k for k in kept)]
        _add_cancelled_leftovers(uid, others, out, winner, window, notes)
    return list(out.values())


def _single_id(uid: str, winner: _Part, parts: list[_Part]) -> str:
    """The id of a version without a rule: the UID, unless it cancels a series (METHOD:CANCEL without RRULE
    or RECURRENCE-ID, dated on one occurrence): then it lands on that occurrence, `UID@<start>`, so that
    the occurrence keeps its id when the cancellation arrives or goes, instead of being removed and new."""
    series = any(p.recurring or p.recurrence_id is not None for p in parts)
    return f"{uid}@{_iso(winner.start)}" if winner.cancelled and series else uid


def _add_cancelled_leftovers(uid: str, others: list[_Part], out: dict[str, EventMeta], winner: _Part,
                             window: tuple[datetime, datetime], notes: list[str]) -> None:
    """A whole series is cancelled: what older versions and overrides put on the calendar is cancelled too,
    unless the newest version already holds that occurrence (by id or by start)."""
    taken = {e.start for e in out.values()} | {_original(sid) for sid in out}
    for part in sorted(others, key=_Part.rank, reverse=True):
        occurrences = (_components([part], window, notes, part.rel, uid) if part.recurring
                       else [part.component])
        for occurrence in occurrences:
            try:
                original = occurrence.get("RECURRENCE-ID")
                moment = _utc(original.dt if original is not None else occurrence.start, part.zone)[0]
                start = _utc(occurrence.start, part.zone)[0]
                source_id = f"{uid}@{_iso(moment)}"
                if source_id in out or moment in taken or start in taken:
                    continue
                out[source_id] = _event(occurrence, source_id=source_id, part=part, cancelled=True,
                                        sequence=winner.sequence)
                taken |= {moment, start}
            except BAD_VALUE:
                continue        # it was cancelled anyway


def _original(source_id: str) -> datetime | None:
    """The original start an occurrence id names, or None for a single event's id."""
    _, at, moment = source_id.rpartition("@")
    try:
        return datetime.strptime(moment, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if at else None
    except ValueError:
        return None


def _components(parts: list[_Part], window: tuple[datetime, datetime], notes: list[str], where: str,
                uid: str) -> list[Any]:
    """The occurrences of these parts of one UID in the window, expanded together."""
    if window[0] >= window[1]:
        return []
    calendar = icalendar.Calendar()
    for part in parts:
        calendar.add_component(part.component)
    try:
        query = recurring_ical_events.of(calendar)
    except Exception as exc:  # noqa: BLE001 - the library raises many kinds on bad series
        notes.append(f"{where}: event {uid[:60]} could not be expanded ({_short(exc)}), skipped")
        return []
    found: list[Any] = []
    for series in query.series:
        try:
            found += _expand(series, window, notes, where)
        except Exception as exc:  # noqa: BLE001
            notes.append(f"{where}: event {str(series.uid)[:60]} could not be expanded ({_short(exc)}), skipped")
    return found


def _expand(series: Any, window: tuple[datetime, datetime], notes: list[str], where: str) -> list[Any]:
    """One series' occurrences in the window, at most MAX_OCCURRENCES. The rules are walked lazily
    (the library lists every start in the window first), so RRULE:FREQ=SECONDLY stops at the cap
    instead of filling memory."""
    if hasattr(series.recurrence, "rrules"):
        series.recurrence.rrules = [_LazyRule(rule) for rule in series.recurrence.rrules]
    found: list[Any] = []
    try:
        for occurrence in series.between(*window):
            if len(found) == MAX_OCCURRENCES:
                raise _TooMany
            found.append(occurrence.as_component(False))
    except _TooMany:
        kept = f"kept its first {len(found)} occurrences" if found else "skipped"
        notes.append(f"{where}: event {str(series.uid)[:60]} repeats too often to expand in full, {kept}")
    return found


class _TooMany(Exception):
    """A series has more occurrences, or rule steps, than Kith expands."""


class _LazyRule:
    """A dateutil rule whose between() yields instead of building a list, and gives up after
    MAX_STEPS starts, counted from DTSTART: a rule firing every minute since long before the window
    would otherwise spin through millions of starts before the first one that is kept."""

    def __init__(self, rule: Any) -> None:
        self.rule = rule
        self.until = rule.until         # the library reads it to drop starts past UNTIL

    def between(self, after: datetime, before: datetime, inc: bool = True) -> Iterator[datetime]:
        for steps, moment in enumerate(self.rule):
            if moment > before or (moment == before and not inc):
                return
            if steps == MAX_STEPS:
                raise _TooMany
            if moment > after or (moment == after and inc):
                yield moment


def _start_or_none(occurrence: Any, zone: tzinfo) -> datetime | None:
    """An occurrence's start in UTC, or None when it cannot be one (past the last date, in UTC)."""
    try:
        return _utc(occurrence.start, zone)[0]
    except BAD_VALUE:
        return None


def _start_of(event: Any, zone: tzinfo) -> datetime | None:
    """The event's DTSTART in UTC, or None when it is missing or unreadable."""
    try:
        start = event.start
        return _utc(start, zone)[0] if isinstance(start, date) else None
    except Exception:  # noqa: BLE001 - icalendar raises several kinds on broken values
        return None


def _uid(event: Any) -> str:
    return str(event.get("UID", "?"))[:60]


def _event(occurrence: Any, *, source_id: str, part: _Part, cancelled: bool, sequence: int) -> EventMeta:
    """One EventMeta from one occurrence of a part. Raises on unreadable values."""
    start, all_day = _utc(occurrence.start, part.zone)
    end = max(_utc(occurrence.end, part.zone)[0], start)
    return EventMeta(
        source_id=source_id, start=start, end=end,
        organizer=_address(occurrence.get("ORGANIZER")),
        attendees=_attendees(occurrence.get("ATTENDEE")),
        summary=str(occurrence.get("SUMMARY", "")).strip(),
        cancelled=cancelled, all_day=all_day,
        birthday=part.birthdays or "BIRTHDAY" in _categories(occurrence.get("CATEGORIES")),
        calendar=part.calendar, scope=_SCOPE + part.key, sequence=sequence)


def _utc(value: date | datetime, zone: tzinfo) -> tuple[datetime, bool]:
    """(aware UTC datetime, all-day?): a date is midnight UTC of the date written; a floating time is
    wall-clock time in `zone`, the user's (RFC 5545 3.3.5)."""
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC), True
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=zone).astimezone(UTC), False
    return value.astimezone(UTC), False


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _address(value: Any) -> Address | None:
    """An ORGANIZER/ATTENDEE value: `mailto:` stripped, lower-cased, CN as the name."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    email = "".join(_MAILTO.sub("", str(value)).split()).lower()
    if "@" not in email.strip("@"):
        return None
    return Address(email, str(value.params.get("CN", "")).strip().strip('"') if hasattr(value, "params") else "")


def _attendees(value: Any) -> tuple[tuple[Address, str], ...]:
    """The people among the ATTENDEEs, with their PARTSTAT. Rooms and equipment (CUTYPE=ROOM or RESOURCE)
    are left out, as the Google and Graph calendars leave out resources: they are not contacts, and would
    make a one-to-one look like a meeting of three."""
    out: dict[str, tuple[Address, str]] = {}
    for item in value if isinstance(value, list) else [value] if value is not None else []:
        if str(getattr(item, "params", {}).get("CUTYPE", "")).strip().upper() in NOT_PEOPLE:
            continue
        address = _address(item)
        if address is not None and address.email not in out:
            partstat = str(getattr(item, "params", {}).get("PARTSTAT", "NEEDS-ACTION")).upper()
            out[address.email] = (address, partstat)
    return tuple(out.values())


def _texts(value: Any) -> set[str]:
    items = value if isinstance(value, list) else [value] if value is not None else []
    return {str(v).strip().upper() for v in items}


def _categories(value: Any) -> set[str]:
    items: Iterable[Any] = value if isinstance(value, list) else [value] if value is not None else []
    return {str(c).strip().upper() for item in items for c in getattr(item, "cats", [item])}


def _sequence(value: Any) -> int:
    """SEQUENCE as a number within RFC 5545's INTEGER range; 0 when it is none. A larger one (a generator
    that writes a timestamp in nanoseconds) is clamped, not dropped: it still wins over the lower ones,
    and SQLite, which holds at most 2**63 - 1, can store it."""
    try:
        number = int(str(value)) if value is not None else 0
    except ValueError:
        return 0
    return min(max(number, SEQUENCE_RANGE[0]), SEQUENCE_RANGE[1])


def _stem(path: Path) -> str:
    """The calendar's name from its file's: storable, as a name that is not UTF-8 could not be stored."""
    name = storable(path.name)
    return name[:-4] if name.lower().endswith(".ics") else name


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
