"""The Google Calendar connector: the shared contract, then mapping, sync tokens and errors.

Canned responses (tests/fixtures/calendar/) go through `HttpMockSequence` and
the real client with its shipped calendar.v3 discovery document; stateful
cases run against the fake Google on 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from googleapiclient.http import HttpMockSequence

from connectors.base import Address
from connectors.google_auth import GMAIL_METADATA, build_service
from connectors.google_calendar import FIELDS, GoogleCalendarSource, dump_cursor
from daemon.config import parse
from daemon.errors import AuthError, SourceError
from daemon.store import apply_batch, cursor_of
from daemon.sync import sync_source
from tests.contract import BODY_MARKER, SourceContract, pull, strings_in
from tests.fakes.fake_gmail import FakeClock, FakeGoogle, google_config, sign_in

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "calendar"
TEAM = "team@group.calendar.google.com"
PRIMARY_IDS = {"a1b2c3lunch", "weekly9x_20260105T090000Z", "weekly9x_20260112T090000Z", "offsite2026",
               "bday_anna_20260314"}                      # ooo77 (out of office) is not a meeting
ALL_IDS = {f"primary/{i}" for i in PRIMARY_IDS} | {f"{TEAM}/planning42"}


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def source_for(fake: FakeGoogle, tmp_path: Path, *, clock: FakeClock | None = None,
               calendars: list[str] | None = None) -> GoogleCalendarSource:
    config = google_config(fake, tmp_path, kind="google_calendar", calendars=calendars or ["primary", TEAM])
    if not (tmp_path / "google-google_calendar.json").exists():
        sign_in(fake, config)
    clock = clock or FakeClock()
    return GoogleCalendarSource(config.sources[0], config, sleep=clock.sleep, clock=clock)


@pytest.fixture
def fake(tmp_path):
    with FakeGoogle(require_auth=True) as server:
        shutil.copy(FIXTURES / "calendars.json", tmp_path / "calendars.json")
        server.load(tmp_path / "calendars.json")
        yield server


def mock_source(responses, calendars=("primary",)) -> GoogleCalendarSource:
    text = "\n".join(["[[sources]]", 'type = "google_calendar"', 'name = "cal"',
                      f"calendars = {json.dumps(list(calendars))}"]) + "\n"
    config = parse(text, Path("/nonexistent/config.toml"))
    clock = FakeClock()
    return GoogleCalendarSource(config.sources[0], config, http=HttpMockSequence(responses), sleep=clock.sleep,
                                clock=clock)


# ---------------------------------------------------------------- the shared contract

class TestGoogleCalendarContract(SourceContract):
    """Two calendars served by the fake, two events a page so that paging is exercised."""

    @pytest.fixture(autouse=True)
    def _servers(self):
        self.fakes: list[FakeGoogle] = []
        yield
        for server in self.fakes:
            server.__exit__(None, None, None)

    def make_source(self, tmp_path: Path) -> GoogleCalendarSource:
        tmp_path.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / "calendars.json", tmp_path / "calendars.json")
        self.fake = FakeGoogle(require_auth=True).__enter__()
        self.fakes.append(self.fake)
        self.fake.max_page = 2
        self.fake.load(tmp_path / "calendars.json")
        return source_for(self.fake, tmp_path)

    def add_item(self, tmp_path: Path) -> str:
        self.fake.put_event(TEAM, {"id": "retro7", "status": "confirmed", "summary": "Retro",
                                   "start": {"dateTime": "2026-01-22T15:00:00Z"},
                                   "end": {"dateTime": "2026-01-22T16:00:00Z"}})
        return f"{TEAM}/retro7"

    def remove_item(self, tmp_path: Path) -> str:
        self.fake.cancel_event("primary", "offsite2026")
        return "primary/offsite2026"

    def expected_ids(self) -> set[str]:
        return ALL_IDS

    def test_missing_path_is_a_source_error(self, tmp_path: Path) -> None:
        """Calendar sources have no path: the equivalent is a source nobody signed in to."""
        with FakeGoogle() as server:
            config = google_config(server, tmp_path, kind="google_calendar")
            source = GoogleCalendarSource(config.sources[0], config)
            with pytest.raises(AuthError, match=r"kith auth google --source me"):
                source.check()
            with pytest.raises(SourceError):
                list(source.pull(None))
            assert server.calls == []


# ---------------------------------------------------------------- mapping Calendar JSON

def test_full_listing_maps_attendees_organizer_birthdays_and_keeps_no_description():
    source = mock_source([({"status": "200"}, fixture("events_first_page.json")),
                          ({"status": "200"}, fixture("events_last_page.json"))])
    (batch,) = list(source.pull(None))
    events = {e.source_id: e for e in batch.events}
    assert set(events) == {f"primary/{i}" for i in PRIMARY_IDS}
    lunch = events["primary/a1b2c3lunch"]
    assert lunch.organizer == Address("anna@example.org", "Anna Schmidt")
    assert dict((a.email, p) for a, p in lunch.attendees) == {
        "anna@example.org": "ACCEPTED", "me@example.com": "ACCEPTED", "bob@example.net": "DECLINED",
        "carol@example.com": "TENTATIVE", "dan@example.com": "NEEDS-ACTION"}      # the room is not a person
    assert lunch.start == datetime(2026, 1, 7, 11, 0, tzinfo=UTC) and lunch.sequence == 2
    assert (lunch.scope, lunch.calendar, lunch.birthday, lunch.all_day) == ("primary", "primary", False, False)
    birthday = events["primary/bday_anna_20260314"]
    assert birthday.birthday and birthday.all_day and birthday.start == datetime(2026, 3, 14, tzinfo=UTC)
    assert not [s for e in batch.events for s in strings_in(e) if BODY_MARKER in s or "Room 4" in s]
    assert batch.scopes == ("primary",) and batch.full_resync
    assert json.loads(batch.cursor)["calendars"] == {"primary": "CPDAlvWDx70CEPDAlvWDx70CGAU="}


def test_hidden_guest_lists_are_flagged_and_googles_stand_ins_are_no_people():
    """A town hall with the guests hidden lists the user alone; a shared calendar as organizer, a room and the
    "Unknown Organizer" of a flight Gmail added are Google's placeholders, not people."""
    def item(n, **extra):
        return {"id": f"e{n}", "status": "confirmed", "summary": f"Event {n}",
                "start": {"dateTime": "2026-01-07T17:00:00Z"}, "end": {"dateTime": "2026-01-07T18:00:00Z"},
                "organizer": {"email": "ceo@example.com", "displayName": "Cora"},
                "attendees": [{"email": "me@example.com", "self": True, "responseStatus": "accepted"}], **extra}
    items = [item(1, guestsCanSeeOtherGuests=False), item(2, attendeesOmitted=True), item(3),
             item(4, guestsCanSeeOtherGuests=False, organizer={"email": "me@example.com", "self": True}),
             item(5, organizer={"email": "c_7f3a1b2c9d@group.calendar.google.com", "displayName": "Platform team"},
                  attendees=[{"email": "me@example.com"}, {"email": "room4@resource.calendar.google.com"}]),
             item(6, eventType="fromGmail", organizer={"email": "unknownorganizer@calendar.google.com",
                                                       "displayName": "Unknown Organizer"})]
    (batch,) = list(mock_source([({"status": "200"}, json.dumps({"items": items, "nextSyncToken": "t"}))]).pull(None))
    events = {e.source_id: e for e in batch.events}
    assert [events[f"primary/e{n}"].guests_hidden for n in range(1, 5)] == [True, True, False, False]
    assert events["primary/e5"].organizer is None and events["primary/e6"].organizer is None
    assert [a.email for a, _ in events["primary/e5"].attendees] == ["me@example.com"]


def test_requests_expand_recurrences_and_ask_for_no_description():
    source = mock_source([])
    request = build_service("calendar", source.source, HttpMockSequence([])).events().list(
        calendarId="primary", singleEvents=True, fields=FIELDS)
    assert "singleEvents=true" in request.uri and "description" not in FIELDS and "location" not in FIELDS
    assert request.uri.startswith("https://www.googleapis.com/calendar/v3/calendars/primary/events")


def test_incremental_sync_turns_cancelled_occurrences_into_deletions():
    cursor = dump_cursor({"primary": "CPDAlvWDx70CEPDAlvWDx70CGAU="})
    (batch,) = list(mock_source([({"status": "200"}, fixture("events_incremental_cancelled.json"))]).pull(cursor))
    assert batch.deleted == ("primary/weekly9x_20260112T090000Z",)
    (lunch,) = batch.events
    assert lunch.sequence == 3 and ("bob@example.net", "ACCEPTED") in [(a.email, p) for a, p in lunch.attendees]
    assert not batch.scopes and not batch.full_resync
    assert json.loads(batch.cursor)["calendars"]["primary"] == "CKi1xaeEx70CEKi1xaeEx70CGAU="


def test_a_410_lists_the_calendar_again_with_canned_responses():
    cursor = dump_cursor({"primary": "old"})
    source = mock_source([({"status": "410"}, fixture("error_sync_token_410.json")),
                          ({"status": "200"}, fixture("events_last_page.json"))])
    (batch,) = list(source.pull(cursor))
    assert batch.scopes == ("primary",) and not batch.full_resync
    assert {e.source_id for e in batch.events} == {"primary/weekly9x_20260112T090000Z", "primary/offsite2026",
                                                   "primary/bday_anna_20260314"}


# ---------------------------------------------------------------- the fake server: tokens, sweeps, errors

def test_an_expired_sync_token_resyncs_that_calendar_alone_and_the_store_follows(fake, tmp_path, db):
    source = source_for(fake, tmp_path)
    for batch in source.pull(None):
        apply_batch(db, source.key, batch)
    fake.cancel_event("primary", "offsite2026")
    fake.expire_sync_tokens("primary")
    calls = len(fake.calls)
    for batch in source.pull(cursor_of(db, source.key)):
        apply_batch(db, source.key, batch)
    listed = [uri for _, uri in fake.calls[calls:]]
    assert [("syncToken=" in uri) for uri in listed] == [True, False, True], "primary: 410 then full; team: token"
    rows = {r[0] for r in db.execute("SELECT source_id FROM events WHERE source = ?", [source.key])}
    assert rows == ALL_IDS - {"primary/offsite2026"}
    attendees = db.execute("SELECT partstat FROM attendees WHERE source_id = 'primary/a1b2c3lunch' "
                           "AND email = 'bob@example.net'").fetchone()
    assert attendees == ("DECLINED",)


def test_a_calendar_dropped_from_the_config_is_swept(fake, tmp_path):
    state, cursor, _ = pull(source_for(fake, tmp_path), None)
    after, cursor, batches = pull(source_for(fake, tmp_path, calendars=["primary"]), cursor, state)
    assert batches[-1].scopes == (TEAM,) and set(after) == {f"primary/{i}" for i in PRIMARY_IDS}
    assert list(json.loads(cursor)["calendars"]) == ["primary"]


@pytest.mark.parametrize("status,reason", [(404, "notFound"), (403, "forbidden")])
def test_a_calendar_deleted_or_unshared_does_not_stop_the_others(fake, tmp_path, db, status, reason):
    source = source_for(fake, tmp_path, calendars=[TEAM, "primary"])      # the one that goes away comes first
    assert sync_source(db, source).error is None
    fake.delete_calendar(TEAM, status)
    fake.put_event("primary", {"id": "new1", "status": "confirmed", "summary": "New",
                               "start": {"dateTime": "2026-01-23T10:00:00Z"},
                               "end": {"dateTime": "2026-01-23T11:00:00Z"}})
    for _ in range(2):                                                    # and the next sync is not stuck either
        result = sync_source(db, source)
        assert result.error == (f"google_calendar:me: cannot read calendar {TEAM} ({status} {reason}); the other "
                                "calendars were synced — remove it from `calendars` in the config, or check that it "
                                "is still shared with this Google account")
    rows = {r[0] for r in db.execute("SELECT source_id FROM events WHERE source = ?", [source.key])}
    assert rows == ALL_IDS | {"primary/new1"}, "primary is synced; the unreadable calendar's events are kept"
    assert set(json.loads(cursor_of(db, source.key))["calendars"]) == {TEAM, "primary"}


def test_a_refusal_of_the_whole_source_is_not_blamed_on_one_calendar(fake, tmp_path):
    fake.fail("GET", f"/calendar/v3/calendars/{TEAM.replace('@', '%40')}/events", 403, reason="insufficientPermissions")
    with pytest.raises(AuthError) as caught:
        pull(source_for(fake, tmp_path), None)
    assert str(caught.value) == (f"google_calendar:me: Google refused calendar {TEAM} (403 insufficientPermissions) "
                                 "— run `kith auth google --source me`")


@pytest.mark.parametrize("reason", ["dailyLimitExceeded", "quotaExceeded"])
def test_a_used_up_quota_is_not_blamed_on_the_calendars(fake, tmp_path, reason):
    fake.fail("GET", "/calendar/v3/calendars/primary/events", 403, reason=reason, times=100)
    with pytest.raises(SourceError) as caught:
        pull(source_for(fake, tmp_path), None)
    assert reason in str(caught.value) and "remove" not in str(caught.value)

def test_429_with_retry_after_is_retried(fake, tmp_path):
    clock = FakeClock()
    fake.fail("GET", "/calendar/v3/calendars/primary/events", 429, retry_after="3", reason="rateLimitExceeded")
    fake.fail("GET", f"/calendar/v3/calendars/{TEAM.replace('@', '%40')}/events", 503)
    state, _, _ = pull(source_for(fake, tmp_path, clock=clock), None)
    assert set(state) == ALL_IDS and max(clock.sleeps) >= 3
    assert fake.statuses[429] == 1 and fake.statuses[503] == 1


def test_a_token_without_the_calendar_scope_is_refused_with_the_fix(fake, tmp_path):
    config = google_config(fake, tmp_path, kind="google_calendar")
    sign_in(fake, config, scopes=[GMAIL_METADATA])
    with pytest.raises(AuthError, match=r"lacks the scope .*calendar.events.readonly.*kith auth google"):
        GoogleCalendarSource(config.sources[0], config).check()
    assert fake.calls == []


def test_a_revoked_grant_is_one_line(fake, tmp_path):
    config = google_config(fake, tmp_path, kind="google_calendar")
    sign_in(fake, config, expired=True)
    fake.revoke("rt-test")
    with pytest.raises(AuthError) as caught:
        list(GoogleCalendarSource(config.sources[0], config).pull(None))
    assert "\n" not in str(caught.value) and "run `kith auth google --source me`" in str(caught.value)
