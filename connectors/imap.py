"""Read-only IMAP connector: the headers of the mail in a server's folders, for accounts with an app
password (Fastmail, iCloud, self-hosted servers).

Only reads: every folder is opened with EXAMINE (a read-only SELECT), and of each message only FLAGS,
INTERNALDATE and BODY.PEEK[HEADER.FIELDS (…)] are fetched — the header fields a MessageMeta is built
from. No body is ever asked for, PEEK leaves \\Seen alone, and no command that writes (APPEND, STORE,
EXPUNGE, COPY, MOVE, CREATE, DELETE) is in this module.

Which folders: those named in `folders`; by default every folder of the user's own namespace except
drafts, junk and trash (flagged \\Drafts, \\Junk or \\Trash by SPECIAL-USE, or named as folders.py knows
drafts, junk and trash folders), and the folders inside those. The \\Sent folder, or one named like a Sent
folder, holds the user's sent mail. Messages flagged \\Draft are skipped wherever they are.

A sync, folder by folder, with the cursor of imap_cursor.py:
1. EXAMINE. A new UIDVALIDITY means the server renumbered the folder: it is read again in a new scope,
   and the old scope is swept once it has been; the mail stays in the store meanwhile (two copies of one
   message are one message there).
2. UIDNEXT and the message count as the cursor has them: nothing came and nothing went, nothing more is
   asked. (CONDSTORE's HIGHESTMODSEQ is not used: it also moves with every message read or flagged, which
   Kith does not keep, and it cannot tell which messages went; QRESYNC's VANISHED could, but step 4 works
   on every server.)
3. New mail: UID SEARCH for UIDs above the last one read, then the headers in FETCHes of at most
   `batch_size` messages, one Batch each, each carrying the cursor that covers exactly what it holds.
4. Gone mail: only when the count says some went, a UID SEARCH of every UID, compared with the UIDs in the
   cursor. (Searches go in windows of UIDs: imaplib refuses an answer line over 1 MB, some 140,000 UIDs.)
Deletions and sweeps are applied after every folder's new mail, so that a message moved between two
folders is stored from its new folder before it leaves the old one.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from connectors.base import STALE, Batch, MessageMeta
from connectors.folders import is_item_folder, is_not_mail_folder, is_sent_folder, is_trash_folder
from connectors.headers import WANTED, meta_from_header
from connectors.imap_cursor import FolderState, ImapCursor, from_sequence_set, scope_of, to_sequence_set
from connectors.imap_session import reason, signed_in, tls_context
from connectors.passwords import read_password, source_key
from daemon.config import Config, SourceConfig
from daemon.errors import SourceError

BATCH = 500                     # messages per FETCH, and per Batch
WINDOW = 50_000                 # UIDs per SEARCH: its one-line answer must stay below imaplib's 1 MB line limit
DELETIONS = 5000                # tombstones per Batch
FIELDS = " ".join(name.decode().upper() for name in (*WANTED, b"x-kith-digest"))
HEADERS = f"BODY.PEEK[HEADER.FIELDS ({FIELDS})]"
FETCH_ITEMS = ["FLAGS", "INTERNALDATE", HEADERS]
LEFT_OUT = {b"\\drafts", b"\\junk", b"\\trash"}        # SPECIAL-USE flags, lower-cased
UNSELECTABLE = {b"\\noselect", b"\\nonexistent"}
_KITH_DIGEST = re.compile(rb"(?im)^x-kith-digest[ \t]*:")
RESYNC_NOTE = ("the account's server or login changed, or Kith's record of where it stopped is from an older "
               "version: every folder is read again (nothing is counted twice)")


@dataclass(frozen=True)
class Folder:
    name: str                   # as the server lists it, decoded from modified UTF-7
    sent: bool                  # holds the user's sent mail


class ImapSource:
    """One IMAP account, read-only. `key` is "imap:<source name>"."""

    def __init__(self, source: SourceConfig, config: Config, *, ssl_context: ssl.SSLContext | None = None,
                 batch_size: int = BATCH) -> None:
        self.source, self.config = source, config
        self.key = source_key(source)
        self.account = f"{source.username}@{source.host.strip().lower()}"
        self.batch_size = batch_size
        self._ssl_context = ssl_context         # tests trust their own server's certificate with it

    def check(self) -> None:
        """SourceError unless the password can be had (without connecting: the sync says what the server does)."""
        read_password(self.source, self.config)

    def pull(self, cursor: str | None) -> Iterator[Batch]:
        """New mail and deletions since the cursor; everything when there is none or it is not this account's."""
        password = read_password(self.source, self.config)
        trusted = self._ssl_context or tls_context(self.source, self.config)
        with signed_in(self.source, password, ssl_context=trusted) as client:
            state = ImapCursor.parse(cursor, self.account)
            resync = state is None and cursor is not None
            state = state or ImapCursor(self.account)
            pending: dict[str, tuple[set[int], FolderState]] = {}
            yield from self._new_mail(client, state, resync, pending)
            yield from self._removals(state, pending)

    # ------------------------------------------------------------ the pass

    def _new_mail(self, client: IMAPClient, state: ImapCursor, resync: bool,
                  pending: dict[str, tuple[set[int], FolderState]]) -> Iterator[Batch]:
        """Every folder's new mail; folders gone or left out become stale scopes; what went is left in `pending`."""
        folders, skipped = self._folders(client)
        notes = [RESYNC_NOTE] if resync else []
        notes += [f"{name}: contacts or tasks, not mail: not read" if is_item_folder(name)
                  else f"{name}: drafts, junk or trash, not read" for name in skipped if name not in state.skipped]
        state.skipped = skipped
        wanted = {folder.name for folder in folders}
        for name in sorted(set(state.folders) - wanted):       # gone from the server, or left out now
            state.stale.append(scope_of(name, state.folders.pop(name).uidvalidity))
            if name not in skipped:
                notes.append(f"{name}: no longer on the server (or no longer read): its mail is removed")
        if resync:      # what is stored stays (marked) until this pass ends and sweeps what it did not read again
            state.stale.append(STALE)
        if resync or notes:
            yield Batch(all_stale=resync, notes=tuple(notes), cursor=state.dump())
        for folder in folders:
            yield from self._catch_up(client, folder, state, pending)

    def _catch_up(self, client: IMAPClient, folder: Folder, state: ImapCursor,
                  pending: dict[str, tuple[set[int], FolderState]]) -> Iterator[Batch]:
        """The folder's new mail, one Batch per FETCH; what went is left in `pending` with the folder's state
        as it will be once that is applied."""
        info = self._examine(client, folder)
        if isinstance(info, str):
            yield Batch(notes=(info,), cursor=state.dump())
            return
        uidvalidity, exists = info[b"UIDVALIDITY"], info[b"EXISTS"]
        now = FolderState(uidvalidity, uidnext=info.get(b"UIDNEXT"), exists=exists)
        scope = scope_of(folder.name, uidvalidity)
        held = state.folders.get(folder.name)
        notes: tuple[str, ...] = ()
        if held is not None and held.uidvalidity != uidvalidity:
            state.stale.append(scope_of(folder.name, held.uidvalidity))
            notes = (f"{folder.name}: the server renumbered its messages (UIDVALIDITY changed): read again",)
            held = None
        if held is None:
            held = state.folders[folder.name] = FolderState(uidvalidity)
            state.stale = [s for s in state.stale if s != scope]     # a scope read again is not stale
        if held.uidnext is not None and (held.uidnext, held.exists) == (now.uidnext, now.exists):
            return
        known = from_sequence_set(held.uids)
        new = uids_from(client, held.last_uid + 1, now.uidnext)
        gone: set[int] = set()
        if exists != len(known) + len(new):                     # some of the known mail went
            current = set(uids_from(client, 1, now.uidnext))
            gone = known - current
            new = sorted(uid for uid in current if uid > held.last_uid)
        chunks = [new[i:i + self.batch_size] for i in range(0, len(new), self.batch_size)] or [[]]
        for n, chunk in enumerate(chunks):
            messages, problems, found = self._fetch(client, chunk, folder, scope)
            known |= found
            held.last_uid = chunk[-1] if chunk else held.last_uid
            held.uids = to_sequence_set(known)
            whole = n == len(chunks) - 1 and not gone
            if whole:                                           # caught up: the next sync may skip the folder
                held.uidnext, held.exists = now.uidnext, now.exists
            if chunk or notes or whole:
                yield Batch(messages=messages, notes=notes + problems, cursor=state.dump())
            notes = ()
        if gone:
            pending[folder.name] = (gone, now)

    def _removals(self, state: ImapCursor, pending: dict[str, tuple[set[int], FolderState]]) -> Iterator[Batch]:
        """Tombstones for the mail gone from each folder (the folder's state following them), then the sweep
        of stale scopes: folders read again after a change of UIDVALIDITY, and folders gone."""
        for name, (gone, now) in pending.items():
            held = state.folders[name]
            known = from_sequence_set(held.uids)
            ordered = sorted(gone)
            for start in range(0, len(ordered), DELETIONS):
                chunk = ordered[start:start + DELETIONS]
                known.difference_update(chunk)
                held.uids = to_sequence_set(known)
                if start + DELETIONS >= len(ordered):
                    held.uidnext, held.exists = now.uidnext, now.exists
                scope = scope_of(name, held.uidvalidity)
                yield Batch(deleted=tuple(f"{scope}/{uid}" for uid in chunk), cursor=state.dump())
        if state.stale:
            stale, state.stale = tuple(dict.fromkeys(state.stale)), []
            yield Batch(scopes=stale, cursor=state.dump())

    # ------------------------------------------------------------ folders

    def _folders(self, client: IMAPClient) -> tuple[list[Folder], list[str]]:
        """The folders to read, and those left out as drafts, junk or trash."""
        listed = {name: (tuple(f.lower() for f in flags), delimiter)
                  for flags, delimiter, name in client.list_folders()}
        if not any(name.upper() == "INBOX" for name in listed):     # every account has one (RFC 3501)
            raise SourceError("the server lists no INBOX (a fault on its side?); nothing is removed meanwhile",
                              where=self.key, fix="the next sync tries again; if this stays, check the account")
        if self.source.folders:
            return [self._configured(name, listed) for name in dict.fromkeys(self.source.folders)], []
        others = _other_namespaces(client)
        flagged = [_path(name, delimiter) for name, (flags, delimiter) in listed.items() if LEFT_OUT & set(flags)]
        folders, skipped = [], []
        for name, (flags, delimiter) in sorted(listed.items()):
            if UNSELECTABLE & set(flags) or any(name.startswith(prefix) for prefix in others):
                continue
            path = _path(name, delimiter)
            if _left_out(path, flagged):
                skipped.append(name)
                continue
            folders.append(Folder(name, self._is_sent(path, flags)))
        return folders, skipped

    def _configured(self, name: str, listed: dict[str, tuple[tuple[bytes, ...], bytes | None]]) -> Folder:
        """A folder named in `folders`, as the server lists it ("inbox" is INBOX); SourceError when it has none."""
        found = "INBOX" if name.upper() == "INBOX" and "INBOX" in listed else name
        if found not in listed:
            names = ", ".join(sorted(listed)[:20]) + (", …" if len(listed) > 20 else "")
            raise SourceError(f"the server has no folder {name!r}", where=self.key,
                              fix=f"correct folders in the config; the server's folders are: {names}")
        flags, delimiter = listed[found]
        return Folder(found, self._is_sent(_path(found, delimiter), flags))

    def _is_sent(self, path: str, flags: tuple[bytes, ...]) -> bool:
        return b"\\sent" in flags or is_sent_folder(path, self.source.sent_folders or None)

    def _examine(self, client: IMAPClient, folder: Folder) -> dict | str:
        """The folder opened read-only (EXAMINE) and what the server says of it; a note when it cannot be
        opened (gone since it was listed: the next sync looks again); SourceError for a configured one."""
        try:
            return client.select_folder(folder.name, readonly=True)
        except IMAPClientAbortError:
            raise
        except IMAPClientError as exc:
            if self.source.folders:
                raise SourceError(f"cannot open the folder {folder.name!r} ({reason(exc)})", where=self.key,
                                  fix="check folders in the config against your server's folders") from None
            return f"{folder.name}: cannot be opened ({reason(exc)}), skipped"

    # ------------------------------------------------------------ messages

    def _fetch(self, client: IMAPClient, uids: list[int], folder: Folder, scope: str
               ) -> tuple[tuple[MessageMeta, ...], tuple[str, ...], set[int]]:
        """The records of these messages, notes for those that cannot be used, and the UIDs the server still had."""
        if not uids:
            return (), (), set()
        rows = client.fetch(uids, FETCH_ITEMS)
        messages, notes = [], []
        for uid in sorted(rows):
            meta = _record(uid, rows[uid], scope, ("SENT",) if folder.sent else ())
            if isinstance(meta, MessageMeta):
                messages.append(meta)
            elif meta:
                notes.append(f"{folder.name}: message UID {uid} {meta}, skipped")
        return tuple(messages), tuple(notes), set(rows)


def uids_from(client: IMAPClient, low: int, uidnext: int | None) -> list[int]:
    """The UIDs of the selected folder from `low` up, by UID SEARCH in windows of WINDOW UIDs below UIDNEXT,
    the last one open-ended (`n:*`, which always answers the highest message: those below `low` are dropped)."""
    found: list[int] = []
    while True:
        last = uidnext is None or low + WINDOW > uidnext - 1
        answer = client.search(["UID", f"{low}:*" if last else f"{low}:{low + WINDOW - 1}"])
        found += sorted(uid for uid in answer if uid >= low)
        if last:
            return found
        low += WINDOW


def _record(uid: int, row: dict, scope: str, labels: tuple[str, ...]) -> MessageMeta | str | None:
    """The record of one FETCH answer; why not (a short phrase); or None for a draft or Kith's own digest."""
    if b"\\draft" in {flag.lower() for flag in row.get(b"FLAGS", ())}:
        return None
    block = next((value for name, value in row.items()
                  if isinstance(name, bytes) and name.startswith(b"BODY[HEADER.FIELDS")), None)
    if not isinstance(block, bytes):
        return "came without its header fields"
    if _KITH_DIGEST.search(block):
        return None
    internal = row.get(b"INTERNALDATE")

    def arrived() -> datetime | None:
        return internal.astimezone(UTC) if isinstance(internal, datetime) and internal.tzinfo else None

    return meta_from_header(block, scope=scope, source_id=f"{scope}/{uid}", labels=labels, fallback_date=arrived,
                            arrived=arrived)


def _left_out(path: str, flagged: list[str]) -> bool:
    """Drafts, junk or trash: by name, or flagged so by the server (the folder or one it is inside)."""
    return (is_not_mail_folder(path) or is_trash_folder(path)
            or any(path == p or path.startswith(p + "/") for p in flagged))


def _path(name: str, delimiter: bytes | str | None) -> str:
    """A folder name with "/" between its levels, as folders.py reads names ("Archive.Sent" -> "Archive/Sent")."""
    separator = delimiter.decode() if isinstance(delimiter, bytes) else delimiter
    return name.replace(separator, "/") if separator and separator != "/" else name


def _other_namespaces(client: IMAPClient) -> list[str]:
    """Prefixes of other users' and shared folders: mail that is not the user's own."""
    if not client.has_capability("NAMESPACE"):
        return []
    spaces = client.namespace()
    prefixes = [prefix for group in (spaces.other, spaces.shared) for prefix, _ in group or () if prefix]
    return [p.decode("utf-8", "replace") if isinstance(p, bytes) else p for p in prefixes]
