"""Sync: crash safety and per-source error isolation, with the real mbox connector."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.base import Batch
from connectors import mbox
from connectors.mbox import MboxSource
from daemon import store
from daemon.errors import SourceError
from daemon.sync import sync_source

TABLES = ("messages", "message_copies", "recipients", "events", "attendees")


def write_mailbox(folder: Path, files: int = 6, per_file: int = 7) -> None:
    """A folder of small mbox files: one batch per file, so a crash can fall between any two."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        lines = []
        for m in range(per_file):
            day = 1 + (f * per_file + m) % 27
            lines += [f"From someone@example.com Mon Jan {day:2d}10:00:00 2026",
                      f"Message-ID: <f{f}m{m}@example.com>",
                      f"Date: Mon, {day} Jan 2026 10:{m:02d}:00 +0100",
                      f'From: "Person {f}" <p{f}@example.com>',
                      "To: me@home.example" + (f", p{(f + 1) % files}@example.com" if m % 2 else ""),
                      f"Subject: Topic {f}-{m // 2}", "", "BODY-MARKER never stored", ""]
        (folder / f"folder{f}.mbox").write_text("\n".join(lines))


class FailsAfter:
    """A source that dies after `n` batches, as a crash or a kill would stop it."""

    def __init__(self, inner, n: int) -> None:
        self.inner, self.n, self.key = inner, n, inner.key

    def check(self) -> None:
        self.inner.check()

    def pull(self, cursor: str | None) -> Iterator[Batch]:
        for i, batch in enumerate(self.inner.pull(cursor)):
            if i == self.n:
                raise SourceError("connection lost", where=self.key)
            yield batch


def dump(db) -> dict[str, list[tuple]]:
    return {t: sorted(tuple(r) for r in db.execute(f"SELECT * FROM {t}")) for t in TABLES}


@pytest.fixture
def mailbox(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(mbox, "BATCH_MESSAGES", 7)   # one file per batch (small files are merged otherwise)
    write_mailbox(tmp_path / "mail")
    return tmp_path / "mail"


def clean_run(tmp_path, mailbox):
    db = store.open_store(tmp_path / "clean.db")
    result = sync_source(db, MboxSource("m", mailbox))
    assert result.error is None and result.batches == 6
    return dump(db)


@pytest.mark.parametrize("fail_after", range(6))
def test_a_crash_after_any_batch_then_a_rerun_equals_a_clean_run(tmp_path, mailbox, fail_after):
    expected = clean_run(tmp_path, mailbox)
    db = store.open_store(tmp_path / "crashed.db")
    failed = sync_source(db, FailsAfter(MboxSource("m", mailbox), fail_after))
    assert failed.error and "connection lost" in failed.error
    partial = dump(db)
    assert len(partial["message_copies"]) == 7 * fail_after  # what landed before the crash stays
    rerun = sync_source(db, MboxSource("m", mailbox))
    assert rerun.error is None
    assert rerun.messages == 7 * (6 - fail_after)  # resumes from the cursor: nothing read twice
    assert dump(db) == expected


def test_running_twice_duplicates_nothing(tmp_path, mailbox):
    expected = clean_run(tmp_path, mailbox)
    db = store.open_store(tmp_path / "twice.db")
    sync_source(db, MboxSource("m", mailbox))
    again = sync_source(db, MboxSource("m", mailbox))
    assert again.messages == 0 and dump(db) == expected


def test_a_failing_source_records_its_error_and_keeps_its_data(tmp_path, mailbox):
    db = store.open_store(tmp_path / "k.db")
    sync_source(db, MboxSource("good", mailbox))
    broken = sync_source(db, MboxSource("bad", tmp_path / "missing"))
    assert broken.error and "missing" in broken.error and "\n" not in broken.error
    row = db.execute("SELECT last_error FROM sync_state WHERE source = 'mbox:bad'").fetchone()
    assert row[0] == broken.error
    assert db.execute("SELECT count(*) FROM message_copies WHERE source = 'mbox:good'").fetchone()[0] == 42


def test_no_body_text_reaches_the_database(tmp_path, mailbox):
    db = store.open_store(tmp_path / "k.db")
    sync_source(db, MboxSource("m", mailbox))
    for table, rows in dump(db).items():
        assert not any("BODY-MARKER" in str(value) for row in rows for value in row), table


class Buggy(FailsAfter):
    """A source that meets a bug in our own code (not a SourceError) after `n` batches."""

    def pull(self, cursor: str | None) -> Iterator[Batch]:
        for i, batch in enumerate(self.inner.pull(cursor)):
            if i == self.n:
                raise ValueError("a bug on one message")
            yield batch


def test_a_bug_met_in_one_source_is_its_error_and_the_next_source_still_syncs(tmp_path, mailbox, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    db = store.open_store(tmp_path / "k.db")
    buggy = sync_source(db, Buggy(MboxSource("bad", mailbox), 2), contain_bugs=True)
    assert buggy.error.startswith("mbox:bad: unexpected error (ValueError: a bug on one message)")
    assert "crash.log; please report it" in buggy.error and "\n" not in buggy.error
    assert "ValueError: a bug on one message" in (tmp_path / "state" / "kith" / "crash.log").read_text()
    assert db.execute("SELECT last_error FROM sync_state WHERE source = 'mbox:bad'").fetchone()[0] == buggy.error
    assert db.execute("SELECT count(*) FROM message_copies WHERE source = 'mbox:bad'").fetchone()[0] == 14
    assert sync_source(db, MboxSource("good", mailbox)).error is None


def test_store_subjects_false_after_a_sync_blanks_what_was_stored(tmp_path, mailbox):
    db = store.open_store(tmp_path / "k.db")
    sync_source(db, MboxSource("m", mailbox))
    assert db.execute("SELECT count(*) FROM messages WHERE subject != ''").fetchone()[0] == 42
    conversations = sorted(r[0] for r in db.execute("SELECT conversation FROM messages"))
    assert sync_source(db, MboxSource("m", mailbox), store_subjects=False).error is None
    assert db.execute("SELECT count(*) FROM messages WHERE subject != ''").fetchone()[0] == 0
    assert sorted(r[0] for r in db.execute("SELECT conversation FROM messages")) == conversations


def test_own_addresses_follow_the_config_even_when_no_mail_came(tmp_path, mailbox):
    from daemon.config import parse
    from daemon.sync import sync_all

    def config(addresses):
        return parse(f'[user]\naddresses = {addresses}\n[storage]\ndatabase = "{tmp_path / "k.db"}"\n'
                     f'[[sources]]\ntype = "mbox"\nname = "m"\npath = "{mailbox}"\n', tmp_path / "kith.toml")
    db = store.open_store(tmp_path / "k.db")
    sync_all(db, config('["me@home.example"]'))
    assert sync_all(db, config('["me@home.example", "p1@example.com"]'))[0].messages == 0      # nothing new …
    own = {a for (a,) in db.execute("SELECT email FROM own_addresses")}
    assert own == {"me@home.example", "p1@example.com"}                                          # … yet learned


def test_a_sync_killed_before_it_found_the_users_addresses_has_them_found_next_time(tmp_path):
    """Kill hunt: the batches were stored, the process died before the user's addresses were found again, and
    the next sync read "nothing new" and never found them: an alias of the user's stayed a contact for good.
    The need is stored with the mail; the next sync, or any command that judges, meets it."""
    from daemon.config import parse
    from daemon.sync import build_source, sync_all
    sent = tmp_path / "mail" / "Sent"
    for part in ("cur", "new", "tmp"):
        (sent / part).mkdir(parents=True)
    for n in range(2):
        (sent / "cur" / f"17000000{n:02d}.M{n}P{n}.host:2,S").write_text(
            f"Message-ID: <s{n}@home.example>\nDate: Mon, {n + 1} Jan 2026 10:00:00 +0000\n"
            f"From: Sam <sam.k@home.example>\nTo: bob@example.com\nSubject: Hi {n}\n\nbody\n")
    config = parse(f'[user]\naddresses = ["me@home.example"]\n[storage]\ndatabase = "{tmp_path / "k.db"}"\n'
                   f'[[sources]]\ntype = "maildir"\nname = "m"\npath = "{tmp_path / "mail"}"\n', tmp_path / "k.toml")
    db = store.open_store(tmp_path / "k.db")
    store.refresh_own_addresses(db, config.user.addresses)
    sync_source(db, build_source(config.sources[0], config))          # … and killed here, before the finding
    assert store.own_addresses_due(db)
    assert sync_all(db, config)[0].messages == 0                       # nothing new to read …
    own = {a for (a,) in db.execute("SELECT email FROM own_addresses")}
    assert own == {"me@home.example", "sam.k@home.example"} and not store.own_addresses_due(db)   # … yet found
    sync_source(db, build_source(config.sources[0], config))
    assert not store.own_addresses_due(db)              # a sync that stores nothing leaves nothing to find


# ---------------------------------------------------------------- what a sync counts: new to the store or known


def deliver(folder: Path, n: int, sub: str = "cur") -> Path:
    """Message n as one file of a real Maildir folder (cur/ or new/); its path."""
    for part in ("cur", "new", "tmp"):
        (folder / part).mkdir(parents=True, exist_ok=True)
    name = f"17000000{n:02d}.M{n}P{n}.host" + (":2,S" if sub == "cur" else "")
    path = folder / sub / name
    path.write_text(f"Message-ID: <n{n}@example.com>\nDate: Mon, {n + 1} Jan 2026 10:00:00 +0000\n"
                    f"From: Person {n} <p{n}@example.com>\nTo: me@home.example\nSubject: Note {n}\n\nbody\n")
    return path


def later(folder: Path) -> None:
    """Move cur/'s and new/'s mtimes on by a second, as a later second would: mtimes are coarser than a test."""
    import os
    for part in ("cur", "new"):
        stat = (folder / part).stat()
        os.utime(folder / part, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def stored(db) -> int:
    return db.execute("SELECT count(*) FROM messages").fetchone()[0]


def test_a_sync_tells_messages_new_to_the_store_from_those_it_already_held(tmp_path):
    from connectors.maildir import MaildirSource
    root = tmp_path / "Maildir"
    files = [deliver(root, n) for n in range(4)] + [deliver(root, 4, "new")]
    db = store.open_store(tmp_path / "k.db")
    first = sync_source(db, MaildirSource("work", root))
    assert (first.messages, first.new_messages, first.known_messages, first.deleted) == (5, 5, 0, 0)
    files[4].rename(root / "cur" / (files[4].name + ":2,S"))        # read: new/ → cur/
    files[0].unlink()                                               # deleted
    deliver(root, 5, "new")                                         # one arrives
    later(root)
    second = sync_source(db, MaildirSource("work", root))
    assert second.error is None
    assert (second.messages, second.new_messages, second.known_messages, second.deleted) == (5, 1, 4, 1)
    assert stored(db) == 5
    renamed = sync_source(db, MaildirSource("renamed", root))       # the same folder under a new name
    assert (renamed.messages, renamed.new_messages, renamed.known_messages) == (5, 0, 5)
    assert stored(db) == 5 and sync_source(db, MaildirSource("work", root)).messages == 0


def test_a_copy_in_a_second_folder_of_a_new_message_is_not_new(tmp_path, mailbox):
    import shutil
    db = store.open_store(tmp_path / "k.db")
    shutil.copy(mailbox / "folder0.mbox", mailbox / "copy-of-folder0.mbox")
    result = sync_source(db, MboxSource("m", mailbox))
    assert (result.messages, result.new_messages, result.known_messages) == (49, 42, 7)
    assert stored(db) == 42


def test_a_sync_tells_new_events_from_those_read_again(tmp_path):
    from datetime import UTC, datetime

    from connectors.ics import IcsSource

    def vevent(uid: str, day: int) -> str:
        return (f"BEGIN:VEVENT\nUID:{uid}\nDTSTART:202603{day:02d}T100000Z\nDTEND:202603{day:02d}T110000Z\n"
                f"SUMMARY:Meeting {uid}\nORGANIZER:mailto:olga@example.com\n"
                "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ann@example.com\nEND:VEVENT\n")

    def write(*events: str) -> None:
        (tmp_path / "cal").mkdir(exist_ok=True)
        (tmp_path / "cal" / "work.ics").write_text(f"BEGIN:VCALENDAR\nVERSION:2.0\n{''.join(events)}END:VCALENDAR\n")

    now = datetime(2026, 3, 1, tzinfo=UTC)
    db = store.open_store(tmp_path / "k.db")
    write(vevent("a", 2), vevent("b", 3))
    first = sync_source(db, IcsSource("c", tmp_path / "cal", now=now))
    assert (first.events, first.new_events, first.known_events) == (2, 2, 0)
    write(vevent("a", 2), vevent("b", 3), vevent("c", 4), vevent("d", 5))
    second = sync_source(db, IcsSource("c", tmp_path / "cal", now=now))
    assert second.error is None and (second.events, second.new_events, second.known_events) == (4, 2, 2)


def test_sources_moved_to_a_new_path_are_read_again_as_known_and_say_their_path_changed(tmp_path, mailbox):
    """The same files under a new absolute path (the folder moved, its config with it): every file is read
    again, yet nothing is new or removed, and the note names the move instead of blaming the cursor."""
    from datetime import UTC, datetime

    from connectors.ics import IcsSource
    from connectors.maildir import MaildirSource

    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    mailbox.rename(old / "mbox")
    for n in range(3):
        deliver(old / "Maildir", n)
    (old / "cal").mkdir()
    (old / "cal" / "work.ics").write_text(
        "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:weekly\nSEQUENCE:2\nDTSTART:20260302T100000Z\n"
        "DTEND:20260302T110000Z\nRRULE:FREQ=WEEKLY;COUNT=4\nSUMMARY:Weekly\nORGANIZER:mailto:olga@example.com\n"
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ann@example.com\nEND:VEVENT\nBEGIN:VEVENT\nUID:weekly\nSEQUENCE:2\n"
        "RECURRENCE-ID:20260309T100000Z\nDTSTART:20260309T100000Z\nDTEND:20260309T110000Z\nSTATUS:CANCELLED\n"
        "SUMMARY:Weekly\nORGANIZER:mailto:olga@example.com\nEND:VEVENT\nEND:VCALENDAR\n")

    def sources(root: Path) -> list:
        return [MboxSource("m", root / "mbox"), MaildirSource("d", root / "Maildir"),
                IcsSource("c", root / "cal", now=datetime(2026, 3, 1, tzinfo=UTC))]

    db = store.open_store(tmp_path / "k.db")
    first = [sync_source(db, source) for source in sources(old)]
    assert [(r.new_messages, r.new_events, r.new_cancelled) for r in first] == [(42, 0, 0), (3, 0, 0), (0, 4, 1)]
    before = dump(db)
    old.rename(new)
    moved = [sync_source(db, source) for source in sources(new)]
    assert [(r.error, r.new_messages, r.known_messages, r.new_events, r.known_events, r.cancelled_since, r.deleted)
            for r in moved] == [(None, 0, 42, 0, 0, 0, 0), (None, 0, 3, 0, 0, 0, 0), (None, 0, 0, 0, 4, 0, 0)]
    assert [r.notes for r in moved] == [
        [f"the source's path changed (it was {old / 'mbox'}): every file is read again"],
        [f"the source's path changed (it was {old / 'Maildir'}): every folder is read again"],
        [f"the source's path changed (it was {old / 'cal'}): every file is read again"]]
    assert dump(db) == before
    assert [sync_source(db, source).notes for source in sources(new)] == [[], [], []]
