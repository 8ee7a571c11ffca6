"""Numbers that describe each relationship as of a moment, for the model.

All touches of all contacts are held in flat numpy arrays, so that features can
be computed at several cut-off moments cheaply: the model learns from what
happened after earlier moments of the user's own history. Nothing at or after
a cut-off is used for the features at that cut-off.
"""

from __future__ import annotations

import numpy as np

from models.facts import STRONG_EXCHANGES
from models.touches import MEETING, RECEIVED, REPLY_WINDOW_DAYS, SENT, Touches


def _per_contact(touches: Touches, values: np.ndarray, reduce: np.ufunc, empty: float) -> np.ndarray:
    """`reduce` of `values` over each contact's touches; `empty` for a contact without any."""
    if not len(values):
        return np.full(touches.n, empty)
    starts, has = touches.segments
    out = reduce.reduceat(values, starts)
    out[~has] = empty
    return out


def _count(touches: Touches, mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    values = mask.astype(float) if weights is None else np.where(mask, weights, 0.0)
    return _per_contact(touches, values, np.add, 0.0)


def _last(touches: Touches, mask: np.ndarray, default: float) -> np.ndarray:
    out = _per_contact(touches, np.where(mask, touches.t, -np.inf), np.maximum, -np.inf)
    return np.where(np.isfinite(out), out, default)


def _first(touches: Touches, mask: np.ndarray, default: float) -> np.ndarray:
    out = _per_contact(touches, np.where(mask, touches.t, np.inf), np.minimum, np.inf)
    return np.where(np.isfinite(out), out, default)


FEATURES = (
    "sent", "received", "received_bulk", "meetings_one_to_one", "meetings_group", "sent_direct", "received_direct",
    "sent_30", "received_30", "sent_90", "received_90", "sent_365", "received_365", "meetings_90",
    "trend_90", "days_since_contact", "days_since_sent", "days_since_received", "days_since_meeting", "tenure_days",
    "two_way_threads", "threads", "threads_by_user", "threads_by_them", "their_answer_rate", "user_answer_rate",
    "their_latency_days", "user_latency_days", "mean_gap_days", "gap_variation", "overdue", "mean_size",
    "one_to_one_share", "bulk_share", "sent_share_365", "decayed_two_way",
    *[f"decayed_{side}_{tau}" for tau in (7, 30, 120, 365) for side in ("sent", "received", "two_way")],
    "open_threads_30", "two_way_threads_90", "days_since_two_way", "threads_with_strong", "decayed_with_strong",
    *sorted(["role_address", "noreply_address", "subdomain", "on_mailing_list", "addresses"]),
)
# Domain knowledge the model may not unlearn from a quirky mailbox: more mail both
# ways never makes a relationship less likely to go on, a longer silence never more.
INCREASING = {
    "sent", "received", "meetings_one_to_one", "meetings_group", "sent_direct", "received_direct", "sent_30",
    "received_30", "sent_90", "received_90", "sent_365", "received_365", "meetings_90", "two_way_threads",
    "threads", "threads_by_user", "threads_by_them", "their_answer_rate", "user_answer_rate", "decayed_two_way",
    "sent_share_365", "open_threads_30", "two_way_threads_90", "threads_with_strong", "decayed_with_strong",
    *[f"decayed_{side}_{tau}" for tau in (7, 30, 120, 365) for side in ("sent", "received", "two_way")],
}
DECREASING = {"days_since_contact", "days_since_sent", "days_since_received", "days_since_meeting", "bulk_share",
              "noreply_address", "role_address", "their_latency_days", "days_since_two_way"}
NEVER = 3650.0  # "days since" for something that never happened


def features_at(touches: Touches, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """The feature matrix (contacts × FEATURES) as of `cutoff`, and which contacts were known then."""
    t, kind, personal = touches.t, touches.kind, ~touches.bulk
    before = t < cutoff
    sent, received = before & (kind == SENT), before & (kind == RECEIVED) & personal
    meeting = before & (kind == MEETING)
    f: dict[str, np.ndarray] = {}
    f["sent"], f["received"] = _count(touches, sent), _count(touches, received)
    f["received_bulk"] = _count(touches, before & touches.bulk)
    f["meetings_one_to_one"] = _count(touches, meeting & touches.direct)
    f["meetings_group"] = _count(touches, meeting & ~touches.direct)
    f["sent_direct"] = _count(touches, sent & touches.direct)
    f["received_direct"] = _count(touches, received & touches.direct)
    for days in (30, 90, 365):
        recent = t >= cutoff - days
        f[f"sent_{days}"] = _count(touches, sent & recent)
        f[f"received_{days}"] = _count(touches, received & recent)
    f["meetings_90"] = _count(touches, meeting & (t >= cutoff - 90))
    previous = (t >= cutoff - 180) & (t < cutoff - 90)
    f["trend_90"] = f["sent_90"] + f["received_90"] - _count(touches, (sent | received) & previous)
    active = sent | received | meeting
    for name, mask in (("contact", active), ("sent", sent), ("received", received), ("meeting", meeting)):
        f[f"days_since_{name}"] = np.minimum(NEVER, cutoff - _last(touches, mask, cutoff - NEVER))
    f["tenure_days"] = np.maximum(0.0, cutoff - _first(touches, active, cutoff))
    _thread_features(touches, cutoff, sent, received, f)
    _rhythm_features(touches, cutoff, active, f)
    total = f["sent"] + f["received"] + f["received_bulk"]
    f["bulk_share"] = f["received_bulk"] / np.maximum(1.0, total)
    f["sent_share_365"] = f["sent_365"] / max(1.0, float(f["sent_365"].sum()))
    decay_120 = _decayed_features(touches, cutoff, sent, received, f)
    _company_features(touches, sent | received | meeting, decay_120, f)
    f.update(touches.static)
    known = _count(touches, before) > 0
    return np.column_stack([f[name] for name in FEATURES]), known


def _thread_features(touches: Touches, cutoff: float, sent: np.ndarray, received: np.ndarray,
                     f: dict[str, np.ndarray]) -> None:
    pairs = len(touches.pair_contact)
    has_sent = np.bincount(touches.pair[sent], minlength=pairs) > 0
    has_received = np.bincount(touches.pair[received], minlength=pairs) > 0
    started = np.full(pairs, -1, dtype=np.int8)
    started[touches.pair] = touches.started_by
    counts = lambda m: np.bincount(touches.pair_contact[m], minlength=touches.n).astype(float)  # noqa: E731
    f["two_way_threads"] = counts(has_sent & has_received)
    f["threads"] = counts(has_sent | has_received)
    f["threads_by_user"] = counts(has_sent & (started == SENT))
    f["threads_by_them"] = counts(has_received & (started == RECEIVED))
    _open_threads(touches, cutoff, sent, received, has_sent & has_received, f)
    answered_by_them = sent & (touches.reply_at < cutoff)
    answered_by_user = received & (touches.reply_at < cutoff)
    f["their_answer_rate"] = _count(touches, answered_by_them) / np.maximum(1.0, f["sent"])
    f["user_answer_rate"] = _count(touches, answered_by_user) / np.maximum(1.0, f["received"])
    latency = touches.reply_at - touches.t
    for who, mask in (("their", answered_by_them), ("user", answered_by_user)):
        n = _count(touches, mask)
        f[f"{who}_latency_days"] = np.where(n > 0, _count(touches, mask, latency) / np.maximum(1.0, n),
                                            REPLY_WINDOW_DAYS)


def _decayed_features(touches: Touches, cutoff: float, sent: np.ndarray, received: np.ndarray,
                      f: dict[str, np.ndarray]) -> np.ndarray:
    """Volume each way, each message weighted down with its age (time constants of a week to a year).
    Returns the four-month weight of each touch, which the co-occurrence features use too."""
    age = np.maximum(0.0, cutoff - touches.t)
    decays = {tau: np.exp(-age / tau) for tau in (7, 30, 120, 365)}
    for tau, decay in decays.items():
        out, back = _count(touches, sent, decay), _count(touches, received, decay)
        f[f"decayed_sent_{tau}"], f[f"decayed_received_{tau}"] = out, back
        f[f"decayed_two_way_{tau}"] = np.minimum(out, back)
    f["decayed_two_way"] = f["decayed_two_way_30"]
    return decays[120]


def _company_features(touches: Touches, active: np.ndarray, decay_120: np.ndarray, f: dict[str, np.ndarray]) -> None:
    """Co-occurrence with the user's strong contacts: threads and meetings shared with someone the user has
    exchanged mail with both ways. A stranger in the same threads as the user's close colleagues is more
    likely a colleague than noise."""
    strong = (np.minimum(f["sent"], f["received"]) >= STRONG_EXCHANGES).astype(float)
    member = np.bincount(touches.pair[active], minlength=len(touches.pair_contact)) > 0
    conversation, who = touches.pair_conversation, touches.pair_contact
    strong_in = np.bincount(conversation[member], weights=strong[who[member]],
                            minlength=int(conversation.max(initial=-1)) + 1)
    with_strong = member & (strong_in[conversation] - strong[who] > 0)
    f["threads_with_strong"] = np.bincount(who[with_strong], minlength=touches.n).astype(float)
    shared = active & with_strong[touches.pair]
    f["decayed_with_strong"] = _count(touches, shared, decay_120)


def _open_threads(touches: Touches, cutoff: float, sent: np.ndarray, received: np.ndarray, two_way: np.ndarray,
                  f: dict[str, np.ndarray]) -> None:
    """Threads waiting for the user, and how recent the last thread that went both ways is."""
    pairs = len(touches.pair_contact)
    mail = sent | received
    last = np.full(pairs, -np.inf)
    np.maximum.at(last, touches.pair[mail], touches.t[mail])
    waiting = mail & (touches.t == last[touches.pair]) & received & touches.direct & (touches.t >= cutoff - 30)
    f["open_threads_30"] = _count(touches, waiting)
    recent = two_way & (last >= cutoff - 90)
    f["two_way_threads_90"] = np.bincount(touches.pair_contact[recent], minlength=touches.n).astype(float)
    latest = np.full(touches.n, -np.inf)
    np.maximum.at(latest, touches.pair_contact[two_way], last[two_way])
    f["days_since_two_way"] = np.minimum(NEVER, cutoff - np.where(np.isfinite(latest), latest, cutoff - NEVER))


def _rhythm_features(touches: Touches, cutoff: float, active: np.ndarray, f: dict[str, np.ndarray]) -> None:
    has_gap = active & ~np.isnan(touches.gap)
    gap = np.nan_to_num(touches.gap)
    n = _count(touches, has_gap)
    mean = _count(touches, has_gap, gap) / np.maximum(1.0, n)
    square = _count(touches, has_gap, gap * gap) / np.maximum(1.0, n)
    f["mean_gap_days"] = np.where(n > 0, mean, NEVER)
    f["gap_variation"] = np.where(n > 1, np.sqrt(np.maximum(0.0, square - mean * mean)) / np.maximum(1.0, mean), 1.0)
    f["overdue"] = np.where(n > 0, f["days_since_contact"] / np.maximum(1.0, mean), 0.0)
    n_all = _count(touches, active)
    f["mean_size"] = _count(touches, active, touches.size.astype(float)) / np.maximum(1.0, n_all)
    f["one_to_one_share"] = _count(touches, active & (touches.size <= 1)) / np.maximum(1.0, n_all)


def two_way_after(touches: Touches, start: float, horizon_days: float) -> np.ndarray:
    """The label: the user wrote to the contact and the contact wrote to the user within the horizon."""
    window = (touches.t >= start) & (touches.t < start + horizon_days)
    wrote = _count(touches, window & (touches.kind == SENT)) > 0
    answered = _count(touches, window & (touches.kind == RECEIVED) & ~touches.bulk) > 0
    return wrote & answered


def as_dict(row: np.ndarray) -> dict[str, float]:
    return {name: float(value) for name, value in zip(FEATURES, row)}
