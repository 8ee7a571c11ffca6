"""The mbox connector: the contract, then one test per quirk of real mailboxes."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import pytest

from connectors import mbox
from connectors.base import Address, Batch, MessageMeta
from connectors.mbox import MboxSource
from daemon.errors import SourceError
from tests.contract import BODY_MARKER, SourceContract, apply_to_memory, pull

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mbox"
OPENBMC = Path("/work/shared/data/openbmc/openbmc.mbox")
ENRON = Path("/work/shared/data/enron/mbox")


def message(n: int, *, sender: str = "new@example.com", message_id: bool = True) -> str:
    head = [f"From {sender} Mon Jan  4 10:00:00 2027"]
    head += [f"Message-ID: <new{n}@example.com>"] if message_id else []
    head += [f"Date: Mon, 4 Jan 2027 10:{n:02d}:00 +0000", f"From: New <{sender}>", "To: me@example.com",
             f"Subject: New {n}"]
    return "\n".join(head) + f"\n\nbody {BODY_MARKER}\n\n"


def sid(scope_and_id: str) -> str:
    """The source id of a fixture message ("inbox/m1@example.com"): scope, Message-ID and Date. The fixtures'
    message mN is dated 2021-06-08 08:0N UTC, `message(N)` 2027-01-04 10:NN UTC."""
    n = int(re.search(r"(\d+)@example\.com$", scope_and_id)[1])
    date = f"2027-01-04T10:{n:02d}:00+00:00" if "/new" in scope_and_id else f"2021-06-08T08:{n:02d}:00+00:00"
    return f"{scope_and_id}/{date}"


def messages_of(batches: list[Batch]) -> list[MessageMeta]:
    return [m for b in batches for m in b.messages]


def only(path: Path, **kwargs) -> tuple[list[MessageMeta], list[str]]:
    batches = list(MboxSource("t", path, **kwargs).pull(None))
    return messages_of(batches), [n for b in batches for n in b.notes]


def drop_message(path: Path, index: int) -> None:
    """Rewrite an mbox without its message number `index` (0-based)."""
    chunks = [c for c in re.split(rb"(?m)^(?=From )", path.read_bytes()) if c]
    del chunks[index]
    path.write_bytes(b"".join(chunks))


# ---------------------------------------------------------------- contract

class TestMboxFileContract(SourceContract):
    """One mbox file: additions are appended, removals rewrite the file."""

    def make_source(self, tmp_path: Path) -> MboxSource:
        tmp_path.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / "folder" / "inbox.mbox", tmp_path / "inbox.mbox")
        return MboxSource("inbox", tmp_path / "inbox.mbox")

    def add_item(self, tmp_path: Path) -> str:
        with open(tmp_path / "inbox.mbox", "a") as f:
            f.write(message(1))
        return sid("inbox/new1@example.com")

    def remove_item(self, tmp_path: Path) -> str:
        drop_message(tmp_path / "inbox.mbox", 1)
        return sid("inbox/m2@example.com")

    def expected_ids(self) -> set[str]:
        return {sid(f"inbox/m{n}@example.com") for n in (1, 2, 3)}


class TestMboxFolderContract(SourceContract):
    """A folder tree: additions are new files, removals delete a whole file."""

    def make_source(self, tmp_path: Path) -> MboxSource:
        shutil.copytree(FIXTURES / "folder", tmp_path / "mail")
        return MboxSource("mail", tmp_path / "mail")

    def add_item(self, tmp_path: Path) -> str:
        (tmp_path / "mail" / "projects").mkdir()
        (tmp_path / "mail" / "projects" / "kith.mbox").write_text(message(2))
        return sid("projects/kith/new2@example.com")

    def remove_item(self, tmp_path: Path) -> str:
        (tmp_path / "mail" / "private_folders" / "other.mbox").unlink()
        return sid("private_folders/other/m6@example.com")

    def expected_ids(self) -> set[str]:
        return ({sid(f"inbox/m{n}@example.com") for n in (1, 2, 3)}
                | {sid(f"sent_items/m{n}@example.com") for n in (4, 5)} | {sid("private_folders/other/m6@example.com")})


# ---------------------------------------------------------------- folders and scopes

def test_folder_scopes_sent_labels_and_ignored_files():
    found, notes = only(FIXTURES / "folder")
    by_id = {m.source_id: m for m in found}
    assert {m.scope for m in found} == {"inbox", "sent_items", "private_folders/other"}
    assert by_id[sid("sent_items/m4@example.com")].labels == ("SENT",)
    assert by_id[sid("inbox/m1@example.com")].labels == ()
    assert notes == []                      # README and notes.txt are silently not mail files


def test_enron_style_sent_folders_count_only_at_the_top():
    found, _ = only(FIXTURES / "enron_sent_folders")
    sent = {m.scope for m in found if m.labels == ("SENT",)}
    assert sent == {"sent_items", "_sent_mail", "sent", "_sent"}
    assert {m.scope for m in found} - sent == {"inbox", "chris_stokley/sent", "deleted_items/_sent_mail",
                                               "hold/old_sent"}


def test_configured_sent_folders_replace_the_defaults():
    found, _ = only(FIXTURES / "enron_sent_folders", sent_folders=["hold"])
    assert {m.scope for m in found if m.labels} == {"hold/old_sent"}


def test_drafts_and_junk_are_not_read_and_leave_the_store(tmp_path):
    (tmp_path / "inbox.mbox").write_text(message(1))
    (tmp_path / "Drafts.mbox").write_text(message(2, sender="me@example.com"))
    (tmp_path / "Junk").write_text(message(3, sender="spam@example.com"))
    state, cursor, batches = pull(MboxSource("t", tmp_path), None)
    assert {r.scope for r in state.values()} == {"inbox"}
    assert [n for b in batches for n in b.notes] == [
        "Drafts: drafts or junk, not read (never sent, or never wanted)",
        "Junk: drafts or junk, not read (never sent, or never wanted)"]
    _, _, again = pull(MboxSource("t", tmp_path), cursor, state)
    assert not [n for b in again for n in b.notes]              # said once
    # a store that read drafts before (an older Kith) loses them on the next sync
    old = json.loads(cursor)
    old["files"]["Drafts.mbox"] = [1, 1, "x", 1]
    state[sid("Drafts/new2@example.com")] = replace(next(iter(state.values())), source_id=sid("Drafts/new2@example.com"),
                                                    scope="Drafts")
    swept, _, _ = pull(MboxSource("t", tmp_path), json.dumps(old), state)
    assert {r.scope for r in swept.values()} == {"inbox"}


def test_a_file_name_that_is_not_utf8_is_stored_with_escapes(tmp_path, db):
    from daemon import store
    (tmp_path / os.fsdecode(b"Gel\xf6scht")).write_text(message(1))     # Latin-1 name from an old archive
    (tmp_path / os.fsdecode(b"Gel\xe9scht")).write_text(message(2))
    for batch in MboxSource("t", tmp_path).pull(None):
        store.apply_batch(db, "mbox:t", batch)
    scopes = [row[0] for row in db.execute("SELECT scope FROM message_copies ORDER BY scope")]
    assert scopes == ["Gel\\xe9scht", "Gel\\xf6scht"]


def test_an_mbox_folder_suddenly_empty_is_an_error_not_a_sweep(tmp_path):
    (tmp_path / "inbox.mbox").write_text(message(1))
    (tmp_path / "old.mbox").write_text(message(2))
    state, cursor, _ = pull(MboxSource("t", tmp_path), None)
    for f in tmp_path.iterdir():
        f.unlink()                                      # an unmounted disk leaves its empty mount point
    with pytest.raises(SourceError, match="none of the 2 files read before is there now"):
        pull(MboxSource("t", tmp_path), cursor, state)
    (tmp_path / "inbox.mbox").write_text(message(1))    # one file gone of two is a deletion, as before
    swept, _, _ = pull(MboxSource("t", tmp_path), cursor, state)
    assert {r.scope for r in swept.values()} == {"inbox"}


def test_a_single_file_scope_is_its_stem_and_the_body_is_never_parsed():
    found, _ = only(FIXTURES / "folder" / "inbox.mbox")
    assert [m.source_id for m in found] == [sid(f"inbox/m{n}@example.com") for n in (1, 2, 3)]
    assert found[0].sender == Address("alice@example.com", "Alice Example")
    assert all(BODY_MARKER not in m.subject for m in found)


# ---------------------------------------------------------------- header quirks

def test_rfc2047_names_and_subjects():
    found, notes = only(FIXTURES / "rfc2047_names.mbox")
    first, broken = found
    assert first.sender == Address("juergen@example.de", "Jürgen Müller")
    assert first.to == (Address("renee@example.de", "Renée Faßbender"), Address("oersted@example.dk", "Örsted"))
    assert first.subject == "Grüße aus Köln"
    assert broken.sender.name == "=?utf-8?q?broken"
    assert broken.subject == "=?utf-8?x?nonsense?= and =?bogus-charset?q?abc?="
    assert notes == []


def test_malformed_headers_are_tolerated():
    found, notes = only(FIXTURES / "malformed_headers.mbox")
    by_id = {m.message_id: m for m in found}
    assert set(by_id) == {"mal1@example.com", "mal2@example.com", "mal3@example.com"}
    first = by_id["mal1@example.com"]
    assert first.sent_at == datetime(2021, 6, 8, 8, 1, tzinfo=UTC)        # the first Date wins
    assert first.sender == Address("matthews.patricia@enron.com", "Patricia, Matthews")
    assert [a.email for a in first.to] == ["a@example.com", "first.last@example.com", "b@example.com"]
    assert first.cc == (Address("juergen@example.de", "Jürgen"),)
    assert first.subject == "Folded subject line"
    second = by_id["mal2@example.com"]                                     # no blank line after its header
    assert second.subject == "Café no blank line before the next message"
    assert second.sender.email == "latin1é@example.com"
    assert notes == []


def test_unparseable_dates_fall_back_and_are_noted():
    found, notes = only(FIXTURES / "unparseable_dates.mbox")
    dates = {m.message_id: m.sent_at for m in found}
    assert dates == {"m1@example.com": datetime(2021, 6, 8, 8, 1, tzinfo=UTC),     # the "From " line
                     "m2@example.com": datetime(2021, 6, 9, 12, 0, tzinfo=UTC)}    # the Received field
    assert notes == ["unparseable_dates.mbox: message 3 has no usable Date, skipped"]


def test_missing_message_ids_get_stable_header_hashes():
    found, _ = only(FIXTURES / "missing_message_id.mbox")
    ids = [m.source_id for m in found]
    assert len(ids) == 2 and len(set(ids)) == 2
    assert all(i.startswith("missing_message_id/h:") for i in ids)
    assert [m.source_id for m in only(FIXTURES / "missing_message_id.mbox")[0]] == ids
    assert all(m.message_id is None for m in found)


def test_a_duplicate_message_is_emitted_once():
    found, _ = only(FIXTURES / "duplicate_messages.mbox")
    assert [m.source_id for m in found] == [sid("duplicate_messages/m1@example.com"),
                                            sid("duplicate_messages/m2@example.com")]
    assert found[0].subject == "Message 1, second copy"    # the later copy wins, as in the store after an append


def resent(n: int, minute: int) -> str:
    """`message(n)` sent again under the same Message-ID at another minute (git send-email run twice)."""
    return message(n).replace(f"10:{n:02d}:00 +0000", f"10:{minute:02d}:00 +0000")


def test_a_resend_under_the_same_message_id_is_a_second_message(tmp_path):
    path = tmp_path / "inbox.mbox"
    path.write_text(message(1) + message(1) + resent(1, 30))          # a delivery twice, then a re-send
    found, _ = only(path)
    assert [m.source_id for m in found] == [sid("inbox/new1@example.com"),
                                            "inbox/new1@example.com/2027-01-04T10:30:00+00:00"]
    assert len({m.message_id for m in found}) == 1


def test_a_resend_appended_later_keeps_the_first_send(tmp_path):
    path = tmp_path / "inbox.mbox"
    path.write_text(message(1))
    source = MboxSource("i", path)
    state, cursor, _ = pull(source, None)
    with open(path, "a") as f:
        f.write(resent(1, 30))
    state, cursor, batches = pull(source, cursor, state)
    assert [b.scopes for b in batches] == [()]                               # read from the old end only
    assert sorted(m.sent_at.minute for m in state.values()) == [1, 30]
    assert pull(MboxSource("i", path), None)[0] == state                     # as a first sync of the file sees it


def test_two_deliveries_without_a_date_field_are_one_message(tmp_path):
    path = tmp_path / "inbox.mbox"
    undated = [re.sub(r"(?m)^Date: .*\n", "", message(1)).replace("10:00:00", time) for time in ("10:00:00", "11:00:00")]
    path.write_text("".join(undated))                                 # the "From " lines differ: they are the copies'
    found, _ = only(path)
    assert [m.source_id for m in found] == ["inbox/new1@example.com"]


def list_copy(n: int) -> str:
    return message(n).replace("Subject:", "List-Id: <dev.lists.example>\nSubject:")


@pytest.mark.parametrize("appended", [False, True])
def test_a_direct_and_a_list_copy_are_one_message_with_the_list_headers_however_they_came(tmp_path, appended):
    path = tmp_path / "inbox.mbox"
    source = MboxSource("i", path)
    path.write_text(message(1) + ("" if appended else list_copy(1)))
    state, cursor, _ = pull(source, None)
    if appended:
        with open(path, "a") as f:
            f.write(list_copy(1))
        state, cursor, _ = pull(source, cursor, state)
    assert [(m.bulk, m.list_id) for m in state.values()] == [(True, "dev.lists.example")]


@pytest.mark.parametrize("appended", [False, True])
def test_a_list_copy_with_its_own_subject_gives_the_same_store_whether_read_at_once_or_appended(tmp_path, appended):
    from daemon import store
    path, db = tmp_path / "inbox.mbox", store.open_store(tmp_path / "k.db")
    relabelled = list_copy(1).replace("Subject: New 1", "Subject: [dev] New 1")    # as a list server rewrites it
    steps = [message(1), message(1) + relabelled] if appended else [message(1) + relabelled]
    for text in steps:
        path.write_text(text)
        source = MboxSource("i", path)
        for batch in source.pull(store.cursor_of(db, source.key)):
            store.apply_batch(db, source.key, batch)
    rows = db.execute("SELECT subject, bulk, list_id FROM messages").fetchall()
    assert [tuple(r) for r in rows] == [("[dev] New 1", 1, "dev.lists.example")]


def test_a_cursor_from_before_dated_ids_rereads_each_file_once_and_sweeps_the_old_ids(tmp_path):
    shutil.copytree(FIXTURES / "folder", tmp_path / "mail")
    source = MboxSource("m", tmp_path / "mail")
    fresh, cursor, _ = pull(source, None)
    old = json.loads(cursor)
    old["v"] = 1
    (tmp_path / "mail" / "sent_items.mbox").unlink()                        # gone since the old sync
    undated = {source_id.rsplit("/", 1)[0]: replace(m, source_id=source_id.rsplit("/", 1)[0])
               for source_id, m in fresh.items()}
    state, cursor, batches = pull(source, json.dumps(old), undated)
    assert not any(b.full_resync for b in batches)                          # file by file, each with its scope
    assert "every file is read once more" in batches[0].notes[0]
    assert state == {k: m for k, m in fresh.items() if not k.startswith("sent_items/")}
    assert list(source.pull(cursor)) == []


def test_crlf_mbox():
    found, notes = only(FIXTURES / "crlf_line_endings.mbox")
    assert [m.subject for m in found] == ["Message 1", "Message 2"] and notes == []
    assert found[0].to == (Address("bob@example.com", "Bob"),)


def test_each_bulk_header_marks_bulk():
    found, _ = only(FIXTURES / "bulk_headers.mbox")
    bulk = {m.subject: m.bulk for m in found}
    assert bulk.pop("personal") is False
    assert bulk and all(bulk.values()), bulk
    assert {m.subject: m.list_id for m in found}["list_id"] == "openbmc.lists.ozlabs.org"


# ---------------------------------------------------------------- broken files

def test_a_truncated_mbox_keeps_the_complete_messages(tmp_path):
    path = tmp_path / "truncated.mbox"
    shutil.copy(FIXTURES / "truncated.mbox", path)
    source = MboxSource("t", path)
    state, cursor, batches = pull(source, None)
    assert set(state) == {sid("truncated/m1@example.com"), sid("truncated/m2@example.com")}
    assert batches[0].notes == ("truncated.mbox: message 3 is cut off inside its header, skipped for now",)
    with open(path, "a") as f:                                  # the writer goes on, still inside the header
        f.write("ice <alice@example.com>\n")
    state, cursor, batches = pull(source, cursor, state)        # the resumed reading names it as the file's 3rd
    assert batches[0].notes == ("truncated.mbox: message 3 is cut off inside its header, skipped for now",)
    with open(path, "a") as f:                                  # the writer finishes the message
        f.write("Subject: done\n\nbody\n\n")
    state, _, batches = pull(source, cursor, state)
    assert [m.source_id for m in messages_of(batches)] == [sid("truncated/m3@example.com")]
    assert not batches[0].scopes and len(state) == 3


@pytest.mark.parametrize("line", ["From the desk of Bob:", "From here on, we meet at 10:00 on Mondays.", "From Bob"])
def test_a_body_line_starting_with_from_that_is_no_separator_stays_body(tmp_path, line):
    """An mboxo writer leaves body lines as they are: a quoted message's headers after "From the desk of…"
    must not become a stored message (its subject is body text), nor a line of prose a dateless one."""
    quoted = ("From: Bob Secret <bob@secret.example>\nTo: board@x.example\nDate: Mon, 2 Mar 2026 09:00:00 +0000\n"
              "Subject: Confidential\n\nbody\n")
    first = message(1).replace("\n\nbody", f"\n\nSee below.\n{line}\n{quoted}\nbody", 1)
    takeout = message(3).replace("Mon Jan  4 10:00:00 2027", "Mon Jan 04 10:00:00 +0000 2027", 1)
    rfc_dated = message(4).replace("Mon Jan  4 10:00:00 2027", "Mon, 4 Jan 2027 10:00:00", 1)
    (tmp_path / "inbox.mbox").write_text(first + message(2) + takeout + rfc_dated)
    found, notes = only(tmp_path / "inbox.mbox")
    assert [m.subject for m in found] == ["New 1", "New 2", "New 3", "New 4"] and notes == []
    assert all(m.sender.email == "new@example.com" for m in found)


@pytest.mark.parametrize("written", [3, 12])          # "Fro" and "From new@exa" of the next message
def test_a_from_line_caught_half_written_is_read_when_finished(tmp_path, written):
    path = tmp_path / "inbox.mbox"
    whole = (FIXTURES / "folder" / "inbox.mbox").read_bytes() + message(1).encode()
    cut = len((FIXTURES / "folder" / "inbox.mbox").read_bytes()) + written
    path.write_bytes(whole[:cut])
    source = MboxSource("i", path)
    state, cursor, _ = pull(source, None)
    assert len(state) == 3
    path.write_bytes(whole)
    state, _, batches = pull(source, cursor, state)
    assert [m.source_id for m in messages_of(batches)] == [sid("inbox/new1@example.com")] and len(state) == 4


def test_a_non_mbox_file_in_a_folder_is_noted_and_skipped(tmp_path):
    shutil.copytree(FIXTURES / "folder", tmp_path / "mail")
    shutil.copy(FIXTURES / "not_an_mbox.mbox", tmp_path / "mail" / "garbage.mbox")
    source = MboxSource("m", tmp_path / "mail")
    state, cursor, batches = pull(source, None)
    assert len(state) == 6
    assert [n for b in batches for n in b.notes] == [
        'garbage.mbox: not an mbox file (no "From " line at the start), skipped']
    assert list(source.pull(cursor)) == []                      # noted once, not on every pull


def test_a_non_mbox_file_as_the_path_is_a_clear_error():
    source = MboxSource("m", FIXTURES / "not_an_mbox.mbox")
    with pytest.raises(SourceError) as caught:
        list(source.pull(None))
    line = caught.value.line()
    assert "not_an_mbox.mbox" in line and "not an mbox" in line and "set path" in line and "\n" not in line
    with pytest.raises(SourceError):
        source.check()


def test_an_empty_mbox_is_an_empty_scope(tmp_path):
    (tmp_path / "empty.mbox").write_bytes(b"")
    batches = list(MboxSource("e", tmp_path / "empty.mbox").pull(None))
    assert [(b.messages, b.scopes) for b in batches] == [((), ("empty",))]


# ---------------------------------------------------------------- incremental reads

def test_an_append_is_read_from_the_old_end_only(tmp_path, monkeypatch):
    path = tmp_path / "inbox.mbox"
    shutil.copy(FIXTURES / "folder" / "inbox.mbox", path)
    source = MboxSource("i", path)
    state, cursor, _ = pull(source, None)
    old_size = path.stat().st_size
    with open(path, "a") as f:
        f.write(message(1) + message(2))
    starts: list[int] = []
    real_parse = MboxSource._parse
    monkeypatch.setattr(MboxSource, "_parse", lambda self, rel, data, start, **kw: starts.append(start)
                        or real_parse(self, rel, data, start, **kw))
    state, cursor, batches = pull(source, cursor, state)
    assert starts == [old_size]
    assert [m.source_id for m in messages_of(batches)] == [sid("inbox/new1@example.com"),
                                                           sid("inbox/new2@example.com")]
    assert [b.scopes for b in batches] == [()]
    assert len(state) == 5
    assert list(source.pull(cursor)) == []


def test_an_append_after_an_edit_is_a_full_reread(tmp_path):
    path = tmp_path / "inbox.mbox"
    shutil.copy(FIXTURES / "folder" / "inbox.mbox", path)
    source = MboxSource("i", path)
    state, cursor, _ = pull(source, None)
    path.write_bytes(path.read_bytes().replace(b"Subject: Message 3", b"Subject: Edited 3") + message(1).encode())
    state, _, batches = pull(source, cursor, state)
    assert [b.scopes for b in batches] == [("inbox",)]
    assert len(messages_of(batches)) == 4 and state[sid("inbox/m3@example.com")].subject == "Edited 3"


def test_a_long_append_comes_in_chunks_each_with_a_resumable_cursor(tmp_path, monkeypatch):
    monkeypatch.setattr(mbox, "BATCH_MESSAGES", 2)
    path = tmp_path / "inbox.mbox"
    shutil.copy(FIXTURES / "folder" / "inbox.mbox", path)
    source = MboxSource("i", path)
    state, cursor, _ = pull(source, None)
    path.write_bytes(path.read_bytes() + "".join(message(n) for n in range(1, 6)).encode())
    batches = list(source.pull(cursor))
    assert [len(b.messages) for b in batches] == [2, 2, 1]
    # Crash after the first chunk: resuming from its cursor yields exactly the rest.
    rest = messages_of(list(source.pull(batches[0].cursor)))
    assert [m.source_id for m in rest] == [sid(f"inbox/new{n}@example.com") for n in (3, 4, 5)]
    for batch in batches:
        apply_to_memory(state, batch)
    assert len(state) == 8 and list(source.pull(batches[-1].cursor)) == []


def test_a_long_first_reading_comes_in_chunks_and_an_interrupted_one_keeps_what_it_read(tmp_path, monkeypatch):
    """A Takeout mbox read for the first time, interrupted halfway: the next sync goes on from the chunk it
    had stored, reading nothing twice; a note about message 5 names it so whatever chunk it fell in."""
    monkeypatch.setattr(mbox, "BATCH_MESSAGES", 2)
    path = tmp_path / "inbox.mbox"
    undated = message(9).replace("Date: ", "X-Was-Date: ").replace(" Mon Jan  4 10:00:00 2027", "")
    path.write_text("".join(message(n) for n in range(1, 5)) + undated + message(6))
    source = MboxSource("i", path)
    batches = list(source.pull(None))
    assert [len(b.messages) for b in batches] == [2, 2, 1] and [b.scopes for b in batches] == [(), (), ()]
    assert [n for b in batches for n in b.notes] == ["inbox.mbox: message 5 has no usable Date, skipped"]
    resumed = list(source.pull(batches[0].cursor))                     # killed after the first chunk was stored
    assert [m.source_id for m in messages_of(resumed)] == [sid(f"inbox/new{n}@example.com") for n in (3, 4, 6)]
    assert [n for b in resumed for n in b.notes] == ["inbox.mbox: message 5 has no usable Date, skipped"]
    assert list(source.pull(batches[-1].cursor)) == []


def test_only_changed_files_of_a_folder_are_read_and_vanished_ones_swept(tmp_path):
    shutil.copytree(FIXTURES / "folder", tmp_path / "mail")
    source = MboxSource("m", tmp_path / "mail")
    state, cursor, _ = pull(source, None)
    (tmp_path / "mail" / "sent_items.mbox").unlink()
    with open(tmp_path / "mail" / "inbox.mbox", "a") as f:
        f.write(message(9))
    state, cursor, batches = pull(source, cursor, state)
    # the appended tail and the vanished file arrive in one batch: only sent_items is swept
    assert [(b.scopes, [m.source_id for m in b.messages]) for b in batches] == [
        (("sent_items",), [sid("inbox/new9@example.com")])]
    assert sorted(state) == sorted([sid(f"inbox/m{n}@example.com") for n in (1, 2, 3)]
                                   + [sid("inbox/new9@example.com"), sid("private_folders/other/m6@example.com")])
    cursor_files = json.loads(cursor)["files"]
    assert sorted(cursor_files) == ["inbox.mbox", "private_folders/other.mbox"]


# ---------------------------------------------------------------- real data

@pytest.mark.skipif(not OPENBMC.exists(), reason="needs /work/shared/data/openbmc (not shipped with the repo)")
def test_the_first_2000_openbmc_messages_are_list_mail_with_aware_dates():
    batch = next(MboxSource("openbmc", OPENBMC).pull(None))
    first = list(islice(batch.messages, 2000))
    assert len(first) == 2000
    assert all(m.bulk and m.list_id == "openbmc.lists.ozlabs.org" for m in first)
    assert all(m.sent_at.utcoffset() is not None and m.sent_at.utcoffset().total_seconds() == 0 for m in first)
    assert all("@" in m.sender.email for m in first)
    assert batch.notes == ()


@pytest.mark.skipif(not ENRON.exists(), reason="needs /work/shared/data/enron (not shipped with the repo)")
def test_the_enron_mailboxes_parse_with_sent_folders_labelled():
    total = 0
    for owner in sorted(p for p in ENRON.iterdir() if p.is_dir()):
        found, notes = only(owner)
        total += len(found)
        assert notes == []
        sent_scopes = {m.scope for m in found if m.labels == ("SENT",)}
        present = {p.stem for p in owner.glob("*.mbox")}
        assert sent_scopes == present & {"sent_items", "_sent_mail", "sent"}
    assert total == 636


def test_mbox_files_named_freely_by_mail_clients_are_read(tmp_path):
    """Thunderbird keeps subfolders as "Inbox.sbd/<name>" files, and names may hold dots or spaces."""
    inbox = (FIXTURES / "folder" / "inbox.mbox").read_bytes()
    (tmp_path / "Inbox.sbd").mkdir()
    (tmp_path / "Inbox").write_bytes(inbox)
    (tmp_path / "Inbox.sbd" / "Lists.openbmc").write_bytes(inbox)
    (tmp_path / "Inbox.sbd" / "OpenBMC v2.11").write_bytes(inbox)
    (tmp_path / "Inbox.msf").write_bytes(b"// <!-- <mdb:mork:z v=\"1.4\"/> -->")     # Thunderbird's index: not mail
    found, notes = only(tmp_path)
    assert {m.scope for m in found} == {"Inbox", "Inbox.sbd/Lists.openbmc", "Inbox.sbd/OpenBMC v2.11"}
    assert len(found) == 3 * len([m for m in found if m.scope == "Inbox"]) and notes == []


def test_the_received_field_comes_before_the_from_line_when_date_is_unusable(tmp_path):
    """An exporter may write its own time on the "From " line; the Received field says when the mail came."""
    path = tmp_path / "export.mbox"
    path.write_text("From x@y Mon Jan  5 10:00:00 2015\nMessage-ID: <r1@example.com>\nDate: soon\n"
                    "From: Alice <alice@example.com>\nTo: bob@example.com\nSubject: Hi\n"
                    "Received: from mx by mail; Tue, 3 Mar 2020 09:00:00 +0000\n\nbody\n")
    found, _ = only(path)
    assert [m.sent_at for m in found] == [datetime(2020, 3, 3, 9, 0, tzinfo=UTC)]


def test_a_date_after_the_received_field_is_held_to_it_and_the_from_line_never_is(tmp_path):
    """A sender's clock in 2037 (the far future hides the mail from every judgment until then): the topmost
    Received field says when it came. The "From " line is no arrival: `git format-patch` writes 2001 there."""
    path = tmp_path / "skew.mbox"
    path.write_text("From sender@x Thu Jan  1 00:00:00 2026\n"
                    "Received: from mx.other.example by mx.me.example; Mon, 2 Mar 2026 09:00:05 +0000\n"
                    "From: Ann <ann@other.example>\nTo: me@me.example\nDate: Fri, 2 Mar 2037 09:00:00 +0000\n"
                    "Subject: project question\nMessage-ID: <s1@other>\n\nbody\n\n"
                    "From 0123abcd Mon Sep 17 00:00:00 2001\nFrom: Bo <bo@other.example>\n"
                    "Date: Tue, 3 Mar 2026 10:00:00 +0000\nSubject: [PATCH] fix\nMessage-ID: <p1@other>\n\ndiff\n")
    found, _ = only(path)
    assert [(m.message_id, m.sent_at) for m in found] == [
        ("s1@other", datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC)), ("p1@other", datetime(2026, 3, 3, 10, tzinfo=UTC))]
    assert found[0].source_id == "skew/s1@other/2037-03-02T09:00:00+00:00"     # the id keeps the Date written
