"""The IMAP connector's failures are one line with the fix, and what it asks the server reads headers only:
no body is ever fetched, nothing marked read, nothing written."""

from __future__ import annotations

import ast
import re
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from daemon.errors import AuthError, SourceError
from daemon.sync import sync_source
from tests.connectors.imap_mailbox import Mailbox
from tests.contract import BODY_MARKER, pull
from tests.servers import Dovecot, dovecot  # noqa: F401 - the session's Dovecot
from tests.test_sync import dump

READ_ONLY_COMMANDS = {"CAPABILITY", "LIST", "NAMESPACE", "EXAMINE", "UID SEARCH", "UID FETCH", "LOGOUT"}
WRITING_METHODS = {"append", "multiappend", "store", "add_flags", "remove_flags", "set_flags", "add_gmail_labels",
                   "set_gmail_labels", "remove_gmail_labels", "expunge", "uid_expunge", "delete_messages", "move",
                   "copy", "create_folder", "delete_folder", "rename_folder", "subscribe_folder",
                   "unsubscribe_folder", "setquota", "set_quota", "_raw_command", "_command_and_check"}
CONNECTOR = Path(__file__).resolve().parents[2] / "connectors"


@pytest.fixture
def mailbox(dovecot: Dovecot, tmp_path: Path):  # noqa: F811
    box = Mailbox(dovecot, tmp_path)
    box.append("INBOX", 1)
    yield box
    box.close()


def failure(source) -> SourceError:
    """The error a sync of `source` meets; it must be one line."""
    with pytest.raises(SourceError) as info:
        source.check()
        list(source.pull(None))
    assert "\n" not in info.value.line() and "Traceback" not in info.value.line()
    return info.value


# ---------------------------------------------------------------- the password


def test_a_wrong_password_is_one_line_naming_the_server_and_the_fix(mailbox, db):
    error = failure(mailbox.source(password="wrong"))
    assert isinstance(error, AuthError) and error.exit_code == 4
    assert f"refused the login of {mailbox.user} ([AUTHENTICATIONFAILED] Authentication failed.)" in error.line()
    assert "kith auth imap --source mail" in error.line() and "app password" in error.line()
    result = sync_source(db, mailbox.source(password="wrong"))
    assert result.error == error.line() and "wrong" not in result.error


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_password_file_others_may_open_is_refused_before_connecting(mailbox, mode):
    before = mailbox.server.sessions(mailbox.user)
    error = failure(mailbox.source(mode=mode))
    path = mailbox.folder / "imap.password"
    assert error.line() == (f"imap:mail: the password file {path} can be read or changed by other users "
                            f"(mode {mode:04o}) — run `chmod 600 {path}`")
    assert mailbox.server.sessions(mailbox.user) == before


def test_a_missing_or_empty_password_file_says_how_to_make_one(mailbox):
    source = mailbox.source(password_file="nowhere.password")
    assert "no password file at" in failure(source).line()
    assert "run `kith auth imap --source mail`" in failure(source).line()
    source = mailbox.source(password="")
    assert "is empty" in failure(source).line()


def test_the_default_password_file_is_in_the_state_directory(mailbox, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    error = failure(mailbox.source(password_file=None))
    assert f"no password file at {tmp_path / 'state' / 'kith' / 'imap-mail.password'}" in error.line()


def test_the_password_may_come_from_an_environment_variable(mailbox, monkeypatch):
    monkeypatch.setenv("KITH_TEST_IMAP", mailbox.server.password)
    state, _, _ = pull(mailbox.source(password_file=None, password_env="KITH_TEST_IMAP"), None)
    assert len(state) == 1
    monkeypatch.delenv("KITH_TEST_IMAP")
    error = failure(mailbox.source(password_file=None, password_env="KITH_TEST_IMAP"))
    assert "the environment variable KITH_TEST_IMAP (password_env) is not set" in error.line()


# ---------------------------------------------------------------- the connection


def test_a_port_nobody_listens_on_is_one_line(mailbox):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]                  # bound, not listening: the connection is refused
        error = failure(mailbox.source(port=port))
        starttls = failure(mailbox.source(port=port, starttls=True))
    assert error.line() == (f"imap:mail: 127.0.0.1:{port} refused the connection — check host and port "
                            "(993 is IMAP over TLS)")
    assert starttls.line().endswith("(143 is plain IMAP, switched to TLS by starttls)")     # review 27


def test_a_host_that_does_not_exist_is_one_line(mailbox):
    error = failure(mailbox.source(host="kith-test.invalid", tls=True))
    assert "cannot find the server kith-test.invalid" in error.line() and "check host" in error.line()


def test_tls_to_a_port_that_speaks_plain_imap_is_one_line(mailbox):
    error = failure(mailbox.source(tls=True))
    assert error.line().startswith(f"imap:mail: TLS with 127.0.0.1:{mailbox.server.port} failed (")
    assert "993 is IMAP over TLS" in error.line()


def test_a_certificate_the_system_does_not_trust_is_one_line(mailbox):
    error = failure(mailbox.source(tls=True, port=mailbox.server.tls_port))
    assert "the TLS certificate of 127.0.0.1" in error.line()
    assert "not trusted (self-signed certificate)" in error.line()
    assert "name its certificate in ca_file" in error.line()


def test_tls_works_with_a_trusted_certificate(mailbox):
    trusted = ssl.create_default_context(cafile=str(mailbox.server.cert))
    state, _, _ = pull(mailbox.source(tls=True, port=mailbox.server.tls_port, ssl_context=trusted), None)
    assert len(state) == 1


def test_ca_file_trusts_a_server_of_your_own_and_nothing_else(mailbox, tmp_path):
    """The self-signed certificate named in ca_file (relative to the config) is trusted, and only it: a
    certificate the system trusts is no longer enough, as the server's must be the one named."""
    (mailbox.folder / "server.pem").write_bytes(mailbox.server.cert.read_bytes())
    state, _, _ = pull(mailbox.source(tls=True, port=mailbox.server.tls_port, ca_file="server.pem"), None)
    assert len(state) == 1
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "2", "-subj", "/CN=localhost", "-keyout", str(other / "key.pem"),
                    "-out", str(mailbox.folder / "other.pem")], check=True, capture_output=True, timeout=60)
    error = failure(mailbox.source(tls=True, port=mailbox.server.tls_port, ca_file="other.pem"))
    assert "the TLS certificate of 127.0.0.1" in error.line() and "not trusted" in error.line()


def test_starttls_on_the_plain_port_checks_the_certificate_and_reads_the_mailbox(mailbox):
    """Dovecot's plain listener offers STARTTLS: the connection is encrypted before the login, with the same
    certificate check as port 993 (the self-signed certificate is refused until ca_file names it)."""
    error = failure(mailbox.source(starttls=True))
    assert "the TLS certificate of 127.0.0.1" in error.line() and "not trusted" in error.line()
    broken = failure(mailbox.source(starttls=True, port=mailbox.server.tls_port))   # TLS at once: no plain greeting
    assert "with starttls, the plain IMAP port: usually 143" in broken.line()
    (mailbox.folder / "server.pem").write_bytes(mailbox.server.cert.read_bytes())
    state, _, _ = pull(mailbox.source(starttls=True, ca_file="server.pem"), None)
    assert len(state) == 1
    assert "TLS" in mailbox.server.log() and "user=<" + mailbox.user + ">" in mailbox.server.log()


def test_a_server_without_starttls_is_never_sent_the_password(mailbox, tmp_path):
    """A server (or someone in the way) that offers no STARTTLS gets no LOGIN: one line says why."""
    listener = socket.create_server(("127.0.0.1", 0))
    port, heard = listener.getsockname()[1], []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] plain only\r\n")
            for line in lines:
                heard.append(line.decode())
                tag, command = line.split(b" ", 2)[:2]
                if command.upper() == b"LOGOUT":
                    conn.sendall(b"* BYE\r\n" + tag + b" OK bye\r\n")
                    break
                conn.sendall(tag + b" OK done\r\n")

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    error = failure(mailbox.source(starttls=True, port=port))
    server.join(10)
    listener.close()
    assert error.line() == (f"imap:mail: 127.0.0.1:{port} does not offer STARTTLS, so your password was not sent — "
                            "remove starttls and use the server's TLS port (993), as your provider documents it")
    assert not any("LOGIN" in line.upper() or mailbox.server.password in line for line in heard), heard


def test_a_ca_file_that_is_no_certificate_is_one_line_before_connecting(mailbox):
    (mailbox.folder / "server.pem").write_text("-----BEGIN NOTHING-----\n")
    error = failure(mailbox.source(tls=True, port=mailbox.server.tls_port, ca_file="server.pem"))
    assert error.line() == (f"imap:mail: {mailbox.folder / 'server.pem'} (ca_file) holds no certificate in PEM form "
                            "— point ca_file at the server's certificate (or its authority's) in PEM form, the text "
                            "file that starts with -----BEGIN CERTIFICATE-----")


# ---------------------------------------------------------------- reading only


def commands_sent(session: Path) -> list[str]:
    """The commands of one rawlog session, without tags: `UID FETCH 1:3 (…)`."""
    for _ in range(50):                            # the server writes the log as the session ends
        text = session.read_text(errors="replace")
        if "LOGOUT" in text:
            break
        time.sleep(0.05)
    return [line.split(" ", 2)[2] for line in text.splitlines() if line.count(" ") >= 2]


def test_only_headers_are_read_nothing_is_marked_read_and_nothing_is_written(mailbox, db):
    mailbox.create("Archive", "Drafts")
    uid = mailbox.append("INBOX", 2)
    mailbox.append("Archive", 3)
    mailbox.append("Drafts", 4)
    before = mailbox.server.sessions(mailbox.user)
    sync_source(db, mailbox.source(batch_size=2))
    mailbox.append("INBOX", 5)
    mailbox.delete("INBOX", uid)
    mailbox.move("Archive", 1, "INBOX")
    sync_source(db, mailbox.source(batch_size=2))
    sessions = sorted(mailbox.server.sessions(mailbox.user) - before)
    commands = [c for session in sessions for c in commands_sent(session)]
    assert len(sessions) == 2 and commands
    verbs = {re.match(r"(UID \w+|\w+)", c)[1].upper() for c in commands}
    assert verbs <= READ_ONLY_COMMANDS, verbs - READ_ONLY_COMMANDS      # EXAMINE, never SELECT; no STORE …
    fetches = [c for c in commands if c.upper().startswith("UID FETCH")]
    assert fetches and all(re.fullmatch(r"UID FETCH [\d,:]+ \(FLAGS INTERNALDATE BODY\.PEEK\[HEADER\.FIELDS "
                                        r"\([A-Z\- ]+\)\]\)", c) for c in fetches), fetches
    assert not any(word in c.upper() for c in commands for word in ("RFC822", "BODY[", "BINARY", "TEXT]"))
    for folder in ("INBOX", "Archive", "Drafts"):
        assert all(b"\\Seen" not in flags for flags in mailbox.flags(folder).values())
    assert BODY_MARKER not in str(dump(db))
    assert {r[0] for r in db.execute("SELECT message_id FROM messages")} == {
        "m1@example.org", "m3@example.org", "m5@example.org"}         # 2 deleted, 3 moved, the draft never read


def test_the_connector_calls_no_client_method_that_writes_and_selects_read_only():
    """What the rawlog shows for one run, the code shows for every run: no call on the client can write."""
    calls = [node for path in sorted(CONNECTOR.glob("imap*.py")) for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
             and isinstance(node.func.value, ast.Name) and node.func.value.id == "client"]
    assert {c.func.attr for c in calls} == {"search", "fetch", "select_folder", "list_folders", "has_capability",
                                            "namespace", "starttls", "login", "logout"}
    assert not {c.func.attr for c in calls} & WRITING_METHODS
    selects = [c for c in calls if c.func.attr == "select_folder"]
    assert selects and all(any(k.arg == "readonly" and getattr(k.value, "value", None) is True for k in c.keywords)
                           for c in selects)
