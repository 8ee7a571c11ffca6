"""Drafts and junk in a Maildir are not mail: an unsent draft is no reply, spam no relationship. Trash is."""

from __future__ import annotations

import dataclasses
import os

from connectors import local_cursor
from connectors.base import Batch
from connectors.maildir import MaildirSource, _folder_state
from daemon import store
from daemon.sync import sync_source
from tests.connectors.test_maildir import deliver, maildir, touch_later
from tests.contract import pull

UNSENT = "drafts or junk, not read (never sent, or never wanted)"


def test_drafts_and_junk_folders_and_draft_files_are_left_out_and_trash_is_read(tmp_path):
    root = maildir(tmp_path / "Maildir")
    kept = {f"INBOX/{deliver(root, 1)}", f"INBOX/{deliver(root, 2, flags='ST')}",     # T: trashed, still mail
            f"Trash/{deliver(maildir(root / '.Trash'), 3)}",
            f"Deleted Items/{deliver(maildir(root / '.Deleted Items'), 4)}"}
    deliver(root, 5, flags="DS")                                                       # an unsent draft reply
    latin_1 = os.fsdecode(b".Entw\xfcrfe")                                             # as an old system named it
    for n, folder in enumerate((".Drafts", ".Junk", ".Entwürfe", "Spam", ".INBOX.Drafts", latin_1), start=6):
        deliver(maildir(root / folder), n)
    source = MaildirSource("m", root)
    state, cursor, batches = pull(source, None)
    assert set(state) == kept
    assert [n for b in batches for n in b.notes] == [f"{folder}: {UNSENT}" for folder in (
        "Drafts", "Entw\\xfcrfe", "Entwürfe", "INBOX/Drafts", "Junk", "Spam")]
    deliver(root / ".Drafts", 20)
    touch_later(root / ".Drafts")
    assert list(source.pull(cursor)) == []                  # said once; a new draft is not read either
    resynced, _, batches = pull(source, "not a cursor", state)
    assert resynced == state and batches[0].full_resync


def test_a_message_flagged_as_a_draft_later_leaves_the_store(tmp_path):
    root = maildir(tmp_path / "Maildir")
    unique = deliver(root, 1)
    deliver(root, 2)
    source = MaildirSource("m", root)
    before, cursor, _ = pull(source, None)
    (root / "cur" / f"{unique}:2,S").rename(root / "cur" / f"{unique}:2,DS")
    touch_later(root)
    after, _, _ = pull(source, cursor, before)
    assert set(before) - set(after) == {f"INBOX/{unique}"} and set(after) < set(before)


def test_drafts_stored_by_an_older_version_are_swept_on_the_next_sync(tmp_path, db):
    """An older version read the Drafts folder and D-flagged files and saved its cursor: the next sync
    removes what they gave from the store, though no folder changed."""
    root = maildir(tmp_path / "Maildir")
    deliver(root, 1)
    draft = deliver(root, 2, flags="DS")
    drafts = maildir(root / ".Drafts")
    unsent = deliver(drafts, 3)
    source = MaildirSource("m", root)
    now, _, _ = pull(source, None)
    inbox = next(iter(now.values()))
    older = (inbox, dataclasses.replace(inbox, source_id=f"INBOX/{draft}", message_id="draft@example.com"),
             dataclasses.replace(inbox, source_id=f"Drafts/{unsent}", message_id="unsent@example.com",
                                 scope="Drafts"))
    states = {"INBOX": _folder_state(root)[0], "Drafts": _folder_state(drafts)[0]}
    old_cursor = local_cursor.dump("maildir", os.path.abspath(root), "folders", states)
    store.apply_batch(db, source.key, Batch(messages=older, cursor=old_cursor))

    result = sync_source(db, source)
    assert result.error is None and result.deleted == 2
    assert [tuple(r) for r in db.execute("SELECT source_id FROM message_copies")] == [(inbox.source_id,)]
    assert sync_source(db, source).notes == []
