"""Maildir trees as mirrors leave them: an account folder of Maildirs (mbsync, offlineimap), and names
that are not UTF-8."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connectors.maildir import MaildirSource
from daemon import store
from daemon.errors import SourceError
from tests.connectors.test_maildir import deliver, maildir, new_message, touch_later
from tests.contract import pull


def mbsync_account(root: Path) -> dict[str, str]:
    """An mbsync account folder (SubFolders Verbatim) with no cur/ of its own; message id -> subject."""
    folders = {"INBOX": 1, "Sent": 2, "Archive": 3, "Archive/2023": 4, "Lists/openbmc": 5, "INBOX/.Gesendet": 6}
    ids = {}
    for folder, n in folders.items():
        scope = folder.replace("/.", "/")
        ids[f"{scope}/{deliver(maildir(root / folder), n)}"] = f"Added {n}"
    return ids


def test_an_account_folder_of_maildirs_is_the_root_and_each_maildir_below_it_a_folder(tmp_path):
    root = tmp_path / "Mail"
    ids = mbsync_account(root)
    source = MaildirSource("m", root)
    source.check()
    state, cursor, batches = pull(source, None)
    assert {k: m.subject for k, m in state.items()} == ids
    assert {m.scope for m in state.values()} == {"INBOX", "Sent", "Archive", "Archive/2023", "Lists/openbmc",
                                                 "INBOX/Gesendet"}
    assert sorted(k for k, m in state.items() if m.labels == ("SENT",)) == [
        "INBOX/Gesendet/1700000006.M6P6.host", "Sent/1700000002.M2P2.host"]
    assert [n for b in batches for n in b.notes] == []
    assert list(source.pull(cursor)) == []

    (root / "Archive" / "2023" / "new" / "1700000099.M99P99.host").write_text(new_message(99))
    after, _, batches = pull(source, cursor, state)
    assert [b.scopes for b in batches] == [("Archive/2023",)]
    assert set(after) - set(state) == {"Archive/2023/1700000099.M99P99.host"}


def test_a_folder_named_like_a_maildirs_own_subfolder_is_read_outside_a_maildir(tmp_path):
    """An IMAP folder called "new" (below a folder that is no Maildir) is a folder, not a Maildir's new/."""
    root = tmp_path / "Mail"
    deliver(maildir(root / "INBOX"), 1)
    deliver(maildir(root / "Projects" / "new"), 2)
    state, _, _ = pull(MaildirSource("m", root), None)
    assert sorted(state) == ["INBOX/1700000001.M1P1.host", "Projects/new/1700000002.M2P2.host"]


@pytest.mark.parametrize("inside", [(), ("notes/readme.txt",), ("Old/cur/", "Old/tmp/")])
def test_a_folder_with_no_maildir_in_or_below_it_is_an_error_saying_what_to_point_at(tmp_path, inside):
    root = tmp_path / "Mail"
    root.mkdir()
    for rel in inside:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        if not rel.endswith("/"):
            (root / rel).write_text("not mail")
    with pytest.raises(SourceError) as caught:
        MaildirSource("m", root).check()
    line = caught.value.line()
    assert str(root) in line and "not a Maildir" in line
    assert "the folder that holds cur/ and new/" in line and "the folder that holds your Maildirs" in line
    with pytest.raises(SourceError):
        list(MaildirSource("m", root).pull(None))


def test_names_that_are_not_utf8_are_stored_with_escapes(tmp_path, db):
    """A Latin-1 folder or file name (an old archive, a Windows zip) is stored as text with its bad bytes
    escaped, and two such names stay apart."""
    root = maildir(tmp_path / "Maildir")
    deliver(root, 1)
    for n, folder in ((2, b".Gel\xf6scht"), (3, b".Gel\xc3\xb6scht")):     # Latin-1, and the same name in UTF-8
        deliver(maildir(root / os.fsdecode(folder)), n)
    odd = os.fsdecode(b"1700000004.M4P4.h\xe9st")
    (root / "cur" / f"{odd}:2,S").write_text(new_message(4))
    (root / "cur" / os.fsdecode(b"undated.h\xe9st:2,S")).write_text("From: a@example.com\n\nbody\n")
    source = MaildirSource("m", root)
    batches = list(source.pull(None))
    for batch in batches:
        store.apply_batch(db, source.key, batch)
    rows = sorted(tuple(r) for r in db.execute("SELECT scope, source_id FROM message_copies"))
    assert rows == [
        ("Gel\\xf6scht", "Gel\\xf6scht/1700000002.M2P2.host"),
        ("Gelöscht", "Gelöscht/1700000003.M3P3.host"),
        ("INBOX", "INBOX/1700000001.M1P1.host"),
        ("INBOX", "INBOX/1700000004.M4P4.h\\xe9st"),
    ]
    notes = [n for b in batches for n in b.notes]
    assert notes == ["INBOX/cur/undated.h\\xe9st:2,S: message has no usable Date, skipped"]
    assert store.cursor_of(db, source.key) == batches[-1].cursor
    assert list(source.pull(store.cursor_of(db, source.key))) == []
    touch_later(root / os.fsdecode(b".Gel\xf6scht"))
    assert [b.scopes for b in source.pull(store.cursor_of(db, source.key))] == [("Gel\\xf6scht",)]


def test_two_layouts_naming_one_sent_folder_twice_are_both_sent(tmp_path):
    root = maildir(tmp_path / "Maildir")
    deliver(maildir(root / ".Sent"), 1)
    deliver(maildir(root / "Sent"), 2)                  # the same name in the nested layout: "Sent [Sent]"
    state, _, _ = pull(MaildirSource("m", root), None)
    assert {m.scope: m.labels for m in state.values()} == {"Sent": ("SENT",), "Sent [Sent]": ("SENT",)}
