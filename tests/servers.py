"""Real servers on 127.0.0.1 for the connector tests: Dovecot, started as a subprocess, and Radicale, the
CalDAV server from PyPI, in a thread.

The fixture writes its own Dovecot 2.3 configuration into a fresh folder and runs `dovecot -F -c FILE`
there: a plain listener (which also offers STARTTLS) and a TLS one with a self-signed certificate made
by `openssl`, a static password for every user, Maildir homes, and a rawlog of every IMAP session (what
the client sent and what the server answered), so that tests can assert on the commands Kith sends.
SPECIAL-USE flags go to folders whose names say nothing (Outgoing is \\Sent, Unwanted \\Junk, Bin \\Trash),
so that a test can tell the flag's work from the name rules'. Each test takes a mailbox of its own with
`new_user()`.

Run as root (CI), Dovecot's own users do its work and the mail belongs to `nobody`, as Dovecot refuses
to hand mail to uid 0; run as anyone else, everything runs as that user ("rootless"). Without Dovecot
the tests fail and say how to install it: a connector test that skips itself in CI proves nothing.

Radicale runs per test, with its collections in the test's folder and users in an htpasswd file (plain
passwords, read again at every login), so two tests' accounts can have the same name and the same paths.
"""

from __future__ import annotations

import grp
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from imapclient import IMAPClient

PASSWORD = "secret"
INSTALL = "install it (Debian: apt-get install dovecot-imapd; .ci/run does this)"
CONFIG = """\
instance_name = kith-test-{port}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/tls/cert.pem
ssl_key = <{root}/tls/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain
auth_failure_delay = 0
first_valid_uid = {mail_uid}
default_internal_user = {internal_user}
default_login_user = {login_user}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
rawlog_dir = {root}/rawlog/%u
{rootless}namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
  }}
  mailbox Unwanted {{
    special_use = \\Junk
  }}
  mailbox Bin {{
    special_use = \\Trash
  }}
  mailbox Outgoing {{
    special_use = \\Sent
  }}
}}
"""


# Without root, the sockets that Dovecot's defaults give to its own group go to the runner's group instead.
ROOTLESS = """\
service stats {{
  unix_listener stats-writer {{
    group = {group}
  }}
}}
service imap-hibernate {{
  unix_listener imap-hibernate {{
    group = {group}
  }}
}}
service dict {{
  unix_listener dict {{
    group = {group}
  }}
}}
service dict-async {{
  unix_listener dict-async {{
    group = {group}
  }}
}}
"""


@dataclass
class Dovecot:
    """A running Dovecot: where it listens, and helpers to prepare mailboxes the way a mail client would."""

    root: Path
    config: Path
    port: int
    tls_port: int
    cert: Path
    mail_uid: int
    mail_gid: int
    host: str = "127.0.0.1"
    password: str = PASSWORD

    def new_user(self, prefix: str = "user") -> str:
        """A mailbox of its own for one test (users exist on first login), with its rawlog folder."""
        name = f"{prefix}{next(_numbers)}"
        rawlog = self.root / "rawlog" / name
        rawlog.mkdir(parents=True)
        os.chown(rawlog, self.mail_uid, self.mail_gid)
        return name

    def client(self, user: str) -> IMAPClient:
        """A logged-in client, as the test's own mail program (it may write; Kith's connector never does)."""
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        client.login(user, self.password)
        return client

    def sessions(self, user: str) -> set[Path]:
        """The rawlog files of the user's sessions so far: `<time>.<pid>.<n>.in` holds what a client sent."""
        return set((self.root / "rawlog" / user).glob("*.in"))

    def doveadm(self, *args: str) -> str:
        """Run `doveadm` against this instance (as the test runner; it switches to the mail user itself)."""
        done = subprocess.run([_binary("doveadm"), "-c", str(self.config), *args], capture_output=True,
                              text=True, timeout=30)
        if done.returncode != 0:
            raise AssertionError(f"doveadm {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def set_uidvalidity(self, user: str, folder: str, value: int) -> None:
        """Give a folder a new UIDVALIDITY, as a server does after its index was rebuilt."""
        self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(value), folder)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


_numbers = itertools.count(1)


def _binary(name: str) -> str:
    """A Dovecot program: on PATH, or in /usr/sbin, which is not on a normal user's PATH."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/usr/local/sbin")
    if found is None:
        pytest.fail(f"{name} is not installed: the IMAP tests need a real Dovecot — {INSTALL}", pytrace=False)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make_certificate(folder: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 and localhost (the tests trust it by name; Kith would not)."""
    folder.mkdir()
    subprocess.run([_binary("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    return folder / "cert.pem"


def _users() -> dict[str, object]:
    """Who runs what: Dovecot's own users and `nobody`'s mail as root; the test runner alone otherwise."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        return {"internal_user": "dovecot", "login_user": "dovenull", "mail_uid": nobody.pw_uid,
                "mail_gid": nobody.pw_gid, "rootless": ""}
    me = pwd.getpwuid(os.getuid())
    return {"internal_user": me.pw_name, "login_user": me.pw_name, "mail_uid": me.pw_uid, "mail_gid": me.pw_gid,
            "rootless": ROOTLESS.format(group=grp.getgrgid(os.getgid()).gr_name)}


def _wait_for_greeting(server: subprocess.Popen, port: int, root: Path) -> None:
    """Until the plain listener says `* OK`; a Dovecot that exits or stays silent fails the test with its log."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                if conn.recv(100).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)
    log = (root / "dovecot.log").read_text(errors="replace") if (root / "dovecot.log").exists() else ""
    output = server.stdout.read().decode(errors="replace") if server.poll() is not None and server.stdout else ""
    pytest.fail(f"Dovecot did not start on 127.0.0.1:{port}: {output} {log}".strip(), pytrace=False)


def start_dovecot(root: Path) -> tuple[Dovecot, subprocess.Popen]:
    """Write the configuration into `root`, check it with doveconf, start Dovecot and wait for it."""
    users = _users()
    for sub in ("home", "rawlog"):
        (root / sub).mkdir()
        os.chown(root / sub, users["mail_uid"], users["mail_gid"])
    cert = _make_certificate(root / "tls")
    port, tls_port = _free_port(), _free_port()
    config = root / "dovecot.conf"
    config.write_text(CONFIG.format(root=root, port=port, tls_port=tls_port, password=PASSWORD, **users))
    checked = subprocess.run([_binary("doveconf"), "-n", "-c", str(config)], capture_output=True, text=True,
                             timeout=30)
    if checked.returncode != 0:
        pytest.fail(f"Dovecot refuses the test configuration: {checked.stderr.strip()}", pytrace=False)
    server = subprocess.Popen([_binary("dovecot"), "-F", "-c", str(config)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    _wait_for_greeting(server, port, root)
    return Dovecot(root, config, port, tls_port, cert, users["mail_uid"], users["mail_gid"]), server


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One Dovecot for the test session; tests keep apart by each using mailboxes of their own."""
    root = Path(tempfile.mkdtemp(prefix="kith-dovecot-"))
    root.chmod(0o755)            # Dovecot's login and mail users must reach their folders inside it
    server = None
    try:
        instance, server = start_dovecot(root)
        yield instance
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- Radicale


@dataclass
class Radicale:
    """A running Radicale: its base URL and the users it knows (each with the password PASSWORD)."""

    url: str
    users_file: Path
    certificate: Path | None = None     # over https: the self-signed certificate it shows

    def new_user(self, name: str) -> str:
        with self.users_file.open("a") as users:
            users.write(f"{name}:{PASSWORD}\n")
        return name


@pytest.fixture
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    """A Radicale of the test's own on a free port of 127.0.0.1 (plain http), stopped after the test."""
    yield from _serve_radicale(tmp_path_factory.mktemp("radicale"), tls=False)


@pytest.fixture
def radicale_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    """The same over https, with a self-signed certificate for 127.0.0.1 (`certificate`)."""
    yield from _serve_radicale(tmp_path_factory.mktemp("radicale"), tls=True)


def _serve_radicale(root: Path, *, tls: bool) -> Iterator[Radicale]:
    import radicale.config
    import radicale.server
    users = root / "users"
    users.write_text("")
    port = _free_port()
    settings = {"server": {"hosts": f"127.0.0.1:{port}"},
                "storage": {"filesystem_folder": str(root / "collections")},
                "auth": {"type": "htpasswd", "htpasswd_filename": str(users), "htpasswd_encryption": "plain",
                         "delay": "0"},
                "logging": {"level": "warning"}}
    certificate = _make_certificate(root / "tls") if tls else None
    if certificate is not None:
        settings["server"].update({"ssl": "True", "certificate": str(certificate),
                                   "key": str(certificate.parent / "key.pem")})
    config = radicale.config.load([])
    config.update(settings, "kith-tests", privileged=True)
    shutdown, shutdown_out = socket.socketpair()
    thread = threading.Thread(target=radicale.server.serve, args=(config, shutdown_out), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or not thread.is_alive():
                pytest.fail(f"Radicale did not start on 127.0.0.1:{port}", pytrace=False)
            time.sleep(0.02)
    try:
        yield Radicale(f"{'https' if tls else 'http'}://127.0.0.1:{port}/", users, certificate)
    finally:
        shutdown.close()            # closing the socket stops serve()
        thread.join(10)


@contextmanager
def web_page() -> Iterator[str]:
    """A server on 127.0.0.1 that answers every request with a web page, as a Wi-Fi network's sign-in page
    does: its base URL."""
    import http.server

    class Page(http.server.BaseHTTPRequestHandler):
        def _page(self) -> None:
            body = b"<html><body>Please sign in to the hotel Wi-Fi</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PROPFIND = do_REPORT = do_OPTIONS = _page

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
