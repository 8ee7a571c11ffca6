"""Outlook calendar connector against the local fake Graph (real MSAL, real requests, TLS on 127.0.0.1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.base import STALE
from connectors.graph_calendar import OutlookCalendarSource
from daemon.errors import AuthError, SourceError
from daemon.store import open_store
from daemon.sync import sync_source
from tests.contract import BODY_MARKER, SourceContract, pull, records_of, strings_in
from tests.fakes.fake_graph import FakeGraph, event, fixture, graph_config, sign_in

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SECRET = {"body": {"contentType": "html", "content": BODY_MARKER}, "bodyPreview": BODY_MARKER,
          "location": {"displayName": BODY_MARKER}, "onlineMeeting": {"joinUrl": f"https://x.example/{BODY_MARKER}"}}


@pytest.fixture
def fake(tmp_path):
    with FakeGraph(tmp_path / "server") as server:
        yield server


def source_for(fake: FakeGraph, tmp_path: Path, *, now: datetime = NOW, sleep=None, **keys) -> OutlookCalendarSource:
    config = graph_config(fake, tmp_path, kind="outlook_calendar", **keys)
    if not (tmp_path / "msal-work.bin").exists():
        sign_in(fake, config)
    return OutlookCalendarSource(config.sources[0], config, http_client=fake.session(), now=now,
                                 sleep=sleep if sleep is not None else (lambda s: None))


def window_of(path: str) -> tuple[str, str]:
    q = parse_qs(urlsplit(path).query)
    return q["startDateTime"][0], q["endDateTime"][0]


class TestOutlookCalendarContract(SourceContract):
    """The core's connector contract, with the calendar written to tmp_path and served by the fake."""

    @pytest.fixture(autouse=True)
    def _servers(self):
        self.fakes: list[FakeGraph] = []
        yield
        for server in self.fakes:
            server.__exit__(None, None, None)

    def make_source(self, tmp_path: Path) -> OutlookCalendarSource:
        tmp_path.mkdir(parents=True, exist_ok=True)
        events = [event(i, start="2026-02-01T09:00:00", **SECRET) for i in range(8)] + [
            fixture("event_series_occurrence_with_responses"), fixture("event_series_master")]
        (tmp_path / "calendar.json").write_text(json.dumps({"events": events}), encoding="utf-8")
        self.fake = FakeGraph(tmp_path / "server").__enter__()
        self.fakes.append(self.fake)
        self.fake.max_page = 3
        self.fake.load(tmp_path / "calendar.json")
        return source_for(self.fake, tmp_path)

    def add_item(self, tmp_path: Path) -> str:
        return self.fake.put_event(event(40, start="2026-02-01T09:00:00", **SECRET))["id"]

    def remove_item(self, tmp_path: Path) -> str:
        self.fake.delete_event("AAMkEVT000002=")
        return "AAMkEVT000002="

    def expected_ids(self) -> set[str]:
        return {f"AAMkEVT{i:06d}=" for i in range(8)} | {"AAMkEVT-OCC-20260303="}

    def test_missing_path_is_a_source_error(self, tmp_path: Path) -> None:
        """Graph sources have no path: the equivalent is a source nobody signed in to."""
        with FakeGraph(tmp_path / "server") as server:
            config = graph_config(server, tmp_path, kind="outlook_calendar")
            source = OutlookCalendarSource(config.sources[0], config, http_client=server.session())
            with pytest.raises(AuthError, match="kith auth microsoft --source work"):
                list(source.pull(None))
            assert isinstance(AuthError("x"), SourceError) and server.paths() == []


# ---------------------------------------------------------------- mapping

def test_attendees_responses_organizer_and_no_body_or_location(fake, tmp_path):
    fake.put_event(fixture("event_series_occurrence_with_responses"))
    state, _, _ = pull(source_for(fake, tmp_path), None)
    occurrence = state["AAMkEVT-OCC-20260303="]
    assert occurrence.organizer.email == "anna@example.com" and occurrence.summary == "Weekly coffee"
    assert [(a.email, p) for a, p in occurrence.attendees] == [
        ("anna@example.com", "ACCEPTED"), ("me@example.com", "ACCEPTED"), ("bo@partner.example", "TENTATIVE"),
        ("cy@example.com", "DECLINED"), ("di@example.com", "NEEDS-ACTION"), ("ed@example.com", "NEEDS-ACTION")]
    assert (occurrence.start, occurrence.end) == (datetime(2026, 3, 3, 9, 0, tzinfo=UTC),
                                                  datetime(2026, 3, 3, 9, 30, tzinfo=UTC))
    assert not [s for s in strings_in(occurrence) if "SECRET" in s]      # agenda, room, join link all dropped


def test_exchange_directory_names_are_neither_organizer_nor_attendee(fake, tmp_path):
    x500 = "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=bdc77b18-kristina"
    person = lambda address: {"emailAddress": {"name": "Kristina M", "address": address}}  # noqa: E731
    fake.put_event(event(1, organizer=person(x500), attendees=[
        {"type": "optional", "status": {"response": "none"}, **person(x500)},
        {"type": "required", "status": {"response": "accepted"}, **person("kristina@example.com")}]))
    state, _, _ = pull(source_for(fake, tmp_path), None)
    meeting = state["AAMkEVT000001="]
    assert meeting.organizer is None and [(a.email, p) for a, p in meeting.attendees] == [
        ("kristina@example.com", "ACCEPTED")]


def test_series_master_skipped_cancelled_all_day_and_time_zones(fake, tmp_path):
    for name in ("event_series_master", "event_cancelled_meeting", "event_all_day_offsite", "event_in_pacific_time"):
        fake.put_event(fixture(name))
    state, _, _ = pull(source_for(fake, tmp_path), None)
    assert set(state) == {"AAMkEVT-CANCELLED=", "AAMkEVT-ALLDAY=", "AAMkEVT-PACIFIC="}
    assert state["AAMkEVT-CANCELLED="].cancelled and not state["AAMkEVT-ALLDAY="].cancelled
    offsite = state["AAMkEVT-ALLDAY="]
    assert offsite.all_day and offsite.start == datetime(2026, 3, 10, tzinfo=UTC)
    assert state["AAMkEVT-PACIFIC="].start == datetime(2026, 3, 4, 16, 0, tzinfo=UTC)   # 08:00 PST


def test_windows_zone_names_are_mapped_and_an_unknown_zone_is_noted(fake, tmp_path):
    """We ask for UTC, but a mailbox may still answer in its Windows zone; one nobody knows is said, not hidden."""
    def at(n: int, zone: str, start: str = "2026-03-04T08:00:00", end: str = "2026-03-04T09:00:00") -> dict:
        return {**event(n), "start": {"dateTime": start + ".0000000", "timeZone": zone},
                "end": {"dateTime": end + ".0000000", "timeZone": zone}}
    fake.put_event(at(1, "Pacific Standard Time"))
    fake.put_event(at(2, "W. Europe Standard Time", "2026-03-05T10:00:00", "2026-03-05T11:00:00"))
    fake.put_event(at(3, "Nowhere Standard Time"))
    fake.put_event(at(4, "Nowhere Standard Time"))
    state, _, batches = pull(source_for(fake, tmp_path), None)
    assert state["AAMkEVT000001="].start == datetime(2026, 3, 4, 16, tzinfo=UTC)                  # 08:00 PST
    assert state["AAMkEVT000002="].end == datetime(2026, 3, 5, 10, tzinfo=UTC)                    # 11:00 CET
    assert state["AAMkEVT000003="].start == datetime(2026, 3, 4, 8, tzinfo=UTC)
    assert [n for b in batches for n in b.notes] == [
        "unknown time zone Nowhere Standard Time: the times of 2 events are read as UTC, perhaps hours off"]


def test_the_window_and_headers_of_the_first_request(fake, tmp_path):
    pull(source_for(fake, tmp_path, days_back=30, days_ahead=10), None)
    first = next(r for r in fake.requests if r.path.startswith("/v1.0/"))
    assert window_of(first.path) == ("2026-01-30T00:00:00Z", "2026-03-12T00:00:00Z")
    assert "$select" not in first.path
    assert 'outlook.timezone="UTC"' in first.headers["prefer"] and 'IdType="ImmutableId"' in first.headers["prefer"]


# ---------------------------------------------------------------- changes, cursors, resync

def test_removed_and_cancelled_changes_arrive_incrementally(fake, tmp_path):
    for i in range(3):
        fake.put_event(event(i))
    source = source_for(fake, tmp_path)
    state, cursor, _ = pull(source, None)
    fake.delete_event("AAMkEVT000000=")
    fake.put_event(event(1, isCancelled=True))
    state, cursor, batches = pull(source, cursor, state)
    assert [b.deleted for b in batches] == [("AAMkEVT000000=",)]
    assert set(state) == {"AAMkEVT000001=", "AAMkEVT000002="} and state["AAMkEVT000001="].cancelled


def test_a_restart_mid_pass_resumes_from_the_next_link(fake, tmp_path):
    fake.max_page = 2
    for i in range(5):
        fake.put_event(event(i))
    source = source_for(fake, tmp_path)
    first = next(iter(source.pull(None)))
    assert first.full_resync and "$skiptoken=" in json.loads(first.cursor)["link"]
    state, cursor, rest = pull(source, first.cursor, {e.source_id: e for e in first.events})
    assert len(state) == 5 and not any(b.full_resync or b.all_stale or b.scopes for b in rest[:-1])
    assert rest[-1].scopes == (STALE,) and not rest[-1].all_stale          # resumed, not restarted; it ends the pass
    assert sum(1 for p in fake.paths() if "startDateTime" in p) == 1


@pytest.mark.parametrize("how", ["syncStateNotFound", "SyncStateNotFound", "gone"])
def test_an_expired_token_starts_a_new_pass_that_sweeps(fake, tmp_path, how):
    for i in range(4):
        fake.put_event(event(i))
    source = source_for(fake, tmp_path)
    state, cursor, _ = pull(source, None)
    fake.events.pop("AAMkEVT000003=")                                  # gone without a delta entry
    fake.expire_delta_tokens(how)
    state, cursor, batches = pull(source, cursor, state)
    assert batches[0].all_stale and not batches[0].full_resync and batches[-1].scopes == (STALE,)
    assert set(state) == {f"AAMkEVT{i:06d}=" for i in range(3)}
    assert not [r for b in pull(source, cursor, state)[2] for r in records_of(b)]


def test_the_window_is_rebaselined_as_time_passes_and_when_config_changes(fake, tmp_path):
    fake.put_event(event(0))
    state, cursor, _ = pull(source_for(fake, tmp_path), None)
    pull(source_for(fake, tmp_path, now=NOW + timedelta(days=5)), cursor, state)
    assert sum(1 for p in fake.paths() if "startDateTime" in p) == 1    # still inside the window
    _, later, batches = pull(source_for(fake, tmp_path, now=NOW + timedelta(days=20)), cursor, state)
    windows = [window_of(p) for p in fake.paths() if "startDateTime" in p]
    assert len(windows) == 2 and windows[1][0] == "2024-03-21T00:00:00Z" and batches[0].all_stale
    pull(source_for(fake, tmp_path, now=NOW + timedelta(days=20), days_ahead=90), later, state)
    assert sum(1 for p in fake.paths() if "startDateTime" in p) == 3


def test_a_rebaseline_that_fails_on_page_2_keeps_every_event_and_the_next_sync_sweeps_what_is_gone(fake, tmp_path):
    """The window moves every days_ahead/2 days; a throttled page 2 must not leave one page of the calendar."""
    fake.max_page = 10
    for i in range(25):
        fake.put_event(event(i, start="2025-12-01T09:00:00"))
    db = open_store(tmp_path / "kith.db")
    assert sync_source(db, source_for(fake, tmp_path)).new_events == 25
    fake.delete_event("AAMkEVT000003=")                                 # gone before the new pass lists the window
    fake.fail("GET", r"calendarView/delta\?\$skiptoken", 503, times=6)  # page 2 of the new pass, every retry
    later = NOW + timedelta(days=20)
    failed = sync_source(db, source_for(fake, tmp_path, now=later))
    assert "unavailable (HTTP 503)" in failed.error and failed.deleted == 0
    stored = lambda: sorted(r[0] for r in db.execute("SELECT source_id FROM events"))  # noqa: E731
    assert len(stored()) == 25, "page 1 is applied, nothing is lost"
    done = sync_source(db, source_for(fake, tmp_path, now=later))
    assert done.error is None and done.deleted == 1 and done.new_events == 0   # nothing read twice as new
    assert stored() == [f"AAMkEVT{i:06d}=" for i in range(25) if i != 3]
    assert {r[0] for r in db.execute("SELECT scope FROM events")} == {"primary"}
    windows = {window_of(p) for p in fake.paths() if "startDateTime" in p}
    assert len(windows) == 2, "the second sync finished the new pass, it did not start a third"


def test_an_unreadable_cursor_keeps_the_calendar_until_the_new_pass_ends(fake, tmp_path):
    fake.max_page = 2
    for i in range(5):
        fake.put_event(event(i))
    db = open_store(tmp_path / "kith.db")
    sync_source(db, source_for(fake, tmp_path))
    fake.delete_event("AAMkEVT000004=")
    db.execute("UPDATE sync_state SET cursor = 'not json{'")
    fake.fail("GET", r"calendarView/delta\?\$skiptoken", 503, times=6)
    assert sync_source(db, source_for(fake, tmp_path)).error
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 5
    assert sync_source(db, source_for(fake, tmp_path)).deleted == 1
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 4


def test_a_refused_permission_is_one_line_naming_the_fix(fake, tmp_path):
    fake.fail("GET", r"calendarView/delta", 403, body={"error": {"code": "ErrorAccessDenied", "message": "no"}})
    with pytest.raises(SourceError) as info:
        list(source_for(fake, tmp_path).pull(None))
    assert "denied access (ErrorAccessDenied)" in str(info.value) and "kith auth microsoft --source work" in str(info.value)


def test_a_grant_without_calendar_consent_asks_to_sign_in_again(fake, tmp_path):
    config = graph_config(fake, tmp_path, kind="outlook_calendar")
    sign_in(fake, config, scopes=("Mail.ReadBasic",))
    source = OutlookCalendarSource(config.sources[0], config, http_client=fake.session(), now=NOW)
    with pytest.raises(AuthError, match="kith auth microsoft --source work"):
        list(source.pull(None))


def test_a_hidden_guest_list_is_flagged_unless_the_user_organises():
    """hideAttendees: each attendee's copy lists only themselves; the organizer's lists everyone."""
    from connectors.graph_calendar import event_meta
    assert event_meta(event(1, hideAttendees=True)).guests_hidden is True
    assert event_meta(event(2, hideAttendees=True, isOrganizer=True)).guests_hidden is False
    assert event_meta(event(3)).guests_hidden is False


def test_the_online_meeting_flag_is_kept():
    import json
    from pathlib import Path

    from connectors.graph_calendar import event_meta
    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "graph"
    online = event_meta(json.loads((fixtures / "event_series_occurrence_with_responses.json").read_text()))
    in_person = event_meta(json.loads((fixtures / "event_cancelled_meeting.json").read_text()))
    assert online.online is True and in_person.online is False
