"""The digest in the user's own Gmail inbox: inserted once, never sent, and never read back as mail."""

from __future__ import annotations

import base64
import email
import json
import re
from datetime import UTC, date, datetime
from email import policy
from pathlib import Path

import pytest

from connectors.gmail import GmailSource
from daemon.deliver_gmail import build_digest, digest_message_id, insert_digest
from daemon.errors import AuthError
from tests.contract import pull
from tests.fakes.fake_gmail import FakeClock, FakeGoogle, google_config, sign_in

DAY = date(2026, 1, 6)
NOW = datetime(2026, 1, 6, 6, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent
SENDING = re.compile(r"/send\b|/drafts\b|drafts\(\)|\.send\(")


@pytest.fixture
def fake():
    with FakeGoogle(require_auth=True) as server:
        server.add_message(subject="Hello")
        yield server


def delivering(fake: FakeGoogle, tmp_path: Path):
    config = google_config(fake, tmp_path, deliver=("file", "gmail"))
    sign_in(fake, config)
    return config


def deliver(config, clock: FakeClock | None = None) -> str:
    clock = clock or FakeClock()
    return insert_digest(config.sources[0], config, DAY, "Kith — Tuesday 6 January", "Call Anna.",
                         "<p>Call <b>Anna</b>.</p>", now=NOW, sleep=clock.sleep, clock=clock)


def inserted(fake: FakeGoogle) -> list:
    return [m for m in fake.messages.values() if ("X-Kith-Digest", "1") in m.header_list()]


def test_the_digest_is_a_text_and_html_message_from_kith_to_the_user():
    msg = build_digest(DAY, "me@example.com", "Kith — Tuesday", "plain", "<p>rich</p>", NOW)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert (msg["From"], msg["To"]) == ("Kith <kith-digest@localhost>", "me@example.com")
    assert msg["Message-ID"] == "<kith-digest-2026-01-06@kith.local>" == digest_message_id(DAY)
    assert msg["X-Kith-Digest"] == "1" and msg["Subject"] == "Kith — Tuesday"


def test_insert_puts_it_unread_in_the_inbox_with_the_received_time(fake, tmp_path):
    gid = deliver(delivering(fake, tmp_path))
    (digest,) = inserted(fake)
    assert digest.id == gid and digest.labels == ["INBOX", "UNREAD"]
    posts = [uri for method, uri in fake.calls if method == "POST" and uri.startswith("/gmail/v1/users/me/messages")]
    assert len(posts) == 1 and "internalDateSource=receivedTime" in posts[0]
    headers = dict(digest.header_list())
    assert headers["To"] == "me@example.com" and "SENT" not in digest.labels


def test_the_raw_message_round_trips_as_mime(fake, tmp_path):
    config = delivering(fake, tmp_path)
    deliver(config)
    (digest,) = inserted(fake)
    assert dict(digest.header_list())["Content-Type"].startswith("multipart/alternative")
    text = build_digest(DAY, "me@example.com", "s", "Call Anna.", "<p>x</p>", NOW).as_bytes()
    parsed = email.message_from_bytes(base64.urlsafe_b64decode(base64.urlsafe_b64encode(text)),
                                      policy=policy.default)
    assert parsed.get_body(("plain",)).get_content().strip() == "Call Anna."


def test_a_second_delivery_the_same_day_finds_the_first(fake, tmp_path):
    config = delivering(fake, tmp_path)
    first = deliver(config)
    fake.add_message(subject="newer mail arrives after the digest")
    assert deliver(config) == first
    assert len(inserted(fake)) == 1


def test_an_insert_that_failed_temporarily_is_retried_once_only(fake, tmp_path):
    config = delivering(fake, tmp_path)
    fake.fail("POST", "/gmail/v1/users/me/messages", 503, times=2)
    clock = FakeClock()
    deliver(config, clock)
    assert len(inserted(fake)) == 1 and fake.statuses[503] == 2
    looks = [u for m, u in fake.calls if u.startswith("/gmail/v1/users/me/messages?") and "labelIds=INBOX" in u]
    assert len(looks) == 3, "before every attempt, look whether an earlier one landed"


def test_an_insert_whose_answer_is_cut_off_is_found_not_sent_twice(fake, tmp_path):
    """The insert landed but its answer broke off mid-body: the next look finds it."""
    config = delivering(fake, tmp_path)
    fake.cut("POST", "/gmail/v1/users/me/messages")
    deliver(config, FakeClock())
    assert len(inserted(fake)) == 1

def test_delivery_needs_the_insert_scope(fake, tmp_path):
    config = google_config(fake, tmp_path, deliver=("file", "gmail"))
    sign_in(fake, config, scopes=["https://www.googleapis.com/auth/gmail.metadata"])
    with pytest.raises(AuthError, match="lacks the scope .*gmail.insert"):
        deliver(config)
    assert inserted(fake) == []


def test_nothing_is_ever_sent_full_sync_incremental_sync_and_delivery(fake, tmp_path):
    config = delivering(fake, tmp_path)
    source = GmailSource(config.sources[0], config, sleep=FakeClock().sleep)
    state, cursor, _ = pull(source, None)
    deliver(config)
    fake.add_message(subject="Reply")
    state, cursor, _ = pull(source, cursor, state)
    assert len(state) == 2, "the inserted digest came back through history and was dropped"
    uris = [uri for _, uri in fake.calls]
    assert any(u.startswith("/gmail/v1/users/me/history") for u in uris) and ("POST", "/batch") in fake.calls
    assert [u for u in uris if SENDING.search(u)] == []
    assert {m for m, _ in fake.calls} <= {"GET", "POST"}


def test_no_google_module_can_send():
    modules = ["connectors/gmail.py", "connectors/google_auth.py", "connectors/google_calendar.py",
               "daemon/deliver_gmail.py"]
    for name in modules:
        code = (ROOT / name).read_text(encoding="utf-8")
        assert not SENDING.search(code), name
        assert "gmail.send" not in code and "gmail.compose" not in code and "gmail.modify" not in code


def test_kiths_digest_is_never_stored_as_an_interaction(fake, tmp_path):
    config = delivering(fake, tmp_path)
    deliver(config)
    state, _, _ = pull(GmailSource(config.sources[0], config, sleep=FakeClock().sleep), None)
    assert len(state) == 1 and all(m.sender.email != "kith-digest@localhost" for m in state.values())
    assert json.dumps([m.subject for m in state.values()]) == '["Hello"]'


def test_only_todays_digest_goes_to_the_inbox_a_replay_of_an_earlier_day_does_not(fake, tmp_path):
    from click.testing import CliRunner

    from daemon.cli import cli
    config = delivering(fake, tmp_path)
    text = config.path.read_text().replace("[digest]\n", f'[digest]\ndirectory = "{tmp_path / "digests"}"\n')
    config.path.write_text(f'[storage]\ndatabase = "{tmp_path / "kith.db"}"\n' + text)      # not the user's store
    kith = lambda *args: CliRunner().invoke(cli, ["--config", str(config.path), *args])  # noqa: E731
    assert kith("sync").exit_code == 0
    replay = kith("digest", "--as-of", "2026-01-15", "--stdout")
    assert replay.exit_code == 0 and inserted(fake) == []
    assert "goes to the digest folder only, not to gmail" in replay.stderr
    again = kith("digest", "--as-of", "2026-01-15", "--stdout")
    assert "the digest stored for 2026-01-15 (written earlier); --force renders it again" in again.stderr
    assert kith("digest").exit_code == 0 and len(inserted(fake)) == 1        # today's: in the inbox
