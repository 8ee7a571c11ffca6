"""Relevance of each contact to each of the user's goals.

Three kinds of evidence, each transparent: the contact's domain or organisation
matches the goal; the share of shared subjects and meeting titles that mention
the goal's keywords; and the TF-IDF similarity (scikit-learn) between those
subjects and the goal's keywords and description. Values are in [0, 1].

German and English both work because matching is on word pieces, not whole
words: text is folded (case, accents, "ß" and the "ae/oe/ue" spellings of
umlauts), the TF-IDF terms are the 4- to 6-letter pieces of each word, and a
long keyword also matches inside a word. So "Förderung" finds
"Forschungsförderung" and "Foerderantrag", "Finanzierung" finds
"Finanzierungsrunde", and "investor" finds "Investoren".
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

from daemon.config import Goal
from daemon.contacts import FREE_MAIL, domain_of, in_organisations
from models.facts import ContactFacts


TOPIC_FLOOR = 0.08   # cosine similarity of word pieces below this is chance overlap ("order" in "Förderung")
TOPIC_FULL = 0.35    # a cosine similarity this high counts as fully on topic
MAX_SUBJECTS = 200   # the most recent subjects per contact are enough to know its topics
PIECES = (4, 5, 6)   # lengths of the word pieces compared (a word's start and end marked by a space)
INSIDE_WORD = 6      # keywords this long (folded) also match inside a word: German compounds
_UMLAUT_SPELLING = re.compile(r"([aou])e")


def fold(text: str) -> str:
    """Lower case without accents, with "ß" as "ss" and "ae/oe/ue" as "a/o/u": "Förderung", "Foerderung" and
    "Forderung" all fold to "forderung" (folding both sides alike, a rare false match beats a missed one)."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("ß", "ss"))
    return _UMLAUT_SPELLING.sub(r"\1", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def _matches_domain(address: str, domains: list[str]) -> bool:
    domain = domain_of(address)
    return any(domain == d.lower() or domain.endswith("." + d.lower()) for d in domains)


def keyword_pattern(goal: Goal) -> re.Pattern[str] | None:
    """Matches folded text that mentions a keyword: at the start of a word, or anywhere for a long keyword."""
    words = [fold(w.strip()) for w in goal.keywords if w.strip()]
    if not words:
        return None
    return re.compile("|".join(re.escape(w) if len(w) >= INSIDE_WORD else r"(?<!\w)" + re.escape(w) for w in words))


def relevance(facts: ContactFacts, goal: Goal, pattern: re.Pattern[str] | None = None, topic: float = 0.0,
              taught_domains: frozenset[str] = frozenset()) -> float:
    """How relevant one contact is to one goal, from domains, organisations, keywords and topic similarity.
    `taught_domains` are those of contacts the user marked relevant to the goal: weaker than configured ones."""
    addresses = facts.contact.addresses
    by_domain = 1.0 if any(_matches_domain(a, goal.domains) for a in addresses) else 0.0
    by_taught = 1.0 if any(domain_of(a) in taught_domains for a in addresses) else 0.0
    haystack = " ".join([facts.contact.name.lower(), *addresses])
    by_org = 1.0 if any(o.lower() in haystack or o.lower().replace(" ", "") in haystack
                        for o in goal.organizations if o.strip()) else 0.0
    share = 0.0
    if pattern is not None and facts.subjects:
        share = sum(1 for s in facts.subjects if pattern.search(fold(s))) / len(facts.subjects)
    by_words = min(1.0, 3 * share)
    by_topic = min(1.0, max(0.0, topic - TOPIC_FLOOR) / (TOPIC_FULL - TOPIC_FLOOR))
    return round(1 - (1 - 0.7 * by_domain) * (1 - 0.5 * by_taught) * (1 - 0.5 * by_org) * (1 - 0.8 * by_words)
                 * (1 - 0.5 * by_topic), 4)


def topic_similarity(facts: dict[str, ContactFacts], goals: tuple[Goal, ...],
                     examples: list[list[str]] | None = None) -> dict[str, list[float]]:
    """Cosine similarity of each contact's subjects with each goal's keywords and description, and with the
    subjects of the contacts the user marked relevant to the goal (`examples`: contact ids per goal)."""
    people = [cid for cid in sorted(facts) if facts[cid].subjects and (facts[cid].sent or facts[cid].meetings_one_to_one
                                                                       or facts[cid].meetings_group)]
    examples = examples or [[] for _ in goals]
    queries = [" ".join([*g.keywords, g.description, g.name, *(_document(facts[cid]) for cid in marked)])
               for g, marked in zip(goals, examples)]
    if not people or not any(q.strip() for q in queries):
        return {}
    documents = [_document(facts[cid]) for cid in people]
    matrix = _piece_tfidf(documents + queries)
    similarity = (matrix[: len(people)] @ matrix[len(people):].T).toarray()
    return {cid: [float(v) for v in row] for cid, row in zip(people, similarity)}


def _document(facts: ContactFacts) -> str:
    return " ".join(dict.fromkeys(facts.subjects[-MAX_SUBJECTS:]))


def _piece_tfidf(texts: list[str]) -> sparse.csr_matrix:
    """TF-IDF rows (L2-normalised) of the texts over word pieces. Words are counted first and each distinct
    word is cut into pieces once: the same result as cutting every text, and faster than whole-word TF-IDF was."""
    words = CountVectorizer(preprocessor=fold, token_pattern=r"(?u)\b\w\w+\b")
    counts = words.fit_transform(texts)
    index: dict[str, int] = {}
    rows, columns = [], []
    for row, word in enumerate(words.get_feature_names_out()):
        for piece in _pieces(word):
            rows.append(row)
            columns.append(index.setdefault(piece, len(index)))
    word_pieces = sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(counts.shape[1], len(index)))
    return TfidfTransformer(sublinear_tf=True).fit_transform(counts @ word_pieces)


def _pieces(word: str) -> tuple[str, ...]:
    marked = f" {word} "
    return tuple(marked[i:i + n] for n in PIECES for i in range(len(marked) - n + 1))


def goal_fits(facts: dict[str, ContactFacts], goals: tuple[Goal, ...],
              verdicts: dict[tuple[str, str], bool] | None = None,
              own_domains: frozenset[str] = frozenset()) -> dict[str, dict[str, float]]:
    """Every contact's relevance to every goal.

    `verdicts` are the user's `kith feedback … --goal` judgments, (contact id, goal name) → relevant. They win
    for the contact judged, and a contact marked relevant also teaches the goal about similar ones: its
    subjects join the goal's topic, and its organisation's domain counts for the goal (not a free-mail domain,
    nor in `own_domains`, the user's own organisations, where every colleague would match).
    """
    verdicts = {key: good for key, good in (verdicts or {}).items() if key[0] in facts}
    examples = [sorted(cid for (cid, name), good in verdicts.items() if good and name == g.name) for g in goals]
    taught = [frozenset(domain_of(a) for cid in marked for a in facts[cid].contact.addresses
                        if domain_of(a) not in FREE_MAIL and not in_organisations(a, own_domains)) for marked in examples]
    patterns = [keyword_pattern(g) for g in goals]
    topics = topic_similarity(facts, goals, examples) if goals else {}
    fits = {cid: {g.name: relevance(f, g, p, topics.get(cid, [0.0] * len(goals))[i], taught[i])
                  for i, (g, p) in enumerate(zip(goals, patterns))} for cid, f in facts.items()}
    for (cid, name), good in verdicts.items():
        if name in fits[cid]:
            fits[cid][name] = 1.0 if good else 0.0
    return fits
