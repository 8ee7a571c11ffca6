"""Outlook / Microsoft 365 mail metadata through Microsoft Graph message delta.

Each mail folder has its own delta round (`/me/mailFolders/{id}/messages/delta`):
the first round lists the folder, later rounds return only changes, and the
round's `@odata.deltaLink` is the folder's cursor. Every Graph page becomes one
Batch whose cursor holds, per folder, the link to fetch next: the deltaLink
once a round is complete, or the nextLink in the middle of one, so a restart
resumes the pass where it stopped instead of starting over.

By default every folder is read except Drafts, Deleted Items, Junk Email and
Outbox (and the folders inside them): Outlook's Archive button, the mobile
swipe and the user's rules file kept mail away from the inbox, and a folder
Kith does not read is, for Kith, a deletion.

Only metadata is asked for (`$select`, allowed under Mail.ReadBasic) and only
whitelisted fields leave this module. Ids are immutable (`Prefer:
IdType="ImmutableId"`); a copy's source_id is "<folder>/<id>", so a message
moved between folders is an `@removed` in one folder and an add in the other.
The removed copy is only marked stale (`Batch.stale_ids`) and swept at the end
of the pull, when every folder has been read: the store holds one message for
all its copies, so a message moved to a folder Kith reads stays, as the same
message, whichever folder is read first.

An expired delta token restarts that folder alone. Its new pass marks the
folder's stored copies stale on its first page (`Batch.stale_scopes`), and
every copy the pass reads again is unmarked as it is written; the pull's last
batch, once every folder is read, sweeps what is still stale (`STALE`). An
unreadable cursor marks the whole source the same way (`all_stale`), and only
a first sync, with nothing stored, clears it (`full_resync`). So a pass
interrupted after its first page loses nothing: the copies stay until a later
sync ends it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, TextIO

from connectors.base import STALE, Address, Batch, MessageMeta
from connectors.headers import within_arrival
from connectors.graph_client import DeltaExpired, GraphClient, NotFound, is_link
from connectors.microsoft_auth import READ_SCOPES, MicrosoftAuth, auth_fix
from daemon.config import Config, SourceConfig
from daemon.errors import SourceError

log = logging.getLogger(__name__)

KIND = "outlook"
SELECT = ("id,internetMessageId,conversationId,sentDateTime,receivedDateTime,from,sender,toRecipients,"
          "ccRecipients,subject,isDraft,inferenceClassification,categories,parentFolderId")
PAGE_SIZE = 250
SENT = "sentitems"
SKIPPED_FOLDERS = ("drafts", "deleteditems", "junkemail", "outbox")
NAMED_FOLDERS = ("inbox", SENT, "archive", *SKIPPED_FOLDERS)
DIGEST_ID = re.compile(r"<?kith-digest-\d{4}-\d{2}-\d{2}@kith\.local>?")


def digest_message_id(day: date) -> str:
    """The internetMessageId Kith gives the digest it puts in the inbox (recognised and dropped on sync)."""
    return f"<kith-digest-{day.isoformat()}@kith.local>"


class OutlookMailSource:
    """Mail folders of one Microsoft account, read-only. `key` is "outlook:<name>"."""

    def __init__(self, source: SourceConfig, config: Config, *, http_client: Any = None,
                 now: datetime | None = None, sleep: Callable[[float], None] = time.sleep,
                 progress: TextIO | None = None) -> None:
        self.source = source
        self.key = f"{KIND}:{source.name}"
        self.now = now                       # unused: Graph data carries its own dates
        self.auth = MicrosoftAuth(source, config, http_client=http_client)
        self.graph = GraphClient(source.graph_endpoint, lambda force: self.auth.token(READ_SCOPES, force_refresh=force),
                                 session=self.auth.http, where=self.key, fix=auth_fix(source), sleep=sleep)
        self.progress_stream = progress if progress is not None else sys.stderr

    def check(self) -> None:
        """Raise AuthError when `kith auth microsoft` has not been run for this source."""
        self.auth.require_account()

    def pull(self, cursor: str | None) -> Iterator[Batch]:
        """One batch per Graph page, folder after folder; see the module docstring."""
        self.check()
        links = _read_cursor(cursor)
        fresh = links is None
        opening = {}                        # what the pull's first batch says about the copies stored before
        if fresh:
            opening = {"full_resync": True} if cursor is None else {"all_stale": True}
            if cursor is not None:
                log.info("%s: unreadable cursor; full resync", self.key)
        links = links or {}
        keys = self._folder_keys()
        for gone in [k for k in links if k not in keys]:
            del links[gone]
            yield Batch(scopes=(gone,), cursor=_dump(links))
        progress = self._progress(keys) if fresh else None
        for key in keys:
            for batch in self._pull_folder(key, links, progress=progress):
                yield replace(batch, **opening) if opening else batch
                opening = {}
        if progress:
            progress.close()
        # Every folder is read: sweep the copies still stale. A batch of its own, after the last folder's
        # messages are written, so that a copy moved into that folder keeps its message.
        yield Batch(scopes=(STALE,), cursor=_dump(links), **opening)

    # ------------------------------------------------------------ one folder

    def _pull_folder(self, key: str, links: dict[str, str], *, progress: Progress | None) -> Iterator[Batch]:
        link = links.get(key)
        starting, restarted = link is None, False     # starting: this request is a new delta query
        url = link or self._initial(key)
        while True:
            try:
                page = self.graph.get(url, prefer=f"odata.maxpagesize={PAGE_SIZE}")
            except DeltaExpired:
                if starting or restarted:   # one restart per pull: a Graph that keeps forgetting must not loop us
                    problem = ("Graph rejected a new delta query" if starting else
                               f"Graph lost its place in folder {_short(key)} twice in one sync")
                    raise SourceError(problem, where=self.key, fix="try again later") from None
                log.info("%s: delta token of folder %s expired; full sync of that folder", self.key, _short(key))
                url, starting, restarted = self._initial(key), True, True
                continue
            except NotFound:
                if not self._reads_all:
                    raise SourceError(f"no mail folder {key!r}", where=self.key,
                                      fix="use well-known names (inbox, sentitems, archive) or folder ids in `folders`")
                links.pop(key, None)
                yield Batch(scopes=(key,), cursor=_dump(links))
                return
            following = page.get("@odata.nextLink")
            links[key] = following or page.get("@odata.deltaLink") or url
            messages, removed, notes = self._parse(page.get("value", []), key)
            yield Batch(messages=messages, stale_ids=removed, notes=notes, cursor=_dump(links),
                        stale_scopes=(key,) if starting else ())
            if progress:
                progress.add(len(messages) + len(removed))
            if not following:
                return
            url, starting = following, False

    def _initial(self, key: str) -> str:
        return self.graph.url(f"/me/mailFolders/{key}/messages/delta?$select={SELECT}")

    def _parse(self, items: list[dict], key: str) -> tuple[tuple[MessageMeta, ...], tuple[str, ...], tuple[str, ...]]:
        """The page's messages, the copies removed from the folder (deleted, or moved), and notes."""
        messages, removed, notes = [], [], []
        for item in items:
            if "@removed" in item:
                removed.append(f"{key}/{item['id']}")
                continue
            meta = message_meta(item, key)
            if isinstance(meta, str):
                notes.append(f"{self.key}: message {item.get('id', '?')[-12:]} skipped: {meta}")
            elif meta is not None:
                messages.append(meta)
        return tuple(messages), tuple(removed), tuple(notes)

    # ------------------------------------------------------------ folders

    @property
    def _reads_all(self) -> bool:
        """Every folder (the default), unless `folders` names some and `all_folders` is off."""
        return self.source.all_folders or not self.source.folders

    def _folder_keys(self) -> list[str]:
        """The configured folders, or every folder except drafts, deleted, junk and outbox and their subfolders."""
        if not self._reads_all:
            return list(dict.fromkeys(self.source.folders))
        named = self._named_folder_ids()
        skipped = {fid for fid, name in named.items() if name in SKIPPED_FOLDERS}
        return [named.get(folder["id"], folder["id"]) for folder in self._walk("/me/mailFolders", skipped)]

    def _named_folder_ids(self) -> dict[str, str]:
        """Folder id -> well-known name, so that those folders keep readable, stable keys."""
        ids = {}
        for name in NAMED_FOLDERS:
            try:
                ids[self.graph.get(f"/me/mailFolders/{name}", params={"$select": "id"})["id"]] = name
            except NotFound:
                continue
        return ids

    def _walk(self, path: str, skipped: set[str]) -> Iterator[dict]:
        """Every folder below `path`, depth first, leaving out the `skipped` ones with all they hold:
        a folder deleted in Outlook moves, with its mail, under Deleted Items."""
        params = {"$select": "id,displayName,childFolderCount", "$top": "100"}
        for folder in list(self.graph.pages(path, params=params)):
            if folder["id"] in skipped:
                continue
            yield folder
            if folder.get("childFolderCount"):
                yield from self._walk(f"/me/mailFolders/{folder['id']}/childFolders", skipped)

    def _progress(self, keys: list[str]) -> Progress | None:
        """A first-sync progress bar on stderr, only on a terminal (totals cost one request per folder)."""
        isatty = getattr(self.progress_stream, "isatty", None)
        if not (isatty and isatty()):
            return None
        total = 0
        for key in keys:
            try:
                total += self.graph.get(f"/me/mailFolders/{key}", params={"$select": "totalItemCount"}).get(
                    "totalItemCount", 0)
            except NotFound:
                continue
        return Progress(self.progress_stream, self.key, total)


class Progress:
    """"outlook:work: 12,000 / 100,000 messages" rewritten in place."""

    def __init__(self, stream: TextIO, label: str, total: int) -> None:
        self.stream, self.label, self.total, self.done = stream, label, total, 0
        self._write()

    def add(self, n: int) -> None:
        self.done += n
        self._write()

    def _write(self) -> None:
        shown = min(self.done, self.total) if self.total else self.done
        self.stream.write(f"\r{self.label}: {shown:,} / {self.total:,} messages")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


# ---------------------------------------------------------------- Graph JSON -> records

def message_meta(item: dict, key: str) -> MessageMeta | str | None:
    """The whitelisted record of one Graph message; None to skip silently, a reason to note."""
    internet_id = item.get("internetMessageId") or ""
    if item.get("isDraft") or DIGEST_ID.fullmatch(internet_id):
        return None                          # unsent drafts, and Kith's own digest
    sender = address_of(item.get("from")) or address_of(item.get("sender"))
    if sender is None:
        return "has no sender"
    arrived = parse_time(item.get("receivedDateTime"))
    sent_at = parse_time(item.get("sentDateTime")) or arrived
    if sent_at is not None:
        sent_at = within_arrival(sent_at, arrived)
    if sent_at is None:
        return "has no date"
    classification = (item.get("inferenceClassification") or "").upper()
    labels = (("SENT",) if key.lower() == SENT else ()) + ((classification,) if classification else ()) + tuple(
        "CATEGORY:" + "_".join(c.split()) for c in item.get("categories") or ())
    return MessageMeta(
        source_id=f"{key}/{item['id']}", message_id=internet_id.strip().strip("<>") or None,
        thread_key=item.get("conversationId"), sent_at=sent_at, sender=sender,
        to=_addresses(item.get("toRecipients")), cc=_addresses(item.get("ccRecipients")),
        subject=item.get("subject") or "", bulk=classification == "OTHER", labels=labels, scope=key)


def parse_time(text: str | None) -> datetime | None:
    """Graph's UTC timestamps ("2026-03-01T09:00:00Z", sometimes with fractions)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def address_of(value: Any) -> Address | None:
    """Graph's {"emailAddress": {"name", "address"}} as an Address (lower-cased), or None when it holds no
    email address: Graph gives some people (departed colleagues, hybrid mailboxes, attendees) as an
    Exchange directory name instead, which would become a contact of its own beside the real address."""
    email = ((value or {}).get("emailAddress") or {}) if isinstance(value, dict) else {}
    address = (email.get("address") or "").strip().lower()
    return Address(address, (email.get("name") or "").strip()) if is_email(address) else None


def is_email(address: str) -> bool:
    """Whether `address` is a mailbox (local@domain, as connectors.headers requires), not an Exchange
    X500 name ("/o=ExchangeLabs/ou=…/cn=Recipients/cn=…") nor one wrapped as SMTP ("imceaex-_o=…@…")."""
    local, at, domain = address.rpartition("@")
    return (bool(at and local and domain) and address.isprintable() and not any(c.isspace() for c in address)
            and not local.startswith("imceaex-"))


def _addresses(values: Any) -> tuple[Address, ...]:
    found = (address_of(v) for v in values or ())
    return tuple(a for a in found if a is not None)


def _read_cursor(cursor: str | None) -> dict[str, str] | None:
    """Folder -> link to fetch next; None for no cursor or another connector's."""
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("kind") != KIND or data.get("v") != 1:
        return None
    folders = data.get("folders")
    if not isinstance(folders, dict) or not all(isinstance(v, str) and is_link(v)
                                                for v in folders.values()):
        return None
    return dict(folders)


def _dump(links: dict[str, str]) -> str:
    return json.dumps({"kind": KIND, "v": 1, "folders": links}, sort_keys=True)


def _short(key: str) -> str:
    return key if len(key) < 20 else key[:8] + "…"
