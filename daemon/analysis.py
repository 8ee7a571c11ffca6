"""One judgment of the whole network as of a date: facts, scores and the day's digest.

This is where the store meets the models. `--as-of DATE` means "today is DATE":
everything dated up to the end of that local day is used, nothing after it.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import getaddresses

import numpy as np
from sqlite_utils import Database

from daemon.config import Config
from daemon.contacts import B4_RELAY_DOMAIN, B4_RELAY_PREFIX, organisations, typed_address
from daemon.errors import UsageError
from daemon.store import keep_own_addresses_current, mail_carries, utc_text
from models.facts import REPLY_OWED_MAX_DAYS, ContactFacts, collector_paused, load_facts, parse_utc
from models.scorer import ContactScore, score_all
from models.network import INTRODUCE_MIN, goal_networks
from models.suggest import Context as SuggestContext
from models.suggest import ROUTINE, Settings, Suggestion, suggest, weekly_focus

SNOOZE_DAYS = 30


@dataclass
class Analysis:
    today: date
    now: datetime                   # end of `today` in the user's zone
    own: set[str]
    facts: dict[str, ContactFacts]
    scores: dict[str, ContactScore]
    goal_verdicts: dict[tuple[str, str], bool] = field(default_factory=dict)   # (contact, goal) → relevant


@dataclass
class Digest:
    date: date
    user: str
    suggestions: list[Suggestion]
    network: dict[str, dict[str, int]]   # goal → state → count, and "thin"
    focus: tuple[str, str, str | None] | None = None   # this week's focus person (address, name) and goal
    notes: list[str] = field(default_factory=list)      # what the user should know about the digest itself


def end_of_day(today: date, config: Config) -> datetime:
    return datetime.combine(today + timedelta(days=1), time.min, config.zone)


def _sync_running(config: Config) -> bool:
    """Whether a sync of the store runs now (it finds the user's addresses itself when it ends)."""
    from daemon.lock import sync_holder
    try:
        return sync_holder(config.database_path) is not None
    except OSError:
        return False


def today_for(config: Config, now: datetime | None = None) -> date:
    return (now or datetime.now(config.zone)).astimezone(config.zone).date()


def own_addresses(db: Database, config: Config) -> set[str]:
    keep_own_addresses_current(db, config.user.addresses, syncing=_sync_running(config))
    learned = {r[0] for r in db.execute("SELECT email FROM own_addresses")}
    return learned | {a.strip().lower() for a in config.user.addresses}


def facts_until(db: Database, config: Config, own: set[str], cutoff: datetime) -> dict[str, ContactFacts]:
    """Every contact's facts from the store, up to `cutoff`, with the config's aliases and ignore lists."""
    ignored = [typed_address(a) or a.strip().lower() for a in config.privacy.ignore_addresses]  # "Anna <a@x.org>" too
    domains = [d.strip().lstrip("@").lower() for d in config.privacy.ignore_domains]           # "@x.org" too
    return load_facts(db, own, cutoff, aliases=[(p.name, p.addresses) for p in config.people],
                      ignore_addresses=ignored, ignore_domains=domains)


def analyse(db: Database, config: Config, today: date, facts: dict[str, ContactFacts] | None = None) -> Analysis:
    """The judgment as of the end of `today`; `facts` when they were read already (`facts_until`)."""
    now = end_of_day(today, config)
    own = own_addresses(db, config)
    if facts is None:
        facts = facts_until(db, config, own, now)
    with collector_paused():  # a million touches that form no cycles: scanning them again and again is waste
        verdicts, goal_verdicts = feedback_for(db, facts, now)
        scores = score_all(facts, config.goals, now, verdicts, organisations(own), goal_verdicts)
    return Analysis(today, now, own, facts, scores, goal_verdicts)


def feedback_for(db: Database, facts: dict[str, ContactFacts], now: datetime):
    """The user's latest verdict per contact (good/noise), and per (contact, goal), given before `now`; "clear"
    withdraws the contact's (or, with a goal, that goal's)."""
    by_address = {a: cid for cid, f in facts.items() for a in f.contact.addresses}
    verdicts: dict[str, str] = {}
    goal_verdicts: dict[tuple[str, str], bool] = {}
    for address, verdict, goal in db.execute(
            "SELECT address, verdict, goal FROM feedback WHERE at <= ? ORDER BY at, id", [utc_text(now)]):
        cid = by_address.get(address)
        if cid is not None and verdict == "clear":
            if goal:
                goal_verdicts.pop((cid, goal), None)
            else:           # every verdict on the contact, its goals' too
                verdicts.pop(cid, None)
                goal_verdicts = {key: v for key, v in goal_verdicts.items() if key[0] != cid}
        if cid is None or verdict not in ("good", "noise"):
            continue
        if goal:
            goal_verdicts[(cid, goal)] = verdict == "good"
        else:
            verdicts[cid] = verdict
    return verdicts, goal_verdicts


def goal_named(config: Config, goal: str | None) -> str | None:
    """The configured goal's name for what the user typed (case aside); refuses a goal the config lacks."""
    if goal is None:
        return None
    names = [g.name for g in config.goals]
    match = [n for n in names if n == goal] or [n for n in names if n.casefold() == goal.strip().casefold()]
    if len(match) != 1:
        raise UsageError(f"no goal named {goal!r}", where=str(config.path),
                         fix=f"use one of: {', '.join(names) or '(no goals configured)'}")
    return match[0]


def record_feedback(db: Database, config: Config, address: str, verdict: str, goal: str | None,
                    at: datetime | None = None) -> bool:
    """Store one judgment of the user's; it overrides the model from the next run on.

    Takes a bare address or one as mail shows it ("Anna <anna@x.org>"). Returns
    whether the store has mail or a meeting with that address yet: a judgment of
    someone not met yet is kept, and applies once they are.
    """
    goal = goal_named(config, goal)
    if len([a for _, a in getaddresses([address]) if "@" in a]) > 1 or "\n" in address.strip():
        raise UsageError(f"{address!r} holds more than one address", fix="give one address per `kith feedback`")
    email = typed_address(address, StoreAddresses(db))
    if email is None:
        raise UsageError(f"{address!r} is not an e-mail address", fix="write it as name@example.org")
    if email in own_addresses(db, config):
        raise UsageError(f"{email} is one of your own addresses: Kith judges the people you write with, not you",
                         fix="give a contact's address; `kith contacts` lists them")
    if verdict == "clear" and not db.execute("SELECT EXISTS (SELECT 1 FROM feedback WHERE address = ?)",
                                             [email]).fetchone()[0]:
        raise UsageError(f"you have given no verdict on {email} to withdraw",
                         fix="give the address you judged them under (`kith explain` lists a contact's addresses)")
    db.execute("INSERT INTO feedback (address, verdict, goal, at) VALUES (?, ?, ?, ?)",
               [email, verdict, goal, utc_text(at or datetime.now(UTC))])
    return is_known(db, email)


def holds_mail(db: Database) -> bool:
    """Whether the store has any message yet (an empty one has not been synced)."""
    return db.execute("SELECT EXISTS (SELECT 1 FROM messages)").fetchone()[0] == 1


class StoreAddresses:
    """The addresses the store's mail carries, as a container (`address in StoreAddresses(db)`): which reading
    of a typed B4 relay address is a real correspondent (`daemon.contacts.relayed_sender`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __contains__(self, email: object) -> bool:
        # as mail writes it itself, not through the relay: every reading of a relay address encodes alike
        return isinstance(email, str) and is_known(self.db, email, relayed=False)


def is_known(db: Database, email: str, relayed: bool = True) -> bool:
    """Whether any message or meeting in the store has this address on it, in any form mail writes it in:
    quoted ('anna'@x.example) or (`relayed`) through the kernel.org B4 relay (see
    `daemon.contacts.person_address`)."""
    local, _, domain = email.rpartition("@")
    forms = (email, f"'{local}'@{domain}") + (
        (f"{B4_RELAY_PREFIX}{email.replace('@', '.')}@{B4_RELAY_DOMAIN}",) if relayed else ())
    return any(mail_carries(db, form) for form in forms)


# Suggestions count as shown only from digests whose file was written (`daemon.deliver.mark_shown`): a digest
# that never reached the user (a full disk, a folder unmounted) must not keep its people out of later ones.
SHOWN = "date IN (SELECT date FROM digests WHERE path IS NOT NULL AND (replay = 0 OR ?))"


def _replays(today: date, config: Config | None) -> int:
    """Whether earlier replays count as shown for the digest of `today` (a bound value of SHOWN): for another
    replay, as the daemon's digests of those days would have; never for today's or a preview of days to come
    (`kith digest --as-of` last week must not hide anyone from tomorrow's)."""
    return int(config is not None and today < today_for(config))


def _recent_suggestions(db: Database, today: date, days: int, kind: str | None = None,
                        config: Config | None = None) -> dict[str, date]:
    """When each address was last suggested in the past `days` (as `kind` only, when given)."""
    since = (today - timedelta(days=days)).isoformat()
    rows = db.execute(f"SELECT address, max(date) FROM suggestions WHERE date >= ? AND date < ? AND {SHOWN} "
                      "AND (? IS NULL OR kind = ?) GROUP BY address",
                      [since, today.isoformat(), _replays(today, config), kind, kind])
    return {address: date.fromisoformat(d) for address, d in rows}


def _routine_repeats(db: Database, analysis: Analysis, today: date,
                     config: Config | None = None) -> dict[str, tuple[int, date]]:
    """Per contact: how many digests of the past year suggested a routine step (reconnect, revive, give
    first) after the last contact with it, and the latest of them."""
    by_address = {a: cid for cid, f in analysis.facts.items() for a in f.contact.addresses}
    dates: dict[str, set[date]] = {}
    for address, day in db.execute(
            f"SELECT address, date FROM suggestions WHERE kind IN ({','.join('?' * len(ROUTINE))}) AND date >= ? "
            f"AND date < ? AND {SHOWN}", [*ROUTINE, (today - timedelta(days=365)).isoformat(), today.isoformat(),
                                          _replays(today, config)]):
        cid = by_address.get(address)
        if cid is not None:
            dates.setdefault(cid, set()).add(date.fromisoformat(day))
    result = {}
    for cid, days in dates.items():
        last = analysis.facts[cid].last_contact
        since = {d for d in days if last is None or d > last.date()}
        if since:
            result[cid] = (len(since), max(since))
    return result


def _owed_shown(db: Database, analysis: Analysis, today: date,
                config: Config) -> tuple[dict[str, tuple[date, ...]], dict[str, tuple[date, ...]]]:
    """The digests of the past month that showed owed replies (see `models.suggest._owed_due`): per contact,
    those after the user's last mail to it; per conversation, those after its oldest mail waiting now (one
    thread, shown under one of its people, is not news the next morning under another)."""
    by_address = {a: cid for cid, f in analysis.facts.items() for a in f.contact.addresses}
    waiting_since: dict[str, date] = {}
    for f in analysis.facts.values():
        for t in f.replies_owed:
            day = t.at.astimezone(config.zone).date()
            waiting_since[t.conversation] = min(day, waiting_since.get(t.conversation, day))
    people: dict[str, set[date]] = {}
    threads: dict[str, set[date]] = {}
    for address, day, thread in db.execute(
            f"SELECT address, date, thread FROM suggestions WHERE kind = 'reply_owed' AND date >= ? AND date < ? "
            f"AND {SHOWN}",
            [(today - timedelta(days=REPLY_OWED_MAX_DAYS)).isoformat(), today.isoformat(), _replays(today, config)]):
        shown = date.fromisoformat(day)
        cid = by_address.get(address)
        if cid is not None:
            wrote = analysis.facts[cid].last_sent
            if wrote is None or shown > wrote.astimezone(config.zone).date():
                people.setdefault(cid, set()).add(shown)
        if thread in waiting_since and shown > waiting_since[thread]:
            threads.setdefault(thread, set()).add(shown)
    return ({cid: tuple(sorted(days)) for cid, days in people.items()},
            {thread: tuple(sorted(days)) for thread, days in threads.items()})


def _snoozed(db: Database, analysis: Analysis) -> set[str]:
    """Contacts the user said 'not now' to recently, or marked done since their last interaction (and did not
    clear since)."""
    since = utc_text(analysis.now - timedelta(days=SNOOZE_DAYS))
    by_address = {a: cid for cid, f in analysis.facts.items() for a in f.contact.addresses}
    latest: dict[str, tuple[str, str]] = {}        # per contact, whichever of its addresses was judged
    for address, verdict, at in db.execute(
            "SELECT address, verdict, at FROM feedback WHERE (verdict IN ('not-now', 'done') OR (verdict = "
            "'clear' AND goal IS NULL)) AND at <= ? ORDER BY at, id", [utc_text(analysis.now)]):
        if (cid := by_address.get(address)) is not None:
            latest[cid] = (verdict, at)
    snoozed = set()
    for cid, (verdict, at) in latest.items():
        last = analysis.facts[cid].last_contact
        if (verdict == "not-now" and at >= since) or (verdict == "done" and (last is None or utc_text(last) <= at)):
            snoozed.add(cid)
    return snoozed


def network_summary(analysis: Analysis, config: Config) -> dict[str, dict[str, int]]:
    """Per goal, how many relevant contacts are active, passive, new, cooling and dormant."""
    return {n.goal: {"active": n.active, "passive": n.passive, "new": n.new, "cooling": n.cooling,
                     "dormant": n.dormant, "thin": n.thin}
            for n in goal_networks(analysis.scores, [g.name for g in config.goals], analysis.facts)}


def birthdays_near(db: Database, today: date) -> tuple[tuple[date, str], ...]:
    """Birthdays from the calendars on `today` and the day after (all-day dates are taken as written)."""
    rows = db.execute("SELECT start, summary FROM events WHERE birthday = 1 AND cancelled = 0 AND start >= ? "
                      "AND start < ?", [(today - timedelta(days=1)).isoformat(), (today + timedelta(days=3)).isoformat()])
    found = {(date.fromisoformat(start[:10]), summary) for start, summary in rows}
    return tuple(sorted((d, s) for d, s in found if 0 <= (d - today).days <= 1))


RECENT_FOCUS_DAYS = 28     # a week's focus person is not proposed again for four weeks


def _focus_history(db: Database, today: date, config: Config | None = None) -> tuple[str | None, frozenset[str]]:
    """This week's focus person — first proposed this calendar week (from Monday), so that each week has one
    and the week does not drift with the days nobody was due — if there is one, and the focus people of
    the past four weeks."""
    rows = db.execute(f"SELECT date, address FROM suggestions WHERE kind = 'focus' AND date >= ? AND date < ? "
                      f"AND {SHOWN} ORDER BY date DESC", [(today - timedelta(days=RECENT_FOCUS_DAYS)).isoformat(),
                                             today.isoformat(), _replays(today, config)]).fetchall()
    current = None
    if rows:
        # the latest: one chosen after the user snoozed the first stays for the rest of its week
        latest = rows[0][1]
        monday = today - timedelta(days=today.weekday())
        proposed = {date.fromisoformat(d) for d, address in rows if address == latest}
        current = latest if any(day >= monday for day in proposed) else None
    return current, frozenset(address for _, address in rows)


def build_digest(db: Database, config: Config, today: date) -> tuple[Digest, Analysis]:
    analysis = analyse(db, config, today)
    settings = Settings(config.digest.minutes, config.digest.max_suggestions, config.digest.repeat_days,
                        {g.name: g.weight for g in config.goals}, config.goals)
    def by_contact(per_address: dict[str, date]) -> dict[str, date]:
        return {cid: d for cid, f in analysis.facts.items() for a in f.contact.addresses if (d := per_address.get(a))}
    recent = by_contact(_recent_suggestions(db, today, config.digest.repeat_days, config=config))
    owed, owed_threads = _owed_shown(db, analysis, today, config)
    focus_now, recent_focus = _focus_history(db, today, config)
    context = SuggestContext(recent, frozenset(_snoozed(db, analysis)), birthdays_near(db, today),
                             recent_focus, focus_now, _routine_repeats(db, analysis, today, config), owed, owed_threads)
    suggestions = suggest(analysis.facts, analysis.scores, settings, today, config.zone, context)
    focus = weekly_focus(analysis.facts, analysis.scores, settings, context, suggestions, analysis.now)
    focus_line = None
    if focus is not None:
        fit = analysis.scores[focus.contact_id].goal_fit
        goal = max(sorted(fit), key=lambda g: fit[g] * settings.goal_weights.get(g, 1.0)) if fit else None
        focus_line = (focus.contact_id, focus.name, goal if goal and fit[goal] >= INTRODUCE_MIN else None)
    name = config.user.name or "you"
    return (Digest(today, name, suggestions, network_summary(analysis, config), focus_line, _silence_notes(db, analysis)),
            analysis)


QUIET_DAYS = 14         # this long without mail from a user who wrote …
BUSY_BEFORE = 20        # … this many messages in the 90 days before: away, or the sent mail is not synced
LOPSIDED_AFTER = 200    # personal messages received before fewer than 1 in 50 sent says the Sent folder is missing
INBOX_SHARE = 20        # and messages sent before fewer than 1 personal received in 20 says the inbox is (on 150
                        # Enron mailboxes: 4 that hold almost only Sent folders; the next received 1 in 13)


def _silence_notes(db: Database, analysis: Analysis) -> list[str]:
    """A note when the user's own mail stops: owed answers and lapsed ties are read from it, so suggestions
    after a holiday come early, and a Sent folder that is not synced makes every tie look one-sided."""
    if not analysis.own:
        return []
    own, now = sorted(analysis.own), utc_text(analysis.now)
    marks = ",".join("?" * len(own))
    # a note to self or a draft (no recipients) is no sign of mail going out
    last = db.execute(f"SELECT max(sent_at) FROM messages WHERE sender IN ({marks}) AND n_recipients > 0 "
                      "AND sent_at <= ?", [*own, now]).fetchone()[0]
    if last is None:
        if not any(f.received for f in analysis.facts.values()):
            return []
        return ["No mail from you is in the store: check [user] addresses in the config and that your sent mail "
                "is synced (a Sent folder, or the source that holds it); until then no tie can look mutual."]
    # messages, not recipients: one mail to 56 people is one message of the user's
    sent = db.execute(f"SELECT count(*) FROM messages WHERE sender IN ({marks}) AND n_recipients > 0 AND sent_at <= ?",
                      [*own, now]).fetchone()[0]
    received = sum(f.received_personal for f in analysis.facts.values())
    if not received:
        return ["No mail to you is in the store, only yours: check that your inbox is synced too (a source "
                "that holds only a Sent folder makes every tie look alike)."]
    if received >= LOPSIDED_AFTER and sent * 50 < received:
        mine = f"{sent} message{'' if sent == 1 else 's'} from you"
        return [f"Little of your own mail is in the store ({mine}, against {received} to you): check that your "
                "sent mail is synced; until then few ties can look mutual."]
    if sent >= LOPSIDED_AFTER and received * INBOX_SHARE < sent:
        return [f"Little mail to you is in the store ({received} personal, against {sent} from you): check that your "
                "inbox is synced; until then few ties can look mutual, and few answers can look owed."]
    quiet = (analysis.now - parse_utc(last)).days
    if quiet < QUIET_DAYS:
        return _slowdown_note(db, analysis, own) or _inbox_note(db, analysis, own)
    before = utc_text(parse_utc(last) - timedelta(days=90))
    busy = db.execute(f"SELECT count(*) FROM messages WHERE sender IN ({marks}) AND n_recipients > 0 AND sent_at > ? "
                      "AND sent_at <= ?", [*own, before, last]).fetchone()[0]
    if busy < BUSY_BEFORE:
        return []
    return [f"No mail from you since {parse_utc(last).astimezone(analysis.now.tzinfo):%d %B %Y} ({quiet} days): if you "
            "were away, ties may look cooler than they are; if you have written since, check that your sent mail "
            "is synced."]


SLOWDOWN_MONTHS = 3      # the user's monthly mail over this many months before the last 30 days …
SLOWDOWN_SHARE = 0.2     # … of which the last 30 days hold less than this share (after at least BUSY_BEFORE a month)


def _slowdown_note(db: Database, analysis: Analysis, own: list[str]) -> list[str]:
    """A note when the user's mail has not stopped but collapsed: a few messages in the past month after
    dozens a month before reads as a part-time absence, or a Sent folder that stopped syncing."""
    marks = ",".join("?" * len(own))
    month = analysis.now - timedelta(days=30)
    count = lambda start, end: db.execute(  # noqa: E731
        f"SELECT count(*) FROM messages WHERE sender IN ({marks}) AND n_recipients > 0 AND sent_at > ? "
        "AND sent_at <= ?", [*own, utc_text(start), utc_text(end)]).fetchone()[0]
    recent = count(month, analysis.now)
    usual = count(month - timedelta(days=30 * SLOWDOWN_MONTHS), month) / SLOWDOWN_MONTHS
    if usual < BUSY_BEFORE or recent >= SLOWDOWN_SHARE * usual:
        return []
    return [f"Little mail from you in the past 30 days ({recent}, against about {round(usual)} a month before): if you "
            "were away, ties may look cooler than they are; if you have written since, check that your sent mail "
            "is synced."]


def _inbox_note(db: Database, analysis: Analysis, own: list[str]) -> list[str]:
    """A note when personal mail to the user stops or collapses while the user's own goes on: nothing in life
    does that, an inbox that stopped syncing does, and every tie then looks one-sided (a reconnect for all).
    List and bulk mail do not count: a list that went quiet, or one the user left, is no broken inbox."""
    marks = ",".join("?" * len(own))
    count = lambda mine, start, end: db.execute(  # noqa: E731
        f"SELECT count(*) FROM messages WHERE sender {'' if mine else 'NOT '}IN ({marks}) "
        + ("AND n_recipients > 0 " if mine else "AND bulk = 0 ") + "AND sent_at > ? AND sent_at <= ?",
        [*own, utc_text(start), utc_text(end)]).fetchone()[0]
    now = analysis.now
    last = db.execute(f"SELECT max(sent_at) FROM messages WHERE sender NOT IN ({marks}) AND bulk = 0 AND sent_at <= ?",
                      [*own, utc_text(now)]).fetchone()[0]
    if last is None:        # only bulk mail to the user: no inbox of personal mail to miss
        return []
    quiet = (now - parse_utc(last)).days
    if quiet >= QUIET_DAYS:
        sent = count(True, parse_utc(last), now)
        if sent >= BUSY_BEFORE:
            return [f"No mail to you since {parse_utc(last).astimezone(now.tzinfo):%d %B %Y} ({quiet} days), while you "
                    f"sent {sent}: check that your inbox is synced; until then your ties look one-sided."]
        return []
    month = now - timedelta(days=30)
    recent, sent = count(False, month, now), count(True, month, now)
    usual = count(False, month - timedelta(days=30 * SLOWDOWN_MONTHS), month) / SLOWDOWN_MONTHS
    if usual < BUSY_BEFORE or recent >= SLOWDOWN_SHARE * usual or sent < BUSY_BEFORE:
        return []
    return [f"Little mail to you in the past 30 days ({recent}, against about {round(usual)} a month before), while "
            f"you sent {sent}: check that your inbox is synced; until then your ties look one-sided."]


def evaluation_touches(db: Database, config: Config, as_of: date, horizon_days: int):
    """What `kith eval` judges on: the touch arrays of everything up to `horizon_days` after the end of
    `as_of` (the judgment itself only looks before it), that moment in model time, and which contacts the
    daemon would have called noise then (their value is 0, as in the digest)."""
    from models.noise import was_noise
    from models.touches import collect, to_days

    cutoff = end_of_day(as_of, config)
    own = own_addresses(db, config)
    facts = facts_until(db, config, own, cutoff + timedelta(days=horizon_days))
    domains = organisations(own)
    with collector_paused():
        touches = collect(facts)
        noise = np.array([was_noise(facts[cid], cutoff, domains) for cid in touches.ids], dtype=bool)
    return touches, to_days(cutoff), noise


def _mail_counter(db: Database, config: Config):
    """(mail(start, end): the user's messages after `start` up to the end of `end`; whether they are the user's
    own, or, in a store without any, every message)."""
    own = sorted(own_addresses(db, config))
    marks = ",".join("?" * len(own))
    times = [at for (at,) in db.execute(f"SELECT sent_at FROM messages WHERE sender IN ({marks}) ORDER BY sent_at",
                                        own)] if own else []
    by_own = bool(times)
    if not by_own:
        times = [at for (at,) in db.execute("SELECT sent_at FROM messages ORDER BY sent_at")]

    def mail(start: date, end: date) -> int:
        return bisect_right(times, utc_text(end_of_day(end, config))) - bisect_right(
            times, utc_text(end_of_day(start, config)))
    return mail, by_own


def quiet_horizon(db: Database, config: Config, day: date, horizon_days: int) -> tuple[int, int] | None:
    """(the user's messages in the horizon, in as many days before it) when the horizon is a quiet tail (see
    `_before_the_tail`): an explicit `--as-of` there measures little, and `kith eval` says so."""
    mail, by_own = _mail_counter(db, config)
    span = timedelta(days=horizon_days)
    before, after = mail(day - span, day), mail(day, day + span)
    quiet = before and (after < TAIL_SHARE * before or (by_own and after < TAIL_OWN_MAIL))
    return (after, before) if by_own and quiet else None


def latest_evaluable_day(db: Database, config: Config, horizon_days: int) -> date:
    """The latest date whose whole horizon has passed and is in the store: the horizon ends with yesterday,
    or with the day of the newest mail when the store ends earlier (an archive, the sample)."""
    last_day = today_for(config) - timedelta(days=1)
    newest = newest_mail_day(db, config, strays=STRAYS_PER_MESSAGE)
    if newest:
        last_day = min(last_day, newest)
    latest = last_day - timedelta(days=horizon_days)
    return _before_the_tail(db, config, latest, horizon_days) or latest


TAIL_SHARE = 0.5        # a horizon holding less than this share of the mail of as long before it: an archive's tail
TAIL_WEEKS = 156        # … looked past week by week, at most this far (three years)
TAIL_OWN_MAIL = 10      # the user's own messages a horizon needs to measure anything (two or three is a tail)


def _before_the_tail(db: Database, config: Config, day: date, horizon_days: int) -> date | None:
    """The latest date, from `day` back week by week, whose horizon holds at least TAIL_SHARE of the mail of
    as many days before it: an archive that dwindles over its last months (a mailbox being wound down) has
    few two-way ties left to find in its tail, and a judgment measured there measures little. None when no
    such date is found within TAIL_WEEKS (then the latest date stands). The user's own mail decides when the
    store holds some: on a list a maintainer left, the list goes on while his two-way ties ended."""
    mail, by_own = _mail_counter(db, config)
    span = timedelta(days=horizon_days)
    for week in range(TAIL_WEEKS + 1):
        candidate = day - timedelta(weeks=week)
        before, after = mail(candidate - span, candidate), mail(candidate, candidate + span)
        if before and after >= TAIL_SHARE * before and (not by_own or after >= TAIL_OWN_MAIL):
            return candidate
    return None


STRAYS_PER_MESSAGE = 0.001   # the newest 0.1% may be strays: one message dated months after an archive ends …
STRAY_GAP = timedelta(days=30)  # … when this long without mail parts them from the rest


def horizon_complete(config: Config, as_of: date, horizon_days: int) -> bool:
    """Whether the horizon after `as_of` (which ends with the day `as_of` + `horizon_days`) lies in the past."""
    return as_of + timedelta(days=horizon_days) < today_for(config)


def newest_mail_day(db: Database, config: Config, strays: float = 0.0) -> date | None:
    """The local day of the newest message in the store: mail after it is unknown, not absent. Mail dated
    after now (a sender's wrong clock) does not count; nor, with `strays`, up to that share of the newest
    mail when a month or more without mail parts it from the rest (one message dated months after an
    archive ends must not move where its mail is taken to end)."""
    now = utc_text(datetime.now(UTC))
    count = db.execute("SELECT count(*) FROM messages WHERE sent_at <= ?", [now]).fetchone()[0] if strays else 0
    newest = [datetime.fromisoformat(at) for (at,) in db.execute(
        "SELECT sent_at FROM messages WHERE sent_at <= ? ORDER BY sent_at DESC LIMIT ?", [now, 1 + int(strays * count)])]
    if not newest:
        return None
    parted = [i + 1 for i in range(len(newest) - 1) if newest[i] - newest[i + 1] > STRAY_GAP]
    return newest[parted[-1] if parted else 0].astimezone(config.zone).date()


def evaluate_store(db: Database, config: Config, as_of: date, horizon_days: int):
    """`kith eval`: the model and the baselines judged as of `as_of`, checked against the next `horizon_days`."""
    from models.evaluate import evaluate

    touches, cutoff, noise = evaluation_touches(db, config, as_of, horizon_days)
    return evaluate(touches, cutoff, float(horizon_days), noise)
