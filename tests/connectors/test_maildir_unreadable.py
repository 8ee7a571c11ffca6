"""Files and folders of a Maildir that cannot be read: noted, the rest read, nothing stored lost, and read
once they can be.

Permissions are real (chmod 000). Root ignores them, so as root each pull runs in a child process
without the capabilities that override file permissions (setpriv, from util-linux).
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.base import Batch
from tests.connectors.test_maildir import deliver, maildir, touch_later
from tests.contract import State, apply_to_memory

REPO = Path(__file__).resolve().parents[2]
CHILD = ("import pickle, sys\nfrom connectors.maildir import MaildirSource\n"
         "sys.stdout.buffer.write(pickle.dumps(list(MaildirSource('m', sys.argv[1]).pull(sys.argv[2] or None))))")
DENIED = "cannot be read (Permission denied)"


def bound_by_permissions(command: list[str]) -> list[str]:
    """The command as a process that file permissions bind, even when the tests run as root."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, and without setpriv root cannot be made to obey file permissions")
    return [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", *command]


def pull_bound(root: Path, cursor: str | None, state: State | None = None) -> tuple[State, str | None, list[Batch]]:
    """tests.contract.pull, run in a process that file permissions bind."""
    command = bound_by_permissions([sys.executable, "-c", CHILD, str(root), cursor or ""])
    done = subprocess.run(command, cwd=REPO, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    batches = pickle.loads(done.stdout)
    state = {} if state is None else dict(state)
    for batch in batches:
        apply_to_memory(state, batch)
    return state, (batches[-1].cursor if batches else cursor), batches


def notes_of(batches: list[Batch]) -> list[str]:
    return [n for b in batches for n in b.notes]


def test_a_file_denied_on_one_sync_is_read_on_a_later_one_once_readable(tmp_path):
    root = maildir(tmp_path / "Maildir")
    deliver(root, 1)
    denied = deliver(root, 2)
    (root / "cur" / f"{denied}:2,S").chmod(0)
    state, cursor, batches = pull_bound(root, None)
    assert notes_of(batches) == [f"INBOX/cur/{denied}:2,S: {DENIED}, skipped"]
    assert sorted(state) == ["INBOX/1700000001.M1P1.host"]
    (root / "cur" / f"{denied}:2,S").chmod(0o644)                # changes no folder's mtime
    state, cursor, batches = pull_bound(root, cursor, state)
    assert sorted(state) == ["INBOX/1700000001.M1P1.host", f"INBOX/{denied}"] and notes_of(batches) == []
    assert pull_bound(root, cursor, state)[2] == []


def test_a_stored_message_that_cannot_be_read_now_is_kept_not_swept(tmp_path):
    root = maildir(tmp_path / "Maildir")
    denied = deliver(root, 1)
    before, cursor, _ = pull_bound(root, None)
    (root / "cur" / f"{denied}:2,S").chmod(0)
    added = deliver(root, 2)                                     # the folder changes, so it is read again
    touch_later(root)
    after, cursor, batches = pull_bound(root, cursor, before)
    assert sorted(after) == [f"INBOX/{denied}", f"INBOX/{added}"]
    assert after[f"INBOX/{denied}"] == before[f"INBOX/{denied}"]
    (root / "cur" / f"{added}:2,S").unlink()                     # and what does vanish meanwhile ...
    (root / "cur" / f"{denied}:2,S").chmod(0o644)
    after, _, _ = pull_bound(root, cursor, after)
    assert sorted(after) == [f"INBOX/{denied}"]                  # ... is swept once the folder is read whole


def test_an_unreadable_subfolder_is_skipped_with_a_note_and_the_rest_is_read(tmp_path):
    root = maildir(tmp_path / "Maildir")
    inbox = deliver(root, 1)
    private = deliver(maildir(root / ".Private"), 2)
    (root / ".Private" / "cur").chmod(0)
    state, cursor, batches = pull_bound(root, None)
    assert notes_of(batches) == [f".Private/cur: {DENIED}, folder Private skipped"]
    assert sorted(state) == [f"INBOX/{inbox}"]
    (root / ".Private" / "cur").chmod(0o755)
    state, cursor, batches = pull_bound(root, cursor, state)
    assert sorted(state) == [f"INBOX/{inbox}", f"Private/{private}"] and notes_of(batches) == []


def test_a_folder_that_cannot_be_listed_keeps_the_mail_stored_in_it_and_only_that(tmp_path):
    root = maildir(tmp_path / "Maildir")
    deliver(root, 1)
    deliver(maildir(root / "Private" / "2023"), 2)
    deliver(maildir(root / ".Old"), 3)
    before, cursor, _ = pull_bound(root, None)
    assert len(before) == 3
    (root / "Private").chmod(0)                                  # Private/2023 cannot even be seen now
    shutil.rmtree(root / ".Old")                                 # and a folder that is gone
    after, cursor, batches = pull_bound(root, cursor, before)
    assert notes_of(batches) == [f"Private: {DENIED}, skipped with the folders in it"]
    kept = ["INBOX/1700000001.M1P1.host", "Private/2023/1700000002.M2P2.host"]
    assert sorted(after) == kept              # a folder inside the unlisted one may be there; Old is gone
    (root / "Private").chmod(0o755)
    after, _, batches = pull_bound(root, cursor, after)
    assert sorted(after) == kept


def test_a_full_resync_that_cannot_read_a_file_sweeps_nothing_of_it_and_tries_again(tmp_path):
    root = maildir(tmp_path / "Maildir")
    denied = deliver(root, 1)
    deliver(maildir(root / ".Sent"), 2)
    fresh, _, _ = pull_bound(root, None)
    (root / "cur" / f"{denied}:2,S").chmod(0)
    state, cursor, batches = pull_bound(root, "not a cursor", fresh)
    assert state == fresh and not any(b.full_resync for b in batches) and cursor == "not a cursor"
    (root / "cur" / f"{denied}:2,S").chmod(0o644)
    state, cursor, batches = pull_bound(root, cursor, state)
    assert state == fresh and any(b.full_resync for b in batches)
    assert pull_bound(root, cursor, state)[2] == []
