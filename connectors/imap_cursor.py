"""The IMAP source's cursor: per folder, what of it the store holds, as JSON.

A folder's state names its UIDVALIDITY, the highest UID read (every UID up to it is stored, or was
skipped on purpose), the set of those UIDs still on the server as far as the store knows (kept as an
IMAP sequence set, "1:500,502", so a big folder costs a few bytes), and UIDNEXT and the message count as
the server gave them when the folder was last caught up whole. `stale` lists the scopes
(one per folder and UIDVALIDITY) to sweep once every folder is caught up: a folder whose UIDVALIDITY
changed, or that is gone, keeps its mail in the store until then. A cursor written for another account,
by another version or by another source reads as None: everything is read again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

KIND = "imap"
VERSION = 1
_SEQUENCE_SET = re.compile(r"(?:\d+(?::\d+)?(?:,\d+(?::\d+)?)*)?")


@dataclass
class FolderState:
    uidvalidity: int
    last_uid: int = 0                 # every UID up to this one is stored (or skipped on purpose)
    uids: str = ""                    # of those, the ones still on the server: a sequence set
    uidnext: int | None = None        # UIDNEXT and EXISTS when the folder was last caught up whole
    exists: int | None = None         # (None: a first reading, or deletions still to apply)


@dataclass
class ImapCursor:
    account: str                      # "username@host": a cursor of another account is not ours
    folders: dict[str, FolderState] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)      # scopes to sweep when every folder is caught up
    skipped: list[str] = field(default_factory=list)    # drafts, junk and trash folders (said once)

    def dump(self) -> str:
        data = {"kind": KIND, "v": VERSION, "account": self.account, "stale": self.stale, "skipped": self.skipped,
                "folders": {name: asdict(state) for name, state in sorted(self.folders.items())}}
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def parse(cls, text: str | None, account: str) -> ImapCursor | None:
        """The cursor, or None when there is none or it is not this account's (both: read everything)."""
        try:
            data = json.loads(text or "")
            if data.get("kind") != KIND or data.get("v") != VERSION or data.get("account") != account:
                return None
            folders = {str(name): FolderState(**state) for name, state in data["folders"].items()}
            if not all(isinstance(s.uidvalidity, int) and isinstance(s.last_uid, int) and isinstance(s.uids, str)
                       and _SEQUENCE_SET.fullmatch(s.uids) for s in folders.values()):
                return None
            return cls(account, folders, [str(s) for s in data["stale"]], [str(s) for s in data["skipped"]])
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


def scope_of(folder: str, uidvalidity: int) -> str:
    """A folder's scope in the store: its name and UIDVALIDITY, so that a change of UIDVALIDITY starts a
    new scope and the old one can be swept whole once the folder has been read again."""
    return f"{folder}#{uidvalidity}"


def to_sequence_set(uids: Iterable[int]) -> str:
    """`[1, 2, 3, 5]` -> `"1:3,5"`."""
    ranges: list[str] = []
    start = previous = None
    for uid in sorted(set(uids)):
        if previous is not None and uid == previous + 1:
            previous = uid
            continue
        if start is not None:
            ranges.append(f"{start}:{previous}" if previous != start else str(start))
        start = previous = uid
    if start is not None:
        ranges.append(f"{start}:{previous}" if previous != start else str(start))
    return ",".join(ranges)


def from_sequence_set(text: str) -> set[int]:
    """`"1:3,5"` -> `{1, 2, 3, 5}`."""
    uids: set[int] = set()
    for part in filter(None, text.split(",")):
        low, _, high = part.partition(":")
        uids.update(range(int(low), int(high or low) + 1))
    return uids
