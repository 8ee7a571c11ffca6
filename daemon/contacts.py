"""Addresses → contacts: who is the user, who is one person, and which addresses are robots.

Merging is conservative: explicit `[[people]]` aliases always merge, and so do
the forms of one address (`'anna'@x.org` is anna@x.org; a kernel.org B4 relay
address is its sender's, see `person_address`); otherwise two addresses merge
only when they carry the same full display name inside the same conversation
(the evidence a person would trust).
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from itertools import takewhile

ROLE_LOCALS = {
    "info", "support", "help", "helpdesk", "service", "billing", "invoice", "invoices", "accounts", "sales",
    "marketing", "news", "newsletter", "newsletters", "hello", "team", "office", "admin", "administrator",
    "contact", "kontakt", "enquiries", "inquiries", "jobs", "careers", "hr", "press", "media", "events",
    "webmaster", "postmaster", "postoffice", "hostmaster", "abuse", "security", "privacy", "legal", "orders", "order",
    "shop", "store", "booking", "bookings", "reservations", "feedback", "survey", "community", "list",
    "lists", "announce", "digest", "root", "system", "it", "mailer", "calendar", "updates", "alerts",
    "notifications", "notification", "notify", "reply", "auto", "automated", "robot", "bot", "daemon",
}
ROLE_PARTS = {"announcement", "announcements", "announce", "hotline", "helpdesk", "newsletter", "newsletters",
              "bulletin", "notices", "office", "chairman", "officeofthechairman", "administrator", "postoffice",
              "postmaster", "webmaster", "relations", "center", "centre", "administration", "desk"}
# a word that makes "enron.announcements", "it.helpdesk", "office.chairman" a role, not a name
NO_REPLY = re.compile(r"^(no[-._]?reply|do[-._]?not[-._]?reply|donotreply|noreply|no[-._]?address|mailer[-._]daemon|"
                      r"bounces?|bounce[-+].*|.*[-+.]bounces?([-+].*)?|notifications?[-+.].*|.*[-.]noreply)$")
# a workflow's or a confirmation robot's address ("arsystem", "confirm_4_7ee0…"): one answer to it (an
# approval, a confirmation) makes no tie
WORKFLOW = re.compile(r"(^|[-._+])(confirm|confirmations?|verification)($|[-._+])|^[a-z]+systems?$")
ROBOT_HINT = re.compile(r"(^|[-._+])(noreply|no-reply|notifications?|alerts?|mailer|bounces?|automated|robot|bot)"
                        r"($|[-._+])|" + WORKFLOW.pattern)


def answers_no_one(email: str) -> bool:
    """An address no person reads: a no-reply one or a workflow's. Answering it once is no conversation."""
    local = unquoted(email).split("@", 1)[0]
    return bool(NO_REPLY.match(local) or WORKFLOW.search(local))


@functools.lru_cache(maxsize=1 << 17)
def address_kind(email: str) -> str:
    """'noreply', 'role' or 'person', from the shape of the address alone (cached: asked several times per address)."""
    local, _, domain = unquoted(email).partition("@")
    if NO_REPLY.match(local) or ROBOT_HINT.search(local):
        return "noreply"
    base = re.split(r"[+]", local)[0]
    if base in ROLE_LOCALS or re.sub(r"[-._]?\d+$", "", base) in ROLE_LOCALS \
            or (domain and re.search(r"\d", base) and re.sub(r"[\d\W_]+", "", base) == firm_of(domain)) \
            or not ROLE_PARTS.isdisjoint(part.rstrip("0123456789") for part in re.split(r"[-._]+", base)):
        return "role"
    return "person"


LIST_HOSTS = {"vger.kernel.org", "googlegroups.com", "groups.io", "yahoogroups.com", "freelists.org",
              "nongnu.org"}   # GNU Savannah's lists (qemu-devel@nongnu.org): nobody has a mailbox there
# a list's owner or robot, a list by its name (bcm-kernel-feedback-list@broadcom.com), or a team's patch inbox
# CC'd on every patch (patches@opensource.cirrus.com): on no Enron or OpenBMC address of a person
LIST_LOCAL = re.compile(r"^owner-.+|.+-(owner|request|bounces|list)$|^patches$")
LIST_NAME = re.compile(r"^(?:(?:open|moderated|subscriber|closed)\s+)?list(?::|$)", re.IGNORECASE)
# what scripts/get_maintainer.pl calls a list ("open list:ASPEED BMCs", "moderated list:ARM/…", "open list")
_VIA = re.compile(r"\svia(?:\s|$)")
# "Anna Berger via Qemu-devel" (a list that rewrote the sender for DMARC), "… via B4 Relay", and the same cut
# short ("Cameron Esfahani via"); lower-case "via" only, as lists write it: "Maria Via" is a name


_MAILMAN = re.compile(r"(?:^|-)mailman\d*(?:-|$)")


def is_mailing_list(email: str, list_ids: set[str]) -> bool:
    """A mailing list's own address (or its owner's), not a person: named by a List-Id seen in the mail
    (openbmc.lists.ozlabs.org → openbmc@lists.ozlabs.org), or on a list server (lists.…, vger.kernel.org,
    a mailman host such as st-md-mailman.stormreply.com, …), or by its own name (…-list@, patches@). A host
    called just "mailman" is a mail gateway as often as a list server: Enron's mailman.enron.com rewrote
    people's addresses (robert.jones@mailman.enron.com), an ISP's mailman.ghg.net held its customers'."""
    local, _, domain = email.partition("@")
    list_server = domain.startswith(("lists.", "list.")) and domain.count(".") >= 2   # not list.com itself
    hosts = domain.split(".")[:-2]                                                   # not mailman.com itself
    # a host label with "mailman" as one of its dash-separated words (st-md-mailman, mailman3-lists), not a
    # company whose name starts so (mailmanagement.co.uk)
    mailman = "mailman" in domain and any(host != "mailman" and _MAILMAN.search(host) for host in hosts)
    return f"{local}.{domain}" in list_ids or list_server or mailman or domain in LIST_HOSTS \
        or bool(LIST_LOCAL.match(local))


def is_list_name(name: str) -> bool:
    """A display name that only a list or a relay carries: get_maintainer's "open list:ASPEED BMCs", or a
    sender rewritten "Anna Berger via Qemu-devel" (DMARC), "… via B4 Relay", or that cut short ("… via")."""
    name = name.strip().strip("'\"").strip()
    return bool(LIST_NAME.match(name) or _VIA.search(name))


def unquoted(email: str) -> str:
    """'david.delainey'@enron.com → david.delainey@enron.com: a local part wrapped in single quotes (a display
    name's quotes that an export kept; 134 such addresses in 150 Enron mailboxes) is the address inside them.
    Apostrophes that belong to an address stay (o'brien@x.com), and so do forms garbled beyond repair
    (delainey'.'david@enron.com, 'delainey@enron.com)."""
    if email[:1] != "'":
        return email
    local, at, domain = email.rpartition("@")
    inner = local[1:-1]
    return inner + at + domain if local[-1:] == "'" and any(c.isalnum() for c in inner) else email


B4_RELAY_PREFIX, B4_RELAY_DOMAIN = "devnull+", "kernel.org"
_SECOND_LEVEL = {"co", "com", "ac", "org", "net", "gov", "edu", "ne", "or", "go", "id", "ltd", "plc", "me", "nom",
                 "sch", "asn"}   # of co.uk, com.au, ac.jp …


def relayed_sender(email: str, known: Container[str] = frozenset()) -> str | None:
    """The sender a kernel.org B4 relay address stands for (`Anna via B4 Relay
    <devnull+anna.berger.gmail.com@kernel.org>` is anna.berger@gmail.com: the relay writes the address with
    its "@" as a "."), or None for any other address. Each "." is tried as the "@", from the right: the first
    that gives a `known` address wins, else the first that leaves a domain with a dot (not "co.uk")."""
    local, _, domain = email.rpartition("@")
    if domain != B4_RELAY_DOMAIN or not local.startswith(B4_RELAY_PREFIX):
        return None
    encoded = local[len(B4_RELAY_PREFIX):]
    splits = [f"{encoded[:i]}@{encoded[i + 1:]}" for i in range(len(encoded) - 2, 0, -1) if encoded[i] == "."]
    for candidate in splits:
        if candidate in known:
            return candidate
    for candidate in splits:
        labels = candidate.rpartition("@")[2].split(".")
        if len(labels) >= 2 and all(labels) and not (len(labels) == 2 and len(labels[1]) == 2
                                                     and labels[0] in _SECOND_LEVEL):
            return candidate
    return None


def person_address(email: str, known: Container[str] = frozenset()) -> str:
    """The address of the person who writes from `email`: itself, unquoted (`unquoted`), the sender a B4
    relay address stands for (`relayed_sender`, which `known` addresses help), or the mailbox of a known
    sub-address (`_unplussed`)."""
    if email[:1] == "'" and email.count("'") == 1 and email[1:] in known:
        return email[1:]        # 'swanstrom@ beside swanstrom@: a stray quote of an export (review 25)
    return relayed_sender(email, known) or _unplussed(unquoted(email), known)


def person_addresses(addresses: Iterable[str], own: Iterable[str] = ()) -> dict[str, str]:
    """Each address → `person_address`, with the addresses seen (and the user's own) as the known ones."""
    seen = list(addresses)
    known = {*seen, *own}
    known.update(unquoted(a) for a in seen if a[:1] == "'")
    return {a: person_address(a, known) if a[:1] == "'" or a.startswith(B4_RELAY_PREFIX) else _unplussed(a, known)
            for a in seen}


def _unplussed(email: str, known: Container[str]) -> str:
    """A sub-address is its mailbox's ("krzk+dt@kernel.org" is krzk@kernel.org) when that address is known
    too: the same person, who gives maintainers' scripts a tag to sort by."""
    local, _, domain = email.partition("@")
    base = local.split("+", 1)[0]
    return f"{base}@{domain}" if base != local and base and f"{base}@{domain}" in known else email


FREE_MAIL = {"gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com", "gmx.de",
             "web.de", "posteo.de", "aol.com", "mail.com", "proton.me", "protonmail.com"}


_SHOWN_ADDRESS = re.compile(r"[^<>@\"]*<([^<>\s]+@[^<>\s]+)>")


def typed_address(text: str, known: Container[str] = frozenset()) -> str | None:
    """The address in what the user typed on the command line, bare or as mail shows it ("Anna <a@x.org>"),
    lower-cased; None when there is no address in it. `known`: addresses the store holds, which decide how a
    B4 relay address is read (see `relayed_sender`)."""
    shown = _SHOWN_ADDRESS.fullmatch(text.strip())     # "Berger, Anna <a@x.org>": Outlook leaves the comma unquoted
    email = (shown[1] if shown else parseaddr(text)[1]).strip().lower()
    local, at, domain = email.partition("@")
    if not (at and local and domain and "@" not in domain and not any(c.isspace() for c in email)):
        return None
    return person_address(email, known)    # 'anna'@x.org is anna@x.org, as contacts hold it; a B4 relay its sender


def domain_of(email: str) -> str:
    return email.rsplit("@", 1)[-1]


def organisations(own: set[str]) -> frozenset[str]:
    """The domains of the user's own work addresses (free-mail providers are nobody's organisation)."""
    return frozenset(domain_of(a) for a in own) - FREE_MAIL


def in_organisations(email: str, domains: frozenset[str]) -> bool:
    """The address belongs to one of `domains` or to a subdomain of one (mail.example.com ⊂ example.com)."""
    domain = domain_of(email)
    return any(domain == d or domain.endswith("." + d) for d in domains)


# words that make an address a group's, a desk's or a campaign's, never a person's name
# ("employee.services", "undisclosed.recipients", "europe.dl-lon", "ohi_supporters", "expedia.com_007739")
_GROUP_WORDS = (ROLE_LOCALS | ROLE_PARTS | {
    "services", "recipients", "dl", "com", "net", "org", "mail", "request", "requests", "reservations", "supporters",
    "members", "group", "staff", "desk", "department", "dept", "ops", "operations", "center", "centre",
}) - {"jobs", "root", "mailer", "press", "store", "shop", "order"}    # surnames too: steve.jobs@, joe.root@
_NAME_PARTS_MAX = 5   # "Laura A De La Torre"; "Gjones Houston Fannin Po Central Dom" is no one's name


def pretty_name(email: str) -> str:
    """A readable fallback name: 'anna.berger@x' → 'Anna Berger', 'jason.bass2@x' → 'Jason Bass'. An
    address of one word ('akatz@eei.org') stays as it is: "Akatz" would be a name nobody has; so does a
    machine's ('bb4eb72a-172de319-86256aaa-4c9060@'), whose parts are not words, a group's
    ('employee.services@'), and one with a name left out ('t..hodge@' is Jeffrey T. Hodge, not "T Hodge"):
    the address says more than a made-up name."""
    local = email.split("@", 1)[0].split("+", 1)[0]
    parts = [p.strip("'").rstrip("0123456789") for p in re.split(r"[._-]+", local)]   # delainey'.'david: no quotes
    parts = [p for p in parts if p]
    if not 2 <= len(parts) <= _NAME_PARTS_MAX or not all(part.replace("'", "").isalpha() for part in parts) \
            or any(part.lower() in _GROUP_WORDS for part in parts) or ".." in local:
        return email
    return " ".join(p.capitalize() for p in parts)


_B4_RELAY_NAME = re.compile(r"\s+via\s+B4\s+Relay$", re.IGNORECASE)   # "Anna Berger via B4 Relay" is Anna Berger


_ROLE_NAMES = ROLE_LOCALS | ROLE_PARTS | {"credit", "e-mail", "email", "mail", "payroll", "treasury", "finance",
                                         "accounting", "reception", "pr"}


_DEPARTMENT = re.compile(r"\s*\([^()]*\)$")


def usable_name(name: str, email: str) -> str:
    """A display name worth showing, or '' (drops names that are addresses or Notes paths, and a department
    written as one lower-case word — "legal", "pr", "ets" — which names no one)."""
    name = _B4_RELAY_NAME.sub("", name.strip()).strip().strip("'\"").strip()
    if not name or "@" in name or "/" in name or "=" in name or name.lower() == email:
        return ""
    if name.islower() and " " not in name and (name in _ROLE_NAMES or len(name) <= 3):
        return ""
    name = _DEPARTMENT.sub("", name) or name       # "Taylor, Mark E (Legal)": the department is no part of the name
    dash = re.search(r"-([^\W\d_]+)$", name)    # "Lance Schuler-Legal": a department after a dash (review 25)
    if dash and dash.group(1).lower() in _ROLE_NAMES and " " in name[:dash.start()].strip():
        name = name[:dash.start()]
    if "," in name:  # "Berger, Anna" → "Anna Berger"
        last, _, first = name.partition(",")
        words = first.split()
        if len(words) >= 3:     # "Sheers, Alexander Confidential Memo-Counsel": a given name, its initials, a note
            words = words[:1] + list(takewhile(lambda w: len(w.rstrip(".")) == 1, words[1:]))
        name = f"{' '.join(words)} {last.strip()}".strip()
    elif dotted := _DOTTED_SURNAME_FIRST.fullmatch(name):   # "Bransgrove. Alan" of alan.bransgrove@ (review 26)
        last, first = dotted.groups()
        local = email.partition("@")[0].lower()
        if -1 < local.find(first.lower()) < local.find(last.lower()):
            name = f"{first} {last}"
    return " ".join(name.split())


_DOTTED_SURNAME_FIRST = re.compile(r"([^\W\d_]{2,})\.\s+([^\W\d_]{2,})")


def _unshouted(name: str) -> str:
    """A name written in capitals only ("GAIL DAVID", "JOHN G KLAUBERG", "O'NEIL") as a name is written, when no
    other spelling was seen (review 28); initials stay capitals."""
    if not name.isupper() or len(re.findall(r"[^\W\d_]{2,}", name)) < 2:
        return name
    def word(match: re.Match) -> str:
        text = match.group(0)
        return text if len(text) == 1 else text[0] + text[1:].lower()
    return re.sub(r"[^\W\d_]+", word, name)


@dataclass(frozen=True)
class Contact:
    id: str                      # the primary address
    addresses: tuple[str, ...]
    name: str


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        parent = self.parent.setdefault(item, item)
        if parent != item:
            parent = self.parent[item] = self.find(parent)
        return parent

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


# display names that robots share ("kernel test robot", "Jenkins Bot"): the same name in one thread is no
# evidence that two addresses are one person
_ROBOT_NAME = re.compile(r"\b(?:robot|bot|daemon|automation|notifications?|no-?reply|ci)\b")
# words only robots carry in a display name: "Bot", "Daemon" and "Ci" are surnames too (Ioana Bot, Ci Li); a
# workflow's sender names its process ("Performance Evaluation Process", review 28), a help desk its desk
_ROBOT_ONLY = re.compile(r"\b(?:robot|automation|notifications?|no-?reply|process|workflow|mailer|help ?desk"
                         r"|service ?desk|system administrator)\b|\[bot\]")


def robot_name(name: str) -> bool:
    """Whether a display name says its sender is a robot ("kernel test robot", "dependabot[bot]"), whatever
    the address looks like (lkp@intel.com): replying to its reports makes no relationship."""
    return bool(_ROBOT_ONLY.search(name.lower()))


def merge_contacts(
    addresses: Iterable[str],
    names: dict[str, Counter],
    name_sightings: Iterable[tuple[str, str, str]],
    aliases: Iterable[tuple[str, Iterable[str]]],
    volume: dict[str, int],
    person: Mapping[str, str] | None = None,
) -> dict[str, Contact]:
    """Group addresses into contacts; returns address → Contact.

    `names` counts the display names seen per address; `name_sightings` are
    (conversation, display name, address) triples; `aliases` come from config.
    `person` maps an address to the person's own (`person_addresses`: 'anna'@x
    is anna@x, a B4 relay address its sender's; by default `unquoted`): the
    addresses of one person are one contact, which holds the person's addresses
    only. The primary address is the one with the most interactions.
    """
    known = set(addresses)
    person = {a: (person or {}).get(a) or unquoted(a) for a in known}
    uf = _UnionFind()
    of_person: dict[str, list[str]] = defaultdict(list)
    for email in sorted(known):
        uf.find(email)
        of_person[person[email]].append(email)
    for group in of_person.values():
        for other in group[1:]:
            uf.union(group[0], other)
    alias_names = {}
    for name, group in aliases:
        typed = [a.lower() for a in group]      # as written, or the person's address ('anna'@x.org: anna@x.org)
        group = sorted({a for t in typed for a in of_person.get(person_address(t), [])} | known.intersection(typed))
        for other in group[1:]:
            uf.union(group[0], other)
        for a in group:
            alias_names[a] = name
    by_thread_name: dict[tuple[str, str], set[str]] = defaultdict(set)
    for conversation, name, email in name_sightings:
        clean = usable_name(name, email).lower()
        if email in known and len(clean.split()) >= 2 and address_kind(person[email]) == "person" \
                and not _ROBOT_NAME.search(clean):
            by_thread_name[(conversation, clean)].add(email)
    for group in [*by_thread_name.values(), *_namesakes_at_one_firm(known, names, person)]:
        first, *rest = sorted(group)
        for other in rest:
            uf.union(first, other)
    groups: dict[str, list[str]] = defaultdict(list)
    for email in known:
        groups[uf.find(email)].append(email)
    result = {}
    for members in groups.values():
        members.sort(key=lambda a: (-volume.get(a, 0), a))
        used: Counter = Counter()
        for a in members:
            used[person[a]] += volume.get(a, 0)
        theirs = sorted(used, key=lambda a: (-used[a], a))
        primary = theirs[0]
        name = next((alias_names[a] for a in members if alias_names.get(a)), "")
        if not name:
            counted, echoes = Counter(), set()
            for a in members:
                for raw, n in names.get(a, {}).items():
                    clean = usable_name(raw, a)
                    if clean:
                        counted[clean] += n
                        if _echoes_address(clean, a):
                            echoes.add(clean)
            # a name that only repeats the address ("tomer.maimon", "peteryin") yields to a real one; spellings
            # that differ only in dots and case count as one ("Irena D Hogan", "Irena D. Hogan"), shown with the
            # dots and not in capitals whatever the day's counts, so it does not change from one digest to the next
            fold = lambda k: " ".join(k.replace(".", " ").casefold().split())  # noqa: E731
            total: Counter = Counter()
            for k, n in counted.items():
                total[fold(k)] += n
            # and a full name beats a lone word however often others wrote it ("Kim S Ward", her own, over
            # "houston", the word the user's address book gave her mangled address)
            lone = lambda k: len(re.findall(r"[^\W\d_]+", k)) < 2  # noqa: E731
            name = min(counted, key=lambda k: (k in echoes, lone(k), -total[fold(k)], fold(k), k.isupper(),
                                               -k.count("."), -counted[k], k)) if counted else pretty_name(primary)
            name = _unshouted(name)
        contact = Contact(primary, tuple(theirs), name)
        for a in members:
            result[a] = contact
    return result


def _namesakes_at_one_firm(known: Iterable[str], names: dict[str, Counter], person: Mapping[str, str]
                           ) -> list[set[str]]:
    """Addresses at one organisation's domains whose usual display names give the same first name and
    surname, each spelling that surname in its local part: tim.belden@enron.com and belden@enron.com, both
    "Belden, Tim", are one person with two mailboxes even when no thread shows both; so are
    kevin.hannon@enron.com and kevin_hannon@enron.net (see `firm_of`). Free-mail domains hold many
    namesakes and are left apart, as are robots' names ("Build Bot")."""
    groups: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    per_firm = Counter(firm_of(person[email].partition("@")[2]) for email in known)
    for email in known:
        local, _, domain = person[email].partition("@")
        firm = firm_of(domain)
        if per_firm[firm] < 2 or firm in FREE_MAIL_FIRMS or not names.get(email) \
                or address_kind(person[email]) != "person":
            continue
        seen = names[email]
        usual = next((clean for raw in sorted(seen, key=lambda k: (-seen[k], k))      # the name given most
                      if (clean := usable_name(raw, email).lower())), "")
        words = re.findall(r"[^\W\d_]+", usual)
        if len(words) < 2 or _ROBOT_NAME.search(usual) or words[-1] not in re.sub(r"[\W\d_]+", "", local):
            continue
        if len(_given_names(seen, email)) > 1:
            continue    # allen@ as "Allen, Jane" and as "Allen, Phillip": namesakes share it, it is neither one
        groups[(firm, words[0], words[-1])].add(email)
    return [group for group in groups.values() if len(group) > 1]


def _given_names(seen: Counter, email: str) -> set[str]:
    """The first names (of two letters or more, not initials or titles) an address's full display names give
    often enough to be someone's: two sightings and a fifth of them at least, so that one "Timothy" or "Dr Tim"
    among "Tim Belden"s names no second person (review 24)."""
    given: Counter = Counter()
    for raw, n in seen.items():
        words = [w for w in re.findall(r"[^\W\d_]+", usable_name(raw, email).lower()) if w not in _TITLES]
        if len(words) >= 2 and len(words[0]) >= 2:
            given[words[0]] += n
    total = sum(given.values())
    return {name for name, n in given.items() if n >= 2 and n >= 0.2 * total}


_TITLES = frozenset("dr mr mrs ms prof sir dame".split())


def firm_of(domain: str) -> str:
    """The organisation's name in a domain: "enron" of enron.com, enron.net and ect.enron.com, "acme" of
    acme.co.uk — the label before the country's or the registry's suffix."""
    if domain.startswith("["):         # an address literal ([10.0.0.1]) names no organisation
        return domain
    labels = domain.split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        return labels[-3]
    return labels[-2] if len(labels) >= 2 else domain


FREE_MAIL_FIRMS = frozenset(firm_of(d) for d in FREE_MAIL)   # yahoo.co.uk and yahoo.fr are yahoo too


def _echoes_address(name: str, email: str) -> bool:
    """Whether a display name is only the address's local part, or a piece of it ("peteryin" of
    peteryin.openbmc@): a mailer's stand-in, not the name the person gives."""
    letters = re.sub(r"[^\w]", "", name.lower())
    return " " not in name.strip() and bool(letters) and letters in re.sub(r"[^\w]", "", email.partition("@")[0])


def is_ignored(email: str, ignore_addresses: Iterable[str], ignore_domains: Iterable[str]) -> bool:
    domain = domain_of(email)
    return email in {a.lower() for a in ignore_addresses} or any(
        domain == d.lower() or domain.endswith("." + d.lower()) for d in ignore_domains)
