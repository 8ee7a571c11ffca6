"""The bundled sample (examples/): reproducible, big enough, parseable, and as SAMPLE.md describes it."""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import importlib.util
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import icalendar
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MAIL = EXAMPLES / "mail"
CALENDAR = EXAMPLES / "calendar"
FIRST = datetime(2024, 9, 1, tzinfo=timezone.utc)
LAST = datetime(2026, 3, 3, 7, 0, tzinfo=timezone.utc)        # 08:00 Berlin on the sample's last day
BROKEN_DATE = "sometime last week"


def _generated_files(root: Path) -> dict[str, bytes]:
    paths = [*sorted((root / "mail").rglob("*")), *sorted((root / "calendar").rglob("*")), root / "SAMPLE.md"]
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in paths if p.is_file()}


def _load_generator():
    spec = importlib.util.spec_from_file_location("generate_sample", EXAMPLES / "generate_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def messages() -> list[tuple[Path, email.message.Message]]:
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    files = sorted(p for p in MAIL.rglob("*") if p.is_file() and p.parent.name in ("cur", "new"))
    return [(p, parser.parsebytes(p.read_bytes())) for p in files]


def _date(msg: email.message.Message) -> datetime:
    return email.utils.parsedate_to_datetime(msg["Date"]).astimezone(timezone.utc)


def _calendar(name: str) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical((CALENDAR / name).read_bytes())


def test_regenerating_gives_byte_identical_files() -> None:
    committed, (_, fresh) = _generated_files(EXAMPLES), _load_generator().build()
    assert sorted(committed) == sorted(fresh), "file names differ: run python examples/generate_sample.py"
    changed = [name for name in committed if committed[name] != fresh[name]]
    assert not changed, f"{len(changed)} files differ, e.g. {changed[:3]}: run python examples/generate_sample.py"


def test_mailbox_is_large_long_and_has_the_maildir_folders(messages) -> None:
    assert len(messages) >= 1500
    for folder in ("", ".Sent", ".Archive", ".Lists.python-dev"):
        assert all((MAIL / folder / sub).is_dir() for sub in ("cur", "new", "tmp")), folder
    sent = [m for p, m in messages if p.parent.parent.name == ".Sent"]
    assert len(sent) >= 300
    dates = [_date(m) for _, m in messages if m["Date"] != BROKEN_DATE]
    assert min(dates) >= FIRST and max(dates) <= LAST
    assert max(dates) - min(dates) >= timedelta(days=540)


def test_every_message_has_from_and_all_but_one_a_valid_date(messages) -> None:
    broken = []
    for path, msg in messages:
        assert msg["From"] and email.utils.parseaddr(msg["From"])[1], path.name
        try:
            _date(msg)
        except (TypeError, ValueError):
            broken.append(msg["Date"])
    assert broken == [BROKEN_DATE]


def test_file_names_carry_the_message_time_and_maildir_flags(messages) -> None:
    for path, msg in messages:
        stamp, _, info = path.name.partition(":")
        assert stamp.endswith(".kith-sample")
        assert (info == "") == (path.parent.name == "new"), path
        if msg["Date"] != BROKEN_DATE:
            assert int(stamp.split(".")[0]) == int(_date(msg).timestamp()), path.name


def test_berlin_offsets_follow_daylight_saving_time(messages) -> None:
    zoneinfo = pytest.importorskip("zoneinfo")
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    for path, msg in messages:
        if "sam.keller@northwind.example" in msg["From"] and msg["Date"]:
            sent = email.utils.parsedate_to_datetime(msg["Date"])
            assert sent.utcoffset() == sent.astimezone(berlin).utcoffset(), path.name


def test_only_the_intended_copies_share_a_message_id(messages) -> None:
    seen: dict[str, list[str]] = {}
    for path, msg in messages:
        seen.setdefault(msg["Message-ID"], []).append(path.parent.parent.name)
    assert len(seen.pop(None)) == 1                                  # the doctor's reply has none
    dupes = sorted(sorted(folders) for folders in seen.values() if len(folders) > 1)
    assert dupes == [[".Archive", "mail"]] + [[".Lists.python-dev", ".Sent"]] * 3


def test_scenarios_of_the_last_day_hold(messages) -> None:
    def involving(addr: str) -> list[email.message.Message]:
        return [m for _, m in messages if addr in " ".join(m.get(f, "") for f in ("From", "To", "Cc"))]

    anna = involving("anna.berger@finlytics.example")
    assert max(_date(m) for m in anna).date() == date(2025, 12, 22)
    tom = [m for _, m in messages if m["Subject"] == "Intro to the Munich team"]
    assert len(tom) == 1 and not [m for _, m in messages if m["In-Reply-To"] == tom[0]["Message-ID"]]
    mira = {id(m) for m in involving("mira.sol@finlytics.example")}
    assert not [m for m in involving("jonas.hart@paybridge.example") if id(m) in mira]
    felix = involving("felix.brandt@hafen-capital.example")
    assert max(_date(m) for m in felix) < datetime(2025, 4, 1, tzinfo=timezone.utc)
    assert any("j.mueller@kontor-bank.example" in m["From"] for _, m in messages)
    assert any(m["List-Id"] and "<python-dev.lists.example>" in m["List-Id"] for _, m in messages)


def test_work_calendar_has_the_described_events() -> None:
    cal = _calendar("work.ics")
    assert str(cal["X-WR-CALNAME"]) == "Work"
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    events = cal.walk("VEVENT")
    series = [e for e in events if "RRULE" in e]
    assert len(series) == 1 and "EXDATE" in series[0]
    assert [e for e in events if "RECURRENCE-ID" in e and e["UID"] == series[0]["UID"]]
    assert [e for e in events if str(e.get("STATUS")) == "CANCELLED"]
    assert any(not isinstance(e.decoded("DTSTART"), datetime) for e in events)     # all-day events
    partstats = {a.params.get("PARTSTAT") for e in events for a in
                 (e.get("ATTENDEE") if isinstance(e.get("ATTENDEE"), list) else [e.get("ATTENDEE")]) if a}
    assert partstats >= {"ACCEPTED", "DECLINED", "TENTATIVE", "NEEDS-ACTION"}
    lena = [e for e in events if str(e["SUMMARY"]) == "Coffee: PM career chat"]
    assert len(lena) == 1 and lena[0].decoded("DTSTART").date() == date(2026, 3, 2)
    assert "DESCRIPTION" not in {k for e in events for k in e}


def test_birthdays_calendar_is_yearly_and_has_one_on_5_march() -> None:
    cal = _calendar("birthdays.ics")
    assert str(cal["X-WR-CALNAME"]) == "Birthdays"
    events = cal.walk("VEVENT")
    assert len(events) >= 8
    for event in events:
        assert event["RRULE"]["FREQ"] == ["YEARLY"]
        assert "BIRTHDAY" in event["CATEGORIES"].cats
        assert str(event["SUMMARY"]).endswith("'s birthday")
    assert [str(e["SUMMARY"]) for e in events if e.decoded("DTSTART").strftime("%m-%d") == "03-05"] == [
        "Zoë Martin's birthday"]
