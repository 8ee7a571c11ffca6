"""A local fake of Microsoft Graph and of a Microsoft identity authority, on 127.0.0.1.

One `ThreadingHTTPServer` on port 0 answers both the MSAL side (OIDC discovery,
token endpoint with authorization_code / refresh_token / device_code grants,
device-code endpoint) and the Graph side (mail folders, message delta per
folder, calendar view delta, create message in the inbox). Like Entra, the
authority knows its app registrations (`clients`: the sync's and a delivery
one), keeps consent per app, and puts every scope consented to for an app into
each of its access tokens, whatever the request asked for. MSAL refuses
`http://` authorities, so the server speaks TLS with a throw-away self-signed
certificate; `session()` returns a `requests.Session` that trusts it.

Responses are shaped like Graph's: `value`, `@odata.nextLink`, `@odata.deltaLink`,
`@removed`, error bodies `{"error": {"code", "message"}}`. Every request is
recorded in `requests`, so tests can assert what was (and was not) asked.
Delta passes are snapshots held server-side; delta tokens remember the change
sequence number they were issued at, and `expire_delta_tokens()` makes old ones
fail as 400 `syncStateNotFound` (or another code, e.g. the PascalCase
`SyncStateNotFound` real Graph sends) or as 410 Gone with a Location header.
`garble()` spoils answers on the wire: a body cut off mid-way (the connection
drops) or an HTML page with status 200 (a captive portal or proxy). This module
holds the server and its state; the answers are in `tests.fakes.graph_routes`.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import re
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import requests

from tests.fakes.graph_routes import TENANT, UID, WELL_KNOWN, Folder, Seen, route


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost; returns (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kith-fake-graph")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "fake-graph.pem", directory / "fake-graph.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def message(n: int, *, sender: str = "anna@example.com", to: tuple[str, ...] = ("me@example.com",),
            subject: str = "", at: str = "", **extra: Any) -> dict:
    """A Graph message resource with every field, body included (projection drops it)."""
    address = lambda a: {"emailAddress": {"name": a.split("@")[0].title(), "address": a}}  # noqa: E731
    stamp = at or (dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": f"AAMkMSG{n:07d}=", "internetMessageId": f"<m{n}@example.com>", "conversationId": f"AAQkC{n % 97}",
            "sentDateTime": stamp, "receivedDateTime": stamp, "subject": subject or f"Subject {n}",
            "from": address(sender), "sender": address(sender), "toRecipients": [address(a) for a in to],
            "ccRecipients": [], "isDraft": False, "isRead": True, "inferenceClassification": "focused",
            "categories": [], "importance": "normal", "body": {"contentType": "html", "content": "<p>SECRET BODY</p>"},
            "bodyPreview": "SECRET PREVIEW", "uniqueBody": {"contentType": "html", "content": "SECRET"}, **extra}


class FakeGraph:
    """The server and its state; use as a context manager."""

    def __init__(self, directory: Path | None = None, *, client_id: str = "kith-test-client",
                 delivery_client_id: str = "kith-test-delivery", user: str = "me@example.com") -> None:
        self._tmp = None if directory else tempfile.TemporaryDirectory()
        self.directory = Path(directory or self._tmp.name)
        self.client_id, self.delivery_client_id, self.user = client_id, delivery_client_id, user
        self.clients = {client_id, delivery_client_id}       # the app registrations the authority knows
        self.requests: list[Seen] = []
        self.lock = threading.RLock()
        self.seq = 0
        self.changes: list[tuple[int, str, str]] = []        # (seq, scope, id): scope = folder id or "calendar"
        self.folders: dict[str, Folder] = {}
        self.events: dict[str, dict] = {}
        self.passes: dict[str, tuple[list[dict], str]] = {}  # pass id -> (items, deltaLink at the end)
        self.tokens: dict[str, tuple[int, Any]] = {}         # delta token -> (seq, context)
        self.expired: dict[str, str] = {}                    # delta token -> error code (400) | "gone" (410)
        self.faults: list[list[Any]] = []                    # [method, pattern, status, headers, body, times]
        self.garbles: list[list[Any]] = []                   # [method, pattern, "truncate" | "html", times]
        self.access: dict[str, set[str]] = {}                # access token -> scopes
        self.refresh: dict[str, str] = {}                    # refresh token -> client id it was issued to
        self.consents: dict[str, set[str]] = {}              # client id -> scopes the user consented to for it
        self.expires_in = 3600
        self.device_pending = 0
        self.device_error = ""                               # e.g. "authorization_declined"
        self._ids = itertools.count(1)
        self.default_page = 10
        self.max_page = 1000                                 # Graph may send fewer than maxpagesize asks
        for name in WELL_KNOWN:
            self.add_folder(name.capitalize(), well_known=name)

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> FakeGraph:
        self.directory.mkdir(parents=True, exist_ok=True)
        cert, key = make_certificate(self.directory)
        self.ca_file = str(cert)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        handler = type("Handler", (_Handler,), {"fake": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._tmp:
            self._tmp.cleanup()

    @property
    def authority(self) -> str:
        return f"{self.url}/{TENANT}"

    def session(self) -> requests.Session:
        """A requests session trusting this server's certificate (for MSAL and Graph alike).

        `trust_env = False`: otherwise REQUESTS_CA_BUNDLE in the environment overrides
        `verify`, and a proxy from the environment could capture 127.0.0.1 traffic.
        """
        s = requests.Session()
        s.trust_env = False
        s.verify = self.ca_file
        return s

    def paths(self, prefix: str = "/v1.0/") -> list[str]:
        return [r.path for r in self.requests if r.path.startswith(prefix)]

    # ------------------------------------------------------------ mailbox state

    def add_folder(self, name: str, *, parent: str = "msgfolderroot", well_known: str = "") -> str:
        fid = f"AAMkFOLDER-{well_known or next(self._ids)}="
        self.folders[fid] = Folder(fid, name, parent, well_known)
        return fid

    def folder(self, key: str) -> Folder:
        for f in self.folders.values():
            if key in (f.id, f.well_known):
                return f
        raise KeyError(key)

    def _changed(self, scope: str, item_id: str) -> None:
        self.seq += 1
        self.changes.append((self.seq, scope, item_id))

    def put_message(self, folder: str, msg: dict) -> dict:
        """Add or replace a message in a folder (a change the next delta reports)."""
        with self.lock:
            f = self.folder(folder)
            f.messages[msg["id"]] = msg
            self._changed(f.id, msg["id"])
        return msg

    def delete_message(self, folder: str, msg_id: str) -> None:
        with self.lock:
            f = self.folder(folder)
            del f.messages[msg_id]
            self._changed(f.id, msg_id)

    def move_message(self, msg_id: str, source: str, target: str) -> None:
        with self.lock:
            msg = self.folder(source).messages[msg_id]
            self.delete_message(source, msg_id)
            self.put_message(target, msg)

    def put_event(self, event: dict) -> dict:
        with self.lock:
            self.events[event["id"]] = event
            self._changed("calendar", event["id"])
        return event

    def delete_event(self, event_id: str) -> None:
        with self.lock:
            del self.events[event_id]
            self._changed("calendar", event_id)

    def load(self, path: Path) -> None:
        """Fill the mailbox from a JSON file {"folders": {name: [message, ...]}, "events": [event, ...]}."""
        data = json.loads(path.read_text(encoding="utf-8"))
        for name, messages in data.get("folders", {}).items():
            for msg in messages:
                self.put_message(name, msg)
        for item in data.get("events", []):
            self.put_event(item)

    def expire_delta_tokens(self, how: str = "syncStateNotFound", *, folder: str | None = None) -> None:
        """Delta tokens issued so far (of one folder, or all) fail: 400 with `how` as the error code
        ("syncStateNotFound", "SyncStateNotFound", ...), or 410 Gone when `how` is "gone"."""
        fid = self.folder(folder).id if folder else None
        for token, (_, context) in self.tokens.items():
            if fid is None or context.get("folder") == fid:
                self.expired[token] = how

    def fail(self, method: str, pattern: str, status: int, *, headers: dict | None = None,
             body: dict | None = None, times: int = 1) -> None:
        """The next `times` requests matching `pattern` (regex on the decoded path) get `status`."""
        body = body or {"error": {"code": {429: "TooManyRequests", 503: "ServiceUnavailable"}.get(status, "Error"),
                                  "message": "injected"}}
        self.faults.append([method, pattern, status, headers or {}, body, times])

    def garble(self, method: str, pattern: str, how: str, *, times: int = 1) -> None:
        """The next `times` answers to requests matching `pattern` are spoilt: "truncate" sends half
        the body and closes the connection; "html" answers 200 with a web page instead of JSON."""
        assert how in ("truncate", "html")
        self.garbles.append([method, pattern, how, times])

    # ------------------------------------------------------------ tokens

    def issue(self, scopes: set[str], refresh_token: str | None = None, *, client: str | None = None) -> dict:
        """A token response like Entra's, with an unsigned id_token and client_info.

        Consent is per app registration: `scopes` are added to what the user consented to for `client`
        (default: the sync's client id), and the access token carries every scope consented to for that
        client, not only those asked for, as Entra's do.
        """
        client = client or self.client_id
        granted = self.consents.setdefault(client, set())
        granted |= set(scopes)
        n = next(self._ids)
        access, refresh = f"at-{n}", refresh_token or f"rt-{n}"
        self.access[access] = set(granted)
        self.refresh.setdefault(refresh, client)
        now = int(dt.datetime.now(dt.UTC).timestamp())
        claims = {"iss": f"{self.url}/{TENANT}/v2.0", "sub": "sub-1", "aud": client, "oid": self.uid,
                  "tid": TENANT, "preferred_username": self.user, "name": "Me", "iat": now, "exp": now + 3600,
                  "ver": "2.0"}
        return {"token_type": "Bearer", "scope": " ".join(sorted(granted)), "expires_in": self.expires_in,
                "ext_expires_in": self.expires_in, "access_token": access, "refresh_token": refresh,
                "id_token": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
                "client_info": _b64({"uid": self.uid, "utid": TENANT})}

    @property
    def uid(self) -> str:
        """The signed-in user's object id: one per user name, like Entra's."""
        return UID[:-12] + format(abs(hash(self.user)) % 16**12, "012x") if self.user != "me@example.com" else UID

    def revoke_refresh_tokens(self) -> None:
        """The user's grant is gone (a password change, sessions revoked): refreshes fail with invalid_grant.
        Consent stays: signing in again is enough."""
        self.refresh.clear()
        self.access.clear()


class _Handler(BaseHTTPRequestHandler):
    """Routes one request to the fake's auth or Graph handlers."""

    fake: FakeGraph
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True     # headers and body go out in separate writes: no 40 ms delayed-ACK stalls

    def log_message(self, *args: object) -> None:   # keep test output clean
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        fake = self.fake
        seen = Seen(method, unquote(self.path), {k.lower(): v for k, v in self.headers.items()}, body, self.path)
        with fake.lock:
            fake.requests.append(seen)
            for fault in fake.faults:
                if fault[0] == method and fault[5] > 0 and re.search(fault[1], seen.path):
                    fault[5] -= 1
                    return self._send(fault[2], fault[4], fault[3])
            status, payload, headers = route(fake, seen)
            garble = next((g for g in fake.garbles if g[0] == method and g[3] > 0 and re.search(g[1], seen.path)),
                          None)
            if garble:
                garble[3] -= 1
        if garble:
            return self._spoil(garble[2], status, payload)
        self._send(status, payload, headers)

    def _send(self, status: int, payload: Any, headers: dict | None = None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _spoil(self, how: str, status: int, payload: Any) -> None:
        """A web page with 200 instead of Graph's answer, or Graph's answer cut off half-way."""
        if how == "html":
            status, kind, data = 200, "text/html", b"<html><body>Sign in to the hotel Wi-Fi</body></html>"
        else:
            kind, data = "application/json", json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if how == "truncate":          # the connection drops mid-body: fewer bytes than Content-Length said
            data = data[:len(data) // 2]
            self.close_connection = True
        self.wfile.write(data)
        self.wfile.flush()


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "graph"


def fixture(name: str) -> dict:
    """A recorded-shape Graph resource from tests/fixtures/graph/<name>.json."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def event(n: int, *, start: str = "2026-03-03T09:00:00", minutes: int = 30, **extra: Any) -> dict:
    """A Graph event resource (calendar view delta has no $select: body and location included)."""
    begin = dt.datetime.fromisoformat(start) + dt.timedelta(days=n)
    end = begin + dt.timedelta(minutes=minutes)
    return {"id": f"AAMkEVT{n:06d}=", "type": "singleInstance", "subject": f"Meeting {n}", "isCancelled": False,
            "isAllDay": False, "isOnlineMeeting": False,
            "start": {"dateTime": begin.isoformat() + ".0000000", "timeZone": "UTC"},
            "end": {"dateTime": end.isoformat() + ".0000000", "timeZone": "UTC"},
            "body": {"contentType": "html", "content": "SECRET"}, "bodyPreview": "SECRET",
            "location": {"displayName": "SECRET"},
            "organizer": {"emailAddress": {"name": "Anna", "address": "anna@example.com"}},
            "attendees": [{"type": "required", "status": {"response": "accepted"},
                           "emailAddress": {"name": "Me", "address": "me@example.com"}}], **extra}


def graph_config(fake: FakeGraph, directory: Path, *, kind: str = "outlook", deliver: tuple[str, ...] = ("file",),
                 **keys: Any):
    """A Config with one Microsoft source pointed at the fake (authority, Graph endpoint, cache path)."""
    from daemon.config import parse

    lines = ['[user]', 'name = "Me"', 'addresses = ["me@example.com"]', '[digest]', f'deliver = {json.dumps(list(deliver))}',
             '[[sources]]', f'type = "{kind}"', 'name = "work"', f'client_id = "{fake.client_id}"',
             f'authority = "{fake.authority}"', f'graph_endpoint = "{fake.url}"',
             f'token_cache = {json.dumps(str(directory / "msal-work.bin"))}']
    lines += [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    return parse("\n".join(lines) + "\n", directory / "config.toml")


def sign_in(fake: FakeGraph, config: Any, scopes: tuple[str, ...] | None = None, *, delivery: bool = False) -> None:
    """Seed the source's token cache through MSAL's public API (authorization-code grant); with `delivery`,
    the cache of its delivery app (`delivery_client_id`)."""
    from connectors.microsoft_auth import MicrosoftAuth, scopes_for

    import warnings

    auth = MicrosoftAuth(config.sources[0], config, http_client=fake.session(), delivery=delivery)
    with warnings.catch_warnings():       # the auth-code grant is the documented way to seed a test cache
        warnings.simplefilter("ignore", DeprecationWarning)
        result = auth.app.acquire_token_by_authorization_code(
            "good-code", list(scopes or scopes_for(config, delivery=delivery)), redirect_uri="http://localhost")
    assert "access_token" in result, result
    auth.file.save(auth.cache)
