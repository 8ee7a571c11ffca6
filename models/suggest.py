"""Choose the day's suggestions within the user's time budget.

Pure: the same facts, scores, settings and `today` always give the same list.
Each person appears once, in the kind that matters most today. What the user
can give (an answer, a follow-up, a thank-you, an introduction) is shown first;
goals share the budget by their weights.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from daemon.config import Goal
from models import kinds
from models.facts import ContactFacts
from models.goals import evidence, keywords_of
from models.kinds import Suggestion
from models.network import focus_person, introductions
from models.scorer import ContactScore

KIND_ORDER = ("reply_owed", "follow_up", "birthday", "give_first", "introduce", "reconnect", "revive", "focus")
KIND_TITLES = {"reply_owed": "You owe a reply", "follow_up": "Follow up on yesterday", "birthday": "Birthdays",
               "give_first": "Give first", "introduce": "Introduce", "reconnect": "Reconnect",
               "revive": "Revive a dormant tie", "focus": "This week's focus"}
GOAL_THRESHOLD = 0.3
SAME_GOAL_DAMPING = 0.5   # each further suggestion for the same goal counts a little less
OWED_SHARE = 0.5          # of the day's minutes, the most owed answers take while other suggestions wait


@dataclass(frozen=True)
class Settings:
    minutes: int = 30
    max_suggestions: int = 8
    repeat_days: int = 14
    goal_weights: dict[str, float] = field(default_factory=dict)
    goals: tuple[Goal, ...] = ()      # their keywords name a contact's topic, and what two people share


@dataclass(frozen=True)
class Context:
    """What the day's choice depends on besides facts and scores."""

    recently_suggested: dict[str, date] = field(default_factory=dict)
    snoozed: frozenset[str] = frozenset()
    birthdays: tuple[tuple[date, str], ...] = ()
    recent_focus: frozenset[str] = frozenset()
    focus_shown_this_week: str | None = None
    # per contact: how often a reconnect (or revive, give-first, introduction) was suggested since the last contact,
    # and the latest
    routine_repeats: dict[str, tuple[int, date]] = field(default_factory=dict)
    # per contact: the digests that showed it an owed reply since the user last wrote to it (see `_owed_due`)
    recently_owed: dict[str, tuple[date, ...]] = field(default_factory=dict)
    # per conversation: the digests that showed an owed reply in it, under any of its people
    owed_threads: dict[str, tuple[date, ...]] = field(default_factory=dict)


def best_goal(score: ContactScore, weights: dict[str, float]) -> str | None:
    if not score.goal_fit:
        return None
    name = max(sorted(score.goal_fit), key=lambda g: score.goal_fit[g] * weights.get(g, 1.0))
    return name if score.goal_fit[name] >= GOAL_THRESHOLD else None


def candidates_for(f: ContactFacts, s: ContactScore, today: date, now: datetime, zone: ZoneInfo,
                   context: Context) -> list[Suggestion]:
    if f.never_suggested:
        return []       # a robot's reports or an assistant's errands, however often answered
    options = (kinds.reply_owed(f, s, now), kinds.follow_up(f, s, today, zone),
               kinds.birthday(f, s, list(context.birthdays), today), kinds.give_first(f, s, now),
               kinds.reconnect(f, s, now), kinds.revive(f, s, now))
    return [o for o in options if o is not None]


def suggest(facts: dict[str, ContactFacts], scores: dict[str, ContactScore], settings: Settings, today: date,
            zone: ZoneInfo, context: Context | None = None) -> list[Suggestion]:
    """The day's suggestions: best first within the budget, then shown in kind order."""
    context = context or Context()
    now = datetime.combine(today + timedelta(days=1), datetime.min.time(), zone)
    weights = settings.goal_weights
    pool: list[Suggestion] = []
    quiet: dict[str, list[str]] = {}      # thread → people waiting in it whose owed reply is not due today
    moved = _in_touch_elsewhere(facts)
    for cid in sorted(facts):
        if cid in context.snoozed:
            continue
        options = candidates_for(facts[cid], scores[cid], today, now, zone, context)
        last = context.recently_suggested.get(cid)
        for option in sorted(options, key=lambda o: -o.score)[:1]:
            routine = option.kind in ROUTINE  # nothing new happened
            if routine and not _due_again(context.routine_repeats.get(cid), last, today, settings.repeat_days):
                continue
            if option.kind in ("reconnect", "revive") and cid in moved:
                continue
            if option.kind == "reply_owed":
                shown = context.recently_owed.get(cid, ())
                in_thread = context.owed_threads.get(option.thread, ()) if option.thread else ()
                if not (_owed_due(shown, today) and _owed_due(in_thread, today)):
                    quiet.setdefault(option.thread, []).append(option.name)   # named beside the thread's first
                    continue
                waiting = kinds.waiting_replies(facts[cid], now)      # the option's mail first
                arrived = waiting[0].at.astimezone(zone).date()
                before = [d for d in shown if d > arrived] + list(in_thread)   # the thread's: since it waits
                if before:
                    said = f"still waiting: in {_digest_of(max(before), today)} too"
                    option = replace(option, reasons=(*option.reasons, said))
                elif shown and len(waiting) > 1:
                    earlier = waiting[1]
                    if max(shown) > earlier.at.astimezone(zone).date():
                        # they wrote anew since an earlier one was shown: the earlier one is still unanswered
                        said = (f"also still unanswered: {_what(earlier.subject)}, "
                                f"in {_digest_of(max(shown), today)}")
                    else:   # it came while their debts were quiet, and was never shown: named here, not lost
                        came = kinds.ago(kinds.days_between(earlier.at, now))
                        said = f"also unanswered: {_what(earlier.subject)} ({came})"
                    option = replace(option, reasons=(*option.reasons, said))
            pool.append(_with_goal(option, scores[cid], weights))
    pool += [i for i in introductions(facts, scores, weights, settings.goals)
             if not {i.contact_id, i.other_id} & (set(context.snoozed) | _recent(context, today, settings))
             and all(_due_again(context.routine_repeats.get(cid), None, today, settings.repeat_days)
                     for cid in (i.contact_id, i.other_id))]
    # — an introduction not acted on backs off as a reconnect does, for both its people: 14, 28, 56 days
    chosen = _within_budget(_one_per_person(_one_answer_per_thread(pool, quiet)), settings)
    return [_topic_named(c, facts[c.contact_id], settings.goals) for c in chosen]


def _what(subject: str) -> str:
    """A mail named by its subject in a sentence: “Budget”, or "a mail without a subject"."""
    quoted = kinds.quote(subject)
    return "a mail without a subject" if quoted == "no subject" else quoted


def full_name(name: str) -> str | None:
    """A display name of two words or more, folded for comparing ("Steve Howard"); None for "anna" or ""."""
    words = name.casefold().split()
    return " ".join(words) if len(words) >= 2 else None


def _in_touch_elsewhere(facts: dict[str, ContactFacts]) -> set[str]:
    """Contacts whose person, by full name, was in touch since under another address: Shari Stack, written to at
    her new firm two weeks ago, is no tie to reconnect with at her old one (review 28), until `[[people]]`
    joins the two."""
    latest: dict[str, list[tuple[datetime, str]]] = {}
    for cid, f in facts.items():
        name = full_name(f.contact.name)
        if name is not None and f.last_contact is not None:
            latest.setdefault(name, []).append((f.last_contact, cid))
    return {cid for group in latest.values() if len(group) > 1 for at, cid in group if at < max(group)[0]}


def _one_per_person(pool: list[Suggestion]) -> list[Suggestion]:
    """One suggestion per full name: a person who moved firms (showard@milbank.com, showard@agsk.com) is two
    contacts until `[[people]]` joins them, and one digest must not ask to reconnect with the one and plan a
    step with the other. The better-scored stays."""
    seen, kept = set(), set()
    for i in sorted(range(len(pool)), key=lambda i: -pool[i].score):
        name = full_name(pool[i].name)
        if name is None or name not in seen:
            kept.add(i)
        if name is not None:
            seen.add(name)
    return [s for i, s in enumerate(pool) if i in kept]


def _digest_of(day: date, today: date) -> str:
    return "yesterday's digest" if (today - day).days == 1 else f"the digest of {day:%a %d %b}"


def _one_answer_per_thread(pool: list[Suggestion], quiet: dict[str, list[str]] | None = None) -> list[Suggestion]:
    """Owed replies to several people of one thread are one answer: the first of them (by score) stays and
    names the others, who take no slot of their own — also those whose own owed reply is not due today
    (`quiet`: thread → names)."""
    firsts: dict[str, Suggestion] = {}
    others: dict[str, list[str]] = {}
    quiet = quiet or {}
    for s in sorted(pool, key=lambda s: -s.score):
        if s.kind == "reply_owed" and s.thread:
            if s.thread in firsts:
                others.setdefault(s.thread, []).append(s.name)
                continue
            firsts[s.thread] = s
    for thread in firsts:
        others.setdefault(thread, []).extend(name for name in quiet.get(thread, ()) if name != firsts[thread].name)
    others = {thread: names for thread, names in others.items() if names}
    merged = {}
    for thread, names in others.items():
        waits = "also waits" if len(names) == 1 else "also wait"
        first = firsts[thread]
        listed = " and ".join(names) if len(names) <= 2 else f"{', '.join(names[:-1])} and {names[-1]}"
        merged[id(first)] = replace(first, reasons=(*first.reasons, f"{listed} {waits} for an answer in this thread"))
    return [merged.get(id(s), s) for s in pool
            if not (s.kind == "reply_owed" and s.thread and firsts[s.thread] is not s)]


ROUTINE = ("reconnect", "revive", "give_first", "introduce")
OWED_AGAIN_DAYS = (3, 7)    # an owed reply the user has not acted on comes back after 3 days, then once a week


def _owed_due(shown: tuple[date, ...], today: date) -> bool:
    """Whether to show an owed reply again, given the digests that showed one to the same person since the
    user last wrote to them: the inbox lists unanswered mail already, and a digest naming the same debt
    every morning nags. A sender whose routine mail the user seldom answers by mail is named at most
    weekly too, however many new mails arrive; a line from the user starts afresh."""
    if not shown:
        return True
    gap = OWED_AGAIN_DAYS[min(len(shown), len(OWED_AGAIN_DAYS)) - 1]
    return (today - max(shown)).days >= gap


def _due_again(repeats: tuple[int, date] | None, last: date | None, today: date, repeat_days: int) -> bool:
    """A routine suggestion comes back after `repeat_days`, and after twice as long each time it went
    unheeded (no contact since): 14, 28, 56 days … — a nudge, not a nag."""
    if last and (today - last).days < repeat_days:
        return False
    if repeats is None:
        return True
    times, latest = repeats
    return (today - latest).days >= repeat_days * 2 ** max(0, times - 1)


def weekly_focus(facts: dict[str, ContactFacts], scores: dict[str, ContactScore], settings: Settings,
                 context: Context, today: Iterable[Suggestion] = (), now: datetime | None = None) -> Suggestion | None:
    """This week's focus person: kept all week once chosen, a new one (not a recent one) each week. A person
    the user said "not now" to (or marked done) is not proposed; if it was this week's, another one is. A new
    one is preferably not among `today`'s suggestions, which would name the same person twice in one digest."""
    if context.focus_shown_this_week in facts and context.focus_shown_this_week not in context.snoozed:
        cid = context.focus_shown_this_week
        return kinds.make("focus", facts[cid], [], "", 0.0)
    skip = context.recent_focus | context.snoozed
    named = {s.contact_id for s in today} | {s.other_id for s in today if s.other_id}
    names = {full_name(n) for s in today for n in (s.name, s.other_name or "")} - {None}
    named |= {cid for cid, f in facts.items() if full_name(f.contact.name) in names}   # the same person elsewhere
    return focus_person(facts, scores, settings.goal_weights, skip | named, now) \
        or focus_person(facts, scores, settings.goal_weights, skip, now)


def _recent(context: Context, today: date, settings: Settings) -> set[str]:
    return {cid for cid, d in context.recently_suggested.items() if (today - d).days < settings.repeat_days}


def _with_goal(option: Suggestion, score: ContactScore, weights: dict[str, float]) -> Suggestion:
    return replace(option, goal=best_goal(score, weights))


def _topic_named(chosen: Suggestion, f: ContactFacts, goals: tuple[Goal, ...]) -> Suggestion:
    """"their topic" named by the keywords of the suggestion's goal that the contact's subjects mention most,
    so that the user knows what to bring (only for the day's chosen suggestions: it reads every subject)."""
    config = next((g for g in goals if g.name == chosen.goal), None)
    if not any(kinds.THEIR_TOPIC in r for r in chosen.reasons):
        return chosen
    words = evidence(f, config, keywords_of(config)).keywords[:kinds.TOPIC_WORDS] if config else []
    if not words:       # no topic to name: say nothing about one
        return replace(chosen, reasons=tuple(r.replace(f" on {kinds.THEIR_TOPIC}", "").replace(
            f" for {kinds.THEIR_TOPIC}", "") for r in chosen.reasons))
    named = kinds.THEIR_TOPIC + " (" + ", ".join(f"“{w}”" for w in words) + ")"
    return replace(chosen, reasons=tuple(r.replace(kinds.THEIR_TOPIC, named) for r in chosen.reasons))


def _within_budget(pool: list[Suggestion], settings: Settings) -> list[Suggestion]:
    """Greedy by score; goals already served count a little less, so the day is spread across goals.

    Owed answers come first but fill at most OWED_SHARE of the minutes while other suggestions wait: in a
    busy inbox they would take the whole digest, and the inbox already shows them. Minutes left over
    after everything else go to further owed answers.
    """
    chosen: list[Suggestion] = []
    minutes, owed, per_goal, people = 0, 0, Counter(), set()
    remaining = sorted(pool, key=lambda c: (-c.score, c.contact_id, c.kind))
    for capped in (True, False):
        while remaining and len(chosen) < settings.max_suggestions:
            fitting = [c for c in remaining if minutes + c.minutes <= settings.minutes
                       and c.contact_id not in people and c.other_id not in people
                       and not (capped and c.kind == "reply_owed" and owed + c.minutes > OWED_SHARE * settings.minutes)]
            if not fitting:
                break
            best = max(fitting, key=lambda c: (_adjusted(c, per_goal, settings), -KIND_ORDER.index(c.kind)))
            chosen.append(best)
            remaining.remove(best)
            minutes += best.minutes
            owed += best.minutes if best.kind == "reply_owed" else 0
            per_goal[best.goal] += 1
            people |= {best.contact_id, best.other_id} - {None}
    return sorted(chosen, key=lambda c: (KIND_ORDER.index(c.kind), -c.score, c.contact_id))


def _adjusted(c: Suggestion, per_goal: Counter, settings: Settings) -> float:
    if c.goal is None or c.score >= kinds.URGENT:
        return c.score  # urgent kinds are never crowded out by the goal spread
    total = sum(settings.goal_weights.values()) or 1.0
    share = settings.goal_weights.get(c.goal, 1.0) / total
    return c.score * (1 + share) / (1 + SAME_GOAL_DAMPING * per_goal[c.goal])
