"""FIFOs and symlink loops inside the folders of file sources: skipped with a note naming them, never opened."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

from connectors.ics import IcsSource
from connectors.maildir import MaildirSource
from connectors.mbox import MboxSource
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


def test_an_mbox_folder_notes_a_fifo_named_mbox_and_reads_the_rest(tmp_path):
    shutil.copytree(FIXTURES / "mbox" / "folder", tmp_path / "mail")
    fifo(tmp_path / "mail" / "ff.mbox")
    state, _, batches = pull(MboxSource("m", tmp_path / "mail"), None)
    assert notes_of(batches) == [f"ff.mbox: {FIFO}"] and len(state) == 6


def test_a_symlink_loop_in_maildir_cur_is_a_note_naming_it_and_the_rest_is_read(tmp_path):
    root = tmp_path / "Maildir"
    shutil.copytree(FIXTURES / "maildir" / "mixed_layouts", root)
    symlink_loop(root / "cur", "loopA", "loopB")
    fifo(root / "new" / "ff")                                # a FIFO stays skipped quietly, as before
    state, _, batches = pull(MaildirSource("home", root), None)
    assert notes_of(batches) == [f"INBOX/cur/loopA: {LOOP}", f"INBOX/cur/loopB: {LOOP}"]
    assert len(state) == 7
