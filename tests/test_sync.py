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
