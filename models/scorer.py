"""Judge each contact: value, noise and state.

Value comes from the judgment of `models.learn` (a transparent heuristic stands
in for its learned model while the history is too short); noise from the rules in
`models.noise`. State compares the time since the last contact with the
relationship's own rhythm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from daemon.config import Goal
from daemon.contacts import in_organisations
from models.facts import ContactFacts, ago, days_between
from models.touches import collect, to_days
from models.goals import goal_fits
from models.learn import fit_predict
from models.noise import noise_reason

NEW_DAYS = 30
DEFAULT_GAP_DAYS = 45.0


@dataclass
class ContactScore:
    contact_id: str
    value: float                      # 0..1, higher is a more valuable relationship
    noise: bool
    state: str                        # active, passive, cooling, dormant, new, noise
    goal_fit: dict[str, float] = field(default_factory=dict)
    noise_reason: str | None = None
    priority: float = 0.0             # value weighted by the goals it serves
    peak: float = 0.0                 # value at its best over the past year (for lapsed ties)
    goal_factor: float = 1.0          # how much the user's goals weigh this contact (0.5 … 1.5)
    valuable: bool = False            # among the ties worth suggesting (see `bar`)
    verdict: str | None = None        # the user's own judgment when it decides ("good" or "noise")
    colleague: bool = False           # an address in the user's own organisation


VALUABLE = 0.3        # a value at which a tie is worth suggesting …
TOP_VALUABLE = 20     # … and the user's most valuable ties always are, however low this mailbox's values run


def bar(values: list[float], absolute: float, top: int) -> float:
    """The value a contact needs to count: `absolute`, or lower where this mailbox's values run low.

    Value is a probability of mail both ways in the coming months; in a mailbox
    where little goes both ways (a mailing-list developer, a busy archive), even
    the closest ties score 0.1. Its `top` most valuable contacts still qualify.
    """
    ranked = sorted(values, reverse=True)
    return min(absolute, ranked[top - 1]) if len(ranked) >= top else absolute


def one_sided_lately(f: ContactFacts) -> bool:
    """The user started each of the last threads and most went unanswered: a tie sliding away."""
    recent = f.recent_threads
    return len(recent) >= 4 and all(by_user for by_user, _ in recent) and sum(a for _, a in recent) <= 1


def state_of(f: ContactFacts, as_of: datetime) -> str:
    """Where a relationship stands against its own rhythm."""
    since = days_between(f.last_contact, as_of)
    if since is None:
        return "passive"
    gap = f.usual_gap_days or DEFAULT_GAP_DAYS
    # reciprocal by thread, by meeting, or by messages each way (archives without threading, new subjects)
    mutual = f.two_way_threads >= 1 or f.meetings_one_to_one >= 1 or f.close
    if f.first_contact and as_of - f.first_contact <= timedelta(days=NEW_DAYS):
        return "new"
    if mutual and since > max(180.0, 4 * gap):
        return "dormant"
    if mutual and (since > max(1.5 * gap, gap + 10) or one_sided_lately(f)):
        return "cooling"
    window = max(1.5 * gap, gap + 10)
    mine = days_between(f.last_sent, as_of)
    # active is both ways: a tie only they keep writing to, the user silent for longer than its rhythm (a
    # maintainer who left a project, still named in every review), is passive
    if (f.two_way_threads >= 2 or f.meetings_one_to_one >= 2 or f.close) and since <= window \
            and ((mine is not None and mine <= window) or _met_lately(f, as_of, window)):
        return "active"
    return "passive"


def _met_lately(f: ContactFacts, as_of: datetime, days: float) -> bool:
    """A meeting within `days`: a tie kept up in person needs no mail from the user."""
    return f.last_meeting is not None and as_of - f.last_meeting[0] <= timedelta(days=days)


def state_reason(f: ContactFacts, state: str, as_of: datetime) -> str | None:
    """Why a contact is in its state, in plain words (None where the state says it all: active, passive)."""
    since = days_between(f.last_contact, as_of)
    gap = round(f.usual_gap_days or DEFAULT_GAP_DAYS)
    rhythm = f"you usually talk every {gap} days" if f.usual_gap_days else "no usual rhythm yet"
    if state == "new" and f.first_contact:
        return f"first contact {ago(days_between(f.first_contact, as_of))}"
    if state == "cooling" and since is not None and since <= max(1.5 * gap, gap + 10) and one_sided_lately(f):
        answered = sum(a for _, a in f.recent_threads)
        return (f"you started each of the last {len(f.recent_threads)} threads and "
                + ("none was answered" if not answered else "one was answered"))
    if state in ("cooling", "dormant") and since is not None:
        return f"{since} days since the last contact; {rhythm}"
    return None


def learned_values(facts: dict[str, ContactFacts], as_of: datetime,
                   feedback: dict[str, bool] | None = None) -> dict[str, tuple[float, float]]:
    """(value now, value at its best over the past year) per contact, from the model."""
    touches = collect(facts)
    index = {cid: i for i, cid in enumerate(touches.ids)}
    verdicts = {index[cid]: good for cid, good in (feedback or {}).items() if cid in index}
    prediction = fit_predict(touches, to_days(as_of), verdicts)
    now, peak = prediction.now.tolist(), prediction.peak.tolist()  # Python floats: indexing numpy per contact is slow
    return {cid: (round(now[i], 4), round(peak[i], 4)) for cid, i in index.items()}


def score_all(facts: dict[str, ContactFacts], goals: tuple[Goal, ...], as_of: datetime,
              feedback: dict[str, str] | None = None, organisations: frozenset[str] = frozenset(),
              goal_feedback: dict[tuple[str, str], bool] | None = None) -> dict[str, ContactScore]:
    """Judge every contact. `feedback` maps contact ids to the user's latest verdict, which wins;
    `organisations` are the domains of the user's work addresses (see `models.noise`); `goal_feedback` the
    verdicts given with `--goal`, (contact id, goal) → relevant (see `models.goals.goal_fits`)."""
    feedback = feedback or {}
    verdicts = {cid: v == "good" for cid, v in feedback.items() if v in ("good", "noise")}
    values = learned_values(facts, as_of, verdicts)
    total_weight = sum(g.weight for g in goals) or 1.0
    fits = goal_fits(facts, goals, goal_feedback, organisations)
    scores = {}
    for cid, f in facts.items():
        verdict = feedback.get(cid)
        reason = "you marked it as noise" if verdict == "noise" else None if verdict == "good" \
            else noise_reason(f, as_of, organisations)
        fit = fits[cid]
        value, peak = (0.0, 0.0) if reason else values[cid]
        goal_boost = sum(g.weight * fit[g.name] for g in goals) / total_weight
        factor = 0.5 + goal_boost if goals else 1.0      # without goals, value alone orders (not value × 0.5)
        scores[cid] = ContactScore(cid, value, reason is not None, "noise" if reason else state_of(f, as_of),
                                   fit, reason, round(value * factor, 4), peak, round(factor, 4),
                                   verdict=verdict if verdict in ("good", "noise") else None,
                                   colleague=any(in_organisations(a, organisations) for a in f.contact.addresses))
    _count_good_among_the_best(scores)
    needed = bar([s.peak for s in scores.values() if not s.noise], VALUABLE, TOP_VALUABLE)
    for s in scores.values():
        s.valuable = not s.noise and s.peak > 0 and s.peak >= needed
    return scores


def _count_good_among_the_best(scores: dict[str, ContactScore]) -> None:
    """The user's "good" overrides the model: such a contact is worth at least what the user's
    TOP_VALUABLE-th most valuable tie is (and at least VALUABLE), now and at its best, however little mail
    it has. The model keeps the order above that floor, and its retraining on the verdict moves look-alikes."""
    good = [s for s in scores.values() if s.verdict == "good"]
    if not good:
        return
    others = [s for s in scores.values() if not s.noise and s.verdict != "good"]
    floor_now = max(VALUABLE, _nth_highest([s.value for s in others], TOP_VALUABLE))
    floor_peak = max(VALUABLE, _nth_highest([s.peak for s in others], TOP_VALUABLE))
    for s in good:
        s.value, s.peak = max(s.value, floor_now), max(s.peak, floor_peak)
        s.priority = round(s.value * s.goal_factor, 4)


def _nth_highest(values: list[float], n: int) -> float:
    ranked = sorted(values, reverse=True)
    return ranked[n - 1] if len(ranked) >= n else 0.0
