"""Read-only Gmail connector: message metadata through the gmail.metadata scope.

A full pass lists the mailbox newest first and fetches headers in batches of
at most 50 `messages.get(format=metadata)`, paced by a token bucket sized from
the per-user quota. It is resumable: the cursor names the list page and the
last message done. Later pulls read `history.list` from the history id taken
*before* the pass (lieer's rule), so nothing that changes meanwhile is lost;
a history id that is too old (404) starts a new full pass by itself.

Mark-and-sweep across a pass that spans thousands of batches: every copy is
stored with scope "h<history id at pass start>". The pass's last batch names
the previous passes' scopes in `Batch.scopes`, so the store deletes what the
mailbox no longer holds. With no cursor at all the first batch says
`full_resync`, which clears whatever the source held before; with one that
cannot be read, the first batch marks what is stored (`Batch.all_stale`) and
the last sweeps it, so that a pass of hours leaves the store whole meanwhile.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import quote

from googleapiclient.errors import BatchError, HttpError
from googleapiclient.http import HttpRequest

from connectors.backoff import MAX_RETRY_AFTER, TokenBucket, delay_for
from connectors.base import STALE, Batch, MessageMeta
from connectors.google_auth import (GMAIL_METADATA, NETWORK_ERRORS, NETWORK_FIX, auth_errors, authorized_http,
                                    build_service, client_config, execute, http_problem, is_temporary,
                                    load_credentials, new_batch, retry_after, source_key, wait_problem)
from connectors.google_progress import Progress
from connectors.headers import meta_from_fields
from daemon.config import Config, SourceConfig
from daemon.errors import SourceError

log = logging.getLogger(__name__)

HEADERS = ["From", "To", "Cc", "Date", "Subject", "Message-ID", "In-Reply-To", "References", "List-Id",
           "List-Unsubscribe", "Precedence", "Auto-Submitted", "X-Auto-Response-Suppress", "Feedback-ID",
           "X-Kith-Digest"]
FIELDS = "id,threadId,labelIds,internalDate,payload/headers"   # never snippet: it is body text
HISTORY_TYPES = ["messageAdded", "messageDeleted", "labelAdded", "labelRemoved"]
COST = {"get": 5, "list": 5, "history": 2, "profile": 1, "insert": 25}
MAX_BATCH = 50          # Google: "sending batches larger than 50 requests is not recommended"
PAGE = 500
ATTEMPTS = 8
SKIP_LABELS = {"DRAFT", "SPAM", "TRASH"}
IGNORED_LABELS = {"UNREAD"}   # changes with every read: not worth a refetch, not a signal
# the labels a change of which is worth fetching a message again: being the user's (SENT), and leaving or
# entering drafts, spam or trash. Archiving 20,000 messages (INBOX removed) or starring one changes nothing
# Kith judges by, and each fetch costs 5 of the 6,000 quota units a minute.
REFETCH_LABELS = SKIP_LABELS | {"SENT"}
BACKFILL, INCREMENTAL = "backfill", "incremental"
TEMPLATE_ID = "KITH-MESSAGE-ID"


class HistoryExpired(Exception):
    """history.list said 404: the stored history id is too old."""


class PageExpired(Exception):
    """messages.list refused a saved page token (400): the pass starts over."""


@dataclass(frozen=True)
class GmailCursor:
    """What a pull resumes from; each Batch carries the one valid after it."""

    phase: str                     # "backfill" or "incremental"
    history_id: str                # backfill: taken before the pass; incremental: last seen
    scope: str                     # scope of this pass's copies
    page_token: str | None = None  # backfill: the list page being worked on (None = first)
    after: str | None = None       # backfill: last message id done on that page
    stale: tuple[str, ...] = ()    # scopes of earlier passes, swept when this pass ends
    done: int = 0
    total: int = 0

    def dump(self) -> str:
        return json.dumps({"v": 1, **asdict(self)}, separators=(",", ":"))

    @classmethod
    def parse(cls, text: str | None) -> GmailCursor | None:
        """None for no cursor or one we cannot read (both mean: full pass)."""
        try:
            data = json.loads(text or "")
            data.pop("v")
            data["stale"] = tuple(data["stale"])
            cursor = cls(**data)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        return cursor if cursor.phase in (BACKFILL, INCREMENTAL) and cursor.history_id else None


class GmailClient:
    """Paced, retried calls to one mailbox; shared by the connector and digest delivery."""

    def __init__(self, source: SourceConfig, api: Any, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.source, self.api, self.sleep = source, api, sleep
        self.users = api.users()                # building a resource walks the discovery doc: do it once
        self.messages = self.users.messages()
        rate = max(source.quota_units_per_minute, 60) / 60
        capacity = max(rate, COST["get"])       # one second of quota: short bursts only
        self.bucket = TokenBucket(rate=rate, capacity=capacity, clock=clock, sleep=sleep)
        self.batch_size = max(1, min(MAX_BATCH, int(capacity // COST["get"])))
        self.requests = 0
        self._templates: dict[tuple, HttpRequest] = {}

    def call(self, request: Any, cost: int, what: str, *, allow: tuple[int, ...] = ()) -> dict:
        """Execute one request within the quota, retrying temporary errors with backoff."""
        self.requests += 1
        return execute(request, self.source, what, bucket=self.bucket, cost=cost, sleep=self.sleep,
                       attempts=ATTEMPTS, allow=allow)

    def get_request(self, mid: str, headers: list[str] = HEADERS, fields: str = FIELDS) -> HttpRequest:
        """A `messages.get(format=metadata)` request for one id.

        Building a request through the discovery document costs as much CPU as
        the rest of a backfill (~0.3 ms each). The library builds one per
        header set; each message's request is that one with its own id.
        """
        key = (tuple(headers), fields)
        if key not in self._templates:
            self._templates[key] = self.messages.get(userId="me", id=TEMPLATE_ID, format="metadata",
                                                     metadataHeaders=headers, fields=fields)
        template = self._templates[key]
        uri = template.uri.replace(f"/messages/{TEMPLATE_ID}?", f"/messages/{quote(mid, safe='')}?", 1)
        return HttpRequest(template.http, template.postproc, uri, method=template.method,
                           headers=dict(template.headers), methodId=template.methodId)

    def fetch(self, ids: list[str], headers: list[str] = HEADERS, fields: str = FIELDS) -> dict[str, dict | None]:
        """Metadata of these messages in batches; None for a message gone since it was listed.

        Inner failures are not retried by the client library: temporary ones are
        queued again after a backoff pause, so a 429 in a batch loses nothing.
        """
        results: dict[str, dict | None] = {}
        pending, attempt = list(dict.fromkeys(ids)), 0
        while pending:
            chunk, pending = pending[:self.batch_size], pending[self.batch_size:]
            retry, wait, dropped = self._fetch_batch(chunk, results, headers, fields)
            if retry:
                if wait is not None and wait > MAX_RETRY_AFTER:
                    raise wait_problem(self.source, "metadata requests", wait)
                attempt = 0 if len(retry) < len(chunk) else attempt + 1
                if attempt >= ATTEMPTS and dropped:
                    raise SourceError(f"cannot reach Google ({dropped}) while reading message metadata",
                                      where=source_key(self.source), fix=NETWORK_FIX)
                if attempt >= ATTEMPTS:
                    raise SourceError("Gmail keeps refusing metadata requests (rate limit or server errors)",
                                      where=source_key(self.source), fix="nothing to do: the next sync resumes here")
                self.sleep(delay_for(attempt, retry_after=wait))
                pending = retry + pending
        return results

    def _fetch_batch(self, chunk: list[str], results: dict[str, dict | None], headers: list[str],
                     fields: str) -> tuple[list[str], float | None, str | None]:
        """One batch: (ids to send again, Retry-After asked for, name of the network error if any)."""
        retry: list[str] = []
        waits: list[float] = []
        failures: list[HttpError] = []

        def on_reply(mid: str, response: dict | None, exc: HttpError | None) -> None:
            if exc is None:
                results[mid] = response
            elif exc.resp.status == 404:
                results[mid] = None
            elif is_temporary(exc):
                retry.append(mid)
                waits.extend(w for w in [retry_after(exc)] if w is not None)
            else:
                failures.append(exc)

        batch = new_batch("gmail", self.source, on_reply)
        for mid in chunk:
            batch.add(self.get_request(mid, headers, fields), request_id=mid)
        self.bucket.take(COST["get"] * len(chunk))
        self.requests += len(chunk)
        try:
            batch.execute()
        except BatchError as exc:          # a 2xx answer the library cannot parse (resp may be None)
            raise SourceError(f"Google answered something unreadable to a batch of metadata requests "
                              f"({exc.reason})", where=source_key(self.source),
                              fix="check api_endpoint and any proxy in between; the next sync tries again") from None
        except HttpError as exc:           # the batch as a whole was refused
            if not is_temporary(exc):
                raise http_problem(exc, self.source, "a batch of metadata requests") from None
            return chunk, retry_after(exc), None
        except NETWORK_ERRORS as exc:      # dropped connection, timeout, cut-off answer: send it again
            return chunk, None, exc.__class__.__name__
        if failures:
            raise http_problem(failures[0], self.source, "a message's metadata")
        return retry, max(waits, default=None), None

    def profile(self) -> dict:
        return self.call(self.users.getProfile(userId="me"), COST["profile"], "the mailbox profile")

    def list_page(self, token: str | None, *, label_ids: list[str] | None = None,
                  size: int = PAGE) -> tuple[list[str], str | None]:
        """One page of message ids, newest first (no `q`: the metadata scope forbids it)."""
        kwargs: dict[str, Any] = {"labelIds": label_ids} if label_ids else {}
        request = self.messages.list(userId="me", maxResults=size, pageToken=token, **kwargs)
        try:
            reply = self.call(request, COST["list"], "the message list", allow=(400,) if token else ())
        except HttpError:
            raise PageExpired() from None
        return [m["id"] for m in reply.get("messages", [])], reply.get("nextPageToken")

    def history_page(self, start: str, token: str | None) -> dict:
        request = self.users.history().list(userId="me", startHistoryId=start, pageToken=token,
                                                   maxResults=PAGE, historyTypes=HISTORY_TYPES)
        try:
            return self.call(request, COST["history"], "the mailbox history", allow=(404,))
        except HttpError:
            raise HistoryExpired() from None


def to_meta(data: dict, scope: str) -> MessageMeta | str:
    """The record for one `messages.get(format=metadata)` reply, or why there is none."""
    labels = tuple(lab for lab in data.get("labelIds", []) if lab not in IGNORED_LABELS)
    if SKIP_LABELS & set(labels):
        return "is a draft, spam or trash"
    fields: dict[bytes, bytes] = {}
    for header in data.get("payload", {}).get("headers", []):
        fields.setdefault(header["name"].lower().encode(), header["value"].encode("utf-8", "surrogateescape"))
    if b"x-kith-digest" in fields:
        return "is Kith's own digest"
    internal = data.get("internalDate")

    def received() -> datetime | None:
        return datetime.fromtimestamp(int(internal) / 1000, UTC) if internal else None

    meta = meta_from_fields(fields, source_id=data["id"], scope=scope, labels=labels, fallback_date=received,
                            arrived=received)
    if isinstance(meta, str):
        return meta
    return replace(meta, thread_key=data.get("threadId") or meta.thread_key)


def history_changes(records: list[dict]) -> tuple[list[str], list[str]]:
    """(ids to fetch, ids to tombstone) from history records; the latest state of each id wins.

    A message whose labels now include DRAFT, SPAM or TRASH is a tombstone
    without a fetch; a change of other labels than REFETCH_LABELS costs nothing (the stored copy keeps its
    labels of when it was read); a deletion is final.
    """
    wanted: dict[str, bool] = {}
    deleted: set[str] = set()
    for record in records:
        for item in record.get("messagesAdded", []):
            wanted[item["message"]["id"]] = not SKIP_LABELS & set(item["message"].get("labelIds", []))
        for item in [*record.get("labelsAdded", []), *record.get("labelsRemoved", [])]:
            if set(item.get("labelIds", [])) & REFETCH_LABELS:
                wanted[item["message"]["id"]] = not SKIP_LABELS & set(item["message"].get("labelIds", []))
        deleted.update(item["message"]["id"] for item in record.get("messagesDeleted", []))
    fetch = [m for m, want in wanted.items() if want and m not in deleted]
    return fetch, sorted(deleted | {m for m, want in wanted.items() if not want})


class GmailSource:
    """One Gmail account, read-only. `key` is "gmail:<source name>"."""

    def __init__(self, source: SourceConfig, config: Config, *, http: Any = None, now: datetime | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 progress_stream: TextIO | None = None) -> None:
        self.source, self.config, self.now = source, config, now
        self.key = f"gmail:{source.name}"
        self._http, self._sleep, self._clock = http, sleep, clock
        self._progress_stream = progress_stream
        self.client: GmailClient | None = None

    def check(self) -> None:
        """SourceError without an OAuth client file; AuthError without a usable token."""
        if self._http is not None:
            return                      # an injected transport carries its own credentials
        client_config(self.source, self.config)
        load_credentials(self.source, self.config, need=[GMAIL_METADATA], refresh=False)

    def pull(self, cursor: str | None) -> Iterator[Batch]:
        """Incremental from the history id when possible, else a (resumed) full pass."""
        with auth_errors(self.source):
            session = self._connect()
            for batch in self._pull(GmailCursor.parse(cursor), stored=cursor is not None):
                yield batch
                if session:
                    session.persist()

    def _connect(self) -> Any:
        http, session = (self._http, None) if self._http is not None else authorized_http(
            self.source, self.config, need=[GMAIL_METADATA])
        api = build_service("gmail", self.source, http)
        self.client = GmailClient(self.source, api, sleep=self._sleep, clock=self._clock)
        return session

    def _pull(self, state: GmailCursor | None, stored: bool = False) -> Iterator[Batch]:
        if state is not None and state.phase == INCREMENTAL:
            try:
                yield from self._incremental(state)
                return
            except HistoryExpired:
                log.info("%s: stored history id is too old; starting a full sync", self.key)
        wipe = state is None and not stored     # nothing stored yet: the first batch may clear the source
        mark = state is None and stored         # an unreadable cursor: what is stored stays until the pass ends
        if state is None or state.phase == INCREMENTAL:
            state = self._start_pass(state)
            if mark:
                state = replace(state, stale=(*state.stale, STALE))
        try:
            state = yield from self._backfill(state, wipe, mark)
        except PageExpired:             # a resume after a long pause: the list page is no more
            log.info("%s: the saved list page has expired; starting the full sync again", self.key)
            state = yield from self._backfill(self._start_pass(state), False)
        try:
            yield from self._incremental(state)   # what changed while the pass ran
        except HistoryExpired:
            log.warning("%s: mailbox history expired during the full sync; the next sync starts another", self.key)

    def _start_pass(self, previous: GmailCursor | None) -> GmailCursor:
        """A new pass: history id and size taken first; earlier passes' scopes become stale."""
        profile = self.client.profile()
        scope = f"h{profile['historyId']}"
        stale = () if previous is None else tuple(dict.fromkeys((previous.scope, *previous.stale)))
        return GmailCursor(BACKFILL, str(profile["historyId"]), scope, stale=tuple(s for s in stale if s != scope),
                           total=int(profile.get("messagesTotal", 0)))

    def _backfill(self, state: GmailCursor, wipe: bool, mark: bool = False) -> Iterator[Batch]:
        """List newest first, fetch in batches, one Batch (and cursor) per fetch batch."""
        progress = Progress(self.key, state.total, state.done, stream=self._progress_stream, clock=self._clock)
        while True:
            ids, next_token = self.client.list_page(state.page_token)
            if state.after in ids:
                ids = ids[ids.index(state.after) + 1:]
            size = self.client.batch_size
            chunks = [ids[i:i + size] for i in range(0, len(ids), size)] or [[]]
            for n, chunk in enumerate(chunks):
                messages, gone, notes = self._records(self.client.fetch(chunk), state.scope)
                state = replace(state, done=state.done + len(chunk), after=chunk[-1] if chunk else None)
                end_of_page = n == len(chunks) - 1
                if end_of_page:
                    state = replace(state, page_token=next_token, after=None)
                last = end_of_page and next_token is None
                after = GmailCursor(INCREMENTAL, state.history_id, state.scope) if last else state
                yield Batch(messages=messages, deleted=gone, cursor=after.dump(), full_resync=wipe, all_stale=mark,
                            scopes=state.stale if last else (), notes=notes)
                wipe = mark = False
                progress.update(state.done)
            if next_token is None:
                progress.close()
                return GmailCursor(INCREMENTAL, state.history_id, state.scope)

    def _incremental(self, state: GmailCursor) -> Iterator[Batch]:
        """history.list from the stored id; one Batch per page, the new id on the last."""
        start, token = state.history_id, None
        while True:
            reply = self.client.history_page(start, token)
            token = reply.get("nextPageToken")
            fetch, deleted = history_changes(reply.get("history", []))
            messages, gone, notes = self._records(self.client.fetch(fetch), state.scope)
            if token is None:
                state = replace(state, history_id=str(reply["historyId"]))
            if messages or gone or deleted or state.history_id != start:
                yield Batch(messages=messages, deleted=tuple(deleted) + gone, cursor=state.dump(), notes=notes)
            if token is None:
                return

    def _records(self, replies: dict[str, dict | None], scope: str
                 ) -> tuple[tuple[MessageMeta, ...], tuple[str, ...], tuple[str, ...]]:
        """Records, tombstones (gone, skipped) and one-line notes for unusable messages."""
        messages, gone, notes = [], [], []
        for mid, data in replies.items():
            meta = "is gone" if data is None else to_meta(data, scope)
            if isinstance(meta, MessageMeta):
                messages.append(meta)
                continue
            gone.append(mid)
            if meta.startswith("has no"):
                notes.append(f"{self.key}: message {mid} {meta}; skipped")
        return tuple(messages), tuple(gone), tuple(notes)
