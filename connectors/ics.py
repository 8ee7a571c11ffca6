"""Read-only iCalendar connector: one .ics file or a folder tree of them.

Each file is a scope. Recurring events are expanded with recurring_ical_events
(EXDATE and RECURRENCE-ID overrides applied) over a window from the file's
earliest event (at most ten years back) to a year after `now`, lazily and at
most MAX_OCCURRENCES per event, so a rule that fires every second is cut short
with a note instead of filling memory.

Ids are not prefixed by the file: an invitation and its later update or
cancellation carry the same UID, so they are the same event, and the store
keeps the copy with the highest SEQUENCE. A single event's id is its UID; an
occurrence of a recurring event is `UID@<original start, UTC>`, so an override
lands on the occurrence it replaces.

Only metadata leaves: times, people, summary, status. DESCRIPTION, LOCATION,
alarms and attachments are never read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from stat import S_ISREG
from typing import Any

import icalendar
import recurring_ical_events

from connectors import local_cursor
from connectors.base import Address, Batch, EventMeta
from connectors.local_source import LocalSource
from daemon.errors import SourceError

KIND = "ics"
LOOK_BACK = timedelta(days=3650)
LOOK_AHEAD = timedelta(days=365)
MAX_OCCURRENCES = 5000        # per event in the window: a daily series over the whole window still fits
MAX_STEPS = 50_000            # rule starts walked per event, those before the window included
BIRTHDAY_WORDS = ("birthday", "geburtstag")
_MAILTO = re.compile(r"^mailto:", re.I)
FIX = "set path to an .ics file or a folder of them"


class IcsSource(LocalSource):
    """An .ics file or folder, read-only. `key` is "ics:<name>"."""

    KIND = KIND

    def __init__(self, name: str, path: str | os.PathLike[str], *,
                 sent_folders: Sequence[str] | None = None, now: datetime | None = None) -> None:
        super().__init__(name, path, sent_folders=sent_folders, now=now)
        self.now = (now or datetime.now(UTC)).astimezone(UTC)   # recurring events are expanded around it

    def check(self) -> None:
        """Raise SourceError unless the path is a readable file or folder."""
        where = self._check_readable(FIX)
        if not (self.path.is_file() or self.path.is_dir()):
            raise SourceError("is neither a file nor a folder", where=where, fix=FIX)

    def pull(self, cursor: str | None) -> Iterator[Batch]:
        """One batch per new, changed or vanished file; nothing for unchanged ones."""
        self.check()
        files = self._files(lambda path: path.name.lower().endswith(".ics"))
        known = local_cursor.load(cursor, KIND, os.path.abspath(self.path), "files")
        if known is None and cursor is not None:
            yield self._full_resync(files)
            return
        done = dict(known or {})
        for rel in sorted(files.keys() | done.keys()):
            if rel not in files:
                del done[rel]
                yield Batch(scopes=(rel,), cursor=self._cursor(done))
                continue
            stat, problem = _stat(rel, files[rel])
            if stat is None:
                if problem:
                    yield Batch(notes=(problem,), cursor=self._cursor(done))
                continue
            if done.get(rel, [None, None])[:2] == [stat.st_size, stat.st_mtime_ns]:
                continue
            events, notes, ok = self._read_file(rel, files[rel])
            done[rel] = [stat.st_size, stat.st_mtime_ns, int(ok)]
            yield Batch(events=tuple(events), scopes=(rel,) if ok else (), notes=tuple(notes),
                        cursor=self._cursor(done))

    # ------------------------------------------------------------ files

    def _cursor(self, done: dict[str, list[int]]) -> str:
        return local_cursor.dump(KIND, os.path.abspath(self.path), "files", done)

    def _full_resync(self, files: dict[str, Path]) -> Batch:
        """Everything in one batch with full_resync: the old cursor could not be read."""
        events: list[EventMeta] = []
        notes = ["cursor not understood (another source or an older format): re-read every file"]
        done: dict[str, list[int]] = {}
        for rel in sorted(files):
            stat, problem = _stat(rel, files[rel])
            if stat is None:
                notes += [problem] if problem else []
                continue
            found, problems, ok = self._read_file(rel, files[rel])
            events += found
            notes += problems
            done[rel] = [stat.st_size, stat.st_mtime_ns, int(ok)]
        return Batch(events=tuple(events), scopes=tuple(sorted(files)), full_resync=True,
                     notes=tuple(notes), cursor=self._cursor(done))

    def _read_file(self, rel: str, path: Path) -> tuple[list[EventMeta], list[str], bool]:
        """(events, notes, parsed). A broken file is an error as the only path, a note in a folder."""
        try:
            events, notes = read_events(path.read_bytes(), scope=rel, stem=_stem(path), now=self.now)
            return events, [f"{rel}: {n}" for n in notes], True
        except (ValueError, OSError) as exc:
            problem = (f"cannot be read ({exc.strerror or exc})" if isinstance(exc, OSError)
                       else f"cannot be read as iCalendar ({_short(exc)})")
            if self.path.is_file():
                raise SourceError(problem, where=str(path),
                                  fix="export the calendar again, or point path at a valid .ics file") from None
            return [], [f"{rel}: {problem}, skipped"], False


def _stat(rel: str, path: Path) -> tuple[os.stat_result | None, str]:
    """The file's stat, or None and a note why it is skipped unopened: reading a FIFO or a device would
    block sync forever, and a symlink loop cannot be opened at all. No note for a file that vanished
    since the listing: the next pull sweeps it."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None, ""
    except OSError as exc:
        return None, f"{rel}: cannot be read ({exc.strerror or exc}), skipped"
    if not S_ISREG(stat.st_mode):
        return None, f"{rel}: not a regular file (a FIFO, socket or device), skipped"
    return stat, ""


def read_events(data: bytes, *, scope: str, stem: str, now: datetime) -> tuple[list[EventMeta], list[str]]:
    """The events of one .ics file's bytes (CRLF or LF), expanded, each id once (highest SEQUENCE).

    Raises ValueError when the bytes are not iCalendar at all.
    """
    try:
        parsed = icalendar.Calendar.from_ical(data, multiple=True)
    except Exception as exc:  # noqa: BLE001 - icalendar raises several kinds on bad syntax
        raise ValueError(_short(exc)) from None
    calendars = [c for c in parsed if c.name == "VCALENDAR"]
    if not calendars:
        raise ValueError("no VCALENDAR in the file")
    best: dict[str, EventMeta] = {}
    notes: list[str] = []
    for calendar in calendars:
        for event in _calendar_events(calendar, scope=scope, stem=stem, now=now, notes=notes):
            old = best.get(event.source_id)
            if old is None or event.sequence > old.sequence:
                best[event.source_id] = event
    return list(best.values()), notes


def _calendar_events(calendar: icalendar.Calendar, *, scope: str, stem: str, now: datetime,
                     notes: list[str]) -> Iterator[EventMeta]:
    name = str(calendar.get("X-WR-CALNAME", "")).strip() or stem
    context = {
        "scope": scope, "calendar": name,
        "cancel": str(calendar.get("METHOD", "")).strip().upper() == "CANCEL",
        "birthdays": any(w in f"{stem} {name}".lower() for w in BIRTHDAY_WORDS),
        "recurring": {str(e.get("UID", "")) for e in calendar.walk("VEVENT")
                      if any(k in e for k in ("RRULE", "RDATE", "RECURRENCE-ID"))},
    }
    for occurrence in _occurrences(calendar, now, notes):
        try:
            yield _event(occurrence, **context)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            notes.append(f"event {_uid(occurrence)} could not be read ({_short(exc)}), skipped")


def _occurrences(calendar: icalendar.Calendar, now: datetime, notes: list[str]) -> list[Any]:
    """All VEVENT occurrences in the window; an event or series that cannot be read is noted and skipped."""
    starts = []
    for event in calendar.walk("VEVENT"):
        start = _start_of(event)
        if start is None:
            notes.append(f"event {_uid(event)} has no usable DTSTART or DTEND, skipped")
        else:
            starts.append(start)
    calendar.subcomponents = [c for c in calendar.subcomponents if c.name != "VEVENT" or _start_of(c)]
    if not starts:
        return []
    window = (max(min(starts), now - LOOK_BACK), now + LOOK_AHEAD)
    if window[0] >= window[1]:
        return []
    try:
        query = recurring_ical_events.of(calendar)
    except Exception as exc:  # noqa: BLE001 - the library raises many kinds on bad series
        notes.append(f"some events could not be expanded ({_short(exc)}), skipped")
        try:
            query = recurring_ical_events.of(calendar, skip_bad_series=True)
        except Exception as exc:  # noqa: BLE001
            notes.append(f"no event could be expanded ({_short(exc)}), skipped")
            return []
    found: list[Any] = []
    for series in query.series:
        try:
            found += _expand(series, window, notes)
        except Exception as exc:  # noqa: BLE001
            notes.append(f"event {str(series.uid)[:60]} could not be expanded ({_short(exc)}), skipped")
    return found


def _expand(series: Any, window: tuple[datetime, datetime], notes: list[str]) -> list[Any]:
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
        notes.append(f"event {str(series.uid)[:60]} repeats too often to expand in full, {kept}")
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


def _start_of(event: Any) -> datetime | None:
    """The event's DTSTART in UTC, or None when it is missing or unreadable."""
    try:
        start = event.start
        return _utc(start)[0] if isinstance(start, date) else None
    except Exception:  # noqa: BLE001 - icalendar raises several kinds on broken values
        return None


def _uid(event: Any) -> str:
    return str(event.get("UID", "?"))[:60]


def _event(occurrence: Any, *, scope: str, calendar: str, cancel: bool, birthdays: bool,
           recurring: set[str]) -> EventMeta:
    """One EventMeta from one occurrence. Raises on unreadable values."""
    start, all_day = _utc(occurrence.start)
    end = max(_utc(occurrence.end)[0], start)
    uid = str(occurrence.get("UID", "")).strip()
    if not uid:
        raise ValueError("no UID")
    source_id = uid
    if uid in recurring:
        original = occurrence.get("RECURRENCE-ID")
        source_id = f"{uid}@{_iso(_utc(original.dt)[0] if original is not None else start)}"
    return EventMeta(
        source_id=source_id, start=start, end=end,
        organizer=_address(occurrence.get("ORGANIZER")),
        attendees=_attendees(occurrence.get("ATTENDEE")),
        summary=str(occurrence.get("SUMMARY", "")).strip(),
        cancelled=cancel or "CANCELLED" in _texts(occurrence.get("STATUS")),
        all_day=all_day,
        birthday=birthdays or "BIRTHDAY" in _categories(occurrence.get("CATEGORIES")),
        calendar=calendar, scope=scope, sequence=_int(occurrence.get("SEQUENCE")))


def _utc(value: date | datetime) -> tuple[datetime, bool]:
    """(aware UTC datetime, all-day?): a date is midnight UTC; a floating time is taken as UTC."""
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC), True
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC), False
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
    out: dict[str, tuple[Address, str]] = {}
    for item in value if isinstance(value, list) else [value] if value is not None else []:
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


def _int(value: Any) -> int:
    try:
        return int(str(value)) if value is not None else 0
    except ValueError:
        return 0


def _stem(path: Path) -> str:
    return path.name[:-4] if path.name.lower().endswith(".ics") else path.name


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
