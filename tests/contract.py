"""The one contract every connector passes (design principle 11).

In the style of vdirsyncer's `StorageTests`: `SourceContract` holds the tests
and is not collected itself; each connector's test module subclasses it as
`Test<Something>Contract` and says how to build a fixture and how to change
it. The tests look only at what crosses boundary B1, the `Batch`es, and judge
them by applying them to an in-memory store that honours `scopes`, `deleted`
and `full_resync` exactly as daemon.store does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import STALE, Address, Batch, EventMeta, MessageMeta, Source
from daemon.errors import SourceError

Record = MessageMeta | EventMeta
State = dict[str, Record]

# Put this into every body and DESCRIPTION of the fixtures: it must never come out.
BODY_MARKER = "BODY-MARKER-7f3a"
BODY_FIELDS = {"body", "snippet", "bodyPreview", "payload", "text", "html", "description", "content"}
GARBAGE_CURSORS = (
    "not json{",
    "[]",
    "12345",                                                   # a Gmail history id
    '{"kind": "imap", "v": 1, "uidvalidity": 7, "uid": 42}',   # another connector's
    '{"kind": "mbox"}',                                        # right kind, wrong shape
    '{"kind": "maildir", "v": 1, "root": "/elsewhere", "folders": {}}',
    '{"kind": "ics", "v": 1, "root": "/elsewhere", "files": {}}',
)


def records_of(batch: Batch) -> tuple[Record, ...]:
    return (*batch.messages, *batch.events)


def apply_to_memory(state: State, batch: Batch) -> State:
    """Apply one batch like the store: mark, sweep, delete, then upsert (highest SEQUENCE wins)."""
    incoming = records_of(batch)
    seen = {r.source_id for r in incoming}
    if batch.all_stale or batch.stale_scopes or batch.stale_ids:
        for source_id, record in list(state.items()):
            if batch.all_stale or record.scope in batch.stale_scopes or source_id in batch.stale_ids:
                state[source_id] = dataclasses.replace(record, scope=STALE)
    if batch.full_resync:
        for source_id in [s for s in state if s not in seen]:
            del state[source_id]
    elif batch.scopes:
        for source_id in [s for s, r in state.items() if r.scope in batch.scopes and s not in seen]:
            del state[source_id]
    for source_id in batch.deleted:
        state.pop(source_id, None)
    for record in incoming:
        old = state.get(record.source_id)
        if old is None or getattr(record, "sequence", 0) >= getattr(old, "sequence", 0):
            state[record.source_id] = record
        elif old.scope == STALE:
            state[record.source_id] = dataclasses.replace(old, scope=record.scope)
    return state


def pull(source: Source, cursor: str | None, state: State | None = None) -> tuple[State, str | None, list[Batch]]:
    """Run one pull to the end; return the new state, the last cursor and the batches."""
    state = {} if state is None else dict(state)
    batches = list(source.pull(cursor))
    for batch in batches:
        assert isinstance(batch, Batch)
        assert batch.cursor is not None, "every batch carries the cursor valid after it"
        apply_to_memory(state, batch)
    return state, (batches[-1].cursor if batches else cursor), batches


def strings_in(value: object) -> Iterator[str]:
    """Every str inside a record, its Addresses and tuples."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from strings_in(item)
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            yield from strings_in(getattr(value, f.name))


def datetimes_in(record: Record) -> Iterator[datetime]:
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if isinstance(value, datetime):
            yield value


class SourceContract:
    """Tests every connector passes. Subclasses implement the three fixture hooks."""

    def make_source(self, tmp_path: Path) -> Source:
        """Build a fresh fixture under tmp_path and return a source reading it."""
        raise NotImplementedError

    def add_item(self, tmp_path: Path) -> str:
        """Add exactly one message or event to the fixture; return its source_id."""
        raise NotImplementedError

    def remove_item(self, tmp_path: Path) -> str:
        """Remove exactly one message or event from the fixture; return its source_id."""
        raise NotImplementedError

    def expected_ids(self) -> set[str] | None:
        """The ids a first pull must give, when the subclass knows them."""
        return None

    # ------------------------------------------------------------ 1, 2

    def test_first_pull_returns_everything(self, tmp_path: Path) -> None:
        state, cursor, batches = pull(self.make_source(tmp_path), None)
        assert state, "the fixture is not empty, so neither is the first pull"
        assert cursor is not None
        for batch in batches:
            ids = [r.source_id for r in records_of(batch)]
            assert len(ids) == len(set(ids)), "an id appears twice in one batch"
        expected = self.expected_ids()
        if expected is not None:
            assert set(state) == expected

    def test_second_pull_from_cursor_returns_nothing(self, tmp_path: Path) -> None:
        source = self.make_source(tmp_path)
        state, cursor, _ = pull(source, None)
        again, _, batches = pull(source, cursor, state)
        assert [r for b in batches for r in records_of(b)] == []
        assert again == state

    # ------------------------------------------------------------ 3, 4

    def test_added_item_is_exactly_the_change(self, tmp_path: Path) -> None:
        source = self.make_source(tmp_path)
        before, cursor, _ = pull(source, None)
        added = self.add_item(tmp_path)
        assert added not in before
        after, cursor, _ = pull(source, cursor, before)
        assert set(after) - set(before) == {added}
        assert set(before) - set(after) == set()
        assert all(after[k] == before[k] for k in before), "unchanged items stay unchanged"
        final, _, batches = pull(source, cursor, after)
        assert [r for b in batches for r in records_of(b)] == [] and final == after

    def test_removed_item_disappears(self, tmp_path: Path) -> None:
        source = self.make_source(tmp_path)
        before, cursor, _ = pull(source, None)
        removed = self.remove_item(tmp_path)
        assert removed in before
        after, _, _ = pull(source, cursor, before)
        assert set(before) - set(after) == {removed}
        assert set(after) - set(before) == set()

    # ------------------------------------------------------------ 5

    def test_no_record_carries_body_text(self, tmp_path: Path) -> None:
        source = self.make_source(tmp_path)
        fixture = b"".join(p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file())
        assert BODY_MARKER.encode() in fixture, "the fixture must hide the marker in a body"
        state, _, _ = pull(source, None)
        for cls in (MessageMeta, EventMeta, Address, Batch):
            assert not {f.name for f in dataclasses.fields(cls)} & BODY_FIELDS
        leaked = [r.source_id for r in state.values() if any(BODY_MARKER in s for s in strings_in(r))]
        assert leaked == []

    # ------------------------------------------------------------ 6

    @pytest.mark.parametrize("garbage", GARBAGE_CURSORS)
    def test_garbage_cursor_means_full_resync(self, tmp_path: Path, garbage: str) -> None:
        source = self.make_source(tmp_path)
        fresh, _, _ = pull(source, None)
        some = next(iter(fresh.values()))
        stale = dict(fresh)
        stale["stale-row"] = dataclasses.replace(some, source_id="stale-row", scope="vanished-scope")
        stale[some.source_id] = dataclasses.replace(some, scope="moved-scope")
        resynced, cursor, batches = pull(source, garbage, stale)
        assert resynced == fresh
        assert batches and any(b.full_resync or b.all_stale for b in batches)
        again, _, batches = pull(source, cursor, resynced)
        assert [r for b in batches for r in records_of(b)] == [] and again == fresh

    # ------------------------------------------------------------ 7, 8

    def test_ids_and_records_are_deterministic(self, tmp_path: Path) -> None:
        first, _, _ = pull(self.make_source(tmp_path / "one"), None)
        second, _, _ = pull(self.make_source(tmp_path / "two"), None)
        assert first == second

    def test_datetimes_are_aware_utc(self, tmp_path: Path) -> None:
        state, _, _ = pull(self.make_source(tmp_path), None)
        moments = [d for r in state.values() for d in datetimes_in(r)]
        assert moments
        assert all(d.tzinfo is not None and d.utcoffset() == timedelta(0) for d in moments)

    # ------------------------------------------------------------ errors

    def test_missing_path_is_a_source_error(self, tmp_path: Path) -> None:
        source = self.make_source(tmp_path / "real")
        missing = type(source)("gone", tmp_path / "does-not-exist")
        with pytest.raises(SourceError, match="does-not-exist"):
            missing.check()
        with pytest.raises(SourceError):
            list(missing.pull(None))
