"""Shared fixtures: a temporary store, hand-built records, and a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import Address, Batch, EventMeta, MessageMeta
from daemon.store import open_store

ROOT = Path(__file__).resolve().parent.parent
ME = Address("me@home.example", "Me")
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def private_home(tmp_path_factory, monkeypatch):
    """Kith's per-user folders (XDG) in a temporary place: a test whose config leaves a path to its default
    never reads or writes the real user's store, digests, config or tokens."""
    home = tmp_path_factory.mktemp("xdg")
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))


@pytest.fixture
def db(tmp_path):
    return open_store(tmp_path / "kith.db")


def message(n: int, *, sender: Address = ME, to: tuple[Address, ...] = (), subject: str = "",
            at: datetime | None = None, labels: tuple[str, ...] = (), scope: str = "INBOX", bulk: bool = False,
            cc: tuple[Address, ...] = (), list_id: str = "") -> MessageMeta:
    """A hand-made message; `n` makes ids and default times distinct."""
    return MessageMeta(source_id=f"{scope}/m{n}", message_id=f"m{n}@test", thread_key=f"m{n}@test",
                       sent_at=at or T0 + timedelta(hours=n), sender=sender, to=to, cc=cc,
                       subject=subject or f"subject {n}", bulk=bulk, list_id=list_id, labels=labels, scope=scope)


def event(uid: str, *, start: datetime, attendees=(), summary: str = "Meeting", cancelled: bool = False,
          sequence: int = 0, scope: str = "cal.ics", organizer: Address | None = ME) -> EventMeta:
    return EventMeta(source_id=uid, start=start, end=start + timedelta(hours=1), organizer=organizer,
                     attendees=tuple(attendees), summary=summary, cancelled=cancelled, sequence=sequence, scope=scope)


__all__ = ["ME", "T0", "Address", "Batch", "message", "event"]
