"""Read-only CalDAV connector: the events of a CalDAV account's calendars (Fastmail, iCloud, Nextcloud,
mailbox.org, Radicale, …), for people whose calendar is neither Google's nor Microsoft's.

Only reads: PROPFIND to find the calendars, REPORT (sync-collection, calendar-multiget) to read them. Nothing
in this module can create, change or delete anything on the server. Each calendar object (one UID: an event,
or a series with its overrides) is turned into events by ics.py, as an .ics file of its own would be, so
recurring events are expanded the same way and only times, people, title and status are kept.

Which calendars: those named in `calendars` (display names or URLs); by default ("primary") every calendar
of the account.

A sync, calendar by calendar, with a cursor that holds each calendar's sync token and the (hashed) hrefs of
the objects read:
1. With a sync token (RFC 6578), the server lists what changed and what went since; without one (the first
   sync, a token the server no longer knows, or a server that offers none, for which the caldav library
   compares ETags under a "fake-" token), every object is listed, and those held before but no longer
   listed are gone.
2. Changed objects are fetched with calendar-multiget, FETCH at a time, one Batch each. Every object is its
   own scope, so a Batch holding an object sweeps the occurrences it no longer has, and one naming a gone
   object's scope removes all of it. The server's copy is the truth: an object's events are rewritten even
   when their SEQUENCE went down.
3. Only the Batch that ends a calendar moves its token; after a crash the same changes are read again.
Recurring events are expanded to a year ahead; a calendar is read whole again once that horizon is less than
RENEW away, so a weekly meeting never runs out of occurrences. Floating times are read in the user's zone; the
cursor records it, and every calendar is read again once when it changes (a cursor without one: UTC).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

import caldav
from caldav.elements import dav
from caldav.lib import error

from connectors.base import STALE, Batch, EventMeta
from connectors.caldav_session import account_calendars, caldav_errors, connect, reason, status_of
from connectors.ics import LOOK_AHEAD, events_of, zone_changed, zone_name, zone_note
from connectors.passwords import read_password, source_key
from daemon.config import Config, SourceConfig
from daemon.errors import SourceError

CURSOR_VERSION = 1
FETCH = 100                     # objects per calendar-multiget REPORT, and per Batch
SCOPES_PER_BATCH = 500          # the store sweeps with `scope IN (...)`: stay far below SQLite's variable limit
RENEW = timedelta(days=180)     # read a calendar whole again when its expansion ends sooner than this
EVERY_CALENDAR = ("primary",)   # the default of `calendars`: Google's word, here every calendar of the account
RESYNC_NOTE = ("the account's url or login changed, or Kith's record of where it stopped is from an older "
               "version: every calendar is read again (nothing is counted twice)")


@dataclass
class CalendarState:
    """What the cursor knows of one calendar."""

    path: str                               # the calendar's URL path, as the server lists it
    name: str
    token: str | None = None                # sync token after the last complete pass
    until: str = ""                         # ISO date up to which recurring events were expanded
    hrefs: set[str] = field(default_factory=set)    # hashes of the objects' hrefs read


@dataclass
class CaldavCursor:
    account: str
    calendars: dict[str, CalendarState] = field(default_factory=dict)     # calendar key -> state
    resync: bool = False        # a pass over every calendar is under way: what it has not read yet is STALE
    zone: str | None = None     # the zone floating times were read in; None: UTC (older versions)

    def dump(self) -> str:
        calendars = {key: {"path": c.path, "name": c.name, "token": c.token, "until": c.until,
                           "hrefs": sorted(c.hrefs)} for key, c in sorted(self.calendars.items())}
        return json.dumps({"v": CURSOR_VERSION, "account": self.account, "resync": self.resync, "zone": self.zone,
                           "calendars": calendars}, separators=(",", ":"))

    @classmethod
    def parse(cls, text: str | None, account: str) -> CaldavCursor | None:
        """The cursor, or None when there is none, or it is of another account or format."""
        try:
            data = json.loads(text or "")
            if data["v"] != CURSOR_VERSION or data["account"] != account:
                return None
            calendars = {key: CalendarState(c["path"], c["name"], c["token"], c["until"], set(c["hrefs"]))
                         for key, c in data["calendars"].items()}
            if not all(isinstance(c.path, str) and isinstance(c.name, str) and isinstance(c.until, str)
                       and isinstance(c.token, (str, type(None))) and all(isinstance(h, str) for h in c.hrefs)
                       for c in calendars.values()) or not isinstance(data.get("resync", False), bool) \
                    or not isinstance(data.get("zone"), (str, type(None))):
                return None
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        return cls(account, calendars, data.get("resync", False), data.get("zone"))


@dataclass(frozen=True)
class _Calendar:
    key: str                    # short hash of the path: the prefix of its events' ids and scopes
    path: str
    name: str
    remote: caldav.Calendar


class CaldavSource:
    """One CalDAV account, read-only. `key` is "caldav:<source name>"."""

    def __init__(self, source: SourceConfig, config: Config, *, now: datetime | None = None,
                 fetch: int = FETCH, features: dict | None = None) -> None:
        self.source, self.config = source, config
        self.key = source_key(source)
        self.account = f"{source.username}@{source.url.strip()}"
        self.now = (now or datetime.now(UTC)).astimezone(UTC)     # recurring events are expanded around it
        self.fetch = fetch
        self.features = features        # the caldav library's hints about a server (tests: one without sync tokens)

    def check(self) -> None:
        """SourceError unless the password can be had (without connecting: the sync says what the server does)."""
        read_password(self.source, self.config)

    def pull(self, cursor: str | None) -> Iterator[Batch]:
        """Changes since the cursor, calendar by calendar; every calendar when there is none or it is not
        this account's."""
        password = read_password(self.source, self.config)
        with caldav_errors(self.source):
            client = connect(self.source, self.config, password, features=self.features)
            calendars = self._calendars(account_calendars(self.source, client))
            state, zone = CaldavCursor.parse(cursor, self.account), self.config.zone
            note = RESYNC_NOTE
            if state is not None and zone_changed(state.zone, zone):    # floating times moved, and their ids
                note, state = zone_note(state.zone, zone, "calendar"), None
            if state is None and cursor is not None:
                # what is stored stays (marked) until every calendar was read again; the cursor says so until
                # then, so that an interrupted pass goes on and still ends with the sweep
                state = CaldavCursor(self.account, resync=True, zone=zone_name(zone))
                yield Batch(all_stale=True, notes=(note,), cursor=state.dump())
            state = state or CaldavCursor(self.account, zone=zone_name(zone))
            yield from self._gone_calendars(calendars, state)
            for calendar in calendars:
                try:
                    yield from self._sync(calendar, state)
                except (error.AuthorizationError, error.NotFoundError) as exc:
                    if status_of(exc) == 401:
                        raise
                    yield Batch(notes=(f"calendar {calendar.name!r}: the server refused to read it ({reason(exc)}); "
                                       "what Kith holds of it is kept",), cursor=state.dump())
            if state.resync:
                state.resync = False
                yield Batch(scopes=(STALE,), cursor=state.dump())

    # ------------------------------------------------------------ calendars

    def _calendars(self, listed: list[caldav.Calendar]) -> list[_Calendar]:
        """The calendars to read: every one, or those `calendars` names (SourceError for a name not found)."""
        found = []
        for remote in listed:
            path = _path(remote.url)
            name = str(remote.get_display_name() or "").strip() or path.rstrip("/").rsplit("/", 1)[-1]
            found.append(_Calendar(calendar_key(path), path, name, remote))
        wanted = [name.strip() for name in self.source.calendars if name.strip()]
        if not wanted or tuple(wanted) == EVERY_CALENDAR:
            return found
        chosen = []
        for name in dict.fromkeys(wanted):
            match = [c for c in found if name.casefold() == c.name.casefold()
                     or _path(name).rstrip("/") == c.path.rstrip("/")]
            if not match:
                names = ", ".join(sorted(c.name for c in found)) or "none"
                raise SourceError(f"the account has no calendar named {name!r} (it has: {names})", where=self.key,
                                  fix="write calendars as the names listed, or remove calendars to read every one")
            chosen += [c for c in match if c not in chosen]
        return chosen

    def _gone_calendars(self, calendars: list[_Calendar], state: CaldavCursor) -> Iterator[Batch]:
        """The events of calendars read before and no longer there (or no longer chosen) are removed."""
        if not calendars and any(c.hrefs for c in state.calendars.values()):
            raise SourceError("the server lists no calendars now (a fault on its side?); nothing is removed "
                              "meanwhile", where=self.key, fix="the next sync tries again; if this stays, check url")
        listed = {c.key for c in calendars}
        for key in sorted(set(state.calendars) - listed):
            gone = state.calendars[key]
            note = f"calendar {gone.name!r}: no longer on the server (or no longer read): its events are removed"
            yield from _sweep(key, gone, set(gone.hrefs), state, [note], lambda: state.calendars.pop(key))

    # ------------------------------------------------------------ one calendar

    def _sync(self, calendar: _Calendar, state: CaldavCursor) -> Iterator[Batch]:
        held = state.calendars.get(calendar.key)
        if held is None:
            held = state.calendars[calendar.key] = CalendarState(calendar.path, calendar.name)
        # every event carries its calendar's name: a new one has all read again (the cursor learns it at the end)
        renamed = held.name != calendar.name
        listing, whole, notes = self._listing(calendar, held, renamed)
        if listing.sync_token == held.token and not listing.objects and not renamed:
            return                                      # nothing changed
        deleted = {_path(url) for url in listing.deleted_urls}
        changed: dict[str, caldav.CalendarObjectResource] = {}
        for obj in listing.objects:
            path = _path(obj.url)
            if path not in deleted and path != calendar.path:
                changed[path] = obj
        gone = {_hash(path) for path in deleted}
        if whole and not getattr(listing, "truncated", False):      # a listing cut short proves no deletion
            gone |= held.hrefs - {_hash(path) for path in changed}
        paths = sorted(changed)
        for first in range(0, len(paths), self.fetch):
            chunk = paths[first:first + self.fetch]
            batch, missing = self._read(calendar, held, {path: changed[path] for path in chunk})
            gone |= missing
            yield dataclasses.replace(batch, notes=tuple(notes) + batch.notes, cursor=state.dump())
            notes = []

        def done() -> None:        # the calendar is read: the cursor learns its token, name and horizon
            held.token, held.name = listing.sync_token, calendar.name
            if whole:
                held.until = (self.now + LOOK_AHEAD).date().isoformat()
        yield from _sweep(calendar.key, held, gone, state, notes, done)

    def _listing(self, calendar: _Calendar, held: CalendarState,
                 whole: bool) -> tuple[caldav.SynchronizableCalendarObjectCollection, bool, list[str]]:
        """(what changed since the token, or every object; whether it is every object; notes). `whole`: every
        object is wanted."""
        due = whole or not held.until or held.until < (self.now + RENEW).date().isoformat()
        if held.token and not held.token.startswith("fake-") and not due:
            try:
                return calendar.remote.get_objects_by_sync_token(held.token, load_objects=False,
                                                                 disable_fallback=True), False, []
            except (error.ReportError, error.DAVError) as exc:
                if not _expired_token(exc):
                    raise
                return self._full_listing(calendar), True, [
                    f"calendar {calendar.name!r}: the server no longer knows the sync token: read again"]
        if held.token and held.token.startswith("fake-") and not due:
            # a server without sync tokens: the library lists everything, or nothing when no ETag changed
            listing = calendar.remote.get_objects_by_sync_token(held.token, load_objects=False)
            return listing, True, []
        return self._full_listing(calendar), True, []

    def _full_listing(self, calendar: _Calendar) -> caldav.SynchronizableCalendarObjectCollection:
        return calendar.remote.get_objects_by_sync_token(None, load_objects=False)

    def _read(self, calendar: _Calendar, held: CalendarState,
              objects: dict[str, caldav.CalendarObjectResource]) -> tuple[Batch, set[str]]:
        """One Batch of the events these objects hold, and the hashes of those the server no longer has."""
        data = {path: obj.get_data() for path, obj in objects.items()}
        wanted = [objects[path].url for path, text in data.items() if not text]
        if wanted:
            for obj in calendar.remote.multiget(wanted):
                data[_path(obj.url)] = obj.get_data()
        for path in [path for path, text in data.items() if not text]:
            # one the multiget answer did not name as asked (an href with a literal %-escape comes back decoded
            # twice): fetched alone before it counts as gone (hunt 22)
            try:
                objects[path].load()
                data[path] = objects[path].get_data()
            except error.NotFoundError:
                pass
        events: list[EventMeta] = []
        scopes: list[str] = []
        notes: list[str] = []
        missing: set[str] = set()
        for path in sorted(objects):
            href = _hash(path)
            text = data.get(path)
            if not text:                            # deleted since it was listed
                missing.add(href)
                continue
            held.hrefs.add(href)
            found: list[str] = []
            try:
                read = events_of(text.encode("utf-8"), rel=path, calendar=calendar.name, now=self.now,
                                 zone=self.config.zone, notes=found)
            except ValueError as exc:       # kept as it was until the server holds a readable copy
                notes.append(f"calendar {calendar.name!r}: {path.rsplit('/', 1)[-1]} is not iCalendar ({exc}), "
                             "skipped")
                continue
            notes += [f"calendar {calendar.name!r}: {note}" for note in found]
            scope = _scope(calendar.key, href)
            scopes.append(scope)
            events += [dataclasses.replace(e, source_id=f"{calendar.key}/{e.source_id}", scope=scope,
                                           calendar=calendar.name) for e in read]
        # the server's copy is the truth: deleted and written again, past the store's SEQUENCE guard
        return Batch(events=tuple(events), deleted=tuple(e.source_id for e in events), scopes=tuple(scopes),
                     notes=tuple(notes)), missing


def _sweep(key: str, held: CalendarState, gone: set[str], state: CaldavCursor, notes: list[str],
           done: Callable[[], object]) -> Iterator[Batch]:
    """Batches removing the `gone` objects' events, SCOPES_PER_BATCH at a time (at least one batch, which ends
    the calendar's pass). Each takes its hrefs out of the cursor as it is applied, so an interrupted sweep goes
    on from what is left; `done` updates the cursor with the last."""
    hrefs = sorted(gone)
    for first in range(0, max(len(hrefs), 1), SCOPES_PER_BATCH):
        chunk = hrefs[first:first + SCOPES_PER_BATCH]
        held.hrefs.difference_update(chunk)
        if first + SCOPES_PER_BATCH >= len(hrefs):
            done()
        yield Batch(scopes=tuple(_scope(key, href) for href in chunk), notes=tuple(notes), cursor=state.dump())
        notes = []


def _expired_token(exc: Exception) -> bool:
    """A sync token the server no longer knows (RFC 6578 3.2: 403 with DAV:valid-sync-token; some servers
    answer a bare 403, 409 or 412), or a sync-collection REPORT it refuses: read the calendar whole once. A
    refused login, a busy or failing server (429, 5xx) is no reason to: the sync fails and is tried again."""
    preconditions = getattr(exc, "preconditions", None) or []
    if dav.ValidSyncToken.tag in preconditions or dav.SupportedReport.tag in preconditions:
        return True
    return status_of(exc) in (400, 403, 409, 412, 415, 501)


def _path(url: object) -> str:
    """A URL's path, percent-decoded: servers spell one href differently in different answers."""
    return unquote(urlsplit(str(url)).path)


def calendar_key(path: str) -> str:
    """A calendar's short name in its events' ids and scopes: a hash of its path."""
    return _hash(path, 12)


def _hash(text: str, length: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _scope(calendar_key: str, href: str) -> str:
    return f"{calendar_key}/{href}"
