"""Floating times (no TZID, no Z) in .ics files: wall-clock time in the user's zone, and read again once when
that zone changes, so that what the store holds moves with it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from connectors.ics import IcsSource
from daemon import config as cfg
from daemon.store import open_store
from daemon.sync import build_source, sync_source
from tests.contract import pull

NOW = datetime(2024, 3, 1, tzinfo=UTC)
BERLIN, TOKYO = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Tokyo")
# a weekly 09:00 across Berlin's change to summer time (31 March 2024), one week left out, one moved to 11:00
STANDUP = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Kith tests//EN
BEGIN:VEVENT
UID:standup@kith.test
DTSTAMP:20240101T000000Z
DTSTART:20240318T090000
DTEND:20240318T093000
RRULE:FREQ=WEEKLY;COUNT=4
EXDATE:20240408T090000
SUMMARY:Standup
END:VEVENT
BEGIN:VEVENT
UID:standup@kith.test
DTSTAMP:20240101T000000Z
RECURRENCE-ID:20240325T090000
DTSTART:20240325T110000
DTEND:20240325T113000
SUMMARY:Standup moved
END:VEVENT
END:VCALENDAR
"""
OTHERS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Kith tests//EN
BEGIN:VEVENT
UID:call@kith.test
DTSTAMP:20240101T000000Z
DTSTART:20240320T150000Z
DTEND:20240320T160000Z
SUMMARY:Call in UTC
END:VEVENT
BEGIN:VEVENT
UID:holiday@kith.test
DTSTAMP:20240101T000000Z
DTSTART;VALUE=DATE:20240501
DTEND;VALUE=DATE:20240502
SUMMARY:Holiday
END:VEVENT
END:VCALENDAR
"""


def calendar(tmp_path: Path) -> Path:
    folder = tmp_path / "cal"
    folder.mkdir()
    (folder / "standup.ics").write_text(STANDUP)
    (folder / "others.ics").write_text(OTHERS)
    return folder


def local(state: dict, zone: ZoneInfo) -> dict[str, str]:
    """Each event's title and start as the user's wall clock shows it."""
    return {e.summary: f"{e.start.astimezone(zone):%m-%d %H:%M}" for e in state.values() if "Standup" in e.summary
            } | {e.summary: e.start.isoformat() for e in state.values() if "Standup" not in e.summary}


def stored(db) -> list[tuple[str, str, str]]:
    return sorted(db.execute("SELECT source_id, start, summary FROM events").fetchall())


def test_a_floating_weekly_series_stays_at_nine_local_across_dst(tmp_path):
    state, _, batches = pull(IcsSource("c", calendar(tmp_path), now=NOW, zone=BERLIN), None)
    assert [n for b in batches for n in b.notes] == []
    starts = sorted((e.start, e.summary) for e in state.values() if e.summary == "Standup")
    assert [f"{s.astimezone(BERLIN):%m-%d %H:%M}" for s, _ in starts] == ["03-18 09:00", "04-01 09:00"]
    assert [s.hour for s, _ in starts] == [8, 7]                 # in UTC: an hour earlier from 31 March
    moved = state["standup@kith.test@2024-03-25T08:00:00Z"]      # the override lands on its occurrence
    assert (moved.summary, f"{moved.start.astimezone(BERLIN):%H:%M}") == ("Standup moved", "11:00")
    assert len(state) == 5                                        # 8 April left out (EXDATE, floating too)
    holiday = state["holiday@kith.test"]                          # a date stays midnight UTC of the date written
    assert (holiday.start, holiday.all_day) == (datetime(2024, 5, 1, tzinfo=UTC), True)
    assert state["call@kith.test"].start == datetime(2024, 3, 20, 15, tzinfo=UTC)


def test_a_new_time_zone_reads_every_file_again_once_and_moves_what_is_stored(tmp_path):
    folder, db = calendar(tmp_path), open_store(tmp_path / "kith.db")
    first = sync_source(db, IcsSource("c", folder, now=NOW, zone=BERLIN))
    assert (first.error, first.new_events) == (None, 5)
    berlin = stored(db)
    same = sync_source(db, IcsSource("c", folder, now=NOW, zone=BERLIN))
    assert (same.batches, same.notes, stored(db)) == (0, [], berlin)          # nothing read again
    moved = sync_source(db, IcsSource("c", folder, now=NOW, zone=TOKYO))
    assert moved.error is None and moved.notes == [
        "your time zone is now Asia/Tokyo (was Europe/Berlin): every file is read again, for the times written "
        "without a zone"]
    tokyo = stored(db)
    assert len(tokyo) == len(berlin) == 5                                     # the old ids swept: no duplicates
    standups = sorted((start, summary) for _, start, summary in tokyo if "Standup" in summary)
    assert standups == [("2024-03-18T00:00:00+00:00", "Standup"), ("2024-03-25T02:00:00+00:00", "Standup moved"),
                        ("2024-04-01T00:00:00+00:00", "Standup")]               # 09:00 and 11:00 in Tokyo
    assert [row for row in tokyo if "Standup" not in row[2]] == [row for row in berlin if "Standup" not in row[2]]
    again = sync_source(db, IcsSource("c", folder, now=NOW, zone=TOKYO))
    assert (again.batches, stored(db)) == (0, tokyo)


def test_a_cursor_from_before_the_zone_was_recorded_counts_as_utc(tmp_path):
    folder = calendar(tmp_path)
    state, cursor, _ = pull(IcsSource("c", folder, now=NOW), None)           # the default zone: UTC
    data = json.loads(cursor)
    assert data.pop("zone") == "UTC"
    older = json.dumps(data)
    assert pull(IcsSource("c", folder, now=NOW, zone=ZoneInfo("UTC")), older, state)[2] == []
    moved, cursor, batches = pull(IcsSource("c", folder, now=NOW, zone=BERLIN), older, state)
    assert [(b.full_resync, b.notes) for b in batches] == [(True, (
        "times written without a zone are now read in your time zone, Europe/Berlin (older versions read them "
        "as UTC): every file is read again",))]
    assert local(moved, BERLIN) == local(pull(IcsSource("c", folder, now=NOW, zone=BERLIN), None)[0], BERLIN)
    assert local(moved, BERLIN)["Standup moved"] == "03-25 11:00" and len(moved) == 5
    assert json.loads(cursor)["zone"] == "Europe/Berlin"


def test_the_daemon_reads_an_ics_source_in_the_configured_zone(tmp_path):
    folder = calendar(tmp_path)
    (tmp_path / "config.toml").write_text(f'[user]\ntimezone = "Asia/Tokyo"\n\n[[sources]]\ntype = "ics"\n'
                                          f'name = "cal"\npath = "{folder}"\n')
    config = cfg.load(tmp_path / "config.toml")
    state, _, _ = pull(build_source(config.sources[0], config), None)
    assert local(state, TOKYO)["Standup moved"] == "03-25 11:00"


def test_a_time_in_a_zone_nobody_defines_is_read_in_the_users_zone_with_a_note(tmp_path):
    """The library gives it without a zone, as a floating one: both are read in the user's zone."""
    (tmp_path / "tz.ics").write_text("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:c4\nDTSTAMP:20240101T000000Z\n"
                                     "DTSTART;TZID=GMT+0100:20240710T100000\nDURATION:PT1H\nEND:VEVENT\nEND:VCALENDAR\n")
    state, _, batches = pull(IcsSource("c", tmp_path / "tz.ics", now=NOW, zone=TOKYO), None)
    assert state["c4"].start == datetime(2024, 7, 10, 1, tzinfo=UTC)
    assert [n for b in batches for n in b.notes] == [
        "tz.ics: unknown time zone GMT+0100 and no VTIMEZONE for it: the times of event c4 are read in your time "
        "zone, Asia/Tokyo, perhaps hours off"]


def test_a_floating_series_keeps_its_first_occurrence_west_of_utc(tmp_path):
    """Review 27: the expansion window started at the first start in UTC, and the library compares a floating
    start with the window's clock time: New York's 09:00 first standup (14:00 UTC) fell before it."""
    (tmp_path / "weekly.ics").write_text(STANDUP.replace("EXDATE:20240408T090000\n", ""))
    for zone in (ZoneInfo("America/New_York"), ZoneInfo("America/St_Johns"), ZoneInfo("Pacific/Kiritimati"), BERLIN):
        state, _, _ = pull(IcsSource("c", tmp_path / "weekly.ics", now=NOW, zone=zone), None)
        starts = sorted(f"{e.start.astimezone(zone):%m-%d %H:%M}" for e in state.values())
        assert starts == ["03-18 09:00", "03-25 11:00", "04-01 09:00", "04-08 09:00"], (zone, starts)
