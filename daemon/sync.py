"""Sync: pull each configured source from its stored cursor into the store.

One failing source never stops the others, whatever failed (a bug met on one
message included): its error is recorded in `sync_state` and the next source goes on. Crash safety comes from the store:
each batch and its cursor commit together, so a rerun resumes where it stopped.

Every sync, the daemon's or `kith sync`'s, records its outcome in `schedules` as well (when it ended, whether it
failed and how many times in a row, what it wrote), so that `kith status` shows the latest one whoever ran it.
"""

from __future__ import annotations

import gc
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlite_utils import Database

import connectors
from connectors.base import Source
from daemon import store
from daemon.config import Config, SourceConfig
from daemon.errors import KithError, SourceError, StoreError
from daemon.logs import write_crash_log

log = logging.getLogger(__name__)


@dataclass
class SyncResult:
    source: str
    messages: int = 0           # message copies read and written, whether the store held the message or not
    events: int = 0             # events read and written
    deleted: int = 0            # copies and events removed because the source no longer holds them
    batches: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    new_messages: int = 0       # of `messages`, those new to the store
    new_events: int = 0         # of `events`, those new to this source
    new_cancelled: int = 0      # of `new_events`, cancelled occurrences
    cancelled_since: int = 0    # of the events read again, those cancelled since

    @property
    def known_messages(self) -> int:
        """Copies read of messages the store already held (from another folder or source, or read before)."""
        return self.messages - self.new_messages

    @property
    def known_events(self) -> int:
        """Events read again (updated, or unchanged in a file that changed)."""
        return self.events - self.new_events


def build_source(source: SourceConfig, config: Config) -> Source:
    """Instantiate the connector for one `[[sources]]` entry."""
    cls = connectors.source_class(source.type)
    if source.type in ("mbox", "maildir"):
        return cls(source.name, config.resolve(source.path), sent_folders=source.sent_folders or None)
    if source.type == "ics":
        return cls(source.name, config.resolve(source.path), zone=config.zone)
    return cls(source, config)  # provider connectors read their own keys (tokens, endpoints)


def sync_source(db: Database, source: Source, *, store_subjects: bool = True,
                on_batch: Callable[[store.Counts], None] | None = None, contain_bugs: bool = False) -> SyncResult:
    """Pull `source` from its cursor and apply every batch; errors are recorded, not raised. With
    `contain_bugs` (`kith sync`), so is an unexpected exception, with its traceback in the crash log;
    the daemon contains those itself, keeping their text (which may quote an address) out of its log."""
    result = SyncResult(source.key)
    if not store_subjects and store.forget_subjects(db):
        log.info("subjects and meeting titles stored before `store_subjects = false` are blanked")
    try:
        source.check()
        with _fewer_collections():
            for batch in source.pull(store.cursor_of(db, source.key)):
                counts = store.apply_batch(db, source.key, batch, store_subjects=store_subjects)
                result.messages += counts.messages
                result.events += counts.events
                result.deleted += counts.deleted
                result.new_messages += counts.new_messages
                result.new_events += counts.new_events
                result.new_cancelled += counts.new_cancelled
                result.cancelled_since += counts.cancelled_since
                result.batches += 1
                result.notes += batch.notes
                if on_batch:
                    on_batch(counts)
    except StoreError:
        raise  # the store is shared by every source: no point going on
    except KithError as exc:
        result.error = exc.line()
    except OSError as exc:
        result.error = SourceError(f"cannot read ({exc.strerror or exc})", where=source.key,
                                   fix="check that the path exists and is readable").line()
    except Exception as exc:  # noqa: BLE001 - a bug met on one item must not stop the other sources
        if not contain_bugs:
            raise
        result.error = SourceError(f"unexpected error ({exc.__class__.__name__}: {exc})", where=source.key,
                                   fix=f"details in {write_crash_log()}; please report it").line()
    if result.error:
        store.record_error(db, source.key, result.error)
        log.warning("sync of %s failed: %s", source.key, result.error)
    else:
        log.info("synced %s: %d messages (%d new), %d events (%d new), %d removed in %d batches",
                 source.key, result.messages, result.new_messages, result.events, result.new_events, result.deleted,
                 result.batches)
    _record_outcome(db, result)
    return result


def _record_outcome(db: Database, result: SyncResult) -> None:
    """The sync's outcome in `schedules`, as the daemon records its own: a success clears the failures and the
    current error and sets the last sync; a failure counts one more in a row. The next run (the daemon's) is
    left as it is; the daemon writes its row again after its own syncs. A database problem here is only logged:
    what was synced stays synced."""
    now = store.utc_text(datetime.now(UTC))
    try:
        if result.error:
            db.execute(
                """INSERT INTO schedules (job, failures, last_run_at, last_error) VALUES (?, 1, ?, ?)
                   ON CONFLICT(job) DO UPDATE SET failures = failures + 1, last_run_at = excluded.last_run_at,
                       last_error = excluded.last_error""",
                [result.source, now, result.error])
        else:
            db.execute(
                """INSERT INTO schedules (job, failures, last_run_at, last_ok_at, last_error, last_messages,
                                          last_events, last_deleted) VALUES (?, 0, ?, ?, NULL, ?, ?, ?)
                   ON CONFLICT(job) DO UPDATE SET failures = 0, last_run_at = excluded.last_run_at,
                       last_ok_at = excluded.last_ok_at, last_error = NULL, last_messages = excluded.last_messages,
                       last_events = excluded.last_events, last_deleted = excluded.last_deleted""",
                [result.source, now, now, result.messages, result.events, result.deleted])
    except sqlite3.Error as exc:
        log.debug("could not record the outcome of the sync of %s: %s", result.source, exc)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while a sync allocates millions of small objects.

    They are records and tuples without cycles; with the default threshold the
    collector ran over a thousand times per 50,000 messages, about a tenth of the
    sync's time.
    """
    before = gc.get_threshold()
    gc.set_threshold(20_000, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def sync_all(db: Database, config: Config, only: str | None = None) -> list[SyncResult]:
    """Sync every enabled source (or the one named `only`), then refresh the user's own addresses when mail
    came or went since they were last found (in this sync or one killed before) or the configured ones changed
    (on a large store it takes a second)."""
    results = []
    for source_config in config.sources:
        if not source_config.enabled or (only and source_config.name != only):
            continue
        source = build_source(source_config, config)
        results.append(sync_source(db, source, store_subjects=config.privacy.store_subjects, contain_bugs=True))
    if store.own_addresses_due(db) or store.configured_addresses_changed(db, config.user.addresses):
        store.refresh_own_addresses(db, config.user.addresses)      # else nothing to learn anew
    return results
