"""coalesced(): small batches merged into one transaction without changing what they mean."""

from __future__ import annotations

from connectors.base import Batch, coalesced
from tests.conftest import message


def test_small_batches_merge_up_to_the_limit_with_the_last_cursor_and_every_scope():
    pieces = [Batch(messages=(message(i, scope=f"f{i}"),), scopes=(f"f{i}",), notes=(f"n{i}",), cursor=f"c{i}")
              for i in range(5)]
    merged = list(coalesced(pieces, max_messages=2))
    assert [len(b.messages) for b in merged] == [2, 2, 1]
    assert [b.cursor for b in merged] == ["c1", "c3", "c4"]
    assert merged[0].scopes == ("f0", "f1") and merged[0].notes == ("n0", "n1")
    assert [m.source_id for b in merged for m in b.messages] == [m.source_id for b in pieces for m in b.messages]


def test_deletions_events_full_resyncs_and_marks_pass_alone_and_in_order():
    first, second = Batch(messages=(message(1),), cursor="c1"), Batch(messages=(message(2),), cursor="c2")
    deleting = Batch(deleted=("INBOX/m1",), cursor="c3")
    resync = Batch(messages=(message(3),), full_resync=True, cursor="c4")
    marking = Batch(messages=(message(4),), stale_scopes=("INBOX",), cursor="c5")
    marking_all = Batch(messages=(message(5),), all_stale=True, cursor="c6")
    marking_ids = Batch(messages=(message(6),), stale_ids=("INBOX/m2",), cursor="c7")
    merged = list(coalesced([first, deleting, second, resync, marking, second, marking_all, marking_ids],
                            max_messages=100))
    assert merged == [first, deleting, second, resync, marking, second, marking_all, marking_ids]


def test_an_empty_pull_gives_no_batch():
    assert list(coalesced([], max_messages=10)) == []
