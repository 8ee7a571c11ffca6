"""Addresses → contacts: who is the user, who is one person, and which addresses are robots.

Merging is conservative: explicit `[[people]]` aliases always merge; otherwise
two addresses merge only when they carry the same full display name inside the
same conversation (the evidence a person would trust).
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr

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
              "postmaster", "webmaster"}
# a word that makes "enron.announcements", "it.helpdesk", "office.chairman" a role, not a name
NO_REPLY = re.compile(r"^(no[-._]?reply|do[-._]?not[-._]?reply|donotreply|noreply|no[-._]?address|mailer[-._]daemon|"
                      r"bounces?|bounce[-+].*|.*[-+.]bounces?([-+].*)?|notifications?[-+.].*|.*[-.]noreply)$")
ROBOT_HINT = re.compile(r"(^|[-._+])(noreply|no-reply|notifications?|alerts?|mailer|bounces?|automated|robot|bot)($|[-._+])")


@functools.lru_cache(maxsize=1 << 17)
def address_kind(email: str) -> str:
    """'noreply', 'role' or 'person', from the shape of the address alone (cached: asked several times per address)."""
    local = email.split("@", 1)[0]
    if NO_REPLY.match(local) or ROBOT_HINT.search(local):
        return "noreply"
    base = re.split(r"[+]", local)[0]
    if base in ROLE_LOCALS or re.sub(r"[-._]?\d+$", "", base) in ROLE_LOCALS \
            or not ROLE_PARTS.isdisjoint(part.rstrip("0123456789") for part in re.split(r"[-._]+", base)):
        return "role"
    return "person"


LIST_HOSTS = {"vger.kernel.org", "googlegroups.com", "groups.io", "yahoogroups.com", "freelists.org"}
LIST_LOCAL = re.compile(r"^owner-.+|.+-(owner|request|bounces)$")


def is_mailing_list(email: str, list_ids: set[str]) -> bool:
    """A mailing list's own address (or its owner's), not a person: named by a List-Id seen in the mail
    (openbmc.lists.ozlabs.org → openbmc@lists.ozlabs.org), or on a list server (lists.…, vger.kernel.org, …)."""
    local, _, domain = email.partition("@")
    list_server = domain.startswith(("lists.", "list.")) and domain.count(".") >= 2   # not list.com itself
    return f"{local}.{domain}" in list_ids or list_server or domain in LIST_HOSTS or bool(LIST_LOCAL.match(local))


FREE_MAIL = {"gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com", "gmx.de",
             "web.de", "posteo.de", "aol.com", "mail.com", "proton.me", "protonmail.com"}


def typed_address(text: str) -> str | None:
    """The address in what the user typed on the command line, bare or as mail shows it ("Anna <a@x.org>"),
    lower-cased; None when there is no address in it."""
    email = parseaddr(text)[1].strip().lower()
    local, at, domain = email.partition("@")
    return email if at and local and domain and "@" not in domain and not any(c.isspace() for c in email) else None


def domain_of(email: str) -> str:
    return email.rsplit("@", 1)[-1]


def organisations(own: set[str]) -> frozenset[str]:
    """The domains of the user's own work addresses (free-mail providers are nobody's organisation)."""
    return frozenset(domain_of(a) for a in own) - FREE_MAIL


def in_organisations(email: str, domains: frozenset[str]) -> bool:
    """The address belongs to one of `domains` or to a subdomain of one (mail.example.com ⊂ example.com)."""
    domain = domain_of(email)
    return any(domain == d or domain.endswith("." + d) for d in domains)


def pretty_name(email: str) -> str:
    """A readable fallback name: 'anna.berger@x' → 'Anna Berger', 'jason.bass2@x' → 'Jason Bass'. An
    address of one word ('akatz@eei.org') stays as it is: "Akatz" would be a name nobody has."""
    local = email.split("@", 1)[0].split("+", 1)[0]
    parts = [p.rstrip("0123456789") for p in re.split(r"[._-]+", local)]
    parts = [p for p in parts if p]
    return " ".join(p.capitalize() for p in parts) if len(parts) >= 2 else email


def usable_name(name: str, email: str) -> str:
    """A display name worth showing, or '' (drops names that are addresses or Notes paths)."""
    name = name.strip().strip("'\"").strip()
    if not name or "@" in name or "/" in name or "=" in name or name.lower() == email:
        return ""
    if "," in name:  # "Berger, Anna" → "Anna Berger"
        last, _, first = name.partition(",")
        name = f"{first.strip()} {last.strip()}".strip()
    return " ".join(name.split())


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


def merge_contacts(
    addresses: Iterable[str],
    names: dict[str, Counter],
    name_sightings: Iterable[tuple[str, str, str]],
    aliases: Iterable[tuple[str, Iterable[str]]],
    volume: dict[str, int],
) -> dict[str, Contact]:
    """Group addresses into contacts; returns address → Contact.

    `names` counts the display names seen per address; `name_sightings` are
    (conversation, display name, address) triples; `aliases` come from config.
    The primary address is the one with the most interactions.
    """
    known = set(addresses)
    uf = _UnionFind()
    for email in known:
        uf.find(email)
    alias_names = {}
    for name, group in aliases:
        group = [a.lower() for a in group if a.lower() in known]
        for other in group[1:]:
            uf.union(group[0], other)
        for a in group:
            alias_names[a] = name
    by_thread_name: dict[tuple[str, str], set[str]] = defaultdict(set)
    for conversation, name, email in name_sightings:
        clean = usable_name(name, email).lower()
        if email in known and len(clean.split()) >= 2 and address_kind(email) == "person":
            by_thread_name[(conversation, clean)].add(email)
    for group in by_thread_name.values():
        first, *rest = sorted(group)
        for other in rest:
            uf.union(first, other)
    groups: dict[str, list[str]] = defaultdict(list)
    for email in known:
        groups[uf.find(email)].append(email)
    result = {}
    for members in groups.values():
        members.sort(key=lambda a: (-volume.get(a, 0), a))
        primary = members[0]
        name = next((alias_names[a] for a in members if alias_names.get(a)), "")
        if not name:
            counted = Counter()
            for a in members:
                for raw, n in names.get(a, {}).items():
                    clean = usable_name(raw, a)
                    if clean:
                        counted[clean] += n
            name = min(counted, key=lambda k: (-counted[k], k)) if counted else pretty_name(primary)
        contact = Contact(primary, tuple(members), name)
        for a in members:
            result[a] = contact
    return result


def is_ignored(email: str, ignore_addresses: Iterable[str], ignore_domains: Iterable[str]) -> bool:
    domain = domain_of(email)
    return email in {a.lower() for a in ignore_addresses} or any(
        domain == d.lower() or domain.endswith("." + d.lower()) for d in ignore_domains)
