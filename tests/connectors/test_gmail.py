"""The Gmail connector: the shared contract, then Gmail's own protocol, paging, errors and quota.

Two transports, both with the real google-api-python-client and its shipped
discovery document: `HttpMockSequence` with canned JSON from
tests/fixtures/gmail/ where the exact wire format matters, and the fake Google
on 127.0.0.1 where state across several calls matters (cursors, resumes, sweeps).
"""

from __future__ import annotations

import io
import json
import shutil
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from googleapiclient.http import HttpMockSequence

from connectors.backoff import MAX_RETRY_AFTER
from connectors.base import Address, Batch, MessageMeta
from connectors.gmail import FIELDS, HEADERS, GmailClient, GmailCursor, GmailSource, history_changes, to_meta
from connectors.google_auth import build_service, new_batch
from daemon.config import parse
from daemon.errors import AuthError, SourceError
from daemon.store import apply_batch, cursor_of
from daemon.sync import sync_source
from tests.contract import SourceContract, apply_to_memory, pull
from tests.fakes.fake_gmail import FakeClock, FakeGoogle, google_config, sign_in

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "gmail"
M = "18d3b2f1a0c4e5"          # id prefix of the fixture mailbox
SHOWN = {f"{M}0{n}" for n in (1, 2, 3, 4, 7, 8)}   # 05 is a draft, 06 is Kith's own digest
ONE_MESSAGE_PAGE = json.dumps({"messages": [{"id": f"{M}01", "threadId": f"{M}01"}], "resultSizeEstimate": 1})


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def source_for(fake: FakeGoogle, tmp_path: Path, *, clock: FakeClock | None = None, stream=None,
               **keys) -> GmailSource:
    config = google_config(fake, tmp_path, **keys)
    if not (tmp_path / "google-gmail.json").exists():
        sign_in(fake, config)
    clock = clock or FakeClock()
    return GmailSource(config.sources[0], config, sleep=clock.sleep, clock=clock, progress_stream=stream)


@pytest.fixture
def fake():
    with FakeGoogle(require_auth=True) as server:
        yield server


@pytest.fixture
def mailbox(fake, tmp_path):
    shutil.copy(FIXTURES / "mailbox.json", tmp_path / "mailbox.json")
    fake.load(tmp_path / "mailbox.json")
    return fake


# ---------------------------------------------------------------- the shared contract

class TestGmailContract(SourceContract):
    """The core's connector contract, against the fixture mailbox served by the fake (3 ids a page)."""

    @pytest.fixture(autouse=True)
    def _servers(self):
        self.fakes: list[FakeGoogle] = []
        yield
        for server in self.fakes:
            server.__exit__(None, None, None)

    def make_source(self, tmp_path: Path) -> GmailSource:
        tmp_path.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / "mailbox.json", tmp_path / "mailbox.json")
        self.fake = FakeGoogle(require_auth=True).__enter__()
        self.fakes.append(self.fake)
        self.fake.max_page = 3
        self.fake.load(tmp_path / "mailbox.json")
        return source_for(self.fake, tmp_path)

    def add_item(self, tmp_path: Path) -> str:
        return self.fake.add_message(sender="Gina <gina@example.com>", subject="New")

    def remove_item(self, tmp_path: Path) -> str:
        self.fake.delete_message(f"{M}04")
        return f"{M}04"

    def expected_ids(self) -> set[str]:
        return SHOWN

    def test_missing_path_is_a_source_error(self, tmp_path: Path) -> None:
        """Gmail has no path: the equivalent is a source nobody signed in to."""
        with FakeGoogle() as server:
            config = google_config(server, tmp_path)
            source = GmailSource(config.sources[0], config)
            with pytest.raises(AuthError, match=r"kith auth google --source me"):
                source.check()
            with pytest.raises(SourceError):
                list(source.pull(None))
            assert server.calls == []


# ---------------------------------------------------------------- mapping Gmail JSON

def test_metadata_reply_becomes_a_whitelisted_record():
    meta = to_meta(json.loads(fixture("message_metadata_reply.json")), "h1")
    assert meta == MessageMeta(
        source_id=f"{M}01", message_id="CAF1anna1@mail.gmail.com", thread_key=f"{M}01",
        sent_at=datetime(2026, 1, 5, 8, 12, tzinfo=UTC), sender=Address("anna@example.org", "Anna Schmidt"),
        to=(Address("me@example.com", "Me"),), subject="Coffee next week?",
        labels=("IMPORTANT", "CATEGORY_PERSONAL", "INBOX"), scope="h1")      # UNREAD is not kept


@pytest.mark.parametrize("date, kept", [("Tue, 03 Mar 2037 10:00:00 +0000", False),    # a clock years ahead
                                         ("Mon, 05 Jan 2026 20:00:00 +0000", True),     # hours ahead: skew
                                         ("Sun, 06 Jan 1980 08:00:00 +0000", True)])    # imported, delayed: kept
def test_a_date_after_google_received_the_mail_yields_to_the_arrival(date, kept):
    data = json.loads(fixture("message_metadata_reply.json"))
    for header in data["payload"]["headers"]:
        if header["name"] == "Date":
            header["value"] = date
    arrival = datetime.fromtimestamp(int(data["internalDate"]) / 1000, UTC)
    assert to_meta(data, "h1").sent_at == (parsedate_to_datetime(date) if kept else arrival)


def test_labels_stay_labels_and_bulk_comes_from_headers(mailbox, tmp_path):
    state, _, _ = pull(source_for(mailbox, tmp_path), None)
    newsletter, receipt, reply = state[f"{M}03"], state[f"{M}04"], state[f"{M}02"]
    assert newsletter.bulk and newsletter.list_id == "weekly.letters.example"
    assert "CATEGORY_PROMOTIONS" in newsletter.labels
    assert not receipt.bulk and receipt.labels == ("CATEGORY_UPDATES", "INBOX")
    assert reply.labels == ("SENT",) and reply.in_reply_to == "CAF1anna1@mail.gmail.com"
    assert reply.thread_key == f"{M}01", "thread_key is Gmail's threadId"


def test_missing_date_falls_back_to_internal_date_and_encoded_words_are_decoded(mailbox, tmp_path):
    state, _, _ = pull(source_for(mailbox, tmp_path), None)
    jm = state[f"{M}07"]
    assert jm.sent_at == datetime.fromtimestamp(1767780000, UTC)
    assert jm.subject == "Grüße aus Berlin" and jm.sender == Address("juergen@example.de", "Jürgen Müller")
    intro = state[f"{M}08"]
    assert intro.cc == (Address("erin@example.com", "Erin"),) and len(intro.to) == 2


def test_drafts_spam_trash_and_kiths_digest_are_never_records():
    base = json.loads(fixture("message_metadata_reply.json"))
    for labels in (["DRAFT"], ["SPAM"], ["TRASH", "INBOX"]):
        assert isinstance(to_meta({**base, "labelIds": labels}, ""), str)
    digest = {**base, "payload": {"headers": [*base["payload"]["headers"], {"name": "X-Kith-Digest", "value": "1"}]}}
    assert to_meta(digest, "") == "is Kith's own digest"


def test_requests_ask_for_headers_only_and_never_use_q():
    client = GmailClient(plain_source(), build_service("gmail", plain_source(), HttpMockSequence([])))
    get = client.get_request("abc")
    assert "format=metadata" in get.uri and "metadataHeaders=X-Kith-Digest" in get.uri
    assert "snippet" not in FIELDS and "fields=id%2CthreadId%2ClabelIds%2CinternalDate%2Cpayload%2Fheaders" in get.uri
    listing = client.messages.list(userId="me", maxResults=500)
    assert "q=" not in listing.uri and listing.uri.startswith("https://gmail.googleapis.com/gmail/v1/users/me/messages")


def test_a_cloned_get_request_is_the_one_the_library_builds():
    client = GmailClient(plain_source(), build_service("gmail", plain_source(), HttpMockSequence([])))
    for mid in ("18d3b2f1a0c4e501", "r-1/x"):
        ours, library = client.get_request(mid), client.messages.get(
            userId="me", id=mid, format="metadata", metadataHeaders=HEADERS, fields=FIELDS)
        assert (ours.uri, ours.method, ours.headers, ours.methodId) == (
            library.uri, library.method, library.headers, library.methodId)


def test_history_records_of_every_kind():
    fetch, deleted = history_changes(json.loads(fixture("history_every_kind.json"))["history"])
    assert fetch == [f"{M}09"]                    # added. Starring or reading costs no refetch
    assert deleted == [f"{M}02", f"{M}0a"]          # deleted; added then deleted in the same window
    trashed = [{"id": "1", "labelsAdded": [{"message": {"id": "x", "labelIds": ["TRASH"]}, "labelIds": ["TRASH"]}]},
               {"id": "2", "messagesAdded": [{"message": {"id": "d", "labelIds": ["DRAFT"]}}]}]
    assert history_changes(trashed) == ([], ["d", "x"]), "no fetch for what is bound to be dropped"
    archived = [{"id": str(n), "labelsRemoved": [{"message": {"id": f"a{n}", "labelIds": ["CATEGORY_UPDATES"]},
                                                  "labelIds": ["INBOX"]}]} for n in range(20_000)]
    assert history_changes(archived) == ([], []), "archiving changes nothing Kith judges by"
    moved = [{"id": "1", "labelsRemoved": [{"message": {"id": "t", "labelIds": ["INBOX"]}, "labelIds": ["TRASH"]}]},
             {"id": "2", "labelsAdded": [{"message": {"id": "s", "labelIds": ["SENT"]}, "labelIds": ["SENT"]}]}]
    assert history_changes(moved) == (["t", "s"], []), "back from the trash, or the user's own: read again"


# ---------------------------------------------------------------- HttpMockSequence: exact wire formats

def plain_source(**keys):
    lines = ["[[sources]]", 'type = "gmail"', 'name = "me"', *[f"{k} = {json.dumps(v)}" for k, v in keys.items()]]
    return parse("\n".join(lines) + "\n", Path("/nonexistent/config.toml")).sources[0]


def mock_source(responses, **keys) -> tuple[GmailSource, FakeClock]:
    source = plain_source(**keys)
    config = parse("\n".join(["[[sources]]", 'type = "gmail"', 'name = "me"']) + "\n", Path("/x/config.toml"))
    clock = FakeClock()
    return GmailSource(source, config, http=HttpMockSequence(responses), sleep=clock.sleep, clock=clock), clock


def batch_part(request_id: str, status: str, body: str) -> str:
    return (f"--kith\r\nContent-Type: application/http\r\nContent-ID: <response-9f2c + {request_id}>\r\n\r\n"
            f"HTTP/1.1 {status}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{body}\r\n")


def batch_reply(*parts: str):
    return {"status": "200", "content-type": 'multipart/mixed; boundary="kith"'}, "".join(parts) + "--kith--"


def metadata(mid: str) -> str:
    data = json.loads(fixture("message_metadata_reply.json"))
    return json.dumps({**data, "id": mid})


def test_a_429_inside_a_batch_is_queued_again_and_a_404_is_a_tombstone():
    ids = [f"{M}01", f"{M}02", f"{M}03"]
    source, clock = mock_source([
        ({"status": "200"}, fixture("profile.json")),
        ({"status": "200"}, fixture("list_page_newest_first.json")),
        batch_reply(batch_part(ids[0], "429 Too Many Requests", fixture("error_rate_limit_429.json")),
                    batch_part(ids[1], "404 Not Found", fixture("error_history_id_too_old_404.json")),
                    batch_part(ids[2], "200 OK", metadata(ids[2]))),
        batch_reply(batch_part(ids[0], "200 OK", metadata(ids[0]))),
        ({"status": "200"}, json.dumps({"historyId": "5000"})),
    ])
    batches = list(source.pull(None))
    assert [m.source_id for b in batches for m in b.messages] == [ids[2], ids[0]]
    assert batches[0].deleted == (ids[1],) and batches[0].full_resync
    assert clock.sleeps, "the retry waited"


def test_history_404_falls_back_to_a_full_pass_that_sweeps_the_old_one():
    old = GmailCursor("incremental", "4000", "h3000").dump()
    source, _ = mock_source([
        ({"status": "404"}, fixture("error_history_id_too_old_404.json")),
        ({"status": "200"}, fixture("profile.json")),
        ({"status": "200"}, ONE_MESSAGE_PAGE),
        batch_reply(batch_part(f"{M}01", "200 OK", metadata(f"{M}01"))),
        ({"status": "200"}, json.dumps({"historyId": "5000"})),
    ])
    batches = list(source.pull(old))
    assert batches[-1].scopes == ("h3000",) and not any(b.full_resync for b in batches)
    assert batches[-1].messages[0].scope == "h5000"
    assert GmailCursor.parse(batches[-1].cursor) == GmailCursor("incremental", "5000", "h5000")


def test_a_resumed_pass_whose_page_token_expired_starts_over_and_sweeps_both_scopes():
    resumed = GmailCursor("backfill", "4000", "h4000", page_token="stale-token", stale=("h3000",), done=500).dump()
    source, _ = mock_source([
        ({"status": "400"}, json.dumps({"error": {"code": 400, "message": "Invalid pageToken",
                                                  "errors": [{"reason": "invalidArgument"}]}})),
        ({"status": "200"}, fixture("profile.json")),
        ({"status": "200"}, ONE_MESSAGE_PAGE),
        batch_reply(batch_part(f"{M}01", "200 OK", metadata(f"{M}01"))),
        ({"status": "200"}, json.dumps({"historyId": "5000"})),
    ])
    batches = list(source.pull(resumed))
    assert batches[-1].scopes == ("h4000", "h3000") and [m.scope for m in batches[-1].messages] == ["h5000"]


def test_a_batch_answer_the_library_cannot_parse_is_one_line():
    """A part without the "<response-… + id>" Content-ID: googleapiclient raises BatchError with resp None."""
    broken = batch_part(f"{M}01", "200 OK", metadata(f"{M}01")).replace(" + ", "-")
    source, _ = mock_source([({"status": "200"}, fixture("profile.json")), ({"status": "200"}, ONE_MESSAGE_PAGE),
                             batch_reply(broken)])
    with pytest.raises(SourceError) as caught:
        list(source.pull(None))
    line = str(caught.value)
    assert line.startswith("gmail:me: Google answered something unreadable to a batch of metadata requests (")
    assert line.endswith("— check api_endpoint and any proxy in between; the next sync tries again")
    assert "\n" not in line


def test_a_wi_fi_portal_page_instead_of_google_is_one_line():
    """A hotel's sign-in page answers 200 text/html; the client library hands back its text."""
    portal = ({"status": "200", "content-type": "text/html"}, "<html><body>Sign in to the hotel Wi-Fi</body></html>")
    source, _ = mock_source([portal])
    with pytest.raises(SourceError) as caught:
        list(source.pull(None))
    assert str(caught.value).startswith("gmail:me: got an answer that is not from Google while reading")
    assert "Wi-Fi portal" in str(caught.value) and "\n" not in str(caught.value)


def test_incremental_sync_from_canned_history():
    cursor = GmailCursor("incremental", "5000", "h4000").dump()
    source, _ = mock_source([
        ({"status": "200"}, fixture("history_every_kind.json")),
        batch_reply(batch_part(f"{M}09", "200 OK", metadata(f"{M}09"))),
    ])
    (batch,) = list(source.pull(cursor))
    assert {m.source_id for m in batch.messages} == {f"{M}09"}         # the starred one is not fetched again
    assert set(batch.deleted) == {f"{M}02", f"{M}0a"} and not batch.scopes and not batch.full_resync
    assert json.loads(batch.cursor)["history_id"] == "5006"


# ---------------------------------------------------------------- the fake server: paging, resume, sweep

def test_full_pass_is_newest_first_in_batches_of_at_most_50_and_resumes_after_a_kill(fake, tmp_path):
    fake.populate(230)
    first = source_for(fake, tmp_path, quota_units_per_minute=60_000)
    taken, cursor = [], None
    for batch in first.pull(None):
        taken.append(batch)
        if len(taken) == 3:
            break                                   # the daemon is killed here
    assert all(len(b.messages) <= 50 for b in taken)
    newest = max(m.sent_at for b in taken for m in b.messages)
    assert taken[0].messages[0].sent_at == newest, "newest mail first"
    cursor = taken[-1].cursor
    assert json.loads(cursor)["phase"] == "backfill"
    gets_before = sum(1 for _, uri in fake.calls if "/messages/" in uri)
    rest = list(source_for(fake, tmp_path, quota_units_per_minute=60_000).pull(cursor))
    ids = [m.source_id for b in taken + rest for m in b.messages]
    assert len(ids) == len(set(ids)) == 230
    assert sum(1 for _, uri in fake.calls if "/messages/" in uri) - gets_before == 230 - 150, "nothing fetched twice"
    assert json.loads(rest[-1].cursor)["phase"] == "incremental"


def test_an_unreadable_cursor_keeps_the_store_whole_until_the_new_pass_ends(fake, tmp_path, db):
    """A pass of hours after the cursor was damaged: the store keeps what it held meanwhile (a kill after the
    first batch loses nothing); the pass's end sweeps what the mailbox no longer has."""
    fake.populate(230)
    source = source_for(fake, tmp_path, quota_units_per_minute=60_000)
    for batch in source.pull(None):
        apply_batch(db, source.key, batch)
    gone = db.execute("SELECT source_id FROM message_copies ORDER BY source_id LIMIT 1").fetchone()[0]
    fake.delete_message(gone)
    count = lambda: db.execute("SELECT count(*) FROM message_copies").fetchone()[0]  # noqa: E731
    first = next(iter(source_for(fake, tmp_path, quota_units_per_minute=60_000).pull("{damaged")))
    apply_batch(db, source.key, first)                     # killed after the first batch of the new pass
    assert count() == 230 and json.loads(first.cursor)["phase"] == "backfill"
    for batch in source_for(fake, tmp_path, quota_units_per_minute=60_000).pull(first.cursor):
        apply_batch(db, source.key, batch)
    assert count() == 229 and not db.execute("SELECT 1 FROM message_copies WHERE source_id = ?", [gone]).fetchone()


def test_a_new_pass_after_an_expired_history_id_leaves_the_store_equal_to_the_mailbox(mailbox, tmp_path, db):
    source = source_for(mailbox, tmp_path)
    for batch in source.pull(None):
        apply_batch(db, source.key, batch)
    mailbox.delete_message(f"{M}01")            # gone while the history id expires: no record of it
    mailbox.relabel(f"{M}03", add=("STARRED",))
    mailbox.expire_history()
    for batch in source.pull(cursor_of(db, source.key)):
        apply_batch(db, source.key, batch)
    rows = {r[0]: r[1] for r in db.execute("SELECT source_id, labels FROM message_copies WHERE source = ?",
                                           [source.key])}
    assert set(rows) == SHOWN - {f"{M}01"}
    assert "STARRED" in rows[f"{M}03"]
    assert json.loads(cursor_of(db, source.key))["phase"] == "incremental"


def test_label_changes_are_refetched_but_reading_a_message_is_not(mailbox, tmp_path):
    source = source_for(mailbox, tmp_path)
    _, cursor, _ = pull(source, None)
    mailbox.relabel(f"{M}01", remove=("UNREAD",))
    calls = len(mailbox.calls)
    _, cursor, batches = pull(source, cursor)
    assert [r for b in batches for r in b.messages] == []
    assert not any("/messages/" in uri for _, uri in mailbox.calls[calls:])
    mailbox.relabel(f"{M}04", add=("TRASH",))
    calls = len(mailbox.calls)
    state, _, batches = pull(source, cursor, {f"{M}04": object()})
    assert batches[0].deleted == (f"{M}04",) and f"{M}04" not in state
    assert not any("/messages/" in uri for _, uri in mailbox.calls[calls:])


# ---------------------------------------------------------------- errors and backoff

def test_429_with_retry_after_then_500_are_retried_without_losing_anything(mailbox, tmp_path):
    clock = FakeClock()
    mailbox.fail("GET", "/gmail/v1/users/me/messages/", 429, retry_after="7", reason="rateLimitExceeded")
    mailbox.fail("GET", "/gmail/v1/users/me/messages", 500, times=1)
    mailbox.fail("POST", "/batch", 503, times=1)
    state, _, _ = pull(source_for(mailbox, tmp_path, clock=clock), None)
    assert set(state) == SHOWN
    assert max(clock.sleeps) >= 7, "Retry-After is honoured"
    assert mailbox.statuses[429] == 1 and mailbox.statuses[500] == 1 and mailbox.statuses[503] == 1


def test_403_rate_limit_is_retried_but_403_forbidden_is_one_line(mailbox, tmp_path):
    mailbox.fail("GET", "/gmail/v1/users/me/profile", 403, reason="userRateLimitExceeded")
    state, _, _ = pull(source_for(mailbox, tmp_path), None)
    assert set(state) == SHOWN
    mailbox.fail("GET", "/gmail/v1/users/me/profile", 403, reason="insufficientPermissions")
    with pytest.raises(AuthError) as caught:
        list(source_for(mailbox, tmp_path).pull(None))
    assert "\n" not in str(caught.value) and "kith auth google --source me" in str(caught.value)


def test_a_gmail_that_stays_down_is_a_one_line_source_error(mailbox, tmp_path):
    mailbox.fail("GET", "/gmail/v1/users/me/profile", 503, times=100)
    with pytest.raises(SourceError) as caught:
        list(source_for(mailbox, tmp_path).pull(None))
    assert "\n" not in str(caught.value) and "503" in str(caught.value)


def test_an_answer_cut_off_mid_body_is_retried_like_a_dropped_connection(mailbox, tmp_path):
    clock = FakeClock()
    mailbox.cut("GET", "/gmail/v1/users/me/messages")       # the message list
    mailbox.cut("POST", "/batch")                           # the batch of metadata requests
    state, _, _ = pull(source_for(mailbox, tmp_path, clock=clock), None)
    assert set(state) == SHOWN
    assert sum(1 for method, uri in mailbox.calls if uri.startswith("/gmail/v1/users/me/messages?")) == 2
    assert mailbox.calls.count(("POST", "/batch")) == 2
    assert len([s for s in clock.sleeps if s >= 1e-3]) >= 2, "each retry waited"


@pytest.mark.parametrize("method,prefix,what", [("GET", "/gmail/v1/users/me/profile", "the mailbox profile"),
                                                ("POST", "/batch", "message metadata")])
def test_a_connection_that_keeps_dropping_says_google_cannot_be_reached(mailbox, tmp_path, db, method, prefix, what):
    mailbox.cut(method, prefix, times=100)
    result = sync_source(db, source_for(mailbox, tmp_path), contain_bugs=True)
    assert result.error.startswith("gmail:me: cannot reach Google (")      # IncompleteRead, then maybe a broken pipe
    assert result.error.endswith(f") while reading {what} — check the network connection; the next sync resumes "
                                 "where this one stopped")


@pytest.mark.parametrize("prefix,what,refused", [("/gmail/v1/users/me/profile", "the mailbox profile", 1),
                                                 ("/gmail/v1/users/me/messages/", "metadata requests", 8)])
def test_a_retry_after_beyond_the_cap_gives_up_this_round_at_once(mailbox, tmp_path, prefix, what, refused):
    clock = FakeClock()
    mailbox.fail("GET", prefix, 429, times=100, retry_after="3600", reason="rateLimitExceeded")
    with pytest.raises(SourceError) as caught:
        list(source_for(mailbox, tmp_path, clock=clock).pull(None))
    assert str(caught.value) == (f"gmail:me: Google is throttling {what} and asks Kith to wait 60 min — nothing to "
                                 "do: the next sync after that wait resumes where this one stopped")
    assert max(clock.sleeps, default=0) < MAX_RETRY_AFTER and mailbox.statuses[429] == refused


# ---------------------------------------------------------------- endpoints, tokens

def test_with_an_endpoint_override_every_request_goes_there_batches_included(mailbox, tmp_path):
    pull(source_for(mailbox, tmp_path), None)
    assert ("POST", "/batch") in mailbox.calls
    assert sum(1 for _, uri in mailbox.calls if uri.startswith("/gmail/v1/users/me/messages/")) == 8
    default = new_batch("gmail", plain_source(), lambda *a: None)
    override = new_batch("gmail", plain_source(api_endpoint="http://127.0.0.1:9/"), lambda *a: None)
    assert default._batch_uri == "https://gmail.googleapis.com/batch"
    assert override._batch_uri == "http://127.0.0.1:9/batch"


def test_an_expired_token_is_refreshed_at_the_token_uri_override_and_saved(mailbox, tmp_path):
    config = google_config(mailbox, tmp_path)
    path = sign_in(mailbox, config, expired=True)
    old = json.loads(path.read_text())["token"]
    state, _, _ = pull(GmailSource(config.sources[0], config, sleep=FakeClock().sleep), None)
    assert set(state) == SHOWN
    saved = json.loads(path.read_text())
    assert saved["token"] != old and saved["token"] in mailbox.access_tokens
    assert path.stat().st_mode & 0o777 == 0o600
    assert ("POST", "/token") in mailbox.calls


def test_a_token_rejected_mid_sync_is_refreshed_once_and_saved(mailbox, tmp_path):
    source = source_for(mailbox, tmp_path)
    mailbox.access_tokens.clear()                # the server forgets the access token: 401
    state, _, _ = pull(source, None)
    assert set(state) == SHOWN and mailbox.statuses[401] >= 1
    assert json.loads((tmp_path / "google-gmail.json").read_text())["token"] in mailbox.access_tokens


def test_a_revoked_grant_is_one_line_naming_the_command(mailbox, tmp_path):
    config = google_config(mailbox, tmp_path)
    sign_in(mailbox, config, expired=True)
    mailbox.revoke("rt-test")
    with pytest.raises(AuthError) as caught:
        list(GmailSource(config.sources[0], config).pull(None))
    line = str(caught.value)
    assert "\n" not in line and "invalid_grant" in line and "run `kith auth google --source me`" in line


def test_check_names_the_missing_client_file_and_the_missing_token(fake, tmp_path):
    config = google_config(fake, tmp_path, credentials="nowhere.json")
    with pytest.raises(SourceError, match="OAuth client file does not exist"):
        GmailSource(config.sources[0], config).check()
    config = google_config(fake, tmp_path)
    with pytest.raises(AuthError, match="not signed in"):
        GmailSource(config.sources[0], config).check()
    sign_in(fake, config)
    GmailSource(config.sources[0], config).check()


# ---------------------------------------------------------------- quota and progress

def test_requests_are_paced_by_the_quota(fake, tmp_path):
    fake.populate(200)
    clock = FakeClock()
    source = source_for(fake, tmp_path, clock=clock, quota_units_per_minute=6000)   # 100 units a second
    batches = list(source.pull(None))
    assert max(len(b.messages) for b in batches) == 20, "a batch never exceeds one second of quota"
    units = 1 + 5 + 200 * 5 + 2                # profile, one list page, 200 gets, one history call
    assert clock.now >= (units - 100) / 100, "no faster than the quota allows (after a 1 s burst)"
    assert clock.now <= units / 100 + 1


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_first_sync_shows_progress_with_an_eta_on_a_terminal_only(fake, tmp_path):
    fake.populate(120)
    screen = Terminal()
    list(source_for(fake, tmp_path, stream=screen, quota_units_per_minute=6000).pull(None))
    assert "120/120" in screen.getvalue() and "ETA" in screen.getvalue()
    pipe = io.StringIO()
    list(source_for(fake, tmp_path / "again", stream=pipe).pull(None))
    assert pipe.getvalue() == ""


def test_batches_are_plain_records(mailbox, tmp_path):
    for batch in source_for(mailbox, tmp_path).pull(None):
        assert isinstance(batch, Batch) and all(isinstance(m, MessageMeta) for m in batch.messages)
        assert apply_to_memory({}, batch) is not None
