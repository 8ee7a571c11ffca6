"""Which addresses are one person, and which are lists or relays: quoted local parts (Enron), lists CC'd
without a List-Id (kernel mail), and the kernel.org B4 relay — from real header bytes through the store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from connectors.headers import meta_from_header, parse_addresses
from daemon import store
from daemon.analysis import analyse, feedback_for, record_feedback, today_for
from daemon.cli import cli
from daemon.config import load as load_config
from daemon.contacts import (is_list_name, is_mailing_list, pretty_name, relayed_sender, typed_address, unquoted,
                             usable_name)
from models.facts import load_facts
from tests.conftest import T0, Batch

ME = "me@home.example"


def mail(n: int, sender: str, to: str, cc: str = "", subject: str = "") -> bytes:
    """One message's header block, as a mailer wrote it (bytes: parsed as sync parses them)."""
    at = T0 + timedelta(hours=n)
    lines = [f"Message-ID: <m{n}@test>", f"Date: {at:%a, %d %b %Y %H:%M:%S} +0000", f"From: {sender}", f"To: {to}"]
    lines += [f"Cc: {cc}"] if cc else []
    lines.append(f"Subject: {subject or f'Topic {n}'}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def synced(db, *blocks: bytes):
    store.apply_batch(db, "mbox:test", Batch(messages=tuple(meta_from_header(b, scope="INBOX") for b in blocks)))


def facts_of(db, **kw):
    return load_facts(db, {ME}, T0 + timedelta(days=30), **kw)


# ---------------------------------------------------------------- quoted local parts and names

def test_a_local_part_in_single_quotes_is_the_address_inside_them():
    assert unquoted("'david.delainey'@enron.com") == "david.delainey@enron.com"
    assert unquoted("'dan.o'brien'@x.example") == "dan.o'brien@x.example"
    for kept in ("o'brien@x.example", "delainey'.'david@enron.com", "'delainey@enron.com", "'.'@enron.com",
                 "david.delainey@enron.com", "anna'@x.example"):
        assert unquoted(kept) == kept


def test_the_store_keeps_the_address_as_it_came():
    """Normalising happens when contacts are built: a message's content key (its identity across folders)
    comes from the addresses as parsed, and must not change between an older copy and a newer one."""
    found = parse_addresses(b"'David W Delainey' <'david.delainey'@enron.com>, \"Conan O'Brien\" <o'brien@x.example>")
    assert [(a.email, a.name) for a in found] == [("'david.delainey'@enron.com", "'David W Delainey'"),
                                                  ("o'brien@x.example", "Conan O'Brien")]


def test_names_lose_wrapping_quotes_and_keep_apostrophes():
    assert usable_name("'David W Delainey'", "david.delainey@enron.com") == "David W Delainey"
    assert usable_name("'Kitchen, Louise'", "louise.kitchen@enron.com") == "Louise Kitchen"
    assert usable_name("Taylor, Mark E (Legal)", "mark.taylor@enron.com") == "Mark E Taylor"
    # a note after the given name and its initials is no part of the name; two given names are
    assert usable_name("Sheers, Alexander Confidential Memo-Counsel (Exchange)", "a@x.com") == "Alexander Sheers"
    assert usable_name("Lavorato, John J. Confidential", "a@x.com") == "John J. Lavorato"
    assert usable_name("Smith, Mary Ann", "a@x.com") == "Mary Ann Smith"
    assert usable_name("Anna Berger (Acme)", "anna@acme.example") == "Anna Berger"
    # a surname first with a dot for the comma, as the address shows it: "Bransgrove. Alan" (review 26)
    assert usable_name("Bransgrove. Alan", "alan.bransgrove@enron.com") == "Alan Bransgrove"
    assert usable_name("Dr. Watson", "watson@x.com") == "Dr. Watson"           # no first name in the address
    assert usable_name("Bransgrove. Alan", "bransgrove.a@x.com") == "Bransgrove. Alan"   # the address says nothing
    assert usable_name("(Legal)", "x@acme.example") == "(Legal)"
    assert usable_name("Conan O'Brien", "o'brien@x.example") == "Conan O'Brien"
    assert usable_name("Manojkiran Eda via B4 Relay", "devnull+manojkiran.eda.gmail.com@kernel.org") == "Manojkiran Eda"
    assert pretty_name("delainey'.'david@enron.com") == "Delainey David"        # garbled, but no stray quotes
    for department in ("legal", "pr", "ets", "credit"):        # "legal <.taylor@enron.com>" names no one
        assert usable_name(department, ".taylor@enron.com") == ""
    assert [usable_name(n, "x@y.example") for n in ("joel", "Legal", "Ng", "wu li")] == ["joel", "Legal", "Ng", "wu li"]
    assert pretty_name("murray.o'neil@enron.com") == "Murray O'neil"
    # a machine's address is shown as it is, not as a made-up name with its digits dropped
    for machine in ("bb4eb72a-172de319-86256aaa-4c9060@enron.com", "2.3758.c8-1utp_qhzzgrr.1@ummail1.example",
                    "lyris-confirm-13662e@x.example"):
        assert pretty_name(machine) == machine
    # nor is a group's, a desk's or a campaign's address a person with a made-up name
    for group in ("employee.services@enron.com", "undisclosed.recipients@x.example", "europe.dl-lon@enron.com",
                  "ohi_supporters@operationhope.org", "team.holcomb-maint@enron.com", "my-login-request@x.example",
                  "mir_ir-news.um.a.b@joinmail.example"):
        assert pretty_name(group) == group
    assert pretty_name("laura.a.de.la.torre@x.example") == "Laura A De La Torre"
    assert [pretty_name(f"{n}@x.example") for n in ("steve.jobs", "joe.root")] == ["Steve Jobs", "Joe Root"]
    assert pretty_name("t..hodge@enron.com") == "t..hodge@enron.com"    # Jeffrey T. Hodge: the first name is left out
    assert pretty_name("gjones.houston_fannin1_po.central_dom@x.example") == "gjones.houston_fannin1_po.central_dom@x.example"


def test_a_sub_address_is_its_mailbox_when_the_mailbox_is_known(db):
    """krzk+dt@kernel.org is krzk@kernel.org (the tag is for the maintainer's filters); a tagged address
    whose plain form never appears stays as it is."""
    synced(db, mail(1, ME, "krzk+dt@kernel.org", subject="[PATCH] dts"),
           mail(2, "Krzysztof Kozlowski <krzk@kernel.org>", ME, subject="Re: [PATCH] dts"),
           mail(3, ME, "robh+dt@kernel.org", subject="[PATCH] bindings"))
    facts = facts_of(db)
    assert set(facts) == {"krzk@kernel.org", "robh+dt@kernel.org"}
    assert (facts["krzk@kernel.org"].sent, facts["krzk@kernel.org"].received) == (1, 1)
    assert typed_address("krzk+dt@kernel.org", {"krzk@kernel.org"}) == "krzk@kernel.org"     # `kith explain` finds it

def test_a_real_display_name_wins_over_one_that_repeats_the_address():
    from collections import Counter
    from daemon.contacts import merge_contacts
    names = {"tomer.maimon@nuvoton.example": Counter({"tomer.maimon": 6, "Tomer Maimon": 2}),
             "peteryin.openbmc@gmail.example": Counter({"peteryin": 5, "Peter Yin": 1}),
             "lintao1890@x.example": Counter({"lintao1890": 3})}
    contacts = merge_contacts(list(names), names, (), (), {})
    assert [contacts[a].name for a in names] == ["Tomer Maimon", "Peter Yin", "lintao1890"]

def test_one_name_at_one_firm_spelt_in_both_addresses_is_one_person():
    """Enron's "belden@enron.com" and "tim.belden@enron.com" are one Tim Belden, though no thread shows both;
    namesakes at a free-mail provider, a different first name, or a local part without the surname stay apart."""
    from collections import Counter
    from daemon.contacts import merge_contacts
    names = {"tim.belden@enron.example": Counter({"Tim Belden": 5}), "belden@enron.example": Counter({"Belden, Tim": 2}),
             "anna.belden@enron.example": Counter({"Anna Belden": 3}), "tb7@enron.example": Counter({"Tim Belden": 1}),
             "tim.belden@gmail.com": Counter({"Tim Belden": 4}), "belden.tim@gmail.com": Counter({"Tim Belden": 1}),
             "build.bot@enron.example": Counter({"Build Bot": 9}), "bot@enron.example": Counter({"Build Bot": 9})}
    contacts = merge_contacts(list(names), names, (), (), {"tim.belden@enron.example": 5})
    assert contacts["belden@enron.example"].addresses == ("tim.belden@enron.example", "belden@enron.example")
    assert contacts["belden@enron.example"].name == "Tim Belden"
    for alone in ("anna.belden@enron.example", "tb7@enron.example", "tim.belden@gmail.com", "belden.tim@gmail.com",
                  "build.bot@enron.example", "bot@enron.example"):
        assert contacts[alone].addresses == (alone,)


def test_an_address_two_namesakes_share_joins_neither():
    """allen@enron.com carried "Allen, Jane" and "Allen, Phillip K.": Phillip's mail is not Jane's (review 23).
    One person's initials ("Belden, Tim" and "Belden, T.") are no second name."""
    from collections import Counter
    from daemon.contacts import merge_contacts
    names = {"jane.allen@enron.example": Counter({"Jane Allen": 4}),
             "allen@enron.example": Counter({"Allen, Jane": 2, "Allen, Phillip K.": 1, "Allen, Phillip": 1}),
             "tim.belden@enron.example": Counter({"Tim Belden": 5}),
             "belden@enron.example": Counter({"Belden, Tim": 2, "Belden, T.": 1})}
    contacts = merge_contacts(list(names), names, (), (), {})
    assert contacts["allen@enron.example"].addresses == ("allen@enron.example",)
    assert contacts["jane.allen@enron.example"].addresses == ("jane.allen@enron.example",)
    assert set(contacts["belden@enron.example"].addresses) == {"tim.belden@enron.example", "belden@enron.example"}


def test_one_name_at_one_firms_two_domains_is_one_person():
    """kevin.hannon@enron.com and kevin_hannon@enron.net, both "Kevin Hannon"; not a namesake at another firm."""
    from collections import Counter
    from daemon.contacts import firm_of, merge_contacts
    names = {"kevin.hannon@enron.com": Counter({"Kevin Hannon": 5}), "kevin_hannon@enron.net": Counter({"Kevin Hannon": 2}),
             "kevin.hannon@other.example": Counter({"Kevin Hannon": 1}), "anna@other.example": Counter({"Anna Ek": 1})}
    contacts = merge_contacts(list(names), names, (), (), {"kevin.hannon@enron.com": 5})
    assert contacts["kevin_hannon@enron.net"].addresses == ("kevin.hannon@enron.com", "kevin_hannon@enron.net")
    assert contacts["kevin.hannon@other.example"].addresses == ("kevin.hannon@other.example",)
    strangers = {f"john.smith@{d}": Counter({"John Smith": 2}) for d in ("yahoo.co.uk", "yahoo.fr", "[10.0.0.1]",
                                                                            "[192.168.0.1]")}
    strangers |= {"ann@yahoo.fr": Counter({"Ann Lee": 1}), "bo@yahoo.co.uk": Counter({"Bo Li": 1})}
    apart = merge_contacts(list(strangers), strangers, (), (), {})     # free mail in any country; no firm at all
    assert all(apart[a].addresses == (a,) for a in strangers)
    assert [firm_of(d) for d in ("ect.enron.com", "acme.co.uk", "acme.de", "localhost")] == ["enron", "acme", "acme", "localhost"]


def test_quoted_and_plain_forms_are_one_contact_with_a_clean_name(db):
    synced(db, mail(1, ME, "'david.delainey'@enron.com", subject="PRC"),
           mail(2, '"David W Delainey" <david.delainey@enron.com>', ME, subject="Re: PRC"),
           mail(3, ME, "'david.delainey'@enron.com, 'janet.dietrich'@enron.com", subject="Budget"),
           mail(4, "\"'Kitchen, Louise'\" <'louise.kitchen'@enron.com>", ME),
           mail(5, "\"Conan O'Brien\" <o'brien@x.example>", ME))
    facts = facts_of(db)
    assert set(facts) == {"david.delainey@enron.com", "janet.dietrich@enron.com", "louise.kitchen@enron.com",
                          "o'brien@x.example"}
    david = facts["david.delainey@enron.com"]
    assert (david.contact.addresses, david.contact.name, david.sent, david.received) == (
        ("david.delainey@enron.com",), "David W Delainey", 2, 1)
    assert facts["janet.dietrich@enron.com"].contact.name == "Janet Dietrich"     # from the address, unquoted
    assert facts["louise.kitchen@enron.com"].contact.name == "Louise Kitchen"
    assert facts["o'brien@x.example"].contact.name == "Conan O'Brien"
    assert facts["david.delainey@enron.com"].peers == {"janet.dietrich@enron.com": 1}


def test_aliases_and_ignores_in_either_form_apply_to_the_person(db):
    synced(db, mail(1, ME, "'david.delainey'@enron.com"), mail(2, ME, "david.delainey@enron.com"),
           mail(3, "dave@home.example", ME), mail(4, ME, "'spam.king'@x.example"))
    facts = facts_of(db, aliases=[("Dave", ["david.delainey@enron.com", "dave@home.example"])],
                     ignore_addresses=["spam.king@x.example"])
    assert set(facts) == {"david.delainey@enron.com"}
    assert facts["david.delainey@enron.com"].contact.addresses == ("david.delainey@enron.com", "dave@home.example")


def test_typed_addresses_in_either_form_name_the_person():
    assert typed_address("'david.delainey'@enron.com") == "david.delainey@enron.com"
    assert typed_address("'David W Delainey' <'David.Delainey'@enron.com>") == "david.delainey@enron.com"
    assert typed_address("o'brien@x.example") == "o'brien@x.example"
    assert typed_address("Berger, Anna <Anna.Berger@x.example>") == "anna.berger@x.example"     # as Outlook shows it
    assert typed_address("Berger, Anna") is None
    assert typed_address("devnull+manojkiran.eda.gmail.com@kernel.org") == "manojkiran.eda@gmail.com"


def test_explain_and_feedback_find_the_person_by_either_form(tmp_path):
    at = "Mon, 6 Jan 2025 09:0{n}:00 +0000"
    (tmp_path / "inbox.mbox").write_text(
        "".join(f"From x Mon Jan  6 09:00:00 2025\nMessage-ID: <{n}@x.example>\nDate: {at.format(n=n)}\n{head}\n"
                f"Subject: Plan {n}\n\n" for n, head in enumerate([
                    f"From: {ME}\nTo: 'david.delainey'@enron.com", f"From: {ME}\nTo: 'janet.dietrich'@enron.com",
                    f"From: 'David W Delainey' <'david.delainey'@enron.com>\nTo: {ME}"])))
    config = tmp_path / "kith.toml"
    config.write_text(f'[user]\naddresses = ["{ME}"]\n[storage]\ndatabase = "{tmp_path / "k.db"}"\n'
                      f'[[sources]]\ntype = "mbox"\nname = "m"\npath = "{tmp_path / "inbox.mbox"}"\n')
    runner = CliRunner()

    def kith(*args):
        return runner.invoke(cli, ["--config", str(config), *args])

    assert kith("sync").exit_code == 0
    for typed in ("'david.delainey'@enron.com", "david.delainey@enron.com",
                  "'David W Delainey' <'david.delainey'@enron.com>", "Delainey, David <david.delainey@enron.com>"):
        done = kith("explain", typed, "--as-of", "2025-01-07")
        assert done.exit_code == 0 and done.output.startswith("David W Delainey <david.delainey@enron.com>\n"), typed
    assert kith("feedback", "'janet.dietrich'@enron.com", "good").exit_code == 0
    assert kith("feedback", "david.delainey@enron.com", "noise").exit_code == 0
    db = store.open_store(tmp_path / "k.db")
    settings = load_config(config)
    analysis = analyse(db, settings, today_for(settings))
    assert analysis.scores["janet.dietrich@enron.com"].verdict == "good"
    assert analysis.scores["david.delainey@enron.com"].verdict == "noise"


# ---------------------------------------------------------------- lists and roles without a List-Id

def test_list_addresses_by_host_and_name_and_people_on_similar_hosts_stay_people():
    for listed in ("qemu-devel@nongnu.org", "linux-stm32@st-md-mailman.stormreply.com",
                   "bcm-kernel-feedback-list@broadcom.com", "patches@amperecomputing.com",
                   "patches@opensource.cirrus.com", "announce-list@sfx.com"):
        assert is_mailing_list(listed, set()), listed
    for person in ("robert.jones@mailman.enron.com", "bronika@mailman.ghg.net", "anna@mailman.example",
                   "anna.list@x.example", "list@x.example.org", "patches.o'hara@x.example", "joe@patches.example"):
        assert not is_mailing_list(person, set()), person


def test_list_names_as_get_maintainer_and_dmarc_rewriting_write_them():
    for name in ("open list:ASPEED BMCs", "moderated list:ARM/ASPEED MACHINE SUPPORT", "open list", "list:FOO",
                 "subscriber list:BAR", "Cameron Esfahani via", "'Cameron Esfahani via'", "Anna Berger via Qemu-devel",
                 "'Anna Berger' via golang-nuts", "Manojkiran Eda via B4 Relay"):
        assert is_list_name(name), name
    for name in ("Maria Via", "Giovanni Via Rossi", "Olivia Listowel", "List, John", "Listo Anna", "Sylvia Vial",
                 "Conan O'Brien", "Delivery Team", "David W Delainey"):
        assert not is_list_name(name), name


def test_lists_cced_without_a_list_id_are_not_contacts(db):
    """A developer's patch mail, CC'd to lists and team inboxes as get_maintainer.pl names them."""
    cc = ('"Cameron Esfahani via" <qemu-devel@example.org>, "open list:ASPEED BMCs" <aspeed@example.org>, '
          "linux-stm32@st-md-mailman.stormreply.com, bcm-kernel-feedback-list@broadcom.com, "
          "patches@amperecomputing.com, \"Maria Via\" <maria@via.example>")
    synced(db, mail(1, ME, "Anna Berger <anna@firm.example>", cc, subject="[PATCH] fix"),
           mail(2, "Anna Berger <anna@firm.example>", ME, cc, subject="Re: [PATCH] fix"),
           mail(3, ME, "Anna Berger <anna@firm.example>", cc, subject="Re: [PATCH] fix"))
    assert set(facts_of(db)) == {"anna@firm.example", "maria@via.example"}


def test_a_person_seen_once_under_a_list_name_stays_a_person(db):
    synced(db, *[mail(n, "Anna Berger <anna@firm.example>", ME) for n in range(3)],
           mail(5, ME, '"open list:FOO" <anna@firm.example>'))
    assert set(facts_of(db)) == {"anna@firm.example"}


# ---------------------------------------------------------------- the kernel.org B4 relay

def test_a_b4_relay_address_stands_for_the_address_it_encodes():
    relay = "devnull+manojkiran.eda.gmail.com@kernel.org"
    assert relayed_sender(relay) == "manojkiran.eda@gmail.com"
    assert relayed_sender(relay, {"manojkiran.eda@gmail.com"}) == "manojkiran.eda@gmail.com"
    deep = "devnull+foo.bar.linux.intel.com@kernel.org"
    assert relayed_sender(deep) == "foo.bar.linux@intel.com"                      # a guess …
    assert relayed_sender(deep, {"foo.bar@linux.intel.com"}) == "foo.bar@linux.intel.com"   # … a known address wins
    assert relayed_sender("devnull+jo.smith.example.co.uk@kernel.org") == "jo.smith@example.co.uk"
    assert relayed_sender("devnull+localhost@kernel.org") is None
    for other in ("devnull+anna.x.org@example.org", "anna.x.org@kernel.org", "manojkiran.eda@gmail.com"):
        assert relayed_sender(other) is None


def test_mail_through_the_b4_relay_is_the_senders(db):
    relayed = "Manojkiran Eda via B4 Relay <devnull+manojkiran.eda.gmail.com@kernel.org>"
    synced(db, mail(1, "Manojkiran Eda <manojkiran.eda@gmail.com>", ME, subject="[PATCH v1] mtd"),
           mail(2, relayed, ME, subject="[PATCH v2] mtd"), mail(3, relayed, ME, subject="[PATCH v3] mtd"),
           mail(4, "Yang Xiwen via B4 Relay <devnull+forbidden405.outlook.com@kernel.org>", ME),
           mail(5, "Me via B4 Relay <devnull+me.home.example@kernel.org>", "anna@firm.example"),
           mail(6, '"Anna Berger via Qemu-devel" <qemu-devel@example.org>', ME))
    facts = facts_of(db)
    assert set(facts) == {"manojkiran.eda@gmail.com", "forbidden405@outlook.com"}   # not the user, not a list
    manoj = facts["manojkiran.eda@gmail.com"]
    assert (manoj.contact.addresses, manoj.contact.name, manoj.received) == (
        ("manojkiran.eda@gmail.com",), "Manojkiran Eda", 3)
    assert facts["forbidden405@outlook.com"].contact.name == "Yang Xiwen"         # known by the relay only


def test_feedback_on_a_relay_address_counts_for_its_sender(db, tmp_path):
    synced(db, mail(1, "Manojkiran Eda via B4 Relay <devnull+manojkiran.eda.gmail.com@kernel.org>", ME))
    config = tmp_path / "kith.toml"
    config.write_text(f'[user]\naddresses = ["{ME}"]\n')
    record_feedback(db, load_config(config), "devnull+manojkiran.eda.gmail.com@kernel.org", "good", None)
    verdicts, _ = feedback_for(db, facts_of(db), T0 + timedelta(days=30) + timedelta(days=3650))
    assert verdicts == {"manojkiran.eda@gmail.com": "good"}


def test_a_typed_relay_address_is_read_as_the_address_the_store_knows(db, tmp_path):
    synced(db, mail(1, "Joel Stanley <joel@jms.id.au>", ME), mail(2, "Joel Stanley via B4 Relay "
                                                                    "<devnull+joel.jms.id.au@kernel.org>", ME))
    config = tmp_path / "kith.toml"
    config.write_text(f'[user]\naddresses = ["{ME}"]\n')
    record_feedback(db, load_config(config), "devnull+joel.jms.id.au@kernel.org", "noise", None)
    assert db.execute("SELECT address FROM feedback").fetchall() == [("joel@jms.id.au",)]
    assert relayed_sender("devnull+joel.jms.id.au@kernel.org") == "joel@jms.id.au"     # id.au: a second level


def test_a_company_whose_name_starts_with_mailman_is_no_list_server():
    assert not is_mailing_list("jo@mailmanagement.co.uk", set()) and not is_mailing_list("al@mailmanhq.com.au", set())
    assert is_mailing_list("linux-stm32@st-md-mailman.stormreply.com", set())


@pytest.mark.parametrize("stored", ["devnull+manojkiran.eda.gmail.com@kernel.org", "'manojkiran.eda'@gmail.com"])
def test_feedback_knows_a_person_whose_mail_holds_only_another_form_of_the_address(db, tmp_path, stored):
    synced(db, mail(1, f"Manojkiran Eda <{stored}>", ME))
    config = tmp_path / "kith.toml"
    config.write_text(f'[user]\naddresses = ["{ME}"]\n')
    assert record_feedback(db, load_config(config), "manojkiran.eda@gmail.com", "good", None) is True
    assert record_feedback(db, load_config(config), "nobody.yet@gmail.com", "good", None) is False


@pytest.mark.parametrize("sender", ["devnull+anna.firm.example@kernel.org", "'anna'@firm.example"])
def test_the_users_own_address_in_another_form_is_not_a_contact(db, sender):
    synced(db, mail(1, sender, "bob@firm.example"))
    assert set(load_facts(db, {"anna@firm.example"}, T0 + timedelta(days=30))) == set()


def test_spellings_of_one_name_count_together_and_show_the_fullest_way():
    """"Irena D Hogan" and "Irena D. Hogan" are one name: however the day's counts fall, it is shown one way
    (review 23: it changed from one digest to the next), and together they outweigh a third spelling."""
    from collections import Counter
    from daemon.contacts import merge_contacts
    for counts in ({"Irena D Hogan": 3, "Irena D. Hogan": 2, "Irena Hogan": 4},
                   {"Irena D Hogan": 2, "Irena D. Hogan": 3, "Irena Hogan": 4}):
        names = {"irena.hogan@enron.example": Counter(counts)}
        assert merge_contacts(list(names), names, (), (), {})["irena.hogan@enron.example"].name == "Irena D. Hogan"
    capitals = {"irena.hogan@enron.example": Counter({"Irena Hogan": 50, "IRENA HOGAN": 1})}
    assert merge_contacts(list(capitals), capitals, (), (), {})["irena.hogan@enron.example"].name == "Irena Hogan"


def test_one_stray_given_name_or_title_does_not_split_a_person():
    """One "Timothy Belden" or "Dr Tim Belden" among "Belden, Tim"s is still Tim (review 24)."""
    from collections import Counter
    from daemon.contacts import merge_contacts
    names = {"tim.belden@enron.example": Counter({"Tim Belden": 5}),
             "belden@enron.example": Counter({"Belden, Tim": 9, "Timothy Belden": 1, "Dr Tim Belden": 1})}
    contacts = merge_contacts(list(names), names, (), (), {})
    assert set(contacts["belden@enron.example"].addresses) == {"tim.belden@enron.example", "belden@enron.example"}



def test_a_department_after_a_dash_is_no_part_of_the_name():
    """"Lance Schuler-Legal" is Lance Schuler (review 25); a double surname stays ("Ana Garcia-Lopez")."""
    from daemon.contacts import usable_name
    assert usable_name("Lance Schuler-Legal", "lance.schuler-legal@enron.example") == "Lance Schuler"
    assert usable_name("Ana Garcia-Lopez", "ana@x.example") == "Ana Garcia-Lopez"



def test_a_stray_leading_quote_joins_the_address_it_spoils_when_that_one_is_known():
    """'swanstrom@enron.com beside swanstrom@enron.com is one address (review 25); alone it stays as written."""
    from daemon.contacts import person_addresses
    both = person_addresses(["'swanstrom@enron.example", "swanstrom@enron.example"])
    assert both["'swanstrom@enron.example"] == "swanstrom@enron.example"
    assert person_addresses(["'delainey@enron.example"]) == {"'delainey@enron.example": "'delainey@enron.example"}


def test_a_full_name_beats_a_lone_word_however_often_the_lone_word_was_written(db):
    """John Arnold's address book named Kim Ward's mangled address "houston" on 50 mails; her own 3 say
    "Ward, Kim S (Houston)" (review 26): the contact is Kim S Ward, not "houston"."""
    blocks = [mail(i, ME, "houston <.ward@enron.example>") for i in range(10)]
    blocks += [mail(20 + i, '"Ward, Kim S (Houston)" <.ward@enron.example>', ME) for i in range(3)]
    synced(db, *blocks)
    assert facts_of(db)[".ward@enron.example"].contact.name == "Kim S Ward"


def test_a_name_written_in_capitals_only_is_shown_as_a_name():
    from daemon.contacts import _unshouted
    assert _unshouted("GAIL DAVID") == "Gail David"
    assert _unshouted("JOHN G KLAUBERG") == "John G Klauberg"
    assert _unshouted("O'NEIL, MARY-ANNE") == "O'Neil, Mary-Anne"
    assert _unshouted("Gail David") == "Gail David" and _unshouted("IBM") == "IBM"


def test_a_contact_named_in_capitals_only_is_shown_with_capitals_and_small_letters(db):
    synced(db, *[mail(i, '"GAIL DAVID" <gdavid@law.example>', ME) for i in range(3)])
    assert facts_of(db)["gdavid@law.example"].contact.name == "Gail David"


def test_a_workflows_or_a_help_desks_name_is_a_robots():
    from daemon.contacts import robot_name
    for name in ("Performance Evaluation Process", "IT Help Desk", "Service Desk", "Workflow", "kernel test robot"):
        assert robot_name(name), name
    for name in ("Ioana Bot", "Ci Li", "Anna Berger", "Mary Desk"):
        assert not robot_name(name), name
