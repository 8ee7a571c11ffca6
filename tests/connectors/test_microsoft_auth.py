"""Microsoft sign-in with the real msal library against a fake authority on 127.0.0.1 (TLS)."""

from __future__ import annotations

import dataclasses
import json
import logging
import stat
import sys

import pytest

from connectors.microsoft_auth import (READ_SCOPES, MicrosoftAuth, browser_available, cache_path, run_microsoft_auth,
                                       scopes_for)
from daemon.config import parse
from daemon.errors import AuthError, ConfigError, SourceError
from tests.fakes.fake_graph import FakeGraph, graph_config, sign_in


@pytest.fixture
def fake(tmp_path):
    with FakeGraph(tmp_path / "server") as server:
        yield server


def token_posts(fake: FakeGraph) -> list[dict[str, str]]:
    from urllib.parse import parse_qsl
    return [dict(parse_qsl(r.body)) for r in fake.requests if r.path.endswith("/oauth2/v2.0/token")]


def test_write_scope_only_when_the_digest_goes_to_outlook(fake, tmp_path):
    assert scopes_for(graph_config(fake, tmp_path)) == ["Mail.ReadBasic", "Calendars.ReadBasic"]
    assert scopes_for(graph_config(fake, tmp_path, deliver=("file", "outlook"))) == [
        "Mail.ReadBasic", "Calendars.ReadBasic", "Mail.ReadWrite"]


def test_cache_path_defaults_to_the_state_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = parse('[[sources]]\ntype = "outlook"\nname = "work"\nclient_id = "x"\n', tmp_path / "config.toml")
    assert cache_path(config.sources[0], config) == tmp_path / "state" / "kith" / "msal-work.bin"
    config = parse('[[sources]]\ntype = "outlook"\nname = "work"\nclient_id = "x"\ntoken_cache = "tokens/ms.bin"\n',
                   tmp_path / "config.toml")
    assert cache_path(config.sources[0], config) == tmp_path / "tokens" / "ms.bin"


def test_device_code_sign_in_persists_a_private_cache(fake, tmp_path, capsys):
    fake.device_pending = 1                                 # the user takes one poll to type the code
    config = graph_config(fake, tmp_path)
    path = run_microsoft_auth(config.sources[0], config, device_code=True, http_client=fake.session())
    assert path == tmp_path / "msal-work.bin" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "KITH-CODE" in capsys.readouterr().err
    cached = json.loads(path.read_text())
    assert [a["username"] for a in cached["Account"].values()] == ["me@example.com"]
    device = [r for r in fake.requests if r.path.endswith("/devicecode")]
    assert len(device) == 1 and "Mail.ReadWrite" not in device[0].body and "Mail.ReadBasic" in device[0].body
    assert [p["grant_type"] for p in token_posts(fake)].count("urn:ietf:params:oauth:grant-type:device_code") == 2


def test_sign_in_for_outlook_delivery_also_asks_for_mail_readwrite(fake, tmp_path):
    config = graph_config(fake, tmp_path, deliver=("outlook",))
    run_microsoft_auth(config.sources[0], config, device_code=True, http_client=fake.session())
    device = next(r for r in fake.requests if r.path.endswith("/devicecode"))
    assert "Mail.ReadWrite" in device.body


def test_a_failed_sign_in_is_one_line_with_the_command(fake, tmp_path):
    fake.device_error = "authorization_declined"
    config = graph_config(fake, tmp_path)
    with pytest.raises(AuthError) as info:
        run_microsoft_auth(config.sources[0], config, device_code=True, http_client=fake.session())
    assert "declined" in str(info.value) and "kith auth microsoft --source work" in str(info.value)
    assert "\n" not in str(info.value) and not (tmp_path / "msal-work.bin").exists()


def test_silent_tokens_come_from_the_cache_then_refresh_when_due(fake, tmp_path):
    config = graph_config(fake, tmp_path)
    sign_in(fake, config)
    auth = MicrosoftAuth(config.sources[0], config, http_client=fake.session())
    assert auth.token(READ_SCOPES) == "at-1" and len(token_posts(fake)) == 1     # from the cache
    before = (tmp_path / "msal-work.bin").read_text()
    refreshed = auth.token(READ_SCOPES, force_refresh=True)
    assert refreshed != "at-1" and token_posts(fake)[-1]["grant_type"] == "refresh_token"
    assert (tmp_path / "msal-work.bin").read_text() != before                    # the new tokens are saved


def test_an_access_token_about_to_expire_is_refreshed_silently(fake, tmp_path):
    fake.expires_in = 60                                    # MSAL refreshes tokens with < 5 minutes left
    config = graph_config(fake, tmp_path)
    sign_in(fake, config)
    fake.expires_in = 3600
    token = MicrosoftAuth(config.sources[0], config, http_client=fake.session()).token(READ_SCOPES)
    assert token != "at-1" and token_posts(fake)[-1]["grant_type"] == "refresh_token"


def test_a_lost_grant_gives_the_command_to_run(fake, tmp_path):
    fake.expires_in = 60
    config = graph_config(fake, tmp_path)
    sign_in(fake, config)
    fake.revoke_refresh_tokens()
    with pytest.raises(AuthError) as info:
        MicrosoftAuth(config.sources[0], config, http_client=fake.session()).token(READ_SCOPES)
    assert "invalid_grant" in str(info.value)
    assert str(info.value).endswith("— run `kith auth microsoft --source work`")


def test_no_cache_means_not_signed_in_without_any_network(fake, tmp_path):
    config = graph_config(fake, tmp_path)
    with pytest.raises(AuthError, match="not signed in"):
        MicrosoftAuth(config.sources[0], config, http_client=fake.session()).require_account()
    assert fake.requests == []


@pytest.mark.parametrize("text,problem", [
    ("[]", "not an MSAL token cache"), ('{"Account": []}', "not an MSAL token cache"),
    ('{"Account": {"k": 1}}', "not an MSAL token cache"), ("garbage", "not JSON"),
])
def test_a_cache_file_of_the_wrong_shape_is_one_line_naming_it_without_any_network(fake, tmp_path, text, problem):
    config = graph_config(fake, tmp_path)
    (tmp_path / "msal-work.bin").write_text(text)
    with pytest.raises(AuthError) as info:
        MicrosoftAuth(config.sources[0], config, http_client=fake.session()).require_account()
    assert str(info.value) == (f"{tmp_path / 'msal-work.bin'}: the Microsoft token cache cannot be read ({problem}) "
                               "— run `kith auth microsoft --source work`")
    assert fake.requests == []


def test_a_broken_account_entry_is_one_line_and_signing_in_again_mends_it(fake, tmp_path):
    config = graph_config(fake, tmp_path)
    sign_in(fake, config)
    cached = json.loads((tmp_path / "msal-work.bin").read_text())
    for account in cached["Account"].values():
        del account["authority_type"]
    (tmp_path / "msal-work.bin").write_text(json.dumps(cached))
    with pytest.raises(AuthError, match=r"msal-work.bin: the Microsoft token cache cannot be read \(a broken account"):
        MicrosoftAuth(config.sources[0], config, http_client=fake.session()).token(READ_SCOPES)
    (tmp_path / "msal-work.bin").write_text("[]")
    run_microsoft_auth(config.sources[0], config, device_code=True, http_client=fake.session())
    assert MicrosoftAuth(config.sources[0], config, http_client=fake.session()).token(READ_SCOPES)


def test_the_plaintext_fallback_is_said_once_in_the_log(fake, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="connectors.microsoft_auth")
    config = graph_config(fake, tmp_path)
    sign_in(fake, config)
    MicrosoftAuth(config.sources[0], config, http_client=fake.session())
    lines = [r.getMessage() for r in caplog.records if "plaintext" in r.getMessage()]
    assert len(lines) == 1 and "msal-work.bin" in lines[0] and "0600" in lines[0]
    assert stat.S_IMODE((tmp_path / "msal-work.bin").stat().st_mode) == 0o600


def test_config_problems_are_config_errors(fake, tmp_path):
    config = graph_config(fake, tmp_path)
    with pytest.raises(ConfigError, match="client_id"):
        parse(f'[[sources]]\ntype = "outlook"\nname = "work"\nauthority = "{fake.authority}"\n', tmp_path / "c.toml")
    with pytest.raises(ConfigError, match="authority .* is not an https URL"):
        parse(f'[[sources]]\ntype = "outlook"\nname = "work"\nclient_id = "x"\n'
              f'authority = "{fake.authority.replace("https", "http")}"\n', tmp_path / "c.toml")
    assert MicrosoftAuth(config.sources[0], config, http_client=fake.session()).app.client_id == fake.client_id


def test_signing_in_as_someone_else_replaces_the_account(fake, tmp_path):
    config = graph_config(fake, tmp_path)
    sign_in(fake, config)
    fake.user = "other@example.com"
    run_microsoft_auth(config.sources[0], config, device_code=True, http_client=fake.session())
    accounts = json.loads((tmp_path / "msal-work.bin").read_text())["Account"].values()
    assert [a["username"] for a in accounts] == ["other@example.com"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the display check is Linux's")
def test_no_display_means_the_device_code_flow(fake, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert browser_available() is False
    config = graph_config(fake, tmp_path)
    run_microsoft_auth(config.sources[0], config, http_client=fake.session())     # device_code=None: decide
    assert "KITH-CODE" in capsys.readouterr().err


# ---------------------------------------------------------------- a captive portal instead of the sign-in service

PORTAL = ("outlook:work: got an answer that is not from the Microsoft sign-in service (a web page or other text "
          "instead of JSON) — a proxy or captive portal may have answered instead: check the network connection "
          "(sign in to the Wi-Fi portal) and `authority`")


def test_a_web_page_from_the_token_endpoint_is_the_network_error_graph_calls_give(fake, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    fake.expires_in = 60                                    # the next token is a silent refresh
    config = graph_config(fake, tmp_path)
    sign_in(fake, config)
    fake.garble("POST", r"/oauth2/v2.0/token", "html")
    with pytest.raises(SourceError) as info:
        MicrosoftAuth(config.sources[0], config, http_client=fake.session()).token(READ_SCOPES)
    assert not isinstance(info.value, AuthError) and str(info.value) == PORTAL
    assert not [r for r in caplog.records if r.exc_info], "MSAL's traceback stays out of the log and terminal"
    assert MicrosoftAuth(config.sources[0], config, http_client=fake.session()).token(READ_SCOPES)  # grant kept


def test_a_web_page_from_oidc_discovery_is_a_network_error_not_a_wrong_authority(fake, tmp_path):
    config = graph_config(fake, tmp_path)
    sign_in(fake, config)
    fake.garble("GET", r"openid-configuration", "html")
    with pytest.raises(SourceError) as info:
        MicrosoftAuth(config.sources[0], config, http_client=fake.session()).token(READ_SCOPES)
    assert not isinstance(info.value, ConfigError) and str(info.value) == PORTAL
    fake.garble("POST", r"/devicecode", "html")             # and while signing in
    with pytest.raises(SourceError, match="not from the Microsoft sign-in service"):
        run_microsoft_auth(config.sources[0], config, device_code=True, http_client=fake.session())


def test_an_authority_the_service_does_not_know_is_still_a_config_error(fake, tmp_path):
    config = graph_config(fake, tmp_path)
    sign_in(fake, config)
    wrong = dataclasses.replace(config.sources[0], authority=f"{fake.url}/no-such-tenant")     # discovery: 404
    with pytest.raises(ConfigError) as info:
        MicrosoftAuth(wrong, config, http_client=fake.session()).token(READ_SCOPES)
    assert str(info.value).startswith(f"outlook:work: authority '{fake.url}/no-such-tenant' is not usable (")
    assert str(info.value).endswith("— use https://login.microsoftonline.com/common, /organizations, /consumers "
                                    "or /<tenant id>")
