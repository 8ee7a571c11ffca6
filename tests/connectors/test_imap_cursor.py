"""The IMAP cursor: UID sets as IMAP sequence sets, and a cursor of another account is no cursor."""

from __future__ import annotations

import pytest

from connectors.imap_cursor import FolderState, ImapCursor, from_sequence_set, scope_of, to_sequence_set


@pytest.mark.parametrize("uids, text", [
    ([], ""), ([7], "7"), ([1, 2, 3, 5], "1:3,5"), ([9, 1, 2, 2, 10, 4], "1:2,4,9:10"),
])
def test_uid_sets_are_kept_as_sequence_sets(uids, text):
    assert to_sequence_set(uids) == text
    assert from_sequence_set(text) == set(uids)


def test_a_big_folder_with_few_gaps_costs_a_few_bytes():
    uids = set(range(1, 100_001)) - {500, 70_000}
    assert to_sequence_set(uids) == "1:499,501:69999,70001:100000"


def test_a_cursor_reads_back_for_its_account_only():
    cursor = ImapCursor("me@imap.example", {"INBOX": FolderState(7, 3, "1:3", 4, 3)}, ["Old#6"], ["Drafts"])
    text = cursor.dump()
    assert ImapCursor.parse(text, "me@imap.example") == cursor
    assert ImapCursor.parse(text, "you@imap.example") is None
    assert ImapCursor.parse(text.replace('"1:3"', '"1:x"'), "me@imap.example") is None
    assert ImapCursor.parse(None, "me@imap.example") is None


def test_a_scope_holds_the_folder_and_its_uidvalidity():
    assert scope_of("Archive/2024", 1001) == "Archive/2024#1001"
