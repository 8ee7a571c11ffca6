"""The iCalendar connector: the contract, recurrence, cancellations and real invitations."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors import ics
from connectors.base import Address, EventMeta
from connectors.ics import IcsSource
from daemon.errors import SourceError
from tests.contract import BODY_MARKER, SourceContract, pull

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ics"
OPENBMC = Path("/work/shared/data/ics/openbmc")
NOW = datetime(2024, 6, 1, tzinfo=UTC)
SERIES = ("040000008200E00074C5B7101A82E0080000000070E6F7A8671AD5010000000000000000"
          "100000004AC07A88024A1D4996776C70FF677830")


def events(name: str, now: datetime = NOW) -> tuple[dict[str, EventMeta], list[str]]:
    return events_of(IcsSource("t", FIXTURES / name, now=now))


def events_of(source: IcsSource) -> tuple[dict[str, EventMeta], list[str]]:
    batches = list(source.pull(None))
    return {e.source_id: e for b in batches for e in b.events}, [n for b in batches for n in b.notes]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class TestIcsContract(SourceContract):
    """A folder of .ics files: additions are a new file, removals drop a VEVENT from a file."""

    def make_source(self, tmp_path: Path) -> IcsSource:
        shutil.copytree(FIXTURES / "contract", tmp_path / "calendars")
        return IcsSource("cal", tmp_path / "calendars", now=NOW)

    def add_item(self, tmp_path: Path) -> str:
        (tmp_path / "calendars" / "added.ics").write_text(
            "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:added@kith.test\nDTSTAMP:20240101T000000Z\n"
            f"DTSTART:20240201T100000Z\nSUMMARY:Added\nDESCRIPTION:{BODY_MARKER}\nEND:VEVENT\nEND:VCALENDAR\n")
        return "added@kith.test"

    def remove_item(self, tmp_path: Path) -> str:
        path = tmp_path / "calendars" / "team.ics"
        text = path.read_bytes().decode()
        path.write_bytes(re.sub(r"BEGIN:VEVENT\r\nUID:remove-me@kith.test.*?END:VEVENT\r\n", "", text,
                                flags=re.S).encode())
        return "remove-me@kith.test"

    def expected_ids(self) -> set[str]:
        standups = {f"standup@kith.test@2024-01-{d:02d}T09:00:00Z" for d in (8, 9, 10)}
        return {"kickoff@kith.test", "remove-me@kith.test", "lunch@kith.test"} | standups


def test_recurrence_with_an_exdate_and_an_override():
    found, notes = events("recurring_exdate_override.ics")
    uid = "weekly-1@kith.test"
    assert sorted(found) == [f"{uid}@2024-01-{d}T08:00:00Z" for d in ("01", "08", "22", "29")]  # 15th excluded
    moved = found[f"{uid}@2024-01-22T08:00:00Z"]                 # keyed by the occurrence it replaces
    assert (moved.start, moved.end) == (utc(2024, 1, 23, 13), utc(2024, 1, 23, 13, 30))
    assert moved.summary == "Weekly sync (moved)"
    first = found[f"{uid}@2024-01-01T08:00:00Z"]
    assert first.organizer == Address("olga@example.com", "Olga Organiser")
    assert first.attendees == ((Address("ann@example.com", "Ann"), "ACCEPTED"),)
    assert notes == []


def test_the_expansion_window_ends_a_year_after_now():
    found, _ = events("all_day_events.ics", now=utc(2024, 6, 1))
    anna = sorted(k for k in found if k.startswith("anna-birthday"))
    assert anna[0] == "anna-birthday@kith.test@2022-03-12T00:00:00Z"
    assert anna[-1] == "anna-birthday@kith.test@2025-03-12T00:00:00Z"   # 2026 is past now + 365 days


def test_all_day_events_are_midnight_utc_and_birthdays_are_recognised():
    found, _ = events("all_day_events.ics")
    holiday = found["holiday@kith.test"]
    assert (holiday.start, holiday.end, holiday.all_day, holiday.birthday) == (
        utc(2024, 5, 1), utc(2024, 5, 2), True, False)
    assert found["anna-birthday@kith.test@2024-03-12T00:00:00Z"].birthday is True      # CATEGORIES
    assert events("birthdays.ics")[0]["bob-birthday@kith.test"].birthday is True       # the file name
    jan = events("geburtstage_calname.ics")[0]["jan-geburtstag@kith.test"]             # X-WR-CALNAME
    assert jan.birthday is True and jan.calendar == "Geburtstage"
    assert holiday.calendar == "all_day_events"


def test_cancelled_by_status_or_by_method_cancel():
    found, _ = events("cancelled_status.ics")
    assert found["called-off@kith.test"].cancelled is True and found["called-off@kith.test"].sequence == 3
    still = found["still-on@kith.test"]
    assert still.cancelled is False and still.end == utc(2024, 3, 2, 15, 45)          # DURATION
    yahoo, _ = events("yahoo_cancel_series.ics")                                       # METHOD:CANCEL
    assert yahoo and all(e.cancelled for e in yahoo.values())


def test_partstat_and_addresses():
    event = events("partstat.ics")[0]["partstat@kith.test"]
    assert event.organizer == Address("boss@example.com", "Boss, The")
    assert event.attendees == (
        (Address("ann@example.com", "Ann"), "ACCEPTED"), (Address("ben@example.com", "Ben"), "DECLINED"),
        (Address("cem@example.com", "Cem"), "TENTATIVE"), (Address("dee@example.com", "Dee"), "NEEDS-ACTION"))


def test_floating_times_are_the_users_wall_clock_utc_by_default_and_crlf_parses():
    assert b"\r\n" in (FIXTURES / "floating_times_crlf.ics").read_bytes()
    event = events("floating_times_crlf.ics")[0]["floating@kith.test"]
    assert (event.start, event.end) == (utc(2024, 3, 6, 10), utc(2024, 3, 6, 11))
    tokyo, _ = events_of(IcsSource("t", FIXTURES / "floating_times_crlf.ics", now=NOW, zone=ZoneInfo("Asia/Tokyo")))
    event = tokyo["floating@kith.test"]
    assert (event.start, event.end) == (utc(2024, 3, 6, 1), utc(2024, 3, 6, 2))        # 10:00 in Tokyo


def test_real_invitations_exchange_crlf_google_lf_and_a_cancellation_share_ids(tmp_path):
    exchange, _ = events("exchange_request_crlf_vtimezone.ics")
    assert b"\r\n" in (FIXTURES / "exchange_request_crlf_vtimezone.ics").read_bytes()
    assert sorted(exchange) == [f"{SERIES}@2019-{d}T16:30:00Z" for d in ("07-09", "08-06", "09-03", "10-01",
                                                                          "10-29")]
    assert all(e.sequence == 2 and not e.cancelled for e in exchange.values())
    cancel, _ = events("exchange_cancel_one_occurrence.ics")
    assert list(cancel) == [f"{SERIES}@2019-09-03T16:30:00Z"]                        # the same occurrence
    assert cancel[f"{SERIES}@2019-09-03T16:30:00Z"].cancelled and cancel[f"{SERIES}@2019-09-03T16:30:00Z"].sequence == 5
    google, _ = events("google_request_lf.ics")
    assert b"\r\n" not in (FIXTURES / "google_request_lf.ics").read_bytes()
    review = google["3k4b3urjjcs9pef2euo9aa87sv@google.com"]
    assert (review.start, review.summary) == (utc(2020, 2, 5, 5, 30), "BMC Aggregator Review")
    assert (Address("rhanley@google.com", "rhanley@google.com"), "ACCEPTED") in review.attendees


def test_a_folder_of_an_invitation_and_its_cancellation_keeps_the_highest_sequence(tmp_path):
    folder = tmp_path / "invites"
    folder.mkdir()
    for name in ("exchange_request_crlf_vtimezone.ics", "exchange_cancel_one_occurrence.ics"):
        shutil.copy(FIXTURES / name, folder / name)
    state, _, batches = pull(IcsSource("i", folder, now=NOW), None)
    assert len(batches) == 1 and batches[0].full_resync and len(state) == 5
    assert state[f"{SERIES}@2019-09-03T16:30:00Z"].cancelled is True
    assert sum(e.cancelled for e in state.values()) == 1


def test_no_description_or_location_leaves(tmp_path):
    found, _ = events("recurring_exdate_override.ics")
    text = repr(list(found.values()))
    assert BODY_MARKER not in text and "Room 1" not in text and "Dial-in" not in text


def test_bad_events_are_skipped_with_a_note():
    found, notes = events("bad_events_among_good.ics")
    assert list(found) == ["good@kith.test"]
    assert notes == ["bad_events_among_good.ics: event no-start@kith.test has no usable DTSTART or DTEND, skipped",
                     "bad_events_among_good.ics: event bad-start@kith.test has no usable DTSTART or DTEND, skipped"]


def test_a_broken_file_as_the_path_is_a_clear_error():
    with pytest.raises(SourceError) as caught:
        list(IcsSource("b", FIXTURES / "broken_syntax.ics", now=NOW).pull(None))
    line = caught.value.line()
    assert "broken_syntax.ics" in line and "iCalendar" in line and "export" in line and "\n" not in line


def test_a_broken_file_in_a_folder_is_noted_once_and_keeps_the_others(tmp_path):
    shutil.copytree(FIXTURES / "contract", tmp_path / "cal")
    shutil.copy(FIXTURES / "broken_syntax.ics", tmp_path / "cal" / "broken.ics")
    source = IcsSource("c", tmp_path / "cal", now=NOW)
    state, cursor, batches = pull(source, None)
    assert len(state) == 6
    notes = [n for b in batches for n in b.notes]
    assert len(notes) == 1 and notes[0].startswith("broken.ics: cannot be read as iCalendar")
    assert [b.scopes for b in batches if b.notes] == [()]             # nothing swept for a broken file
    assert list(source.pull(cursor)) == []


def test_a_vanished_file_is_an_empty_batch_with_the_scopes_of_its_uids(tmp_path):
    shutil.copytree(FIXTURES / "contract", tmp_path / "cal")
    source = IcsSource("c", tmp_path / "cal", now=NOW)
    state, cursor, _ = pull(source, None)
    lunch = state["lunch@kith.test"].scope
    assert lunch.startswith("uid:") and len({e.scope for e in state.values()}) == 4   # one scope per UID
    (tmp_path / "cal" / "personal" / "lunch.ics").unlink()
    state, _, batches = pull(source, cursor, state)
    assert [(b.scopes, b.events, b.deleted) for b in batches] == [((lunch,), (), ())]
    assert "lunch@kith.test" not in state


@pytest.mark.skipif(not OPENBMC.exists(), reason="needs /work/shared/data/ics (not shipped with the repo)")
def test_every_real_openbmc_invitation_parses():
    files = sorted(OPENBMC.glob("*.ics"))
    assert len(files) == 18
    for file in files:                                               # each file on its own
        found, notes = events_of(IcsSource("one", file, now=utc(2020, 3, 1)))
        assert found and notes == [], file.name
        if "_cancel_" in file.name:
            assert all(e.cancelled for e in found.values()), file.name
    batches = list(IcsSource("openbmc", OPENBMC, now=utc(2020, 3, 1)).pull(None))
    assert [n for b in batches for n in b.notes] == []
    people = {a.email for b in batches for e in b.events for a, _ in e.attendees}
    assert "openbmc@lists.ozlabs.org" in people and all("@" in p and p == p.lower() for p in people)


def every(freq: str, *, uid: str = "1", start: str = "20250101T100000Z") -> str:
    """The tester's file: a rule with neither COUNT nor UNTIL, one property per line."""
    return (f"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:{uid}\nDTSTART:{start}\nDTEND:{start[:-2]}1Z\n"
            f"RRULE:FREQ={freq}\nORGANIZER:mailto:sam@keller.example\nATTENDEE:mailto:a@example.com\n"
            "END:VEVENT\nEND:VCALENDAR\n")


@pytest.mark.parametrize("freq,step", [("SECONDLY", 1), ("MINUTELY", 60), ("HOURLY", 3600)])
def test_an_endless_rule_stops_at_the_cap_with_a_note_naming_file_and_event(tmp_path, monkeypatch, freq, step):
    monkeypatch.setattr(ics, "MAX_OCCURRENCES", 40)       # the default works the same, only slower
    (tmp_path / "every.ics").write_text(every(freq))
    found, notes = events_of(IcsSource("e", tmp_path / "every.ics", now=utc(2025, 1, 2)))
    assert notes == ["every.ics: event 1 repeats too often to expand in full, kept its first 40 occurrences"]
    assert sorted(e.start for e in found.values()) == [utc(2025, 1, 1, 10) + timedelta(seconds=step * i)
                                                       for i in range(40)]


def test_a_dense_rule_started_long_before_the_window_is_skipped_and_the_others_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(ics, "MAX_STEPS", 1000)           # minutes since 2000 would take dateutil minutes to walk
    text = every("MINUTELY", uid="old", start="20000101T100000Z").replace("END:VCALENDAR\n", "")
    text += every("WEEKLY", uid="weekly", start="20240101T100000Z").replace("BEGIN:VCALENDAR\n", "")
    (tmp_path / "mixed.ics").write_text(text)
    found, notes = events_of(IcsSource("m", tmp_path / "mixed.ics", now=utc(2024, 2, 1)))
    assert notes == ["mixed.ics: event old repeats too often to expand in full, skipped"]
    assert len(found) == 57 and all(k.startswith("weekly@") for k in found)   # 5 weeks back, 52 ahead


def test_the_expansion_library_still_keeps_the_rules_where_the_cap_wraps_them():
    """If recurring_ical_events moves `series.recurrence.rrules`, the cap would quietly stop applying and an
    endless rule would fill memory: fail here first."""
    import icalendar
    import recurring_ical_events
    calendar = icalendar.Calendar.from_ical(every("DAILY"))
    (series,) = recurring_ical_events.of(calendar).series
    rules = series.recurrence.rrules
    assert rules and all(hasattr(rule, "between") and hasattr(rule, "until") for rule in rules)
