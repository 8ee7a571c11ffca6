"""The store: atomic batches with their cursor, idempotent upserts, de-duplication, sweeps."""

from __future__ import annotations

import os
import stat
from dataclasses import replace

import pytest
from sqlite_utils import Database

from connectors.base import STALE
from daemon import store
from daemon.migrations import migrations
from tests.conftest import ME, T0, Address, Batch, event, message

ANNA = Address("anna@firm.example", "Anna")


def table(db, sql):
    return [tuple(r) for r in db.execute(sql).fetchall()]


def test_batch_and_cursor_commit_together(db):
    store.apply_batch(db, "mbox:a", Batch(messages=(message(1, to=(ANNA,)),), cursor="c1"))
    assert store.cursor_of(db, "mbox:a") == "c1"
    assert table(db, "SELECT count(*) FROM messages") == [(1,)]


def test_a_failing_batch_leaves_data_and_cursor_as_before(db):
    store.apply_batch(db, "mbox:a", Batch(messages=(message(1, to=(ANNA,)),), cursor="c1"))
    broken = replace(message(2, to=(ANNA,)), sent_at=None)  # utc_text(None) fails mid-batch
    with pytest.raises(AttributeError):
        store.apply_batch(db, "mbox:a", Batch(messages=(message(3, to=(ANNA,)), broken), cursor="c2"))
    assert store.cursor_of(db, "mbox:a") == "c1"
    assert table(db, "SELECT count(*) FROM messages") == [(1,)]


def test_replaying_a_batch_changes_nothing(db):
    batch = Batch(messages=(message(1, to=(ANNA,), cc=(Address("b@x.example"),)),), cursor="c1")
    store.apply_batch(db, "mbox:a", batch)
    before = [table(db, f"SELECT * FROM {t}") for t in ("messages", "message_copies", "recipients")]
    store.apply_batch(db, "mbox:a", batch)
    assert [table(db, f"SELECT * FROM {t}") for t in ("messages", "message_copies", "recipients")] == before


def test_the_same_message_in_two_folders_is_one_message(db):
    copy_a = message(1, to=(ANNA,), scope="INBOX")
    copy_b = replace(copy_a, source_id="Archive/m1", scope="Archive", message_id="other-id@test")
    store.apply_batch(db, "maildir:a", Batch(messages=(copy_a, copy_b)))
    store.apply_batch(db, "mbox:b", Batch(messages=(copy_a,)))
    assert table(db, "SELECT count(*) FROM messages") == [(1,)]
    assert table(db, "SELECT count(*) FROM message_copies") == [(3,)]


def test_deleting_the_last_copy_removes_the_message_and_its_recipients(db):
    copy_a = message(1, to=(ANNA,), scope="INBOX")
    copy_b = replace(copy_a, source_id="Archive/m1", scope="Archive")
    store.apply_batch(db, "maildir:a", Batch(messages=(copy_a, copy_b)))
    store.apply_batch(db, "maildir:a", Batch(deleted=("INBOX/m1",)))
    assert table(db, "SELECT count(*) FROM messages") == [(1,)]
    store.apply_batch(db, "maildir:a", Batch(deleted=("Archive/m1",)))
    assert table(db, "SELECT count(*) FROM messages") == [(0,)]
    assert table(db, "SELECT count(*) FROM recipients") == [(0,)]


def test_a_complete_scope_sweeps_what_it_no_longer_holds(db):
    inbox = [message(i, to=(ANNA,), scope="INBOX") for i in range(3)]
    sent = message(9, to=(ANNA,), scope="Sent")
    store.apply_batch(db, "maildir:a", Batch(messages=(*inbox, sent), scopes=("INBOX", "Sent")))
    store.apply_batch(db, "maildir:a", Batch(messages=tuple(inbox[:1]), scopes=("INBOX",)))
    assert sorted(r[0] for r in db.execute("SELECT source_id FROM message_copies")) == ["INBOX/m0", "Sent/m9"]


def test_full_resync_sweeps_only_its_own_source(db):
    store.apply_batch(db, "a", Batch(messages=(message(1, to=(ANNA,)), message(2, to=(ANNA,)))))
    store.apply_batch(db, "b", Batch(messages=(message(3, to=(ANNA,)),)))
    store.apply_batch(db, "a", Batch(messages=(message(2, to=(ANNA,)),), full_resync=True))
    assert sorted(r[0] for r in db.execute("SELECT source || ' ' || source_id FROM message_copies")) == [
        "a INBOX/m2", "b INBOX/m3"]


def test_a_pass_that_marks_keeps_every_row_until_its_end_sweeps_what_it_did_not_read_again(db):
    inbox = [message(i, to=(ANNA,), scope="inbox") for i in range(4)]
    sent = message(9, to=(ANNA,), scope="sent")
    store.apply_batch(db, "outlook:a", Batch(messages=(*inbox, sent)))
    store.apply_batch(db, "outlook:b", Batch(messages=(message(7, to=(ANNA,), scope="inbox"),)))
    counts = store.apply_batch(db, "outlook:a", Batch(messages=(inbox[0],), stale_scopes=("inbox",)))
    assert counts.deleted == 0 and table(db, "SELECT count(*) FROM message_copies WHERE source = 'outlook:a'") == [(5,)]
    assert table(db, "SELECT scope, count(*) FROM message_copies GROUP BY source, scope ORDER BY source, scope") == [
        ("inbox", 1), ("sent", 1), (STALE, 3), ("inbox", 1)]          # outlook:b is not touched
    store.apply_batch(db, "outlook:a", Batch(messages=(inbox[2],)))  # a later page
    counts = store.apply_batch(db, "outlook:a", Batch(scopes=(STALE,)))
    assert counts.deleted == 2 and sorted(r[0] for r in db.execute(
        "SELECT source_id FROM message_copies WHERE source = 'outlook:a'")) == ["inbox/m0", "inbox/m2", "sent/m9"]
    assert table(db, "SELECT count(*) FROM messages") == [(4,)]


def test_a_copy_marked_stale_keeps_its_message_until_a_copy_elsewhere_takes_over(db):
    inbox = message(1, to=(ANNA,), scope="inbox")
    archived = replace(inbox, source_id="archive/m1", scope="archive")
    store.apply_batch(db, "outlook:a", Batch(messages=(inbox, message(2, to=(ANNA,), scope="inbox"))))
    store.apply_batch(db, "outlook:b", Batch(messages=(inbox,)))
    key = table(db, "SELECT key FROM messages WHERE message_id = 'm1@test'")
    store.apply_batch(db, "outlook:a", Batch(stale_ids=("inbox/m1",)))      # Graph: @removed from the inbox
    assert table(db, "SELECT source, scope FROM message_copies WHERE source_id = 'inbox/m1' ORDER BY source") == [
        ("outlook:a", STALE), ("outlook:b", "inbox")]
    counts = store.apply_batch(db, "outlook:a", Batch(messages=(archived,)))  # and found in the archive
    assert (counts.messages, counts.new_messages) == (1, 0)
    assert store.apply_batch(db, "outlook:a", Batch(scopes=(STALE,))).deleted == 1
    assert table(db, "SELECT key FROM messages WHERE message_id = 'm1@test'") == key
    assert table(db, "SELECT source_id FROM message_copies WHERE source = 'outlook:a' ORDER BY 1") == [
        ("archive/m1",), ("inbox/m2",)]


def test_marking_the_whole_source_covers_every_scope_and_an_event_kept_by_its_sequence(db):
    newer = event("uid1", start=T0, summary="Moved", sequence=2, scope="primary")
    store.apply_batch(db, "cal:a", Batch(events=(newer, event("uid2", start=T0, scope="old")),
                                         messages=(message(1, scope="x"),)))
    store.apply_batch(db, "cal:a", Batch(events=(replace(newer, sequence=1, summary="Original"),), all_stale=True))
    assert table(db, "SELECT source_id, scope, summary FROM events ORDER BY source_id") == [
        ("uid1", "primary", "Moved"), ("uid2", STALE, "Meeting")]
    assert store.apply_batch(db, "cal:a", Batch(scopes=(STALE,))).deleted == 2
    assert table(db, "SELECT source_id FROM events") == [("uid1",)] and table(db, "SELECT count(*) FROM messages") == [(0,)]


def test_an_older_invitation_never_overwrites_a_newer_one(db):
    start = T0
    newer = event("uid1", start=start, summary="Moved", sequence=2, attendees=[(ANNA, "ACCEPTED")])
    older = event("uid1", start=start, summary="Original", sequence=1, scope="old.ics")
    store.apply_batch(db, "ics:a", Batch(events=(newer,)))
    store.apply_batch(db, "ics:a", Batch(events=(older,)))
    assert table(db, "SELECT summary, sequence FROM events") == [("Moved", 2)]
    assert table(db, "SELECT email, partstat FROM attendees") == [("anna@firm.example", "ACCEPTED")]


def test_subjects_are_not_stored_when_privacy_says_so(db):
    store.apply_batch(db, "a", Batch(messages=(message(1, to=(ANNA,), subject="Secret plans"),)), store_subjects=False)
    assert table(db, "SELECT subject FROM messages") == [("",)]
    assert table(db, "SELECT conversation LIKE 's:%' FROM messages") == [(1,)]


def test_own_addresses_come_from_config_and_sent_folders(db):
    sent = [message(i, sender=Address("alias@home.example"), to=(ANNA,), labels=("SENT",), scope="Sent")
            for i in range(2)]
    stray = message(5, sender=Address("stranger@x.example"), to=(ANNA,), labels=("SENT",), scope="Sent")
    store.apply_batch(db, "a", Batch(messages=(*sent, stray)))
    own = store.refresh_own_addresses(db, [ME.email])
    assert own == {"me@home.example", "alias@home.example"}


def test_one_sent_copy_is_enough_for_an_address_ending_in_the_users_name(db):
    def sent(n, sender):
        return message(n, sender=Address(sender), to=(ANNA,), labels=("SENT",), scope="Sent")
    store.apply_batch(db, "a", Batch(messages=(sent(1, "michele.lokay@enron.example"),
                                               sent(2, "pam.butler@enron.example"), sent(3, "x-lokay@y.example"))))
    own = store.refresh_own_addresses(db, ["michelle.lokay@enron.example"])
    assert own == {"michelle.lokay@enron.example", "michele.lokay@enron.example", "x-lokay@y.example"}
    assert store.refresh_own_addresses(db, ["lokay@enron.example"]) == {"lokay@enron.example"}   # no surname to go by


def test_an_old_address_of_the_users_name_that_only_receives_is_the_users(db):
    """richard.b.sanders@ beside richard.sanders@: 25 mails to it, not one from it, two from the user (copying
    the old address). A colleague of the same surname who writes (paul.sanders@) stays one; so does one the
    user writes to (three of 25)."""
    me, old = Address("richard.sanders@enron.example"), Address("richard.b.sanders@enron.example")
    paul, rick = Address("paul.sanders@enron.example"), Address("richard.a.sanders@enron.example")
    mail = [message(i, sender=ANNA, to=(old,)) for i in range(25)]
    mail += [message(100 + i, sender=ANNA, to=(paul, rick)) for i in range(25)]
    mail += [message(200, sender=paul, to=(me,))] + [message(201 + i, sender=me, to=(rick,)) for i in range(3)]
    mail += [message(210 + i, sender=me, to=(ANNA,), cc=(old,)) for i in range(2)]
    store.apply_batch(db, "a", Batch(messages=tuple(mail)))
    assert store.refresh_own_addresses(db, [me.email]) == {me.email, old.email}
    assert store.refresh_own_addresses(db, ["richard.sanders@gmail.com"]) == {"richard.sanders@gmail.com"}
    store.apply_batch(db, "a", Batch(messages=tuple(message(300 + i, sender=ANNA, to=(Address(
        "richard.b.sanders@gmail.com"),)) for i in range(25))))
    assert store.refresh_own_addresses(db, ["richard.sanders@gmail.com"]) == {"richard.sanders@gmail.com"}


def test_the_firms_short_form_of_the_users_name_that_only_receives_is_the_users(db):
    """dperlin@ of Debra Perlingiere: counterparties write to it one to one, it never writes (review 22). A
    colleague's short form (dperlman@, jsmith@) is none of hers, nor one too short to tell (dperl@)."""
    me = Address("debra.perlingiere@enron.example")
    short, other, tiny = (Address(f"{local}@enron.example") for local in ("dperlin", "dperlman", "dperl"))
    mail = [message(i, sender=ANNA, to=(address,)) for address in (short, other, tiny) for i in range(0, 25)]
    mail = [message(n, sender=m.sender, to=m.to) for n, m in enumerate(mail)]
    store.apply_batch(db, "a", Batch(messages=tuple(mail)))
    assert store.refresh_own_addresses(db, [me.email]) == {me.email, short.email}
    john = Address("jsmith@enron.example", "Smith, John")      # a namesake colleague, named so in To lines
    store.apply_batch(db, "b", Batch(messages=tuple(message(200 + i, sender=ANNA, to=(john,)) for i in range(25))))
    assert store.refresh_own_addresses(db, ["jane.smith@enron.example"]) == {"jane.smith@enron.example"}


def test_a_colleague_of_the_same_name_with_one_mail_in_sent_stays_a_contact(db):
    lisa = Address("lisa.keller@firm.example")
    written = [message(10 + i, sender=Address("sam.keller@firm.example"), to=(lisa,)) for i in range(3)]
    filed = message(1, sender=lisa, to=(ANNA,), labels=("SENT",), scope="Sent")
    store.apply_batch(db, "a", Batch(messages=(*written, filed)))
    assert store.refresh_own_addresses(db, ["sam.keller@firm.example"]) == {"sam.keller@firm.example"}


def test_an_address_the_user_keeps_forwarding_to_alone_and_that_holds_their_surname_is_theirs(db):
    sara = Address("sara.shackleton@firm.example")
    def forwards(first, to, count, prefix="FW: "):
        return [message(first + i, sender=sara, to=(Address(to),), subject=f"{prefix}item {i}") for i in range(count)]
    mail = (forwards(0, "sshackl@home.example", 5) + forwards(10, "assistant@firm.example", 9)    # a colleague
            + forwards(40, "p.shackles@firm.example", 6)                                  # a colleague, like-named
            + forwards(20, "b.shackleton@home.example", 4)                                       # too few
            + forwards(30, "kim.shackleton@firm.example", 5, prefix="Re: "))                     # writes, not forwards
    store.apply_batch(db, "a", Batch(messages=tuple(mail)))
    assert store.refresh_own_addresses(db, [sara.email]) == {sara.email, "sshackl@home.example"}
    assert dict(db.execute("SELECT email, origin FROM own_addresses").fetchall()) == {
        sara.email: "config", "sshackl@home.example": "forwarded-to"}              # what `kith status` names


def test_a_home_account_the_user_also_copies_on_their_replies_is_theirs(db):
    """Enron's vkaminski@aol.com: 477 of 760 mails to it were forwards alone, most of the rest the user's
    replies to people with it in Cc. Someone the user writes to among others stays a person."""
    vince, anna = Address("vince.kaminski@firm.example"), Address("anna@x.example")
    def mail(first, to, forwards, copies, among_others):
        return ([message(first + i, sender=vince, to=(Address(to),), subject=f"FW: item {i}") for i in range(forwards)]
                + [message(first + 20 + i, sender=vince, to=(anna,), cc=(Address(to),), subject=f"Re: q {i}")
                   for i in range(copies)]
                + [message(first + 40 + i, sender=vince, to=(anna, Address(to)), subject=f"Dinner {i}")
                   for i in range(among_others)])
    store.apply_batch(db, "a", Batch(messages=tuple(mail(0, "vkaminski@home.example", 12, 8, 1)
                                                    + mail(100, "m.kaminski@home.example", 12, 0, 8)
                                                    + mail(200, "maria.kaminski@home.example", 12, 10, 0))))
    # a spouse of the same surname, copied on family errands: another first name, a person
    assert store.refresh_own_addresses(db, [vince.email]) == {vince.email, "vkaminski@home.example"}

def test_an_assistant_sending_from_the_users_sent_folder_and_written_to_often_stays_a_person(db):
    sally, patti = Address("sally.beck@firm.example"), Address("patti.thompson@firm.example")
    on_behalf = [message(i, sender=patti, to=(Address("x@firm.example"),), labels=("SENT",), scope="Sent")
                 for i in range(1, 4)]
    to_patti = [message(10 + i, sender=sally, to=(patti,), subject=f"Calendar {i}") for i in range(12)]
    store.apply_batch(db, "a", Batch(messages=(*on_behalf, *to_patti[:9])))
    assert store.refresh_own_addresses(db, [sally.email]) == {sally.email, patti.email}     # 9: not yet
    store.apply_batch(db, "a", Batch(messages=tuple(to_patti[9:])))
    assert store.refresh_own_addresses(db, [sally.email]) == {sally.email}                  # a delegate


def test_the_users_home_alias_written_to_often_is_still_theirs(db):
    work, home = Address("sam.keller@northwind.example"), Address("sam@keller.example")
    from_home = [message(i, sender=home, to=(Address("anna@x.example"),), labels=("SENT",), scope="Sent")
                 for i in range(1, 4)]
    to_home = [message(10 + i, sender=work, to=(home,), subject=f"FW: item {i}") for i in range(12)]
    store.apply_batch(db, "a", Batch(messages=(*from_home, *to_home)))
    assert store.refresh_own_addresses(db, [work.email]) == {work.email, home.email}     # no surname: not a delegate


def test_reply_prefixes_do_not_split_a_conversation():
    original = message(1, subject="Q3 pilot numbers")
    reply = replace(message(2, subject="AW: Re: Q3 pilot numbers"), thread_key=None)
    assert store.conversation_of(original) == store.conversation_of(reply)


def test_database_file_is_private(tmp_path):
    os.umask(0o077)
    db = store.open_store(tmp_path / "sub" / "k.db")
    store.apply_batch(db, "a", Batch(messages=(message(1, to=(ANNA,)),)))
    for name in ("k.db", "k.db-wal"):
        mode = stat.S_IMODE((tmp_path / "sub" / name).stat().st_mode)
        assert mode & 0o077 == 0, name


def test_a_database_made_readable_by_others_is_made_private_again(tmp_path):
    """A store copied in with a loose mode (or made before Kith set its umask) would pass that mode to
    SQLite's -wal and -shm files: opening it tightens the database and both."""
    path = tmp_path / "k.db"
    store.apply_batch(store.open_store(path), "a", Batch(messages=(message(1, to=(ANNA,)),)))
    for name in ("k.db", "k.db-wal"):
        (tmp_path / name).chmod(0o644)
    db = store.open_store(path)
    store.apply_batch(db, "a", Batch(messages=(message(2, to=(ANNA,)),)))
    for name in ("k.db", "k.db-wal", "k.db-shm"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name


def test_opening_a_file_that_is_not_a_database_is_one_clear_error(tmp_path):
    bad = tmp_path / "k.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(store.StoreError) as info:
        store.open_store(bad)
    assert str(bad) in str(info.value) and "storage" in str(info.value)


def test_event_fields_are_stored(db):
    online = replace(event("uid9", start=T0, attendees=[(ANNA, "TENTATIVE")]), online=True, all_day=False)
    store.apply_batch(db, "ics:a", Batch(events=(online,)))
    assert table(db, "SELECT online, cancelled, start FROM events") == [(1, 0, "2026-01-05T09:00:00+00:00")]


def test_deletions_are_counted_once_per_copy(db):
    store.apply_batch(db, "a", Batch(messages=(message(1, to=(ANNA, Address("b@x.example"))),)))
    counts = store.apply_batch(db, "a", Batch(deleted=("INBOX/m1", "INBOX/never-there")))
    assert counts.deleted == 1


def test_an_event_deleted_and_written_again_in_one_batch_is_read_again_not_removed_and_new(db):
    """A connector lists an event in `deleted` and writes it again to get past the SEQUENCE guard: the
    source held it before and holds it after."""
    held, cancelled, gone = (event(uid, start=T0, sequence=3) for uid in ("a", "b", "c"))
    store.apply_batch(db, "ics:a", Batch(events=(held, cancelled, gone)))
    counts = store.apply_batch(db, "ics:a", Batch(
        events=(replace(held, sequence=0), replace(cancelled, sequence=0, cancelled=True)),
        deleted=("a", "b", "c", "never-there")))
    assert (counts.events, counts.new_events, counts.new_cancelled, counts.cancelled_since, counts.deleted) == \
        (2, 0, 0, 1, 1)
    assert table(db, "SELECT source_id, sequence, cancelled FROM events ORDER BY 1") == [("a", 0, 0), ("b", 0, 1)]


def test_a_second_copy_adds_no_recipients_and_merges_the_bulk_flag(db):
    plain = message(1, to=(ANNA,), cc=(Address("b@x.example"),), scope="INBOX")
    listed = replace(plain, source_id="Lists/m1", scope="Lists", bulk=True, list_id="team.example")
    store.apply_batch(db, "a", Batch(messages=(plain,)))
    store.apply_batch(db, "b", Batch(messages=(listed,)))
    assert table(db, "SELECT key, bulk, list_id FROM messages") == [(1, 1, "team.example")]
    assert table(db, "SELECT key, role, email FROM recipients ORDER BY role") == [
        (1, "cc", "b@x.example"), (1, "to", "anna@firm.example")]
    assert table(db, "SELECT source, key FROM message_copies ORDER BY source") == [("a", 1), ("b", 1)]


def test_copies_in_one_batch_merge_the_bulk_flag_too(db):
    plain = message(1, to=(ANNA,), scope="INBOX")
    listed = replace(plain, source_id="Lists/m1", scope="Lists", bulk=True, list_id="team.example")
    store.apply_batch(db, "a", Batch(messages=(plain, listed)))
    assert table(db, "SELECT key, bulk, list_id, n_recipients FROM messages") == [(1, 1, "team.example", 1)]
    assert table(db, "SELECT count(*) FROM message_copies") == [(2,)]


def test_keys_follow_arrival_and_are_not_reused_by_a_replay(db):
    batch = Batch(messages=(message(1, to=(ANNA,)), message(2, to=(ANNA,)), message(1, to=(ANNA,))))
    store.apply_batch(db, "a", batch)
    store.apply_batch(db, "a", batch)
    store.apply_batch(db, "a", Batch(messages=(message(3, to=(ANNA,)),)))
    assert table(db, "SELECT key, message_id FROM messages ORDER BY key") == [
        (1, "m1@test"), (2, "m2@test"), (3, "m3@test")]


def test_a_store_from_before_sequential_keys_is_migrated_intact(tmp_path):
    """Stores written with content-hash keys (migration m005 and earlier) keep every row and link."""
    path = tmp_path / "old.db"
    old = Database(str(path))
    migrations.apply(old, stop_before="m006_sequential_message_keys")
    old.executescript(store.TRIGGERS)
    first, second = message(1, to=(ANNA,), cc=(Address("b@x.example"),)), message(2, sender=ANNA, to=(ME,))
    for m in (first, second):
        sent_at = store.utc_text(m.sent_at)
        key = store.content_key(m, sent_at)
        old.execute("INSERT INTO messages (key, message_id, conversation, sent_at, sender) VALUES (?, ?, ?, ?, ?)",
                    [key, m.message_id, store.conversation_of(m), sent_at, m.sender.email])
        for role, people in (("to", m.to), ("cc", m.cc)):
            for a in people:
                old.execute("INSERT INTO recipients (key, role, email) VALUES (?, ?, ?)", [key, role, a.email])
        old.execute("INSERT INTO message_copies (source, source_id, key, scope) VALUES ('a', ?, ?, 'INBOX')",
                    [m.source_id, key])
    old.conn.commit()
    old.close()

    db = store.open_store(path)
    assert table(db, """SELECT m.key, m.message_id, group_concat(r.role || ':' || r.email, ' ')
                        FROM messages m JOIN recipients r ON r.key = m.key GROUP BY m.key ORDER BY m.key""") == [
        (1, "m1@test", "cc:b@x.example to:anna@firm.example"), (2, "m2@test", "to:me@home.example")]
    assert table(db, "SELECT source_id, key FROM message_copies ORDER BY key") == [("INBOX/m1", 1), ("INBOX/m2", 2)]
    assert table(db, "SELECT key, n_recipients FROM messages ORDER BY key") == [(1, 2), (2, 1)]  # recounted (m007)
    assert table(db, "SELECT count(*) FROM interactions") != [(0,)]
    # the migrated rows are found by their content hash, and the triggers still clean up
    store.apply_batch(db, "b", Batch(messages=(first,)))
    assert table(db, "SELECT count(*) FROM messages") == [(2,)]
    store.apply_batch(db, "a", Batch(deleted=("INBOX/m2",)))
    assert table(db, "SELECT count(*) FROM recipients WHERE key = 2") == [(0,)]


def test_a_store_from_before_hidden_guest_lists_lists_its_cloud_calendars_again(tmp_path):
    """m012: cloud calendars lose their cursor, so that the next sync learns which meetings hid their guests."""
    path = tmp_path / "old.db"
    old = Database(str(path))
    migrations.apply(old, stop_before="m012_hidden_guest_lists")
    old.execute("INSERT INTO sync_state (source, cursor) VALUES ('google_calendar:cal', 'x'), "
                "('outlook_calendar:work', 'y'), ('gmail:me', 'z'), ('ics:calendar', 'w')")
    old.conn.commit()
    old.close()
    db = store.open_store(path)
    assert table(db, "SELECT source, cursor FROM sync_state ORDER BY source") == [
        ("gmail:me", "z"), ("google_calendar:cal", ""), ("ics:calendar", "w"), ("outlook_calendar:work", "")]
    store.apply_batch(db, "ics:calendar", Batch(events=(event("e", start=T0),)))
    assert table(db, "SELECT guests_hidden FROM events") == [(0,)]


def test_an_address_listed_twice_in_one_header_is_one_recipient(db):
    bob = Address("bob@x.example")
    store.apply_batch(db, "a", Batch(messages=(message(1, to=(ANNA, ANNA, bob), cc=(ANNA,)),)))
    assert table(db, "SELECT count(*) FROM recipients") == [(3,)]      # to:anna, to:bob, cc:anna
    assert table(db, "SELECT n_recipients FROM messages") == [(3,)]


def test_commands_started_at_once_on_a_new_database_all_open_it(tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    for round_ in range(8):
        path = tmp_path / f"new{round_}.db"
        with ThreadPoolExecutor(4) as pool:
            counts = list(pool.map(lambda _: store.open_store(path).execute("SELECT count(*) FROM messages").fetchone(),
                                   range(4)))
        assert counts == [(0,)] * 4


def test_names_and_titles_are_stored_printable(db):
    """A sender's ESC sequence must not reach the user's terminal; a lone surrogate (a broken UTF-7 encoded
    word) could not be stored at all."""
    eve = Address("eve@x.example", "Eve\x1b]0;owned\x07")
    mail = message(1, sender=eve, to=(Address("kim@x.example", "Kim\x9b2J"),), subject="Gewinn \ud83d now")
    meeting = event("u1", start=T0, attendees=((Address("kim@x.example", "Kim\n"), "ACCEPTED"),),
                    summary="Plan\x1b[2J", organizer=eve)
    store.apply_batch(db, "mbox:a", Batch(messages=(mail,), events=(meeting,), cursor="c1"))
    assert table(db, "SELECT sender_name, subject FROM messages") == [("Eve ]0;owned ", "Gewinn \ufffd now")]
    assert table(db, "SELECT name FROM recipients") == [("Kim 2J",)]
    assert table(db, "SELECT organizer_name, summary FROM events") == [("Eve ]0;owned ", "Plan [2J")]
    assert table(db, "SELECT name FROM attendees") == [("Kim ",)]


def test_a_store_from_before_names_were_made_printable_is_cleaned_on_opening(tmp_path):
    db = store.open_store(tmp_path / "k.db")
    db.execute("INSERT INTO messages (key, hash, message_id, conversation, sent_at, sender, sender_name, subject, "
               "in_reply_to, bulk, list_id, n_recipients) VALUES (1, 1, 'm', 'c', '2024-01-01T00:00:00Z', 'a@x', "
               "?, ?, '', 0, '', 0)", ["Eve\x1b]0;x\x07", "Plain subject"])
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm008_printable_names'")    # as an older Kith left it
    db.conn.close()
    reopened = store.open_store(tmp_path / "k.db")
    assert table(reopened, "SELECT sender_name, subject FROM messages") == [("Eve ]0;x ", "Plain subject")]


def test_a_database_path_that_is_a_folder_says_so(tmp_path):
    from daemon.errors import StoreError
    with pytest.raises(StoreError, match="is a folder, not a database file"):
        store.open_store(tmp_path)


def test_judgments_stored_under_another_form_of_an_address_are_moved_to_the_person_on_opening(tmp_path):
    """Feedback and suggestions written when 'anna'@x and a B4 relay address were contacts of their own name
    the person's address (`daemon.contacts.person_address`) after m009; other addresses, and the synced mail,
    stay as they are."""
    db = store.open_store(tmp_path / "k.db")
    for address in ("'david.delainey'@enron.com", "devnull+manojkiran.eda.gmail.com@kernel.org",
                    "o'brien@x.example", "delainey'.'david@enron.com"):
        db.execute("INSERT INTO feedback (address, verdict, at) VALUES (?, 'good', '2024-01-01T00:00:00Z')", [address])
    db.execute("INSERT INTO suggestions (date, position, kind, address) VALUES ('2024-01-01', 0, 'reconnect', ?)",
               ["'david.delainey'@enron.com"])
    db.execute("INSERT INTO messages (key, hash, conversation, sent_at, sender) VALUES (1, 1, 'c', "
               "'2024-01-01T00:00:00Z', ?)", ["'david.delainey'@enron.com"])
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm009_person_addresses_in_judgments'")
    db.conn.commit()
    db.conn.close()
    reopened = store.open_store(tmp_path / "k.db")
    assert table(reopened, "SELECT address FROM feedback ORDER BY id") == [
        ("david.delainey@enron.com",), ("manojkiran.eda@gmail.com",), ("o'brien@x.example",),
        ("delainey'.'david@enron.com",)]
    assert table(reopened, "SELECT address FROM suggestions") == [("david.delainey@enron.com",)]
    assert table(reopened, "SELECT sender FROM messages") == [("'david.delainey'@enron.com",)]


def test_a_home_account_of_the_users_initial_and_surname_written_to_alone_is_the_users(db):
    """Darron Giron sends his home account dgiron1@pdq.example things alone, no "FW:" (review 23); it wrote him
    nothing but forwards. A relative of his initial and surname who writes back stays a contact, and so does
    an account he wrote to only twice."""
    me = Address("darron.giron@enron.example")
    home, dana, rare = (Address(a) for a in ("dgiron1@pdq.example", "dgiron@family.example", "dgiron7@isp.example"))
    mail = [message(i, sender=me, to=(home,), subject=f"NSS Narrative {i}") for i in range(6)]
    mail += [message(10, sender=home, to=(me,), subject="Fw: boat club dues")]
    mail += [message(20 + i, sender=me, to=(dana,), subject=f"Dinner {i}") for i in range(6)]
    mail += [message(30, sender=dana, to=(me,), subject="Re: Dinner 1")]
    mail += [message(40 + i, sender=me, to=(rare,), subject=f"Photos {i}") for i in range(2)]
    store.apply_batch(db, "a", Batch(messages=tuple(mail)))
    assert store.refresh_own_addresses(db, [me.email]) == {me.email, home.email}
    brother = Address("dgiron@aol.example")       # jokes to friends, and mail to him alone: a relative
    jokes = [message(50 + i, sender=me, to=(brother,), subject=f"Game {i}") for i in range(6)]
    jokes += [message(60, sender=brother, to=(me, Address("friend@aol.example")), subject="FW: joke")]
    abroad = Address("dgiron@enron.co.uk")        # another of the firm's domains: a colleague
    jokes += [message(70 + i, sender=me, to=(abroad,), subject=f"Desk {i}") for i in range(6)]
    store.apply_batch(db, "b", Batch(messages=tuple(jokes)))
    assert store.refresh_own_addresses(db, [me.email]) == {me.email, home.email}


def test_the_users_first_name_alone_or_their_name_on_an_address_that_only_receives_is_theirs(db):
    """Louise Kitchen's louise@ (a vanity address: 38 mails to it, one from it, to itself) and lkitchen@ (two
    mails, to "Louise Kitchen <lkitchen@>") were listed as contacts (review 26). A colleague Louise with another
    surname, named so, or one who writes to others, stays a person; so does a namesake at another firm."""
    me = Address("louise.kitchen@enron.example")
    vanity, short = Address("louise@enron.example"), Address("lkitchen@enron.example", "Louise Kitchen")
    other = Address("louise@partner.example")
    mail = [message(i, sender=ANNA, to=(vanity,)) for i in range(25)]
    mail += [message(30, sender=vanity, to=(vanity,), subject="Article")]
    mail += [message(40 + i, sender=ANNA, to=(short,)) for i in range(2)]
    mail += [message(50 + i, sender=ANNA, to=(other,)) for i in range(25)]
    mail += [message(80 + i, sender=ANNA, to=(Address("kitchen@enron.example", "Louise Kitchen"),)) for i in range(2)]
    store.apply_batch(db, "a", Batch(messages=tuple(mail)))
    assert store.refresh_own_addresses(db, [me.email]) == {me.email, vanity.email, short.email,
                                                           "kitchen@enron.example"}
    colleague = Address("maria@enron.example", "Maria Lopez")
    mail = [message(100 + i, sender=ANNA, to=(colleague,)) for i in range(25)]
    store.apply_batch(db, "b", Batch(messages=tuple(mail)))
    assert "maria@enron.example" not in store.refresh_own_addresses(db, ["maria.keller@enron.example"])
    writes = [message(200, sender=vanity, to=(ANNA,), subject="Lunch?")]
    store.apply_batch(db, "c", Batch(messages=tuple(writes)))
    assert vanity.email not in store.refresh_own_addresses(db, [me.email])


def test_a_database_that_cannot_be_written_names_itself_and_the_right_fix(tmp_path):
    """Kill hunt: a read-only database got "free disk space or stop the other program", naming no file."""
    db = store.open_store(tmp_path / "kith.db")
    db.execute("PRAGMA query_only = ON")          # as a file made read-only under a running Kith
    with pytest.raises(store.StoreError) as info:
        store.apply_batch(db, "mbox:big", Batch(messages=(message(1, to=(ANNA,)),)))
    assert info.value.line() == (f"{tmp_path / 'kith.db'}: mbox:big: cannot store what it read (attempt to write a "
                                 "readonly database) — make the database file and its folder writable by you")


def test_a_colleague_writing_to_the_user_or_an_alias_named_with_an_initial_is_judged_right(db):
    """Review 27: jsmith@ (John, the firm's short form of Jane Smith's name too) writes to Jane one to one: a
    colleague, not her address. richard.b.sanders@ named "Richard S." is still Richard Sanders' old address."""
    jane, john = Address("jane.smith@enron.example"), Address("jsmith@enron.example")
    mail = [message(i, sender=ANNA, to=(Address("team@enron.example"),), cc=(john,)) for i in range(25)]
    mail += [message(100 + i, sender=john, to=(jane,)) for i in range(4)]
    store.apply_batch(db, "a", Batch(messages=tuple(mail)))
    assert store.refresh_own_addresses(db, [jane.email]) == {jane.email}
    me, old = Address("richard.sanders@enron.example"), Address("richard.b.sanders@enron.example", "Richard S.")
    home = Address("richard@enron.example", "Richard (Home)")
    store.apply_batch(db, "b", Batch(messages=tuple(message(200 + i, sender=ANNA, to=(old,)) for i in range(25))
                                     + tuple(message(300 + i, sender=ANNA, to=(home,)) for i in range(25))))
    assert store.refresh_own_addresses(db, [me.email]) == {me.email, old.email, home.email}


def test_mail_stored_while_the_users_addresses_are_found_keeps_the_finding_due(db, monkeypatch):
    """Review 27: a read command's finding read the mail, a sync's batch committed, and the finding cleared the
    mark that batch set: its alias stayed a contact. The mark counts up; a finding clears only what it read."""
    sent = [message(i, sender=Address("alias@home.example"), to=(ANNA,), labels=("SENT",), scope="Sent")
            for i in range(2)]
    store.apply_batch(db, "a", Batch(messages=(message(9, sender=ANNA, to=(ME,)),)))
    real = store._receiving_alias

    def meanwhile(*args):
        store.apply_batch(db, "a", Batch(messages=tuple(sent)))         # a sync's batch, mid-finding
        return real(*args)
    monkeypatch.setattr(store, "_receiving_alias", meanwhile)
    assert "alias@home.example" not in store.refresh_own_addresses(db, [ME.email])   # read before the batch
    monkeypatch.setattr(store, "_receiving_alias", real)
    assert store.own_addresses_due(db)
    store.keep_own_addresses_current(db, [ME.email], syncing=True)                  # a sync runs: left to it
    assert store.own_addresses_due(db)
    store.keep_own_addresses_current(db, [ME.email])
    assert not store.own_addresses_due(db)
    assert {a for (a,) in db.execute("SELECT email FROM own_addresses")} == {ME.email, "alias@home.example"}


def test_an_account_signed_with_the_users_own_name_that_writes_to_them_alone_is_theirs(db):
    """Review 28: "Chris Dorland" <cdorland@hotmail.com> wrote to chris.dorland@ alone from home, and was
    suggested as a person; so was the household's "Hunter & Jessica Shively". A namesake who writes to others,
    or a relative of another first name, stays a person."""
    me = Address("chris.dorland@enron.example", "Chris Dorland")
    home = Address("cdorland@hotmail.example", "Chris Dorland")
    couple = Address("hunter-jessica@rr.example", "Hunter & Jessica Shively")
    namesake = Address("chris.dorland@gmail.example", "Chris Dorland")
    brother = Address("dan.dorland@gmail.example", "Dan Dorland")
    mail = [message(1, sender=me, to=(ANNA,))]
    mail += [message(10 + i, sender=home, to=(me,), subject=f"Vancouver {i}") for i in range(3)]
    mail += [message(20, sender=namesake, to=(me, ANNA), subject="Hello")]
    mail += [message(30 + i, sender=brother, to=(me,), subject=f"News {i}") for i in range(3)]
    store.apply_batch(db, "a", Batch(messages=tuple(mail)))
    assert store.refresh_own_addresses(db, [me.email]) == {me.email, home.email}
    hunter = Address("hunter.shively@enron.example", "Hunter Shively")
    store.apply_batch(db, "b", Batch(messages=tuple(message(40 + i, sender=couple, to=(hunter,)) for i in range(2))))
    assert couple.email in store.refresh_own_addresses(db, [hunter.email])


def test_with_no_address_configured_an_assistant_sending_from_the_mailbox_stays_a_person(db):
    """Review 28: without [user] addresses, Sager's assistant, in her Sent folder and written to 143 times,
    was taken for Sager; the Sent folders' most frequent sender stands for the user."""
    sally, patti = Address("sally.beck@firm.example"), Address("patti.thompson@firm.example")
    on_behalf = [message(i, sender=patti, to=(Address("x@firm.example"),), labels=("SENT",), scope="Sent")
                 for i in range(1, 4)]
    hers = [message(10 + i, sender=sally, to=(patti,), subject=f"Calendar {i}", labels=("SENT",), scope="Sent")
            for i in range(12)]
    store.apply_batch(db, "a", Batch(messages=(*on_behalf, *hers)))
    assert store.refresh_own_addresses(db, []) == {sally.email}
