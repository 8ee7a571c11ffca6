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
