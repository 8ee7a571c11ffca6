"""Google sign-in: least-privilege scopes, the three ways through the consent page, the saved token.

The OAuth flows run for real (google-auth-oauthlib, requests-oauthlib, PKCE)
against the fake Google's token endpoint on 127.0.0.1. The "browser" is a
`webbrowser` entry registered by the test, which follows Google's redirect the
way a real browser would; the consent page itself is the only thing skipped.
"""

from __future__ import annotations

import io
import json
import re
import threading
import urllib.request
import webbrowser
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.google_auth import (CALENDAR_EVENTS, GMAIL_INSERT, GMAIL_METADATA, _has_browser, client_config,
                                    load_credentials, required_scopes, run_google_auth, token_path, token_scopes)
from daemon.config import parse
from daemon.errors import AuthError, SourceError
from tests.fakes.fake_gmail import FakeGoogle, google_config, sign_in

BROAD = ("gmail.readonly", "gmail.modify", "gmail.send", "gmail.compose", "mail.google.com", "calendar.readonly",
         "auth/calendar\"", "auth/calendar'")


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")   # the fake token endpoint is plain http on 127.0.0.1
    with FakeGoogle() as server:
        yield server


def consent(fake: FakeGoogle, url: str, *, scopes: list[str] | None = None) -> str:
    """What Google does after the user clicks Allow: the redirect address with a fresh code."""
    query = parse_qs(urlsplit(url).query)
    code = fake.grant(scopes or query["scope"][0].split(" "))
    return f"{query['redirect_uri'][0]}?state={query['state'][0]}&code={code}&scope={query['scope'][0]}"


def visit(address: str) -> None:
    threading.Thread(target=lambda: urllib.request.urlopen(address, timeout=5).read(), daemon=True).start()


class FollowingBrowser(webbrowser.BaseBrowser):
    """A browser whose user always clicks Allow: it opens the redirect Google would send it to."""

    def __init__(self, fake: FakeGoogle) -> None:
        super().__init__("kith-test")
        self.fake, self.opened = fake, []

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        self.opened.append(url)
        visit(consent(self.fake, url))
        return True


def printed_url(out: io.StringIO) -> str:
    return next(line.strip() for line in out.getvalue().splitlines() if line.strip().startswith("https://"))


# ---------------------------------------------------------------- scopes

def test_scopes_are_the_least_that_work(fake, tmp_path):
    mail = google_config(fake, tmp_path)
    assert required_scopes(mail.sources[0], mail) == [GMAIL_METADATA]
    delivering = google_config(fake, tmp_path, deliver=("file", "gmail"))
    assert required_scopes(delivering.sources[0], delivering) == [GMAIL_METADATA, GMAIL_INSERT]
    calendar = google_config(fake, tmp_path, kind="google_calendar")
    assert required_scopes(calendar.sources[0], calendar) == [CALENDAR_EVENTS]
    every = json.dumps([GMAIL_METADATA, GMAIL_INSERT, CALENDAR_EVENTS])
    assert not [b for b in BROAD if b in every]


def test_sources_sharing_a_token_file_ask_for_the_union(tmp_path):
    text = "\n".join(['[[sources]]', 'type = "gmail"', 'name = "mail"', 'token = "google.json"',
                      '[[sources]]', 'type = "google_calendar"', 'name = "cal"', 'token = "google.json"',
                      '[[sources]]', 'type = "google_calendar"', 'name = "other"']) + "\n"
    config = parse(text, tmp_path / "config.toml")
    mail, cal, other = config.sources
    assert token_scopes(cal, config) == [GMAIL_METADATA, CALENDAR_EVENTS] == token_scopes(mail, config)
    assert token_scopes(other, config) == [CALENDAR_EVENTS]


def test_the_token_lives_in_the_state_dir_by_default(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = google_config(fake, tmp_path, token="")
    assert token_path(config.sources[0], config) == tmp_path / "state" / "kith" / "google-me.json"


# ---------------------------------------------------------------- signing in

def test_sign_in_with_a_browser_uses_a_loopback_redirect_and_saves_a_private_token(fake, tmp_path):
    config = google_config(fake, tmp_path)
    browser = FollowingBrowser(fake)
    webbrowser.register("kith-test-browser", None, browser)
    out = io.StringIO()
    path = run_google_auth(config.sources[0], config, browser="kith-test-browser", out=out, timeout=10)
    query = parse_qs(urlsplit(browser.opened[0]).query)
    assert query["redirect_uri"][0].startswith("http://127.0.0.1:")
    assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]
    assert query["code_challenge_method"] == ["S256"] and query["scope"] == [GMAIL_METADATA]
    assert path == tmp_path / "google-gmail.json" and path.stat().st_mode & 0o777 == 0o600
    saved = json.loads(path.read_text())
    assert saved["refresh_token"] == "rt-1" and saved["scopes"] == [GMAIL_METADATA]
    assert load_credentials(config.sources[0], config).token in fake.access_tokens


def test_without_a_browser_the_address_can_be_pasted_back(fake, tmp_path):
    config = google_config(fake, tmp_path, deliver=("file", "gmail"))
    out = io.StringIO()
    path = run_google_auth(config.sources[0], config, open_browser=False, out=out, port=0, timeout=10,
                           read_line=lambda prompt: consent(fake, printed_url(out)))
    assert "ssh -L" in out.getvalue() and "paste it here" in out.getvalue()
    assert json.loads(path.read_text())["scopes"] == [GMAIL_METADATA, GMAIL_INSERT]


def test_without_a_browser_a_redirect_through_an_ssh_tunnel_is_picked_up(fake, tmp_path):
    config = google_config(fake, tmp_path)
    out = io.StringIO()
    never = threading.Event()

    def arrive_through_tunnel(prompt: str) -> str:
        visit(consent(fake, printed_url(out)))
        never.wait(5)                           # the user never pastes anything
        return ""

    path = run_google_auth(config.sources[0], config, open_browser=False, out=out, port=0, timeout=10,
                           read_line=arrive_through_tunnel)
    assert json.loads(path.read_text())["refresh_token"] == "rt-1"
    never.set()


@pytest.mark.parametrize("tamper, message", [
    (lambda url: url.replace("state=", "state=x"), "not the one Google redirected to"),
    (lambda url: url.split("?")[0] + "?error=access_denied", "not completed (access_denied)"),
])
def test_a_wrong_or_refused_answer_is_one_line(fake, tmp_path, tamper, message):
    config = google_config(fake, tmp_path)
    out = io.StringIO()
    with pytest.raises(AuthError, match=re.escape(message)) as caught:
        run_google_auth(config.sources[0], config, open_browser=False, out=out, port=0, timeout=10,
                        read_line=lambda prompt: tamper(consent(fake, printed_url(out))))
    assert "\n" not in str(caught.value) and "run `kith auth google --source me --no-browser` again" in str(caught.value)
    assert not (tmp_path / "google-gmail.json").exists()


def test_a_code_pasted_twice_or_too_late_is_one_line(fake, tmp_path):
    """Google refuses a used or expired code (invalid_grant) at its token endpoint: no traceback."""
    config = google_config(fake, tmp_path)
    out = io.StringIO()

    def stale(prompt):
        address = consent(fake, printed_url(out))
        return re.sub(r"code=[^&]+", "code=4/0AeaYSHexpired", address)

    with pytest.raises(AuthError, match=re.escape("Google refused the sign-in (invalid_grant)")) as caught:
        run_google_auth(config.sources[0], config, open_browser=False, out=out, port=0, timeout=10, read_line=stale)
    assert "\n" not in str(caught.value) and "run `kith auth google --source me` again" in str(caught.value)
    assert not (tmp_path / "google-gmail.json").exists()


class CancellingBrowser(webbrowser.BaseBrowser):
    """The user clicks Cancel on Google's consent screen: Google redirects with error=access_denied."""

    def open(self, url, new=0, autoraise=True):
        query = parse_qs(urlsplit(url).query)
        visit(f"{query['redirect_uri'][0]}?error=access_denied&state={query['state'][0]}")
        return True


def test_cancelling_consent_in_the_browser_is_one_line(fake, tmp_path):
    webbrowser.register("kith-test-cancelling", None, CancellingBrowser("kith-test-cancelling"))
    config = google_config(fake, tmp_path)
    with pytest.raises(AuthError, match="Google sign-in was cancelled") as caught:
        run_google_auth(config.sources[0], config, open_browser=True, browser="kith-test-cancelling",
                        out=io.StringIO(), timeout=10)
    assert "\n" not in str(caught.value) and "again and allow access" in str(caught.value)


def test_input_ending_at_the_prompt_is_one_line_at_once(fake, tmp_path):
    """Ctrl-D at "Address:", or no terminal at all: no traceback from the reading thread, no wait for the timeout."""
    config = google_config(fake, tmp_path)

    def ended(prompt):
        raise EOFError

    with pytest.raises(AuthError, match="no address was pasted") as caught:
        run_google_auth(config.sources[0], config, open_browser=False, out=io.StringIO(), port=0, timeout=600,
                        read_line=ended)
    assert "--no-browser` again" in str(caught.value)


def test_granting_less_than_asked_is_refused_with_the_fix(fake, tmp_path):
    config = google_config(fake, tmp_path, deliver=("file", "gmail"))
    out = io.StringIO()
    with pytest.raises(AuthError, match="granted less access.*tick every box"):
        run_google_auth(config.sources[0], config, open_browser=False, out=out, port=0, timeout=10,
                        read_line=lambda prompt: consent(fake, printed_url(out), scopes=[GMAIL_METADATA]))


class IdleBrowser(webbrowser.BaseBrowser):
    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        return True                             # the user walked away


def test_no_answer_from_the_browser_times_out_with_one_line(fake, tmp_path):
    config = google_config(fake, tmp_path)
    webbrowser.register("kith-idle-browser", None, IdleBrowser("idle"))
    with pytest.raises(AuthError, match=r"no answer .* within 1 s .*--no-browser"):
        run_google_auth(config.sources[0], config, browser="kith-idle-browser", out=io.StringIO(), timeout=1)


def test_an_unknown_browser_means_no_browser():
    assert not _has_browser("kith-no-such-browser-anywhere")


# ---------------------------------------------------------------- client file and saved token

def test_the_client_file_must_exist_and_be_a_desktop_client(fake, tmp_path):
    config = google_config(fake, tmp_path, credentials="")
    with pytest.raises(SourceError, match="no OAuth client configured"):
        client_config(config.sources[0], config)
    (tmp_path / "web.json").write_text(json.dumps({"web": {"client_id": "x"}}))
    config = google_config(fake, tmp_path, credentials="web.json")
    with pytest.raises(SourceError, match="not a Desktop app client"):
        client_config(config.sources[0], config)
    config = google_config(fake, tmp_path)
    assert client_config(config.sources[0], config)["installed"]["token_uri"] == f"{fake.url}/token"


def test_a_stale_token_is_refreshed_and_saved_a_revoked_one_names_the_command(fake, tmp_path):
    config = google_config(fake, tmp_path)
    path = sign_in(fake, config, expired=True)
    creds = load_credentials(config.sources[0], config)
    assert creds.valid and json.loads(path.read_text())["token"] == creds.token
    assert path.stat().st_mode & 0o777 == 0o600
    sign_in(fake, config, expired=True)
    fake.revoke("rt-test")
    with pytest.raises(AuthError) as caught:
        load_credentials(config.sources[0], config)
    assert str(caught.value) == ("gmail:me: Google refused the saved sign-in (invalid_grant: Token has been expired or "
                                 "revoked.) — run `kith auth google --source me`")


def test_a_missing_or_broken_token_file_is_an_auth_error(fake, tmp_path):
    config = google_config(fake, tmp_path)
    with pytest.raises(AuthError, match="not signed in to Google yet"):
        load_credentials(config.sources[0], config)
    (tmp_path / "google-gmail.json").write_text("{not json")
    with pytest.raises(AuthError, match="cannot read the Google token"):
        load_credentials(config.sources[0], config)
    (tmp_path / "google-gmail.json").write_text(json.dumps({"token": "x"}))
    with pytest.raises(AuthError, match="incomplete"):
        load_credentials(config.sources[0], config)


@pytest.mark.parametrize("text,problem", [
    ("[]", "not a JSON object"), ('"token"', "not a JSON object"), ("null", "not a JSON object"),
    ('{"refresh_token": "r", "client_id": "c", "client_secret": "s", "expiry": 1}', "a field has the wrong type"),
    ('{"refresh_token": "r", "client_id": "c", "client_secret": "s", "scopes": 5}', "a field has the wrong type"),
])
def test_a_token_file_of_the_wrong_shape_is_the_same_one_line_auth_error(fake, tmp_path, text, problem):
    config = google_config(fake, tmp_path)
    (tmp_path / "google-gmail.json").write_text(text)
    with pytest.raises(AuthError) as caught:
        load_credentials(config.sources[0], config)
    assert str(caught.value) == (f"{tmp_path / 'google-gmail.json'}: cannot read the Google token ({problem}) "
                                 "— run `kith auth google --source me`")


def test_a_client_file_lacking_keys_is_one_line_before_any_network(fake, tmp_path):
    config = google_config(fake, tmp_path)
    (tmp_path / "client_secret.json").write_text(json.dumps({"installed": {"client_id": "x"}}))
    out = io.StringIO()
    with pytest.raises(SourceError) as caught:
        run_google_auth(config.sources[0], config, open_browser=False, out=out, port=0, timeout=1,
                        read_line=lambda prompt: pytest.fail("asked for an answer"))
    line = str(caught.value)
    assert line.startswith(f"{tmp_path / 'client_secret.json'}: the OAuth client file lacks client_secret, auth_uri")
    assert "download the OAuth client JSON of the Desktop app again" in line and "\n" not in line
    assert out.getvalue() == "" and fake.http_requests == 0
