"""A fake Google (Gmail, Calendar, OAuth token endpoint) on 127.0.0.1, for tests and benchmarks.

It answers with JSON shaped like the real APIs: newest-first paging with opaque
page tokens, history records of every kind, multipart/mixed batch responses,
404 for a history id that is too old, 410 for an expired sync token, 429 when a
per-user quota bucket runs dry, 401 for an expired access token,
`invalid_grant` for a revoked refresh token, 404 or 403 for a calendar deleted
or no longer shared, and answers cut off mid-body (`cut`, a dropped connection).
Every request (batch parts too) is logged in `calls`, so tests can assert what
was, and was not, asked for.
"""

from __future__ import annotations

import base64
import bisect
import email
import itertools
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote

Reply = tuple[int, dict[str, str], bytes]
COSTS = {"profile": 1, "list": 5, "get": 5, "history": 2, "insert": 25}
ROUTES = {("GET", "profile", False): "profile", ("GET", "messages", False): "list", ("GET", "messages", True): "get",
          ("POST", "messages", False): "insert", ("GET", "history", False): "history"}
RECORD_KEYS = {"messageAdded": "messagesAdded", "messageDeleted": "messagesDeleted", "labelAdded": "labelsAdded",
               "labelRemoved": "labelsRemoved"}
HIDDEN = {"SPAM", "TRASH"}


def error(status: int, message: str, reason: str = "") -> Reply:
    """An error body as Google writes it."""
    body = {"error": {"code": status, "message": message,
                      "errors": [{"message": message, "domain": "global", "reason": reason or "failed"}]}}
    return status, {}, json.dumps(body).encode()


def ok(body: object) -> Reply:
    return 200, {}, json.dumps(body).encode()


@dataclass
class Msg:
    id: str
    thread: str
    labels: list[str]
    internal: int                     # epoch milliseconds
    headers: list[tuple[str, str]] | None = None
    history: int = 0
    snippet: str = "Body text preview"

    def header_list(self) -> list[tuple[str, str]]:
        if self.headers is not None:
            return self.headers
        n = int(self.id, 16) % 1_000_000  # a synthetic message (populate): headers made on demand
        moment = datetime.fromtimestamp(self.internal / 1000, UTC)
        heads = [("From", f"Person {n % 997} <person{n % 997}@example.com>"), ("To", "Me <me@example.com>"),
                 ("Subject", f"Message {n}"), ("Date", format_datetime(moment)), ("Message-ID", f"<{n}@fake>")]
        return heads + ([("List-Unsubscribe", "<mailto:u@news.example>")] if n % 10 == 0 else [])


@dataclass
class Fault:
    method: str
    prefix: str
    status: int
    times: int
    retry_after: str | None = None
    reason: str = ""


@dataclass
class Quota:
    """The per-user rate limit: a token bucket that refuses instead of waiting."""

    rate: float
    capacity: float
    level: float = field(init=False)
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.level = self.capacity

    def spend(self, units: float) -> bool:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.level < units:
            return False
        self.level -= units
        return True


class FakeGoogle:
    """Mailbox, calendars and OAuth state, plus the HTTP server that serves them."""

    def __init__(self, *, units_per_second: float | None = None, burst_seconds: float = 1.0,
                 email_address: str = "me@example.com", require_auth: bool = False) -> None:
        self.email_address = email_address
        self.messages: dict[str, Msg] = {}
        self.history: list[dict] = []
        self.history_id = 1000
        self.history_floor = 0                 # startHistoryId below this answers 404
        self.events: dict[str, dict[str, dict]] = {}
        self.event_seq = 0
        self.sync_floors: dict[str, int] = {}  # per calendar: sync tokens below this answer 410
        self.gone_calendars: dict[str, int] = {}  # calendar -> 404 (deleted) or 403 (no longer shared)
        self.quota = Quota(units_per_second, units_per_second * burst_seconds) if units_per_second else None
        self.require_auth = require_auth
        self.access_tokens: set[str] = set()
        self.refresh_tokens: dict[str, list[str]] = {}
        self.codes: dict[str, list[str]] = {}
        self.faults: list[Fault] = []
        self.cuts: list[Fault] = []            # answers sent half-way, then the connection closes
        self.calls: list[tuple[str, str]] = []
        self.statuses: Counter[int] = Counter()
        self.spent: Counter[str] = Counter()   # successful quota-charged calls by kind
        self.http_requests = 0                 # connections' requests (a batch counts once)
        self.lock = threading.RLock()
        self._order: list[tuple[int, str]] | None = None
        self._ids = itertools.count(0x18C0_0000_0000_0000)
        self.server: ThreadingHTTPServer | None = None
        self.max_page = 2500                   # cap on any page size, to exercise paging with few items

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> FakeGoogle:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    # ------------------------------------------------------------ the mailbox, as tests change it

    def add_message(self, *, sender: str = "Ann <ann@example.com>", to: str = "Me <me@example.com>",
                    subject: str = "Hello", at: datetime | None = None, labels: tuple[str, ...] = ("INBOX",)) -> str:
        """Deliver one message (a messagesAdded history record); returns its Gmail id."""
        mid = f"{next(self._ids):016x}"
        at = at or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        heads = [("From", sender), ("To", to), ("Subject", subject), ("Date", format_datetime(at)),
                 ("Message-ID", f"<{mid}@mail.example>")]
        return self._store(Msg(mid, mid, list(labels), int(at.timestamp() * 1000), heads))

    def _store(self, msg: Msg) -> str:
        with self.lock:
            self.messages[msg.id] = msg
            self._order = None
            self._record("messagesAdded", msg)
        return msg.id

    def load(self, path: Path) -> None:
        """Fill mailbox and calendars from a JSON file shaped like the API's own objects.

        {"messages": [{"id", "threadId", "labelIds", "internalDate", "snippet",
        "payload": {"headers": [...]}}], "calendars": {id: [event, ...]}}
        """
        data = json.loads(path.read_text(encoding="utf-8"))
        for m in data.get("messages", []):
            heads = [(h["name"], h["value"]) for h in m["payload"]["headers"]]
            self._store(Msg(m["id"], m["threadId"], list(m["labelIds"]), int(m["internalDate"]), heads,
                            snippet=m.get("snippet", "")))
        for calendar, events in data.get("calendars", {}).items():
            for event in events:
                self.put_event(calendar, event)

    def populate(self, count: int, *, start: datetime = datetime(2020, 1, 1, tzinfo=UTC)) -> None:
        """Add `count` synthetic messages quickly (no history records: an existing mailbox)."""
        base = int(start.timestamp() * 1000)
        with self.lock:
            for i in range(count):
                mid = f"{next(self._ids):016x}"
                self.messages[mid] = Msg(mid, mid, ["INBOX"], base + i * 60_000, history=self.history_id)
            self._order = None

    def delete_message(self, mid: str) -> None:
        with self.lock:
            self._order = None
            self._record("messagesDeleted", self.messages.pop(mid))

    def relabel(self, mid: str, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> None:
        with self.lock:
            msg = self.messages[mid]
            kept = [lab for lab in msg.labels if lab not in remove]
            msg.labels = kept + [lab for lab in add if lab not in kept]
            if add:
                self._record("labelsAdded", msg, list(add))
            if remove:
                self._record("labelsRemoved", msg, list(remove))

    def expire_history(self) -> None:
        """Every history id older than the current one becomes too old (history.list answers 404)."""
        self.history_floor = self.history_id

    def _record(self, kind: str, msg: Msg, labels: list[str] | None = None) -> None:
        self.history_id += 1
        msg.history = self.history_id
        brief = {"id": msg.id, "threadId": msg.thread}
        item: dict = {"message": {**brief, "labelIds": list(msg.labels)}}
        if labels is not None:
            item["labelIds"] = labels
        self.history.append({"id": str(self.history_id), "messages": [brief], kind: [item]})

    # ------------------------------------------------------------ calendars, as tests change them

    def put_event(self, calendar: str, event: dict) -> None:
        """Create or update an event (bumps its change sequence)."""
        with self.lock:
            self.event_seq += 1
            self.events.setdefault(calendar, {})[event["id"]] = {**event, "_seq": self.event_seq}

    def cancel_event(self, calendar: str, event_id: str) -> None:
        with self.lock:
            self.event_seq += 1
            self.events[calendar][event_id] = {"id": event_id, "status": "cancelled", "kind": "calendar#event",
                                               "_seq": self.event_seq}

    def delete_calendar(self, calendar: str, status: int = 404) -> None:
        """The calendar is gone (404 notFound) or no longer shared with this account (403 forbidden)."""
        self.gone_calendars[calendar] = status

    def expire_sync_tokens(self, calendar: str | None = None) -> None:
        """Sync tokens handed out so far (for one calendar, or all) answer 410 from now on."""
        self.event_seq += 1
        for name in [calendar] if calendar else list(self.events):
            self.sync_floors[name] = self.event_seq

    # ------------------------------------------------------------ faults and OAuth

    def fail(self, method: str, prefix: str, status: int, *, times: int = 1, retry_after: str | None = None,
             reason: str = "") -> None:
        """The next `times` requests whose path starts with `prefix` answer `status`."""
        self.faults.append(Fault(method, prefix, status, times, retry_after, reason))

    def cut(self, method: str, prefix: str, *, times: int = 1) -> None:
        """The next `times` answers to requests whose path starts with `prefix` stop half-way through the
        body and the connection closes (the client reads fewer bytes than Content-Length promised)."""
        self.cuts.append(Fault(method, prefix, 200, times))

    def take_cut(self, method: str, target: str) -> bool:
        with self.lock:
            for cut in self.cuts:
                if cut.times > 0 and cut.method == method and target.partition("?")[0].startswith(cut.prefix):
                    cut.times -= 1
                    return True
        return False

    def grant(self, scopes: list[str], *, refresh_token: str = "rt-1") -> str:
        """An authorisation code the token endpoint will exchange for these scopes."""
        code = f"code-{len(self.codes)}"
        self.codes[code] = [*scopes, refresh_token]
        return code

    def revoke(self, refresh_token: str) -> None:
        self.refresh_tokens.pop(refresh_token, None)

    # ------------------------------------------------------------ dispatch

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        path, _, query_string = target.partition("?")
        query = _query(query_string)
        with self.lock:
            self.calls.append((method, target))
            reply = self._faulted(method, path) or self._authorised(path, headers) or self._route(
                method, path, query, headers, body)
            self.statuses[reply[0]] += 1
        return reply

    def _faulted(self, method: str, path: str) -> Reply | None:
        for fault in self.faults:
            if fault.times > 0 and fault.method == method and path.startswith(fault.prefix):
                fault.times -= 1
                status, heads, body = error(fault.status, f"injected {fault.status}", fault.reason)
                return status, ({"Retry-After": fault.retry_after} if fault.retry_after else heads), body
        return None

    def _authorised(self, path: str, headers: dict[str, str]) -> Reply | None:
        if not self.require_auth or path in ("/token", "/batch"):
            return None
        token = headers.get("authorization", "").removeprefix("Bearer ")
        if token in self.access_tokens:
            return None
        return error(401, "Request had invalid authentication credentials.", "authError")

    def _route(self, method: str, path: str, q: dict, headers: dict[str, str], body: bytes) -> Reply:
        gmail = re.fullmatch(r"/gmail/v1/users/me/(profile|messages|history)(?:/([^/]+))?", path)
        cal = re.fullmatch(r"/calendar/v3/calendars/([^/]+)/events", path)
        if method == "POST" and path == "/batch":
            return self._batch(headers, body)
        if method == "POST" and path == "/token":
            return self._token(parse_qs(body.decode()))
        if cal and method == "GET":
            return self._events(unquote(cal[1]), q)
        if not gmail:
            return error(404, "Not Found", "notFound")
        kind = ROUTES.get((method, gmail[1], gmail[2] is not None))
        if kind is None:
            return error(404, "Not Found", "notFound")
        if self.quota and not self.quota.spend(COSTS[kind]):
            return error(429, "Quota exceeded for quota metric 'Queries' per user.", "rateLimitExceeded")
        self.spent[kind] += 1
        return getattr(self, f"_{kind}")(q, gmail[2], body)

    def _size(self, q: dict, default: int, limit: int = 500) -> int:
        return min(int(q.get("maxResults", [default])[0]), limit, self.max_page)

    # ------------------------------------------------------------ Gmail methods

    def _profile(self, q: dict, _: str | None, body: bytes) -> Reply:
        return ok({"emailAddress": self.email_address, "messagesTotal": len(self.messages),
                   "threadsTotal": len({m.thread for m in self.messages.values()}), "historyId": str(self.history_id)})

    def _list(self, q: dict, _: str | None, body: bytes) -> Reply:
        if "q" in q:
            return error(403, "Metadata scope does not support 'q' parameter", "forbidden")
        if self._order is None:
            self._order = sorted((-m.internal, m.id) for m in self.messages.values())
        wanted = set(q.get("labelIds", []))
        start = 0
        if "pageToken" in q:
            internal, mid = base64.urlsafe_b64decode(q["pageToken"][0]).decode().split(":")
            start = bisect.bisect_right(self._order, (-int(internal), mid))
        size, items, i = self._size(q, 100), [], start
        while i < len(self._order) and len(items) < size:
            m = self.messages[self._order[i][1]]
            if not (HIDDEN & set(m.labels)) and wanted <= set(m.labels):
                items.append({"id": m.id, "threadId": m.thread})
            i += 1
        reply: dict = {"resultSizeEstimate": len(items)}
        if items:
            reply["messages"] = items
        if i < len(self._order):
            last = self.messages[self._order[i - 1][1]]
            reply["nextPageToken"] = base64.urlsafe_b64encode(f"{last.internal}:{last.id}".encode()).decode()
        return ok(reply)

    def _get(self, q: dict, mid: str | None, body: bytes) -> Reply:
        if q.get("format", ["full"])[0] in ("full", "raw"):
            return error(403, "Metadata scope doesn't allow format FULL", "forbidden")
        msg = self.messages.get(mid or "")
        if msg is None:
            return error(404, "Requested entity was not found.", "notFound")
        names = {h.lower() for h in q.get("metadataHeaders", [])}
        heads = [{"name": n, "value": v} for n, v in msg.header_list() if not names or n.lower() in names]
        full = {"id": msg.id, "threadId": msg.thread, "labelIds": msg.labels, "snippet": msg.snippet,
                "sizeEstimate": 4321, "historyId": str(msg.history), "internalDate": str(msg.internal),
                "payload": {"partId": "", "mimeType": "text/plain", "filename": "", "headers": heads}}
        return ok(_pick(full, q["fields"][0]) if "fields" in q else full)

    def _history(self, q: dict, _: str | None, body: bytes) -> Reply:
        start = int(q["startHistoryId"][0])
        if start < self.history_floor:
            return error(404, "Requested entity was not found.", "notFound")
        keys = {RECORD_KEYS[t] for t in q.get("historyTypes", RECORD_KEYS)}
        offset = int(q.get("pageToken", ["0"])[0])
        records = [r for r in self.history if int(r["id"]) > start and keys & set(r)]
        size = self._size(q, 100)
        reply: dict = {"historyId": str(self.history_id)}
        if records[offset:offset + size]:
            reply["history"] = records[offset:offset + size]
        if offset + size < len(records):
            reply["nextPageToken"] = str(offset + size)
        return ok(reply)

    def _insert(self, q: dict, _: str | None, body: bytes) -> Reply:
        data = json.loads(body)
        parsed = email.message_from_bytes(base64.urlsafe_b64decode(data["raw"]))
        msg = Msg(f"{next(self._ids):016x}", "", list(data.get("labelIds", [])), int(time.time() * 1000),
                  [(k, str(v)) for k, v in parsed.items()])
        msg.thread = msg.id
        self._store(msg)
        return ok({"id": msg.id, "threadId": msg.thread, "labelIds": msg.labels})

    # ------------------------------------------------------------ Calendar, token endpoint, batch

    def _events(self, calendar: str, q: dict) -> Reply:
        if calendar in self.gone_calendars:
            gone = self.gone_calendars[calendar] == 404
            return error(404, "Not Found", "notFound") if gone else error(403, "Forbidden", "forbidden")
        items = sorted(self.events.get(calendar, {}).values(), key=lambda e: e["id"])
        token = q.get("syncToken", [None])[0]
        if token is not None:
            since = int(token.rpartition(":")[2])
            if since < self.sync_floors.get(calendar, 0):
                return error(410, "Sync token is no longer valid, a full sync is required.", "fullSyncRequired")
            items = [e for e in items if e["_seq"] > since]
        else:
            items = [e for e in items if e.get("status") != "cancelled"]
        offset = int(q.get("pageToken", ["0"])[0])
        size = self._size(q, 250, 2500)
        page = [{k: v for k, v in e.items() if not k.startswith("_")} for e in items[offset:offset + size]]
        reply: dict = {"kind": "calendar#events", "summary": calendar, "items": page}
        if offset + size < len(items):
            reply["nextPageToken"] = str(offset + size)
        else:
            newest = max((e["_seq"] for e in self.events.get(calendar, {}).values()), default=0)
            reply["nextSyncToken"] = f"{calendar}:{max(newest, self.sync_floors.get(calendar, 0))}"
        return ok(reply)

    def _token(self, form: dict) -> Reply:
        grant = form.get("grant_type", [""])[0]
        if grant == "authorization_code" and form.get("code", [""])[0] in self.codes and {
                "code_verifier", "redirect_uri"} <= set(form):      # PKCE and the loopback redirect
            *scopes, refresh = self.codes.pop(form["code"][0])
            self.refresh_tokens[refresh] = scopes
        elif grant == "refresh_token" and form.get("refresh_token", [""])[0] in self.refresh_tokens:
            refresh = form["refresh_token"][0]
        else:
            return 400, {}, json.dumps({"error": "invalid_grant",
                                        "error_description": "Token has been expired or revoked."}).encode()
        access = f"at-{len(self.access_tokens)}-{refresh}"
        self.access_tokens.add(access)
        return ok({"access_token": access, "expires_in": 3599, "token_type": "Bearer", "refresh_token": refresh,
                   "scope": " ".join(self.refresh_tokens[refresh])})

    def _batch(self, headers: dict[str, str], body: bytes) -> Reply:
        """multipart/mixed in, multipart/mixed out; each part is a whole HTTP request or response."""
        boundary = re.search(r'boundary="?([^";]+)', headers["content-type"])[1].encode()
        out = []
        for chunk in body.split(b"--" + boundary)[1:-1]:
            part_head, _, request = chunk.strip(b"\r\n").replace(b"\r\n", b"\n").partition(b"\n\n")
            cid = re.search(rb"(?i)content-id: <([^>]*)>", part_head)[1].decode()
            head, _, inner_body = request.partition(b"\n\n")
            request_line, *lines = head.decode().split("\n")
            inner_headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
            method, target, _ = request_line.split(" ")
            status, extra, content = self.handle(method, target, inner_headers, inner_body)
            heads = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
            out.append(f"--kith_batch\r\nContent-Type: application/http\r\nContent-ID: <response-{cid}>\r\n\r\n"
                       f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n{heads}"
                       f"Content-Type: application/json; charset=UTF-8\r\n\r\n{content.decode()}\r\n")
        body = ("".join(out) + "--kith_batch--").encode()
        return 200, {"Content-Type": 'multipart/mixed; boundary="kith_batch"'}, body


@lru_cache(maxsize=64)
def _query(text: str) -> dict[str, list[str]]:
    """Parsed query strings, cached: a backfill sends the same one for every message (read-only!)."""
    return parse_qs(text)


def _pick(obj: dict, fields: str) -> dict:
    """The partial-response `fields=` parameter, for simple "a,b/c" paths."""
    out: dict = {}
    for path in fields.split(","):
        head, _, rest = path.strip().partition("/")
        if head in obj:
            out[head] = _pick(obj[head], rest) if rest and isinstance(obj[head], dict) else obj[head]
    return out


def _handler(fake: FakeGoogle) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True   # headers and body go out in two writes

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            heads = {k.lower(): v for k, v in self.headers.items()}
            fake.http_requests += 1
            status, extra, payload = fake.handle(self.command, self.path, heads, body)
            self.send_response(status)
            self.send_header("Content-Type", extra.pop("Content-Type", "application/json; charset=UTF-8"))
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if fake.take_cut(self.command, self.path):     # the connection drops mid-body
                self.wfile.write(payload[:len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, *args: object) -> None:
            pass

    return Handler



# ---------------------------------------------------------------- test helpers

class FakeClock:
    """clock() and sleep() for the token bucket and backoff: sleeping only moves the clock."""

    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Like a real sleep, never shorter than a microsecond (else a float clock can stall)."""
        self.sleeps.append(seconds)
        self.now += max(seconds, 1e-6)


def google_config(fake: FakeGoogle, directory: Path, *, kind: str = "gmail", deliver: tuple[str, ...] = ("file",),
                  **keys: object):
    """A Config with one Google source aimed at the fake: client file, token path, endpoint overrides."""
    from daemon.config import parse

    directory.mkdir(parents=True, exist_ok=True)
    secrets = {"installed": {"client_id": "kith-test.apps.googleusercontent.com", "client_secret": "not-secret",
                             "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                             "token_uri": "https://oauth2.googleapis.com/token", "redirect_uris": ["http://localhost"]}}
    (directory / "client_secret.json").write_text(json.dumps(secrets), encoding="utf-8")
    keys = {"credentials": "client_secret.json", "token": f"google-{kind}.json", "api_endpoint": fake.url,
            "token_uri": f"{fake.url}/token", **keys}
    lines = ["[user]", 'addresses = ["me@example.com"]', "[digest]", f"deliver = {json.dumps(list(deliver))}",
             "[[sources]]", f'type = "{kind}"', 'name = "me"', *[f"{k} = {json.dumps(v)}" for k, v in keys.items()]]
    (directory / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")    # for the CLI, too
    return parse("\n".join(lines) + "\n", directory / "config.toml")


def sign_in(fake: FakeGoogle, config, *, scopes: list[str] | None = None, expired: bool = False) -> Path:
    """Save a token for the config's first source, as `kith auth google` would; returns its path."""
    from google.oauth2.credentials import Credentials

    from connectors.google_auth import required_scopes, save_credentials, token_path

    source = config.sources[0]
    scopes = scopes or required_scopes(source, config)
    fake.refresh_tokens["rt-test"] = scopes
    access = f"at-test-{len(fake.access_tokens)}"
    if not expired:
        fake.access_tokens.add(access)
    expiry = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=-1 if expired else 1)
    creds = Credentials(access, refresh_token="rt-test", token_uri=source.token_uri, client_id="kith-test",
                        client_secret="not-secret", scopes=scopes, expiry=expiry)
    path = token_path(source, config)
    save_credentials(creds, path)
    return path
