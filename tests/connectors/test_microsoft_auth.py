"""Microsoft sign-in with the real msal library against a fake authority on 127.0.0.1 (TLS)."""

from __future__ import annotations

import dataclasses
import json
import logging
import stat
import sys
from urllib.parse import parse_qsl

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


# ---------------------------------------------------------------- a second app for putting the digest in the inbox

def delivery_config(fake, tmp_path, **keys):
    return graph_config(fake, tmp_path, deliver=("file", "outlook"), delivery_client_id=fake.delivery_client_id,
                        **keys)


def test_with_a_delivery_app_the_sync_asks_to_read_only_and_the_delivery_app_to_write_only(fake, tmp_path):
    config = delivery_config(fake, tmp_path)
    assert scopes_for(config) == ["Mail.ReadBasic", "Calendars.ReadBasic"]
    assert scopes_for(config, delivery=True) == ["Mail.ReadWrite"]
    calendar = parse(f'[digest]\ndeliver = ["outlook"]\n[[sources]]\ntype = "outlook"\nname = "m"\nclient_id = "a"\n'
                     f'delivery_client_id = "b"\n[[sources]]\ntype = "outlook_calendar"\nname = "c"\nclient_id = "a"\n',
                     tmp_path / "two.toml")
    assert scopes_for(calendar) == ["Mail.ReadBasic", "Calendars.ReadBasic"]     # the calendar's sign-in too
    later = parse(f'[digest]\ndeliver = ["outlook"]\n[[sources]]\ntype = "outlook"\nname = "m"\nclient_id = "a"\n'
                  f'[[sources]]\ntype = "outlook"\nname = "n"\nclient_id = "c"\ndelivery_client_id = "b"\n',
                  tmp_path / "three.toml")
    assert "Mail.ReadWrite" in scopes_for(later)        # the digest goes through "m", which has no delivery app


def test_the_delivery_sign_in_asks_its_own_app_for_mail_readwrite_into_its_own_cache(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = delivery_config(fake, tmp_path)
    path = run_microsoft_auth(config.sources[0], config, device_code=True, http_client=fake.session(), delivery=True)
    assert path == tmp_path / "state" / "kith" / "msal-work-delivery.bin" == cache_path(config.sources[0], config,
                                                                                          delivery=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and not (tmp_path / "msal-work.bin").exists()
    (device,) = [dict(parse_qsl(r.body)) for r in fake.requests if r.path.endswith("/devicecode")]
    assert device["client_id"] == fake.delivery_client_id
    assert set(device["scope"].split()) - {"openid", "profile", "offline_access"} == {"Mail.ReadWrite"}
    assert fake.consents == {fake.delivery_client_id: {"Mail.ReadWrite"}}
    cached = json.loads(path.read_text())
    assert {t["client_id"] for t in cached["AccessToken"].values()} == {fake.delivery_client_id}
    moved = delivery_config(fake, tmp_path, delivery_token_cache="tokens/delivery.bin")
    assert cache_path(moved.sources[0], moved, delivery=True) == tmp_path / "tokens" / "delivery.bin"


def test_a_delivery_cache_that_is_the_sync_cache_is_one_line(fake, tmp_path):
    config = delivery_config(fake, tmp_path, delivery_token_cache=str(tmp_path / "msal-work.bin"))
    with pytest.raises(ConfigError) as info:
        MicrosoftAuth(config.sources[0], config, delivery=True)
    assert str(info.value) == (f"{tmp_path / 'config.toml'}: source 'work': delivery_token_cache is the sync's token "
                               f"cache ({tmp_path / 'msal-work.bin'}) — name another file, or remove "
                               "delivery_token_cache to keep it in the state directory")


def test_signing_in_for_delivery_without_a_delivery_app_is_one_line(fake, tmp_path):
    config = graph_config(fake, tmp_path, deliver=("file", "outlook"))
    with pytest.raises(ConfigError) as info:
        run_microsoft_auth(config.sources[0], config, device_code=True, http_client=fake.session(), delivery=True)
    assert str(info.value).startswith(f"{tmp_path / 'config.toml'}: source 'work' has no delivery_client_id — "
                                      "register a second app for delivery")
    assert "\n" not in str(info.value) and fake.requests == []


def test_a_failed_delivery_sign_in_names_the_delivery_command(fake, tmp_path):
    fake.device_error = "authorization_declined"
    config = delivery_config(fake, tmp_path)
    with pytest.raises(AuthError) as info:
        run_microsoft_auth(config.sources[0], config, device_code=True, http_client=fake.session(), delivery=True)
    assert str(info.value).startswith("outlook:work: sign-in for digest delivery (delivery_client_id) failed (")
    assert "— run `kith auth microsoft --source work --delivery` again, or without --device-code" in str(info.value)


def test_an_app_the_authority_does_not_know_is_refused(fake, tmp_path):
    """The fake refuses client ids it does not know, as Entra does: the delivery app's id really is sent."""
    config = graph_config(fake, tmp_path, deliver=("file", "outlook"), delivery_client_id="not-registered")
    with pytest.raises(AuthError, match="AADSTS700016"):
        run_microsoft_auth(config.sources[0], config, device_code=True, http_client=fake.session(), delivery=True)


# ---------------------------------------------------------------- `kith auth microsoft` on the command line

def write_config(fake, tmp_path, *, delivery_app: bool, calendar: bool = False) -> str:
    lines = ['[user]', 'addresses = ["me@example.com"]', '[digest]', 'deliver = ["file", "outlook"]',
             '[[sources]]', 'type = "outlook"', 'name = "work"', f'client_id = "{fake.client_id}"',
             f'authority = "{fake.authority}"', f'graph_endpoint = "{fake.url}"']
    lines += [f'delivery_client_id = "{fake.delivery_client_id}"'] if delivery_app else []
    if calendar:
        lines += ['[[sources]]', 'type = "outlook_calendar"', 'name = "cal"', f'client_id = "{fake.client_id}"',
                  f'authority = "{fake.authority}"', f'graph_endpoint = "{fake.url}"']
    (tmp_path / "config.toml").write_text("\n".join(lines) + "\n")
    return str(tmp_path / "config.toml")


@pytest.fixture
def kith(fake, monkeypatch):
    from click.testing import CliRunner

    from daemon.cli import cli
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_file)      # MSAL's own session trusts the fake
    return lambda config, *args: CliRunner().invoke(cli, ["--config", config, "auth", "microsoft", *args])


def scopes_asked(fake) -> list[set[str]]:
    return [set(dict(parse_qsl(r.body))["scope"].split()) for r in fake.requests if r.path.endswith("/devicecode")]


def test_kith_auth_microsoft_with_a_delivery_app_signs_in_each_app_for_its_own_scopes(fake, tmp_path, kith):
    config = write_config(fake, tmp_path, delivery_app=True)
    first = kith(config, "--source", "work", "--device-code")
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[-1] == ("work: the digest goes into your inbox through a second app "
                                             "(delivery_client_id): sign it in too with "
                                             "`kith auth microsoft --source work --delivery`.")
    assert "Mail.ReadWrite" not in first.output
    second = kith(config, "--delivery", "--device-code")
    assert second.exit_code == 0, second.output
    assert second.stdout.startswith(f"work: signed in for digest delivery (Mail.ReadWrite only, app "
                                    f"{fake.delivery_client_id}); token cache saved to ")
    assert "msal-work-delivery.bin" in second.stdout
    again = kith(config, "--device-code")                      # both signed in: nothing more to say
    assert again.exit_code == 0 and len(again.stdout.splitlines()) == 1
    assert again.stdout.startswith("work: signed in; token cache saved to ") and "Mail.ReadWrite" not in again.stderr
    assert [s - {"openid", "profile", "offline_access"} for s in scopes_asked(fake)] == [
        {"Mail.ReadBasic", "Calendars.ReadBasic"}, {"Mail.ReadWrite"}, {"Mail.ReadBasic", "Calendars.ReadBasic"}]
    assert fake.consents[fake.client_id] == {"Mail.ReadBasic", "Calendars.ReadBasic"}


def test_kith_auth_microsoft_without_a_delivery_app_says_once_that_the_sync_can_write(fake, tmp_path, kith):
    config = write_config(fake, tmp_path, delivery_app=False, calendar=True)
    done = kith(config, "--device-code")
    assert done.exit_code == 0, done.output
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == ["work", "cal"]
    notes = [line for line in done.stderr.splitlines() if "Mail.ReadWrite" in line]
    assert len(notes) == 1 and "the token the sync uses can read and change your mail too" in notes[0]
    assert "set delivery_client_id on source 'work'" in notes[0]
    assert all("Mail.ReadWrite" in s for s in scopes_asked(fake))               # today's behaviour, kept


def test_kith_auth_microsoft_delivery_without_a_delivery_app_is_one_line(fake, tmp_path, kith):
    from daemon.errors import UsageError
    config = write_config(fake, tmp_path, delivery_app=False)
    done = kith(config, "--delivery")
    assert isinstance(done.exception, UsageError) and done.exception.exit_code == 2
    assert str(done.exception) == (f"{tmp_path / 'config.toml'}: no outlook source has a delivery_client_id — "
                                   "register a second app for delivery (README: Microsoft 365, \"Digest in your "
                                   "Outlook inbox\") and set delivery_client_id = \"…\" on the outlook source")
    assert fake.requests == []


def test_moving_to_a_delivery_app_says_while_the_sync_app_still_holds_mail_readwrite(fake, tmp_path, kith):
    """Consent outlives the config: after delivery_client_id is added, the first app's tokens still carry the
    Mail.ReadWrite consented to before, until the user revokes that consent."""
    kith(write_config(fake, tmp_path, delivery_app=False), "--device-code")     # delivery through the one app
    config = write_config(fake, tmp_path, delivery_app=True)
    held = kith(config, "--source", "work", "--device-code")
    assert held.exit_code == 0, held.output
    notes = [line for line in held.stderr.splitlines() if line.startswith("kith: ")]
    assert notes == ["kith: work: the app the sync uses still holds Mail.ReadWrite, consented to earlier, so its "
                     "tokens can still read and change your mail: revoke that consent (README: Microsoft 365, "
                     "\"Digest in your Outlook inbox\") and run `kith auth microsoft --source work` again."]
    fake.consents[fake.client_id].discard("Mail.ReadWrite")                   # revoked in My Apps
    clean = kith(config, "--source", "work", "--device-code")
    assert clean.exit_code == 0 and "Mail.ReadWrite" not in clean.stderr
