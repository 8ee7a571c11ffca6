"""One function per kind of suggestion: when it applies, and the facts that say why.

Each returns a `Suggestion` or None and is pure. Reasons are built from facts
("replied to all 9 of your threads"), never from model weights, and never
propose asking a favour: what the user can give comes first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from daemon.store import REPLY_PREFIX
from models.facts import (FORWARD, OWED_MAX_PEOPLE, REPLY_OWED_MAX_DAYS, ContactFacts, ago, contact_touches,
                          days_between)
from models.scorer import DEFAULT_GAP_DAYS, VALUABLE, ContactScore

MINUTES = {"reply_owed": 5, "follow_up": 5, "give_first": 10, "birthday": 10, "introduce": 10,
           "reconnect": 15, "revive": 15, "focus": 20}
URGENT = 10.0            # owed answers, fresh follow-ups and birthdays come before any reconnecting
ROUTINE_MEETINGS = 3
GIVE_FIRST_DAYS = 21
# a subject that introduces people ("Intro: Anna <> Tom", "Intro to the Munich team", "Introducing Mira",
# "Vorstellung Tom Weiss"), whole words only ("Judge Cintron" is none), not a policy, a call or a course
# ("Introduction of the new expense policy", "Intro call", "Intro to Java course"); it counts only on a mail
# that names someone new to the user (`Touch.introduces`)
INTRODUCTION = re.compile(
    r"\b(?:intros?|introductions?|introducing|vorstellung|vorstellen|kennenlernen)\b"
    r"(?!\s+(?:of|des|der|call|meeting)\b)|\w\s*<>\s*\w", re.IGNORECASE)
# a course, a patch ("[PATCH v2 4/5] hw: aspeed: Introduce common UART init", "[RFC] …") or an event named an
# introduction: no introduction (nor is a forwarded flyer, "FW: … Cheerleader Introduction": `facts.FORWARD`)
COURSE = re.compile(r"\b(?:course|class|training|session|seminar|webinar|workshop|enroll|enrol|kurs|schulung)\b"
                    r"|\[[^\]]*\b(?:PATCH|RFC)\b|\bintroduction\s+(?:event|party|night|ceremony|reception|day)",
                    re.IGNORECASE)


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
    other_id: str | None = None          # the second person of an introduction
    other_name: str | None = None
    thread: str = ""                     # an owed reply's conversation: one answer there serves all who wait


QUOTE_MAX = 60   # characters of a subject quoted; a nomination pasted into the subject line is cut


def quote(subject: str) -> str:
    """A subject as context, without its Re:/AW:/Fwd: prefixes, cut at a word near QUOTE_MAX characters."""
    subject = " ".join(REPLY_PREFIX.sub("", subject).split())
    if len(subject) > QUOTE_MAX:
        cut = subject[:QUOTE_MAX].rsplit(" ", 1)[0] if " " in subject[:QUOTE_MAX] else subject[:QUOTE_MAX]
        subject = cut.rstrip(" ,;:-–") + "…"
    if subject.strip("() ").casefold() in PLACEHOLDER_SUBJECTS:
        subject = ""        # a mail program's stand-in, "(no subject)", is no subject either (review 25)
    return f"“{subject}”" if subject else "no subject"


PLACEHOLDER_SUBJECTS = frozenset({"no subject", "kein betreff", "sans objet", "sin asunto", "untitled", ""})


def last_touch(f: ContactFacts) -> str:
    """The last contact's subject (`facts.contact_touches`), saying when it was mail to a crowd: "their mail
    to 53 people, “YOU HAVE 48 HOURS”" is not the personal exchange a bare subject would suggest."""
    dated = contact_touches([t for t in f.touches if not t.bulk])
    last = dated[-1] if dated else None
    if last is None or last.size <= OWED_MAX_PEOPLE or last.kind == "meeting":
        return quote(f.last_subject)
    whose = "your mail" if last.kind == "sent" else "their mail"
    return f"{whose} to {last.size} people, {quote(last.subject)}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


THEIR_TOPIC = "their topic"     # named once the goal is known: "their topic (“payments”)" (see `suggest`)
TOPIC_WORDS = 3                 # at most this many of a goal's keywords name a topic


def rhythm(gap: float) -> str:
    """The usual gap in words; a range of weeks holds the gap (19 days: "2–3 weeks", as `kith explain` says 19)."""
    if gap < 10:
        return "week or so"
    if gap < 45:
        weeks = int(gap // 7)
        return f"{weeks}–{weeks + 1} weeks"
    return f"{round(gap / 30)} months or so"


RATE_CHANGE = 0.25      # a change in the share of your threads they answer worth telling


def changed_lately(f: ContactFacts) -> bool:
    """They answer the user's threads much less (or more) often in the past year than over the whole tie:
    the year's count is the news then; otherwise the whole tie's is the stronger evidence."""
    year, older = f.user_threads_year, f.user_threads - f.user_threads_year
    if year < 2 or older < 2:
        return False
    return abs(f.user_threads_answered_year / year - f.user_threads_answered / f.user_threads) >= RATE_CHANGE


def history_reasons(f: ContactFacts, conversations: bool = True) -> list[str]:
    """The facts that show what this relationship is; a one-sided tie stays visible as one.
    `conversations=False` leaves out the count of conversations both ways (for a caller that shows it)."""
    reasons = []
    threads, answered, when = f.user_threads, f.user_threads_answered, ""
    if changed_lately(f):
        threads, answered, when = f.user_threads_year, f.user_threads_answered_year, " in the past year"
    answers_you = threads and 2 * answered >= threads
    # "replied to your one thread" says little of a tie of 26 conversations both ways, most of them theirs
    theirs_mostly = conversations and not when and f.two_way_threads > 2 * threads
    if answers_you and not theirs_mostly:
        if answered == threads == 1:
            reasons.append(f"replied to your one thread{when}")
        elif answered == threads == 2:
            reasons.append(f"replied to both of your threads{when}")
        elif answered == threads > 1:
            reasons.append(f"replied to all {threads} of your threads{when}")
        else:
            reasons.append(f"replied to {answered} of your {plural(threads, 'thread')}{when}")
    elif when:                # a long tie that went quiet on their side: that is the news
        reasons.append(f"replied to {answered} of your {plural(threads, 'thread')}{when}")
    elif f.two_way_threads and not _threads_undersell(f):   # they answer in threads of their own
        if conversations:
            reasons.append(f"{plural(f.two_way_threads, 'conversation')} both ways")
    elif f.close:             # both ways, but (nearly) never in one thread (archives without threading, new subjects)
        mail = [t.size for t in f.touches if t.kind != "meeting" and t.size <= OWED_MAX_PEOPLE]
        alone = bool(mail) and max(mail) <= 1
        reasons.append(f"{plural(f.received_few, 'message')} from them, {f.sent_personal} from you, "
                       + ("one to one" if alone else "among a few people"))
    elif threads:
        reasons.append("has not answered your one thread" if threads == 1 and not answered
                       else f"replied to {answered} of your {plural(threads, 'thread')}")
    meetings = f.meetings_one_to_one + f.meetings_group
    if meetings:
        reasons.append(f"you met {plural(meetings, 'time')}")
    return reasons


def _threads_undersell(f: ContactFacts) -> bool:
    """Mail both ways that rarely shares a thread (a colleague answered under new subjects: 97 messages, "1
    conversation both ways", review 28): the messages each way tell the tie, not the count of shared threads."""
    return f.close and f.received_few > 4 * f.two_way_threads


def make(kind: str, f: ContactFacts, reasons: list[str], context: str, score: float) -> Suggestion:
    return Suggestion(kind, f.id, f.contact.name, None, tuple(reasons), context, MINUTES[kind], round(score, 4),
                      f.contact.addresses)


NOT_ANSWERED = ("has not answered", "replied to 0 ")     # their unanswered threads: beside a debt, a score to settle


def waiting_replies(f: ContactFacts, now: datetime) -> list:
    """The contact's owed mails that came before today (`now`: the end of today), newest first (bookings are no
    debt: the facts leave them out, `facts.is_booking`)."""
    return [t for t in f.replies_owed if days_between(t.at, now) >= 1]


def may_owe(f: ContactFacts, s: ContactScore) -> bool:
    """Whether the user can owe this contact an answer at all (see `reply_owed`): not noise, not a stranger,
    and someone who matters. `kith explain` asks it too, so that it never says "wait for your answer"
    of someone the digest owes nothing."""
    met_or_wrote = f.sent_personal or f.meetings_one_to_one or f.meetings_group or s.verdict == "good"
    stranger = not met_or_wrote and (f.their_threads <= 1 or not s.colleague)
    # among the user's most valuable ties by the mailbox's own bar (`scorer.bar`) only with mail both ways:
    # after months of silence every value sinks, and the twentieth best may be 0.002
    known = f.sent_personal or f.meetings_one_to_one or s.priority >= VALUABLE or s.verdict == "good" \
        or (s.valuable and (f.two_way_threads or f.close))
    return bool(not s.noise and not stranger and known)


def reply_owed(f: ContactFacts, s: ContactScore, now: datetime) -> Suggestion | None:
    """They wrote directly, last in the thread, and wait: only for people who matter. A stranger's first
    thread is a cold inbound, not a debt, however well its sender happens to score; so is anything from
    someone outside the user's organisation whom the user never wrote to or met (a realtor's second "Hi",
    a supplier's clerk's reports) unless the user marked them good. Mail to a crowd is not writing to
    someone: an executive's announcements make no employee "known". Mail that came today is in the
    user's inbox and has had no time to wait: an answer is owed from the day after (`now` is the end of
    today)."""
    waiting = waiting_replies(f, now)
    if not waiting or not may_owe(f, s):
        return None
    last = waiting[0]
    waited = days_between(last.at, now)
    if waited > REPLY_OWED_MAX_DAYS:
        return None
    history = [r for r in history_reasons(f) if not r.startswith(NOT_ANSWERED)][:1]   # a debt is no ledger
    # a forward says so: "forwarded “Supplier contract”" is judged otherwise than a question of theirs (review 22);
    # a forwarded song or article is owed nothing at all (`facts.passes_on_reading`)
    what = f"forwarded {quote(last.subject)}" if FORWARD.match(last.subject) and quote(last.subject) != "no subject" \
        else quote(last.subject)
    reasons = [f"wrote to you {ago(waited)} ({what}); no answer yet"] + history
    return replace(make("reply_owed", f, reasons, last.subject, URGENT + s.priority + 1 / (1 + waited)),
                   thread=last.conversation)


def follow_up(f: ContactFacts, s: ContactScore, today: date, zone: ZoneInfo) -> Suggestion | None:
    """A first meeting or a one-to-one yesterday, and no note since."""
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
    return make("follow_up", f, reasons + history, meeting.subject, URGENT + s.priority)


def reconnect(f: ContactFacts, s: ContactScore, now: datetime) -> Suggestion | None:
    """A valuable tie whose own rhythm has lapsed: worst first, leading with something to give."""
    if s.state != "cooling" or not s.valuable:
        return None
    since = days_between(f.last_contact, now)
    gap = f.usual_gap_days or DEFAULT_GAP_DAYS
    if since is None or since <= max(1.5 * gap, gap + 10):
        return None     # cooling because only the user still writes: the next move is theirs, not a reconnect
    last = f"last contact {since} days ago ({last_touch(f)})"
    reasons = [f"you used to be in touch every {rhythm(gap)}; {last}" if f.usual_gap_days else last]
    reasons += history_reasons(f)
    if f.last_meeting:
        met = f.last_meeting[0].astimezone(now.tzinfo)
        reasons.append(f"last meeting: {quote(f.last_meeting[1])} on {met:%d %b %Y}")
    reasons.append(f"call, or share something useful on {THEIR_TOPIC} — no ask")
    overdue = min(4.0, since / gap) if since else 1.0
    return make("reconnect", f, reasons, f.last_subject, s.peak * s.goal_factor * overdue)


def revive(f: ContactFacts, s: ContactScore, now: datetime) -> Suggestion | None:
    """A dormant tie worth reviving, ranked by what it could bring to the user's goals."""
    best_fit = max(s.goal_fit.values(), default=0.0)
    if s.state != "dormant" or not s.valuable or best_fit < VALUABLE or not f.two_way_threads:
        return None     # "after 0 conversations both ways" is no tie to revive
    since = days_between(f.last_contact, now)
    reasons = [f"silent for {since} days, after {plural(f.two_way_threads, 'conversation')} both ways "
               f"(last: {last_touch(f)})", "a personal note about what they work on now is a good restart"]
    return make("revive", f, reasons, f.last_subject, s.peak * best_fit * s.goal_factor)


def give_first(f: ContactFacts, s: ContactScore, now: datetime) -> Suggestion | None:
    """Someone who gives more than they take, or helped lately: thank them, or give something back."""
    if s.noise or not s.valuable or not f.last_received:
        return None
    recent_help = [t for t in f.touches if t.kind == "received" and not t.bulk and t.size >= 2
                   and (now - t.at).days <= GIVE_FIRST_DAYS and t.introduces and INTRODUCTION.search(t.subject)
                   and not COURSE.search(t.subject) and not FORWARD.match(t.subject)]
    one_sided = f.user_threads >= 4 and f.user_threads_answered >= 0.8 * f.user_threads and \
        f.their_threads <= f.user_threads // 4
    if recent_help:
        help_ = recent_help[-1]
        reasons = [f"introduced you to someone {ago(days_between(help_.at, now))} ({quote(help_.subject)})",
                   f"a real thank-you, and a useful contact or article for {THEIR_TOPIC} in return"]
        return make("give_first", f, reasons, help_.subject, 3.0 + s.priority)
    if one_sided and (now - f.last_contact).days <= 120:
        own = f"started only {f.their_threads} of their own" if f.their_threads else "never started one of their own"
        reasons = [f"answered {f.user_threads_answered} of your {f.user_threads} threads but {own}",
                   "the relationship leans your way: offer help before you ask again"]
        return make("give_first", f, reasons, f.last_subject, 1.0 + s.priority)
    return None


def birthday(f: ContactFacts, s: ContactScore, birthdays: list[tuple[date, str]], today: date) -> Suggestion | None:
    """A birthday today or tomorrow: a reason to call, never a card template."""
    if s.noise or not s.valuable or not f.contact.name:
        return None
    pattern = re.compile(rf"\b{re.escape(f.contact.name.lower())}\b")
    for day, summary in birthdays:
        if pattern.search(summary.lower()) and 0 <= (day - today).days <= 1:
            when = "today" if day == today else "tomorrow"
            reasons = [f"birthday {when} ({day.day} {day:%B})", "call them — a few personal minutes beat any card"]
            return make("birthday", f, reasons, summary, URGENT - 1 + s.priority)
    return None
