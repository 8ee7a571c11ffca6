"""Relevance of each contact to each of the user's goals.

Three kinds of evidence, each transparent: the contact's domain or organisation
matches the goal; the share of shared subjects and meeting titles that mention
the goal's keywords; and the TF-IDF similarity (scikit-learn) between those
subjects and the goal's keywords and description. Accents are folded and words
of any language are tokens, so German and English subjects both work. Values
are in [0, 1].
"""

from __future__ import annotations

import re

from sklearn.feature_extraction.text import TfidfVectorizer

from daemon.config import Goal
from daemon.contacts import domain_of
from models.facts import ContactFacts


TOPIC_FULL = 0.3     # a cosine similarity this high counts as fully on topic
MAX_SUBJECTS = 200   # the most recent subjects per contact are enough to know its topics


def _matches_domain(address: str, domains: list[str]) -> bool:
    domain = domain_of(address)
    return any(domain == d.lower() or domain.endswith("." + d.lower()) for d in domains)


def keyword_pattern(goal: Goal) -> re.Pattern[str] | None:
    words = [w.strip().lower() for w in goal.keywords if w.strip()]
    if not words:
        return None
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")", re.IGNORECASE)


def relevance(facts: ContactFacts, goal: Goal, pattern: re.Pattern[str] | None = None, topic: float = 0.0) -> float:
    """How relevant one contact is to one goal, from domains, organisations, keywords and topic similarity."""
    addresses = facts.contact.addresses
    by_domain = 1.0 if any(_matches_domain(a, goal.domains) for a in addresses) else 0.0
    haystack = " ".join([facts.contact.name.lower(), *addresses])
    by_org = 1.0 if any(o.lower() in haystack or o.lower().replace(" ", "") in haystack
                        for o in goal.organizations if o.strip()) else 0.0
    share = 0.0
    if pattern is not None and facts.subjects:
        share = sum(1 for s in facts.subjects if pattern.search(s)) / len(facts.subjects)
    by_words = min(1.0, 3 * share)
    by_topic = min(1.0, topic / TOPIC_FULL)
    return round(1 - (1 - 0.7 * by_domain) * (1 - 0.5 * by_org) * (1 - 0.8 * by_words) * (1 - 0.5 * by_topic), 4)


def topic_similarity(facts: dict[str, ContactFacts], goals: tuple[Goal, ...]) -> dict[str, list[float]]:
    """Cosine similarity of each contact's subjects with each goal's keywords and description."""
    people = [cid for cid in sorted(facts) if facts[cid].subjects and (facts[cid].sent or facts[cid].meetings_one_to_one
                                                                       or facts[cid].meetings_group)]
    queries = [" ".join([*g.keywords, g.description, g.name]) for g in goals]
    if not people or not any(q.strip() for q in queries):
        return {}
    documents = [" ".join(dict.fromkeys(facts[cid].subjects[-MAX_SUBJECTS:])) for cid in people]
    vectorizer = TfidfVectorizer(strip_accents="unicode", lowercase=True, ngram_range=(1, 2), sublinear_tf=True,
                                 token_pattern=r"(?u)\b\w\w\w+\b")
    matrix = vectorizer.fit_transform(documents + queries)
    similarity = (matrix[: len(people)] @ matrix[len(people):].T).toarray()
    return {cid: [float(v) for v in row] for cid, row in zip(people, similarity)}


def goal_fits(facts: dict[str, ContactFacts], goals: tuple[Goal, ...]) -> dict[str, dict[str, float]]:
    """Every contact's relevance to every goal."""
    patterns = [keyword_pattern(g) for g in goals]
    topics = topic_similarity(facts, goals) if goals else {}
    return {cid: {g.name: relevance(f, g, p, topics.get(cid, [0.0] * len(goals))[i])
                  for i, (g, p) in enumerate(zip(goals, patterns))} for cid, f in facts.items()}
