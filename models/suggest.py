"""Turn facts and scores into the day's suggestions, within the user's time budget.

Pure: the same facts, scores, settings and `today` always give the same list.
What the user can give (an answer, a follow-up note) comes before reconnecting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from daemon.store import REPLY_PREFIX
from models.facts import ContactFacts, days_between
from models.scorer import DEFAULT_GAP_DAYS, ContactScore

KIND_ORDER = ("reply_owed", "follow_up", "reconnect")
KIND_TITLES = {"reply_owed": "You owe a reply", "follow_up": "Follow up on yesterday", "reconnect": "Reconnect"}
MINUTES = {"reply_owed": 5, "follow_up": 5, "reconnect": 15}
REPLY_OWED_MAX_DAYS = 30
GOAL_THRESHOLD = 0.3
ROUTINE_MEETINGS = 3
URGENT = 10.0  # owed answers and fresh follow-ups come before any reconnecting


@dataclass(frozen=True)
class Suggestion:
    kind: str
    contact_id: str
    name: str
    goal: str | None
    reasons: tuple[str, ...]
    context: str
    minutes: int
    score: float
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    minutes: int = 30
    max_suggestions: int = 8
    repeat_days: int = 14
    goal_weights: dict[str, float] = field(default_factory=dict)


def quote(subject: str) -> str:
    """A subject as context, without its Re:/AW:/Fwd: prefixes."""
    subject = REPLY_PREFIX.sub("", subject).strip()
    return f"“{subject}”" if subject else "no subject"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def best_goal(score: ContactScore, weights: dict[str, float]) -> str | None:
    if not score.goal_fit:
        return None
    name = max(sorted(score.goal_fit), key=lambda g: score.goal_fit[g] * weights.get(g, 1.0))
    return name if score.goal_fit[name] >= GOAL_THRESHOLD else None


def history_reasons(f: ContactFacts) -> list[str]:
    """The facts that show what this relationship is."""
    reasons = []
    if f.user_threads:
        if f.user_threads_answered == f.user_threads and f.user_threads > 1:
            reasons.append(f"replied to all {f.user_threads} of your threads")
        else:
            reasons.append(f"replied to {f.user_threads_answered} of your {plural(f.user_threads, 'thread')}")
    meetings = f.meetings_one_to_one + f.meetings_group
    if meetings:
        reasons.append(f"you met {plural(meetings, 'time')}")
    if f.two_way_threads and not f.user_threads:
        reasons.append(f"{plural(f.two_way_threads, 'conversation')} both ways")
    return reasons


def reply_owed(f: ContactFacts, s: ContactScore, now: datetime) -> Suggestion | None:
    if s.noise or not f.replies_owed or not (f.sent or f.meetings_one_to_one or s.priority >= 0.3):
        return None
    last = f.replies_owed[0]
    waited = days_between(last.at, now)
    if waited is None or waited > REPLY_OWED_MAX_DAYS:
        return None
    reasons = [f"wrote to you {_ago(waited)} ({quote(last.subject)}); no answer yet"] + history_reasons(f)[:1]
    return _make("reply_owed", f, s, reasons, last.subject, URGENT + s.priority + 1 / (1 + waited))


def follow_up(f: ContactFacts, s: ContactScore, today: date, zone: ZoneInfo) -> Suggestion | None:
    yesterday = today - timedelta(days=1)
    met = [t for t in f.touches if t.kind == "meeting" and t.at.astimezone(zone).date() == yesterday]
    if s.noise or not met:
        return None
    meeting = met[-1]
    earlier = [t for t in f.touches if t.kind == "meeting" and t.at < meeting.at]
    routine = sum(1 for t in earlier if t.subject == meeting.subject) >= ROUTINE_MEETINGS
    if routine or any(t.kind == "sent" and t.at > meeting.at for t in f.touches):
        return None
    if not earlier:
        reasons = [f"first meeting yesterday ({quote(meeting.subject)}); a personal note today keeps the momentum"]
    elif meeting.direct:
        reasons = [f"you met one-to-one yesterday ({quote(meeting.subject)}); follow up while it is fresh"]
    else:
        return None
    history = [r for r in history_reasons(f) if not r.startswith("you met")][:1]
    return _make("follow_up", f, s, reasons + history, meeting.subject, URGENT + s.priority)


def reconnect(f: ContactFacts, s: ContactScore, now: datetime) -> Suggestion | None:
    if s.state != "cooling" or s.peak < 0.3:
        return None
    since = days_between(f.last_contact, now)
    gap = f.usual_gap_days or DEFAULT_GAP_DAYS
    reasons = [f"you used to be in touch every {_rhythm(gap)}; last contact {since} days ago ({quote(f.last_subject)})"]
    reasons += history_reasons(f)
    if f.last_meeting:
        reasons.append(f"last meeting: {quote(f.last_meeting[1])} on {f.last_meeting[0]:%d %b %Y}")
    overdue = min(4.0, since / gap) if since else 1.0
    return _make("reconnect", f, s, reasons, f.last_subject, s.peak * s.goal_factor * overdue)


def _make(kind: str, f: ContactFacts, s: ContactScore, reasons: list[str], context: str, score: float) -> Suggestion:
    return Suggestion(kind, f.id, f.contact.name, None, tuple(reasons), context, MINUTES[kind], round(score, 4),
                      f.contact.addresses)


def _ago(days: int) -> str:
    return "today" if days == 0 else "yesterday" if days == 1 else f"{days} days ago"


def _rhythm(gap: float) -> str:
    if gap < 10:
        return "week or so"
    if gap < 45:
        weeks = round(gap / 7)
        return f"{weeks}–{weeks + 1} weeks"
    return f"{round(gap / 30)} months or so"


def suggest(facts: dict[str, ContactFacts], scores: dict[str, ContactScore], settings: Settings, today: date,
            zone: ZoneInfo, *, recently_suggested: dict[str, date] | None = None,
            snoozed: set[str] | frozenset[str] = frozenset()) -> list[Suggestion]:
    """The day's suggestions: best first within the budget, then shown in kind order."""
    now = datetime.combine(today + timedelta(days=1), datetime.min.time(), zone)
    recently_suggested = recently_suggested or {}
    candidates: list[Suggestion] = []
    for cid in sorted(facts):
        f, s = facts[cid], scores[cid]
        if cid in snoozed:
            continue
        for option in (reply_owed(f, s, now), follow_up(f, s, today, zone), reconnect(f, s, now)):
            if option is None:
                continue
            last = recently_suggested.get(cid)
            changed = option.kind != "reconnect"  # something new happened: always worth saying
            if last and (today - last).days < settings.repeat_days and not changed:
                continue
            candidates.append(_with_goal(option, s, settings.goal_weights))
            break
    return _within_budget(candidates, settings)


def _with_goal(option: Suggestion, score: ContactScore, weights: dict[str, float]) -> Suggestion:
    goal = best_goal(score, weights)
    return Suggestion(option.kind, option.contact_id, option.name, goal, option.reasons, option.context,
                      option.minutes, option.score, option.addresses)


def _within_budget(candidates: list[Suggestion], settings: Settings) -> list[Suggestion]:
    chosen, minutes = [], 0
    for option in sorted(candidates, key=lambda c: (-c.score, c.contact_id)):
        if len(chosen) >= settings.max_suggestions:
            break
        if minutes + option.minutes > settings.minutes:
            continue
        chosen.append(option)
        minutes += option.minutes
    return sorted(chosen, key=lambda c: (KIND_ORDER.index(c.kind), -c.score, c.contact_id))
