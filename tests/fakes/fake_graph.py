"""A local fake of Microsoft Graph and of a Microsoft identity authority, on 127.0.0.1.

One `ThreadingHTTPServer` on port 0 answers both the MSAL side (OIDC discovery,
token endpoint with authorization_code / refresh_token / device_code grants,
device-code endpoint) and the Graph side (mail folders, message delta per
folder, calendar view delta, create message in the inbox). MSAL refuses
`http://` authorities, so the server speaks TLS with a throw-away self-signed
certificate; `session()` returns a `requests.Session` that trusts it.

Responses are shaped like Graph's: `value`, `@odata.nextLink`, `@odata.deltaLink`,
`@removed`, error bodies `{"error": {"code", "message"}}`. Every request is
recorded in `requests`, so tests can assert what was (and was not) asked.
Delta passes are snapshots held server-side; delta tokens remember the change
sequence number they were issued at, and `expire_delta_tokens()` makes old ones
fail as `syncStateNotFound` or as 410 Gone with a Location header.
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
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests

TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
UID = "00000000-0000-0000-66f3-3332eca7ea81"
OIDC_SCOPES = {"openid", "profile", "offline_access"}
WELL_KNOWN = ("inbox", "sentitems", "drafts", "deleteditems", "junkemail", "outbox", "archive")
BODY_FIELDS = {"body", "bodyPreview", "uniqueBody", "attachments", "internetMessageHeaders",
               "singleValueExtendedProperties", "multiValueExtendedProperties", "extensions"}


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str                # path and query, URL-decoded
    headers: dict[str, str]
    body: str
    raw: str = ""            # path and query as sent


@dataclass
class Folder:
    id: str
    name: str
    parent: str
    well_known: str = ""
    messages: dict[str, dict] = field(default_factory=dict)


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
                 user: str = "me@example.com") -> None:
        self._tmp = None if directory else tempfile.TemporaryDirectory()
        self.directory = Path(directory or self._tmp.name)
        self.client_id, self.user = client_id, user
        self.requests: list[Seen] = []
        self.lock = threading.RLock()
        self.seq = 0
        self.changes: list[tuple[int, str, str]] = []        # (seq, scope, id): scope = folder id or "calendar"
        self.folders: dict[str, Folder] = {}
        self.events: dict[str, dict] = {}
        self.passes: dict[str, tuple[list[dict], str]] = {}  # pass id -> (items, deltaLink at the end)
        self.tokens: dict[str, tuple[int, Any]] = {}         # delta token -> (seq, context)
        self.expired: dict[str, str] = {}                    # delta token -> "syncStateNotFound" | "gone"
        self.faults: list[list[Any]] = []                    # [method, pattern, status, headers, body, times]
        self.access: dict[str, set[str]] = {}                # access token -> scopes
        self.refresh: dict[str, set[str]] = {}               # refresh token -> consented scopes
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
        """Delta tokens issued so far (of one folder, or all) fail: `syncStateNotFound` (400) or `gone` (410)."""
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

    # ------------------------------------------------------------ tokens

    def issue(self, scopes: set[str], refresh_token: str | None = None) -> dict:
        """A token response like Entra's, with an unsigned id_token and client_info."""
        n = next(self._ids)
        access, refresh = f"at-{n}", refresh_token or f"rt-{n}"
        self.access[access] = set(scopes)
        self.refresh.setdefault(refresh, set(scopes))
        now = int(dt.datetime.now(dt.UTC).timestamp())
        claims = {"iss": f"{self.url}/{TENANT}/v2.0", "sub": "sub-1", "aud": self.client_id, "oid": self.uid,
                  "tid": TENANT, "preferred_username": self.user, "name": "Me", "iat": now, "exp": now + 3600,
                  "ver": "2.0"}
        return {"token_type": "Bearer", "scope": " ".join(sorted(scopes)), "expires_in": self.expires_in,
                "ext_expires_in": self.expires_in, "access_token": access, "refresh_token": refresh,
                "id_token": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
                "client_info": _b64({"uid": self.uid, "utid": TENANT})}

    @property
    def uid(self) -> str:
        """The signed-in user's object id: one per user name, like Entra's."""
        return UID[:-12] + format(abs(hash(self.user)) % 16**12, "012x") if self.user != "me@example.com" else UID

    def revoke_refresh_tokens(self) -> None:
        """The user's grant is gone (password change, consent revoked): refreshes fail with invalid_grant."""
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


def query_of(path: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(path).query, keep_blank_values=True).items()}


# ---------------------------------------------------------------- routing

Reply = tuple[int, Any, dict]


def _error(status: int, code: str, message: str = "", headers: dict | None = None) -> Reply:
    return status, {"error": {"code": code, "message": message or code}}, headers or {}


def route(fake: FakeGraph, seen: Seen) -> Reply:
    """Dispatch on the path: the authority under /{tenant}/, Graph under /v1.0/."""
    path = urlsplit(seen.path).path
    if path.startswith(f"/{TENANT}/"):
        return _auth(fake, seen, path[len(TENANT) + 1:])
    if not path.startswith("/v1.0/"):
        return _error(404, "NotFound")
    scopes = fake.access.get(seen.headers.get("authorization", "").removeprefix("Bearer "))
    if scopes is None:
        return _error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
    for pattern, method, handler in ROUTES:
        match = re.fullmatch(pattern, path[len("/v1.0"):])
        if match and method == seen.method:
            return handler(fake, seen, scopes, *match.groups())
    return _error(404, "ResourceNotFound", f"no route {seen.method} {path}")


def _auth(fake: FakeGraph, seen: Seen, path: str) -> Reply:
    base = f"{fake.url}/{TENANT}"
    if path == "/v2.0/.well-known/openid-configuration":
        return 200, {"authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                     "token_endpoint": f"{base}/oauth2/v2.0/token",
                     "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                     "issuer": f"{base}/v2.0", "tenant_region_scope": "EU"}, {}
    form = query_of("?" + seen.body)
    requested = set(form.get("scope", "").split()) - OIDC_SCOPES
    if path == "/oauth2/v2.0/devicecode":
        fake.device_scopes = requested
        return 200, {"device_code": "dc-1", "user_code": "KITH-CODE", "expires_in": 900, "interval": 0,
                     "verification_uri": "https://microsoft.com/devicelogin",
                     "message": "To sign in, open https://microsoft.com/devicelogin and enter the code KITH-CODE."}, {}
    if path != "/oauth2/v2.0/token":
        return _error(404, "NotFound")
    grant = form.get("grant_type")
    if grant == "authorization_code":
        if form.get("code") != "good-code":
            return 400, {"error": "invalid_grant", "error_description": "AADSTS70000: bad code"}, {}
        return 200, fake.issue(requested), {}
    if grant == "urn:ietf:params:oauth:grant-type:device_code":
        if fake.device_error:
            return 400, {"error": fake.device_error, "error_description": f"AADSTS70000: {fake.device_error}"}, {}
        if fake.device_pending > 0:
            fake.device_pending -= 1
            return 400, {"error": "authorization_pending", "error_description": "AADSTS70016: pending"}, {}
        return 200, fake.issue(fake.device_scopes), {}
    if grant == "refresh_token":
        consented = fake.refresh.get(form.get("refresh_token", ""))
        if consented is None:
            return 400, {"error": "invalid_grant", "error_description": "AADSTS70000: The refresh token was revoked."}, {}
        if not requested <= consented:
            return 400, {"error": "invalid_grant", "suberror": "consent_required",
                         "error_description": "AADSTS65001: The user has not consented."}, {}
        return 200, fake.issue(consented), {}
    return 400, {"error": "unsupported_grant_type"}, {}


def _page_size(seen: Seen, default: int) -> int:
    match = re.search(r"odata\.maxpagesize=(\d+)", seen.headers.get("prefer", ""))
    return int(match.group(1)) if match else default


def _delta(fake: FakeGraph, seen: Seen, base: str, context: dict, full, changed, location: str) -> Reply:
    """One page of a delta round: initial snapshot, continuation, or changes since a token."""
    q = query_of(seen.raw)
    if "$skiptoken" in q:
        pass_id, _, offset = q["$skiptoken"].partition(".")
        if pass_id not in fake.passes:
            return _error(400, "InvalidSkipToken")
        items, final = fake.passes[pass_id]
        start = int(offset)
    else:
        if "$deltatoken" in q:
            token = q["$deltatoken"]
            how = fake.expired.get(token, "syncStateNotFound" if token not in fake.tokens else "")
            if how == "gone":
                return _error(410, "resyncRequired", "Resync required.", {"Location": location})
            if how:
                return _error(400, "syncStateNotFound", "The sync state generation is not found.")
            since, context = fake.tokens[token]
            items = changed(since, context)
        else:
            items = full(context)
        token = f"D{next(fake._ids)}"
        fake.tokens[token] = (fake.seq, context)
        pass_id, start = f"P{next(fake._ids)}", 0
        final = f"{fake.url}/v1.0{base}?$deltatoken={token}"
        fake.passes[pass_id] = (items, final)
    size = min(_page_size(seen, fake.default_page), fake.max_page)
    body: dict[str, Any] = {"@odata.context": f"{fake.url}/v1.0/$metadata#Collection", "value": items[start:start + size]}
    if start + size < len(items):
        body["@odata.nextLink"] = f"{fake.url}/v1.0{base}?$skiptoken={pass_id}.{start + size}"
    else:
        body["@odata.deltaLink"] = final
    return 200, body, {}


def _can_read_bodies(scopes: set[str]) -> bool:
    return bool(scopes & {"Mail.Read", "Mail.ReadWrite"})


def _project(msg: dict, select: list[str] | None, scopes: set[str]) -> dict:
    keep = {k: v for k, v in msg.items() if select is None or k in select or k == "id"}
    if not _can_read_bodies(scopes):
        keep = {k: v for k, v in keep.items() if k not in BODY_FIELDS}
    return keep


def _message_delta(fake: FakeGraph, seen: Seen, scopes: set[str], key: str) -> Reply:
    if not scopes & {"Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"}:
        return _error(403, "ErrorAccessDenied", "Access is denied.")
    try:
        folder = fake.folder(key)
    except KeyError:
        return _error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    select = query_of(seen.raw).get("$select")
    fields = select.split(",") if select else None
    if fields and set(fields) & BODY_FIELDS and not _can_read_bodies(scopes):
        return _error(403, "ErrorAccessDenied", "Mail.ReadBasic does not allow body fields.")

    def full(ctx: dict) -> list[dict]:
        return [_project(m, ctx["select"], scopes) for m in folder.messages.values()]

    def changed(since: int, ctx: dict) -> list[dict]:
        ids = dict.fromkeys(i for s, scope, i in fake.changes if s > since and scope == folder.id)
        return [_project(folder.messages[i], ctx["select"], scopes) if i in folder.messages
                else {"id": i, "@removed": {"reason": "deleted"}} for i in ids]

    base = f"/me/mailFolders/{folder.id}/messages/delta"
    return _delta(fake, seen, base, {"select": fields, "folder": folder.id}, full, changed, f"{fake.url}/v1.0{base}")


def _overlaps(event: dict, window: tuple[str, str]) -> bool:
    return event["start"]["dateTime"][:19] < window[1][:19] and event["end"]["dateTime"][:19] > window[0][:19]


def _calendar_delta(fake: FakeGraph, seen: Seen, scopes: set[str]) -> Reply:
    if not scopes & {"Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite"}:
        return _error(403, "ErrorAccessDenied", "Access is denied.")
    q = query_of(seen.raw)
    if "$select" in q:
        return _error(400, "ErrorInvalidRequest", "$select is not supported on calendarView delta.")
    window = (q.get("startDateTime", ""), q.get("endDateTime", ""))
    if "$skiptoken" not in q and "$deltatoken" not in q and not all(window):
        return _error(400, "ErrorInvalidParameter", "startDateTime and endDateTime are required.")

    def full(ctx: dict) -> list[dict]:
        return [e for e in fake.events.values() if _overlaps(e, ctx["window"])]

    def changed(since: int, ctx: dict) -> list[dict]:
        ids = dict.fromkeys(i for s, scope, i in fake.changes if s > since and scope == "calendar")
        return [fake.events[i] if i in fake.events and _overlaps(fake.events[i], ctx["window"])
                else {"id": i, "@removed": {"reason": "deleted"}} for i in ids]

    location = f"{fake.url}/v1.0/me/calendarView/delta?startDateTime={window[0]}&endDateTime={window[1]}"
    return _delta(fake, seen, "/me/calendarView/delta", {"window": window}, full, changed, location)


def _folder_json(fake: FakeGraph, f: Folder) -> dict:
    children = sum(1 for c in fake.folders.values() if c.parent == f.id)
    return {"id": f.id, "displayName": f.name, "parentFolderId": f.parent, "childFolderCount": children,
            "totalItemCount": len(f.messages), "unreadItemCount": 0}


def _folder_list(fake: FakeGraph, seen: Seen, parent: str, base: str) -> Reply:
    q = query_of(seen.raw)
    top, skip = min(int(q.get("$top", "10")), fake.max_page), int(q.get("$skip", "0"))
    items = [_folder_json(fake, f) for f in fake.folders.values() if f.parent == parent]
    body: dict[str, Any] = {"value": items[skip:skip + top]}
    if skip + top < len(items):
        body["@odata.nextLink"] = f"{fake.url}/v1.0{base}?$top={top}&$skip={skip + top}"
    return 200, body, {}


def _folders(fake: FakeGraph, seen: Seen, scopes: set[str]) -> Reply:
    return _folder_list(fake, seen, "msgfolderroot", "/me/mailFolders")


def _children(fake: FakeGraph, seen: Seen, scopes: set[str], key: str) -> Reply:
    try:
        folder = fake.folder(key)
    except KeyError:
        return _error(404, "ErrorItemNotFound")
    return _folder_list(fake, seen, folder.id, f"/me/mailFolders/{folder.id}/childFolders")


def _one_folder(fake: FakeGraph, seen: Seen, scopes: set[str], key: str) -> Reply:
    try:
        return 200, _folder_json(fake, fake.folder(key)), {}
    except KeyError:
        return _error(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def _list_messages(fake: FakeGraph, seen: Seen, scopes: set[str], key: str) -> Reply:
    match = re.fullmatch(r"internetMessageId eq '(.*)'", query_of(seen.raw).get("$filter", ""))
    found = [m for m in fake.folder(key).messages.values() if not match or m.get("internetMessageId") == match.group(1)]
    return 200, {"value": [{"id": m["id"]} for m in found]}, {}


def _create_message(fake: FakeGraph, seen: Seen, scopes: set[str], key: str) -> Reply:
    """Create a message: a draft unless PidTagMessageFlags (0x0E07) is set without MSGFLAG_UNSENT (8)."""
    if "Mail.ReadWrite" not in scopes:
        return _error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    data = json.loads(seen.body)
    props = {p["id"]: p["value"] for p in data.pop("singleValueExtendedProperties", [])}
    flags = int(props["Integer 0x0E07"]) if "Integer 0x0E07" in props else 8
    n = next(fake._ids)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    msg = {"id": f"AAMkNEW{n}=", "conversationId": f"AAQkNEW{n}", "sentDateTime": now, "receivedDateTime": now,
           "internetMessageId": f"<new{n}@fake>", "isRead": bool(flags & 1), "ccRecipients": [],
           "toRecipients": [], "categories": [], "inferenceClassification": "focused", **data,
           "isDraft": bool(flags & 8), "sender": data.get("from")}
    fake.put_message(key, msg)
    return 201, msg, {}


def _patch_message(fake: FakeGraph, seen: Seen, scopes: set[str], msg_id: str) -> Reply:
    if "Mail.ReadWrite" not in scopes:
        return _error(403, "ErrorAccessDenied")
    for f in fake.folders.values():
        if msg_id in f.messages:
            f.messages[msg_id].update(json.loads(seen.body))
            fake._changed(f.id, msg_id)
            return 200, f.messages[msg_id], {}
    return _error(404, "ErrorItemNotFound")


ROUTES = [
    (r"/me/mailFolders", "GET", _folders),
    (r"/me/mailFolders/([^/]+)/childFolders", "GET", _children),
    (r"/me/mailFolders/([^/]+)/messages/delta", "GET", _message_delta),
    (r"/me/mailFolders/([^/]+)/messages", "GET", _list_messages),
    (r"/me/mailFolders/([^/]+)/messages", "POST", _create_message),
    (r"/me/mailFolders/([^/]+)", "GET", _one_folder),
    (r"/me/messages/([^/]+)", "PATCH", _patch_message),
    (r"/me/calendarView/delta", "GET", lambda fake, seen, scopes: _calendar_delta(fake, seen, scopes)),
]


# ---------------------------------------------------------------- helpers for tests and the benchmark

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


def sign_in(fake: FakeGraph, config: Any, scopes: tuple[str, ...] | None = None) -> None:
    """Seed the source's token cache through MSAL's public API (authorization-code grant)."""
    from connectors.microsoft_auth import MicrosoftAuth, scopes_for

    import warnings

    auth = MicrosoftAuth(config.sources[0], config, http_client=fake.session())
    with warnings.catch_warnings():       # the auth-code grant is the documented way to seed a test cache
        warnings.simplefilter("ignore", DeprecationWarning)
        result = auth.app.acquire_token_by_authorization_code(
            "good-code", list(scopes or scopes_for(config)), redirect_uri="http://localhost")
    assert "access_token" in result, result
    auth.file.save(auth.cache)
