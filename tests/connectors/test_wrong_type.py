"""A source of the wrong type, or a path one folder too deep: one error that names the likely fix.

Real folders in tmp_path: a Maildir source pointed at mbox files (or at a Maildir's cur/), an mbox source
pointed at a Maildir. A folder of mbox files stays an mbox source, whatever else lies beside it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from connectors.maildir import MaildirSource
from connectors.mbox import MboxSource
from daemon.errors import SourceError
from tests.contract import pull

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MAIL = ("From anna@x.example Mon Jan  6 09:00:00 2025\nMessage-ID: <{n}@x.example>\n"
        "Date: Mon, 6 Jan 2025 09:0{n}:00 +0000\nFrom: anna@x.example\nTo: me@home.example\nSubject: S{n}\n\nbody\n")


def maildir(folder: Path, n: int = 1) -> Path:
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "cur" / f"170000000{n}.M{n}P{n}.host:2,S").write_text(MAIL.format(n=n).split("\n", 1)[1])
    return folder


def error_of(source) -> str:
    with pytest.raises(SourceError) as caught:
        source.check()
    with pytest.raises(SourceError):
        list(source.pull(None))
    line = caught.value.line()
    assert "\n" not in line
    return line


# ------------------------------------------------------------ a Maildir source

def test_a_maildir_source_on_a_folder_of_mbox_files_says_to_set_type_mbox(tmp_path):
    archive = tmp_path / "mail-archive"
    (archive / "Inbox.sbd").mkdir(parents=True)           # Thunderbird's layout: names without ".mbox"
    (archive / "Inbox").write_text(MAIL.format(n=1))
    (archive / "Inbox.sbd" / "Lists").write_text(MAIL.format(n=2))
    (archive / "Inbox.msf").write_text("// <!-- <mdb:mork:z v=\"1.4\"/> -->")
    assert error_of(MaildirSource("m", archive)) == (
        f"{archive}: is not a Maildir: it holds mbox files (Inbox, Inbox.sbd/Lists: files that start with a "
        "\"From \" line) — set type = \"mbox\" for this source")


def test_a_maildir_source_on_one_mbox_file_says_to_set_type_mbox(tmp_path):
    (tmp_path / "archive.mbox").write_text(MAIL.format(n=1))
    assert error_of(MaildirSource("m", tmp_path / "archive.mbox")) == (
        f"{tmp_path / 'archive.mbox'}: is an mbox file (it starts with a \"From \" line), not a Maildir — "
        "set type = \"mbox\" for this source")


def test_a_maildir_source_on_many_mbox_files_names_a_few(tmp_path):
    for n in range(6):
        (tmp_path / f"box{n}").write_text(MAIL.format(n=n))
    assert "it holds mbox files (box0, box1, box2, …: files that start with" in error_of(MaildirSource("m", tmp_path))


def test_a_maildir_source_on_other_files_keeps_the_plain_error(tmp_path):
    (tmp_path / "notes.txt").write_text("From the desk of Anna\n")      # named as a document: no mbox file
    (tmp_path / "letter").write_text("Dear Anna,\n")
    os.mkfifo(tmp_path / "pipe")                                            # never opened: no hang
    line = error_of(MaildirSource("m", tmp_path))
    assert "not a Maildir (it has no cur/ and new/ folders" in line and "mbox" not in line


@pytest.mark.parametrize("sub", ["cur", "new", "tmp"])
def test_a_maildir_source_on_the_cur_folder_itself_says_to_point_at_its_parent(tmp_path, sub):
    inbox = maildir(tmp_path / "Mail" / "work" / "INBOX")
    assert error_of(MaildirSource("m", inbox / sub)) == (
        f"{inbox / sub}: is the {sub}/ folder inside a Maildir, not a Maildir — point path at the parent folder, "
        f"{inbox}")
    state, _, _ = pull(MaildirSource("m", inbox), None)                     # as the fix says: it reads
    assert len(state) == 1


def test_a_folder_called_cur_outside_a_maildir_is_not_taken_for_a_maildirs(tmp_path):
    (tmp_path / "Projects" / "cur").mkdir(parents=True)
    line = error_of(MaildirSource("m", tmp_path / "Projects" / "cur"))
    assert "not a Maildir (it has no cur/ and new/ folders" in line and "parent" not in line


# ------------------------------------------------------------ an mbox source

def test_an_mbox_source_on_a_maildir_says_to_set_type_maildir(tmp_path):
    root = maildir(tmp_path / "Maildir")
    assert error_of(MboxSource("m", root)) == (
        f"{root}: is a Maildir (it holds cur/ and new/ folders), not mbox files — set type = \"maildir\" for this "
        "source")


def test_an_mbox_source_on_an_account_folder_of_maildirs_says_to_set_type_maildir(tmp_path):
    account = tmp_path / "Mail" / "work"
    maildir(account / "INBOX", 1)
    maildir(account / "Sent", 2)
    (account / ".mbsyncstate").write_text("")
    assert error_of(MboxSource("m", account)) == (
        f"{account}: is a Maildir (INBOX/ in it holds cur/ and new/ folders), not mbox files — "
        "set type = \"maildir\" for this source")


def test_an_mbox_source_on_the_cur_folder_of_a_maildir_says_what_to_point_at(tmp_path):
    inbox = maildir(tmp_path / "INBOX")
    assert error_of(MboxSource("m", inbox / "cur")) == (
        f"{inbox / 'cur'}: is the cur/ folder inside a Maildir, not mbox files — set type = \"maildir\" for "
        f"this source, and point path at the parent folder, {inbox}")


def test_a_folder_of_mbox_files_beside_a_maildir_stays_an_mbox_source(tmp_path):
    shutil.copytree(FIXTURES / "mbox" / "folder", tmp_path / "archive")
    alone, _, _ = pull(MboxSource("m", tmp_path / "archive"), None)
    maildir(tmp_path / "archive", 9)                    # cur/ and new/ right in it, and a Maildir below it
    maildir(tmp_path / "archive" / "imported", 8)
    MboxSource("m", tmp_path / "archive").check()
    beside, _, _ = pull(MboxSource("m", tmp_path / "archive"), None)
    assert beside.keys() == alone.keys() and len(alone) > 3


def test_an_mbox_file_in_a_subfolder_of_an_account_folder_counts_too(tmp_path):
    maildir(tmp_path / "INBOX")
    (tmp_path / "old" / "2019").mkdir(parents=True)
    (tmp_path / "old" / "2019" / "archive").write_text(MAIL.format(n=3))
    state, _, _ = pull(MboxSource("m", tmp_path), None)
    assert [m.subject for m in state.values()] == ["S3"]
