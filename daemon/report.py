"""What `kith contacts` and `kith explain` show: plain data, then text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime, tzinfo

from sqlite_utils import Database

from daemon.analysis import Analysis
from daemon.config import Config
from daemon.contacts import organisations
from daemon.store import utc_text
from models.facts import ContactFacts, days_between
from models.goals import marked_relevant, relevance_reasons, taught_domains
from models.scorer import ContactScore, state_reason
from models.suggest import GOAL_THRESHOLD
from models.kinds import ago, history_reasons, last_touch, may_owe, plural, quote


SHOWN_RELEVANCE = 0.1   # below this, a goal's relevance is chance overlap of words, not worth a line


def value_text(value: float) -> str:
    """A value as text with the digits that tell it apart: on a mailing-list developer's mailbox even the
    closest tie may have a 0.006 chance of mail both ways, and "0.00" for everyone says nothing."""
    if value >= 0.095 or value == 0:
        return f"{value:.2f}"
    return f"{value:.3f}" if value >= 0.001 else "<0.001"


def _local_date(moment, config: Config) -> str | None:
    return moment.astimezone(config.zone).date().isoformat() if moment else None


def contact_row(f: ContactFacts, s: ContactScore, config: Config) -> dict:
    """One contact in the `contacts --json` contract (fields may be added, never renamed)."""
    return {
        "address": f.id,
        "addresses": list(f.contact.addresses),
        "name": f.contact.name,
        "value": s.value,
        "noise": s.noise,
        "state": s.state,
        "goals": s.goal_fit,
        "last_contact": _local_date(f.last_contact, config),
        "priority": s.priority,
        "peak_value": s.peak,
        "noise_reason": s.noise_reason,
        "sent": f.sent,
        "received": f.received,
        "two_way_threads": f.two_way_threads,
        "meetings": f.meetings_one_to_one + f.meetings_group,
        "usual_gap_days": f.usual_gap_days,
        "replies_owed": len(f.replies_owed) if may_owe(f, s) else 0,     # as explain and the digest say
        "valuable": s.valuable,
        "verdict": s.verdict,
        "delegate": f.delegate,     # an assistant sending from the user's mailbox: never suggested
    }


def contact_rows(analysis: Analysis, config: Config) -> list[dict]:
    rows = [contact_row(analysis.facts[cid], analysis.scores[cid], config) for cid in analysis.facts]
    rows.sort(key=lambda r: (-r["priority"], -r["value"], r["noise"], r["address"]))
    return rows


def serving(rows: list[dict], goal: str) -> list[dict]:
    """The contacts that serve one goal (relevance at least GOAL_THRESHOLD, not noise), by value times relevance."""
    chosen = [r for r in rows if not r["noise"] and r["goals"].get(goal, 0.0) >= GOAL_THRESHOLD]
    return sorted(chosen, key=lambda r: (-r["value"] * r["goals"][goal], r["address"]))


def goal_reasons(analysis: Analysis, config: Config, f: ContactFacts, s: ContactScore) -> dict[str, list[str]]:
    """Why the contact serves each goal it is relevant to (or was marked for), in words."""
    own = organisations(analysis.own)
    out = {}
    for goal in config.goals:
        fit, verdict = s.goal_fit.get(goal.name, 0.0), analysis.goal_verdicts.get((f.id, goal.name))
        if fit >= SHOWN_RELEVANCE or verdict is not None:
            marked = marked_relevant(goal, analysis.goal_verdicts)
            domains = taught_domains(analysis.facts, marked, own)
            reasons = relevance_reasons(f, goal, fit, verdict, domains, bool(marked))
            if reasons:
                out[goal.name] = reasons
    return out


def contact_of(analysis: Analysis, address: str) -> ContactFacts | None:
    """The contact one of whose addresses is `address`, if any."""
    return next((f for f in analysis.facts.values() if address in f.contact.addresses), None)


def contacts_named(facts: dict[str, ContactFacts], text: str) -> list[ContactFacts]:
    """The contacts called `text` (case, accents, punctuation and spacing aside: "joel stanley" finds "Joel
    Stanley", "Juergen" "Jürgen"); if none is, those whose name holds each of its words ("Stanley"); failing
    that, those whose name holds it as a part ("Stan"). The most mail first."""
    wanted = _folded(text)
    if not wanted:
        return []
    named = [(f, _folded(f.contact.name)) for f in facts.values()]
    words = wanted.split()
    tests = (lambda name: name == wanted, lambda name: all(w in name.split() for w in words),
             lambda name: wanted in name)
    for test in tests:
        found = [f for f, name in named if name and test(name)]
        if found:
            return sorted(found, key=lambda f: (-(f.sent + f.received), f.id))
    return []


def _folded(text: str) -> str:
    """A name as it is compared: case folded, "ä, ö, ü" as "ae, oe, ue" (as goals match), other accents dropped,
    words only."""
    text = text.casefold().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", plain))


def candidates(found: Sequence[ContactFacts], shown: int = 5) -> str:
    """"Joel Stanley <joel@jms.id.au>, Joel Stanley <joel.stanley@ibm.com> and 3 more": whom a name may mean."""
    listed = ", ".join(f"{f.contact.name} <{f.id}>" for f in found[:shown])
    return listed + (f" and {len(found) - shown} more" if len(found) > shown else "")


def stored_list_ids(db: Database) -> set[str]:
    """The List-Ids in the stored mail (`daemon.contacts.is_mailing_list` knows a list's address by them)."""
    return {list_id for (list_id,) in db.execute("SELECT DISTINCT list_id FROM messages WHERE list_id != ''")}


def verdicts_after(db: Database, addresses: Iterable[str], now: datetime, zone: tzinfo
                   ) -> list[tuple[str, str | None, date]]:
    """The user's verdicts on these addresses given after `now` (verdict, goal, local day): they count from the
    moment they were given, so a judgment as of an earlier day does not use them."""
    addresses = list(addresses)
    rows = db.execute(f"SELECT verdict, goal, at FROM feedback WHERE address IN ({', '.join('?' * len(addresses))}) "
                      "AND at > ? ORDER BY at, id", [*addresses, utc_text(now)]).fetchall()
    return list(dict.fromkeys(      # the same verdict given again the same day is one
        (verdict, goal, datetime.fromisoformat(at).astimezone(zone).date()) for verdict, goal, at in rows))


def later_verdicts_line(later: Sequence[tuple[str, str | None, date]], today: date) -> str:
    """"Your verdict of 2026-03-10 (noise) counts from that day on: it is not used as of 2026-03-03." """
    said = [f"{day.isoformat()} ({verdict.replace('-', ' ')}{f' for “{goal}”' if goal else ''})"
            for verdict, goal, day in later]
    if len(said) == 1:
        return f"Your verdict of {said[0]} counts from that day on: it is not used as of {today.isoformat()}."
    return (f"Your verdicts of {', '.join(said[:-1])} and {said[-1]} count from those days on: they are not used "
            f"as of {today.isoformat()}.")


def explain_contact(analysis: Analysis, config: Config, address: str,
                    later: Sequence[tuple[str, str | None, date]] = ()) -> dict | None:
    """What `kith explain` shows of the contact with `address`; `later`: the user's verdicts given after the
    day judged (`verdicts_after`), which the judgment leaves out and the text says so."""
    f = contact_of(analysis, address)
    if f is None:
        return None
    s = analysis.scores[f.id]
    row = contact_row(f, s, config)
    since = days_between(f.last_contact, analysis.now)
    lines = [f"{f.contact.name} <{', '.join(f.contact.addresses)}>",
             f"State: {s.state}" + (f" ({why})" if (why := state_reason(f, s.state, analysis.now)) else "")
             + f"; value {value_text(s.value)}" + (f" — noise: {s.noise_reason}" if s.noise else "")
             + (" — you marked them as good, which counts them among your most valuable ties"
                if s.verdict == "good" else "")]
    if f.delegate:
        lines.append("Your assistant: sends mail from your mailbox, which counts as yours; never suggested")
    if later:
        lines.append(later_verdicts_line(later, analysis.today))
    row["later_feedback"] = [{"verdict": verdict, "goal": goal, "date": day.isoformat()}
                             for verdict, goal, day in later]
    facts = [f"you wrote {plural(f.sent, 'message')}, received {f.received} ({f.received_bulk} bulk)",
             f"{plural(f.two_way_threads, 'conversation')} went both ways" if f.two_way_threads
             else "mail went both ways, though never in one thread" if f.close
             else "no conversation went both ways yet"]
    threads = f.user_threads + f.their_threads
    if threads >= 2:     # who reaches out: a tie where one side only asks stays visible as one
        facts.append(f"you started {f.user_threads} of the {threads} threads between you")
    facts += history_reasons(f, conversations=False)
    if f.last_contact:
        facts.append(f"last contact {ago(since)} ({last_touch(f)})")
    if f.usual_gap_days and "usually talk" not in (state_reason(f, s.state, analysis.now) or ""):
        facts.append(f"you usually talk every {round(f.usual_gap_days)} days")    # not twice: the state says it
    if f.last_meeting:
        facts.append(f"last meeting {quote(f.last_meeting[1])} on "
                     f"{f.last_meeting[0].astimezone(analysis.now.tzinfo):%d %b %Y}")
    close = sorted(analysis.facts[p].contact.name for p in f.peers
                   if p in analysis.facts and analysis.facts[p].close and not analysis.facts[p].delegate)
    if close:
        names = ", ".join(close[:3]) + (f" and {plural(len(close) - 3, 'other')}" if len(close) > 3 else "")
        facts.append(f"in threads or meetings with {plural(len(close), 'close contact')} of yours: {names}")
    if f.replies_owed and may_owe(f, s):
        owed, more = f.replies_owed[0], len(f.replies_owed) - 1
        facts.append(f"they wrote {ago(days_between(owed.at, analysis.now))} ({quote(owed.subject)}) and wait for "
                     "your answer" + (f", as in {plural(more, 'other thread')}" if more else ""))
    lines += [f"  - {fact}" for fact in facts]
    goals = goal_reasons(analysis, config, f, s)
    lines.append("Goals:" if goals else "Goals: none of your goals")
    lines += [f"  - {name} ({s.goal_fit[name]:.2f}): " + "; ".join(reasons) for name, reasons in goals.items()]
    row["facts"], row["goal_reasons"] = facts, goals
    row["text"] = "\n".join(lines)
    return row
