"""A CalDAV source from the command line: `kith auth caldav` keeps the password, `kith sync` and `kith status`
report the source as they report the others, a refused login is one line with exit code 4, and the config
refuses a url that would expose the password."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.connectors.caldav_account import ME, Account, event
from tests.servers import PASSWORD, Radicale, radicale  # noqa: F401 - a Radicale per test
from tests.test_cli import run_kith


@pytest.fixture
def account(radicale: Radicale, tmp_path: Path) -> Account:  # noqa: F811
    account = Account(radicale, tmp_path)
    account.calendar("Work")
    account.put("Work", event("call@x", summary="Roadmap", organizer="bob@example.org", attendees=(ME,)))
    account.put("Work", event("weekly@x", start="20260105T090000Z", rrule="FREQ=WEEKLY;COUNT=2"))
    return account


def write_config(account: Account, tmp_path: Path, **keys: object) -> Path:
    """The account's source with its password in the default place (`kith auth caldav` writes it)."""
    path = tmp_path / "config.toml"
    path.write_text(account.config_text(**{"password_file": None, **keys})
                    + f'\n[storage]\ndatabase = "{tmp_path / "kith.db"}"\n')
    return path


def test_auth_keeps_the_password_readable_by_the_user_only_then_sync_and_status_report_the_source(
        account, tmp_path):
    config = write_config(account, tmp_path)
    done = run_kith("--config", str(config), "auth", "caldav", "--source", "cal", input=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    kept = Path(done.stdout.split("password kept in ")[1].split(" (readable")[0])
    assert kept.name == "caldav-cal.password" and kept.read_text() == PASSWORD + "\n"
    assert "Warning" not in done.stderr and "read from standard input" in done.stderr     # piped: no getpass noise
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    synced = run_kith("--config", str(config), "sync")
    assert synced.returncode == 0, synced.stderr
    assert synced.stdout == "caldav:cal: 3 new events\n"
    assert run_kith("--config", str(config), "sync").stdout == "caldav:cal: nothing new\n"
    report = json.loads(run_kith("--config", str(config), "status", "--json").stdout)
    (source,) = report["sources"]
    assert (source["source"], source["events"], source["last_error"]) == ("caldav:cal", 3, None)


def test_auth_refuses_to_keep_a_password_the_server_refuses(account, tmp_path):
    config = write_config(account, tmp_path)
    done = run_kith("--config", str(config), "auth", "caldav", input="wrong\n")
    assert done.returncode == 4
    assert done.stderr.strip().splitlines()[-1].startswith(f"kith: caldav:cal: {account.server.url} refused the login")
    assert "Traceback" not in done.stderr
    assert not (Path(os.environ["XDG_STATE_HOME"]) / "kith" / "caldav-cal.password").exists()


def test_auth_keeps_no_password_a_web_page_never_checked(tmp_path):
    """A url that answers with a web page (a Wi-Fi sign-in page) checks no password: it is not kept."""
    from tests.servers import web_page
    config = tmp_path / "config.toml"
    with web_page() as url:
        config.write_text(f'[[sources]]\ntype = "caldav"\nname = "cal"\nurl = "{url}"\nusername = "alice"\n')
        done = run_kith("--config", str(config), "auth", "caldav", input="secret\n")
    assert "did not answer as a CalDAV server" in done.stderr and "Traceback" not in done.stderr
    assert "password kept" not in done.stdout


def test_a_refused_login_during_sync_is_one_line_and_shown_by_status(account, tmp_path):
    config = write_config(account, tmp_path, password_file="caldav.password")
    (tmp_path / "caldav.password").write_text("wrong\n")
    (tmp_path / "caldav.password").chmod(0o600)
    done = run_kith("--config", str(config), "sync")
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr.startswith(f"caldav:cal: failed: {account.server.url} refused the login of alice")
    assert done.stderr.count("\n") == 1 and "kith auth caldav --source cal" in done.stderr
    status = run_kith("--config", str(config), "status").stdout
    assert "failing (1 time in a row): caldav:cal: " in status


@pytest.mark.parametrize(("keys", "expected"), [
    ({"url": None}, "sources[0] (caldav) has no url — add url = \"https://caldav.fastmail.com/dav/\""),
    ({"url": "http://caldav.example.org/dav/"}, "sources[0].url 'http://caldav.example.org/dav/' would send your "
                                                 "password unencrypted"),
    ({"url": "https://alice:hunter2@caldav.example.org/"}, "sources[0].url holds a login (not repeated here"),
    ({"url": "caldav.example.org"}, "sources[0].url 'caldav.example.org' is not an http(s) URL"),
    ({"url": "alice:hunter2@caldav.example.org/dav/"}, "sources[0].url holds a login (not repeated here"),
    ({"url": "https//alice:hunter2@caldav.example.org/"}, "sources[0].url holds a login (not repeated here"),
    ({"password": "hunter2"}, "a password is never written in the config — remove it, and run `kith auth caldav`"),
    ({"password_env": "hunter2 "}, "sources[0].password_env is not the name of an environment variable"),
])
def test_config_mistakes_are_one_line_and_never_repeat_a_password(tmp_path, keys, expected):
    values = {"type": "caldav", "name": "cal", "url": "https://caldav.example.org/dav/", "username": "alice", **keys}
    lines = "\n".join(f'{k} = "{v}"' for k, v in values.items() if v is not None)
    config = tmp_path / "config.toml"
    config.write_text(f"[[sources]]\n{lines}\n")
    done = run_kith("--config", str(config), "sync")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert expected in done.stderr
    assert "hunter2" not in done.stderr


def test_auth_of_the_wrong_kind_names_the_right_command(account, tmp_path):
    config = write_config(account, tmp_path)
    done = run_kith("--config", str(config), "auth", "imap", "--source", "cal")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "source 'cal' is a caldav source, not an IMAP one" in done.stderr
    assert "run `kith auth caldav --source cal`" in done.stderr


def test_forget_of_a_removed_source_deletes_the_password_kept_for_it(account, tmp_path):
    config = write_config(account, tmp_path)
    assert run_kith("--config", str(config), "auth", "caldav", input=PASSWORD + "\n").returncode == 0
    assert run_kith("--config", str(config), "sync").returncode == 0
    kept = Path(os.environ["XDG_STATE_HOME"]) / "kith" / "caldav-cal.password"
    assert kept.exists()
    config.write_text(f'[user]\naddresses = ["{ME}"]\n\n[storage]\ndatabase = "{tmp_path / "kith.db"}"\n')
    done = run_kith("--config", str(config), "forget", "caldav:cal")
    assert done.returncode == 0 and f"Its password file {kept} was deleted." in done.stdout
    assert not kept.exists()
