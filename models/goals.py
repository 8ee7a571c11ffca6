"""Relevance of each contact to each of the user's goals.

A first, transparent measure: the contact's domain or organisation matches the
goal, and the share of shared subjects and meeting titles that mention the
goal's keywords. Values are in [0, 1].
"""

from __future__ import annotations

import re

from daemon.config import Goal
from daemon.contacts import domain_of
from models.facts import ContactFacts


def _matches_domain(address: str, domains: list[str]) -> bool:
    domain = domain_of(address)
    return any(domain == d.lower() or domain.endswith("." + d.lower()) for d in domains)


def keyword_pattern(goal: Goal) -> re.Pattern[str] | None:
    words = [w.strip().lower() for w in goal.keywords if w.strip()]
    if not words:
        return None
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")", re.IGNORECASE)


def relevance(facts: ContactFacts, goal: Goal, pattern: re.Pattern[str] | None = None) -> float:
    """How relevant one contact is to one goal, from domains, organisations and keywords."""
    addresses = facts.contact.addresses
    by_domain = 1.0 if any(_matches_domain(a, goal.domains) for a in addresses) else 0.0
    haystack = " ".join([facts.contact.name.lower(), *addresses])
    by_org = 1.0 if any(o.lower() in haystack or o.lower().replace(" ", "") in haystack
                        for o in goal.organizations if o.strip()) else 0.0
    share = 0.0
    if pattern is not None and facts.subjects:
        share = sum(1 for s in facts.subjects if pattern.search(s)) / len(facts.subjects)
    by_words = min(1.0, 3 * share)
    return round(1 - (1 - 0.7 * by_domain) * (1 - 0.5 * by_org) * (1 - 0.8 * by_words), 4)


def goal_fit(facts: ContactFacts, goals: tuple[Goal, ...]) -> dict[str, float]:
    return {g.name: relevance(facts, g, keyword_pattern(g)) for g in goals}
