"""The digest in the user's own Outlook inbox: created unread and not a draft, once per day, never sent."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from connectors.graph_mail import OutlookMailSource
from connectors.microsoft_auth import READ_SCOPES, run_microsoft_auth
from daemon.deliver_outlook import create_digest
from daemon.errors import AuthError
from tests.contract import pull
from tests.fakes.fake_graph import FakeGraph, graph_config, message, sign_in

DAY = date(2026, 3, 4)
ROOT = Path(__file__).resolve().parent.parent
SENDING = ("sendMail", "send", "reply", "replyAll", "createReply", "createReplyAll", "forward", "createForward")


@pytest.fixture
def fake(tmp_path):
    with FakeGraph(tmp_path / "server") as server:
        yield server


def outlook_config(fake, tmp_path, deliver=("file", "outlook")):
    config = graph_config(fake, tmp_path, deliver=deliver)
    sign_in(fake, config)
    return config


def deliver(fake, config, day=DAY):
    return create_digest(config.sources[0], config, day, "Kith — 3 people today", "Call Anna.",
                         "<html><body><p>Call Anna.</p></body></html>", http_client=fake.session())


def test_the_digest_is_created_unread_not_a_draft_from_kith(fake, tmp_path):
    config = outlook_config(fake, tmp_path)
    created = deliver(fake, config)
    stored = fake.folder("inbox").messages[created]
    assert stored["isDraft"] is False and stored["isRead"] is False
    post = next(r for r in fake.requests if r.method == "POST" and r.path.startswith("/v1.0/"))
    body = json.loads(post.body)
    assert post.path == "/v1.0/me/mailFolders/inbox/messages"
    assert body["singleValueExtendedProperties"] == [{"id": "Integer 0x0E07", "value": "1"}]
    assert body["isRead"] is False and body["from"]["emailAddress"] == {"name": "Kith", "address": "me@example.com"}
    assert body["body"] == {"contentType": "html", "content": "<html><body><p>Call Anna.</p></body></html>"}
    assert body["internetMessageId"] == "<kith-digest-2026-03-04@kith.local>"


def test_a_second_delivery_the_same_day_creates_nothing(fake, tmp_path):
    config = outlook_config(fake, tmp_path)
    first = deliver(fake, config)
    assert deliver(fake, config) == first
    posts = [r for r in fake.requests if r.method == "POST" and r.path.startswith("/v1.0/")]
    assert len(posts) == 1 and len(fake.folder("inbox").messages) == 1
    lookup = [r.path for r in fake.requests if r.method == "GET" and r.path.startswith("/v1.0/")]
    assert lookup[-1].endswith("$filter=internetMessageId eq '<kith-digest-2026-03-04@kith.local>'&$select=id")
    deliver(fake, config, date(2026, 3, 5))
    assert len(fake.folder("inbox").messages) == 2                  # a new day is a new digest


def test_without_mail_readwrite_consent_the_fix_says_how_to_grant_it(fake, tmp_path):
    config = outlook_config(fake, tmp_path, deliver=("file",))        # signed in for reading only
    with pytest.raises(AuthError) as info:
        deliver(fake, config)
    assert 'add "outlook" to [digest] deliver' in str(info.value) and "kith auth microsoft --source work" in str(info.value)
    assert not [r for r in fake.requests if r.method == "POST" and r.path.startswith("/v1.0/")]


def test_the_sync_drops_the_digest_kith_put_in_the_inbox(fake, tmp_path):
    config = outlook_config(fake, tmp_path)
    fake.put_message("inbox", message(1))
    source = OutlookMailSource(config.sources[0], config, http_client=fake.session())
    state, cursor, _ = pull(source, None)
    deliver(fake, config)
    state, _, batches = pull(source, cursor, state)
    assert set(state) == {"inbox/AAMkMSG0000001="} and not [m for b in batches for m in b.messages]


def test_no_request_ever_sends_replies_or_forwards(fake, tmp_path):
    """Every request path of a full sync, an incremental sync and a digest creation is recorded."""
    config = outlook_config(fake, tmp_path)
    for n in range(4):
        fake.put_message("inbox" if n % 2 else "sentitems", message(n))
    source = OutlookMailSource(config.sources[0], config, http_client=fake.session())
    state, cursor, _ = pull(source, None)
    fake.put_message("inbox", message(9))
    pull(source, cursor, state)
    deliver(fake, config)
    graph = [(r.method, r.path.split("?")[0]) for r in fake.requests if r.path.startswith("/v1.0/")]
    assert len(graph) >= 6
    assert not [p for _, p in graph if p.rsplit("/", 1)[-1] in SENDING]
    assert {p for m, p in graph if m != "GET"} == {"/v1.0/me/mailFolders/inbox/messages"}


def test_no_module_of_the_microsoft_integration_names_a_sending_endpoint():
    files = [ROOT / "connectors" / n for n in ("microsoft_auth.py", "graph_client.py", "graph_mail.py",
                                                "graph_calendar.py")] + [ROOT / "daemon" / "deliver_outlook.py"]
    pattern = re.compile(r"/(" + "|".join(SENDING) + r")\b|Mail\.Send")
    assert [f.name for f in files if pattern.search(f.read_text(encoding="utf-8"))] == []


# ---------------------------------------------------------------- a second app for delivery (delivery_client_id)

def delivery_config(fake, tmp_path):
    return graph_config(fake, tmp_path, deliver=("file", "outlook"), delivery_client_id=fake.delivery_client_id,
                        delivery_token_cache=str(tmp_path / "msal-work-delivery.bin"))


def scopes_of(fake, request) -> set[str]:
    """The scopes of the access token a Graph request carried, as the authority issued it."""
    return fake.access[request.headers["authorization"].removeprefix("Bearer ")]


def graph_requests(fake):
    """(sync's, delivery's): the delivery looks in /me/messages and creates or changes a message; the sync
    lists folders and follows their deltas."""
    graph = [r for r in fake.requests if r.path.startswith("/v1.0/")]
    delivery = [r for r in graph if r.method != "GET" or r.path.startswith("/v1.0/me/messages?")]
    return [r for r in graph if r not in delivery], delivery


def test_with_a_delivery_app_no_token_the_sync_uses_can_write_and_the_digest_still_lands(fake, tmp_path):
    config = delivery_config(fake, tmp_path)
    run_microsoft_auth(config.sources[0], config, device_code=True, http_client=fake.session())
    run_microsoft_auth(config.sources[0], config, device_code=True, http_client=fake.session(), delivery=True)
    fake.put_message("inbox", message(1))
    source = OutlookMailSource(config.sources[0], config, http_client=fake.session())
    state, cursor, _ = pull(source, None)
    created = deliver(fake, config)
    fake.put_message("inbox", message(2))
    state, _, batches = pull(source, cursor, state)                  # the next sync, after the delivery
    stored = fake.folder("inbox").messages[created]
    assert stored["isDraft"] is False and stored["isRead"] is False
    assert [m.message_id for b in batches for m in b.messages] == ["m2@example.com"]     # the digest is dropped
    syncing, delivering = graph_requests(fake)
    assert len(syncing) >= 4 and {frozenset(scopes_of(fake, r)) for r in syncing} == {frozenset(READ_SCOPES)}
    assert [r.method for r in delivering] == ["GET", "POST"]
    assert all(scopes_of(fake, r) == {"Mail.ReadWrite"} for r in delivering)
    assert fake.consents == {fake.client_id: set(READ_SCOPES), fake.delivery_client_id: {"Mail.ReadWrite"}}
    sync_cache = json.loads((tmp_path / "msal-work.bin").read_text())
    assert {t["client_id"] for t in sync_cache["AccessToken"].values()} == {fake.client_id}
    assert not [t for t in sync_cache["AccessToken"].values() if "Mail.ReadWrite" in t["target"]]


def test_without_a_delivery_app_the_sync_token_carries_mail_readwrite_as_before(fake, tmp_path):
    """Today's behaviour for configs without delivery_client_id, kept (README says so, and how to separate)."""
    config = outlook_config(fake, tmp_path)
    fake.put_message("inbox", message(1))
    pull(OutlookMailSource(config.sources[0], config, http_client=fake.session()), None)
    deliver(fake, config)
    syncing, delivering = graph_requests(fake)
    assert syncing and all("Mail.ReadWrite" in scopes_of(fake, r) for r in syncing)
    assert [r.method for r in delivering] == ["GET", "POST"] and len(fake.folder("inbox").messages) == 2


def test_a_missing_delivery_sign_in_is_one_line_naming_the_command_before_any_request(fake, tmp_path):
    config = delivery_config(fake, tmp_path)
    sign_in(fake, config)                                             # the sync's app only
    asked = len(fake.requests)
    with pytest.raises(AuthError) as info:
        deliver(fake, config)
    assert str(info.value) == ("outlook:work: not signed in to Microsoft for digest delivery (delivery_client_id) — "
                               "run `kith auth microsoft --source work --delivery`")
    assert len(fake.requests) == asked


def test_a_delivery_app_without_mail_readwrite_consent_names_the_delivery_sign_in(fake, tmp_path):
    config = delivery_config(fake, tmp_path)
    sign_in(fake, config, scopes=("User.Read",), delivery=True)      # consented to something else
    with pytest.raises(AuthError) as info:
        deliver(fake, config)
    assert str(info.value) == ("outlook:work: the Microsoft sign-in for digest delivery (delivery_client_id) has "
                               "expired or was revoked (invalid_grant) — run `kith auth microsoft --source work "
                               "--delivery` to grant Mail.ReadWrite to the delivery app")
    assert not [r for r in fake.requests if r.method == "POST" and r.path.startswith("/v1.0/")]


def test_an_existing_cache_keeps_syncing_once_a_delivery_app_is_added_and_delivery_waits_for_its_sign_in(fake,
                                                                                                        tmp_path):
    outlook_config(fake, tmp_path)                   # signed in before delivery_client_id: one app, Mail.ReadWrite
    config = delivery_config(fake, tmp_path)
    fake.put_message("inbox", message(1))
    _, _, batches = pull(OutlookMailSource(config.sources[0], config, http_client=fake.session()), None)
    assert [m.message_id for b in batches for m in b.messages] == ["m1@example.com"]
    with pytest.raises(AuthError, match="--delivery`$"):             # never falls back to the sync's grant
        deliver(fake, config)
    sign_in(fake, config, delivery=True)
    created = deliver(fake, config)
    _, delivering = graph_requests(fake)
    assert created in fake.folder("inbox").messages
    assert all(scopes_of(fake, r) == {"Mail.ReadWrite"} for r in delivering) and len(delivering) == 2


def write_config(fake, tmp_path, *, delivery_app: bool = True) -> str:
    """A config file for the CLI: the store in tmp_path, one Outlook source on the fake that gets the digest."""
    lines = ['[user]', 'addresses = ["me@example.com"]', '[storage]', f'database = "{tmp_path / "kith.db"}"',
             '[digest]', 'deliver = ["file", "outlook"]', f'directory = "{tmp_path / "digests"}"',
             '[[sources]]', 'type = "outlook"', 'name = "work"', f'client_id = "{fake.client_id}"',
             f'authority = "{fake.authority}"', f'graph_endpoint = "{fake.url}"',
             f'token_cache = "{tmp_path / "msal-work.bin"}"']
    if delivery_app:
        lines += [f'delivery_client_id = "{fake.delivery_client_id}"',
                  f'delivery_token_cache = "{tmp_path / "msal-work-delivery.bin"}"']
    (tmp_path / "config.toml").write_text("\n".join(lines) + "\n")
    return str(tmp_path / "config.toml")


NOT_SIGNED_IN = ("outlook:work: not signed in to Microsoft for digest delivery (delivery_client_id) — run "
                 "`kith auth microsoft --source work --delivery`")


def test_kith_sync_and_status_say_when_the_delivery_app_is_not_signed_in(fake, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from daemon.cli import cli
    from daemon.config import load
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_file)          # the sync's own session trusts the fake
    config = write_config(fake, tmp_path)
    kith = lambda *args: CliRunner().invoke(cli, ["--config", config, *args])  # noqa: E731
    sign_in(fake, load(Path(config)))                                 # the sync's app only
    fake.put_message("inbox", message(1))
    synced = kith("sync")
    assert synced.exit_code == 0, synced.output
    assert synced.stdout == "outlook:work: 1 new message\n"
    assert synced.stderr.splitlines() == [f"kith: the digest cannot go into your Outlook inbox: {NOT_SIGNED_IN}"]
    report = json.loads(kith("status", "--json").stdout)["outlook_delivery"]
    assert report == {"mailbox": "outlook:work", "separate_app": True, "client_id": fake.delivery_client_id,
                      "token_cache": str(tmp_path / "msal-work-delivery.bin"), "signed_in": False,
                      "problem": NOT_SIGNED_IN}
    assert f"Digest to your Outlook inbox: {NOT_SIGNED_IN}" in kith("status").stdout.splitlines()
    sign_in(fake, load(Path(config)), delivery=True)
    again = kith("sync")
    assert again.exit_code == 0 and again.stderr == ""
    assert json.loads(kith("status", "--json").stdout)["outlook_delivery"]["signed_in"] is True
    assert "Outlook inbox" not in kith("status").stdout


def test_kith_status_tells_delivery_through_the_sync_app_from_none(fake, tmp_path):
    from click.testing import CliRunner

    from daemon.cli import cli
    config = write_config(fake, tmp_path, delivery_app=False)
    kith = lambda *args: CliRunner().invoke(cli, ["--config", config, *args])  # noqa: E731
    report = json.loads(kith("status", "--json").stdout)["outlook_delivery"]
    assert report == {"mailbox": "outlook:work", "separate_app": False, "client_id": None, "token_cache": None,
                      "signed_in": None, "problem": None}
    Path(config).write_text(Path(config).read_text().replace('deliver = ["file", "outlook"]', 'deliver = ["file"]'))
    assert json.loads(kith("status", "--json").stdout)["outlook_delivery"] is None
    assert fake.requests == []
