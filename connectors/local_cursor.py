"""The cursor of a local source: a small integer state per file or folder, as JSON.

Shared by the ics and Maildir connectors. A cursor that is absent, damaged, or
written by another source or for another path reads as None: the caller then
reads everything again, which the store's upserts make harmless.
"""

from __future__ import annotations

import json


def dump(kind: str, root: str, field: str, states: dict[str, list[int]]) -> str:
    return json.dumps({"kind": kind, "v": 1, "root": root, field: dict(sorted(states.items()))},
                      separators=(",", ":"))


def load(cursor: str | None, kind: str, root: str, field: str, width: int = 3) -> dict[str, list[int]] | None:
    """The per-item states, or None when the cursor is absent or not ours."""
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
        if data.get("kind") != kind or data.get("v") != 1 or data.get("root") != root:
            return None
        states = data[field]
        if not all(isinstance(v, list) and len(v) == width and all(isinstance(x, int) for x in v)
                   for v in states.values()):
            return None
        return dict(states)
    except (ValueError, TypeError, AttributeError, KeyError):
        return None
