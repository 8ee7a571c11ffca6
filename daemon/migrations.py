"""The database schema, evolved only through sqlite-utils migrations.

A message is stored once (`messages`, keyed by a content hash) however many
folders or sources hold a copy of it (`message_copies`, keyed by the source's
own id). Derived relations such as `interactions` are views.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("kith")


@migrations()
def m001_sync_tables(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE messages (
            key INTEGER PRIMARY KEY,       -- content hash: same message in two folders = one row
            message_id TEXT,
            conversation TEXT NOT NULL,    -- thread id, or normalised subject when there is none
            sent_at TEXT NOT NULL,         -- UTC, 'YYYY-MM-DDTHH:MM:SSZ'
            sender TEXT NOT NULL,
            sender_name TEXT NOT NULL DEFAULT '',
            subject TEXT NOT NULL DEFAULT '',
            in_reply_to TEXT,
            bulk INTEGER NOT NULL DEFAULT 0,
            list_id TEXT NOT NULL DEFAULT '',
            n_recipients INTEGER NOT NULL DEFAULT 0
        );

        CREATE TABLE message_copies (
            source TEXT NOT NULL,
            source_id TEXT NOT NULL,
            key INTEGER NOT NULL REFERENCES messages(key),
            scope TEXT NOT NULL DEFAULT '',
            labels TEXT NOT NULL DEFAULT '',   -- space-separated, e.g. 'SENT'
            PRIMARY KEY (source, source_id)
        ) WITHOUT ROWID;
        CREATE INDEX message_copies_key ON message_copies(key);
        CREATE INDEX message_copies_scope ON message_copies(source, scope);

        CREATE TABLE recipients (
            key INTEGER NOT NULL REFERENCES messages(key),
            role TEXT NOT NULL,               -- 'to' or 'cc'
            email TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (key, role, email)
        ) WITHOUT ROWID;

        CREATE TABLE events (
            source TEXT NOT NULL,
            source_id TEXT NOT NULL,
            scope TEXT NOT NULL DEFAULT '',
            start TEXT NOT NULL,
            end TEXT NOT NULL,
            organizer TEXT,
            organizer_name TEXT NOT NULL DEFAULT '',
            summary TEXT NOT NULL DEFAULT '',
            cancelled INTEGER NOT NULL DEFAULT 0,
            all_day INTEGER NOT NULL DEFAULT 0,
            birthday INTEGER NOT NULL DEFAULT 0,
            calendar TEXT NOT NULL DEFAULT '',
            sequence INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (source, source_id)
        );
        CREATE INDEX events_start ON events(start);
        CREATE INDEX events_scope ON events(source, scope);

        CREATE TABLE attendees (
            source TEXT NOT NULL,
            source_id TEXT NOT NULL,
            email TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            partstat TEXT NOT NULL DEFAULT 'NEEDS-ACTION',
            PRIMARY KEY (source, source_id, email)
        ) WITHOUT ROWID;
        CREATE INDEX attendees_email ON attendees(email);

        CREATE TABLE sync_state (
            source TEXT PRIMARY KEY,
            cursor TEXT,
            synced_at TEXT,
            last_error TEXT,
            error_at TEXT,
            messages INTEGER NOT NULL DEFAULT 0,
            events INTEGER NOT NULL DEFAULT 0
        );

        -- the user's own addresses: from the config and learned from sent folders
        CREATE TABLE own_addresses (
            email TEXT PRIMARY KEY,
            origin TEXT NOT NULL
        );
        """
    )


@migrations()
def m002_user_tables(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE digests (
            date TEXT PRIMARY KEY,          -- local date the digest is for
            rendered_at TEXT NOT NULL,
            delivered_at TEXT,
            path TEXT,
            payload TEXT NOT NULL           -- the digest as JSON
        );
        CREATE TABLE suggestions (
            date TEXT NOT NULL,
            position INTEGER NOT NULL,
            kind TEXT NOT NULL,
            address TEXT NOT NULL,
            goal TEXT,
            PRIMARY KEY (date, position)
        );
        CREATE INDEX suggestions_address ON suggestions(address, date);
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            address TEXT NOT NULL,
            verdict TEXT NOT NULL,          -- good, noise, not-now, done
            goal TEXT,
            at TEXT NOT NULL
        );
        CREATE INDEX feedback_address ON feedback(address);
        """
    )


@migrations()
def m003_interactions_view(db: Database) -> None:
    db.executescript(
        """
        CREATE VIEW interactions AS
        SELECT r.email AS address, m.sent_at AS at, 'sent' AS kind, m.conversation,
               m.subject, m.key AS item, m.n_recipients AS size
        FROM messages m JOIN recipients r ON r.key = m.key
        WHERE m.sender IN (SELECT email FROM own_addresses)
          AND r.email NOT IN (SELECT email FROM own_addresses)
        UNION ALL
        SELECT m.sender, m.sent_at, 'received', m.conversation, m.subject, m.key, m.n_recipients
        FROM messages m
        WHERE m.sender NOT IN (SELECT email FROM own_addresses)
        UNION ALL
        SELECT a.email, e.start, 'meeting', 'event:' || e.source_id, e.summary,
               e.source || '/' || e.source_id,
               (SELECT count(*) FROM attendees x WHERE x.source = e.source AND x.source_id = e.source_id)
        FROM events e JOIN attendees a ON a.source = e.source AND a.source_id = e.source_id
        WHERE e.cancelled = 0 AND e.birthday = 0 AND a.partstat != 'DECLINED'
          AND a.email NOT IN (SELECT email FROM own_addresses);
        """
    )


@migrations()
def m004_service_state(db: Database) -> None:
    """What the daemon schedules: one row per job (a source key, or 'digest').

    Kept apart from sync_state, which only the store writes: failures and the
    next retry are the daemon's business, and `kith status` shows them.
    """
    db.executescript(
        """
        CREATE TABLE schedules (
            job TEXT PRIMARY KEY,            -- a source key such as 'mbox:archive', or 'digest'
            failures INTEGER NOT NULL DEFAULT 0,   -- consecutive failures; the backoff exponent
            last_run_at TEXT,                -- UTC, when the last attempt ended
            last_ok_at TEXT,                 -- UTC, when the last successful attempt ended
            next_run_at TEXT,                -- UTC, when the daemon runs it next
            last_error TEXT,                 -- one line; NULL once it succeeds again
            last_messages INTEGER NOT NULL DEFAULT 0,   -- counts written by the last successful run
            last_events INTEGER NOT NULL DEFAULT 0,
            last_deleted INTEGER NOT NULL DEFAULT 0
        );
        """
    )


@migrations()
def m005_event_online(db: Database) -> None:
    db.execute("ALTER TABLE events ADD COLUMN online INTEGER NOT NULL DEFAULT 0")


@migrations()
def m006_sequential_message_keys(db: Database) -> None:
    """Messages get sequential keys; the content hash moves to its own indexed column.

    Random hash keys scattered every insert across the messages and recipients
    B-trees; sequential keys append, which makes a first sync much faster. The
    triggers that refer to the old tables are dropped here and recreated by
    `daemon.store.open_store`.
    """
    db.executescript(
        """
        DROP TRIGGER IF EXISTS copies_gone;
        DROP TRIGGER IF EXISTS copies_moved;
        DROP VIEW interactions;

        CREATE TABLE messages_new (
            key INTEGER PRIMARY KEY,       -- assigned in order of arrival
            hash INTEGER NOT NULL UNIQUE,  -- content hash: same message in two folders = one row
            message_id TEXT,
            conversation TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            sender TEXT NOT NULL,
            sender_name TEXT NOT NULL DEFAULT '',
            subject TEXT NOT NULL DEFAULT '',
            in_reply_to TEXT,
            bulk INTEGER NOT NULL DEFAULT 0,
            list_id TEXT NOT NULL DEFAULT '',
            n_recipients INTEGER NOT NULL DEFAULT 0
        );
        INSERT INTO messages_new (hash, message_id, conversation, sent_at, sender, sender_name, subject,
                                  in_reply_to, bulk, list_id, n_recipients)
            SELECT key, message_id, conversation, sent_at, sender, sender_name, subject, in_reply_to, bulk,
                   list_id, n_recipients
            FROM messages ORDER BY sent_at, key;

        CREATE TABLE recipients_new (
            key INTEGER NOT NULL REFERENCES messages_new(key),   -- renamed along with it
            role TEXT NOT NULL,
            email TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (key, role, email)
        ) WITHOUT ROWID;
        INSERT INTO recipients_new (key, role, email, name)
            SELECT n.key, r.role, r.email, r.name FROM recipients r JOIN messages_new n ON n.hash = r.key
            ORDER BY n.key;

        CREATE TABLE copies_new (
            id INTEGER PRIMARY KEY,            -- in order of arrival, so that the indexes below stay small
            source TEXT NOT NULL,
            source_id TEXT NOT NULL,
            key INTEGER NOT NULL REFERENCES messages_new(key),   -- renamed along with it
            scope TEXT NOT NULL DEFAULT '',
            labels TEXT NOT NULL DEFAULT '',
            UNIQUE (source, source_id)
        );
        INSERT INTO copies_new (source, source_id, key, scope, labels)
            SELECT c.source, c.source_id, n.key, c.scope, c.labels
            FROM message_copies c JOIN messages_new n ON n.hash = c.key;

        DROP TABLE message_copies;
        DROP TABLE recipients;
        DROP TABLE messages;
        ALTER TABLE messages_new RENAME TO messages;
        ALTER TABLE recipients_new RENAME TO recipients;
        ALTER TABLE copies_new RENAME TO message_copies;
        CREATE INDEX message_copies_key ON message_copies(key);
        CREATE INDEX message_copies_scope ON message_copies(source, scope);
        """
    )
    m003_interactions_view(db)


@migrations()
def m007_distinct_recipient_counts(db: Database) -> None:
    """`n_recipients` counts the message's stored recipient rows: an address listed twice in one header
    is one recipient. Judging then reads group sizes from `messages` instead of counting `recipients`."""
    db.execute("UPDATE messages SET n_recipients = (SELECT count(*) FROM recipients r WHERE r.key = messages.key)")


@migrations()
def m008_printable_names(db: Database) -> None:
    """Names, subjects and titles stored before they were made printable (`daemon.store.printable`) are
    made so: a sender's escape sequence must not reach the terminal from an older store either."""
    from daemon.store import printable
    db.conn.create_function("kith_printable", 1, printable, deterministic=True)
    unprintable = "'*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*'"
    for table, column in (("messages", "sender_name"), ("messages", "subject"), ("recipients", "name"),
                          ("events", "organizer_name"), ("events", "summary"), ("attendees", "name")):
        db.execute(f"UPDATE {table} SET {column} = kith_printable({column}) WHERE {column} GLOB {unprintable}")


@migrations()
def m009_person_addresses_in_judgments(db: Database) -> None:
    """The user's feedback and the suggestions made name a contact by the address the user typed or the
    contact's primary one. A contact now holds the person's own addresses (`daemon.contacts.person_address`:
    'anna'@x.org is anna@x.org, a B4 relay address its sender's), so such rows written before name it so too;
    the synced mail itself keeps the addresses as they came."""
    from daemon.contacts import person_address
    db.conn.create_function("kith_person_address", 1, person_address, deterministic=True)
    for table in ("feedback", "suggestions"):
        db.execute(f"UPDATE {table} SET address = kith_person_address(address) "
                   f"WHERE address GLOB '''*' OR address GLOB 'devnull+*@kernel.org'")


@migrations()
def m010_suggestion_threads(db: Database) -> None:
    """Which conversation an owed reply was about, so that a thread shown under one person is not shown again
    the next morning under another of its people (`models.suggest._owed_due`)."""
    db.execute("ALTER TABLE suggestions ADD COLUMN thread TEXT")


@migrations()
def m011_delegates(db: Database) -> None:
    """Assistants who send from the user's mailbox (`daemon.store._delegate`): what they file in its Sent
    folders is the user's mail, and they are no relationship to suggest. The user's addresses are found again
    by the next command (`daemon.store.keep_own_addresses_current`), which fills the table for a store synced
    before it, however long no new mail comes."""
    db.execute("CREATE TABLE delegates (email TEXT PRIMARY KEY)")
    db.execute("DELETE FROM own_addresses WHERE origin = 'config'")


@migrations()
def m012_hidden_guest_lists(db: Database) -> None:
    """A meeting whose organizer hid the guest list (a town hall, a webinar) lists the user alone: it is a
    crowd's, not a meeting with the organizer alone. Cloud calendars are listed again on the next sync to learn
    which (the events are known, so nothing counts as new); .ics files say nothing of it. The cursor becomes
    unreadable, not absent: a source with a cursor keeps what it holds until the new pass has ended."""
    db.execute("ALTER TABLE events ADD COLUMN guests_hidden INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE sync_state SET cursor = '' WHERE cursor IS NOT NULL AND (source GLOB 'google_calendar:*' "
               "OR source GLOB 'outlook_calendar:*')")


@migrations()
def m013_digest_deliveries(db: Database) -> None:
    """Each mailbox the day's digest was placed in (`gmail:NAME`, `outlook:NAME`), recorded as soon as it
    landed, with the id the provider gave it: a retry — another mailbox failed, a kill before the day was
    marked delivered, `kith digest --force` — skips a mailbox that has it, even after the user archived or
    moved it. A store from before knows none: the mailboxes' own look for the day's copy covers those."""
    db.execute("""CREATE TABLE digest_deliveries (
                      date TEXT NOT NULL,
                      mailbox TEXT NOT NULL,
                      delivered_at TEXT NOT NULL,
                      provider_id TEXT NOT NULL,
                      PRIMARY KEY (date, mailbox))""")


@migrations()
def m014_receiving_aliases(db: Database) -> None:
    """An old address of the user's that only receives is the user's (`daemon.store._receiving_alias`): the
    user's addresses are found again by the next command, as after m011."""
    db.execute("DELETE FROM own_addresses WHERE origin = 'config'")


@migrations()
def m015_short_forms(db: Database) -> None:
    """The firm's short form of the user's name that only receives (dperlin@) is the user's too, and so is a
    home account of the user's initial and surname written to alone (dgiron1@): the user's addresses are found
    again by the next command, as after m014."""
    db.execute("DELETE FROM own_addresses WHERE origin = 'config'")


@migrations()
def m016_replays(db: Database) -> None:
    """A digest of an earlier day rendered later (`kith digest --as-of`, a replay) is marked: its suggestions
    were never shown on their day and hide no one from the digests to come. Those stored before cannot be
    told apart and count as shown, as they did."""
    db.execute("ALTER TABLE digests ADD COLUMN replay INTEGER NOT NULL DEFAULT 0")


@migrations()
def m017_pending_work(db: Database) -> None:
    """Work that must follow what a sync stored, recorded in the same transaction as the mail: finding the
    user's addresses again (`daemon.store.own_addresses_due`), so that a sync killed before it is done does it
    next time. Due now: an address of the user's first name alone, or that others name as the user in full,
    counts as the user's (`daemon.store._receiving_alias`)."""
    db.execute("CREATE TABLE pending_work (task TEXT PRIMARY KEY, generation INTEGER NOT NULL DEFAULT 1)")
    db.execute("INSERT INTO pending_work (task) VALUES ('own_addresses')")
