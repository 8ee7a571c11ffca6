"""Facts per contact as of a moment: what happened between the user and each person.

Everything the digest says ("replied to all 9 of your threads", "last contact
71 days ago") is one of these facts. Nothing dated after `as_of` is read.
"""

from __future__ import annotations

import functools
import gc
import re
import statistics
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Collection, Container, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from itertools import permutations
from operator import attrgetter, itemgetter

from sqlite_utils import Database

from daemon.contacts import (B4_RELAY_PREFIX, FREE_MAIL_FIRMS, Contact, address_kind, domain_of, firm_of, is_ignored,
                             is_list_name, is_mailing_list, merge_contacts, person_addresses, robot_name, usable_name)
from daemon.store import REPLY_PREFIX, utc_text

MIN_GAP_DAYS, MAX_GAP_DAYS = 7.0, 180.0
EPISODE_DAYS = 2
RHYTHM_MIN_EPISODES, RHYTHM_MIN_SPAN_DAYS = 4, 28   # conversations, over this many days at least, name a rhythm
RECENT_THREADS = 4
MAX_GROUP = 12  # threads and meetings larger than this are broadcasts, not acquaintance
STRONG_EXCHANGES = 2  # a strong (close) contact: at least this many personal messages each way
OWED_MAX_PEOPLE = 9   # a mail to more people (sender included) is answered less and less: 28-31% of mails to
                      # 1-9 recipients got an answer within a week, 20% of those to 10-20, 7% beyond 50 (25 Enron
                      # owners); on the OpenBMC list, 19-26% for 3-8 recipients, 11% for 10-20, 1% beyond
IGNORED_AFTER = 5     # a sender who wrote to the user directly this often and never got a line back is owed nothing
                      # more: on 150 Enron owners such mail was answered within a week 5.0% of the time, other
                      # direct mail to 1-9 people 21.3%
BOTH_WAYS = {"sent", "received"}
_AT = attrgetter("at")


parse_utc = datetime.fromisoformat  # a stored timestamp (UTC ISO 8601, as `daemon.store.utc_text` writes it)


@dataclass(slots=True)
class Touch:
    """One interaction with a contact: a message either way, or a meeting."""

    at: datetime
    kind: str            # sent, received, meeting
    conversation: str
    subject: str
    direct: bool = True  # sent: in To; received: user in To and not bulk; meeting: one-to-one
    bulk: bool = False
    size: int = 1        # other people involved
    introduces: bool = False  # received: names someone the user had no mail with before (an introduction's mark)
    via_list: bool = False    # received: came through a mailing list (a List-Id)
    via_group: bool = False   # received: addressed to a group (a desk's address, a list), none of the user's


@dataclass
class ContactFacts:
    contact: Contact
    touches: list[Touch] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)          # address kinds: person, role, noreply
    list_ids: set[str] = field(default_factory=set)
    peers: Counter = field(default_factory=Counter)        # other contacts in the same threads/meetings
    robot: bool = False       # its name says it is a robot ("kernel test robot"): never suggested
    delegate: bool = False    # an assistant who sends from the user's mailbox: staff, never suggested

    # derived by summarise()
    sent: int = 0
    sent_personal: int = 0            # … to a few people (OWED_MAX_PEOPLE at most): not the user's broadcasts
    received: int = 0
    received_personal: int = 0
    received_few: int = 0             # … of it to a few people, counted as sent_personal is
    received_direct: int = 0          # personal mail with the user in To
    received_bulk: int = 0
    two_way_threads: int = 0
    user_threads: int = 0
    user_threads_answered: int = 0
    user_threads_year: int = 0              # … of them started in the year before as_of
    user_threads_answered_year: int = 0
    their_threads: int = 0
    meetings_one_to_one: int = 0
    meetings_group: int = 0
    first_contact: datetime | None = None
    last_contact: datetime | None = None
    last_sent: datetime | None = None
    last_received: datetime | None = None
    first_meeting: datetime | None = None
    last_meeting: tuple[datetime, str] | None = None
    last_subject: str = ""
    usual_gap_days: float | None = None
    replies_owed: list[Touch] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    recent_threads: list[tuple[bool, bool]] = field(default_factory=list)  # (user started it, they answered)

    @property
    def id(self) -> str:
        return self.contact.id

    @property
    def never_suggested(self) -> bool:
        """A robot's reports or an assistant's errands: no relationship to care for, however much mail."""
        return self.robot or self.delegate

    @property
    def unsubscribed(self) -> bool:
        """The user asked them to stop sending (see UNSUBSCRIBE); asked only where it decides, as it reads
        every subject of the user's."""
        return any(t.kind == "sent" and UNSUBSCRIBE.search(REPLY_PREFIX.sub("", t.subject)) for t in self.touches)

    @property
    def close(self) -> bool:
        """A strong contact: personal mail both ways, at least STRONG_EXCHANGES messages each way among a few
        people (mail to crowds aside, either way: a daily report to 16 people says nothing about one of them)."""
        return self.sent_personal >= STRONG_EXCHANGES and self.received_few >= STRONG_EXCHANGES


def load_facts(db: Database, own: set[str], as_of: datetime, *, aliases=(), ignore_addresses=(),
               ignore_domains=()) -> dict[str, ContactFacts]:
    """Every contact known as of `as_of`, keyed by contact id, with its facts summarised."""
    with collector_paused():
        return _load_facts(db, own, utc_text(as_of), aliases, ignore_addresses, ignore_domains, as_of.tzinfo)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Build many small objects without the cycle collector: they form no cycles, and with a million of
    them alive its repeated full passes cost more than building them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_facts(db: Database, own: set[str], cutoff: str, aliases, ignore_addresses, ignore_domains,
                zone: tzinfo | None = None) -> dict[str, ContactFacts]:
    seen = _Seen()
    delegates = {email for email, in db.execute("SELECT email FROM delegates")} - own
    _add_messages(db, own, cutoff, seen, delegates)
    _add_meetings(db, own, cutoff, seen, zone or UTC)
    per_address = seen.per_address
    ignore_addresses = [a.lower() for a in ignore_addresses]
    lists = set().union(*seen.list_ids.values())
    person = person_addresses(per_address, own)     # 'anna'@x → anna@x; a B4 relay address → its sender's
    ignoring = bool(ignore_addresses or ignore_domains)
    known = [a for a in per_address if person[a] not in own and not is_mailing_list(person[a], lists)
             and not _relayed(seen.names.get(a), a, person[a])
             and not (ignoring and any(is_ignored(e, ignore_addresses, ignore_domains) for e in {a, person[a]}))]
    volume = {a: len(per_address[a]) for a in known}
    contacts = merge_contacts(known, seen.names, seen.sightings, aliases, volume, person)
    facts: dict[str, ContactFacts] = {}
    for address in known:
        contact = contacts[address]
        item = facts.get(contact.id)
        if item is None:
            item = facts[contact.id] = ContactFacts(contact)
        item.touches += per_address[address]
        item.kinds.add(address_kind(address))
        item.list_ids |= seen.list_ids.get(address, set())
    for item in facts.values():
        item.robot = robot_name(item.contact.name)
        item.delegate = not delegates.isdisjoint(item.contact.addresses)
    _add_peers(facts, contacts, seen.participants)
    seen.answers.person = {a: contact.id for contact in contacts.values() for a in contact.addresses}
    moment = parse_utc(cutoff)
    user_wrote, user_wrote_to = _user_wrote(per_address)
    starter_wrote = _starter_wrote(per_address, seen.starters)
    team_series = _team_series(per_address.values(), user_wrote)
    for item in facts.values():
        summarise(item, moment, user_wrote, starter_wrote, seen.answers, user_wrote_to, team_series)
    return facts


def _user_wrote(per_address: Mapping[str, list[Touch]]
                ) -> tuple[dict[str, list[datetime]], dict[str, list[tuple[datetime, str]]]]:
    """When the user wrote in each conversation, to anyone, in order: a reply there from someone who was not
    on that mail answers the user all the same. And to whom (see `_answered_since`)."""
    times: dict[str, set[datetime]] = defaultdict(set)
    to: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for email, touches in per_address.items():
        for t in touches:
            if t.kind == "sent":
                times[t.conversation].add(t.at)
                to[t.conversation].append((t.at, email))
    return ({conversation: sorted(at) for conversation, at in times.items()},
            {conversation: sorted(writes) for conversation, writes in to.items()})


def _answered_since(last: Touch, addresses: Collection[str], wrote_to: Sequence[tuple[datetime, str]]) -> bool:
    """Whether the user wrote in the conversation after `last` to someone who could be its answer's reader:
    the person, anyone when theirs was a mail among several (a reply to another of them answers in the thread),
    or a colleague of theirs at the same organisation (their other address, an assistant). Conversations are
    grouped by subject: Ben's "Quick question" answered is not Anna's, a stranger to Ben, who asked the same
    words alone."""
    later = wrote_to[bisect_right(wrote_to, (last.at, "\uffff")):]        # in time order: only what came after
    if not later or last.size > 1:
        return bool(later)
    firms = {firm_of(domain_of(a)) for a in addresses} - FREE_MAIL_FIRMS
    return any(email in addresses or firm_of(domain_of(email)) in firms for _, email in later)


def _starter_wrote(per_address: dict[str, list[Touch]], starters: dict[str, str]) -> dict[str, list[datetime]]:
    """When the person who started each conversation (someone else than the user) wrote in it, in order."""
    started_by: dict[str, set[str]] = defaultdict(set)
    for conversation, address in starters.items():
        if address:         # "": the user started it
            started_by[address].add(conversation)
    times: dict[str, list[datetime]] = defaultdict(list)
    for address, conversations in started_by.items():
        for t in per_address.get(address, ()):
            if t.kind == "received" and t.conversation in conversations:
                times[t.conversation].append(t.at)
    return {conversation: sorted(at) for conversation, at in times.items()}


def _relayed(names: Counter | None, address: str = "", person: str = "") -> bool:
    """An address that sends as "Anna Berger via qemu-devel" or "… via B4 Relay", or that mail names as a list
    ("open list:ASPEED BMCs", "Cameron Esfahani via": `daemon.contacts.is_list_name`) more often than as
    anyone: a list that rewrote the sender (DMARC) or a relay, not a person; the person writes from their own
    address too. Names that say nothing (the address, its local part) are not counted. A B4 relay address
    that names its sender (`person`, see `daemon.contacts.relayed_sender`) is that person's, not a relay."""
    if not names or (address.startswith(B4_RELAY_PREFIX) and person != address):
        return False
    local = address.partition("@")[0]
    listed = anyone = 0
    for name, n in names.items():
        if is_list_name(name):
            listed += n
        elif (clean := usable_name(name, address)) and clean.lower() != local:
            anyone += n
    return listed > anyone


@dataclass
class _Seen:
    """What reading the store gathers, per address, before addresses become contacts."""

    per_address: dict[str, list[Touch]] = field(default_factory=lambda: defaultdict(list))
    names: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    sightings: set[tuple[str, str, str]] = field(default_factory=set)   # (conversation, full name, address)
    list_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    participants: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    starters: dict[str, str] = field(default_factory=dict)     # conversation → who wrote its first mail, not the user
    answers: _Answers = field(default_factory=lambda: _Answers())


@dataclass
class _Answers:
    """Who put a question to whom besides the user, and who answered it: Chris asks Marie and the user,
    Marie answers Chris — Chris waits for the user no more. Only mail among a few people, To only."""

    asked: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))   # (conv, asker) → To
    replies: dict[tuple[str, str], list[tuple[datetime, str]]] = field(default_factory=lambda: defaultdict(list))
    person: dict[str, str] = field(default_factory=dict)   # address → contact id, once contacts are merged
    copied: set[str] = field(default_factory=set)   # conversations someone else opened with the user in Cc only

    def add(self, conversation: str, sender: str, to: set[str], at: datetime) -> None:
        self.asked[(conversation, sender)] |= to
        for email in to:
            self.replies[(conversation, email)].append((at, sender))

    def since(self, conversation: str, addresses: Iterable[str], moment: datetime) -> bool:
        """Whether one of the people the contact (`addresses`) wrote to in To there answered them, in To,
        after `moment`: a colleague took care of their question."""
        who = self.person.get
        asked = {who(e, e) for e in set().union(*(self.asked.get((conversation, a), ()) for a in addresses))}
        # by person, not address: Dan Leff, asked at dan.leff@, answers from leff@ (review 23)
        return any(at > moment and who(by, by) in asked
                   for a in addresses for at, by in self.replies.get((conversation, a), ()))


@dataclass
class _Recipients:
    """Who each message went to, as far as judging needs it (group sizes come from `messages`)."""

    own: dict[int, int]                         # how many of them are the user's addresses
    to_me: set[int]                             # messages with the user in To
    others: dict[int, list[tuple[str, str]]]    # (role, address) of the others, for the user's mail and small messages
    lists: dict[int, int] = field(default_factory=dict)   # how many of them are mailing lists, not people


def _read_recipients(db: Database, own: set[str], on_behalf: Collection[int] = ()) -> _Recipients:
    """Most recipient rows belong to broadcasts, of which only the counts matter (`messages.n_recipients`);
    only the other recipients of the user's own mail and of small messages reach Python, in (role, address)
    order. Mailing lists among the recipients are counted apart (`_list_addresses`): a patch review to five
    lists and seven people went to seven people. `on_behalf`: messages that are the user's though another
    sent them (`_on_behalf`)."""
    marks, own_list = ",".join("?" * len(own)), sorted(own)
    result = _Recipients({}, set(), defaultdict(list))
    for key, role in db.execute(f"SELECT key, role FROM recipients WHERE email IN ({marks})", own_list):
        result.own[key] = result.own.get(key, 0) + 1
        if role == "to":
            result.to_me.add(key)
    lists = _list_addresses(db)
    if lists:
        list_marks = ",".join("?" * len(lists))
        result.lists = dict(db.execute(f"SELECT key, count(*) FROM recipients WHERE email IN ({list_marks}) "
                                       "GROUP BY key", sorted(lists)).fetchall())
    for key, role, email in db.execute(  # messages in key order, each one's recipients in primary-key order
            f"SELECT r.key, r.role, r.email FROM messages m JOIN recipients r ON r.key = m.key "
            f"WHERE (m.n_recipients <= {MAX_GROUP} OR m.sender IN ({marks}) "
            f"OR (m.list_id != '' AND m.n_recipients <= {LIST_GROUP})) AND r.email NOT IN ({marks}) "
            f"ORDER BY m.key, r.role, r.email", own_list * 2):
        if email not in lists:
            result.others[key].append((role, email))
    for key in sorted(set(on_behalf) - result.others.keys()):      # a broadcast of the user's, sent by an assistant
        result.others[key] = [(role, email) for role, email in db.execute(
            f"SELECT role, email FROM recipients WHERE key = ? AND email NOT IN ({marks}) ORDER BY role, email",
            [key, *own_list]) if email not in lists]
    return result


LIST_GROUP = 3 * MAX_GROUP      # list mail read recipient by recipient: its lists aside, it may be a small group


def _list_addresses(db: Database) -> set[str]:
    """The mailing lists among all recipients, in a store with list mail (a List-Id): a list address in To or
    Cc is no person in the group (see `daemon.contacts.is_mailing_list`)."""
    list_ids = {list_id for list_id, in db.execute("SELECT DISTINCT list_id FROM messages WHERE list_id != ''")}
    if not list_ids:
        return set()
    return {email for email, in db.execute("SELECT DISTINCT email FROM recipients") if is_mailing_list(email, list_ids)}


def _on_behalf(db: Database, delegates: set[str]) -> set[int]:
    """The messages an assistant sent from the user's mailbox (a copy in a Sent folder): the user's mail, as
    the assistant's "Re: Macerich Conferences" to a board member is Jeff Skilling's answer."""
    if not delegates:
        return set()
    return {key for key, in db.execute(
        f"""SELECT DISTINCT m.key FROM messages m JOIN message_copies c ON c.key = m.key
            WHERE m.sender IN ({",".join("?" * len(delegates))}) AND ' ' || c.labels || ' ' LIKE '% SENT %'""",
        sorted(delegates))}


def _add_messages(db: Database, own: set[str], cutoff: str, seen: _Seen, delegates: set[str] = frozenset()
                  ) -> None:
    """Each message before the cutoff as touches: one for its sender, or one per recipient of the user's mail
    (and of the mail `delegates` sent from the user's mailbox)."""
    on_behalf = _on_behalf(db, delegates)
    recipients = _read_recipients(db, own, on_behalf)
    own_count, to_me, listed, lists_in = recipients.own, recipients.to_me, recipients.others, recipients.lists
    discussions = _list_discussions(db)
    per_address, participants, names, starters = seen.per_address, seen.participants, seen.names, seen.starters
    messages = db.execute("SELECT key, sent_at, sender, sender_name, subject, conversation, bulk, list_id, "
                          "n_recipients FROM messages WHERE sent_at < ? ORDER BY key", [cutoff]).fetchall()
    messages.sort(key=itemgetter(1))  # by time, then key: a stable sort here is cheaper than SQLite's sorter
    copies: dict[tuple, set[datetime]] = {}
    acquainted: set[str] = set()    # addresses the user has had mail with so far, either way
    for key, sent_at, sender, sender_name, subject, conversation, bulk, list_id, n in messages:
        n -= lists_in.get(key, 0)       # people, not lists
        at = parse_utc(sent_at)
        rcpts = listed.get(key, ())
        mine = sender in own or key in on_behalf
        # the user's mail is one signature whoever sent it: the assistant's copy and the user's, hours apart
        # a mail without a subject is a conversation of its own Message-ID, which each copy has anew: the copies
        # of one are told by what else they share (review 23: "35 from you" for 27)
        thread = "" if conversation.startswith("t:") else conversation
        if _shifted_copy(copies, ("" if mine else sender, subject, thread, n, own_count.get(key, 0),
                                  tuple(rcpts)), at):
            continue
        others = n - own_count.get(key, 0)
        if sender_name:
            names[sender][sender_name] += 1
            if " " in sender_name:  # only full names are evidence that two addresses are one person
                seen.sightings.add((conversation, sender_name, sender))
        if conversation not in starters and not mine and key not in to_me:
            seen.answers.copied.add(conversation)      # someone else's question; the user was only copied
        starters.setdefault(conversation, "" if mine else sender)
        if mine:
            for role, email in rcpts:
                per_address[email].append(Touch(at, "sent", conversation, subject, role == "to", False, others))
            acquainted.update(email for _, email in rcpts)
            members = None if n > MAX_GROUP else participants[conversation]
        else:
            if bulk and key in discussions and key in own_count and address_kind(sender) == "person":
                bulk = 0    # a reply on a discussion list, addressed to the user by name: personal mail
            elif n == 1 and not bulk and _blind_blast(sender, n, own_count.get(key, 0), rcpts):
                bulk = 1
            elif not bulk and _auto_reply(subject):
                bulk = 1    # an out-of-office notice answers nothing and waits for nothing
            # whether it names someone new to the user: asked only of a subject that may introduce (it is slow)
            newcomer = not bulk and _MAY_INTRODUCE.search(subject) is not None \
                and any(email != sender and email not in acquainted for _, email in rcpts)
            per_address[sender].append(Touch(at, "received", conversation, subject, key in to_me and not bulk,
                                             bool(bulk), others + 1, newcomer, bool(list_id),
                                             _via_group(own_count.get(key, 0), rcpts, lists_in.get(key, 0))))
            if not bulk:
                acquainted.add(sender)
            if list_id:
                seen.list_ids[sender].add(list_id)
            if not bulk and n <= OWED_MAX_PEOPLE and rcpts:
                seen.answers.add(conversation, sender, {e for role, e in rcpts if role == "to" and e != sender}, at)
            members = None if bulk or n > MAX_GROUP else participants[conversation]
            if bulk and key in discussions and n <= MAX_GROUP:
                # a list discussion among a few named people shows who knows whom, though it is bulk to the user;
                # a patch thread gathers dozens over the years, so each such mail counts as a small group alone
                members = participants[f"list-mail:{key}"]
            if members is not None:
                members.add(sender)
        if members is not None:  # a broadcast says little about who knows whom
            members.update([email for _, email in rcpts])
    _add_recipient_names(db, cutoff, seen)


_MAY_INTRODUCE = re.compile(r"intro|vorstell|kennenlern|<>", re.IGNORECASE)   # see `models.kinds.INTRODUCTION`
# an automatic answer: Exchange's "Out of Office AutoReply:", Outlook's "Automatic reply:", Lotus Notes'
# "Anna Berger is out of the office.", and their German and French forms
AUTO_REPLY = re.compile(
    r"\s*(?:out of (?:the )?office(?: autoreply)?|automatic reply|auto[- ]?reply|auto[- ]?response|auto"
    r"|abwesenheitsnotiz|automatische antwort|r[ée]ponse automatique|absence)\s*:", re.IGNORECASE)
_OUT_OF_OFFICE = re.compile(r"\bis out of (?:the )?office\b", re.IGNORECASE)


def _auto_reply(subject: str) -> bool:
    """Whether a subject is an automatic answer's (see AUTO_REPLY); the scan for Lotus Notes' sentence only
    when "office" is in it, as it rarely is: this runs on every received mail."""
    return AUTO_REPLY.match(subject) is not None or (
        ("ffice" in subject or "FFICE" in subject) and _OUT_OF_OFFICE.search(subject) is not None)


# a meeting's reply or notice, sent by a calendar: "Accepted: Lunch", "Canceled: Lunch ...", "Updated: Staff
# Meeting" (Outlook's moved meeting), "Zugesagt: …",
# Google's "Invitation: … @ Mon 2 Mar" and "Updated invitation: …" — the calendar answers those
CALENDAR_NOTICE = re.compile(
    r"^\s*(?:accepted|declined|tentative(?:ly accepted)?|cancell?ed(?: event)?|updated(?: invitation)?|invitation"
    r"|new time proposed|zugesagt|abgesagt|abgelehnt|mit vorbehalt|akzeptiert|einladung|aktualisierte einladung"
    r"|accept[ée]|refus[ée]|annul[ée])\s*:", re.IGNORECASE)
# a subject that says itself no answer is wanted ("Don't need to call me back", "No reply needed", "Nur zur Info"),
# a thank-you without a question ("Thanks a bunch - from Becky"; not "Thanks! Can we meet Tuesday?"), and a
# mail titled "Test" (someone checking their mail works)
NO_ANSWER_WANTED = re.compile(
    r"\b(?:(?:don'?t|do not|no) need to (?:reply|respond|answer|call(?: me)? back|get back)"
    r"|no (?:reply|response|answer) (?:needed|necessary|required|expected)|fyi only|for your information only"
    r"|nur zur info|keine antwort (?:nötig|noetig|erforderlich))\b"
    r"|^\W*(?:thanks|thank you|many thanks|danke|vielen dank)\b(?![^?]*\?)"
    r"|^\W*test(?:ing)?(?:\s+(?:message|mail|e-?mail|\d+))?\W*$"      # "Test": a check, no question
    r"|^\W*fyi\b(?![^?]*\?)|\bcontact (?:info|information|data|details|numbers?)\b|\bwhereabouts\b",
    re.IGNORECASE)      # "FYI PUCT/ERCOT Dates", "Weekend Contact info.", "Whereabouts": for reading (review 25)
# a note of a phone call taken for the user ("Telephone Message - Mary Joyce", "Gail called-in. She can be
# reached on her cell", "Pat called. Please call her cell", "Randy Rich just returned your call", an assistant's
# "Messages"): the one to call back is the caller, not its writer. "I left you a voice message - can you call me
# back?" is the caller's own, and owed (review 27): a note that asks ("?") is never one
PHONE_NOTE = re.compile(r"^(?!.*\?)(?:\W*(?:tele)?phone message\b|.*\bwhile you were out\b|.*\bcalled[- ]in\b"
                        r"|.*\bcalled[.,;:]?\s+(?:please call|(?:she|he|they) can be reached)"
                        r"|.*\breturned your (?:phone )?call\b|\W*(?:phone |voice ?mail )?messages\W*$)", re.IGNORECASE)
# the user asking a sender to stop ("REMOVE FROM E-MAIL ADDRESS", "Unsubscribe"): no conversation
UNSUBSCRIBE = re.compile(r"\bunsubscribe\b|\bremove me\b|^\W*remove\s+(?:from|me|my)\b|\babmelden\b"
                         r"|\bopt[- ]?out\b", re.IGNORECASE)


def wants_no_answer(subject: str) -> bool:
    """Whether a mail's subject, behind its "Re:"/"AW:" prefixes, says no answer is wanted: a calendar's
    notice (CALENDAR_NOTICE), a thank-you, "No reply needed" (NO_ANSWER_WANTED), a phone message taken for
    the user (PHONE_NOTE). Judged per thread, so a thank-you never hides an older question of the same
    person, and `explain` says what the digest does."""
    text = REPLY_PREFIX.sub("", subject)
    return CALENDAR_NOTICE.match(text) is not None or NO_ANSWER_WANTED.search(text) is not None \
        or PHONE_NOTE.search(text) is not None


def _blind_blast(sender: str, n: int, own: int, others: Sequence[tuple[str, str]]) -> bool:
    """A mail addressed to its own sender alone that reached the user by Bcc: a broker's daily circular.
    Bulk, whatever its headers lack — not a personal exchange, however regularly it comes. A mail to someone
    else that Bcc's the user is not one; nor is a mail whose recipients could not be read at all (an
    Exchange X.500 name, "undisclosed-recipients"): a personal answer may look like that."""
    return own == 0 and n == 1 and len(others) == 1 and others[0][1] == sender


def _via_group(own: int, others: Sequence[tuple[str, str]], lists: int) -> bool:
    """A mail that names none of the user's addresses but a group's (portland.desk@, a list): the user had it
    as one of the group, not as someone written to. Mail naming people alone, none of them the user, stays
    personal: an alias of the user's Kith does not know yet looks the same."""
    return own == 0 and bool(others) and (lists > 0 or any(address_kind(e) != "person" for _, e in others))


def _shifted_copy(copies: dict[tuple, set[datetime]], signature: tuple, at: datetime) -> bool:
    """Whether a message is a copy of an earlier one with the same sender, subject, conversation and
    recipients, dated a whole number of hours (1 to 23) later to the second: one mail filed twice with its
    Date rewritten in another time zone (the Enron corpus holds hundreds such pairs). As two mails it would
    make the other side's answer "a second message in a row", an owed reply that is not owed."""
    earlier = copies.setdefault(signature, set())
    if earlier and any(at - _HOURS[h] in earlier for h in range(1, 24)):    # 23 lookups, however many came before
        return True
    earlier.add(at)
    return False


_HOURS = [timedelta(hours=h) for h in range(24)]


def _list_discussions(db: Database) -> set[int]:
    """List messages sent to the list's own address (List-Id openbmc.lists.ozlabs.org: To or Cc
    openbmc@lists.ozlabs.org): discussion, unlike a newsletter, which goes to each subscriber. Such a
    message that also names the user is a conversation with them, whatever its list headers say."""
    return {key for key, in db.execute(
        "SELECT DISTINCT m.key FROM messages m JOIN recipients r ON r.key = m.key "
        "WHERE m.list_id != '' AND instr(m.list_id, '.') > 0 AND r.email = "
        "substr(m.list_id, 1, instr(m.list_id, '.') - 1) || '@' || substr(m.list_id, instr(m.list_id, '.') + 1)")}


def _add_recipient_names(db: Database, cutoff: str, seen: _Seen) -> None:
    """Display names the recipients of small messages carry (few rows have one)."""
    for email, name, conversation in db.execute(
            "SELECT r.email, r.name, m.conversation FROM recipients r JOIN messages m ON m.key = r.key "
            f"WHERE r.name != '' AND m.sent_at < ? AND m.n_recipients <= {MAX_GROUP}", [cutoff]):
        seen.names[email][name] += 1
        if " " in name:
            seen.sightings.add((conversation, name, email))


def _add_meetings(db: Database, own: set[str], cutoff: str, seen: _Seen, zone: tzinfo) -> None:
    """Meetings the user did not decline, with each other attendee as a touch; one per person, start time and
    title, however many sources hold the meeting. An all-day event is stored at midnight UTC of the date its
    calendar gives: it happens on that date where the user is (`zone`), from their midnight, not at 19:00 the
    day before in New York."""
    until = parse_utc(cutoff)
    attendees: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    met: set[tuple[str, str, str]] = set()
    for source, source_id, email, name, partstat in db.execute(
            "SELECT a.source, a.source_id, a.email, a.name, a.partstat FROM attendees a JOIN events e "
            "ON e.source = a.source AND e.source_id = a.source_id WHERE e.start < ?", [cutoff]):
        attendees[(source, source_id)].append((email, name, partstat))
    for source, source_id, start, organizer, organizer_name, summary, hidden, all_day in db.execute(
            "SELECT source, source_id, start, organizer, organizer_name, summary, guests_hidden, all_day FROM events "
            "WHERE start < ? AND cancelled = 0 AND birthday = 0 ORDER BY start, source_id", [cutoff]):
        at = parse_utc(start)
        if all_day:
            at = datetime.combine(at.date(), time.min, zone)
            if at >= until:         # tomorrow's, where the user is
                continue
        people = attendees.get((source, source_id), [])
        if any(e in own and p == "DECLINED" for e, _, p in people):
            continue
        others = {e: (n, p) for e, n, p in people if e not in own and p != "DECLINED"}
        if organizer and organizer not in own:
            others.setdefault(organizer, (organizer_name, "ACCEPTED"))
        if not others:
            continue
        conversation = f"event:{source_id}"
        size = MAX_GROUP + 1 if hidden else len(others)     # a hidden guest list: a crowd's, not a one-to-one
        copy = " ".join(summary.casefold().split())
        for email, (name, _) in others.items():
            if (email, start, copy) in met:
                continue        # the same meeting from another source or calendar (a CalDAV account and its
            met.add((email, start, copy))   # .ics export): one meeting; "All hands" and a 1:1 at one time are two
            if name:
                seen.names[email][name] += 1
            seen.per_address[email].append(Touch(at, "meeting", conversation, summary,
                                                 size == 1, False, size))
            seen.participants[conversation].add(email)


def _add_peers(facts: dict[str, ContactFacts], contacts: dict[str, Contact], participants) -> None:
    """Which contacts share threads and meetings: the raw material of the network graph."""
    id_of = {address: contact.id for address, contact in contacts.items()}
    pairs: Counter = Counter()
    for members in participants.values():
        if len(members) < 2:
            continue
        ids = set(map(id_of.get, members))
        ids.discard(None)
        if 2 <= len(ids) <= MAX_GROUP:  # a broadcast to many says little about who knows whom
            pairs.update(permutations(ids, 2))
    for (a, b), n in pairs.items():
        facts[a].peers[b] = n


def summarise(item: ContactFacts, as_of: datetime | None = None,
              user_wrote: dict[str, list[datetime]] | None = None,
              starter_wrote: dict[str, list[datetime]] | None = None,
              answers: _Answers | None = None,
              user_wrote_to: dict[str, list[tuple[datetime, str]]] | None = None,
              team_series: Mapping[str, int] | None = None) -> None:
    """Derive the counts and dates of one contact from its touches (`as_of`: the moment they are known at,
    for the past year's counts; by default the last touch; `user_wrote`, `user_wrote_to`: see `_user_wrote`;
    `answers`: see `_Answers`; `team_series`: see `_team_series`)."""
    touches = sorted(item.touches, key=_AT)
    item.touches = touches
    threads: dict[str, list[Touch]] = defaultdict(list)
    bulk = one_to_one = 0
    for t in touches:
        if t.kind == "sent":
            item.sent += 1
            item.sent_personal += t.size <= OWED_MAX_PEOPLE
            item.last_sent = t.at
            threads[t.conversation].append(t)
        elif t.kind == "received":
            item.received += 1
            item.received_direct += t.direct
            if t.bulk:
                bulk += 1
            else:
                item.last_received = t.at
                item.received_few += t.size <= OWED_MAX_PEOPLE
            threads[t.conversation].append(t)
        else:
            one_to_one += t.direct
            item.first_meeting = item.first_meeting or t.at
            item.last_meeting = (t.at, t.subject)
    item.received_bulk, item.received_personal = bulk, item.received - bulk
    meetings = len(touches) - item.sent - item.received
    item.meetings_one_to_one, item.meetings_group = one_to_one, meetings - one_to_one
    item.subjects = [t.subject for t in touches if t.subject]
    personal = [t for t in touches if not t.bulk]
    kept = contact_touches(personal)
    if kept:
        item.first_contact, item.last_contact = kept[0].at, kept[-1].at
        item.last_subject = kept[-1].subject     # the last contact's own: "last contact 19 days ago (…)"
    year_start = (as_of or (touches[-1].at if touches else datetime.max)) - timedelta(days=365)
    reports = _summarise_threads(item, threads, year_start, user_wrote or {}, starter_wrote or {},
                                 answers or _Answers(), user_wrote_to, team_series)
    if as_of is not None:       # owed for a month at most: what `explain` and the JSON say as the digest does
        item.replies_owed = [t for t in item.replies_owed if as_of - t.at <= timedelta(days=REPLY_OWED_MAX_DAYS)
                             and not _moot(t.subject, as_of - t.at)]
    # "you usually talk every …": said of a tie that went both ways, from mail among a few people and meetings,
    # not from a colleague's notices to 30 people or the user's announcements
    # — and from conversations they took part in: the user's own patch series that Cc'd them is no rhythm
    # — and never of a robot, nor of someone who wrote much to the user who wrote once: that is no "talk"
    mutual = not item.robot and (item.two_way_threads or item.meetings_one_to_one or item.close)
    # — and from mail to the user, not mail that only copied them: a brother's family rounds with the user in Cc
    small = [t for t in personal if t.size <= OWED_MAX_PEOPLE and (t.kind != "received" or t.direct)]
    theirs = {t.conversation for t in small if t.kind != "sent"} - reports     # a daily report is no talk
    # — and, where the two share threads at all, from conversations both wrote in, or met in: an events
    # coordinator's sixteen invitations the user never answered, or an assistant's scheduling notes, are their
    # rhythm, not a tie's (review 26); mail both ways that never shares a thread (archives without threading
    # headers) still counts their mail as it is
    if item.two_way_threads:
        theirs &= {t.conversation for t in small if t.kind in ("sent", "meeting")}
    # — and from the user's own mail to them alone, once they answered in a few conversations (a colleague the
    # user writes to every week, under a new subject each time, is talked to weekly: review 22; a patch series
    # to someone who answered once is still no rhythm)
    answering = item.two_way_threads >= RHYTHM_MIN_EPISODES
    talk = [t for t in small if t.conversation in theirs
            or (answering and t.kind == "sent" and t.direct and t.size <= 1)]
    item.usual_gap_days = usual_gap(talk) if mutual else None


def contact_touches(touches: Sequence[Touch]) -> Sequence[Touch]:
    """The touches that date a contact (first and last contact), of its personal ones: the user's mail to a
    crowd (an invitation to 104 people, sent by an assistant) keeps no tie warm; only a tie known by such
    mail alone is dated by it. Their mail to a crowd does date it, and says so ("their mail to 53 people");
    their notice to a desk the user reads (portland.desk@) does not: it was not written to the user."""
    kept = [t for t in touches if (t.kind != "sent" or t.size <= OWED_MAX_PEOPLE) and not t.via_group]
    return kept or touches


def _summarise_threads(item: ContactFacts, threads: dict[str, list[Touch]], year_start: datetime,
                       user_wrote: dict[str, list[datetime]], starter_wrote: dict[str, list[datetime]],
                       answers: _Answers, user_wrote_to: dict[str, list[tuple[datetime, str]]] | None = None,
                       team_series: Mapping[str, int] | None = None) -> set[str]:
    """Who starts the contact's threads, which went both ways, and which wait for the user. Returns the
    conversations that are issues of a long series (SERIES_MANY) the user (nearly) never answers: reports,
    not talk (a few unanswered "Answer 1", "Answer 2" may be a tie without threading headers)."""
    started, reports = [], set()
    unanswered = _unanswered_series(threads.values())
    team_series = team_series or {}
    for thread in threads.values():     # a team's reports this contact took a turn at (`_team_series`)
        series = series_of(thread[0].subject) if thread[0].kind == "received" else None
        if series in team_series:
            unanswered[series] = max(unanswered.get(series, 0), team_series[series])
    ignored = (item.sent == 0 and item.received_direct > IGNORED_AFTER) or _forwarding_account(threads.values())
    notices = _sends_notices(threads.values(), user_wrote)
    requests = functools.cache(lambda: [     # read for an owed reply only: most contacts have none
        (t.at, t.conversation, _stems(t.subject)) for thread in threads.values() for t in thread
        if t.kind == "sent" and t.size >= FORWARD_GROUP and not _ANSWER_OR_FORWARD.match(t.subject)])
    # — the user asking a team (three people or more), not answering, nor writing to one person
    for thread in threads.values():
        first = thread[0]
        kinds = {t.kind for t in thread if not t.bulk}
        item.two_way_threads += kinds == BOTH_WAYS
        # a thread whose first mail at hand is the user's "Re: …" was opened by a mail the store lacks
        # (deleted, or before the synced history): nobody is known to have started it
        unknown_opener = first.kind == "sent" and bool(_ANSWER.match(first.subject))
        if first.kind == "sent" and not unknown_opener and first.size <= OWED_MAX_PEOPLE:
            item.user_threads += 1      # an announcement to a crowd is no thread of the user's with each of them
            item.user_threads_answered += "received" in kinds
            if first.at >= year_start:
                item.user_threads_year += 1
                item.user_threads_answered_year += "received" in kinds
        elif first.kind == "received" and not first.bulk:
            item.their_threads += 1
        wrote = user_wrote.get(first.conversation) or [t.at for t in thread if t.kind == "sent"]
        series = _issue_of(first.subject, unanswered) if unanswered and first.kind == "received" else None
        report = series is not None
        if report and unanswered[series] >= SERIES_MANY:
            reports.add(first.conversation)
        last = thread[-1]
        answered = None if user_wrote_to is None or last.kind != "received" or not last.direct else _answered_since(
            last, item.contact.addresses, user_wrote_to.get(first.conversation, ()))
        notice = notices and thread[-1].size >= FORWARD_GROUP
        if not ignored and not report and not notice and owes_reply(thread, item.last_sent, wrote, starter_wrote.get(
                first.conversation, ()), answered) \
                and not answers.since(first.conversation, item.contact.addresses, thread[-1].at) \
                and not (len(thread) == 1 and _answers_request(last, requests())) \
                and not (len(thread) == 1 and _answers_the_asker(last, answers, wrote,
                                                                  starter_wrote.get(first.conversation, ()))) \
                and not is_booking(last, item):
            item.replies_owed.append(thread[-1])
        if not first.bulk and not unknown_opener and not (first.kind == "sent" and first.size > OWED_MAX_PEOPLE):
            started.append((first.at, first.kind == "sent", "received" in kinds))
    started.sort()
    item.recent_threads = [(by_user, answered) for _, by_user, answered in started[-RECENT_THREADS:]]
    item.replies_owed.sort(key=_AT, reverse=True)
    return reports


def _answers_request(last: Touch, requests: list[tuple[datetime, str, frozenset[str]]]) -> bool:
    """Their mail within ANSWER_DAYS of the user's own to a team with them (three people or more), in another
    conversation, whose subject holds every word of the user's, two words at least, plurals aside, and adds
    nothing but FILLER, asking nothing ("?"): "Project list" and "updated project list
    attached" after the user's "Project Lists" to fourteen people answer it, though subjects keep them apart
    (review 23: Mark Taylor's team owed nothing for the lists he asked for)."""
    if "?" in last.subject:
        return False                                   # "Project list: can we talk about mine?" is a question
    words = _stems(last.subject)
    return any(len(asked) >= 2 and asked <= words and words - asked <= FILLER
               and timedelta(0) < last.at - at <= timedelta(days=ANSWER_DAYS)
               and conversation != last.conversation for at, conversation, asked in requests)


# words an answer to a request may add to its subject, and nothing else ("updated project list attached")
FILLER = frozenset("updated update attached attachment final revised latest new current my our the a for of and "
                   "here is as requested per your fyi".split())


_WORD = re.compile(r"[^\W_]+")     # numbers too: "Weekly report 47" is no answer to "Re: Weekly report 46"


def _stems(subject: str) -> frozenset[str]:
    """A subject's words, lower-cased, without its prefixes and a plural's s ("Work Reports": work, report)."""
    words = _WORD.findall(REPLY_PREFIX.sub("", subject).lower())
    return frozenset(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words)


_ANSWER = re.compile(r"^\s*(?:re|aw|antw|sv|vs)(?:\[\d+\])?\s*:", re.IGNORECASE)   # an answer, not a forward
_TAGS = re.compile(r"^\s*(?:\[[^\]]*\]\s*)*")      # "[EXTERNAL] " before "RE:"
# an answer or a forward, behind any tags a mail system puts first ("[EXTERNAL] Re:", "RE[2]:", "SV:")
_ANSWER_OR_FORWARD = re.compile(r"^\s*(?:\[[^\]]*\]\s*)*(?:re|aw|antw|sv|vs|tr|fwd?|wg)(?:\[\d+\])?\s*:",
                                re.IGNORECASE)
FORWARD = re.compile(r"^\s*(?:\[[^\]]*\]\s*)*(?:fwd?|wg|tr)(?:\[\d+\])?\s*:", re.IGNORECASE)   # "[EXTERNAL] FW:"
# a mail about the day it was sent or the next ("1 pm phone call today", "Lunch heute?", "Reminder: WEFA
# meeting tomorrow morning"): after SAME_DAY_DAYS, moot. "Reminder: please sign" alone is a chase, and waits
SAME_DAY = re.compile(r"\b(?:(?<!usa )(?<!psychology )today|tonight|this (?:morning|afternoon|evening)"
                      r"|heute)\b", re.IGNORECASE)   # "USA Today" is a paper
NEXT_DAY = re.compile(r"\b(?:tomorrow|(?<!guten )morgen)\b", re.IGNORECASE)     # "Guten Morgen" is a hello
SAME_DAY_HOURS = 12     # "1 pm phone call today" is over by the next morning's digest
NEXT_DAY_DAYS = 2
FORWARD_GROUP = 3        # people on a forward, its sender included, besides the user: passed on for reading
# what a forward passes on to read or watch, not to answer: an article, a story, a joke, pictures, a song, a show, a
# video, a slideshow or film file ("FW: Darwin 50 article", "FW: CNN show about Enron", "FW: TS_Allison_Houston_
# devastation.pps"). On 141 Enron owners (13,892 mails the rules held owed at the end of the day they came, while
# the user's own mail is in the corpus): 1 of 46 such forwards asking nothing got a personal mail of the user's to
# its sender within three days, against 22% of other forwards to one or two people and 20% of other mail; 35% got
# any mail within 14 days (54%, 49%). Forwards as such are answered as often as other mail (to the user alone: 22%
# within three days, 54% within 14 days, 10% in the thread, against 21%, 51%, 13%), whether or not the user had
# answered the sender's earlier forwards (16% and 32% within three days, 54% and 64% within 14): they stay owed.
# So does reading matter not forwarded (15% within three days)
READING = re.compile(r"\b(?:articles?|stor(?:y|ies)|jokes?|funny|humou?r|pictures?|pics|photos?|videos?|show|cartoons?"
                     r"|songs?|movie|poem)\b|\.(?:pps|jpe?g|gif|bmp|mpe?g|wmv|avi|mov|mp3|wav|swf)\b", re.IGNORECASE)
FORWARDS_AFTER = 5       # direct mails, nearly all (FORWARD_SHARE) of them forwards: a forwarding account
FORWARD_SHARE = 0.8


def _moot(subject: str, age: timedelta) -> bool:
    """Mail about its own day (SAME_DAY) is moot after SAME_DAY_HOURS, about the next (NEXT_DAY) after
    NEXT_DAY_DAYS: no answer is still owed to "Lunch today?" the day after."""
    return bool((SAME_DAY.search(subject) and age > timedelta(hours=SAME_DAY_HOURS))
                or (NEXT_DAY.search(subject) and age > timedelta(days=NEXT_DAY_DAYS)))


# subjects of receipts, shop offers and system notices that expect no answer from the user (English and German)
TRANSACTIONAL = re.compile(
    r"\b(?:confirmation|receipt|invoice|itinerary|e-?ticke?\s?t|payment received|newsletter|password"
    r"|clearance|save big|shop now|free shipping|ship for free|% off|overdue|past due|action requested"
    r"|approval request|access request)\b"
    r"|(?:bestätigung|bestaetigung|rechnung|quittung)\b", re.IGNORECASE)


NOTICES_AFTER = 5        # threads they opened to the user and two others or more, none answered: notices


def _sends_notices(threads: Iterable[list[Touch]], user_wrote: Mapping[str, list[datetime]]) -> bool:
    """Whether the contact's mail to a group is notices: NOTICES_AFTER threads or more they opened to the user
    and FORWARD_GROUP others or more (a team assistant's "Payroll Distribution Notice", "Out Sick Today" to the
    team of nine), none of which the user ever answered, to them or to anyone in it. The next is no debt either;
    their mail to the user alone still is."""
    group = [thread for thread in threads if thread[0].kind == "received" and not thread[0].bulk
             and thread[0].size >= FORWARD_GROUP]
    return len(group) >= NOTICES_AFTER and not any(
        any(t.kind == "sent" for t in thread) or user_wrote.get(thread[0].conversation) for thread in group)


def _forwarding_account(threads: Iterable[list[Touch]]) -> bool:
    """A sender whose direct mail to the user is nearly all "Fwd: …" — a home account passing on newsletters
    and offers, a relative's chain mail — hands things on and waits for no answer."""
    direct = [t.subject for thread in threads for t in thread if t.kind == "received" and t.direct and not t.bulk]
    return len(direct) >= FORWARDS_AFTER and sum(bool(FORWARD.match(s)) for s in direct) >= FORWARD_SHARE * len(direct)


SERIES_MANY, SERIES_ANSWERED_SHARE = 10, 0.1


def _issue_of(subject: str, series: Iterable[str]) -> str | None:
    """Which of `series` a subject is an issue of, also under a title grown by a word or two ("ENRON / HPL
    NOM FOR OCTOBER 28" and "REVISION #1 - HPL NOM FOR …" of the series "HPL Nom for …"), or None."""
    key = series_of(subject)
    if key is None:
        return None
    if key in series:
        return key
    words = set(key.split())
    return next((s for s in series if len(s.split()) >= 2 and set(s.split()) <= words), None)


TEAM_SERIES = 5         # issues of one series from several senders, none answered: a team's report …
TEAM_TITLE_WORDS = 3    # … whose title has this many words besides its date ("EHS weekly report week ending"):
                        # "Question 3" from eight people is eight questions


def _team_series(touches_per_address: Iterable[list[Touch]], user_wrote: Container[str]) -> dict[str, int]:
    """Series (see `series_of`) of threads others started, over all senders: a team's "EHS Weekly Report -
    Week ending …" sent by three people in turn is a report however few issues each of them sent. Kept are
    those titled with TEAM_TITLE_WORDS words or more, of TEAM_SERIES issues or more of which the user answered
    none, or SERIES_MANY or more of which a tenth or less. `user_wrote`: the conversations the user wrote in."""
    first: dict[str, Touch] = {}
    for touches in touches_per_address:
        for t in touches:
            if t.kind == "received" and not t.bulk and (t.conversation not in first or t.at < first[t.conversation].at):
                first[t.conversation] = t
    issues: Counter = Counter()
    replies: Counter = Counter()
    for conversation, t in first.items():
        if (series := series_of(t.subject)) is not None and len(series.split()) >= TEAM_TITLE_WORDS:
            issues[series] += 1
            replies[series] += conversation in user_wrote
    return {series: n for series, n in issues.items()
            if (n >= TEAM_SERIES and not replies[series])
            or (n >= SERIES_MANY and replies[series] <= SERIES_ANSWERED_SHARE * n)}


def _unanswered_series(threads: Iterable[list[Touch]]) -> dict[str, int]:
    """Series (see `series_of`) of which the contact started two threads or more and the user answered none,
    or SERIES_MANY or more and the user answered a tenth of them or less: a scheduler's daily "Actuals for <date>",
    answered three times in 215 issues, is a report, not a question. So is every dated mail of a sender of
    SERIES_MANY or more of them, of which the user answered a tenth or less. Each such series with its number
    of issues (for a reporter, all of their dated mails)."""
    issues: Counter = Counter()
    answered: Counter = Counter()
    for thread in threads:
        series = series_of(thread[0].subject) if thread[0].kind == "received" else None
        if series:
            issues[series] += 1
            answered[series] += any(t.kind == "sent" for t in thread)
    total, replies = sum(issues.values()), sum(answered.values())
    if total >= SERIES_MANY and replies <= SERIES_ANSWERED_SHARE * total:
        # a reporter: their dated titles come in many spellings ("HPL Nom for …", "Enron / HPL Acutals for …",
        # "The Actuals for …"), each one a report like the rest
        return {series: total for series in issues}
    return {series: n for series, n in issues.items()
            if (n >= 2 and not answered[series]) or (n >= SERIES_MANY and answered[series] <= SERIES_ANSWERED_SHARE * n)}


_CALENDAR_WORDS = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun "
    "januar februar maerz märz mai juni juli oktober dezember montag dienstag mittwoch donnerstag freitag "
    "samstag sonntag am pm kw").split()
_DATED_PART = re.compile(r"\d+(?:st|nd|rd|th)?|\b(?:" + "|".join(_CALENDAR_WORDS) + r")\b")
_DIGIT = re.compile(r"\d")


@functools.lru_cache(maxsize=65536)
def series_of(subject: str) -> str | None:
    """What a dated subject is an issue of — "From the India newsdesk - April 27th newsclips" and
    "… - May 2nd newsclips" are one series, as are "Weekly report 47" and "Weekly report 48" — or None
    for a subject without a number. A person's weekly clippings or status reports the user answers none
    of are a newsletter written by hand: no issue of them is owed an answer."""
    if not _DIGIT.search(subject):
        return None
    text = REPLY_PREFIX.sub("", subject).lower()
    stripped = _DATED_PART.sub(" ", text)
    words = " ".join(re.findall(r"[^\W\d_]+", stripped))
    return words if len(words) >= 4 else None


def passes_on_reading(subject: str) -> bool:
    """Whether a forward's subject names something to read or watch (READING) and asks nothing ("?"): "FW: Darwin
    50 article" is for reading; "FW: Article for the newsletter - OK to run?" still asks."""
    return "?" not in subject and READING.search(subject) is not None


# what an assistant passes on to read, not to answer ("FW: Your itinerary"); an approval or an invoice forwarded
# may well ask for something (review 24)
BOOKING = re.compile(r"\b(?:itinerary|e-?ticke?\s?t|booking|reservation|receipt|(?:booking |flight |upgrade )?"
                     r"confirmation)\b", re.IGNORECASE)


def is_booking(last: Touch, item: ContactFacts) -> bool:
    """A booking confirmation or an itinerary notice from someone the user never wrote to, or one passed on by
    someone they did ("FW: Your itinerary", an assistant's errand: review 23): owed nothing, each mail judged
    alone, so that it hides no older question of the same person, in the digest as in `explain`."""
    return (not item.sent_personal and TRANSACTIONAL.search(last.subject) is not None) \
        or (FORWARD.match(last.subject) is not None and BOOKING.search(last.subject) is not None)


def _answers_the_asker(last: Touch, answers: _Answers, wrote: Sequence[datetime],
                       starter_wrote: Sequence[datetime]) -> bool:
    """Their answer, to all, in a conversation someone else opened with the user only in Cc, which the user never
    wrote in: it answers the one who asked (Ryan asks Laura, Chris copied; Laura's "RE: Zargon Oil & Gas" to Ryan
    and Chris: review 28). A question put to the user in To (a patch sent to its reviewers) is the user's too."""
    return (last.conversation in answers.copied and last.size > 1 and bool(_ANSWER.match(last.subject))
            and not wrote and bool(starter_wrote) and starter_wrote[0] < last.at)


def owes_reply(thread: list[Touch], last_sent: datetime | None, user_wrote: Sequence[datetime] = (),
               starter_wrote: Sequence[datetime] = (), answered_since: bool | None = None) -> bool:
    """They wrote to the user directly, last in the thread, and nothing went back since (`last_sent`: the
    user's last message to them; `user_wrote`: when the user wrote in this conversation, to anyone, in order;
    `answered_since`: whether a mail of the user's since answers theirs, see `_answered_since` — by default
    any mail of the user's in the conversation since).

    Their answer to the user's message closes it ("thanks, here you go"), in a
    thread either side started, and so does a first message from them in a
    conversation the user started with others — an answer being one that comes
    within ANSWER_DAYS of the user's message; and anything once the user wrote
    in the conversation since, to them or to anyone who reads it (`_answered_since`). A thread they started, or a
    second message of theirs in a row, is waiting for the user. A mail to a
    crowd (more than OWED_MAX_PEOPLE others besides the user, sender included)
    is an announcement: nobody in particular owes it an answer; a forward to
    FORWARD_GROUP people or more, or one passing on an article, pictures or a joke
    (`passes_on_reading`), is for reading. (Nor does a question they also put to
    someone else, who answered them since: see `_Answers`.)
    """
    last = thread[-1]
    if last.kind != "received" or not last.direct or last.size > OWED_MAX_PEOPLE or wants_no_answer(last.subject):
        return False
    if FORWARD.match(last.subject) and (last.size >= FORWARD_GROUP or passes_on_reading(last.subject)):
        return False        # a press story forwarded to a few executives, or an article to the user, is for reading
    if last_sent is not None and last_sent > last.at:
        return False
    if last_sent is not None and last.at - last_sent <= timedelta(days=ANSWER_DAYS) and _bare_answer(last.subject):
        return False        # "RE:" and nothing more: their answer to the user's mail, which no subject groups
    if answered_since if answered_since is not None else (user_wrote and user_wrote[-1] > last.at):
        return False        # the user wrote in the thread since, to someone who reads it: answered there
    if _issues_in_a_row(thread, user_wrote):
        return False
    if last.via_list and _ANSWER.match(last.subject) and starter_wrote and starter_wrote[-1] > last.at:
        return False    # a review on a list, answered by the patch's author since: their reply was to the author
    if len(thread) >= 2 and thread[-2].kind == "received":
        return True
    before = bisect_left(user_wrote, last.at)          # the user's last message in the conversation before theirs
    answered = user_wrote[before - 1] if before else None
    # an answer comes within ANSWER_DAYS: conversations are grouped by subject, and a subject used again
    # months later, or one the user once wrote to someone else, is a new question
    return not (answered is not None and answered < last.at <= answered + timedelta(days=ANSWER_DAYS))


def _bare_answer(subject: str) -> bool:
    """An answer with no subject of its own ("RE:", "AW: RE:"), or a bare "FW:" (the sample contract the user
    asked for, sent on): mail without threading headers groups conversations by subject, and an empty one
    names none."""
    text = _TAGS.sub("", subject, count=1)
    if FORWARD.match(text) and not _ANSWER_OR_FORWARD.match(text[FORWARD.match(text).end():]):
        return not text[FORWARD.match(text).end():].strip()       # "FW:" alone: what was asked for
    if not _ANSWER.match(text):     # "FW: RE:" passes someone's answer on: not one to the user
        return False
    rest = subject
    while (match := _ANSWER_OR_FORWARD.match(rest)) is not None:
        rest = rest[match.end():]
    return not rest.strip()


SERIES_ISSUES = 3   # mails of one title from them in a row, on as many days, unanswered: issues of a series
# (titles that share only a last word, "Crude update", "Energy update", are no series: on 141 Enron owners a fresh
# subject sharing its last word with two or more of the sender's in 90 days got a personal mail back within three
# days 20% of the time, others 19%; when the user had answered none of those, 9%, yet 13% in the thread and 50%
# within 14 days. Report-like subjects — a file name, "update", "report", "estimate", a date — 19%, others 20%)


def _issues_in_a_row(thread: list[Touch], user_wrote: Sequence[datetime]) -> bool:
    """Whether the thread ends in SERIES_ISSUES or more fresh mails (no "Re:", "SV:", "[EXTERNAL] Re:" …) of
    theirs with one subject, each on its own day, none answered, and not in answer to the user: "The Daily
    Quote" every business day, gathered by its title into the thread of the user's one reply months ago, is
    a newsletter. The same mails within ANSWER_DAYS of the user's question are a person asking again."""
    run = []
    for t in reversed(thread):
        if t.kind != "received":
            break
        run.append(t)
    fresh = [t for t in run if not _ANSWER_OR_FORWARD.match(t.subject)]
    if len({t.at.date() for t in fresh}) < SERIES_ISSUES or len({t.subject.strip().lower() for t in fresh}) != 1:
        return False
    first = min(t.at for t in fresh)
    asked = [at for at in user_wrote if at < first]
    return not asked or first - asked[-1] > timedelta(days=ANSWER_DAYS)

ANSWER_DAYS = 14
REPLY_OWED_MAX_DAYS = 30    # an answer still owed after a month is no longer suggested or counted as owed


def usual_gap(touches: list[Touch]) -> float | None:
    """The median gap in days between recent conversations, within sensible bounds.

    The rhythm of a relationship is how often a new conversation or meeting
    starts, not the back-and-forth inside one; starts within a couple of days
    of each other count once.
    """
    starts = {t.conversation: t.at for t in reversed(touches)}  # the earliest touch of each conversation wins
    episodes: list = []
    for day in sorted({at.date() for at in starts.values()}):
        if not episodes or (day - episodes[-1]).days > EPISODE_DAYS:
            episodes.append(day)
    episodes = episodes[-13:]
    # a rhythm is seen in several conversations over months, not in one burst of mail about one deal
    if len(episodes) < RHYTHM_MIN_EPISODES or (episodes[-1] - episodes[0]).days < RHYTHM_MIN_SPAN_DAYS:
        return None
    gaps = [(b - a).days for a, b in zip(episodes, episodes[1:])]
    return min(MAX_GAP_DAYS, max(MIN_GAP_DAYS, float(statistics.median(gaps))))


def days_between(earlier: datetime | None, later: datetime) -> int | None:
    """Calendar days from `earlier` to `later` where the user is (`later`'s zone; `later` is usually the end of
    the day, its next midnight): on the day the clocks go back, mail sent at 00:30 is today's, not
    yesterday's, as 25 hours divided by 24 would say."""
    if earlier is None:
        return None
    zone = later.tzinfo
    day = (later - timedelta(microseconds=1)).astimezone(zone).date()
    return max(0, (day - earlier.astimezone(zone).date()).days)


def ago(days: int) -> str:
    return "today" if days == 0 else "yesterday" if days == 1 else f"{days} days ago"
