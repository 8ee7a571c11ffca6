"""The CalDAV connector against a real Radicale: the contract, which calendars count, and incremental sync —
changed, replaced and deleted events, series, calendars gone or renamed, an expired sync token, a server
without sync tokens, and a sync killed at any batch."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors import caldav_calendar
from daemon.errors import SourceError
from daemon.sync import sync_source
from tests.connectors.caldav_account import ME, NOW, Account, event
from tests.contract import SourceContract, pull
from tests.servers import Radicale, radicale, radicale_tls  # noqa: F401 - a Radicale per test
from tests.test_sync import FailsAfter, dump


@pytest.fixture
def account(radicale: Radicale, tmp_path: Path) -> Account:  # noqa: F811
    return Account(radicale, tmp_path)


def summaries(state: dict) -> dict[str, str]:
    """Each event's id (without the calendar's key) and title."""
    return {source_id.split("/", 1)[1]: record.summary for source_id, record in state.items()}


class TestCaldavContract(SourceContract):
    """Two calendars, a single event and a series of three in one; ids repeat across two servers."""

    @pytest.fixture(autouse=True)
    def _servers(self, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
        self.accounts: dict[Path, Account] = {}
        self.request = request

    def make_source(self, tmp_path: Path):
        tmp_path.mkdir(parents=True, exist_ok=True)
        server = self.request.getfixturevalue("radicale") if not self.accounts else _another_radicale(self.request)
        account = self.accounts[tmp_path] = Account(server, tmp_path)
        account.calendar("Work")
        account.calendar("Home")
        account.put("Work", event("one@x", summary="Budget"))
        account.put("Work", event("weekly@x", start="20260105T090000Z", summary="Team", rrule="FREQ=WEEKLY;COUNT=3"))
        account.put("Home", event("dinner@x", start="20260112T190000Z", summary="Dinner"))
        return account.source()

    def add_item(self, tmp_path: Path) -> str:
        account = self.accounts[tmp_path]
        account.put("Home", event("lunch@x", start="20260120T120000Z", summary="Lunch"))
        return f"{account.key('Home')}/lunch@x"

    def remove_item(self, tmp_path: Path) -> str:
        account = self.accounts[tmp_path]
        account.delete("Work", "one@x")
        return f"{account.key('Work')}/one@x"

    def expected_ids(self) -> set[str]:
        account = next(iter(self.accounts.values()))
        work, home = account.key("Work"), account.key("Home")
        return {f"{work}/one@x", f"{home}/dinner@x", *(f"{work}/weekly@x@2026-01-{d:02d}T09:00:00Z"
                                                         for d in (5, 12, 19))}

    def test_missing_path_is_a_source_error(self, tmp_path: Path) -> None:
        """CalDAV has no path: its counterpart is a calendar named in `calendars` that the account lacks."""
        self.make_source(tmp_path)
        source = self.accounts[tmp_path].source(calendars=["Work", "Holidays"])
        with pytest.raises(SourceError, match="no calendar named 'Holidays' \\(it has: Home, Work\\)"):
            list(source.pull(None))


def _another_radicale(request: pytest.FixtureRequest) -> Radicale:
    """A second server for the contract's determinism test (the fixture gives one per test)."""
    from tests import servers
    generator = servers._serve_radicale(request.getfixturevalue("tmp_path_factory").mktemp("radicale"), tls=False)
    server = next(generator)
    request.addfinalizer(lambda: next(generator, None))
    return server


# ---------------------------------------------------------------- what is read


def test_times_people_and_titles_are_read_and_nothing_else(account):
    account.calendar("Work")
    account.put("Work", event("call@x", start="20260203T140000Z", summary="Roadmap call", organizer="bob@example.org",
                              attendees=(ME, "carol@example.org")))
    state, _, _ = pull(account.source(), None)
    (record,) = state.values()
    assert (record.summary, record.calendar, record.start.isoformat()) == (
        "Roadmap call", "Work", "2026-02-03T14:00:00+00:00")
    assert record.organizer.email == "bob@example.org"
    assert [a.email for a, _ in record.attendees] == [ME, "carol@example.org"]


def test_a_birthdays_calendar_gives_birthdays_and_tasks_give_nothing(account):
    account.calendar("Birthdays")
    account.put("Birthdays", event("anna-bday@x", start="20260407T000000Z", summary="Anna", attendees=()))
    account.calendar("Work")
    account.calendars["Work"].save_todo("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTODO\r\nUID:t1@x\r\n"
                                        "DTSTAMP:20260101T000000Z\r\nSUMMARY:File taxes\r\nEND:VTODO\r\n"
                                        "END:VCALENDAR\r\n")
    state, cursor, batches = pull(account.source(), None)
    assert [(r.summary, r.birthday) for r in state.values()] == [("Anna", True)]
    assert [n for b in batches for n in b.notes] == []
    again, _, batches = pull(account.source(), cursor, state)
    assert again == state and [b for b in batches if b.events] == []


def test_configured_calendars_by_name_or_url_are_the_only_ones_read(account):
    for name in ("Work", "Home", "Club"):
        account.calendar(name)
        account.put(name, event(f"{name.lower()}@x", summary=name))
    home_url = str(account.calendars["Home"].url)
    state, _, _ = pull(account.source(calendars=["work", home_url]), None)
    assert sorted(summaries(state).values()) == ["Home", "Work"]


# ---------------------------------------------------------------- changes


def test_an_edited_series_replaces_its_occurrences_even_with_a_lower_sequence(account):
    """The server's copy is the truth: a series cut from four to two meetings, its SEQUENCE reset by another
    program, keeps two occurrences under the new title; an override moves one of them."""
    account.calendar("Work")
    account.put("Work", event("s@x", start="20260105T090000Z", summary="Team", rrule="FREQ=WEEKLY;COUNT=4",
                              sequence=3))
    source = account.source()
    state, cursor, _ = pull(source, None)
    assert len(state) == 4
    moved = ("BEGIN:VEVENT\r\nUID:s@x\r\nRECURRENCE-ID:20260112T090000Z\r\nDTSTAMP:20260101T000000Z\r\n"
             "DTSTART:20260113T150000Z\r\nDTEND:20260113T160000Z\r\nSUMMARY:Team (moved)\r\nEND:VEVENT\r\n")
    series = event("s@x", start="20260105T090000Z", summary="Team sync", rrule="FREQ=WEEKLY;COUNT=2", sequence=0)
    account.put("Work", series.replace("END:VCALENDAR", moved + "END:VCALENDAR"))
    state, cursor, batches = pull(source, cursor, state)
    assert summaries(state) == {"s@x@2026-01-05T09:00:00Z": "Team sync", "s@x@2026-01-12T09:00:00Z": "Team (moved)"}
    assert state[next(k for k in state if k.endswith("12T09:00:00Z"))].start.day == 13
    again, _, batches = pull(source, cursor, state)
    assert again == state and [b for b in batches if b.events] == []


def test_a_deleted_series_goes_with_every_occurrence_and_the_store_counts_them(account, db):
    account.calendar("Work")
    account.put("Work", event("s@x", start="20260105T090000Z", rrule="FREQ=DAILY;COUNT=5"))
    account.put("Work", event("keep@x"))
    first = sync_source(db, account.source())
    assert (first.error, first.new_events) == (None, 6)
    account.delete("Work", "s@x")
    second = sync_source(db, account.source())
    assert (second.error, second.deleted) == (None, 5)
    assert [r[0] for r in db.execute("SELECT source_id FROM events")] == [f"{account.key('Work')}/keep@x"]


def test_a_calendar_gone_from_the_server_takes_its_events_with_a_note(account):
    account.calendar("Work")
    account.calendar("Old project")
    account.put("Work", event("w@x"))
    for n in range(3):
        account.put("Old project", event(f"o{n}@x"))
    source = account.source()
    state, cursor, _ = pull(source, None)
    assert len(state) == 4
    account.calendars["Old project"].delete()
    state, cursor, batches = pull(source, cursor, state)
    assert list(summaries(state)) == ["w@x"]
    assert [n for b in batches for n in b.notes] == [
        "calendar 'Old project': no longer on the server (or no longer read): its events are removed"]
    again, _, batches = pull(source, cursor, state)
    assert again == state and [n for b in batches for n in b.notes] == []


def test_a_renamed_calendar_renames_its_events(account):
    work = account.calendar("Work")
    account.put("Work", event("w@x"))
    source = account.source()
    state, cursor, _ = pull(source, None)
    work.set_properties([__import__("caldav").elements.dav.DisplayName("Acme")])
    state, cursor, _ = pull(source, cursor, state)
    assert [r.calendar for r in state.values()] == ["Acme"]


@pytest.mark.parametrize("token", ["http://radicale.org/ns/sync/bogus", "http://radicale.org/ns/sync/" + "0" * 64])
def test_a_sync_token_the_server_no_longer_knows_reads_the_calendar_again(account, token):
    account.calendar("Work")
    for uid in ("a@x", "b@x"):
        account.put("Work", event(uid))
    source = account.source()
    state, cursor, _ = pull(source, None)
    account.delete("Work", "a@x")
    account.put("Work", event("c@x"))
    forgotten = cursor.replace(caldav_calendar.CaldavCursor.parse(cursor, source.account).calendars[
        account.key("Work")].token, token)
    state, cursor, batches = pull(source, forgotten, state)
    assert sorted(summaries(state)) == ["b@x", "c@x"]
    assert [n for b in batches for n in b.notes] == ["calendar 'Work': the server no longer knows the sync token: "
                                                     "read again"]
    again, _, batches = pull(source, cursor, state)
    assert again == state and batches == []


def test_a_server_without_sync_tokens_is_compared_by_etags(account):
    """The caldav library's own hint for such servers: every object is listed each time, and nothing comes
    when no ETag changed."""
    account.calendar("Work")
    account.put("Work", event("a@x"))
    account.put("Work", event("b@x"))
    source = account.source(features={"sync-token": {"support": "unsupported"}})
    state, cursor, _ = pull(source, None)
    assert caldav_calendar.CaldavCursor.parse(cursor, source.account).calendars[
        account.key("Work")].token.startswith("fake-")
    again, cursor, batches = pull(source, cursor, state)
    assert again == state and batches == []
    account.delete("Work", "a@x")
    account.put("Work", event("b@x", summary="Coffee, moved"))
    state, cursor, _ = pull(source, cursor, state)
    assert summaries(state) == {"b@x": "Coffee, moved"}


def standups(db, zone: str) -> list[str]:
    """The stored starts of the floating series, as the user's wall clock in `zone` shows them."""
    return [f"{datetime.fromisoformat(start).astimezone(ZoneInfo(zone)):%m-%d %H:%M}" for (start,) in db.execute(
        "SELECT start FROM events WHERE source_id LIKE '%standup@x%' ORDER BY start")]


def test_floating_times_are_the_users_wall_clock_and_move_once_when_the_zone_changes(account, db):
    account.calendar("Work")
    account.put("Work", event("standup@x", start="20260316T090000", rrule="FREQ=WEEKLY;COUNT=3"))  # DST: 29 March
    account.put("Work", event("call@x", start="20260320T150000Z"))
    first = sync_source(db, account.source(timezone="Europe/Berlin"))
    assert (first.error, first.new_events) == (None, 4)
    assert standups(db, "Europe/Berlin") == ["03-16 09:00", "03-23 09:00", "03-30 09:00"]
    same = sync_source(db, account.source(timezone="Europe/Berlin"))
    assert (same.error, same.events, same.notes) == (None, 0, [])                   # nothing read again
    moved = sync_source(db, account.source(timezone="Asia/Tokyo"))
    assert moved.error is None and moved.notes == [
        "your time zone is now Asia/Tokyo (was Europe/Berlin): every calendar is read again, for the times "
        "written without a zone"]
    assert standups(db, "Asia/Tokyo") == ["03-16 09:00", "03-23 09:00", "03-30 09:00"]   # the Berlin rows swept
    assert db.execute("SELECT start FROM events WHERE source_id LIKE '%call@x'").fetchall() == [
        ("2026-03-20T15:00:00+00:00",)]
    again = sync_source(db, account.source(timezone="Asia/Tokyo"))
    assert (again.events, again.notes, db.execute("SELECT count(*) FROM events").fetchone()[0]) == (0, [], 4)


def test_a_cursor_from_before_the_zone_was_recorded_counts_as_utc(account):
    account.calendar("Work")
    account.put("Work", event("standup@x", start="20260316T090000"))
    state, cursor, _ = pull(account.source(), None)
    older = cursor.replace(',"zone":"UTC"', "")
    assert older != cursor and caldav_calendar.CaldavCursor.parse(older, account.source().account).zone is None
    assert pull(account.source(), older, state)[2] == []
    moved, _, batches = pull(account.source(timezone="Europe/Berlin"), older, state)
    assert batches[0].all_stale and [n for b in batches for n in b.notes] == [
        "times written without a zone are now read in your time zone, Europe/Berlin (older versions read them as "
        "UTC): every calendar is read again"]
    assert [r.start.isoformat() for r in moved.values()] == ["2026-03-16T08:00:00+00:00"]


def test_a_weekly_meeting_never_runs_out_of_occurrences(account):
    """Series are expanded a year ahead; half a year later the calendar is read whole again, further."""
    account.calendar("Work")
    account.put("Work", event("w@x", start="20260105T090000Z", rrule="FREQ=WEEKLY"))
    state, cursor, _ = pull(account.source(), None)
    last = max(r.start for r in state.values())
    assert NOW + timedelta(days=358) < last <= NOW + timedelta(days=365)
    soon, cursor_soon, batches = pull(account.source(now=NOW + timedelta(days=30)), cursor, state)
    assert soon == state and batches == []
    later, _, _ = pull(account.source(now=NOW + timedelta(days=200)), cursor, state)
    assert max(r.start for r in later.values()) > NOW + timedelta(days=558)
    assert set(state) < set(later)


@pytest.mark.parametrize("fail_after", range(6))
def test_a_sync_killed_after_any_batch_then_rerun_equals_a_clean_run(account, tmp_path, fail_after):
    """New, changed and deleted events in two calendars and a calendar gone: every batch boundary is a kill."""
    from daemon import store
    for name in ("Work", "Home", "Old"):
        account.calendar(name)
    for uid in ("a@x", "b@x", "c@x"):
        account.put("Work", event(uid))
    account.put("Home", event("h@x", rrule="FREQ=DAILY;COUNT=3"))
    account.put("Old", event("o@x"))
    crashed, clean = store.open_store(tmp_path / "crashed.db"), store.open_store(tmp_path / "clean.db")
    for db in (crashed, clean):
        sync_source(db, account.source(fetch=1))
    account.delete("Work", "a@x")
    account.put("Work", event("b@x", summary="Changed"))
    account.put("Work", event("d@x"))
    account.put("Home", event("h@x", rrule="FREQ=DAILY;COUNT=2"))
    account.calendars["Old"].delete()
    expected = sync_source(clean, account.source(fetch=1))
    assert expected.error is None and expected.batches >= 5
    failed = sync_source(crashed, FailsAfter(account.source(fetch=1), fail_after))
    assert (failed.error is not None) == (fail_after < expected.batches)
    rerun = sync_source(crashed, account.source(fetch=1))
    assert rerun.error is None
    assert dump(crashed) == dump(clean)


# ---------------------------------------------------------------- read-only, and errors


def test_a_sync_only_reads(account, db, caplog):
    """Radicale logs every request: a sync sends none that could change anything."""
    account.calendar("Work")
    account.put("Work", event("a@x", rrule="FREQ=WEEKLY;COUNT=3"))
    caplog.set_level(logging.INFO, logger="radicale")
    caplog.clear()
    for _ in range(2):
        assert sync_source(db, account.source()).error is None
    methods = {record.getMessage().split(" ", 1)[0] for record in caplog.records
               if " request for " in record.getMessage()}
    assert methods and methods <= {"PROPFIND", "REPORT", "GET", "OPTIONS"}, methods


def test_a_wrong_password_is_one_line_naming_the_server_and_the_fix(account, db):
    result = sync_source(db, account.source(password="wrong"))
    assert result.error.startswith(f"caldav:cal: {account.server.url} refused the login of alice")
    assert "kith auth caldav --source cal" in result.error and "app password" in result.error
    assert "\n" not in result.error


def test_an_unreachable_server_and_a_web_page_are_one_line_each(account, db, tmp_path):
    from tests.servers import _free_port, web_page
    closed = sync_source(db, account.source(url=f"http://127.0.0.1:{_free_port()}/"))
    assert "cannot reach http://127.0.0.1:" in closed.error and "connection refused" in closed.error

    with web_page() as url:
        result = sync_source(db, account.source(url=url))
    assert result.error is not None and "\n" not in result.error and "Traceback" not in result.error
    assert "CalDAV" in result.error or "caldav" in result.error.split(":", 2)[2], result.error


def test_a_self_signed_certificate_is_refused_in_one_line_unless_ca_file_names_it(radicale_tls, tmp_path, db):  # noqa: F811
    account = Account(radicale_tls, tmp_path, verify=str(radicale_tls.certificate))
    account.calendar("Work")
    account.put("Work", event("a@x"))
    refused = sync_source(db, account.source())
    assert refused.error.startswith(f"caldav:cal: TLS with {radicale_tls.url} is not trusted (self-signed "
                                    "certificate) — ")          # the check's own words, not the library's repr
    assert "name that certificate in ca_file" in refused.error and "\n" not in refused.error
    (tmp_path / "server.pem").write_bytes(radicale_tls.certificate.read_bytes())
    trusted = sync_source(db, account.source(ca_file="server.pem"))      # relative to the config file
    assert (trusted.error, trusted.new_events) == (None, 1)


@pytest.mark.parametrize(("content", "expected"), [(None, "no certificate file at "),
                                                   (b"not a certificate", "holds no certificate in PEM form")])
def test_a_ca_file_that_is_missing_or_no_certificate_is_one_line(account, db, tmp_path, content, expected):
    if content is not None:
        (tmp_path / "server.pem").write_bytes(content)
    result = sync_source(db, account.source(ca_file="server.pem"))
    assert result.error.startswith("caldav:cal: ") and expected in result.error and "ca_file" in result.error
    assert str(tmp_path / "server.pem") in result.error and "\n" not in result.error


# ---------------------------------------------------------------- interrupted passes (bug hunt 22)


def _first_batches(source, cursor, n):
    """The first n batches of a pull, as a sync killed after them applies them."""
    batches = []
    for batch in source.pull(cursor):
        batches.append(batch)
        if len(batches) == n:
            break
    return batches


def test_an_interrupted_pass_after_an_unreadable_cursor_still_ends_with_its_sweep(account):
    from tests.contract import apply_to_memory
    account.calendar("Work")
    account.calendar("Home")
    for uid in ("a@x", "b@x"):
        account.put("Work", event(uid))
    account.put("Home", event("h@x"))
    state, _, _ = pull(account.source(fetch=1), None)
    account.delete("Work", "a@x")
    killed = _first_batches(account.source(fetch=1), "not a cursor", 3)
    for batch in killed:
        apply_to_memory(state, batch)
    state, cursor, _ = pull(account.source(fetch=1), killed[-1].cursor, state)
    assert sorted(summaries(state)) == ["b@x", "h@x"] and all(r.scope != "~" for r in state.values())
    assert caldav_calendar.CaldavCursor.parse(cursor, account.source().account).resync is False


def test_an_interrupted_sweep_of_many_deletions_goes_on_from_the_old_token(account, monkeypatch):
    from tests.contract import apply_to_memory
    monkeypatch.setattr(caldav_calendar, "SCOPES_PER_BATCH", 1)
    account.calendar("Work")
    for uid in ("a@x", "b@x", "c@x", "d@x"):
        account.put("Work", event(uid))
    state, cursor, _ = pull(account.source(), None)
    for uid in ("a@x", "b@x", "c@x"):
        account.delete("Work", uid)
    killed = _first_batches(account.source(), cursor, 1)
    for batch in killed:
        apply_to_memory(state, batch)
    assert len(state) == 3
    state, _, _ = pull(account.source(), killed[-1].cursor, state)
    assert sorted(summaries(state)) == ["d@x"]


def test_an_interrupted_rename_renames_every_event_on_the_next_sync(account):
    from caldav.elements import dav
    from tests.contract import apply_to_memory
    work = account.calendar("Work")
    for uid in ("a@x", "b@x", "c@x"):
        account.put("Work", event(uid))
    state, cursor, _ = pull(account.source(fetch=1), None)
    work.set_properties([dav.DisplayName("Acme")])
    killed = _first_batches(account.source(fetch=1), cursor, 1)
    for batch in killed:
        apply_to_memory(state, batch)
    state, _, _ = pull(account.source(fetch=1), killed[-1].cursor, state)
    assert {r.calendar for r in state.values()} == {"Acme"}


def test_a_cursor_of_the_right_shape_with_wrong_values_is_read_again(account):
    account.calendar("Work")
    account.put("Work", event("a@x"))
    state, cursor, _ = pull(account.source(), None)
    broken = cursor.replace('"token":"', '"token":7,"x":"')
    again, _, batches = pull(account.source(), broken, state)
    assert again == state and batches[0].all_stale


def test_only_an_unknown_token_or_a_refused_report_reads_a_calendar_whole():
    """A bare 403 or 412 on a token is taken as expired (some servers say no more); a refused login, a busy
    or failing server is not: the sync fails and is tried again, without re-reading everything."""
    from caldav.lib import error
    assert caldav_calendar._expired_token(error.AuthorizationError(reason="Forbidden", status=403))
    assert caldav_calendar._expired_token(error.ReportError(reason="Precondition Failed", status=412))
    assert not caldav_calendar._expired_token(error.AuthorizationError(reason="Unauthorized", status=401))
    for status in (429, 500, 503):
        assert not caldav_calendar._expired_token(error.ReportError(reason="busy", status=status))


def test_plain_http_to_an_https_server_and_a_name_that_does_not_exist_say_what_to_fix(radicale_tls, tmp_path, db):  # noqa: F811
    account = Account(radicale_tls, tmp_path, verify=str(radicale_tls.certificate))
    plain = radicale_tls.url.replace("https://", "http://")
    hung_up = sync_source(db, account.source(url=plain))
    assert hung_up.error == (f"caldav:cal: {plain} hung up on a plain http request — the server may speak https "
                             "only: write the url with https://")
    unknown = sync_source(db, account.source(url="https://kith-test.invalid/dav/"))
    assert unknown.error.startswith("caldav:cal: cannot find the server of https://kith-test.invalid/dav/ (no such "
                                    "name, or no network)")


def test_an_object_whose_name_holds_a_percent_escape_is_read(account, radicale):  # noqa: F811
    """A file named a%2Fb.ics (a literal escape): the library's multiget answers it decoded twice; it is fetched
    alone, not taken for gone (hunt 22)."""
    account.calendar("Work")
    account.put("Work", event("plain@x"))
    folder = Path(radicale.users_file).parent / "collections" / "collection-root" / "alice" / "work"
    (folder / "a%2Fb.ics").write_text(event("escaped@x", summary="Escaped"))
    state, _, batches = pull(account.source(), None)
    assert sorted(summaries(state).values()) == ["Coffee", "Escaped"]
