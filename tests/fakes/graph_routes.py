"""The fake Graph's answers: the identity authority (OIDC discovery, device code, tokens) and the Graph
endpoints Kith reads (mail folders, message delta per folder, calendar view delta) or writes (one message in
the user's own inbox). `route` picks the handler for one request; `tests.fakes.fake_graph` serves them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from tests.fakes.fake_graph import FakeGraph

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
    client = form.get("client_id", "")
    if path in ("/oauth2/v2.0/devicecode", "/oauth2/v2.0/token") and client not in fake.clients:
        return 400, {"error": "unauthorized_client", "error_description": f"AADSTS700016: Application with "
                     f"identifier '{client}' was not found in the directory '{TENANT}'."}, {}
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
        return 200, fake.issue(requested, client=client), {}
    if grant == "urn:ietf:params:oauth:grant-type:device_code":
        if fake.device_error:
            return 400, {"error": fake.device_error, "error_description": f"AADSTS70000: {fake.device_error}"}, {}
        if fake.device_pending > 0:
            fake.device_pending -= 1
            return 400, {"error": "authorization_pending", "error_description": "AADSTS70016: pending"}, {}
        return 200, fake.issue(fake.device_scopes, client=client), {}
    if grant == "refresh_token":
        issued_to = fake.refresh.get(form.get("refresh_token", ""))
        if issued_to != client:     # revoked, or another app's refresh token
            return 400, {"error": "invalid_grant", "error_description": "AADSTS70000: The refresh token was revoked."}, {}
        if not requested <= fake.consents.get(client, set()):
            return 400, {"error": "invalid_grant", "suberror": "consent_required",
                         "error_description": "AADSTS65001: The user has not consented."}, {}
        return 200, fake.issue(set(), client=client), {}
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
                return _error(400, how, "The sync state generation is not found.")
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


def _mailbox_messages(fake: FakeGraph, seen: Seen, scopes: set[str]) -> Reply:
    """`/me/messages`: every folder of the mailbox (Deleted Items too), filtered as a folder's list is."""
    match = re.fullmatch(r"internetMessageId eq '(.*)'", query_of(seen.raw).get("$filter", ""))
    found = [m for f in fake.folders.values() for m in f.messages.values()
             if not match or m.get("internetMessageId") == match.group(1)]
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
    (r"/me/messages", "GET", _mailbox_messages),
    (r"/me/messages/([^/]+)", "PATCH", _patch_message),
    (r"/me/calendarView/delta", "GET", lambda fake, seen, scopes: _calendar_delta(fake, seen, scopes)),
]


# ---------------------------------------------------------------- helpers for tests and the benchmark
