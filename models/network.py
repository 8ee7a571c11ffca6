"""The network as a whole: introductions worth offering, the week's focus person, thin goals.

Contacts who share threads and meetings know each other (`ContactFacts.peers`).
Two valuable contacts who serve the same goal but have never been in a thread
or meeting together may gain from knowing each other — always ask both first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from daemon.config import Goal
from daemon.contacts import FREE_MAIL, domain_of
from models.facts import OWED_MAX_PEOPLE, ContactFacts
from models.goals import evidence, keywords_of
from models.kinds import MINUTES, TOPIC_WORDS, Suggestion
from models.scorer import ContactScore, bar, one_sided_lately

INTRODUCE_MIN = 0.5       # both must be at least this valuable and this relevant to the shared goal …
TOP_INTRODUCE = 10        # … or, for value, among the user's ten most valuable ties (see `models.scorer.bar`)


@dataclass(frozen=True)
class GoalNetwork:
    goal: str
    active: int
    passive: int
    new: int
    cooling: int
    dormant: int

    @property
    def thin(self) -> bool:
        return self.active + self.passive + self.new < 3


def introductions(facts: dict[str, ContactFacts], scores: dict[str, ContactScore],
                  weights: dict[str, float], goals: tuple[Goal, ...] = ()) -> list[Suggestion]:
    """Pairs of valuable, currently active contacts who share a goal and have never met through the user —
    both ties of the user's own, that went both ways: nobody introduces a stranger who wrote once."""
    ranked = []
    needed = bar([s.value for s in scores.values() if not s.noise], INTRODUCE_MIN, TOP_INTRODUCE)
    people = [cid for cid, s in scores.items() if not s.noise and s.value >= needed and s.value > 0
              and s.state in ("active", "new", "passive") and _mutual(facts[cid]) and not facts[cid].never_suggested]
    for i, a in enumerate(sorted(people)):
        for b in sorted(people)[i + 1:]:
            if facts[a].peers.get(b) or _same_organisation(facts[a], facts[b]):
                continue
            goal, fit = _shared_goal(scores[a], scores[b], weights)
            if goal is None:
                continue
            ranked.append((min(scores[a].value, scores[b].value) * fit * weights.get(goal, 1.0), a, b, goal))
    ranked.sort(key=lambda r: (-r[0], r[1], r[2]))
    chosen, used = [], set()
    for score, a, b, goal in ranked:
        if a in used or b in used:
            continue
        used |= {a, b}
        chosen.append(_introduction(facts[a], facts[b], goal, score, next((g for g in goals if g.name == goal), None)))
    return chosen


def _mutual(f: ContactFacts) -> bool:
    """A tie that went both ways: a two-way thread, mail each way, or a one-to-one meeting."""
    return bool(f.two_way_threads or f.close or f.meetings_one_to_one)


def _shared_goal(a: ContactScore, b: ContactScore, weights: dict[str, float]) -> tuple[str | None, float]:
    shared = [(min(a.goal_fit[g], b.goal_fit.get(g, 0.0)) * weights.get(g, 1.0), g) for g in sorted(a.goal_fit)]
    shared = [(fit, g) for fit, g in shared if min(a.goal_fit[g], b.goal_fit.get(g, 0.0)) >= INTRODUCE_MIN]
    if not shared:
        return None, 0.0
    fit, goal = max(shared)
    return goal, fit


def _common_keywords(a: ContactFacts, b: ContactFacts, goal: Goal) -> list[str]:
    """The goal's keywords that both people's subjects mention: what they have in common, in the user's words."""
    keywords = keywords_of(goal)
    theirs = set(evidence(b, goal, keywords).keywords)
    return [k for k in evidence(a, goal, keywords).keywords if k in theirs]


def _same_organisation(a: ContactFacts, b: ContactFacts) -> bool:
    domains_a = {domain_of(x) for x in a.contact.addresses} - FREE_MAIL
    domains_b = {domain_of(x) for x in b.contact.addresses} - FREE_MAIL
    return bool(domains_a & domains_b)


def _introduction(a: ContactFacts, b: ContactFacts, goal: str, score: float, config: Goal | None) -> Suggestion:
    common = _common_keywords(a, b, config) if config else []
    # the digest's line names both people and the goal already
    both = "both write about " + ", ".join(f"“{k}”" for k in common[:TOPIC_WORDS]) if common \
        else "both serve the goal"
    reasons = (f"{both}, and your mail shows them in no small thread or meeting together",
               "ask each of them first whether they would like an introduction")
    return Suggestion("introduce", a.id, a.contact.name, goal, reasons, goal, MINUTES["introduce"], round(score, 4),
                      a.contact.addresses, b.id, b.contact.name)


def focus_person(facts: dict[str, ContactFacts], scores: dict[str, ContactScore], weights: dict[str, float],
                 recent: Iterable[str] = (), now: datetime | None = None) -> Suggestion | None:
    """This week's person for a deliberate effort: valuable, with room to grow, relevant to a goal when one
    such tie is free this week — and a tie already, one that went both ways (mail or a one-to-one meeting)
    and has not gone cooling or dormant: a stranger who wrote twice, or a tie silent three months against a
    rhythm of two weeks, is no week's deliberate step (a lapsed tie is for "Reconnect"); nor is a tie one
    side no longer keeps up (`_alive`).
    When no goal-relevant tie is left (few goals, or the few relevant ties were the focus
    of the past weeks), the best other tie is the week's person: one each week, as principle 8 says."""
    skip = set(recent)
    best = fallback = None
    for cid in sorted(scores):
        s, f = scores[cid], facts[cid]
        if s.noise or cid in skip or s.state in ("noise", "cooling", "dormant") or not _mutual(f) or not s.valuable \
                or f.never_suggested or not _alive(f, now):
            continue
        room = 1.0 - 0.5 * s.value
        goal = max(sorted(s.goal_fit), key=lambda g: s.goal_fit[g] * weights.get(g, 1.0)) if s.goal_fit else None
        if goal is not None and s.goal_fit[goal] >= INTRODUCE_MIN:
            rank = s.peak * s.goal_fit[goal] * weights.get(goal, 1.0) * room
            if best is None or rank > best[0]:
                best = (rank, cid, goal)
        rank = s.peak * s.goal_factor * room
        if fallback is None or rank > fallback[0]:
            fallback = (rank, cid, None)
    if best is None and fallback is None:
        return None
    rank, cid, goal = best or fallback
    f = facts[cid]
    step = "plan one deliberate step — a call, a coffee, an introduction you can make for them"
    reasons = (f"this week's focus for “{goal}”: {step}" if goal else f"this week's focus: {step}",)
    return Suggestion("focus", cid, f.contact.name, goal, reasons, f.last_subject, MINUTES["focus"], round(rank, 4),
                      f.contact.addresses)


FOCUS_LIVE_DAYS = 120   # both sides wrote (to a few people) or met one-to-one within this long: a living tie


def _alive(f: ContactFacts, now: datetime | None) -> bool:
    """A tie both sides still keep up: each wrote to the other personally (among a few people, not in a notice
    to 30 or an announcement to 130) or they met one-to-one, within FOCUS_LIVE_DAYS of `now` (of their last
    contact without one), and the user's last threads did not all go unanswered. Not a sender of daily
    reports the user last answered months ago, nor a tie kept "current" only by the user's broadcasts."""
    if f.last_contact is None or one_sided_lately(f):
        return False
    since = (now or f.last_contact) - timedelta(days=FOCUS_LIVE_DAYS)
    small = [t for t in f.touches if t.at >= since and not t.bulk and not t.via_group and t.size <= OWED_MAX_PEOPLE]
    met = any(t.kind == "meeting" and t.direct for t in small)
    return met or ({"sent", "received"} <= {t.kind for t in small})


def goal_networks(scores: dict[str, ContactScore], goals: Iterable[str],
                  facts: dict[str, ContactFacts]) -> list[GoalNetwork]:
    """Per goal, how many relevant contacts are in each state. A new contact counts once the user wrote to
    them (among a few people) or met them: a stranger's unanswered first mail is a cold inbound, not a new
    member of the network, and nor are the 130 colleagues one announcement of the user's reached. Someone
    the user's broadcasts alone reach (who never wrote, never met the user) is in no state of the network."""
    result = []
    for goal in goals:
        counts = {"active": 0, "passive": 0, "new": 0, "cooling": 0, "dormant": 0}
        for cid, s in scores.items():
            if s.noise or s.goal_fit.get(goal, 0.0) < 0.3 or s.state not in counts:
                continue
            f = facts[cid]
            if s.state == "new" and not (f.sent_personal or f.meetings_one_to_one or f.meetings_group):
                continue
            if not (f.sent_personal or f.received or f.meetings_one_to_one or f.meetings_group):
                continue        # only ever on the user's mail to a crowd
            counts[s.state] += 1
        result.append(GoalNetwork(goal, **counts))
    return result
