"""A test's own mailbox on the test Dovecot, the mail program that fills it, and the Kith source reading it."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

from imapclient import IMAPClient

from connectors.imap import ImapSource
from daemon import config as cfg
from tests.contract import BODY_MARKER
from tests.servers import Dovecot

ME = "me@home.example"


def message(n: int, *, sender: str = "anna@example.org", to: str = ME, subject: str = "",
            extra: str = "") -> bytes:
    """Message n: its own Message-ID, Date and subject, and the marker in its body (it must never come out)."""
    return (f"Message-ID: <m{n}@example.org>\r\nDate: Mon, {1 + n % 27} Jan 2026 10:{n % 60:02d}:00 +0100\r\n"
            f"From: Person {n} <{sender}>\r\nTo: {to}\r\nSubject: {subject or f'Topic {n}'}\r\n{extra}"
            f"Content-Type: text/plain\r\n\r\n{BODY_MARKER} body of message {n}\r\n").encode()


class Mailbox:
    """One user's mailbox: the test writes to it as a mail program would; Kith only reads it."""

    def __init__(self, server: Dovecot, folder: Path, *, seed_dir: Path | None = None) -> None:
        self.server, self.folder = server, folder
        self.user = server.new_user()
        self.seed_dir = seed_dir            # where appended messages are also written (the contract looks there)
        self.client: IMAPClient = server.client(self.user)

    def create(self, *folders: str, uidvalidity: int | None = None) -> None:
        """Folders made as a mail program makes them; with `uidvalidity`, numbered from it on (a fixed value
        makes ids the same in two mailboxes)."""
        for n, name in enumerate(folders):
            if name != "INBOX":
                self.client.create_folder(name)
            if uidvalidity is not None:
                self.server.set_uidvalidity(self.user, name, uidvalidity + n)

    def append(self, folder: str, n: int, *, flags: tuple[bytes, ...] = (), **headers: str) -> int:
        """Deliver message n into a folder; its UID."""
        data = message(n, **headers)
        if self.seed_dir is not None:
            self.seed_dir.mkdir(parents=True, exist_ok=True)
            (self.seed_dir / f"{folder.replace('/', '_')}-{n}.eml").write_bytes(data)
        answer = self.client.append(folder, data, flags=flags)
        return int(re.search(rb"APPENDUID \d+ (\d+)", answer)[1])

    def uidvalidity(self, folder: str) -> int:
        return self.client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"]

    def delete(self, folder: str, uid: int) -> None:
        """Delete and expunge one message, as a mail program does."""
        self.client.select_folder(folder)
        self.client.delete_messages([uid])
        self.client.expunge()
        self.client.unselect_folder()

    def move(self, folder: str, uid: int, to: str) -> int:
        """Move one message to another folder (IMAP MOVE); its new UID."""
        self.client.select_folder(folder)
        answer = self.client.move([uid], to)
        self.client.unselect_folder()
        found = re.search(rb"COPYUID \d+ \d+ (\d+)", answer or b"")
        return int(found[1]) if found else max(self._uids(to))

    def flags(self, folder: str) -> dict[int, tuple[bytes, ...]]:
        self.client.select_folder(folder, readonly=True)
        flags = self.client.get_flags(self.client.search("ALL"))
        self.client.unselect_folder()
        return flags

    def _uids(self, folder: str) -> list[int]:
        self.client.select_folder(folder, readonly=True)
        uids = self.client.search("ALL")
        self.client.unselect_folder()
        return uids

    def config_text(self, **keys: object) -> str:
        """A config with one imap source reading this mailbox (plain IMAP on 127.0.0.1, as tests may)."""
        values = {"type": "imap", "name": "mail", "host": self.server.host, "port": self.server.port,
                  "tls": False, "username": self.user, "password_file": "imap.password", **keys}
        lines = "\n".join(f"{name} = {_toml(value)}" for name, value in values.items() if value is not None)
        return f'[user]\naddresses = ["{ME}"]\n\n[[sources]]\n{lines}\n'

    def source(self, *, password: str | None = None, mode: int = 0o600, ssl_context: ssl.SSLContext | None = None,
               batch_size: int = 500, **keys: object) -> ImapSource:
        """The Kith source for this mailbox, its password in a file of `mode` (unless the keys say otherwise)."""
        secret = self.folder / "imap.password"
        secret.write_text((self.server.password if password is None else password) + "\n")
        secret.chmod(mode)
        config_path = self.folder / "config.toml"
        config_path.write_text(self.config_text(**keys))
        config = cfg.load(config_path)
        return ImapSource(config.sources[0], config, ssl_context=ssl_context, batch_size=batch_size)

    def close(self) -> None:
        try:
            self.client.logout()
        except Exception:  # noqa: BLE001 - a test that broke the connection on purpose
            pass


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
