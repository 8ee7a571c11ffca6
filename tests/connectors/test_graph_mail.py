"""Outlook mail connector against the local fake Graph (real MSAL, real requests, TLS on 127.0.0.1)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import STALE
from connectors.graph_mail import SELECT, OutlookMailSource
from daemon.errors import AuthError, SourceError
from daemon.store import apply_batch, open_store
from daemon.sync import sync_source
from tests.contract import BODY_MARKER, SourceContract, apply_to_memory, pull, records_of
from tests.fakes.fake_graph import FakeGraph, fixture, graph_config, message, sign_in

SECRET = {"body": {"contentType": "html", "content": f"<p>{BODY_MARKER}</p>"}, "bodyPreview": BODY_MARKER}


@pytest.fixture
def fake(tmp_path):
    with FakeGraph(tmp_path / "server") as server:
        yield server


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def source_for(fake: FakeGraph, tmp_path: Path, *, sleep=None, progress=None, **keys) -> OutlookMailSource:
    config = graph_config(fake, tmp_path, **keys)
    if not (tmp_path / "msal-work.bin").exists():
        sign_in(fake, config)
    return OutlookMailSource(config.sources[0], config, http_client=fake.session(),
                             sleep=sleep if sleep is not None else Sleeps(),
                             progress=progress)


def ids(state) -> set[str]:
    return set(state)


# ---------------------------------------------------------------- the shared contract

class TestOutlookMailContract(SourceContract):
    """The core's connector contract, with the mailbox written to tmp_path and served by the fake."""

    @pytest.fixture(autouse=True)
    def _servers(self):
        self.fakes: list[FakeGraph] = []
        yield
        for server in self.fakes:
            server.__exit__(None, None, None)

    def make_source(self, tmp_path: Path) -> OutlookMailSource:
        tmp_path.mkdir(parents=True, exist_ok=True)
        mailbox = {"folders": {"inbox": [message(i, **SECRET) for i in range(7)] + [
            fixture("message_focused_reply_with_cc"), fixture("message_draft"), fixture("message_kith_digest_in_inbox")],
            "sentitems": [message(50 + i, sender="me@example.com", to=("anna@example.com",), **SECRET)
                          for i in range(3)]}}
        (tmp_path / "mailbox.json").write_text(json.dumps(mailbox), encoding="utf-8")
        self.fake = FakeGraph(tmp_path / "server").__enter__()
        self.fakes.append(self.fake)
        self.fake.max_page = 3                      # several pages per folder
        self.fake.load(tmp_path / "mailbox.json")
        return source_for(self.fake, tmp_path)

    def add_item(self, tmp_path: Path) -> str:
        self.fake.put_message("inbox", message(900, **SECRET))
        return "inbox/AAMkMSG0000900="

    def remove_item(self, tmp_path: Path) -> str:
        self.fake.delete_message("sentitems", "AAMkMSG0000051=")
        return "sentitems/AAMkMSG0000051="

    def expected_ids(self) -> set[str]:
        return ({f"inbox/AAMkMSG{i:07d}=" for i in range(7)} | {"inbox/AAMkAGI2TG93AAA="}
                | {f"sentitems/AAMkMSG{50 + i:07d}=" for i in range(3)})

    def test_missing_path_is_a_source_error(self, tmp_path: Path) -> None:
        """Graph sources have no path: the equivalent is a source nobody signed in to."""
        with FakeGraph(tmp_path / "server") as server:
            config = graph_config(server, tmp_path)
            source = OutlookMailSource(config.sources[0], config, http_client=server.session())
            with pytest.raises(AuthError, match="kith auth microsoft --source work"):
                source.check()
            with pytest.raises(SourceError):
                list(source.pull(None))
            assert server.paths() == []


# ---------------------------------------------------------------- mapping Graph JSON

def test_metadata_is_mapped_and_bodies_never_leave(fake, tmp_path):
    fake.put_message("inbox", fixture("message_focused_reply_with_cc"))
    fake.put_message("inbox", fixture("message_other_newsletter_with_categories"))
    fake.put_message("sentitems", fixture("message_sent_by_me"))
    state, _, _ = pull(source_for(fake, tmp_path), None)
    reply = state["inbox/AAMkAGI2TG93AAA="]
    assert (reply.message_id, reply.thread_key, reply.scope) == ("CAF1x8pN2@mail.example.com", "AAQkAGI2THREAD1=", "inbox")
    assert reply.sender.email == "anna@example.com" and reply.sender.name == "Anna Berger"
    assert [a.email for a in reply.cc] == ["bo@partner.example"]     # the empty address is dropped
    assert reply.sent_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert (reply.labels, reply.bulk) == (("FOCUSED",), False)
    news = state["inbox/AAMkAGI2NEWS01="]
    assert news.labels == ("OTHER", "CATEGORY:Newsletters", "CATEGORY:Red_category") and news.bulk
    assert news.sender.email == "news@lists.example.org"               # `from`, not the sending service
    assert state["sentitems/AAMkAGI2SENT01="].labels == ("SENT", "FOCUSED")
    assert "SECRET" not in repr(state)


def test_drafts_and_kiths_own_digest_are_skipped(fake, tmp_path):
    for name in ("message_draft", "message_kith_digest_in_inbox", "message_focused_reply_with_cc"):
        fake.put_message("inbox", fixture(name))
    state, _, _ = pull(source_for(fake, tmp_path), None)
    assert ids(state) == {"inbox/AAMkAGI2TG93AAA="}


def test_a_sent_time_after_the_server_received_the_mail_yields_to_the_arrival():
    """A sender's clock set to 2037 would hide the mail from every judgment until then."""
    from connectors.graph_mail import message_meta
    ahead = message(1, sentDateTime="2037-03-03T10:00:00Z", receivedDateTime="2026-03-02T09:00:00Z")
    early = message(2, sentDateTime="2026-02-27T10:00:00Z", receivedDateTime="2026-03-02T09:00:00Z")
    assert message_meta(ahead, "inbox").sent_at == datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert message_meta(early, "inbox").sent_at == datetime(2026, 2, 27, 10, tzinfo=UTC)


def test_requests_select_metadata_only_with_immutable_ids(fake, tmp_path):
    fake.put_message("inbox", message(1))
    pull(source_for(fake, tmp_path), None)
    graph = [r for r in fake.requests if r.path.startswith("/v1.0/")]
    delta = [r for r in graph if "/messages/delta" in r.path]
    assert delta[0].path.split("$select=")[1] == SELECT
    assert not set(SELECT.split(",")) & {"body", "bodyPreview", "uniqueBody", "internetMessageHeaders"}
    assert all('IdType="ImmutableId"' in r.headers["prefer"] for r in graph)
    assert all("odata.maxpagesize=" in r.headers["prefer"] for r in delta)
    token_request = next(r for r in fake.requests if r.path.endswith("/oauth2/v2.0/token"))
    assert "Mail.ReadBasic" in token_request.body and "Mail.ReadWrite" not in token_request.body


X500 = "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=bdc77b18-kristina"


def test_an_exchange_directory_name_is_not_an_address_and_from_falls_back_to_sender(fake, tmp_path):
    """Graph gives departed colleagues and hybrid mailboxes as X500 names: they would become contacts of their own."""
    person = lambda name, address: {"emailAddress": {"name": name, "address": address}}  # noqa: E731
    first, second = message(1), message(2)
    first.update({"from": person("Kristina M", X500), "sender": person("Kristina M", "Kristina@Example.com"),
                  "toRecipients": [person("Me", "me@example.com"), person("Bo", X500.upper())],
                  "ccRecipients": [person("Cy", "IMCEAEX-_o=ExchangeLabs_cn=Recipients_cn=cy@eurprd01.prod.outlook.com"),
                                   person("Di", "di@example.com")]})
    second.update({"from": person("Old", X500), "sender": person("Old", X500)})
    fake.put_message("inbox", first)
    fake.put_message("inbox", second)
    state, _, batches = pull(source_for(fake, tmp_path, folders=["inbox"]), None)
    mail = state["inbox/AAMkMSG0000001="]
    assert (mail.sender.email, mail.sender.name) == ("kristina@example.com", "Kristina M")
    assert [a.email for a in mail.to] == ["me@example.com"] and [a.email for a in mail.cc] == ["di@example.com"]
    assert "inbox/AAMkMSG0000002=" not in state
    assert [n for b in batches for n in b.notes] == ["outlook:work: message kMSG0000002= skipped: has no sender"]


# ---------------------------------------------------------------- paging, cursors, changes

def test_each_page_is_a_batch_and_a_restart_resumes_the_pass(fake, tmp_path):
    fake.max_page = 4
    for i in range(10):
        fake.put_message("inbox", message(i))
    source = source_for(fake, tmp_path, folders=["inbox"])
    batches = []
    for batch in source.pull(None):
        batches.append(batch)
        break                                        # the daemon is killed after the first page
    assert len(batches[0].messages) == 4 and batches[0].full_resync
    assert "$skiptoken=" in json.loads(batches[0].cursor)["folders"]["inbox"]
    before = len(fake.paths())
    state, cursor, rest = pull(source, batches[0].cursor, apply_to_memory({}, batches[0]))
    assert [len(b.messages) for b in rest] == [4, 2, 0]
    assert not any(b.full_resync or b.all_stale or b.stale_scopes for b in rest)
    assert [b.scopes for b in rest] == [(), (), (STALE,)]              # the pull's end sweeps what a pass marked
    assert all("$select" not in p for p in fake.paths()[before:])     # resumed, not restarted
    assert len(state) == 10 and "$deltatoken=" in json.loads(cursor)["folders"]["inbox"]


def test_removed_entries_become_deletes_and_moves_work_in_any_folder_order(fake, tmp_path):
    for i in range(3):
        fake.put_message("inbox", message(i))
    for order in (["inbox", "archive"], ["archive", "inbox"]):
        source = source_for(fake, tmp_path, folders=order)
        state, cursor, _ = pull(source, None)
        fake.move_message("AAMkMSG0000001=", "inbox", "archive")
        state, cursor, batches = pull(source, cursor, state)
        assert "inbox/AAMkMSG0000001=" in {d for b in batches for d in b.stale_ids}
        assert ids(state) == {"inbox/AAMkMSG0000000=", "inbox/AAMkMSG0000002=", "archive/AAMkMSG0000001="}
        fake.move_message("AAMkMSG0000001=", "archive", "inbox")


def test_a_folder_dropped_from_the_config_is_swept(fake, tmp_path):
    fake.put_message("inbox", message(1))
    fake.put_message("sentitems", message(2))
    state, cursor, _ = pull(source_for(fake, tmp_path, folders=["inbox", "sentitems"]), None)
    state, cursor, batches = pull(source_for(fake, tmp_path, folders=["inbox"]), cursor, state)
    assert batches[0].scopes == ("sentitems",) and ids(state) == {"inbox/AAMkMSG0000001="}
    assert list(json.loads(cursor)["folders"]) == ["inbox"]


@pytest.mark.parametrize("how", ["syncStateNotFound", "SyncStateNotFound", "resyncRequired", "gone"])
def test_an_expired_delta_token_resyncs_that_folder_alone(fake, tmp_path, how):
    for i in range(6):
        fake.put_message("inbox", message(i))
    fake.put_message("sentitems", message(99))
    source = source_for(fake, tmp_path)
    state, cursor, _ = pull(source, None)
    fake.max_page = 2
    fake.folder("inbox").messages.pop("AAMkMSG0000004=")          # vanishes without a delta entry
    fake.expire_delta_tokens(how, folder="inbox")
    state, cursor, batches = pull(source, cursor, state)
    assert batches[0].stale_scopes == ("inbox",) and not (batches[0].full_resync or batches[0].all_stale)
    assert ids(state) == {f"inbox/AAMkMSG{i:07d}=" for i in (0, 1, 2, 3, 5)} | {"sentitems/AAMkMSG0000099="}
    assert sum(1 for p in fake.paths() if "sentitems/messages/delta?$select" in p) == 1   # sentitems not restarted
    again, _, batches = pull(source, cursor, state)
    assert again == state and not [r for b in batches for r in records_of(b)]


def test_an_expired_next_link_restarts_the_folder(fake, tmp_path):
    """Graph answers a stale $skiptoken link with 400 SyncStateNotFound, spelt as real Graph spells it."""
    fake.max_page = 4
    for i in range(10):
        fake.put_message("inbox", message(i))
    source = source_for(fake, tmp_path, folders=["inbox"])
    first = next(iter(source.pull(None)))                              # the daemon is killed after one page
    fake.fail("GET", r"skiptoken=", 400, body={"error": {"code": "SyncStateNotFound",
                                                         "message": "The sync state generation is not found."}})
    state, cursor, batches = pull(source, first.cursor, apply_to_memory({}, first))
    assert batches[0].stale_scopes == ("inbox",) and len(state) == 10
    assert "$deltatoken=" in json.loads(cursor)["folders"]["inbox"]


def test_a_graph_that_keeps_forgetting_the_sync_state_restarts_a_folder_once_then_stops(fake, tmp_path):
    fake.max_page = 4
    for i in range(10):
        fake.put_message("inbox", message(i))
    source = source_for(fake, tmp_path, folders=["inbox"])
    first = next(iter(source.pull(None)))
    fake.fail("GET", r"skiptoken=", 400, times=100, body={"error": {"code": "SyncStateNotFound", "message": "gone"}})
    with pytest.raises(SourceError, match="Graph lost its place in folder .* twice in one sync"):
        pull(source, first.cursor, apply_to_memory({}, first))
    assert len([p for p in fake.paths() if "skiptoken=" in p]) == 2, "the stale link, then the new pass's: no loop"


def test_a_stale_next_link_during_a_first_sync_restarts_the_folder_once(fake, tmp_path):
    """A big first sync is when a $skiptoken goes stale: the folder starts over once, and all of it arrives."""
    fake.max_page = 4
    for i in range(10):
        fake.put_message("inbox", message(i))
    source = source_for(fake, tmp_path, folders=["inbox"])
    fake.fail("GET", r"skiptoken=", 400, body={"error": {"code": "SyncStateNotFound", "message": "gone"}})
    state, cursor, _ = pull(source, None, {})
    assert len(state) == 10 and "$deltatoken=" in json.loads(cursor)["folders"]["inbox"]


def test_the_store_ends_equal_to_the_mailbox_after_a_resync(fake, tmp_path):
    for i in range(5):
        fake.put_message("inbox", message(i))
    source = source_for(fake, tmp_path, folders=["inbox"])
    db = open_store(tmp_path / "kith.db")
    for batch in source.pull(None):
        apply_batch(db, source.key, batch)
    fake.max_page = 2
    fake.folder("inbox").messages.pop("AAMkMSG0000000=")
    fake.expire_delta_tokens()
    from daemon.store import cursor_of
    for batch in source.pull(cursor_of(db, source.key)):
        apply_batch(db, source.key, batch)
    rows = sorted(r[0] for r in db.execute("SELECT source_id FROM message_copies"))
    assert rows == [f"inbox/AAMkMSG{i:07d}=" for i in range(1, 5)]


def synced_store(fake: FakeGraph, tmp_path: Path, inbox: int):
    """A store synced from `inbox` messages in the inbox and one in sent items."""
    for i in range(inbox):
        fake.put_message("inbox", message(i))
    fake.put_message("sentitems", message(99))
    db = open_store(tmp_path / "kith.db")
    sync_source(db, source_for(fake, tmp_path))
    return db


def test_a_folder_pass_that_fails_on_page_2_keeps_its_mail_and_the_next_sync_sweeps_what_is_gone(fake, tmp_path):
    db = synced_store(fake, tmp_path, 10)
    fake.max_page = 3
    fake.folder("inbox").messages.pop("AAMkMSG0000004=")          # vanishes without a delta entry
    fake.expire_delta_tokens(folder="inbox")
    fake.fail("GET", r"/messages/delta\?\$skiptoken", 503, times=6)   # page 2 of the inbox's new pass
    failed = sync_source(db, source_for(fake, tmp_path))
    copies = lambda: sorted(r[0] for r in db.execute("SELECT source_id FROM message_copies"))  # noqa: E731
    assert failed.error and failed.deleted == 0 and len(copies()) == 11, "nothing lost"
    done = sync_source(db, source_for(fake, tmp_path))
    assert done.error is None and done.deleted == 1 and done.new_messages == 0
    assert copies() == sorted([f"inbox/AAMkMSG{i:07d}=" for i in range(10) if i != 4] + ["sentitems/AAMkMSG0000099="])
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 10
    assert {r[0] for r in db.execute("SELECT scope FROM message_copies")} == {"inbox", "sentitems"}


def test_an_unreadable_cursor_keeps_the_mail_until_the_new_pass_ends(fake, tmp_path):
    db = synced_store(fake, tmp_path, 6)
    fake.delete_message("inbox", "AAMkMSG0000000=")
    db.execute("UPDATE sync_state SET cursor = '{\"kind\": \"outlook\", \"v\": 0}'")
    fake.fail("GET", r"/sentitems/messages/delta", 503, times=6)   # the pass fails in its second folder
    assert sync_source(db, source_for(fake, tmp_path)).error
    assert db.execute("SELECT count(*) FROM message_copies").fetchone()[0] == 7
    done = sync_source(db, source_for(fake, tmp_path))
    assert done.error is None and done.deleted == 1 and done.new_messages == 0
    assert db.execute("SELECT count(*) FROM message_copies").fetchone()[0] == 6


# ---------------------------------------------------------------- all folders

def test_by_default_every_folder_is_read_except_drafts_deleted_items_junk_and_outbox(fake, tmp_path):
    projects = fake.add_folder("Projects")
    for n, folder in enumerate(["inbox", "sentitems", "archive", projects, "drafts", "junkemail", "deleteditems",
                                "outbox"]):
        fake.put_message(folder, message(n))
    state, _, _ = pull(source_for(fake, tmp_path), None)
    assert ids(state) == {"inbox/AAMkMSG0000000=", "sentitems/AAMkMSG0000001=", "archive/AAMkMSG0000002=",
                          f"{projects}/AAMkMSG0000003="}
    named, _, _ = pull(source_for(fake, tmp_path, folders=["inbox", "archive"]), None)
    assert ids(named) == {"inbox/AAMkMSG0000000=", "archive/AAMkMSG0000002="}     # naming folders reads only those


def test_archived_mail_stays_the_same_message_whichever_folder_is_read_first(fake, tmp_path):
    """Outlook's Archive button moves a message out of the inbox, and Graph reports it @removed there."""
    for i in range(5):
        fake.put_message("inbox", message(i))
    db = open_store(tmp_path / "kith.db")
    sync_source(db, source_for(fake, tmp_path))
    keys = lambda: dict(db.execute("SELECT message_id, key FROM messages").fetchall())  # noqa: E731
    scopes = lambda: dict(db.execute(  # noqa: E731
        "SELECT scope, count(*) FROM message_copies GROUP BY scope").fetchall())
    before = keys()
    for i in range(4):                                              # inbox zero: archive what was dealt with
        fake.move_message(f"AAMkMSG{i:07d}=", "inbox", "archive")
    archived = sync_source(db, source_for(fake, tmp_path))         # the inbox is read before the archive
    assert archived.error is None and (archived.new_messages, archived.deleted) == (0, 4)
    assert keys() == before and scopes() == {"inbox": 1, "archive": 4}, "never deleted and stored again"
    fake.move_message("AAMkMSG0000000=", "archive", "inbox")        # back: now the add is read first
    back = sync_source(db, source_for(fake, tmp_path))
    assert (back.new_messages, back.deleted) == (0, 1) and keys() == before
    assert scopes() == {"inbox": 2, "archive": 3}
    fake.move_message("AAMkMSG0000001=", "archive", "deleteditems")  # a folder Kith does not read: deleted
    assert sync_source(db, source_for(fake, tmp_path)).deleted == 1
    assert len(keys()) == 4 and "m1@example.com" not in keys()


def test_a_sync_that_fails_between_the_two_folders_of_a_move_keeps_the_message(fake, tmp_path):
    fake.put_message("inbox", message(1))
    db = open_store(tmp_path / "kith.db")
    sync_source(db, source_for(fake, tmp_path))
    key = db.execute("SELECT key FROM messages").fetchall()
    fake.move_message("AAMkMSG0000001=", "inbox", "archive")
    fake.fail("GET", r"FOLDER-archive=/messages/delta", 503, times=6)    # after the inbox said @removed
    assert sync_source(db, source_for(fake, tmp_path)).error
    assert db.execute("SELECT key FROM messages").fetchall() == key
    assert sync_source(db, source_for(fake, tmp_path)).error is None
    assert db.execute("SELECT key FROM messages").fetchall() == key
    assert [r[0] for r in db.execute("SELECT source_id FROM message_copies")] == ["archive/AAMkMSG0000001="]



def test_all_folders_walks_child_folders_and_skips_drafts_junk_and_trash(fake, tmp_path):
    fake.max_page = 2                                               # folder lists page too
    projects = fake.add_folder("Projects")
    clients = fake.add_folder("Clients", parent=projects)
    for n, folder in enumerate(["inbox", "sentitems", projects, clients, "drafts", "junkemail", "deleteditems"]):
        fake.put_message(folder, message(n))
    state, _, _ = pull(source_for(fake, tmp_path, all_folders=True), None)
    assert ids(state) == {"inbox/AAMkMSG0000000=", "sentitems/AAMkMSG0000001=", f"{projects}/AAMkMSG0000002=",
                          f"{clients}/AAMkMSG0000003="}
    assert state["sentitems/AAMkMSG0000001="].labels[0] == "SENT"


def test_all_folders_leaves_out_everything_under_deleted_items_junk_drafts_and_outbox(fake, tmp_path):
    team = fake.add_folder("Team", parent=fake.folder("inbox").id)
    under = [fake.add_folder("Old project", parent=fake.folder(name).id)       # Outlook moves deleted folders here
             for name in ("deleteditems", "junkemail", "drafts", "outbox")]
    under.append(fake.add_folder("Deeper", parent=under[0]))
    for n, folder in enumerate([team, *under]):
        fake.put_message(folder, message(n))
    state, _, _ = pull(source_for(fake, tmp_path, all_folders=True), None)
    assert ids(state) == {f"{team}/AAMkMSG0000000="}
    skipped = [fake.folder(name).id for name in ("deleteditems", "junkemail", "drafts", "outbox")]
    assert not [p for p in fake.paths() if any(f in p for f in under) or any(f"{f}/" in p for f in skipped)]


# ---------------------------------------------------------------- throttling, errors, tokens

def test_429_honours_retry_after_and_503_backs_off(fake, tmp_path):
    fake.put_message("inbox", message(1))
    sleeps = Sleeps()
    fake.fail("GET", r"/inbox/messages/delta", 429, headers={"Retry-After": "7"})
    fake.fail("GET", r"/sentitems/messages/delta", 503, times=2)
    state, _, _ = pull(source_for(fake, tmp_path, sleep=sleeps), None)
    assert ids(state) == {"inbox/AAMkMSG0000001="}
    assert sleeps[0] == 7.0 and len(sleeps) == 3 and all(s <= 2.0 for s in sleeps[1:])


def test_a_graph_that_stays_down_is_one_line_error(fake, tmp_path):
    fake.fail("GET", r"messages/delta", 503, times=50)
    with pytest.raises(SourceError) as info:
        list(source_for(fake, tmp_path).pull(None))
    assert "unavailable" in str(info.value) and "\n" not in str(info.value)


def test_a_retry_after_beyond_the_cap_gives_up_this_round_at_once(fake, tmp_path):
    fake.put_message("inbox", message(1))
    sleeps = Sleeps()
    fake.fail("GET", r"/messages/delta", 429, headers={"Retry-After": "3600"}, times=100)
    with pytest.raises(SourceError) as info:
        list(source_for(fake, tmp_path, sleep=sleeps).pull(None))
    assert str(info.value) == ("outlook:work: Microsoft Graph is throttling and asks Kith to wait 60 min — nothing "
                               "to do: the next sync after that wait resumes where this one stopped")
    assert sleeps == [] and len([p for p in fake.paths() if "/messages/delta" in p]) == 1


def test_an_answer_cut_off_mid_body_is_retried_like_a_dropped_connection(fake, tmp_path):
    fake.put_message("inbox", message(1))
    sleeps = Sleeps()
    fake.garble("GET", r"/inbox/messages/delta", "truncate")
    state, _, _ = pull(source_for(fake, tmp_path, sleep=sleeps), None)
    assert ids(state) == {"inbox/AAMkMSG0000001="} and len(sleeps) == 1
    assert len([p for p in fake.paths() if "/inbox/messages/delta" in p]) == 2


def test_a_connection_that_keeps_dropping_says_graph_cannot_be_reached(fake, tmp_path, db):
    fake.garble("GET", r"/messages/delta", "truncate", times=100)
    result = sync_source(db, source_for(fake, tmp_path), contain_bugs=True)
    assert result.error.startswith("outlook:work: cannot reach Microsoft Graph (")       # ChunkedEncodingError
    assert result.error.endswith(") — check the network connection; the next sync resumes where this one stopped")
    assert len([p for p in fake.paths() if "/messages/delta" in p]) == 6, "retried before giving up"


def test_a_web_page_instead_of_json_is_one_line_naming_a_proxy(fake, tmp_path, db):
    fake.garble("GET", r"/messages/delta", "html")
    result = sync_source(db, source_for(fake, tmp_path), contain_bugs=True)
    assert result.error == ("outlook:work: got an answer that is not from Graph (HTTP 200, text/html instead of JSON) "
                            "— a proxy or captive portal may have answered instead: check the network connection "
                            "(sign in to the Wi-Fi portal) and graph_endpoint")


def test_a_rejected_access_token_is_refreshed_once(fake, tmp_path):
    fake.put_message("inbox", message(1))
    source = source_for(fake, tmp_path)
    state, cursor, _ = pull(source, None)
    fake.access.clear()                                             # server forgets access tokens; grant stays
    fake.put_message("inbox", message(2))
    state, _, _ = pull(source, cursor, state)
    assert "inbox/AAMkMSG0000002=" in state
    assert any("grant_type=refresh_token" in r.body for r in fake.requests)


def test_a_lost_grant_names_the_command_to_run(fake, tmp_path):
    source = source_for(fake, tmp_path)
    fake.revoke_refresh_tokens()
    with pytest.raises(AuthError) as info:
        list(source.pull(None))
    assert str(info.value).endswith("run `kith auth microsoft --source work`")


# ---------------------------------------------------------------- progress

class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_first_sync_shows_progress_on_a_terminal_only(fake, tmp_path):
    for i in range(5):
        fake.put_message("inbox", message(i))
    terminal, pipe = Terminal(), io.StringIO()
    state, cursor, _ = pull(source_for(fake, tmp_path, progress=terminal), None)
    assert terminal.getvalue().rstrip().endswith("outlook:work: 5 / 5 messages")
    pull(source_for(fake, tmp_path, progress=pipe), None)
    assert pipe.getvalue() == ""
    terminal.truncate(0)
    terminal.seek(0)
    pull(source_for(fake, tmp_path, progress=terminal), cursor, state)
    assert terminal.getvalue() == ""                                # not on incremental syncs
