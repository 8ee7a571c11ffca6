"""The Maildir connector: the contract, folder layouts, flags, and header-only reads."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import Batch, MessageMeta
from connectors.maildir import MaildirSource, read_header_block, unique_name_date
from daemon.errors import SourceError
from tests.contract import BODY_MARKER, SourceContract, pull

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "maildir" / "mixed_layouts"
ALL_IDS = {
    "INBOX/1600000001.M1P1.host", "INBOX/1600000002.M2P2.host", "INBOX/1600000003.M3P3.host",
    "INBOX/1600000007.M7P7.host", "Sent/1600000004.M4P4.host", "Lists/openbmc/1600000005.M5P5.host",
    "Archive/2024/1600000006.M6P6.host",
}


def copy(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "Maildir")
    return tmp_path / "Maildir"


def new_message(n: int) -> str:
    return (f"Message-ID: <added{n}@example.com>\nDate: Mon, 4 Jan 2027 10:00:00 +0000\n"
            f"From: Added <added@example.com>\nTo: me@example.com\nSubject: Added {n}\n\n{BODY_MARKER}\n")


def messages_of(batches: list[Batch]) -> list[MessageMeta]:
    return [m for b in batches for m in b.messages]


def maildir(path: Path) -> Path:
    """An empty Maildir folder (cur/, new/, tmp/) at path, made with any parents."""
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def deliver(folder: Path, n: int, flags: str = "S") -> str:
    """Message n in the folder's cur/ with these Maildir flags; its unique name (the id's last part)."""
    unique = f"17000000{n:02d}.M{n}P{n}.host"
    (folder / "cur" / f"{unique}:2,{flags}").write_text(new_message(n))
    return unique


def touch_later(folder: Path) -> None:
    """Move cur/'s mtime on by a second, as a later second would: mtimes are coarser than a test."""
    stat = (folder / "cur").stat()
    os.utime(folder / "cur", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


class TestMaildirContract(SourceContract):
    """Additions are deliveries into new/, removals delete a file from cur/."""

    def make_source(self, tmp_path: Path) -> MaildirSource:
        return MaildirSource("home", copy(tmp_path))

    def add_item(self, tmp_path: Path) -> str:
        (tmp_path / "Maildir" / "new" / "1700000000.M9P9.host").write_text(new_message(9))
        return "INBOX/1700000000.M9P9.host"

    def remove_item(self, tmp_path: Path) -> str:
        (tmp_path / "Maildir" / ".Sent" / "cur" / "1600000004.M4P4.host:2,S").unlink()
        return "Sent/1600000004.M4P4.host"

    def expected_ids(self) -> set[str]:
        return ALL_IDS


def test_maildir_plus_plus_and_nested_folders_are_scopes(tmp_path):
    state, _, batches = pull(MaildirSource("m", copy(tmp_path)), None)
    # small folders arrive merged into one batch that names every scope it holds completely
    assert [b.scopes for b in batches] == [("Archive/2024", "INBOX", "Lists/openbmc", "Sent")]
    assert {m.scope for m in state.values()} == {"INBOX", "Sent", "Lists/openbmc", "Archive/2024"}
    assert {m.source_id for m in state.values() if m.labels == ("SENT",)} == {"Sent/1600000004.M4P4.host"}
    listed = state["Lists/openbmc/1600000005.M5P5.host"]
    assert listed.bulk and listed.list_id == "openbmc.lists.ozlabs.org"


def test_a_flag_change_or_a_move_to_cur_is_not_a_new_message(tmp_path):
    root = copy(tmp_path)
    source = MaildirSource("m", root)
    before, cursor, _ = pull(source, None)
    (root / "cur" / "1600000001.M1P1.host:2,S").rename(root / "cur" / "1600000001.M1P1.host:2,RS")
    (root / "new" / "1600000003.M3P3.host").rename(root / "cur" / "1600000003.M3P3.host:2,S")
    for sub in ("cur", "new"):             # as a later second would: mtimes are coarser than this test
        stat = (root / sub).stat()
        os.utime(root / sub, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    after, cursor, batches = pull(source, cursor, before)
    assert [b.scopes for b in batches] == [("INBOX",)]         # only the changed folder is re-read
    assert after == before
    assert list(source.pull(cursor)) == []


def test_a_vanished_folder_is_an_empty_batch_with_its_scope(tmp_path):
    root = copy(tmp_path)
    source = MaildirSource("m", root)
    before, cursor, _ = pull(source, None)
    shutil.rmtree(root / ".Lists.openbmc")
    after, _, batches = pull(source, cursor, before)
    assert [(b.scopes, b.messages) for b in batches] == [(("Lists/openbmc",), ())]
    assert set(before) - set(after) == {"Lists/openbmc/1600000005.M5P5.host"}


def test_the_file_name_timestamp_is_the_last_date_fallback(tmp_path):
    state, _, _ = pull(MaildirSource("m", copy(tmp_path)), None)
    assert state["INBOX/1600000007.M7P7.host"].sent_at == datetime(2020, 9, 13, 12, 26, 47, tzinfo=UTC)
    assert unique_name_date("1600000007.M7P7.host") == datetime(2020, 9, 13, 12, 26, 47, tzinfo=UTC)
    assert unique_name_date("no-timestamp.host") is None


def test_a_date_after_the_arrival_is_held_to_the_received_field_else_the_delivery_time(tmp_path):
    """A sender's clock in 2037 would hide the mail until then. A name that is no time ("1.host", from an
    import script) holds nothing, or every Date would become 1970."""
    folder = maildir(tmp_path / "Maildir")
    late = "From: Ann <ann@other.example>\nDate: Fri, 2 Mar 2037 09:00:00 +0000\nSubject: Hi\n"
    received = "Received: from mx by mx.me.example; Sun, 1 Mar 2026 09:00:00 +0000\n"
    (folder / "cur" / "1772441405.M1P1.host:2,S").write_text(received + late + "\nbody\n")
    (folder / "cur" / "1772441405.M2P2.host:2,S").write_text(late + "\nbody\n")
    (folder / "cur" / "1.host:2,S").write_text(late + "\nbody\n")
    state, _, _ = pull(MaildirSource("m", folder), None)
    assert {sid.split("/", 1)[1]: m.sent_at for sid, m in state.items()} == {
        "1772441405.M1P1.host": datetime(2026, 3, 1, 9, tzinfo=UTC),
        "1772441405.M2P2.host": datetime(2026, 3, 2, 8, 50, 5, tzinfo=UTC),           # its delivery time
        "1.host": datetime(2037, 3, 2, 9, tzinfo=UTC)}


def test_a_message_without_any_date_is_skipped_with_a_note(tmp_path):
    root = copy(tmp_path)
    (root / "cur" / "undated.host:2,S").write_text("From: a@example.com\nSubject: when?\n\nbody\n")
    batches = list(MaildirSource("m", root).pull(None))
    notes = [n for b in batches for n in b.notes]
    assert notes == ["INBOX/cur/undated.host:2,S: message has no usable Date, skipped"]
    assert len(messages_of(batches)) == len(ALL_IDS)


def test_only_the_header_block_is_read(tmp_path):
    path = tmp_path / "big"
    header = b"From: a@example.com\r\nSubject: big\r\n"
    path.write_bytes(header + b"\r\n" + (BODY_MARKER.encode() + b"\r\n") * 500_000)
    assert read_header_block(path) == header
    (tmp_path / "no-body").write_bytes(b"From: a@example.com\nSubject: no body at all")
    assert read_header_block(tmp_path / "no-body") == b"From: a@example.com\nSubject: no body at all"
    # A blank line that straddles two chunks is still found.
    edge = b"X-Pad: " + b"p" * (16384 - 9) + b"\n"
    (tmp_path / "edge").write_bytes(edge + b"\nbody " + BODY_MARKER.encode())
    assert read_header_block(tmp_path / "edge") == edge


def test_a_path_that_is_not_a_maildir_is_a_clear_error(tmp_path):
    (tmp_path / "cur").mkdir()
    with pytest.raises(SourceError) as caught:
        MaildirSource("m", tmp_path).check()
    assert "not a Maildir" in caught.value.line() and str(tmp_path) in caught.value.line()
    with pytest.raises(SourceError):
        list(MaildirSource("m", tmp_path).pull(None))


def test_two_layouts_naming_one_folder_twice_lose_no_mail(tmp_path):
    """".Lists.openbmc" (Maildir++) and "Lists/openbmc" (nested), or a subfolder called INBOX beside the
    root's own mail, are different folders: each keeps its messages."""
    root = tmp_path / "Maildir"
    for folder, n in (("", 1), ("INBOX", 2), (".Lists.openbmc", 3), ("Lists/openbmc", 4)):
        for sub in ("cur", "new", "tmp"):
            (root / folder / sub).mkdir(parents=True, exist_ok=True)
        (root / folder / "new" / f"17000000{n:02d}.M{n}P{n}.host").write_text(new_message(n))
    state, _, _ = pull(MaildirSource("m", root), None)
    assert sorted(m.subject for m in state.values()) == ["Added 1", "Added 2", "Added 3", "Added 4"]
    assert {m.scope for m in state.values()} == {"INBOX", "INBOX [INBOX]", "Lists/openbmc",
                                                 "Lists/openbmc [Lists/openbmc]"}
