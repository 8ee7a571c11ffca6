"""Goal relevance: domains, organisations, keywords, and topic similarity in German and English."""

from __future__ import annotations

from datetime import UTC, datetime

from daemon.config import Goal
from daemon.contacts import Contact
from models.facts import ContactFacts, Touch
from models.goals import closest_subject, goal_fits, relevance_reasons

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
    assert fits["b@x.example"]["Board"] == 0.0           # neither the keyword rule nor the topic finds it
    keyboards = contact("g@board.example", ["Keyboard order", "keyboard broken", "new keyboards"])
    fit = goal_fits({"g@board.example": keyboards}, (goal,))["g@board.example"]["Board"]
    assert fit == 0.0 and relevance_reasons(keyboards, goal, fit) == []


def test_an_acronym_keyword_matches_a_whole_word_only():
    """"PR" is in "PR plan" and "PRs", not in "July 24 PRC" or "Presentation"; "OU" not in "outage"."""
    goal = Goal(name="Public relations", keywords=["PR", "OU"])
    facts = {"a@x.example": contact("a@x.example", ["PR plan for the launch", "New PRs"]),
             "b@x.example": contact("b@x.example", ["July 24 PRC", "Presentation", "hedging for outage options"])}
    fits = goal_fits(facts, (goal,))
    assert fits["a@x.example"]["Public relations"] >= 0.8
    assert fits["b@x.example"]["Public relations"] < 0.1          # no keyword; a trace of topic at most


def test_an_acronym_in_capitals_is_not_the_everyday_word_it_spells():
    """"IT" and "US" are not "can you send it" or "join us"; as written, and in "IT's" or "US-Markt", they are."""
    goal = Goal(name="Infrastructure", keywords=["IT", "US"])
    facts = {"a@x.example": contact("a@x.example", ["IT budget 2027", "US-Markt: Zahlen", "Lunch"]),
             "b@x.example": contact("b@x.example", ["can you send it", "join us on Friday", "it is done"])}
    fits = goal_fits(facts, (goal,))
    assert fits["a@x.example"]["Infrastructure"] >= 0.8
    assert fits["b@x.example"]["Infrastructure"] == 0.0       # neither the keyword rule nor the topic finds it
    assert relevance_reasons(facts["a@x.example"], goal, fits["a@x.example"]["Infrastructure"])[0] \
        == "2 of 3 subjects mention “IT”, “US”"


def test_a_short_keyword_is_a_whole_word_however_it_is_written():
    """"Law" is not "Lawrence's birthday", "Go" not "Good morning", "ai" not "aim"; "IT" in a subject all in
    capitals ("IMPORTANT - READ IT NOW") says nothing of IT."""
    law, ai, it = Goal(name="Law", keywords=["Law", "Go"]), Goal(name="AI", keywords=["ai"]), Goal(name="IT", keywords=["IT"])
    facts = {"a@x.example": contact("a@x.example", ["Law firm shortlist", "Go-live plan", "Öl und Gas"]),
             "b@x.example": contact("b@x.example", ["AI roadmap", "Re: ai"]),
             "c@x.example": contact("c@x.example", ["Lawrence's birthday", "Good morning", "Our aim for Q3",
                                                    "IMPORTANT - READ IT NOW"])}
    fits = goal_fits(facts, (law, ai, it))
    assert fits["a@x.example"]["Law"] >= 0.8 and fits["b@x.example"]["AI"] >= 0.8
    assert fits["c@x.example"]["Law"] < 0.1 and fits["c@x.example"]["AI"] < 0.1 and fits["c@x.example"]["IT"] == 0


def test_goal_feedback_wins_for_the_contact_and_teaches_the_goal_about_similar_ones():
    goal = Goal(name="Investors", description="Seed round")
    facts = {
        "anna@fund.example": contact("anna@fund.example", ["Q3 portfolio review", "Limited partners letter"]),
        "bob@fund.example": contact("bob@fund.example", ["Dinner"]),                         # same firm
        "carl@other.example": contact("carl@other.example", ["Portfolio review follow-up"]),  # same topic
        "dan@other.example": contact("dan@other.example", ["Fußball am Samstag"]),
        "eve@gmail.com": contact("eve@gmail.com", ["Urlaub"]),
        "fay@gmail.com": contact("fay@gmail.com", ["Grillen"]),
        "gus@mine.example": contact("gus@mine.example", ["Kantine"]),
        "hal@mine.example": contact("hal@mine.example", ["Parkplatz"]),
    }
    before = {cid: f["Investors"] for cid, f in goal_fits(facts, (goal,)).items()}
    assert max(before.values()) < 0.1
    verdicts = {("anna@fund.example", "Investors"): True, ("eve@gmail.com", "Investors"): True,
                ("gus@mine.example", "Investors"): True, ("dan@other.example", "Investors"): False}
    after = {cid: f["Investors"] for cid, f in goal_fits(facts, (goal,), verdicts, frozenset({"mine.example"})).items()}
    assert after["anna@fund.example"] == after["eve@gmail.com"] == after["gus@mine.example"] == 1.0
    assert after["dan@other.example"] == 0.0
    assert after["bob@fund.example"] >= 0.5                   # the marked contact's organisation
    assert after["carl@other.example"] >= before["carl@other.example"] + 0.2   # the marked contact's topics
    # a free-mail provider or the user's own organisation is nobody's firm: no one else rises with them
    assert after["fay@gmail.com"] == before["fay@gmail.com"] and after["hal@mine.example"] == before["hal@mine.example"]


def test_organisations_match_domains_and_names_whatever_the_spaces_and_punctuation():
    goal = Goal(name="Banks", organizations=["Kontor Bank", "SAP", "Pay-Bridge"])
    facts = {"a@kontor-bank.example": contact("a@kontor-bank.example", ["Hallo"]),
             "b@mail.example": ContactFacts(Contact("b@mail.example", ("b@mail.example",), "Bea Sommer (PayBridge)")),
             "c@sap.com": contact("c@sap.com", ["Hi"]),
             "d@sapphire.example": contact("d@sapphire.example", ["Hi"]),
             "e@kontor.example": contact("e@kontor.example", ["Hi"])}
    fits = {cid: f["Banks"] for cid, f in goal_fits(facts, (goal,)).items()}
    assert fits["a@kontor-bank.example"] >= 0.5 and fits["b@mail.example"] >= 0.5 and fits["c@sap.com"] >= 0.5
    assert fits["d@sapphire.example"] == 0.0 and fits["e@kontor.example"] == 0.0


def test_subjects_and_goals_without_a_word_give_no_topic_and_no_error():
    fits = goal_fits({"a@x.example": contact("a@x.example", ["!", "?"])}, (Goal(name="X"),))
    assert fits == {"a@x.example": {"X": 0.0}}


def test_keywords_match_singular_plural_and_german_inflections_and_are_named_as_written():
    goal = Goal(name="Sales", keywords=["investors", "Kunden", "power"])
    facts = {"a@x.example": contact("a@x.example", ["Investor call", "Neue Kundin", "Kunde wartet"]),
             "b@x.example": contact("b@x.example", ["Powerpoint", "Pow wow"])}
    fits = goal_fits(facts, (goal,))
    assert fits["a@x.example"]["Sales"] >= 0.8
    assert relevance_reasons(facts["a@x.example"], goal, fits["a@x.example"]["Sales"])[0] == \
        "3 of 3 subjects mention “Kunden”, “investors”"
    # "power" is not cut to "pow": "Pow wow" does not mention it
    assert relevance_reasons(facts["b@x.example"], goal, 0.0) == ["1 of 2 subjects mention “power”"]


def test_an_explanation_quotes_the_subject_closest_to_the_goal_never_one_sharing_only_short_words():
    goal = Goal(name="Investors", description="Finanzierung der Seed-Runde mit Business Angels")
    f = contact("a@x.example", ["Der Termin mit dir", "Seed-Runde: nächste Schritte", "Grillen"])
    assert closest_subject(f, goal) == "Seed-Runde: nächste Schritte"
    assert closest_subject(contact("b@x.example", ["Der Termin mit dir", "Grillen"]), goal) is None


def test_a_line_break_inside_a_subject_still_counts_one_subject():
    goal = Goal(name="Funding", keywords=["seed", "round"])
    f = contact("a@x.example", ["Seed\nround", "Lunch"])
    assert relevance_reasons(f, goal, 0.9)[0] == "1 of 2 subjects mention “seed”, “round”"


def test_mail_and_meetings_with_a_crowd_are_not_subjects_shared_with_each_of_its_people():
    """The user's announcement to 30 people names a goal's keyword; only a personal exchange on it counts."""
    goal = Goal(name="Boards", keywords=["board"])

    def person(cid: str, touches: list[Touch]) -> ContactFacts:
        f = ContactFacts(Contact(cid, (cid,), cid.split("@")[0]), touches=touches)
        f.subjects, f.sent = [t.subject for t in touches], sum(t.kind == "sent" for t in touches)
        return f

    crowd = [Touch(AT, "sent", "s:crowd", "Board meeting change", False, size=30),
             Touch(AT, "meeting", "event:all-hands", "Board update all hands", False, size=40)]
    staff = person("staff@x.example", [*crowd, Touch(AT, "sent", "s:lunch", "Lunch")])
    member = person("member@x.example", [*crowd, Touch(AT, "sent", "s:seat", "Your board seat"),
                                         Touch(AT, "received", "s:seat", "Re: Your board seat", size=2),
                                         Touch(AT, "meeting", "event:prep", "Lunch", size=1)])
    fits = goal_fits({f.id: f for f in (staff, member)}, (goal,))
    assert fits["staff@x.example"]["Boards"] == 0.0 and relevance_reasons(staff, goal, 0.0) == []
    assert fits["member@x.example"]["Boards"] >= 0.8
    assert relevance_reasons(member, goal, fits["member@x.example"]["Boards"])[0] == \
        "2 of 3 subjects mention “board”"
