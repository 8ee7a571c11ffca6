"""Relevance of each contact to each of the user's goals.

Evidence that explanations can name: the contact's domain or organisation is
the goal's; the share of shared subjects and meeting titles (`shared_subjects`:
of mail and meetings among a few people, not crowds) that mention the goal's
keywords; the TF-IDF similarity (scikit-learn) between those subjects and the
goal's words; and the user's `--goal` feedback, which decides for the contact
judged and teaches the goal about similar ones. Values are in [0, 1].

German and English both work because matching is on word pieces, not whole
words. Text is folded: lower case, "ä, ö, ü, ß" spelled "ae, oe, ue, ss" as
German does without them, other accents dropped. The TF-IDF terms are the 4-
to 6-letter pieces of each word; a long keyword also matches inside a word,
and a keyword also matches without a plural ending. So "Förderung" finds
"Forschungsförderung" and "Foerderantrag", "Finanzierung" finds
"Finanzierungsrunde", "investor" finds "Investoren", "Kunden" finds "Kundin".
Keywords of three letters or fewer are whole words ("Law" is not "Lawrence");
written in capitals they are acronyms, matched as written ("IT" is not "it",
"PR" not "PRC"), in subjects that are not all capitals.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

from daemon.config import Goal
from daemon.contacts import FREE_MAIL, domain_of, in_organisations
from models.facts import OWED_MAX_PEOPLE, ContactFacts


TOPIC_FLOOR = 0.08   # cosine similarity of word pieces below this is chance overlap ("rder" in "order")
TOPIC_FULL = 0.35    # a cosine similarity this high counts as fully on topic
MAX_SUBJECTS = 200   # the most recent subjects per contact are enough to know its topics
CLOSEST_SHARE = 0.2  # an explanation quotes a subject only when this share of its word pieces is the goal's
PIECES = (4, 5, 6)   # lengths of the word pieces compared (a word's start and end marked by a space)
INSIDE_WORD = 6      # keywords this long (folded) also match inside a word: German compounds
WHOLE_WORD = 3       # keywords this short are words of their own (see the module's docstring)
ENDINGS = ("en", "s", "n")    # plural endings a keyword is also matched without (longer forms match anyway) …
MIN_STEM = 4                  # … when at least this many letters remain ("news" stays "news")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_ACCENTS = re.compile("[\u0300-\u036f]")      # combining marks, split off the letters by NFKD


def fold(text: str) -> str:
    """Lower case, "ä/ö/ü/ß" spelled "ae/oe/ue/ss" as German does without them, other accents dropped:
    "Förderung" and "Foerderung" both fold to "foerderung", "Café" to "cafe"; English is left as it is."""
    text = text.lower()
    if not text.isascii():
        spelled = unicodedata.normalize("NFC", text).translate(_UMLAUTS)
        text = _ACCENTS.sub("", unicodedata.normalize("NFKD", spelled))
    return text


def _matches_domain(address: str, domains: list[str]) -> bool:
    domain = domain_of(address)
    return any(domain == d.lower() or domain.endswith("." + d.lower()) for d in domains)


def _squeezed(text: str) -> str:
    return re.sub(r"[\W_]+", "", fold(text))


def _names_organisation(facts: ContactFacts, organisation: str) -> bool:
    """The organisation's name, spaces and punctuation aside, is in the contact's name or one of its domains'
    labels: "Kontor Bank" matches kontor-bank.example, "PayBridge" "Tom (PayBridge)". A short name must be a
    whole label or word ("SAP" is not in "sapphire")."""
    key = _squeezed(organisation)
    if not key or key not in _squeezed(" ".join([facts.contact.name, *facts.contact.addresses])):
        return False            # (the usual case, told by one test)
    labels = {_squeezed(label) for a in facts.contact.addresses for label in domain_of(a).split(".")}
    words = {_squeezed(w) for w in re.split(r"[\s,;:|/()\[\]<>\"'@.-]+", facts.contact.name)}
    if len(key) < 4:
        return key in labels or key in words
    return any(key in label for label in labels) or key in _squeezed(facts.contact.name)


@dataclass(frozen=True)
class Keywords:
    """A goal's keywords, ready to search a contact's subjects (one per line): folded, in two calls, and
    as written for acronyms."""

    anywhere: re.Pattern[str] | None   # each mention in folded text: at a word's start, anywhere if long
    lines: re.Pattern[str] | None      # each folded line (subject) with at least one mention
    said: dict[str, str]               # folded keyword → as the user wrote it
    acronyms: re.Pattern[str] | None = None   # each acronym ("IT", "PRs") in the subjects as written


def _stem(keyword: str) -> str:
    """The keyword (its last word) without one plural ending of English or German, so that a keyword in the
    plural finds the singular: "investors" finds "investor", "Kunden" finds "Kunde" and "Kundin". (A keyword
    matches longer forms by itself: "Kunde" finds "Kunden".) Endings such as "-e" or "-er" are left alone:
    in English they cut too much ("value" would find "valuation", "broker" "broken")."""
    head, space, last = keyword.rpartition(" ")
    for ending in ENDINGS:
        if last.endswith(ending) and not last.endswith("ss") and len(last) - len(ending) >= MIN_STEM:
            return head + space + last[:-len(ending)]
    return keyword


def is_acronym(keyword: str) -> bool:
    """A keyword of three letters or fewer written in capitals, ending in a letter or digit: "IT", "PR", "5G"
    (not "C++", which "C++17" holds)."""
    return len(keyword) <= WHOLE_WORD and keyword.isupper() and keyword[-1].isalnum()


def keywords_of(goal: Goal) -> Keywords | None:
    written = [w.strip() for w in goal.keywords if w.strip()]
    if not written:
        return None
    acronyms = sorted({w for w in written if is_acronym(w)}, key=lambda w: (-len(w), w))
    folded = {fold(w): w for w in written if not is_acronym(w)}
    said = {_stem(w): kept for w, kept in folded.items()} | folded
    by_length = sorted(said, key=lambda w: (-len(w), w))      # the longest keyword that matches is the one named
    long_ = [re.escape(w) for w in by_length if len(w) >= INSIDE_WORD]
    tiny = [re.escape(w) for w in by_length if len(w) <= WHOLE_WORD and w[-1:].isalnum()]    # a whole word
    short = [re.escape(w) for w in by_length if len(w) < INSIDE_WORD and re.escape(w) not in tiny]
    # one look-behind before all the short ones: several times faster than one before each
    either = "|".join(long_ + ([r"(?<!\w)(?:" + "|".join(short) + ")"] if short else [])
                      + ([r"(?<!\w)(?:" + "|".join(tiny) + r")s?(?!\w)"] if tiny else []))
    return Keywords(re.compile(either) if either else None, re.compile(f"(?m)^.*?(?:{either})") if either else None,
                    said, re.compile(r"(?<!\w)(" + "|".join(map(re.escape, acronyms)) + r")s?(?!\w)")
                    if acronyms else None)


def mentions(keywords: Keywords, lines: str, folded: str) -> tuple[list[str], int]:
    """The keywords the subjects mention, as the user wrote them, the most mentioned first, and how many
    subjects mention one. `lines`: the subjects one per line as written; `folded`: the same folded."""
    hits = []
    # a plain substring test first: most contacts mention no keyword, and it is several times faster
    if keywords.anywhere and any(w in folded for w in keywords.said):
        hits = [keywords.said.get(hit, hit) for hit in keywords.anywhere.findall(folded)]
    acronyms: list[str] = []
    if keywords.acronyms and keywords.acronyms.search(lines):   # most contacts mention none: one search first
        # as written, in subjects with lower case: "IMPORTANT - READ IT NOW" says nothing of IT
        lines = "\n".join(line if any(c.islower() for c in line) else "" for line in lines.split("\n"))
        acronyms = keywords.acronyms.findall(lines)
    if not hits and not acronyms:
        return [], 0
    if not acronyms:
        subjects = len(keywords.lines.findall(folded))
    else:
        subjects = sum(1 for written, low in zip(lines.split("\n"), folded.split("\n"))
                       if keywords.acronyms.search(written) or keywords.anywhere and keywords.anywhere.search(low))
    return [k for k, _ in Counter(hits + acronyms).most_common()], subjects


@dataclass
class Evidence:
    """What ties one contact to one goal, before topic similarity: the facts that explanations name."""

    domains: list[str]          # the contact's domains among the goal's
    organizations: list[str]    # the goal's organisations found in the contact's name or addresses
    taught: list[str]           # the contact's domains shared with a contact the user marked relevant
    keywords: list[str]         # the goal's keywords found in the subjects, the most mentioned first
    subjects: int               # subjects that mention a keyword
    of: int                     # subjects in all


def shared_subjects(facts: ContactFacts) -> list[str]:
    """The subjects and meeting titles the user shares with the contact: of mail and meetings with at most
    OWED_MAX_PEOPLE others, as "personal" means elsewhere. A crowd's (the user's announcement to 75 people,
    a colleague's notice to 70) is every recipient's alike and says nothing of what ties this one to a goal."""
    return [t.subject for t in facts.touches if t.subject and t.size <= OWED_MAX_PEOPLE]


def subject_lines(subjects: list[str]) -> tuple[str, str]:
    """The subjects one per line (a line break inside a subject would make two), as written and folded."""
    lines = "\n".join(" ".join(s.splitlines()) for s in subjects)
    return lines, fold(lines)


def evidence(facts: ContactFacts, goal: Goal, keywords: Keywords | None = None,
             taught_domains: frozenset[str] = frozenset(), subjects: list[str] | None = None,
             lines: tuple[str, str] | None = None) -> Evidence:
    """`subjects`, `lines`: `shared_subjects(facts)` and `subject_lines` of them, when they were computed
    already (once for all goals)."""
    addresses = facts.contact.addresses
    subjects = shared_subjects(facts) if subjects is None else subjects
    found, mentioning = [], 0
    if keywords is not None and subjects:
        found, mentioning = mentions(keywords, *(lines or subject_lines(subjects)))
    return Evidence(
        domains=sorted({domain_of(a) for a in addresses if _matches_domain(a, goal.domains)}),
        organizations=[o for o in goal.organizations if _names_organisation(facts, o)],
        taught=sorted({domain_of(a) for a in addresses if domain_of(a) in taught_domains}),
        keywords=found, subjects=mentioning, of=len(subjects))


def relevance(facts: ContactFacts, goal: Goal, keywords: Keywords | None = None, topic: float = 0.0,
              taught_domains: frozenset[str] = frozenset(), subjects: list[str] | None = None,
              lines: tuple[str, str] | None = None) -> float:
    """How relevant one contact is to one goal, from domains, organisations, keywords and topic similarity.
    `taught_domains` are those of contacts the user marked relevant to the goal: weaker than configured ones."""
    return _combine(evidence(facts, goal, keywords, taught_domains, subjects, lines), topic)


def _combine(e: Evidence, topic: float) -> float:
    by_words = min(1.0, 3 * e.subjects / e.of) if e.of else 0.0
    by_topic = min(1.0, max(0.0, topic - TOPIC_FLOOR) / (TOPIC_FULL - TOPIC_FLOOR))
    return round(1 - (1 - 0.7 * bool(e.domains)) * (1 - 0.5 * bool(e.taught)) * (1 - 0.5 * bool(e.organizations))
                 * (1 - 0.8 * by_words) * (1 - 0.5 * by_topic), 4)


def relevance_reasons(facts: ContactFacts, goal: Goal, fit: float, verdict: bool | None = None,
                      taught_domains: frozenset[str] = frozenset(), taught: bool = False) -> list[str]:
    """The facts behind one contact's relevance `fit` to one goal, in words (for `kith explain`); `taught`:
    the user marked some contact relevant to the goal."""
    if verdict is not None:
        return ["you marked them relevant" if verdict else "you marked them not relevant"]
    e = evidence(facts, goal, keywords_of(goal), taught_domains)
    out = []
    if e.domains:
        out.append(f"at {', '.join(e.domains)}, one of the goal's domains")
    if e.organizations:
        out.append("name or address matches " + ", ".join(f"“{o}”" for o in e.organizations))
    if e.taught:
        out.append(f"at {', '.join(e.taught)}, like a contact you marked relevant")
    if e.subjects:
        out.append(f"{e.subjects} of {e.of} subjects mention " + ", ".join(f"“{k}”" for k in e.keywords))
    if fit > _combine(e, 0.0) + 0.005:
        closest = closest_subject(facts, goal)
        out.append("the subjects you share are close to the goal's words"
                   + (" and to those of contacts you marked relevant" if taught else "")
                   + (f" (closest: “{closest}”)" if closest else ""))
    return out


def closest_subject(facts: ContactFacts, goal: Goal) -> str | None:
    """The contact's subject that shares the largest part of its word pieces with the goal's own words, the
    newest on a tie; None when no subject shares a fifth. Words under four letters are left out ("der", "the"),
    and a subject must share a piece the way the goal's words match (`_goal_pieces`: not "board" in "keyboard")."""
    goal_words = " ".join([*goal.keywords, goal.description, goal.name])
    wanted, matching = set(_content_pieces(goal_words, _pieces)), set(_content_pieces(goal_words, _goal_pieces))
    best, best_share = None, CLOSEST_SHARE
    for subject in dict.fromkeys(reversed(shared_subjects(facts)[-MAX_SUBJECTS:])):
        pieces = set(_content_pieces(subject, _pieces))
        if pieces & matching and len(pieces & wanted) / len(pieces) > best_share:
            best, best_share = subject, len(pieces & wanted) / len(pieces)
    return best


def _content_pieces(text: str, cut: Callable[[str], tuple[str, ...]]) -> list[str]:
    return [piece for word in re.findall(r"\w{4,}", fold(text)) for piece in cut(word)]


def topic_similarity(facts: dict[str, ContactFacts], goals: tuple[Goal, ...],
                     examples: list[list[str]] | None = None) -> dict[str, list[float]]:
    """Cosine similarity of each contact's shared subjects with each goal's keywords and description, and with
    those of the contacts the user marked relevant to the goal (`examples`: contact ids per goal)."""
    wrote = [cid for cid in sorted(facts) if facts[cid].sent or facts[cid].meetings_one_to_one
             or facts[cid].meetings_group]
    subjects = {cid: shared_subjects(facts[cid]) for cid in wrote}
    people = [cid for cid in wrote if subjects[cid]]
    examples = examples or [[] for _ in goals]
    # acronyms are left to the keyword rule: folded, "IT" would be every "it"
    said = [" ".join(w for w in [*g.keywords, g.description, g.name] if not is_acronym(w.strip())) for g in goals]
    shown = [" ".join(_document(shared_subjects(facts[cid])) for cid in marked) for marked in examples]
    if not people or not any(q.strip() for q in said + shown):
        return {}
    documents = [_document(subjects[cid]) for cid in people]
    pieces = _piece_counts(documents + shown + said, goal_words_from=len(documents) + len(shown))
    if not pieces.shape[1]:     # not one word of two letters in any text ("?", "!!"): nothing to compare
        return {cid: [0.0] * len(goals) for cid in people}
    queries = pieces[len(documents):len(documents) + len(goals)] + pieces[len(documents) + len(goals):]
    matrix = TfidfTransformer(sublinear_tf=True).fit_transform(sparse.vstack([pieces[:len(documents)], queries]))
    similarity = (matrix[: len(people)] @ matrix[len(people):].T).toarray()
    return {cid: [float(v) for v in row] for cid, row in zip(people, similarity)}


def _document(subjects: list[str]) -> str:
    return " ".join(dict.fromkeys(subjects[-MAX_SUBJECTS:]))


def _piece_counts(texts: list[str], goal_words_from: int) -> sparse.csr_matrix:
    """Word-piece counts of the texts; the texts from `goal_words_from` on are a goal's own words, cut by
    `_goal_pieces`. Words are counted first and each distinct word is cut into pieces once: the same result
    as cutting every text, and faster than whole-word TF-IDF was."""
    words = CountVectorizer(preprocessor=fold, token_pattern=r"(?u)\b\w\w+\b")
    try:
        counts = words.fit_transform(texts).tocsr()
    except ValueError:          # not one word of two letters in any text ("?", "!!"): nothing to compare
        return sparse.csr_matrix((len(texts), 0))
    vocabulary = words.get_feature_names_out()
    index: dict[str, int] = {}

    def cut_all(cut: Callable[[str], tuple[str, ...]], rows_wanted: Iterable[int]) -> tuple[list[int], list[int]]:
        rows, columns = [], []
        for row in rows_wanted:
            for piece in cut(vocabulary[row]):
                rows.append(row)
                columns.append(index.setdefault(piece, len(index)))
        return rows, columns

    cuts = [cut_all(_pieces, range(len(vocabulary))),
            cut_all(_goal_pieces, np.unique(counts[goal_words_from:].indices).tolist())]
    everywhere, at_start = (sparse.csr_matrix((np.ones(len(rows)), (rows, columns)),
                                              shape=(len(vocabulary), len(index))) for rows, columns in cuts)
    return sparse.vstack([counts[:goal_words_from] @ everywhere, counts[goal_words_from:] @ at_start]).tocsr()


def _pieces(word: str) -> tuple[str, ...]:
    marked = f" {word} "
    return tuple(marked[i:i + n] for n in PIECES for i in range(len(marked) - n + 1))


def _goal_pieces(word: str) -> tuple[str, ...]:
    """A goal's own word cut as the keyword rule matches it: a long one (German compounds) anywhere in a word,
    a short one only at a word's start ("board" finds "boards", not "keyboard")."""
    if len(word) >= INSIDE_WORD:
        return _pieces(word)
    marked = f" {word} "
    return tuple(marked[:n] for n in PIECES if n <= len(marked))


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
    examples = [marked_relevant(g, verdicts) for g in goals]
    taught = [taught_domains(facts, marked, own_domains) for marked in examples]
    keywords = [keywords_of(g) for g in goals]
    topics = topic_similarity(facts, goals, examples) if goals else {}
    none = [0.0] * len(goals)
    fits = {}
    for cid, f in facts.items():
        subjects = shared_subjects(f)
        lines = subject_lines(subjects) if subjects and any(keywords) else None
        fits[cid] = {g.name: relevance(f, g, k, topics.get(cid, none)[i], taught[i], subjects, lines)
                     for i, (g, k) in enumerate(zip(goals, keywords))}
    for (cid, name), good in verdicts.items():
        if name in fits[cid]:
            fits[cid][name] = 1.0 if good else 0.0
    return fits


def marked_relevant(goal: Goal, verdicts: dict[tuple[str, str], bool]) -> list[str]:
    """The contacts the user marked relevant to `goal`."""
    return sorted(cid for (cid, name), good in verdicts.items() if good and name == goal.name)


def taught_domains(facts: dict[str, ContactFacts], marked: list[str], own_domains: frozenset[str]) -> frozenset[str]:
    """The domains of the `marked` contacts that say something about a goal: not free mail, not the user's own."""
    return frozenset(domain_of(a) for cid in marked if cid in facts for a in facts[cid].contact.addresses
                     if domain_of(a) not in FREE_MAIL and not in_organisations(a, own_domains))
