"""The iCalendar connector across files: versions of one UID, whole-series cancellations, files that go away.

Each test writes real .ics files into tmp_path (or copies the real openbmc invitations) and, where the
store's rules matter (the sweep per scope, the SEQUENCE guard), applies the batches to a real database.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors import ics
from connectors.ics import IcsSource
from daemon import store
from daemon.sync import sync_source
from tests.contract import pull

OPENBMC = Path("/work/shared/data/ics/openbmc")
NOW = datetime(2024, 6, 1, tzinfo=UTC)
EXCHANGE = "100000004AC07A88024A1D4996776C70FF677830"          # the series re-ruled, then cancelled as a whole
TELEMETRY = "10000000DED03FF7BC031344B4DF3DF68FBD7673"          # a single invitation turned into a series


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def vevent(uid: str, start: str, *, seq: int = 0, rule: str = "", exdate: str = "", rid: str = "",
           status: str = "CONFIRMED", summary: str = "Sync") -> str:
    lines = [f"UID:{uid}", f"SEQUENCE:{seq}", f"DTSTART:{start}", f"DTEND:{start[:-3]}59Z", f"STATUS:{status}",
             f"SUMMARY:{summary}", "ORGANIZER:mailto:olga@example.com",
             "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ann@example.com"]
    lines += [f"RRULE:{rule}"] * bool(rule) + [f"EXDATE:{exdate}"] * bool(exdate) + [f"RECURRENCE-ID:{rid}"] * bool(rid)
    return "BEGIN:VEVENT\n" + "\n".join(lines) + "\nEND:VEVENT\n"


def write(path: Path, *events: str, method: str = "REQUEST") -> None:
    path.write_text(f"BEGIN:VCALENDAR\nVERSION:2.0\nMETHOD:{method}\n{''.join(events)}END:VCALENDAR\n")


def state_of(folder: Path, now: datetime = NOW) -> dict:
    return pull(IcsSource("c", folder, now=now), None)[0]


def db_rows(db) -> list[tuple]:
    return db.execute("SELECT source_id, scope, start, end, cancelled, sequence, summary FROM events "
                      "ORDER BY source_id").fetchall()


def active(state: dict) -> set[str]:
    return {k for k, e in state.items() if not e.cancelled}


# ------------------------------------------------------------ versions of one UID


def test_a_series_moved_to_a_new_rule_keeps_only_the_new_occurrences(tmp_path):
    write(tmp_path / "a.ics", vevent("s", "20240101T100000Z", rule="FREQ=WEEKLY;COUNT=4"))          # Mondays
    write(tmp_path / "b.ics", vevent("s", "20240102T100000Z", seq=1, rule="FREQ=WEEKLY;COUNT=4"))   # Tuesdays
    state = state_of(tmp_path)
    assert sorted(state) == [f"s@2024-01-{d:02d}T10:00:00Z" for d in (2, 9, 16, 23)]
    assert all(e.sequence == 1 and not e.cancelled for e in state.values())


def test_a_single_invitation_turned_into_a_series_is_stored_once(tmp_path):
    write(tmp_path / "a.ics", vevent("t", "20240102T100000Z"))
    write(tmp_path / "b.ics", vevent("t", "20240102T100000Z", seq=1, rule="FREQ=WEEKLY;COUNT=3"))
    state = state_of(tmp_path)
    assert sorted(state) == [f"t@2024-01-{d:02d}T10:00:00Z" for d in (2, 9, 16)]   # no bare "t" as well


def test_a_whole_series_cancellation_cancels_every_occurrence_of_every_version(tmp_path):
    write(tmp_path / "a.ics", vevent("s", "20240101T100000Z", rule="FREQ=WEEKLY;COUNT=3"))           # Mon 1, 8, 15
    write(tmp_path / "b.ics", vevent("s", "20240102T100000Z", seq=1, rule="FREQ=WEEKLY;COUNT=3"))    # Tue 2, 9, 16
    write(tmp_path / "c.ics", vevent("s", "20240102T100000Z", seq=3, rule="FREQ=WEEKLY;COUNT=3",
                                     exdate="20240109T100000Z"), method="CANCEL")   # leaves the 9th out
    write(tmp_path / "d.ics", vevent("s", "20240116T100000Z", seq=2, rid="20240116T100000Z", summary="Moved"))
    state = state_of(tmp_path)
    assert active(state) == set()
    assert {f"s@2024-01-{d:02d}T10:00:00Z" for d in (1, 2, 8, 9, 15, 16)} <= set(state)
    assert all(e.sequence == 3 for e in state.values())


def test_a_cancellation_of_a_single_event_turned_series_covers_its_first_version(tmp_path):
    write(tmp_path / "a.ics", vevent("t", "20231230T100000Z"))                          # a different day
    write(tmp_path / "b.ics", vevent("t", "20240102T100000Z", seq=1, rule="FREQ=WEEKLY;COUNT=2"))
    write(tmp_path / "c.ics", vevent("t", "20240102T100000Z", seq=2, rule="FREQ=WEEKLY;COUNT=2"), method="CANCEL")
    state = state_of(tmp_path)
    assert active(state) == set() and "t@2023-12-30T10:00:00Z" in state and "t" not in state


def test_an_older_override_counts_while_it_still_names_an_occurrence(tmp_path):
    write(tmp_path / "a.ics", vevent("s", "20240101T100000Z", rule="FREQ=WEEKLY;COUNT=3"))
    write(tmp_path / "b.ics", vevent("s", "20240108T150000Z", seq=2, rid="20240108T100000Z", summary="Moved"))
    write(tmp_path / "c.ics", vevent("s", "20240101T100000Z", seq=3, rule="FREQ=WEEKLY;COUNT=3", summary="Renamed"))
    state = state_of(tmp_path)
    moved = state["s@2024-01-08T10:00:00Z"]
    assert (moved.start, moved.summary, moved.sequence) == (utc(2024, 1, 8, 15), "Moved", 3)
    write(tmp_path / "c.ics", vevent("s", "20240102T100000Z", seq=3, rule="FREQ=WEEKLY;COUNT=3"))   # re-ruled
    assert sorted(state_of(tmp_path)) == [f"s@2024-01-{d:02d}T10:00:00Z" for d in (2, 9, 16)]


def test_an_override_newer_than_a_whole_series_cancellation_keeps_its_own_status(tmp_path):
    write(tmp_path / "a.ics", vevent("s", "20240101T100000Z", seq=1, rule="FREQ=WEEKLY;COUNT=3"), method="CANCEL")
    write(tmp_path / "b.ics", vevent("s", "20240108T100000Z", seq=2, rid="20240108T100000Z"))
    assert active(state_of(tmp_path)) == {"s@2024-01-08T10:00:00Z"}


def test_single_events_are_kept_whatever_their_date(tmp_path):
    write(tmp_path / "a.ics", vevent("old", "19900301T100000Z"), vevent("far", "20300301T100000Z"),
          vevent("weekly", "19900101T100000Z", rule="FREQ=YEARLY"))
    state = state_of(tmp_path)
    assert state["old"].start == utc(1990, 3, 1, 10) and state["far"].start == utc(2030, 3, 1, 10)
    years = sorted(e.start.year for k, e in state.items() if k.startswith("weekly@"))
    assert years[0] == 2015 and years[-1] == 2025                 # a series stays within the window


# ------------------------------------------------------------ files that change or go away, in the store


def test_removing_a_file_whose_events_another_file_also_holds_equals_a_clean_sync(tmp_path):
    folder = tmp_path / "cal"
    folder.mkdir()
    write(folder / "a.ics", vevent("s", "20240101T100000Z", seq=1, rule="FREQ=WEEKLY;COUNT=3"))
    write(folder / "b.ics", vevent("s", "20240101T100000Z", seq=2, rule="FREQ=WEEKLY;COUNT=3"), method="CANCEL")
    write(folder / "c.ics", vevent("x", "20240105T100000Z"))
    db = store.open_store(tmp_path / "kith.db")
    source = IcsSource("c", folder, now=NOW)
    assert sync_source(db, source).error is None
    assert [r[4] for r in db_rows(db) if r[0].startswith("s@")] == [1, 1, 1]
    (folder / "b.ics").unlink()                 # the cancellation goes: the series is on again, at SEQUENCE 1
    result = sync_source(db, source)
    assert result.error is None and result.batches == 1
    clean = store.open_store(tmp_path / "clean.db")
    sync_source(clean, IcsSource("c", folder, now=NOW))
    assert db_rows(db) == db_rows(clean)
    assert [(r[4], r[5]) for r in db_rows(db) if r[0].startswith("s@")] == [(0, 1)] * 3
    (folder / "a.ics").unlink()
    sync_source(db, source)
    assert [r[0] for r in db_rows(db)] == ["x"]


def test_a_series_cancellation_without_a_rule_keeps_the_ids_of_the_occurrences_it_cancels(tmp_path):
    """A METHOD:CANCEL without RRULE or RECURRENCE-ID, dated on the first occurrence, cancels the series. The
    occurrences keep their ids when it arrives and when it goes: the source holds the same four all along."""
    folder = tmp_path / "cal"
    folder.mkdir()
    write(folder / "a.ics", vevent("s", "20240101T100000Z", rule="FREQ=WEEKLY;COUNT=4"))
    ids = [f"s@2024-01-{d:02d}T10:00:00Z" for d in (1, 8, 15, 22)]
    db = store.open_store(tmp_path / "kith.db")
    source = IcsSource("c", folder, now=NOW)
    assert sync_source(db, source).new_events == 4
    write(folder / "cancel.ics", vevent("s", "20240101T100000Z", seq=1, status="CANCELLED"), method="CANCEL")
    cancelled = sync_source(db, source)
    assert (cancelled.new_events, cancelled.known_events, cancelled.cancelled_since, cancelled.deleted) == (0, 4, 4, 0)
    assert [(r[0], r[4]) for r in db_rows(db)] == [(i, 1) for i in ids] and sorted(state_of(folder)) == ids
    (folder / "cancel.ics").unlink()
    restored = sync_source(db, source)
    assert (restored.new_events, restored.known_events, restored.deleted) == (0, 4, 0)
    assert [(r[0], r[4]) for r in db_rows(db)] == [(i, 0) for i in ids]


def test_a_pull_reads_only_the_changed_files_and_those_sharing_a_uid(tmp_path, monkeypatch):
    for n in range(5):
        write(tmp_path / f"f{n}.ics", vevent(f"u{n}", "20240101T100000Z"))
    write(tmp_path / "g.ics", vevent("u1", "20240101T100000Z", seq=1, summary="Updated"))
    source = IcsSource("c", tmp_path, now=NOW)
    state, cursor, _ = pull(source, None)
    read: list[str] = []
    original = IcsSource._read_file
    monkeypatch.setattr(IcsSource, "_read_file", lambda self, rel, *a: read.append(rel) or original(self, rel, *a))
    write(tmp_path / "f1.ics", vevent("u1", "20240101T110000Z"))
    state, cursor, batches = pull(source, cursor, state)
    assert sorted(read) == ["f1.ics", "g.ics"] and len(batches) == 1
    assert state["u1"].summary == "Updated" and state["u1"].start == utc(2024, 1, 1, 10)


def test_many_changed_uids_are_split_and_only_the_last_batch_moves_the_cursor(tmp_path, monkeypatch):
    monkeypatch.setattr(ics, "SCOPES_PER_BATCH", 2)
    write(tmp_path / "a.ics", *(vevent(f"u{n}", "20240101T100000Z") for n in range(5)))
    source = IcsSource("c", tmp_path, now=NOW)
    state, cursor, _ = pull(source, None)
    write(tmp_path / "a.ics", *(vevent(f"u{n}", "20240101T100000Z", seq=1) for n in range(1, 5)))
    after, new_cursor, batches = pull(source, cursor, state)
    assert len(batches) == 3 and [b.cursor for b in batches[:2]] == [cursor, cursor]
    assert sorted(after) == [f"u{n}" for n in range(1, 5)] and after == state_of(tmp_path)
    assert list(source.pull(new_cursor)) == []


def test_an_older_cursor_resyncs_and_replaces_rows_with_a_higher_sequence(tmp_path):
    write(tmp_path / "a.ics", vevent("s", "20240101T100000Z", seq=1))
    db = store.open_store(tmp_path / "kith.db")
    stale = ics.EventMeta(source_id="s", start=utc(2024, 1, 1, 10), end=utc(2024, 1, 1, 11), cancelled=True,
                          scope="a.ics", sequence=5)                      # as the per-file connector left it
    store.apply_batch(db, "ics:c", ics.Batch(events=(stale,), cursor=ics.json.dumps(
        {"kind": "ics", "v": 1, "root": str(tmp_path), "files": {"a.ics": [1, 1, 1]}})))
    result = sync_source(db, IcsSource("c", tmp_path, now=NOW))
    assert result.error is None
    assert [(r[0], r[4], r[5]) for r in db_rows(db)] == [("s", 0, 1)]


def test_a_broken_file_leaves_the_uids_it_held_alone(tmp_path):
    write(tmp_path / "a.ics", vevent("s", "20240101T100000Z"))
    write(tmp_path / "b.ics", vevent("s", "20240101T100000Z", seq=1, summary="Newer"))
    source = IcsSource("c", tmp_path, now=NOW)
    state, cursor, _ = pull(source, None)
    (tmp_path / "b.ics").write_text("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:bad\n")
    write(tmp_path / "a.ics", vevent("s", "20240101T100000Z", summary="Touched"))
    state, cursor, batches = pull(source, cursor, state)
    assert state["s"].summary == "Newer"
    assert [n.split(":")[0] for b in batches for n in b.notes] == ["b.ics"]
    write(tmp_path / "b.ics", vevent("s", "20240101T100000Z", seq=1, summary="Fixed"))
    state, _, _ = pull(source, cursor, state)
    assert state["s"].summary == "Fixed"


# ------------------------------------------------------------ the tester's folder


@pytest.fixture
def openbmc(tmp_path) -> Path:
    if not OPENBMC.exists():
        pytest.skip("needs /work/shared/data/ics (not shipped with the repo)")
    folder = tmp_path / "openbmc"
    shutil.copytree(OPENBMC, folder)
    (folder / "index.tsv").unlink()
    return folder


def test_the_openbmc_folder_has_four_active_events(openbmc, tmp_path):
    db = store.open_store(tmp_path / "kith.db")
    assert sync_source(db, IcsSource("o", openbmc, now=utc(2020, 3, 1))).notes == []
    rows = db_rows(db)
    on = sorted(r[0] for r in rows if not r[4])
    assert len(on) == 4 and on[0].endswith("153C2745A2BB88ADCEF150A7") and all("@google.com" in k for k in on[1:])
    exchange = {r[0].split("@", 1)[1]: r for r in rows if EXCHANGE in r[0]}
    assert "2019-06-11T04:00:00Z" in exchange and "2019-11-12T05:00:00Z" in exchange    # SEQUENCE 0's Mondays
    assert all(r[4] for r in exchange.values())
    telemetry = [r for r in rows if TELEMETRY[-20:] in r[0]]
    assert telemetry and all(r[4] for r in telemetry) and all("@" in r[0] for r in telemetry)
    assert len({r[2] for r in telemetry}) == len(telemetry)                      # one row per meeting
    assert any(r[0].endswith("@2020-02-25T20:30:00Z") for r in telemetry)


def test_moving_an_openbmc_cancellation_out_equals_a_clean_sync_and_back(openbmc, tmp_path):
    db = store.open_store(tmp_path / "kith.db")
    source = IcsSource("o", openbmc, now=utc(2020, 3, 1))
    sync_source(db, source)
    first = db_rows(db)
    cancel = next(openbmc.glob("20200225T210322Z_cancel_*_031dae54.ics"))
    shutil.move(cancel, tmp_path / cancel.name)
    sync_source(db, source)
    clean = store.open_store(tmp_path / "clean.db")
    sync_source(clean, IcsSource("o", openbmc, now=utc(2020, 3, 1)))
    assert db_rows(db) == db_rows(clean)
    assert len([r for r in db_rows(db) if TELEMETRY[-20:] in r[0] and not r[4]]) == 13   # 20200113T185021Z's
    shutil.move(tmp_path / cancel.name, cancel)
    sync_source(db, source)
    assert db_rows(db) == first
