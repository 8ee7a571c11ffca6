"""FIFOs and symlink loops inside the folders of file sources: skipped with a note naming them, never opened."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.ics import IcsSource
from connectors.maildir import MaildirSource
from connectors.mbox import MboxSource
from daemon.errors import SourceError
from tests.contract import pull

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LOOP = "cannot be read (Too many levels of symbolic links), skipped"
FIFO = "not a regular file (a FIFO, socket or device), skipped"


def fifo(path: Path) -> None:
    """A FIFO that lets a blocked reader go after 2 s: a regression fails the test instead of hanging it."""
    os.mkfifo(path)

    def release() -> None:
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_RDWR | os.O_NONBLOCK))
    timer = threading.Timer(2, release)
    timer.daemon = True
    timer.start()


def symlink_loop(folder: Path, a: str, b: str) -> None:
    (folder / a).symlink_to(b)
    (folder / b).symlink_to(a)


def notes_of(batches) -> list[str]:
    return [n for b in batches for n in b.notes]


def test_an_ics_folder_notes_a_fifo_and_a_symlink_loop_and_reads_the_rest(tmp_path):
    folder = tmp_path / "cal"
    shutil.copytree(FIXTURES / "ics" / "contract", folder)
    fifo(folder / "ff.ics")
    symlink_loop(folder, "loopA.ics", "loopB.ics")
    source = IcsSource("c", folder, now=datetime(2024, 6, 1, tzinfo=UTC))
    state, cursor, batches = pull(source, None)
    skipped = [f"ff.ics: {FIFO}", f"loopA.ics: {LOOP}", f"loopB.ics: {LOOP}"]
    assert notes_of(batches) == skipped and len(state) == 6
    resync = list(source.pull("not a cursor"))               # the other way through: one batch of everything
    assert notes_of(resync)[1:] == skipped and len(resync[0].events) == 6


def test_an_mbox_folder_notes_fifos_and_symlink_loops_whatever_their_names(tmp_path):
    shutil.copytree(FIXTURES / "mbox" / "folder", tmp_path / "mail")
    fifo(tmp_path / "mail" / "ff.mbox")
    fifo(tmp_path / "mail" / "Lists.openbmc")                # mail clients name mbox files freely
    symlink_loop(tmp_path / "mail", "loopA", "loopB")
    fifo(tmp_path / "mail" / "notes.md")                     # named as a document: never an mbox, not noted
    state, _, batches = pull(MboxSource("m", tmp_path / "mail"), None)
    assert notes_of(batches) == [f"Lists.openbmc: {FIFO}", f"ff.mbox: {FIFO}", f"loopA: {LOOP}", f"loopB: {LOOP}"]
    assert len(state) == 6


def test_a_source_path_that_is_a_symlink_loop_says_so(tmp_path):
    symlink_loop(tmp_path, "a.mbox", "b.mbox")
    with pytest.raises(SourceError, match="a dangling link or a symlink loop"):
        MboxSource("m", tmp_path / "a.mbox").check()


def test_a_symlink_loop_and_a_fifo_in_a_maildir_are_notes_naming_them_and_the_rest_is_read(tmp_path):
    root = tmp_path / "Maildir"
    shutil.copytree(FIXTURES / "maildir" / "mixed_layouts", root)
    symlink_loop(root / "cur", "loopA", "loopB")
    fifo(root / "new" / "ff")
    state, _, batches = pull(MaildirSource("home", root), None)
    assert notes_of(batches) == [f"INBOX/cur/loopA: {LOOP}", f"INBOX/cur/loopB: {LOOP}", f"INBOX/new/ff: {FIFO}"]
    assert len(state) == 7


def test_a_folder_without_a_file_of_the_sources_kind_says_so_once(tmp_path):
    shutil.copytree(FIXTURES / "maildir" / "mixed_layouts", tmp_path / "Maildir")
    (tmp_path / "Documents" / "old").mkdir(parents=True)           # no Maildir, no mbox file: a note
    (tmp_path / "Documents" / "old" / "letter").write_text("Dear Anna,\n")
    mbox_files = 'mbox files (files that start with a "From " line)'
    for source, kind in ((MboxSource("m", tmp_path / "Documents"), mbox_files),
                         (IcsSource("c", tmp_path / "Maildir", now=datetime(2024, 6, 1, tzinfo=UTC)), ".ics files")):
        state, cursor, batches = pull(source, None)
        assert state == {} and notes_of(batches) == [
            f"no {kind} found in {source.path}: check that path points at them and that the type is right"]
        assert list(source.pull(cursor)) == []                # said on the first reading only


def test_a_linked_folder_is_read_once_and_a_link_back_up_the_tree_is_not_followed(tmp_path):
    shutil.copytree(FIXTURES / "mbox" / "folder", tmp_path / "archive")
    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / "archive").symlink_to(tmp_path / "archive")        # a folder kept elsewhere
    (tmp_path / "archive" / "up").symlink_to(tmp_path / "mail")              # and a loop back
    state, _, batches = pull(MboxSource("m", tmp_path / "mail"), None)
    assert sorted(state) == sorted(f"archive/{k}" for k in pull(MboxSource("m", tmp_path / "archive"), None)[0])
    assert notes_of(batches) == []


def test_a_dangling_ics_link_is_a_note(tmp_path):
    folder = tmp_path / "cal"
    shutil.copytree(FIXTURES / "ics" / "contract", folder)
    (folder / "gone.ics").symlink_to(tmp_path / "nowhere.ics")
    state, _, batches = pull(IcsSource("c", folder, now=datetime(2024, 6, 1, tzinfo=UTC)), None)
    assert notes_of(batches) == ["gone.ics: a link to a file that does not exist, skipped"] and len(state) == 6


def test_a_maildir_path_that_is_a_symlink_loop_says_so(tmp_path):
    symlink_loop(tmp_path, "a", "b")
    with pytest.raises(SourceError, match="a dangling link or a symlink loop"):
        MaildirSource("m", tmp_path / "a").check()
