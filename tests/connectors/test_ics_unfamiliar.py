"""The iCalendar connector on unfamiliar input: values out of range, rooms among the attendees, text that is
folded inside a character or not UTF-8, time zones nobody defined, and file names that are not UTF-8.

Every test writes real .ics bytes into tmp_path; where the store's limits matter (SQLite INTEGER, text that
must be UTF-8), the batches are applied to a real database with sync_source, as `kith sync` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import Address
from connectors.ics import IcsSource
from daemon import store
from daemon.errors import SourceError
from daemon.sync import sync_source

NOW = datetime(2025, 6, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
GOOD = ("UID:ok-1", "DTSTART:20250106T090000Z", "DTEND:20250106T100000Z", "SUMMARY:Real meeting",
        "ATTENDEE:mailto:anna@x.org")


def calendar(*events: tuple[str, ...], method: str = "") -> bytes:
    """One VCALENDAR, CRLF as Outlook and Exchange write it, with a VEVENT per tuple of lines."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0"] + [f"METHOD:{method}"] * bool(method)
    for event in events:
        lines += ["BEGIN:VEVENT", *event, "END:VEVENT"]
    return ("\r\n".join(lines + ["END:VCALENDAR"]) + "\r\n").encode()


def pulled(path: Path, now: datetime = NOW) -> tuple[dict, list[str]]:
    batches = list(IcsSource("t", path, now=now).pull(None))
    return {e.source_id: e for b in batches for e in b.events}, [n for b in batches for n in b.notes]


def synced(tmp_path: Path, folder: Path):
    """sync_source into a real store: (result, {source_id: (sequence, summary, calendar)})."""
    db = store.open_store(tmp_path / "kith.db")
    result = sync_source(db, IcsSource("cal", folder, now=NOW))
    rows = db.execute("SELECT source_id, sequence, summary, calendar FROM events").fetchall()
    return result, {r[0]: tuple(r[1:]) for r in rows}


# ------------------------------------------------------------ one event the connector cannot hold


@pytest.mark.parametrize("lines", [
    ("UID:forever-1", "DTSTART;VALUE=DATE:99991231", "SUMMARY:Contract runs until further notice"),
    ("UID:forever-1", "DTSTART:20250107T090000Z", "DURATION:P999999999D"),
    ("UID:forever-1", "DTSTART:20250107T090000Z", "DTEND;TZID=America/New_York:99991231T230000"),
    ("UID:forever-1", "DTSTART:20250107T090000Z", "RECURRENCE-ID;TZID=America/New_York:99991231T230000"),
], ids=["all-day-on-9999-12-31", "duration-past-9999", "end-past-9999-in-utc", "recurrence-id-past-9999"])
def test_an_event_past_the_last_date_is_skipped_with_a_note_and_the_rest_stored(tmp_path, lines):
    folder = tmp_path / "cal"
    folder.mkdir()
    (folder / "a.ics").write_bytes(calendar(GOOD))
    (folder / "b.ics").write_bytes(calendar(lines, ("UID:ok-2", "DTSTART:20250108T090000Z")))
    result, rows = synced(tmp_path, folder)
    assert result.error is None
    assert sorted(rows) == ["ok-1", "ok-2"]
    assert result.notes == ["b.ics: event forever-1 could not be read (date value out of range), skipped"]


def test_an_event_past_the_last_date_in_a_cancelled_series_does_not_stop_the_cancellation(tmp_path):
    (tmp_path / "a.ics").write_bytes(calendar(("UID:s", "DTSTART;VALUE=DATE:99991231")))
    (tmp_path / "b.ics").write_bytes(calendar(("UID:s", "SEQUENCE:1", "DTSTART:20250106T090000Z",
                                               "DTEND:20250106T100000Z", "RRULE:FREQ=WEEKLY;COUNT=2"),
                                              method="CANCEL"))
    found, notes = pulled(tmp_path)
    assert sorted(found) == ["s@2025-01-06T09:00:00Z", "s@2025-01-13T09:00:00Z"]
    assert all(e.cancelled for e in found.values()) and notes == []


def test_a_sequence_too_large_for_sqlite_is_clamped_and_the_event_stored(tmp_path):
    (tmp_path / "a.ics").write_bytes(calendar(GOOD))
    (tmp_path / "c.ics").write_bytes(calendar(("UID:seq-1", "SEQUENCE:99999999999999999999",
                                               "DTSTART:20250107T090000Z", "SUMMARY:x")))
    result, rows = synced(tmp_path, tmp_path)
    assert result.error is None
    assert rows["seq-1"][0] == 2**31 - 1 and rows["ok-1"][0] == 0


def test_a_clamped_sequence_still_beats_a_lower_one(tmp_path):
    (tmp_path / "a.ics").write_bytes(calendar(("UID:s", "SEQUENCE:3", "DTSTART:20250107T090000Z", "SUMMARY:Old")))
    (tmp_path / "b.ics").write_bytes(calendar(("UID:s", "SEQUENCE:99999999999999999999",
                                               "DTSTART:20250107T100000Z", "SUMMARY:New")))
    found, _ = pulled(tmp_path)
    assert found["s"].summary == "New" and found["s"].sequence == 2**31 - 1


# ------------------------------------------------------------ rooms and equipment


def test_rooms_and_resources_are_not_attendees_whatever_the_case(tmp_path):
    (tmp_path / "team.ics").write_bytes(calendar((
        "UID:weekly-1", "DTSTART:20250106T090000Z", "DTEND:20250106T100000Z", "RRULE:FREQ=WEEKLY;COUNT=2",
        "ORGANIZER;CN=Me:mailto:me@example.org",
        "ATTENDEE;CN=Anna Berger;PARTSTAT=ACCEPTED:mailto:anna@partner.example",
        "ATTENDEE;CUTYPE=ROOM;CN=Conf Room Berlin 4B;PARTSTAT=ACCEPTED:mailto:conf-berlin-4b@partner.example",
        "ATTENDEE;CUTYPE=resource;CN=Beamer 2;PARTSTAT=ACCEPTED:mailto:beamer2@example.org",
        "ATTENDEE;CUTYPE=Room:mailto:room2@partner.example",
        "ATTENDEE;CUTYPE=GROUP;CN=List:mailto:list@lists.example",          # a mailing list: people behind it
        "ATTENDEE;CUTYPE=INDIVIDUAL;CN=Ben:mailto:ben@partner.example")))
    found, notes = pulled(tmp_path)
    assert len(found) == 2 and notes == []
    for event in found.values():
        assert [a.email for a, _ in event.attendees] == ["anna@partner.example", "list@lists.example",
                                                         "ben@partner.example"]


def test_a_meeting_with_one_person_and_a_room_has_one_attendee_in_the_store(tmp_path):
    (tmp_path / "one.ics").write_bytes(calendar((
        "UID:1on1", "DTSTART:20250106T090000Z", "ORGANIZER:mailto:me@example.org",
        "ATTENDEE;CN=Anna:mailto:anna@partner.example", "ATTENDEE;CUTYPE=ROOM:mailto:room@partner.example")))
    db = store.open_store(tmp_path / "kith.db")
    assert sync_source(db, IcsSource("cal", tmp_path, now=NOW)).error is None
    assert db.execute("SELECT email FROM attendees").fetchall() == [("anna@partner.example",)]


# ------------------------------------------------------------ folding and encodings


def test_a_fold_inside_a_utf8_character_is_unfolded_before_decoding(tmp_path):
    title = "Besprechung Müller".encode()
    cut = title.index("ü".encode()) + 1                      # between the two bytes of ü, as at 75 octets
    name = "Jürgen Weiß".encode()
    data = calendar(("UID:f", "DTSTART:20250106T090000Z", "SUMMARY:X", "ATTENDEE;CN=NAME:mailto:j@x.org"))
    data = data.replace(b"SUMMARY:X", b"SUMMARY:" + title[:cut] + b"\r\n " + title[cut:])
    data = data.replace(b"CN=NAME", b"CN=" + name[:2] + b"\r\n\t" + name[2:])      # a tab folds as well
    (tmp_path / "fold.ics").write_bytes(data)
    found, notes = pulled(tmp_path / "fold.ics")
    assert found["f"].summary == "Besprechung Müller" and notes == []
    assert found["f"].attendees == ((Address("j@x.org", "Jürgen Weiß"), "NEEDS-ACTION"),)


def test_a_cp1252_file_is_read_as_cp1252(tmp_path):
    data = calendar(("UID:l", "DTSTART:20250106T090000Z", "SUMMARY:Förderung Müller – 5 €",
                     "ATTENDEE;CN=Zoë:mailto:zoe@x.org")).decode().encode("cp1252")
    (tmp_path / "latin.ics").write_bytes(data)
    found, notes = pulled(tmp_path / "latin.ics")
    assert found["l"].summary == "Förderung Müller – 5 €" and notes == []
    assert found["l"].attendees[0][0] == Address("zoe@x.org", "Zoë")


def test_one_cp1252_line_in_a_utf8_file_leaves_the_utf8_lines_alone(tmp_path):
    data = calendar(("UID:m", "DTSTART:20250106T090000Z", "SUMMARY:Förderung", "ATTENDEE;CN=Zoë:mailto:zoe@x.org"))
    data = data.replace("SUMMARY:Förderung".encode(), "SUMMARY:Förderung".encode("cp1252"))
    (tmp_path / "mixed.ics").write_bytes(data)
    found, notes = pulled(tmp_path / "mixed.ics")
    assert found["m"].summary == "Förderung" and found["m"].attendees[0][0].name == "Zoë" and notes == []


@pytest.mark.parametrize("bom,newline", [(b"", b"\r\n"), (b"", b"\n"), (b"\xef\xbb\xbf", b"\r\n"),
                                         (b"\xef\xbb\xbf", b"\n")])
def test_bom_and_line_endings_with_a_folded_utf8_line(tmp_path, bom, newline):
    data = calendar(("UID:b", "DTSTART:20250106T090000Z", "SUMMARY:Größe\r\n  und Maß")).replace(b"\r\n", newline)
    (tmp_path / "b.ics").write_bytes(bom + data)
    found, notes = pulled(tmp_path / "b.ics")
    assert found["b"].summary == "Größe und Maß" and notes == []


# ------------------------------------------------------------ time zones


def test_an_unknown_tzid_without_vtimezone_is_read_as_utc_with_a_note_naming_file_and_zone(tmp_path):
    outlook = '"(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna"'
    (tmp_path / "tz.ics").write_bytes(calendar(
        ("UID:c2", f"DTSTART;TZID={outlook}:20240710T100000", f"DTEND;TZID={outlook}:20240710T110000"),
        ("UID:c2b", f"DTSTART;TZID={outlook}:20240711T100000", "RRULE:FREQ=DAILY;COUNT=2"),
        ("UID:c2b", f"DTSTART;TZID={outlook}:20240712T150000", f"RECURRENCE-ID;TZID={outlook}:20240712T100000"),
        ("UID:c4", "DTSTART;TZID=GMT+0100:20240710T100000", "DURATION:PT1H"),
        ("UID:utc", "DTSTART:20240710T100000Z")))
    found, notes = pulled(tmp_path / "tz.ics")
    assert found["c2"].start == datetime(2024, 7, 10, 10, tzinfo=UTC)
    assert found["c4"].start == datetime(2024, 7, 10, 10, tzinfo=UTC)
    assert notes == [
        "tz.ics: unknown time zone (UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna and no VTIMEZONE "
        "for it: the times of 2 events (c2, c2b) are read as UTC, perhaps hours off",
        "tz.ics: unknown time zone GMT+0100 and no VTIMEZONE for it: the times of event c4 are read as UTC, "
        "perhaps hours off"]


def test_windows_and_vendor_prefixed_zone_names_are_mapped(tmp_path):
    (tmp_path / "tz.ics").write_bytes(calendar(
        ("UID:win", "DTSTART;TZID=W. Europe Standard Time:20240710T100000"),
        ("UID:moz", "DTSTART;TZID=/mozilla.org/20070129_1/Europe/Berlin:20240710T100000", "DURATION:PT1H"),
        ("UID:ny", "DTSTART;TZID=America/New_York:20240710T100000", "RRULE:FREQ=DAILY;COUNT=1",
         "EXDATE;TZID=Unknown/Zone:20240711T100000")))
    found, notes = pulled(tmp_path / "tz.ics")
    assert found["win"].start == found["moz"].start == datetime(2024, 7, 10, 8, tzinfo=UTC)
    assert found["ny@2024-07-10T14:00:00Z"].start == datetime(2024, 7, 10, 14, tzinfo=UTC)
    assert notes == ["tz.ics: unknown time zone Unknown/Zone and no VTIMEZONE for it: "
                     "the times of event ny are read as UTC, perhaps hours off"]


def test_a_library_warning_does_not_reach_the_terminal(tmp_path):
    """In a fresh process, where the library warns once per zone, as in `kith sync`."""
    (tmp_path / "moz.ics").write_bytes(calendar(
        ("UID:moz", "DTSTART;TZID=/kith.test/20070129_1/Europe/Berlin:20240710T100000", "DURATION:PT1H")))
    code = ("import sys; from datetime import datetime, UTC; from connectors.ics import IcsSource\n"
            "batches = list(IcsSource('t', sys.argv[1], now=datetime(2025, 1, 1, tzinfo=UTC)).pull(None))\n"
            "print([e.start.isoformat() for b in batches for e in b.events], [n for b in batches for n in b.notes])")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONWARNINGS": ""})
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.strip() == "['2024-07-10T08:00:00+00:00'] []"


# ------------------------------------------------------------ file names that are not UTF-8


def test_a_calendar_file_whose_name_is_not_utf8_is_stored(tmp_path):
    folder = tmp_path / "cal"
    folder.mkdir()
    name = os.fsdecode(b"B\xfcro.ics")                    # Latin-1 "Büro", from an old archive or a Windows zip
    (folder / name).write_bytes(calendar(GOOD))
    (folder / "ok.ics").write_bytes(calendar(("UID:ok-2", "DTSTART:20250108T090000Z")))
    result, rows = synced(tmp_path, folder)
    assert result.error is None and result.notes == []
    assert rows["ok-1"] == (0, "Real meeting", "B\\xfcro") and "ok-2" in rows


def test_a_single_calendar_file_whose_name_is_not_utf8_is_stored(tmp_path):
    path = tmp_path / os.fsdecode(b"Geb\xfcrtstage.ics")
    path.write_bytes(calendar(GOOD))
    db = store.open_store(tmp_path / "kith.db")
    result = sync_source(db, IcsSource("cal", path, now=NOW))
    assert result.error is None
    assert db.execute("SELECT source_id, calendar FROM events").fetchall() == [("ok-1", "Geb\\xfcrtstage")]


def test_a_broken_single_file_whose_name_is_not_utf8_is_an_error_that_can_be_printed(tmp_path):
    path = tmp_path / os.fsdecode(b"Kaputt\xfc.ics")
    path.write_bytes(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:bad\r\n")
    with pytest.raises(SourceError) as caught:
        list(IcsSource("cal", path, now=NOW).pull(None))
    line = caught.value.line()
    assert "Kaputt\\xfc.ics" in line.encode("utf-8").decode() and "\n" not in line


# ------------------------------------------------------------ a folder emptied at once


def test_a_calendar_folder_suddenly_empty_is_an_error_that_keeps_the_events(tmp_path):
    folder = tmp_path / "cal"
    folder.mkdir()
    (folder / "a.ics").write_bytes(calendar(GOOD))
    db = store.open_store(tmp_path / "kith.db")
    assert sync_source(db, IcsSource("cal", folder, now=NOW)).error is None
    (folder / "a.ics").unlink()                                  # an unmounted share leaves its empty mount point
    failed = sync_source(db, IcsSource("cal", folder, now=NOW))
    assert "none of the 1 files read before is there now" in failed.error and "kith forget cal" in failed.error
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 1
