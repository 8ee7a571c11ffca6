"""An IMAP source from the command line: `kith auth imap` keeps the password, `kith sync` and `kith status`
report the source as they report the others, and a refused login is one line with exit code 4."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.connectors.imap_mailbox import Mailbox
from tests.servers import Dovecot, dovecot  # noqa: F401 - the session's Dovecot
from tests.test_cli import run_kith


@pytest.fixture
def mailbox(dovecot: Dovecot, tmp_path: Path):  # noqa: F811
    box = Mailbox(dovecot, tmp_path)
    box.create("Outgoing")
    box.append("INBOX", 1)
    box.append("Outgoing", 2, sender="me@home.example", to="anna@example.org")
    yield box
    box.close()


def write_config(mailbox: Mailbox, tmp_path: Path, **keys: object) -> Path:
    """The mailbox's source with its password in the default place (`kith auth imap` writes it)."""
    path = tmp_path / "config.toml"
    path.write_text(mailbox.config_text(**{"password_file": None, **keys})
                    + f'\n[storage]\ndatabase = "{tmp_path / "kith.db"}"\n')
    return path


def test_auth_keeps_the_password_readable_by_the_user_only_then_sync_and_status_report_the_source(
        mailbox, tmp_path):
    config = write_config(mailbox, tmp_path)
    done = run_kith("--config", str(config), "auth", "imap", "--source", "mail", input=mailbox.server.password + "\n")
    assert done.returncode == 0, done.stderr
    kept = Path(done.stdout.split("password kept in ")[1].split(" (readable")[0])
    assert kept.name == "imap-mail.password" and kept.read_text() == mailbox.server.password + "\n"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    synced = run_kith("--config", str(config), "sync")
    assert synced.returncode == 0, synced.stderr
    assert synced.stdout == "imap:mail: 2 new messages\n"
    assert run_kith("--config", str(config), "sync").stdout == "imap:mail: nothing new\n"
    status = run_kith("--config", str(config), "status")
    assert "  imap:mail: last sync " in status.stdout and ", 2 messages, 0 events" in status.stdout
    report = json.loads(run_kith("--config", str(config), "status", "--json").stdout)
    (source,) = report["sources"]
    assert (source["source"], source["messages"], source["last_error"]) == ("imap:mail", 2, None)
    own = {o["address"]: o["in_mail"] for o in report["own_addresses"]}
    assert own == {"me@home.example": True}


def test_auth_refuses_to_keep_a_password_the_server_refuses(mailbox, tmp_path):
    config = write_config(mailbox, tmp_path)
    done = run_kith("--config", str(config), "auth", "imap", input="wrong\n")
    assert done.returncode == 4
    assert done.stderr.strip().splitlines()[-1].startswith("kith: imap:mail: 127.0.0.1:")
    assert "[AUTHENTICATIONFAILED]" in done.stderr and "Traceback" not in done.stderr
    assert not (Path(os.environ["XDG_STATE_HOME"]) / "kith" / "imap-mail.password").exists()


def test_a_refused_login_during_sync_is_one_line_and_shown_by_status(mailbox, tmp_path):
    config = write_config(mailbox, tmp_path, password_file="imap.password")
    (tmp_path / "imap.password").write_text("wrong\n")
    (tmp_path / "imap.password").chmod(0o600)
    done = run_kith("--config", str(config), "sync")
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr.startswith("imap:mail: failed: 127.0.0.1:") and done.stderr.count("\n") == 1
    assert "refused the login" in done.stderr and "app password" in done.stderr
    status = run_kith("--config", str(config), "status").stdout
    assert "imap:mail: last sync never" in status and "failing (1 time in a row): imap:mail: " in status
