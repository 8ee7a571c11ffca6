"""The SQLite store: the only module that writes the sync tables.

`apply_batch` writes a connector's batch and the cursor valid after it in one
transaction, with idempotent upserts, so replaying a batch after a crash
changes nothing. A message is stored once however many copies the sources hold.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from connectors.base import STALE, Batch, EventMeta, MessageMeta
from daemon.contacts import FREE_MAIL_FIRMS, firm_of, in_organisations, organisations
from daemon.errors import StoreError
from daemon.migrations import migrations

TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS copies_gone AFTER DELETE ON message_copies
WHEN NOT EXISTS (SELECT 1 FROM message_copies WHERE key = OLD.key)
BEGIN
    DELETE FROM recipients WHERE key = OLD.key;
    DELETE FROM messages WHERE key = OLD.key;
END;
CREATE TRIGGER IF NOT EXISTS copies_moved AFTER UPDATE OF key ON message_copies
WHEN OLD.key != NEW.key AND NOT EXISTS (SELECT 1 FROM message_copies WHERE key = OLD.key)
BEGIN
    DELETE FROM recipients WHERE key = OLD.key;
    DELETE FROM messages WHERE key = OLD.key;
END;
CREATE TRIGGER IF NOT EXISTS events_gone AFTER DELETE ON events
BEGIN
    DELETE FROM attendees WHERE source = OLD.source AND source_id = OLD.source_id;
END;
"""

REPLY_PREFIX = re.compile(r"^\s*((re|aw|antw|sv|fw|fwd|wg|tr|vs)(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


@dataclass
class Counts:
    """What a batch wrote (`apply_batch`) or what `forget_source` dropped."""

    messages: int = 0           # message copies written (or dropped): one per file or folder that holds a message
    events: int = 0             # events written (or deleted)
    deleted: int = 0            # copies and events removed because the source no longer holds them
    new_messages: int = 0       # of `messages`, those the store did not hold yet (a new row in `messages`)
    new_events: int = 0         # of `events`, those the source had not synced before
    new_cancelled: int = 0      # of `new_events`, cancelled ones (a cancelled series: every occurrence it cancels)
    cancelled_since: int = 0    # of the others, held before and cancelled now
    deleted_messages: int = 0   # forget: messages no other source holds, so deleted from the store
    kept_messages: int = 0      # forget: messages another source still holds, so kept


def utc_text(moment: datetime) -> str:
    """The store's one timestamp format: UTC ISO 8601 to the second, sortable as text."""
    utc = moment.astimezone(UTC)
    return utc.isoformat(timespec="seconds") if utc.microsecond else utc.isoformat()  # the same text; faster


def database_problem(exc: sqlite3.DatabaseError, path: Path | None = None, what: str = "the database failed"
                     ) -> StoreError:
    """A database error as the user can act on it: read-only, held by another program, damaged, or else."""
    text = str(exc)
    path = path or opened_path
    if "readonly" in text or "read-only" in text:
        fix = "make the database file and its folder writable by you"
    elif "unable to open" in text:
        fix = ("check that the folder of [storage] database exists and that you can write to it (on a read-only "
               "disk, set database to a file on another)")
    elif "disk is full" in text or "disk I/O" in text:
        fix = "free disk space on the disk that holds the database (or check that disk), then run the command again"
    elif "locked" in text or "busy" in text:
        fix = "another program holds the database (a second kith, a database browser): close it and try again"
    elif "not a database" in text:
        fix = ("check that [storage] database names Kith's database; if it does, the file is damaged: restore it "
               "from a backup, or move it away and run `kith sync` to read your mail again")
    elif "malformed" in text or "corrupt" in text:
        fix = "the file is damaged: restore it from a backup, or move it away and run `kith sync` to read your mail again"
    else:
        fix = "check the path in [storage] database, free disk space, and that no other program holds it"
    return StoreError(f"{what} ({text})", where=str(path) if path else "", fix=fix)


def _migrate(db: Database, attempts: int = 10) -> None:
    """WAL mode, and the pending migrations. Two commands started at once on a new database both see them
    pending; the second one's attempt fails ("table … already exists", "duplicate column name" where the first
    added it, a migration recorded twice, or "locked"
    while the first switches the file to WAL, which does not wait) and is rolled back, and looking again finds
    them applied."""
    for attempt in range(attempts):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            migrations.apply(db)
            db.executescript(TRIGGERS)
            return
        except (sqlite3.OperationalError, sqlite3.IntegrityError) as exc:
            raced = any(sign in str(exc) for sign in ("already exists", "duplicate column", "locked",
                                                      "_sqlite_migrations"))
            if attempt == attempts - 1 or not raced:
                raise
            time.sleep(min(0.5, 0.1 * (attempt + 1)))     # about 4 s in all: enough on a loaded machine


opened_path: Path | None = None    # the database this process opened: named by an error met anywhere later


def open_store(path: Path) -> Database:
    """Open (creating if needed) the database, in WAL mode, with migrations applied."""
    global opened_path
    opened_path = path
    if path.is_dir():
        raise StoreError("is a folder, not a database file", where=str(path),
                         fix="set [storage] database to a file path, such as ~/.local/share/kith/kith.db")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _make_private(path)
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        db = Database(conn)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA cache_size=-65536")  # 64 MiB: big syncs touch many index pages
        db.execute("PRAGMA temp_store=MEMORY")
        db.execute("PRAGMA wal_autocheckpoint=10000")  # 40 MB: a big first sync checkpoints (and fsyncs) less often
        db.execute("PRAGMA journal_size_limit=67108864")  # and the WAL file shrinks back afterwards
        _migrate(db)
    except sqlite3.DatabaseError as exc:
        raise database_problem(exc, path, "cannot open the database") from None
    except OSError as exc:
        raise StoreError(f"cannot create the database ({exc.strerror})", where=str(path),
                         fix="choose a writable path in [storage] database") from None
    return db


def empty_store() -> Database:
    """An empty store in memory, with the schema: what a read command sees before anything was synced,
    without creating a database file, or the folders of a mistyped `[storage] database` path."""
    db = Database(memory=True)
    migrations.apply(db)
    db.executescript(TRIGGERS)
    return db


def _make_private(path: Path) -> None:
    """Readable by the user only, even a database copied in or made before Kith set its umask: SQLite gives
    the -wal and -shm files the database's own mode, so a loose one would leak the whole store."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = file.stat().st_mode
            if mode & 0o077:
                file.chmod(mode & 0o700)
        except OSError:     # absent, or someone else's: opening it says what is wrong
            pass


def normalise_subject(subject: str) -> str:
    """Subject without reply/forward prefixes, lower-cased, spaces collapsed."""
    return " ".join(REPLY_PREFIX.sub("", subject).lower().split())


@functools.lru_cache(maxsize=65536)
def _subject_conversation(subject: str) -> str | None:
    normalised = normalise_subject(subject)
    if len(normalised) < 3:
        return None
    return "s:" + hashlib.blake2b(normalised.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def conversation_of(message: MessageMeta) -> str:
    """Group replies with their thread.

    Threads by subject when there is one, as mail without References (Enron,
    some clients) can only be threaded that way; the subject is hashed so the
    key reveals nothing when subjects are not stored.
    """
    return _subject_conversation(message.subject) or "t:" + (message.thread_key or message.message_id or message.source_id)


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(text: str) -> str:
    """A name or subject as it may be shown: control characters (a sender's ESC sequence would retitle or
    recolour the user's terminal) become spaces, and lone surrogates (from a broken encoded word) "\ufffd",
    which SQLite could not store either."""
    if not _UNPRINTABLE.search(text):
        return text
    return _UNPRINTABLE.sub(lambda c: "\ufffd" if c[0] >= "\ud800" else " ", text)


def content_key(message: MessageMeta, sent_at: str) -> int:
    """Identity of a message across folders and sources.

    Message-IDs are not enough: some archives (Enron) give every copy its own.
    Copies agree on time, sender, recipients and subject.
    """
    to = _emails(message.to)
    cc = _emails(message.cc)
    text = f"{sent_at}\x1f{message.sender.email}\x1f{to}\x1f{cc}\x1f{message.subject}"
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _emails(addresses: tuple) -> str:
    """Sorted and comma-joined; most lists have one address or none, which need no sorting."""
    if len(addresses) < 2:
        return addresses[0].email if addresses else ""
    return ",".join(sorted([a.email for a in addresses]))


def apply_batch(db: Database, source: str, batch: Batch, *, store_subjects: bool = True) -> Counts:
    """Apply one batch and its cursor atomically; replaying it is a no-op."""
    counts = Counts()
    rows = _message_rows(batch.messages, store_subjects)   # the Python work, before the write lock is taken
    try:
        with db.atomic():
            # the cursor is written first, so that the transaction holds the write lock before keys are allocated
            db.execute(
                """INSERT INTO sync_state (source, cursor, synced_at, last_error, error_at)
                   VALUES (?, ?, ?, NULL, NULL)
                   ON CONFLICT(source) DO UPDATE SET cursor = excluded.cursor, synced_at = excluded.synced_at""",
                [source, batch.cursor, utc_text(datetime.now(UTC))],
            )
            _mark_stale(db, source, batch)
            counts.deleted += _sweep(db, source, batch)
            rewritten = _rewritten_events(db, source, batch)
            counts.deleted += _delete(db, source, batch.deleted) - len(rewritten)
            counts.messages, counts.new_messages = _upsert_messages(db, source, rows)
            counts.events, counts.new_events, counts.new_cancelled, counts.cancelled_since = _upsert_events(
                db, source, batch.events, store_subjects, rewritten)
            db.execute("UPDATE sync_state SET messages = messages + ?, events = events + ? WHERE source = ?",
                       [counts.messages, counts.events, source])
            if counts.messages or counts.deleted:
                _own_addresses_due(db)      # in the batch's transaction: a kill before they are found loses nothing
    except sqlite3.OperationalError as exc:
        raise database_problem(exc, what=f"{source}: cannot store what it read") from None
    return counts


OWN_ADDRESSES = "own_addresses"


def _own_addresses_due(db: Database) -> None:
    """Mark the finding due, counting up: a finding that read the mail before this batch does not clear it."""
    db.execute("INSERT INTO pending_work (task) VALUES (?) ON CONFLICT(task) DO UPDATE SET generation = generation + 1",
               [OWN_ADDRESSES])


def own_addresses_due(db: Database) -> bool:
    """Whether mail came or went since the user's addresses were last found (`refresh_own_addresses`): recorded
    with the mail itself, so that a sync killed between its last batch and the finding finds them next time."""
    return db.execute("SELECT 1 FROM pending_work WHERE task = ?", [OWN_ADDRESSES]).fetchone() is not None


def _mark_stale(db: Database, source: str, batch: Batch) -> None:
    """A new pass starts: the rows stored before stay, in the scope STALE, until the batch that ends the pass
    sweeps it; each one the pass reads again leaves it when it is written (see Batch)."""
    if batch.stale_ids:
        rows = [(STALE, source, source_id) for source_id in batch.stale_ids]
        for table in ("message_copies", "events"):
            db.conn.executemany(f"UPDATE {table} SET scope = ? WHERE source = ? AND source_id = ?", rows)
    if batch.all_stale:
        where, params = "source = ?", [source]
    elif batch.stale_scopes:
        where, params = f"source = ? AND scope IN ({','.join('?' * len(batch.stale_scopes))})", [
            source, *batch.stale_scopes]
    else:
        return
    for table in ("message_copies", "events"):
        db.execute(f"UPDATE {table} SET scope = ? WHERE {where}", [STALE, *params])


def _sweep(db: Database, source: str, batch: Batch) -> int:
    """Mark-and-sweep: rows of a complete scope (or source) that the batch lacks are gone."""
    if not batch.scopes and not batch.full_resync:
        return 0
    seen_messages = {m.source_id for m in batch.messages}
    seen_events = {e.source_id for e in batch.events}
    where, params = ("source = ?", [source]) if batch.full_resync else (
        f"source = ? AND scope IN ({','.join('?' * len(batch.scopes))})", [source, *batch.scopes])
    stale_copies = [r[0] for r in db.execute(f"SELECT source_id FROM message_copies WHERE {where}", params)
                    if r[0] not in seen_messages]
    stale_events = [r[0] for r in db.execute(f"SELECT source_id FROM events WHERE {where}", params)
                    if r[0] not in seen_events]
    return _delete(db, source, stale_copies + stale_events)


def _delete(db: Database, source: str, source_ids: Sequence[str]) -> int:
    if not source_ids:
        return 0
    rows = [(source, sid) for sid in source_ids]
    copies = db.conn.executemany("DELETE FROM message_copies WHERE source = ? AND source_id = ?", rows).rowcount
    events = db.conn.executemany("DELETE FROM events WHERE source = ? AND source_id = ?", rows).rowcount
    return copies + events  # rows the triggers remove with them (recipients, attendees) are not counted


@dataclass(slots=True)
class _MessageRows:
    """A batch's messages as rows: one per distinct message (by content hash), one per copy."""

    messages: dict[int, tuple]              # hash -> messages row (without key)
    recipients: dict[int, tuple]            # hash -> (to, cc) addresses
    copies: list[tuple[str, str, str, int]]  # (source_id, scope, labels, hash)


BULK, LIST_ID = 7, 8   # positions in a messages row: what copies of one message may disagree on


def _message_rows(messages: Iterable[MessageMeta], store_subjects: bool) -> _MessageRows:
    rows = _MessageRows({}, {}, [])
    for m in messages:
        sent_at = utc_text(m.sent_at)
        content = content_key(m, sent_at)
        rows.copies.append((m.source_id, m.scope, " ".join(m.labels), content))
        known = rows.messages.get(content)
        if known is not None:   # a second copy in the same batch: merge what copies may disagree on
            if m.bulk or m.list_id:
                rows.messages[content] = (*known[:BULK], max(known[BULK], int(m.bulk)), known[LIST_ID] or m.list_id,
                                          *known[LIST_ID + 1:])
            continue
        rows.messages[content] = (m.message_id, conversation_of(m), sent_at, m.sender.email, printable(m.sender.name),
                                  printable(m.subject) if store_subjects else "", m.in_reply_to, int(m.bulk), m.list_id,
                                  len({a.email for a in m.to}) + len({a.email for a in m.cc}))  # rows it will get
        rows.recipients[content] = (m.to, m.cc)
    return rows


def _upsert_messages(db: Database, source: str, rows: _MessageRows) -> tuple[int, int]:
    """New messages are appended with the next keys; a known one only merges its bulk flags.
    Returns the copies written and how many of the messages were new to the store (known without a query:
    `_known_keys` already looked each one up)."""
    conn = db.conn
    keys = _known_keys(conn, rows.messages)
    next_key = conn.execute("SELECT coalesce(max(key), 0) + 1 FROM messages").fetchone()[0]
    new_messages, new_recipients, merges = [], [], []
    for content, row in rows.messages.items():
        key = keys.get(content)
        if key is not None:
            if row[BULK] or row[LIST_ID]:
                merges.append((row[BULK], row[LIST_ID], key))
            continue
        key = keys[content] = next_key
        next_key += 1
        new_messages.append((key, content, *row))
        to, cc = rows.recipients[content]
        new_recipients += [(key, "to", a.email, printable(a.name)) for a in to]
        new_recipients += [(key, "cc", a.email, printable(a.name)) for a in cc]
    conn.executemany(
        """INSERT INTO messages (key, hash, message_id, conversation, sent_at, sender, sender_name, subject,
                                 in_reply_to, bulk, list_id, n_recipients)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""", new_messages)
    conn.executemany(
        """UPDATE messages SET bulk = max(bulk, ?), list_id = CASE WHEN list_id = '' THEN ? ELSE list_id END
           WHERE key = ?""", merges)
    conn.executemany("INSERT OR IGNORE INTO recipients (key, role, email, name) VALUES (?, ?, ?, ?)", new_recipients)
    conn.executemany(
        """INSERT INTO message_copies (source, source_id, key, scope, labels) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(source, source_id) DO UPDATE SET key = excluded.key, scope = excluded.scope,
               labels = excluded.labels""",
        [(source, source_id, keys[content], scope, labels) for source_id, scope, labels, content in rows.copies])
    return len(rows.copies), len(new_messages)


def _known_keys(conn: sqlite3.Connection, hashes: Iterable[int]) -> dict[int, int]:
    """Content hash -> key of the messages already stored, in one query."""
    wanted = json.dumps(list(hashes))
    return dict(conn.execute(
        "SELECT m.hash, m.key FROM json_each(?) AS j JOIN messages AS m ON m.hash = j.value", [wanted]))


def _rewritten_events(db: Database, source: str, batch: Batch) -> dict[str, int]:
    """The events the batch deletes and writes again, with their `cancelled` flag: a connector does so to get
    past the SEQUENCE guard (the file that held the newest version is gone, or the cursor could not be read).
    The source held them before and holds them after: they were read again, neither removed nor new."""
    again = {e.source_id for e in batch.events}.intersection(batch.deleted)
    if not again:
        return {}
    return dict(db.execute("SELECT source_id, cancelled FROM events WHERE source = ? AND source_id IN "
                           "(SELECT value FROM json_each(?))", [source, json.dumps(sorted(again))]).fetchall())


def _upsert_events(db: Database, source: str, events: Iterable[EventMeta], store_subjects: bool,
                   rewritten: dict[str, int]) -> tuple[int, int, int, int]:
    """Returns the events written, how many of them the source had not synced before, and the cancelled ones:
    among the new, and among those held before uncancelled (so that a sync can tell them apart). `rewritten`:
    the events this batch deleted before writing them again, which count as held before."""
    written = new = new_cancelled = cancelled_since = 0
    for e in events:
        row = db.execute("SELECT sequence, cancelled FROM events WHERE source = ? AND source_id = ?",
                         [source, e.source_id]).fetchone()
        if row is not None and row[0] > e.sequence:
            # an older version of an updated invitation never overwrites the newer one; but read again, it is not stale
            db.execute("UPDATE events SET scope = ? WHERE source = ? AND source_id = ? AND scope = ?",
                       [e.scope, source, e.source_id, STALE])
            continue
        was_cancelled = row[1] if row is not None else rewritten.get(e.source_id)     # None: new to the source
        organizer = e.organizer.email if e.organizer else None
        db.execute(
            """INSERT INTO events (source, source_id, scope, start, end, organizer, organizer_name, summary,
                                   cancelled, all_day, birthday, calendar, sequence, online, guests_hidden)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(source, source_id) DO UPDATE SET scope = excluded.scope, start = excluded.start,
                   end = excluded.end, organizer = excluded.organizer, organizer_name = excluded.organizer_name,
                   summary = excluded.summary, cancelled = excluded.cancelled, all_day = excluded.all_day,
                   birthday = excluded.birthday, calendar = excluded.calendar, sequence = excluded.sequence,
                   online = excluded.online, guests_hidden = excluded.guests_hidden""",
            [source, e.source_id, e.scope, utc_text(e.start), utc_text(e.end), organizer,
             printable(e.organizer.name) if e.organizer else "", printable(e.summary) if store_subjects else "",
             int(e.cancelled),
             int(e.all_day), int(e.birthday), e.calendar, e.sequence, int(e.online), int(e.guests_hidden)])
        db.execute("DELETE FROM attendees WHERE source = ? AND source_id = ?", [source, e.source_id])
        db.conn.executemany(
            "INSERT OR IGNORE INTO attendees (source, source_id, email, name, partstat) VALUES (?, ?, ?, ?, ?)",
            [(source, e.source_id, a.email, printable(a.name), partstat) for a, partstat in e.attendees])
        written += 1
        new += was_cancelled is None
        new_cancelled += was_cancelled is None and e.cancelled
        cancelled_since += was_cancelled is not None and e.cancelled and not was_cancelled
    return written, new, new_cancelled, cancelled_since


def mail_carries(db: Database, email: str) -> bool:
    """Whether any synced message or meeting carries `email`, as sender, recipient, organiser or attendee."""
    return db.execute("""SELECT EXISTS (SELECT 1 FROM messages WHERE sender = :e)
                         OR EXISTS (SELECT 1 FROM recipients WHERE email = :e)
                         OR EXISTS (SELECT 1 FROM attendees WHERE email = :e)
                         OR EXISTS (SELECT 1 FROM events WHERE organizer = :e)""", {"e": email}).fetchone()[0] == 1


def forget_subjects(db: Database) -> int:
    """Blank every stored subject and meeting title (`store_subjects = false` set after a sync), in the
    digests kept too: what the setting promises holds for mail stored before it. Conversations stay
    grouped by their hash."""
    with db.conn:
        blanked = db.execute("UPDATE messages SET subject = '' WHERE subject != ''").rowcount
        blanked += db.execute("UPDATE events SET summary = '' WHERE summary != ''").rowcount
        if blanked:
            rows = db.execute("SELECT date, payload FROM digests").fetchall()
            db.conn.executemany("UPDATE digests SET payload = ? WHERE date = ?",
                                [(_without_subjects(payload), day) for day, payload in rows])
    return blanked


# how the digest quotes a subject (`models.kinds.quote`); a goal's name, the user's own words, is quoted so too
# in "Your network for “Funding”" and "this week's focus for “Funding”", and stays
_QUOTED_SUBJECT = re.compile("(?<!network for )(?<!focus for )“[^”]*”")


def _without_subjects(payload: str) -> str:
    """A stored digest with its quoted subjects and each suggestion's context blanked."""
    data = json.loads(payload)
    for suggestion in data.get("json", {}).get("suggestions", []):
        suggestion["context"] = ""
    return _QUOTED_SUBJECT.sub("“…”", json.dumps(data, ensure_ascii=False))


def holds_anything(db: Database) -> bool:
    """Whether any mail or meeting has been synced: before that, a digest would say nothing true."""
    return db.execute("SELECT EXISTS (SELECT 1 FROM messages) OR EXISTS (SELECT 1 FROM events)").fetchone()[0] == 1


def forget_source(db: Database, source: str) -> Counts:
    """Delete everything one source synced — its copies (a message another source also holds stays), its
    meetings, its sync position and schedule — for a source the user dropped or renamed. Counts the copies
    dropped (`messages`), the messages deleted with their last copy (`deleted_messages`) and those another
    source still holds (`kept_messages`), and the events."""
    counts = Counts()
    with db.atomic():
        counts.messages = db.execute("SELECT count(*) FROM message_copies WHERE source = ?", [source]).fetchone()[0]
        counts.events = db.execute("SELECT count(*) FROM events WHERE source = ?", [source]).fetchone()[0]
        held = db.execute("SELECT count(DISTINCT key) FROM message_copies WHERE source = ?", [source]).fetchone()[0]
        stored = db.execute("SELECT count(*) FROM messages").fetchone()[0]
        for table, column in (("message_copies", "source"), ("events", "source"), ("sync_state", "source"),
                              ("schedules", "job")):
            db.execute(f"DELETE FROM {table} WHERE {column} = ?", [source])
        counts.deleted_messages = stored - db.execute("SELECT count(*) FROM messages").fetchone()[0]
        counts.kept_messages = held - counts.deleted_messages
        _own_addresses_due(db)     # an address learned from its Sent folder goes too
    return counts


def record_error(db: Database, source: str, message: str) -> None:
    """Remember a source's last error without touching its cursor or data."""
    db.execute(
        """INSERT INTO sync_state (source, last_error, error_at) VALUES (?, ?, ?)
           ON CONFLICT(source) DO UPDATE SET last_error = excluded.last_error, error_at = excluded.error_at""",
        [source, message, utc_text(datetime.now(UTC))])


def cursor_of(db: Database, source: str) -> str | None:
    row = db.execute("SELECT cursor FROM sync_state WHERE source = ?", [source]).fetchone()
    return row[0] if row else None


def refresh_own_addresses(db: Database, configured: Iterable[str]) -> set[str]:
    """The user's addresses: the config's, plus senders found in the user's sent folders.

    A sender must appear on at least two sent copies, so that one stray message
    filed in Sent does not make a stranger "you" (on 150 Enron mailboxes most
    one-off senders in Sent were colleagues). A single copy is enough when the
    address ends in the same name as one of the user's ("michele.lokay" beside
    "michelle.lokay", "mark.e.haedicke" beside "mark.haedicke") and the user
    wrote to it once at most: an alias, not a colleague of the same name. So is an
    address the user forwards mail to, alone, that holds the user's surname
    (`_forwarded_home`). An assistant sending from the user's mailbox, whom the
    user writes to often, stays a person (`_delegate`), listed in `delegates`: what
    they file in Sent is the user's mail (`models.facts`).
    """
    due = db.execute("SELECT generation FROM pending_work WHERE task = ?", [OWN_ADDRESSES]).fetchone()
    due = due[0] if due else None
    counted = db.execute(
        """SELECT m.sender, count(DISTINCT m.key) FROM message_copies c JOIN messages m ON m.key = c.key
           WHERE ' ' || c.labels || ' ' LIKE '% SENT %' GROUP BY m.sender""").fetchall()
    configured = {a.strip().lower() for a in configured if a.strip()}
    learned = [sender for sender, n in counted if n >= 2]
    # with no address configured, the Sent folders' most frequent sender stands for the user: an assistant
    # sending from the mailbox is told from them all the same (review 28: Sager's assistant became "you")
    base = configured or ({max(counted, key=lambda row: (row[1], row[0]))[0]} if counted else set())
    mine = {_surname(a) for a in base} - {None}
    delegates = [a for a in learned if _delegate(db, base, mine, a)]
    learned = [a for a in learned if a not in delegates]
    surnames = {_surname(a) for a in configured | set(learned)} - {None}
    aliases = [sender for sender, n in counted if n == 1 and _surname(sender) in surnames]
    learned += [a for a in aliases if _written_to(db, configured | set(learned), a) < 2]   # not a namesake colleague
    known = configured | set(learned)
    alone = _written_alone(db, known)
    home = sorted(set(_forwarded_home(db, known, surnames, alone)) | set(_home_by_name(db, known, alone))
                  | set(_home_by_own_name(db, known)))
    receiving = _receiving_alias(db, known | set(home))
    with db.atomic():
        # done for the mail read above; a batch stored meanwhile (a sync running beside a read command) keeps it due
        db.execute("DELETE FROM pending_work WHERE task = ? AND generation IS ?", [OWN_ADDRESSES, due])
        db.execute("DELETE FROM own_addresses")
        db.conn.executemany("INSERT OR IGNORE INTO own_addresses (email, origin) VALUES (?, 'config')",
                            [(a,) for a in sorted(configured)])
        db.conn.executemany("INSERT OR IGNORE INTO own_addresses (email, origin) VALUES (?, 'sent-folder')",
                            [(a,) for a in learned])
        db.conn.executemany("INSERT OR IGNORE INTO own_addresses (email, origin) VALUES (?, 'forwarded-to')",
                            [(a,) for a in home])
        db.conn.executemany("INSERT OR IGNORE INTO own_addresses (email, origin) VALUES (?, 'receives-only')",
                            [(a,) for a in receiving])
        db.execute("DELETE FROM delegates")
        db.conn.executemany("INSERT OR IGNORE INTO delegates (email) VALUES (?)", [(a,) for a in delegates])
    return configured | set(learned) | set(home) | set(receiving)


def configured_addresses_changed(db: Database, configured: Iterable[str]) -> bool:
    """Whether `[user] addresses` differ from those the user's addresses were last found with: an address
    taken out of the config is no longer the user's, from the next command on, not from the next sync."""
    now = {a.strip().lower() for a in configured if a.strip()}
    return now != {a for (a,) in db.execute("SELECT email FROM own_addresses WHERE origin = 'config'")}


def keep_own_addresses_current(db: Database, configured: Iterable[str], *, syncing: bool = False) -> None:
    """Find the user's addresses again when the config's changed since the last sync, or mail came that they were
    not found with (a sync killed before it found them): read commands and the daemon's digest judge with them.
    While a sync runs, it finds them itself when it ends: a read command does not do it after every batch."""
    if not holds_anything(db):
        return
    if configured_addresses_changed(db, configured) or (own_addresses_due(db) and not syncing):
        refresh_own_addresses(db, configured)


FORWARDS_HOME = 5         # messages forwarded to an address alone, at least, before it may be the user's own


def _written_alone(db: Database, own: set[str]) -> dict[str, tuple[int, int]]:
    """Per address the user wrote to alone FORWARDS_HOME × 0.8 times or more: (those mails, the forwards among
    them) — one grouping of the user's mail for both ways a home account is found."""
    if not own:
        return {}
    return {email: (n, forwards) for email, n, forwards in db.execute(
        f"""SELECT r.email, count(*), sum(lower(m.subject) LIKE 'fw%:%' OR lower(m.subject) LIKE 'fwd%:%')
            FROM messages m CROSS JOIN recipients r ON r.key = m.key
            WHERE m.sender IN ({",".join("?" * len(own))}) AND m.n_recipients = 1
            GROUP BY r.email HAVING count(*) >= ?""", [*own, FORWARDS_HOME * 0.8])}


def _forwarded_home(db: Database, own: set[str], surnames: set[str], alone: dict[str, tuple[int, int]]) -> list[str]:
    """Addresses outside the user's organisation that the user keeps forwarding mail to, alone ("FW: …" to a
    home account), whose local part holds the user's surname ("sshackl@swbell.net" for sara.shackleton,
    "jeffshankman@hotmail.com"). Forwarding alone is not enough: many users forward as much to a colleague
    or an assistant, and a colleague's name may hold the user's ("p.sanders" and anderson). So most mail to
    it is such a forward; or the rest only copies it, and it begins with the user's own first name or
    initial before the surname: a user who Cc's home on their own replies (590 mails to vkaminski@aol.com
    alone, 477 of them forwards, 156 Cc's) writes to it among others hardly ever, and so does one who
    copies a spouse of the same surname on family errands (maria.keller@ for sam.keller)."""
    if not own or not surnames:
        return []
    senders = ",".join("?" * len(own))
    domains = organisations(own)        # a home account lies outside the user's organisation: a colleague does not
    candidates = {email: n for email, (_, n) in alone.items() if n >= FORWARDS_HOME * 0.8
                  and email not in own and not in_organisations(email, domains) and _holds_surname(email, surnames)}
    if not candidates:
        return []
    mail = {email: (total, alone, to_among_others) for email, total, alone, to_among_others in db.execute(
        f"""SELECT r.email, count(*), sum(m.n_recipients = 1), sum(r.role = 'to' AND m.n_recipients > 1)
            FROM messages m CROSS JOIN recipients r ON r.key = m.key
            WHERE m.sender IN ({senders}) AND r.email IN ({",".join("?" * len(candidates))}) GROUP BY r.email""",
        [*own, *candidates]).fetchall()}
    return sorted(email for email, n in candidates.items() if (total := mail[email][0]) >= FORWARDS_HOME
                  and n >= 0.8 * mail[email][1] and (n >= 0.8 * total or (mail[email][2] <= 0.1 * total
                                                                          and _initial_and_surname(email, own))))


def _home_by_name(db: Database, own: set[str], alone: dict[str, tuple[int, int]]) -> list[str]:
    """An account outside the user's organisation named as the firm names the user (dgiron1@pdq.net for
    darron.giron, mtaylor587@aol.com for mark.taylor: initial and surname) that the user writes to alone
    FORWARDS_HOME times or more, and that wrote nothing but forwards to the user alone, if anything: a home account
    the user sends things to without "FW:" (Notes did not add one), not a relative, who writes back or to others
    (a brother's jokes to eight friends), nor a colleague at another of the firm's domains (review 24)."""
    if not own:
        return []
    senders = ",".join("?" * len(own))
    domains = organisations(own)
    firms = {firm_of(a.partition("@")[2]) for a in own} - FREE_MAIL_FIRMS
    candidates = [email for email, (n, _) in alone.items() if n >= FORWARDS_HOME
                  and email not in own and not in_organisations(email, domains)
                  and firm_of(email.partition("@")[2]) not in firms and _initial_and_surname(email, own)]
    if not candidates:
        return []
    wrote: dict[str, list[tuple[str, bool]]] = defaultdict(list)     # one query for every candidate's mail
    for sender, subject, to_user_alone in db.execute(
            f"""SELECT m.sender, m.subject, m.n_recipients = 1 AND EXISTS (SELECT 1 FROM recipients r WHERE
                       r.key = m.key AND r.email IN ({senders}))
                FROM messages m WHERE m.sender IN ({",".join("?" * len(candidates))})""", [*own, *candidates]):
        wrote[sender].append((subject, bool(to_user_alone)))
    return sorted(email for email in candidates if all(
        to_user and re.match(r"\s*(fw|fwd)\s*:", subject, re.IGNORECASE) for subject, to_user in wrote[email]))


def _home_by_own_name(db: Database, own: set[str]) -> list[str]:
    """An account outside the user's organisation that signs with the user's own full name ("Chris Dorland"
    <cdorland@hotmail.com>), or the user's household's ("Hunter & Jessica Shively"), and writes to the user
    alone, never to anyone else: the user mailing themselves from home (review 28). A namesake or a relative
    writes to others too, or signs with another first name."""
    if not own:
        return []
    names = {full for a in own if (full := _first_and_last(a))}
    marks = ",".join("?" * len(own))
    names |= {full for (name,) in db.execute(f"SELECT DISTINCT sender_name FROM messages WHERE sender IN ({marks}) "
                                             "AND sender_name != ''", [*own]) if (full := _full_name_of(name))}
    if not names:
        return []
    domains = organisations(own)
    firms = {firm_of(a.partition("@")[2]) for a in own} - FREE_MAIL_FIRMS
    lasts = sorted({last for _, last in names})
    candidates = set()
    for sender, name in db.execute(
            f"SELECT DISTINCT sender, sender_name FROM messages WHERE ({' OR '.join('sender_name LIKE ?' for _ in lasts)})",
            [f"%{last}%" for last in lasts]):
        if sender in own or in_organisations(sender, domains) or firm_of(sender.partition("@")[2]) in firms:
            continue
        words = re.findall(r"[^\W\d_]+", name.lower())
        couple = bool(re.search(r"&|\band\b", name, re.IGNORECASE)) and any(
            first in words and last in words for first, last in names)
        if _full_name_of(name) in names or couple:
            candidates.add(sender)
    found = []
    for sender in sorted(candidates):
        others = db.execute(f"""SELECT count(*), sum(NOT EXISTS (SELECT 1 FROM recipients r WHERE r.key = m.key
                                    AND r.email NOT IN ({marks}, ?))) FROM messages m WHERE m.sender = ?""",
                            [*own, sender, sender]).fetchone()
        if others[0] and others[0] == others[1]:        # every mail of theirs went to the user alone
            found.append(sender)
    return found


def _initial_and_surname(address: str, own: set[str]) -> bool:
    """Whether the local part begins with the first name or initial of one of the user's name-shaped
    addresses and the surname follows within a letter or two ("vkaminski" for vince.kaminski, "mawhitt"
    for mark.whitt), not another first name ("mariakeller")."""
    letters = re.sub(r"[^a-z]", "", address.partition("@")[0].lower())
    for mine in own:
        parts = [p for p in re.split(r"[._-]+", mine.partition("@")[0].lower()) if p]
        if len(parts) < 2 or not letters:
            continue
        first, surname = parts[0], parts[-1][:5]
        if letters.startswith(first + surname) or (letters[0] == first[0] and surname in letters[1:3 + len(surname)]):
            return True
    return False


def _holds_surname(address: str, surnames: set[str]) -> bool:
    """Whether the local part holds one of the surnames whole (four letters or more), or its first five."""
    local = address.partition("@")[0].lower()
    return any((len(name) >= 4 and name in local) or (len(name) > 5 and name[:5] in local) for name in surnames)


DELEGATE_AFTER = 10      # messages from the user's configured addresses to a Sent-folder sender: a delegate


def _delegate(db: Database, configured: set[str], surnames: set[str], sender: str) -> bool:
    """An assistant who sends from the user's mailbox ("on behalf of") is in its Sent folder, yet a person the
    user writes to: 170 messages from Sally Beck to her assistant, whom she would lose as a contact. A Sent
    sender the user wrote to DELEGATE_AFTER times or more, under another surname, is a delegate, not the user."""
    surname = _surname(sender)
    if not configured or sender in configured or surname is None or surname in surnames:
        return False        # the user's own alias at home (sam@keller.example) names no other person
    return _written_to(db, configured, sender) >= DELEGATE_AFTER


RECEIVING_ALIAS_MAIL = 20   # mails to an address of the user's name before it counts as the user's


def _receiving_alias(db: Database, own: set[str]) -> list[str]:
    """An address at the user's organisation with the user's first and last name parts (richard.b.sanders@
    beside richard.sanders@: an old Lotus Notes address), or their short form (dperlin@), that others wrote to RECEIVING_ALIAS_MAIL times or
    more, that never sent a line and that the user wrote to a tenth as often at most (copying one's old
    address on one's own mail): an address of the user's that only receives, not a colleague's."""
    names = {full: a.partition("@")[2] for a in own if (full := _first_and_last(a))}
    firms = {firm_of(domain) for domain in names.values()} - FREE_MAIL_FIRMS   # a namesake at gmail is not you
    if not names or not firms:
        return []
    found = set()
    # one grouping of the recipients, whatever the number of the user's addresses (0.6 s for 325,000 mails;
    # a LIKE per address took 5 s for 252 addresses)
    for email, mails in db.execute("SELECT email, count(DISTINCT key) FROM recipients GROUP BY email "
                                   "HAVING count(DISTINCT key) >= ?", [RECEIVING_ALIAS_MAIL]):
        parts = [p for p in re.split(r"[._-]+", email.partition("@")[0]) if p]
        named = len(parts) >= 2 and (parts[0], parts[-1]) in names
        shaped = named or _short_form(email, names) or _first_name_form(email, names)
        if email in own or not shaped or firm_of(email.partition("@")[2]) not in firms:
            continue
        if _only_receives(db, email) and _written_to(db, own, email) <= mails // 10 \
                and not _names_another(db, email, names):
            found.add(email)
    # fewer mails do when others name the address as the user, in full ("Louise Kitchen" <lkitchen@>); only
    # names holding a surname of the user's are grouped (one scan, not a sort of every name given)
    lasts = sorted({last for _, last in names})
    holds = " OR ".join("name LIKE ?" for _ in lasts)
    for email, name, mails in db.execute(f"SELECT email, name, count(DISTINCT key) FROM recipients WHERE name != '' "
                                         f"AND ({holds}) GROUP BY email, name", [f"%{last}%" for last in lasts]):
        if email in own or email in found or firm_of(email.partition("@")[2]) not in firms:
            continue
        if _full_name_of(name) in names and _only_receives(db, email) \
                and _written_to(db, own, email) <= mails // 10 and not _names_another(db, email, names):
            found.add(email)
    return sorted(found)


def _first_and_last(address: str) -> tuple[str, str] | None:
    """(first, last) of a name-shaped address ("richard.b.sanders@" → richard, sanders); None for "rsanders@"."""
    parts = [p for p in re.split(r"[._-]+", address.partition("@")[0].lower()) if p]
    return (parts[0], parts[-1]) if len(parts) >= 2 else None


def _first_name_form(email: str, names: dict[tuple[str, str], str]) -> bool:
    """The user's first name alone, as a firm's vanity address (louise@ of Louise Kitchen)."""
    local = email.partition("@")[0]
    return len(local) >= 3 and local.isalpha() and any(local == first for first, _ in names)


def _full_name_of(name: str) -> tuple[str, str] | None:
    """(first, last) of a display name of two words, "Louise Kitchen" or "Kitchen, Louise"; None otherwise, and
    for "Richard S." (an initial is no surname) or "Louise (Home)" (a note is none either)."""
    words = re.findall(r"[^\W\d_]+", re.sub(r"\([^)]*\)", " ", name).lower())
    if len(words) != 2 or min(map(len, words)) < 2:
        return None
    return (words[1], words[0]) if "," in name else (words[0], words[1])


def _only_receives(db: Database, email: str) -> bool:
    """Whether the address never wrote a line but notes to itself (louise@ mailing an article to louise@): a
    colleague writes to the user, and one mail to the user is enough to be one (review 27)."""
    return db.execute("""SELECT 1 FROM messages m WHERE m.sender = ? AND (
                             NOT EXISTS (SELECT 1 FROM recipients r WHERE r.key = m.key)
                             OR EXISTS (SELECT 1 FROM recipients r WHERE r.key = m.key AND r.email != m.sender))
                         LIMIT 1""", [email]).fetchone() is None


def _names_another(db: Database, address: str, names: dict[tuple[str, str], str]) -> bool:
    """Whether the display names others give the address name someone of another first name: jsmith@ as
    "Smith, John" is a colleague, not Jane Smith's short form (review 24)."""
    firsts, lasts = {first for first, _ in names}, {last for _, last in names}
    for (raw,) in db.execute("SELECT DISTINCT name FROM recipients WHERE email = ? AND name != ''", [address]):
        given = raw.split(",", 1)[1] if "," in raw else raw
        words = re.findall(r"[^\W\d_]+", given.lower())
        if words and len(words[0]) >= 2 and words[0] not in firsts:
            return True
        full = _full_name_of(raw)
        if full and "@" not in raw and full[1] not in lasts:    # louise@ as "Louise Smith": a colleague's
            return True
    return False


def _short_form(email: str, names: dict[tuple[str, str], str]) -> bool:
    """A firm's short form of the user's name: the first initial and the start of the last name, one word of
    SHORT_FORM_MIN letters or more (dperlin@ of Debra Perlingiere, jdasovic@ of Jeff Dasovich)."""
    local = email.partition("@")[0]
    return len(local) >= SHORT_FORM_MIN and local.isalpha() and any(
        local[0] == first[0] and last.startswith(local[1:]) for first, last in names)


SHORT_FORM_MIN = 6


def _written_to(db: Database, senders: set[str], address: str) -> int:
    """How many messages from `senders` have `address` among their recipients."""
    return db.execute(
        "SELECT count(DISTINCT m.key) FROM recipients r JOIN messages m ON m.key = r.key "
        f"WHERE r.email = ? AND m.sender IN ({','.join('?' * len(senders))})", [address, *senders]).fetchone()[0]


def _surname(address: str) -> str | None:
    """The last name-like part of an address's local part ("j..kaminski" → "kaminski"), if it has one of
    three letters or more besides a first one: a lone "info" or "jsmith" names no one for sure."""
    parts = [p for p in re.split(r"[._-]+", address.partition("@")[0].lower()) if p]
    return parts[-1] if len(parts) >= 2 and len(parts[-1]) >= 3 and parts[-1].isalpha() else None
