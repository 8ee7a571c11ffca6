"""Noise: contacts that write a lot but are not relationships.

Newsletters, notification robots, mass mailings, list traffic, role addresses
and one-way senders are noise however often they write. A contact the user has
written to twice or more is never noise: the user's own behaviour wins. Nor is a
colleague from the user's own organisation who writes directly, however rarely
the user answers by mail: on 150 Enron mailboxes such senders went on to
exchange mail both ways as often as the average contact (6.2% against 6.5%; outsiders: 2.4%).
Nor are a colleague's one or two unanswered mails: a weak tie, left to the model.
Such colleagues rarely went on to two-way mail (1.1%, as strangers' one-offs), but
the model ranked them better than the noise rule's bottom place did: the expected
number of Enron owners on which it leads every baseline rose from 75.9 to 80.1 of 130.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from daemon.contacts import answers_no_one, in_organisations
from models.facts import TRANSACTIONAL, ContactFacts, summarise

ONE_WAY_VOLUME = 5  # received this many with no answer ever: a one-way sender
COLD_DAYS = 30      # a stranger's unanswered first mail stays "new" this long, then it is noise


def noise_reason(facts: ContactFacts, now: datetime, organisations: frozenset[str] = frozenset()) -> str | None:
    """Why a contact is noise, in plain words, or None when it is not. `organisations`: the domains of the
    user's own work addresses (`daemon.contacts.organisations`)."""
    if facts.sent >= 2:
        return None
    if facts.robot:     # an answer to a robot's report is no conversation
        return f"an automated sender ({facts.contact.name})"
    if facts.unsubscribed and not facts.meetings_one_to_one:
        return "you asked to be taken off their mail"
    kinds = facts.kinds
    if not facts.meetings_one_to_one and all(answers_no_one(a) for a in facts.contact.addresses):
        return "an automated sender (no-reply address)"  # one answer (a confirmation, an approval) is no tie
    if facts.meetings_one_to_one or (facts.sent and facts.received_personal and facts.two_way_threads):
        return None
    if "person" not in kinds and "noreply" in kinds:
        return "an automated sender (no-reply address)"
    if facts.received and facts.received_bulk == facts.received and not facts.meetings_group:
        return "mailing-list or bulk mail only" if facts.list_ids else "bulk mail only (newsletter or notifications)"
    if "person" not in kinds and facts.sent == 0:
        return "a role address (info@, support@, …) that you never wrote to"
    received = [t for t in facts.touches if t.kind == "received"]
    if facts.sent == 0 and len(received) >= 2 and all(TRANSACTIONAL.search(t.subject) for t in received):
        return "receipts, confirmations and notices only, never written to"    # a booking site's robot
    if facts.sent or facts.meetings_group or any(in_organisations(a, organisations) for a in facts.contact.addresses):
        return None
    if facts.received >= ONE_WAY_VOLUME:
        return f"wrote {facts.received} times and you never answered"
    if facts.received_personal <= 2 and facts.last_received and now - facts.last_received > timedelta(days=COLD_DAYS):
        return "a one-off sender you never answered"
    return None


def was_noise(facts: ContactFacts, moment: datetime, organisations: frozenset[str] = frozenset()) -> bool:
    """Whether the contact was noise at `moment`, judged from its touches before it alone: `kith eval` reads
    facts past its date to see the outcome, and must judge as the daemon would have on that date."""
    earlier = [t for t in facts.touches if t.at < moment]
    if not earlier:
        return False
    past = ContactFacts(facts.contact, earlier, set(facts.kinds), set(facts.list_ids), robot=facts.robot)
    summarise(past)
    return noise_reason(past, moment, organisations) is not None
