"""Every touch of every contact as flat numpy arrays: the model's raw material.

Holding all touches in arrays sorted by (contact, time) lets features be
computed at many cut-off moments cheaply (see `models.features`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter
from datetime import UTC, datetime

import numpy as np

from models.facts import ContactFacts

DAY = 86400.0
SENT, RECEIVED, MEETING = 0, 1, 2
KINDS = {"sent": SENT, "received": RECEIVED, "meeting": MEETING}
REPLY_WINDOW_DAYS = 14.0


def to_days(moment: datetime) -> float:
    return moment.astimezone(UTC).timestamp() / DAY


@dataclass
class Touches:
    """Every touch of every contact, sorted by (contact, time)."""

    ids: list[str]              # contact ids; index = contact number
    contact: np.ndarray         # int32
    t: np.ndarray               # float64 days since the epoch
    kind: np.ndarray            # int8: SENT, RECEIVED, MEETING
    direct: np.ndarray          # bool
    bulk: np.ndarray            # bool
    size: np.ndarray            # int32: other people involved
    pair: np.ndarray            # int64: index of the (contact, conversation) thread
    pair_contact: np.ndarray    # int32 per thread: its contact
    pair_conversation: np.ndarray  # int64 per thread: its conversation, the same for every contact in it
    gap: np.ndarray             # float64 per touch: days since the contact's previous personal touch (nan: none)
    started_by: np.ndarray      # int8 per touch: kind of the first touch of its pair
    reply_at: np.ndarray        # float64: when the other side answered this touch (inf: never)
    static: dict[str, np.ndarray]  # per-contact features that do not depend on time

    @property
    def n(self) -> int:
        return len(self.ids)

    @cached_property
    def segments(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each contact's touches start (they are sorted by contact), and which contacts have any:
        per-contact sums are then one `reduceat`, cheaper than gathering masked touches for `bincount`."""
        starts = np.searchsorted(self.contact, np.arange(self.n))
        has = np.diff(np.append(starts, len(self.contact))) > 0
        return np.minimum(starts, max(0, len(self.contact) - 1)), has


def collect(facts: dict[str, ContactFacts]) -> Touches:
    """Flatten the contacts' touches into arrays (one C-level pass over all touches per column)."""
    ids = sorted(facts)
    flat = [touch for cid in ids for touch in facts[cid].touches]
    column = lambda name: list(map(attrgetter(name), flat))  # noqa: E731
    conversations = column("conversation")
    numbers = dict(zip(dict.fromkeys(conversations), itertools.count()))  # in order of first appearance
    contact = np.repeat(np.arange(len(ids), dtype=np.int32), [len(facts[cid].touches) for cid in ids])
    t = np.array(list(map(datetime.timestamp, column("at"))), dtype=np.float64) / DAY
    order = np.lexsort((t, contact))
    contact, t = contact[order], t[order]
    kind = np.array(list(map(KINDS.__getitem__, column("kind"))), dtype=np.int8)[order]
    conv = np.array(list(map(numbers.__getitem__, conversations)), dtype=np.int64)[order]
    bulk = np.array(column("bulk"), dtype=bool)[order]
    pair_keys, pair = np.unique(contact.astype(np.int64) * (len(numbers) + 1) + conv, return_inverse=True)
    pair_contact = (pair_keys // (len(numbers) + 1)).astype(np.int32)
    pair_conversation = pair_keys % (len(numbers) + 1)
    return Touches(ids, contact, t, kind, np.array(column("direct"), dtype=bool)[order], bulk,
                   np.array(column("size"), dtype=np.int32)[order], pair.astype(np.int64), pair_contact,
                   pair_conversation,
                   _gaps(contact, t, bulk), *_thread_structure(pair, t, kind), _static(facts, ids))


def _gaps(contact: np.ndarray, t: np.ndarray, bulk: np.ndarray) -> np.ndarray:
    """Days since the same contact's previous personal touch, for rhythm features."""
    gap = np.full(len(t), np.nan)
    personal = np.flatnonzero(~bulk)
    if len(personal) > 1:
        same = contact[personal[1:]] == contact[personal[:-1]]
        gap[personal[1:][same]] = (t[personal[1:]] - t[personal[:-1]])[same]
    return gap


def _thread_structure(pair: np.ndarray, t: np.ndarray, kind: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Who started each thread, and when each message got an answer from the other side."""
    started_by = np.full(len(pair), -1, dtype=np.int8)
    reply_at = np.full(len(pair), np.inf)
    if not len(pair):
        return started_by, reply_at
    order = np.lexsort((t, pair))
    p, k, tt = pair[order], kind[order], t[order]
    first = np.ones(len(p), dtype=bool)
    first[1:] = p[1:] != p[:-1]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(p)), 0))
    started_by[order] = k[group_start]
    # the next message in the same thread going the other way answers this one
    nxt = np.arange(1, len(p) + 1)
    same = np.zeros(len(p), dtype=bool)
    same[:-1] = (p[1:] == p[:-1]) & (k[1:] != k[:-1]) & (k[:-1] != MEETING) & (k[1:] != MEETING)
    answered = np.where(same, tt[np.minimum(nxt, len(p) - 1)], np.inf)
    reply_at[order] = np.where(answered - tt <= REPLY_WINDOW_DAYS, answered, np.inf)
    return started_by, reply_at


def _static(facts: dict[str, ContactFacts], ids: list[str]) -> dict[str, np.ndarray]:
    """Address shape: role and no-reply addresses, personal or company domain, subdomains."""
    from daemon.contacts import address_kind  # noqa: PLC0415 - keep models importable without daemon

    role, noreply, deep, lists, addresses = [], [], [], [], []
    for cid in ids:
        f = facts[cid]
        kinds = [address_kind(a) for a in f.contact.addresses]
        role.append("person" not in kinds and "role" in kinds)
        noreply.append("person" not in kinds and "noreply" in kinds)
        deep.append(max(a.rsplit("@", 1)[-1].count(".") for a in f.contact.addresses) >= 2)
        lists.append(bool(f.list_ids))
        addresses.append(len(f.contact.addresses))
    return {"role_address": np.array(role, float), "noreply_address": np.array(noreply, float),
            "subdomain": np.array(deep, float), "on_mailing_list": np.array(lists, float),
            "addresses": np.array(addresses, float)}
