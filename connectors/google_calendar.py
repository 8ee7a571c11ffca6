"""Read-only Google Calendar connector: the chosen calendars, recurring events expanded.

`events.list(singleEvents=True)` gives one item per occurrence. The first pull
of a calendar is a full listing, stored as one Batch whose `scopes` names the
calendar, so the store sweeps what is gone; later pulls send the calendar's
`nextSyncToken` and get only the changes, cancelled events included (they
become `deleted`). A 410 (token expired) means a full listing of that calendar
again, by itself. `fields=` keeps description, location and attachments out of
the response altogether: they never reach a record.

A calendar that answers 404 or 403 (deleted, or no longer shared with the
account) does not hold up the others: they are synced and stored, its events
and sync token are kept as they were, and the pull ends with one SourceError
naming it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from googleapiclient.errors import HttpError

from connectors.backoff import TokenBucket
from connectors.base import Address, Batch, EventMeta
from connectors.google_auth import (CALENDAR_EVENTS, RATE_REASONS, auth_errors, authorized_http, build_service,
                                    client_config, error_reason, execute, http_problem, load_credentials, source_key)
from daemon.config import Config, SourceConfig
from daemon.errors import SourceError

log = logging.getLogger(__name__)

FIELDS = ("nextPageToken,nextSyncToken,items(id,status,eventType,summary,start,end,sequence,attendeesOmitted,"
          "guestsCanSeeOtherGuests,organizer(email,displayName,self),attendees(email,displayName,responseStatus,"
          "resource))")
# Google's stand-ins, not people: a shared calendar as organizer (…@group.calendar.google.com), rooms
# (…@resource.calendar.google.com), the organizer of events Gmail adds (unknownorganizer@calendar.google.com)
PLACEHOLDER_DOMAIN = "calendar.google.com"
PARTSTAT = {"accepted": "ACCEPTED", "declined": "DECLINED", "tentative": "TENTATIVE", "needsAction": "NEEDS-ACTION"}
KEPT_TYPES = {"default", "fromGmail", "birthday"}   # out-of-office, focus time, working location: not meetings
PAGE = 2500
REQUESTS_PER_SECOND = 5.0                          # half the per-user limit of 600 a minute
# 403 reasons about the whole source (token, API, quota), not about one calendar
SOURCE_REASONS = {"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "accessNotConfigured", *RATE_REASONS,
                  "dailyLimitExceeded", "quotaExceeded", "usageLimits", "limitExceeded", "userRateLimitExceededUnreg",
                  "dailyLimitExceededUnreg"}


class SyncTokenExpired(Exception):
    """events.list said 410: the calendar must be listed again in full."""


class CalendarUnavailable(Exception):
    """events.list said 404 or 403 for this calendar alone: deleted, or no longer shared."""

    def __init__(self, calendar: str, answer: str) -> None:
        super().__init__(f"{calendar} ({answer})")
        self.calendar, self.answer = calendar, answer


def parse_cursor(text: str | None) -> dict[str, str]:
    """Calendar id -> sync token; anything unreadable means "no tokens" (full sync)."""
    try:
        tokens = json.loads(text or "")["calendars"]
    except (ValueError, KeyError, TypeError):
        return {}
    return {str(k): str(v) for k, v in tokens.items() if v} if isinstance(tokens, dict) else {}


def dump_cursor(tokens: dict[str, str]) -> str:
    return json.dumps({"v": 1, "calendars": tokens}, separators=(",", ":"), sort_keys=True)


def moment(value: dict) -> tuple[datetime, bool]:
    """A start/end as aware UTC, and whether it is an all-day date (midnight UTC)."""
    if "dateTime" in value:
        return datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00")).astimezone(UTC), False
    day = date.fromisoformat(value["date"])
    return datetime(day.year, day.month, day.day, tzinfo=UTC), True


def address(person: dict | None) -> Address | None:
    email = (person or {}).get("email", "").strip().lower()
    local, at, domain = email.rpartition("@")
    if not (local and at and domain) or domain == PLACEHOLDER_DOMAIN or domain.endswith("." + PLACEHOLDER_DOMAIN):
        return None
    return Address(email, (person or {}).get("displayName", ""))


def to_event(item: dict, calendar: str) -> EventMeta | None:
    """The record for one occurrence; None for a cancelled one or one that is not a meeting."""
    if item.get("status") == "cancelled" or item.get("eventType", "default") not in KEPT_TYPES:
        return None
    start, all_day = moment(item["start"])
    end, _ = moment(item.get("end", item["start"]))
    attendees = tuple((who, PARTSTAT.get(a.get("responseStatus", ""), "NEEDS-ACTION"))
                      for a in item.get("attendees", []) if not a.get("resource") and (who := address(a)))
    return EventMeta(source_id=f"{calendar}/{item['id']}", start=start, end=end,
                     organizer=address(item.get("organizer")), attendees=attendees,
                     summary=item.get("summary", ""), all_day=all_day,
                     birthday=item.get("eventType") == "birthday", calendar=calendar, scope=calendar,
                     sequence=int(item.get("sequence", 0)), guests_hidden=guests_hidden(item))


def guests_hidden(item: dict) -> bool:
    """Whether the attendees listed are not all: the organizer hid the guest list from guests (the user's copy
    then lists the user alone), or Google left some out."""
    hidden = item.get("guestsCanSeeOtherGuests") is False and not (item.get("organizer") or {}).get("self")
    return bool(item.get("attendeesOmitted")) or hidden


def split_items(items: list[dict], calendar: str) -> tuple[tuple[EventMeta, ...], tuple[str, ...]]:
    """(records, source ids to delete): cancelled and non-meeting items are tombstones."""
    events, deleted = [], []
    for item in items:
        event = to_event(item, calendar)
        if event is None:
            deleted.append(f"{calendar}/{item['id']}")
        else:
            events.append(event)
    return tuple(events), tuple(deleted)


class GoogleCalendarSource:
    """Google calendars, read-only. `key` is "google_calendar:<source name>"."""

    def __init__(self, source: SourceConfig, config: Config, *, http: Any = None, now: datetime | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.source, self.config, self.now = source, config, now
        self.key = f"google_calendar:{source.name}"
        self.calendars = list(dict.fromkeys(source.calendars or ["primary"]))
        self._http, self._sleep = http, sleep
        self.bucket = TokenBucket(rate=REQUESTS_PER_SECOND, capacity=2 * REQUESTS_PER_SECOND, clock=clock,
                                  sleep=sleep)
        self._events: Any = None

    def check(self) -> None:
        """SourceError without an OAuth client file; AuthError without a usable token."""
        if self._http is not None:
            return
        client_config(self.source, self.config)
        load_credentials(self.source, self.config, need=[CALENDAR_EVENTS], refresh=False)

    def pull(self, cursor: str | None) -> Iterator[Batch]:
        """Each calendar in turn (changes since its token, or all of it); dropped calendars swept.

        An unavailable calendar is skipped and reported after the others are done.
        """
        tokens = parse_cursor(cursor)
        wipe = cursor is None or not tokens
        unavailable: list[CalendarUnavailable] = []
        with auth_errors(self.source):
            http, session = (self._http, None) if self._http is not None else authorized_http(
                self.source, self.config, need=[CALENDAR_EVENTS])
            self._events = build_service("calendar", self.source, http).events()
            for calendar in self.calendars:
                try:
                    for batch in self._pull_calendar(calendar, tokens, wipe):
                        wipe = False
                        yield batch
                        if session:
                            session.persist()
                except CalendarUnavailable as exc:   # raised before any of its batches: nothing half-done
                    log.info("%s: a calendar answered %s; syncing the others", self.key, exc.answer)
                    unavailable.append(exc)
            for calendar in [c for c in tokens if c not in self.calendars]:
                del tokens[calendar]
                yield Batch(scopes=(calendar,), cursor=dump_cursor(tokens))
        if unavailable:
            one = len(unavailable) == 1
            others = "; the other calendars were synced" if len(unavailable) < len(self.calendars) else ""
            raise SourceError(f"cannot read calendar {', '.join(map(str, unavailable))}{others}",
                              where=source_key(self.source),
                              fix=f"remove {'it' if one else 'them'} from `calendars` in the config, or check that "
                                  f"{'it is' if one else 'they are'} still shared with this Google account")

    def _pull_calendar(self, calendar: str, tokens: dict[str, str], wipe: bool) -> Iterator[Batch]:
        token = tokens.get(calendar)
        if token:
            try:
                items, tokens[calendar] = self._list(calendar, token)
            except SyncTokenExpired:
                log.info("%s: sync token of a calendar expired; listing it again", self.key)
            else:
                events, deleted = split_items(items, calendar)
                if items or tokens[calendar] != token:
                    yield Batch(events=events, deleted=deleted, cursor=dump_cursor(tokens))
                return
        items, next_token = self._list(calendar, None)
        if next_token:
            tokens[calendar] = next_token
        events, _ = split_items(items, calendar)
        yield Batch(events=events, scopes=(calendar,), full_resync=wipe, cursor=dump_cursor(tokens))

    def _list(self, calendar: str, sync_token: str | None) -> tuple[list[dict], str]:
        """All pages of events.list; the sync token arrives with the last page only."""
        items: list[dict] = []
        page = None
        while True:
            params: dict[str, Any] = {"calendarId": calendar, "singleEvents": True, "maxResults": PAGE,
                                      "pageToken": page, "fields": FIELDS}
            if sync_token:
                params["syncToken"] = sync_token
            try:
                reply = execute(self._events.list(**params), self.source, f"calendar {calendar}",
                                bucket=self.bucket, sleep=self._sleep, allow=(403, 404, 410))
            except HttpError as exc:
                status, reason = exc.resp.status, error_reason(exc)
                if status == 410:
                    raise SyncTokenExpired() from None
                if status == 404 or reason not in SOURCE_REASONS:
                    raise CalendarUnavailable(calendar, f"{status} {reason}".strip()) from None
                raise http_problem(exc, self.source, f"calendar {calendar}") from None
            items += reply.get("items", [])
            page = reply.get("nextPageToken")
            if not page:
                return items, reply.get("nextSyncToken", "")
