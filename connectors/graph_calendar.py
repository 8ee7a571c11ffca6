"""Outlook / Microsoft 365 calendar metadata through Microsoft Graph calendar view delta.

`/me/calendarView/delta?startDateTime=…&endDateTime=…` on the primary calendar
returns single events, occurrences of series and exceptions, each with its own
id, which becomes the record's source_id. The window is fixed in the delta
token, so the cursor keeps it with the link to fetch next (deltaLink, or
nextLink in the middle of a pass) and the connector starts a new pass when the
window's future end gets near, or when `days_back`/`days_ahead` change.

Calendar view delta cannot `$select`, so Graph sends bodies, previews and
locations: they are dropped here, and only the whitelisted fields of
`EventMeta` leave this module.

Times are asked for in UTC; a time Graph still gives in a Windows zone
("W. Europe Standard Time") is read in the IANA zone icalendar's table maps it
to, as ics.py's files are, and one in a zone neither knows is read as UTC with
a note.

A new pass (new window, expired token, unreadable cursor) marks the stored
events stale on its first page and sweeps the stale ones on its last
(`Batch.all_stale`, `STALE`): a pass interrupted after page 1, such as the
re-baseline every `days_ahead / 2` days meeting a throttled Graph, keeps every
event until a later sync finishes it. Only the very first sync, with nothing
stored yet, clears the source (`full_resync`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from connectors.base import STALE, Batch, EventMeta
from connectors.graph_client import DeltaExpired, GraphClient, is_link
from connectors.graph_mail import address_of
from connectors.microsoft_auth import READ_SCOPES, MicrosoftAuth, auth_fix
from daemon.config import Config, SourceConfig
from daemon.errors import SourceError

log = logging.getLogger(__name__)

KIND = "outlook_calendar"
SCOPE = "primary"
PAGE_SIZE = 100
PREFER = f'odata.maxpagesize={PAGE_SIZE}, outlook.timezone="UTC"'
PARTSTAT = {"accepted": "ACCEPTED", "organizer": "ACCEPTED", "declined": "DECLINED",
            "tentativelyAccepted": "TENTATIVE", "none": "NEEDS-ACTION", "notResponded": "NEEDS-ACTION"}


class OutlookCalendarSource:
    """The primary calendar of one Microsoft account, read-only. `key` is "outlook_calendar:<name>"."""

    def __init__(self, source: SourceConfig, config: Config, *, http_client: Any = None,
                 now: datetime | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.source = source
        self.key = f"{KIND}:{source.name}"
        self.now = now
        self.auth = MicrosoftAuth(source, config, http_client=http_client)
        self.graph = GraphClient(source.graph_endpoint, lambda force: self.auth.token(READ_SCOPES, force_refresh=force),
                                 session=self.auth.http, where=self.key, fix=auth_fix(source), sleep=sleep)

    def check(self) -> None:
        """Raise AuthError when `kith auth microsoft` has not been run for this source."""
        self.auth.require_account()

    def pull(self, cursor: str | None) -> Iterator[Batch]:
        """One batch per Graph page, each carrying the link to fetch next and its window."""
        self.check()
        state = _read_cursor(cursor)
        if state is None and cursor is not None:
            log.info("%s: unreadable cursor; full resync", self.key)
        if state is not None and self._stale(state):
            log.info("%s: calendar window moved; new pass", self.key)
            state = None
        state = state or self._new_state()
        starting, restarted = "link" not in state, False     # starting: this request is a new delta query
        wipe = cursor is None                                 # nothing stored yet: the first page may clear
        while True:
            try:
                page = self.graph.get(state.get("link") or self._initial(state), prefer=PREFER)
            except DeltaExpired:
                if starting or restarted:   # one restart per pull: a Graph that keeps forgetting must not loop us
                    problem = ("Graph rejected a new delta query" if starting else
                               "Graph lost its place in the calendar twice in one sync")
                    raise SourceError(problem, where=self.key, fix="try again later") from None
                log.info("%s: calendar delta token expired; full sync", self.key)
                state, starting, restarted = self._new_state(), True, True
                continue
            following = page.get("@odata.nextLink")
            state["link"] = following or page.get("@odata.deltaLink") or state.get("link", "")
            events, deleted, notes = _parse(page.get("value", []))
            yield Batch(events=events, deleted=deleted, notes=notes, cursor=json.dumps(state, sort_keys=True),
                        full_resync=starting and wipe, all_stale=starting and not wipe,
                        scopes=() if following else (STALE,))     # the pass's end sweeps what it did not see
            if not following:
                return
            starting = wipe = False

    def _now(self) -> datetime:
        return (self.now or datetime.now(UTC)).astimezone(UTC)

    def _new_state(self) -> dict[str, Any]:
        """A window from `days_back` before now to `days_ahead` after, in whole UTC days."""
        today = self._now().replace(hour=0, minute=0, second=0, microsecond=0)
        return {"kind": KIND, "v": 1, "start": _iso(today - timedelta(days=self.source.days_back)),
                "end": _iso(today + timedelta(days=self.source.days_ahead + 1)),
                "days": [self.source.days_back, self.source.days_ahead]}

    def _stale(self, state: dict[str, Any]) -> bool:
        """Re-baseline when half the future part of the window has passed, or the config changed."""
        if state.get("days") != [self.source.days_back, self.source.days_ahead]:
            return True
        end = datetime.fromisoformat(state["end"])
        return end - self._now() < timedelta(days=self.source.days_ahead / 2)

    def _initial(self, state: dict[str, Any]) -> str:
        query = urlencode({"startDateTime": state["start"], "endDateTime": state["end"]})
        return self.graph.url(f"/me/calendarView/delta?{query}")


def _parse(items: list[dict]) -> tuple[tuple[EventMeta, ...], tuple[str, ...], tuple[str, ...]]:
    """(events, deleted ids, notes) of one page."""
    events, deleted = [], []
    unknown: dict[str, int] = {}         # zone name -> events read in UTC for it
    for item in items:
        if "@removed" in item:
            deleted.append(item["id"])
        elif item.get("type") != "seriesMaster":
            meta = event_meta(item, unknown)
            if meta is not None:
                events.append(meta)
    notes = tuple(f"unknown time zone {name[:80]}: the times of {count} event{'s' if count > 1 else ''} are read "
                  "as UTC, perhaps hours off" for name, count in sorted(unknown.items()))
    return tuple(events), tuple(deleted), notes


def event_meta(item: dict, unknown: dict[str, int] | None = None) -> EventMeta | None:
    """The whitelisted record of one Graph event: no body, preview, location or join link. A zone it names
    that is not known is counted in `unknown`."""
    all_day = bool(item.get("isAllDay"))
    missing: set[str] = set()
    start, end = _when(item.get("start"), all_day, missing), _when(item.get("end"), all_day, missing)
    for name in missing if unknown is not None else ():
        unknown[name] = unknown.get(name, 0) + 1
    if start is None or end is None:
        return None
    attendees = []
    for attendee in item.get("attendees") or ():
        address = address_of(attendee)
        if address is not None and attendee.get("type") != "resource":   # rooms and equipment are not people
            response = (attendee.get("status") or {}).get("response") or "none"
            attendees.append((address, PARTSTAT.get(response, "NEEDS-ACTION")))
    return EventMeta(source_id=item["id"], start=start, end=end, organizer=address_of(item.get("organizer")),
                     attendees=tuple(attendees), summary=item.get("subject") or "",
                     cancelled=bool(item.get("isCancelled")), all_day=all_day, calendar="Calendar", scope=SCOPE,
                     online=bool(item.get("isOnlineMeeting")),
                     # a hidden guest list: each attendee's copy lists only themselves (the organizer's, all)
                     guests_hidden=bool(item.get("hideAttendees")) and not item.get("isOrganizer"))


def _when(value: Any, all_day: bool, missing: set[str]) -> datetime | None:
    """Graph's {"dateTime": "2026-03-03T09:00:00.0000000", "timeZone": "UTC"} as aware UTC; a zone name that
    is not known is read as UTC and added to `missing`."""
    if not isinstance(value, dict) or not value.get("dateTime"):
        return None
    try:
        naive = datetime.fromisoformat(value["dateTime"][:19])
    except ValueError:
        return None
    if all_day:
        return naive.replace(hour=0, minute=0, second=0, tzinfo=UTC)
    name = str(value.get("timeZone") or "UTC").strip()
    zone = _zone(name)
    if zone is None:
        missing.add(name)
    return naive.replace(tzinfo=zone or UTC).astimezone(UTC)


def _zone(name: str) -> tzinfo | None:
    """The zone an IANA or Windows name ("Pacific Standard Time") means, or None. We ask Graph for UTC, but a
    mailbox may still answer in its own zone's Windows name."""
    for candidate in (name, WINDOWS_TO_OLSON.get(name, "")):
        try:
            return ZoneInfo(candidate)
        except (ValueError, KeyError, OSError):        # not an IANA name (ZoneInfoNotFoundError is a KeyError)
            continue
    return None


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The pass state; None for no cursor or another connector's."""
    if not cursor:
        return None
    try:
        state = json.loads(cursor)
    except ValueError:
        return None
    ok = (isinstance(state, dict) and state.get("kind") == KIND and state.get("v") == 1
          and isinstance(state.get("link"), str) and is_link(state["link"])
          and all(isinstance(state.get(k), str) for k in ("start", "end")))
    if not ok:
        return None
    try:
        datetime.fromisoformat(state["end"])
    except ValueError:
        return None
    return state
