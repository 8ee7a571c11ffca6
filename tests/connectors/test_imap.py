"""The IMAP connector against a real Dovecot: the contract, which folders count, and incremental sync —
new mail, deletions, moves between folders, a renumbered folder, and a sync killed at any batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors import imap
from connectors.imap import ImapSource
from daemon import store
from daemon.errors import SourceError
from daemon.sync import sync_source
from tests.connectors.imap_mailbox import Mailbox
from tests.contract import SourceContract, pull
from tests.servers import Dovecot, dovecot  # noqa: F401 - the session's Dovecot
from tests.test_sync import FailsAfter, dump


@pytest.fixture
def mailbox(dovecot: Dovecot, tmp_path: Path):  # noqa: F811
    box = Mailbox(dovecot, tmp_path)
    yield box
    box.close()


def folders_of(state: dict) -> dict[str, int]:
    """How many copies each folder gave (the scope without its UIDVALIDITY)."""
    counts: dict[str, int] = {}
    for record in state.values():
        name = record.scope.rpartition("#")[0]
        counts[name] = counts.get(name, 0) + 1
    return counts


class TestImapContract(SourceContract):
    """INBOX, a \\Sent folder, Drafts (left out) and a subfolder; UIDVALIDITY fixed so that ids repeat."""

    @pytest.fixture(autouse=True)
    def _server(self, dovecot: Dovecot):  # noqa: F811
        self.server, self.boxes = dovecot, {}
        yield
        for box in self.boxes.values():
            box.close()

    def make_source(self, tmp_path: Path) -> ImapSource:
        tmp_path.mkdir(parents=True, exist_ok=True)
        box = self.boxes[tmp_path] = Mailbox(self.server, tmp_path, seed_dir=tmp_path / "seed")
        box.create("INBOX", "Outgoing", "Drafts", "Archive/2024", uidvalidity=1001)
        for folder, n in (("INBOX", 1), ("INBOX", 2), ("INBOX", 3), ("Outgoing", 4), ("Drafts", 5),
                          ("Archive/2024", 6)):
            box.append(folder, n)
        return box.source()

    def add_item(self, tmp_path: Path) -> str:
        return f"INBOX#1001/{self.boxes[tmp_path].append('INBOX', 7)}"

    def remove_item(self, tmp_path: Path) -> str:
        self.boxes[tmp_path].delete("INBOX", 2)
        return "INBOX#1001/2"

    def expected_ids(self) -> set[str]:
        return {"INBOX#1001/1", "INBOX#1001/2", "INBOX#1001/3", "Outgoing#1002/1", "Archive/2024#1004/1"}

    def test_missing_path_is_a_source_error(self, tmp_path: Path) -> None:
        """IMAP has no path: its counterpart is a folder named in `folders` that the server does not have."""
        self.make_source(tmp_path)
        source = self.boxes[tmp_path].source(folders=["INBOX", "Archiv"])
        with pytest.raises(SourceError, match="the server has no folder 'Archiv'.*Archive/2024"):
            list(source.pull(None))


# ---------------------------------------------------------------- folders


def test_drafts_junk_and_trash_are_left_out_by_flag_and_by_name_and_sent_is_known_by_both(mailbox):
    """Unwanted (\\Junk) and Bin (\\Trash) are known by their flags alone, Outgoing (\\Sent) too; the others
    by their names, non-ASCII ones (modified UTF-7 on the wire) included."""
    left_out = ["Drafts", "Unwanted", "Bin", "Bin/Old", "Entwürfe", "Spam", "Deleted Messages", "Papierkorb"]
    read = ["INBOX", "Outgoing", "Sent", "Envoyés", "Archive"]
    mailbox.create(*[name for name in read + left_out if name != "INBOX"])
    for n, folder in enumerate(read + left_out):
        mailbox.append(folder, n)
    state, cursor, batches = pull(mailbox.source(), None)
    assert folders_of(state) == {name: 1 for name in read}
    sent = {r.scope.rpartition("#")[0] for r in state.values() if r.labels == ("SENT",)}
    assert sent == {"Outgoing", "Sent", "Envoyés"}
    notes = [n for b in batches for n in b.notes]
    assert sorted(notes) == sorted(f"{name}: drafts, junk or trash, not read" for name in left_out)
    _, _, again = pull(mailbox.source(), cursor, state)
    assert [n for b in again for n in b.notes] == []     # said once


def test_a_message_flagged_as_a_draft_is_not_read_wherever_it_is(mailbox):
    mailbox.append("INBOX", 1)
    mailbox.append("INBOX", 2, flags=(b"\\Draft",))
    state, _, _ = pull(mailbox.source(), None)
    assert [r.message_id for r in state.values()] == ["m1@example.org"]


def test_configured_folders_are_the_only_ones_read_and_may_name_drafts(mailbox):
    mailbox.create("Archive", "Drafts")
    for n, folder in enumerate(["INBOX", "Archive", "Drafts"]):
        mailbox.append(folder, n)
    state, _, _ = pull(mailbox.source(folders=["inbox", "Drafts"]), None)
    assert folders_of(state) == {"INBOX": 1, "Drafts": 1}


def test_sent_folders_names_an_unusual_sent_folder(mailbox):
    mailbox.create("Ausgang")
    mailbox.append("Ausgang", 1, sender="me@home.example", to="anna@example.org")
    state, _, _ = pull(mailbox.source(sent_folders=["Ausgang"]), None)
    assert [r.labels for r in state.values()] == [("SENT",)]


def test_the_date_comes_from_internaldate_when_the_header_has_none(mailbox):
    mailbox.client.append("INBOX", b"From: a@example.org\r\nTo: me@home.example\r\nSubject: undated\r\n\r\nx\r\n",
                          msg_time=__import__("datetime").datetime(2025, 5, 6, 7, 8, 9,
                                                                   tzinfo=__import__("datetime").UTC))
    state, _, _ = pull(mailbox.source(), None)
    assert [r.sent_at.isoformat() for r in state.values()] == ["2025-05-06T07:08:09+00:00"]


def test_a_date_after_the_internaldate_is_held_to_it(mailbox):
    """A sender's clock in 2037: the server's arrival time stands (Received fields are not fetched)."""
    from datetime import UTC, datetime
    mailbox.client.append("INBOX", b"Received: from mx by mx.me.example; Sun, 1 Mar 2026 09:00:00 +0000\r\n"
                                   b"From: a@example.org\r\nTo: me@home.example\r\nSubject: late\r\n"
                                   b"Date: Fri, 2 Mar 2037 09:00:00 +0000\r\n\r\nx\r\n",
                          msg_time=datetime(2026, 3, 2, 7, 8, 9, tzinfo=UTC))
    mailbox.append("INBOX", 1)                                          # dated January 2026, arrived now
    state, _, _ = pull(mailbox.source(), None)
    assert sorted(r.sent_at.isoformat() for r in state.values()) == [
        "2026-01-02T09:01:00+00:00", "2026-03-02T07:08:09+00:00"]


# ---------------------------------------------------------------- incremental sync, with the store


def test_new_mail_then_deletions_each_reach_the_store_once(mailbox, db):
    for n in range(1, 5):
        mailbox.append("INBOX", n)
    first = sync_source(db, mailbox.source())
    assert (first.error, first.new_messages) == (None, 4)
    mailbox.append("INBOX", 5)
    mailbox.delete("INBOX", 2)
    second = sync_source(db, mailbox.source())
    assert (second.error, second.messages, second.new_messages, second.deleted) == (None, 1, 1, 1)
    ids = {r[0] for r in db.execute("SELECT message_id FROM messages")}
    assert ids == {"m1@example.org", "m3@example.org", "m4@example.org", "m5@example.org"}
    third = sync_source(db, mailbox.source())
    assert (third.messages, third.deleted) == (0, 0)


@pytest.mark.parametrize("origin, target", [("INBOX", "Archive"), ("Archive", "INBOX")])
def test_a_message_moved_between_two_folders_stays_in_the_store(mailbox, db, origin, target):
    """Read in either order, the new folder's copy is stored before the old one's goes: the message keeps
    its row (its key) and counts as known, not as new and removed."""
    mailbox.create("Archive")
    uid = mailbox.append(origin, 1)
    mailbox.append(target, 2)
    sync_source(db, mailbox.source())
    before = dict(db.execute("SELECT message_id, key FROM messages").fetchall())
    mailbox.move(origin, uid, target)
    moved = sync_source(db, mailbox.source())
    assert (moved.error, moved.new_messages, moved.known_messages, moved.deleted) == (None, 0, 1, 1)
    assert dict(db.execute("SELECT message_id, key FROM messages").fetchall()) == before
    scopes = [r[0] for r in db.execute("SELECT scope FROM message_copies WHERE source_id LIKE ?", [f"{target}#%"])]
    assert len(scopes) == 2


def test_a_folder_gone_from_the_server_takes_its_mail_with_it(mailbox, db):
    mailbox.create("Projects")
    mailbox.append("INBOX", 1)
    mailbox.append("Projects", 2)
    sync_source(db, mailbox.source())
    mailbox.client.delete_folder("Projects")
    result = sync_source(db, mailbox.source())
    assert result.deleted == 1 and any("Projects: no longer on the server" in n for n in result.notes)
    assert [r[0] for r in db.execute("SELECT message_id FROM messages")] == ["m1@example.org"]


def test_a_renumbered_folder_is_read_again_and_its_old_copies_swept(mailbox, db):
    for n in range(1, 4):
        mailbox.append("INBOX", n)
    sync_source(db, mailbox.source())
    before = dict(db.execute("SELECT message_id, key FROM messages").fetchall())
    mailbox.server.set_uidvalidity(mailbox.user, "INBOX", 4242)
    result = sync_source(db, mailbox.source())
    assert (result.error, result.messages, result.new_messages, result.deleted) == (None, 3, 0, 3)
    assert any("UIDVALIDITY changed" in n for n in result.notes)
    assert dict(db.execute("SELECT message_id, key FROM messages").fetchall()) == before
    assert {r[0] for r in db.execute("SELECT scope FROM message_copies")} == {"INBOX#4242"}


@pytest.mark.parametrize("fail_after", range(4))
def test_an_interrupted_reading_of_a_renumbered_folder_loses_and_duplicates_nothing(mailbox, tmp_path, fail_after):
    """A sync killed after any batch of the new reading: the old copies stay until the new ones are all in,
    and the rerun ends where an uninterrupted sync ends."""
    for n in range(1, 4):
        mailbox.append("INBOX", n)
    crashed, clean = store.open_store(tmp_path / "crashed.db"), store.open_store(tmp_path / "clean.db")
    for db in (crashed, clean):
        sync_source(db, mailbox.source())
    mailbox.server.set_uidvalidity(mailbox.user, "INBOX", 4343)
    sync_source(clean, mailbox.source(batch_size=1))
    failed = sync_source(crashed, FailsAfter(mailbox.source(batch_size=1), fail_after))
    assert failed.error and "connection lost" in failed.error
    assert crashed.execute("SELECT count(*) FROM messages").fetchone()[0] == 3     # nothing lost meanwhile
    rerun = sync_source(crashed, mailbox.source(batch_size=1))
    assert rerun.error is None and rerun.new_messages == 0
    assert dump(crashed) == dump(clean)


@pytest.mark.parametrize("fail_after", range(5))
def test_a_sync_killed_after_any_batch_then_rerun_equals_a_clean_run(mailbox, tmp_path, fail_after):
    """New mail in two folders, a deletion and a move: every batch boundary is a possible kill."""
    mailbox.create("Archive")
    uids = [mailbox.append("INBOX", n) for n in range(1, 4)] + [mailbox.append("Archive", 4)]
    crashed, clean = store.open_store(tmp_path / "crashed.db"), store.open_store(tmp_path / "clean.db")
    for db in (crashed, clean):
        sync_source(db, mailbox.source(batch_size=1))
    mailbox.append("INBOX", 5)
    mailbox.append("Archive", 6)
    mailbox.delete("INBOX", uids[0])
    mailbox.move("INBOX", uids[1], "Archive")
    expected = sync_source(clean, mailbox.source(batch_size=1))
    assert expected.batches == 4           # Archive: 6, then the moved 2; INBOX: 5; then INBOX's two deletions
    failed = sync_source(crashed, FailsAfter(mailbox.source(batch_size=1), fail_after))
    assert (failed.error is not None) == (fail_after < expected.batches)
    assert crashed.execute("SELECT count(*) FROM messages WHERE message_id = 'm2@example.org'").fetchone()[0] == 1
    sync_source(crashed, mailbox.source(batch_size=1))
    assert dump(crashed) == dump(clean)
    assert sync_source(crashed, mailbox.source()).batches == 0


def test_an_unchanged_mailbox_costs_one_examine_per_folder(mailbox):
    mailbox.create("Archive")
    mailbox.append("INBOX", 1)
    mailbox.append("Archive", 2)
    source = mailbox.source()
    state, cursor, _ = pull(source, None)
    before = mailbox.server.sessions(mailbox.user)
    _, _, batches = pull(source, cursor, state)
    assert batches == []
    (session,) = mailbox.server.sessions(mailbox.user) - before
    commands = [line.split()[2].upper() for line in session.read_text().splitlines() if len(line.split()) > 2]
    assert "SEARCH" not in commands and "UID" not in commands and commands.count("EXAMINE") == 2


def test_uids_are_searched_in_windows_so_no_answer_outgrows_a_line(mailbox, db, monkeypatch):
    """imaplib refuses an answer line over 1 MB (some 140,000 UIDs): searches go in windows of UIDs."""
    monkeypatch.setattr(imap, "WINDOW", 2)
    uids = [mailbox.append("INBOX", n) for n in range(1, 8)]
    before = mailbox.server.sessions(mailbox.user)
    assert sync_source(db, mailbox.source()).new_messages == 7
    mailbox.delete("INBOX", uids[2])
    mailbox.append("INBOX", 8)
    result = sync_source(db, mailbox.source())
    assert (result.error, result.new_messages, result.deleted) == (None, 1, 1)
    first, second = sorted(mailbox.server.sessions(mailbox.user) - before)
    searches = lambda session: [line.split(" ", 2)[2] for line in session.read_text().splitlines()  # noqa: E731
                                if " UID SEARCH " in line]
    assert searches(first) == ["UID SEARCH UID 1:2", "UID SEARCH UID 3:4", "UID SEARCH UID 5:6", "UID SEARCH UID 7:*"]
    assert searches(second) == ["UID SEARCH UID 8:*", "UID SEARCH UID 1:2", "UID SEARCH UID 3:4",
                                "UID SEARCH UID 5:6", "UID SEARCH UID 7:*"]


def test_a_connection_the_server_drops_mid_sync_is_one_line_and_the_next_sync_resumes(mailbox, db):
    mailbox.create("Archive")
    for n in range(1, 4):
        mailbox.append("INBOX", n)
    mailbox.append("Archive", 4)

    class Kicked:
        """The source, with the server ending the session after the first batch (as a restart would)."""
        key = "imap:mail"

        def __init__(self, inner: ImapSource) -> None:
            self.inner = inner

        def check(self) -> None:
            self.inner.check()

        def pull(self, cursor):
            for n, batch in enumerate(self.inner.pull(cursor)):
                yield batch
                if n == 0:
                    mailbox.server.doveadm("kick", mailbox.user)

    failed = sync_source(db, Kicked(mailbox.source(batch_size=1)))
    assert failed.error and failed.error.startswith(f"imap:mail: the connection to 127.0.0.1:{mailbox.server.port} "
                                                    "broke (") and "\n" not in failed.error
    assert failed.error.endswith("— the next sync resumes where this one stopped")
    assert failed.messages == 1, failed.error
    rerun = sync_source(db, mailbox.source())
    assert (rerun.error, rerun.new_messages) == (None, 3)


def test_a_server_that_lists_no_inbox_removes_nothing(mailbox):
    """A folder list without INBOX is a fault on the server's side, not an empty account: the mail stays."""

    class NoFolders:
        """The real client, but for a LIST that answers nothing."""

        def __init__(self, client) -> None:
            self.client = client

        def __getattr__(self, name):
            return getattr(self.client, name)

        def list_folders(self):
            return []

    mailbox.append("INBOX", 1)
    source = mailbox.source()
    _, cursor, _ = pull(source, None)
    batches = source._new_mail(NoFolders(mailbox.client), imap.ImapCursor.parse(cursor, source.account), False, {})
    with pytest.raises(SourceError, match="the server lists no INBOX"):
        next(batches)                       # before any batch: no folder becomes stale, nothing is swept


def test_an_unreadable_cursor_keeps_the_store_whole_until_the_new_pass_ends(mailbox, db):
    """Every folder is read again; meanwhile (a kill after the first batch) nothing stored is lost, and the
    pass's end sweeps what the server no longer holds."""
    mailbox.create("Archive")
    uids = [mailbox.append("INBOX", n) for n in range(1, 4)]
    mailbox.append("Archive", 4)
    assert sync_source(db, mailbox.source()).error is None
    mailbox.delete("INBOX", uids[0])
    count = lambda: db.execute("SELECT count(*) FROM message_copies").fetchone()[0]  # noqa: E731
    first = next(iter(mailbox.source().pull("{damaged")))
    store.apply_batch(db, "imap:mail", first)               # killed after the first batch of the new pass
    assert count() == 4 and imap.RESYNC_NOTE in first.notes
    for batch in mailbox.source().pull(first.cursor):
        store.apply_batch(db, "imap:mail", batch)
    assert count() == 3
