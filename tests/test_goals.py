"""Goal relevance: domains, organisations, keywords, and topic similarity in German and English."""

from __future__ import annotations

from datetime import UTC, datetime

from daemon.config import Goal
from daemon.contacts import Contact
from models.facts import ContactFacts, Touch
from models.goals import goal_fits

AT = datetime(2026, 1, 1, tzinfo=UTC)
INVESTORS = Goal(name="Investors", description="Finanzierung der Seed-Runde mit Business Angels",
                 keywords=["term sheet"], domains=["vc.example"])


def contact(cid: str, subjects: list[str], sent: int = 2) -> ContactFacts:
    f = ContactFacts(Contact(cid, (cid,), cid.split("@")[0]))
    f.touches = [Touch(AT, "sent", f"s:{i}", s) for i, s in enumerate(subjects)]
    f.subjects, f.sent = list(subjects), sent
    return f


def test_domain_keywords_and_topic_each_count_and_unrelated_stays_low():
    facts = {
        "a@vc.example": contact("a@vc.example", ["Lunch"]),
        "b@firm.example": contact("b@firm.example", ["Re: term sheet draft", "Hello"]),
        "c@firm.example": contact("c@firm.example", ["Finanzierung: nächste Schritte", "Business Angels Treffen"]),
        "d@firm.example": contact("d@firm.example", ["Fußball am Samstag", "Grillen"]),
    }
    fits = {cid: f["Investors"] for cid, f in goal_fits(facts, (INVESTORS,)).items()}
    assert fits["a@vc.example"] >= 0.7 and fits["b@firm.example"] >= 0.5
    assert fits["c@firm.example"] > 0.1 > fits["d@firm.example"]


def test_accents_are_folded_so_umlauts_match():
    goal = Goal(name="Payments", description="Zahlungsverkehr für Händler")
    facts = {"e@x.example": contact("e@x.example", ["Zahlungsverkehr fur Handler im Q3"]),
             "f@x.example": contact("f@x.example", ["Urlaub"])}
    fits = goal_fits(facts, (goal,))
    assert fits["e@x.example"]["Payments"] > fits["f@x.example"]["Payments"]


def test_german_compounds_umlaut_spellings_and_inflections_match():
    goal = Goal(name="Funding", description="Förderung beantragen", keywords=["Finanzierung", "Investor"])
    facts = {
        "compound@x.example": contact("compound@x.example", ["Forschungsförderung: Antrag eingereicht"]),
        "spelled@x.example": contact("spelled@x.example", ["Foerderantrag fuer 2027"]),
        "inflected@x.example": contact("inflected@x.example", ["Finanzierungsrunde", "Treffen mit Investoren"]),
        "unrelated@x.example": contact("unrelated@x.example", ["Confirmation of your order", "Fußball am Samstag"]),
    }
    fits = {cid: f["Funding"] for cid, f in goal_fits(facts, (goal,)).items()}
    assert fits["inflected@x.example"] >= 0.8               # both keywords found inside longer words
    for related in ("compound@x.example", "spelled@x.example"):   # the description's words, inside others
        assert fits[related] > 0.1, fits
    assert fits["unrelated@x.example"] == 0.0                 # "order" in "Förderung" is chance overlap


def test_umlaut_spellings_match_keywords():
    goal = Goal(name="Funding", keywords=["Förderung"])
    facts = {"a@x.example": contact("a@x.example", ["Re: Foerderung 2027"]),
             "b@x.example": contact("b@x.example", ["Forschungsförderung"]),
             "c@x.example": contact("c@x.example", ["Forelle"])}
    fits = {cid: f["Funding"] for cid, f in goal_fits(facts, (goal,)).items()}
    assert fits["a@x.example"] >= 0.8 and fits["b@x.example"] >= 0.8 and fits["c@x.example"] < 0.1


def test_short_keywords_match_only_at_the_start_of_a_word():
    goal = Goal(name="Board", keywords=["board"])
    facts = {"a@x.example": contact("a@x.example", ["Board meeting agenda"]),
             "b@x.example": contact("b@x.example", ["New keyboard and dashboard"])}
    fits = goal_fits(facts, (goal,))
    assert fits["a@x.example"]["Board"] >= 0.8
    assert fits["b@x.example"]["Board"] < fits["a@x.example"]["Board"] / 2
