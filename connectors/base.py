"""The contract between connectors and the store (boundary B1 in design.md).

A connector is a read-only object with a `key`, a `pull(cursor)` generator of
`Batch`es and a `check()`. Provider data stops here: connectors return only the
frozen, whitelisted metadata records below. No field may hold a message body.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox. `email` is lower-cased and is the join key to contacts."""

    email: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """Metadata of one copy of a message, as one source holds it."""

    source_id: str              # stable within the source: provider id, or "scope/key" for files
    message_id: str | None      # RFC 5322 Message-ID without angle brackets
    thread_key: str | None      # provider thread id, or the root of References
    sent_at: datetime           # timezone-aware UTC
    sender: Address
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    subject: str = ""           # metadata only: never a snippet or body text
    in_reply_to: str | None = None
    bulk: bool = False          # List-Id / List-Unsubscribe / Precedence / Auto-Submitted
    list_id: str = ""           # List-Id value (lower-cased, angle brackets removed)
    labels: tuple[str, ...] = ()  # "SENT" for a sent folder; provider labels otherwise
    scope: str = ""             # file or folder the copy lives in (for mark-and-sweep)


@dataclass(frozen=True, slots=True)
class EventMeta:
    """One calendar occurrence (recurring events arrive expanded)."""

    source_id: str              # UID, plus "@" + RECURRENCE-ID for an occurrence
    start: datetime             # timezone-aware UTC (all-day: midnight UTC of that date)
    end: datetime
    organizer: Address | None = None
    attendees: tuple[tuple[Address, str], ...] = ()   # (address, PARTSTAT)
    summary: str = ""
    cancelled: bool = False
    all_day: bool = False
    birthday: bool = False      # from a birthdays calendar or marked as a birthday
    calendar: str = ""          # calendar name (file stem, or the provider's name)
    scope: str = ""             # calendar the event lives in (ics: its UID, as `uid:<hash>`), for mark-and-sweep
    sequence: int = 0           # iCalendar SEQUENCE: a lower one never overwrites a higher one
    online: bool = False        # an online meeting (Teams, Meet, …): a call rather than a coffee
    guests_hidden: bool = False  # the organizer hid the guest list: the attendees shown are not all who came


STALE = "~"     # the scope of rows a pass in progress has not read again yet (see Batch)


@dataclass(frozen=True, slots=True)
class Batch:
    """A unit the store applies atomically, with the cursor valid after it.

    `scopes` says "this batch holds the complete, current content of these
    scopes": rows of this source in those scopes that are not in the batch are
    deleted (mark-and-sweep for one file or folder). `full_resync` says the same
    for the whole source and may only be used on a batch that holds everything.

    A pass that spans many batches (a Graph delta pass) marks instead, so that an
    interrupted pass loses nothing: `stale_scopes` (or `all_stale`, for the
    whole source) moves the rows stored before into the scope STALE, where they
    stay and count; each row read again gets its own scope back when written; the
    batch that ends the pass names STALE in `scopes`, which sweeps the rows no
    longer there. `stale_ids` marks single rows so: a copy that left its folder,
    removed only after the other folders were read, so that a message moved to
    one of them is never missing from the store in between.
    """

    messages: tuple[MessageMeta, ...] = ()
    events: tuple[EventMeta, ...] = ()
    deleted: tuple[str, ...] = ()       # source_ids gone at the provider
    cursor: str | None = None           # opaque to everyone but the connector
    scopes: tuple[str, ...] = ()
    full_resync: bool = False
    notes: tuple[str, ...] = field(default=())  # one-line warnings (skipped bad items)
    stale_scopes: tuple[str, ...] = ()  # a new pass over these scopes starts: their rows are marked STALE
    all_stale: bool = False             # a new pass over the whole source starts (after an unreadable cursor)
    stale_ids: tuple[str, ...] = ()     # source_ids gone from where they were, perhaps moved: marked STALE too


class Source(Protocol):
    """A read-only source. Nothing in this interface can write or send."""

    key: str

    def pull(self, cursor: str | None) -> Iterator[Batch]: ...

    def check(self) -> None: ...


def coalesced(batches: Iterable[Batch], max_messages: int = 5000) -> Iterator[Batch]:
    """Consecutive small batches merged into one of up to about `max_messages`.

    A folder of many small mbox files or Maildir folders would otherwise cost one
    transaction each. The merged batch carries the last batch's cursor, so it is
    exactly as safe to commit. Batches that delete ids, resync the whole source
    or mark rows stale are passed on alone, so that the store's
    mark-sweep-delete-upsert order never reorders the pieces' effects.
    """
    pending: list[Batch] = []
    size = 0
    for batch in batches:
        if (batch.deleted or batch.full_resync or batch.events or batch.stale_scopes or batch.all_stale
                or batch.stale_ids):
            yield from _merge(pending)
            pending, size = [], 0
            yield batch
            continue
        pending.append(batch)
        size += len(batch.messages)
        if size >= max_messages:
            yield from _merge(pending)
            pending, size = [], 0
    yield from _merge(pending)


def _merge(pending: list[Batch]) -> Iterator[Batch]:
    if len(pending) == 1:
        yield pending[0]
    elif pending:
        yield Batch(messages=tuple(m for b in pending for m in b.messages),
                    scopes=tuple(s for b in pending for s in b.scopes),
                    notes=tuple(n for b in pending for n in b.notes), cursor=pending[-1].cursor)
