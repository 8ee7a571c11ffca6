#!/usr/bin/env python3
"""Generate Kith's sample data: Sam Keller's Maildir++ mailbox, calendars and SAMPLE.md.

Deterministic by construction: a fixed seed, fixed dates, hand-written time-zone rules
(no tz database, no local time, no locale), so every run writes byte-identical files.
Only the standard library is used.  Usage: python examples/generate_sample.py [--out DIR]
The data tables come first, then the generators (one per kind of correspondent), then output.
"""
from __future__ import annotations

import argparse
import base64
import random
import shutil
import statistics
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

UTC = timezone.utc
SEED = 20260303
START = date(2024, 9, 1)
CUTOFF = datetime(2026, 3, 3, 7, 0, tzinfo=UTC)        # Tue 3 March 2026, 08:00 Berlin
RECENT = datetime(2026, 2, 1, tzinfo=UTC)              # threads still going then end with Sam
VACATIONS = [(date(2024, 12, 23), date(2025, 1, 3)), (date(2025, 8, 4), date(2025, 8, 22))]
ZONES = {"berlin": (60, "eu"), "zurich": (60, "eu"), "paris": (60, "eu"), "london": (0, "eu"),
         "lisbon": (0, "eu"), "ny": (-300, "us"), "la": (-480, "us"), "kolkata": (330, None),
         "tokyo": (540, None), "utc": (0, None)}
PACE = {"work": (0.3, 6), "client": (2, 30), "friend": (2, 48), "slow": (70, 220)}   # reply delay, hours
DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
ME = ("sam", "home")
DTSTAMP = "20260301T120000Z"
FOLDERS = ["INBOX", "Sent", "Archive", "Lists.python-dev"]

# key: display name | address | time zone
PEOPLE = {k: tuple(v.split("|")) for k, v in (line.split(" ", 1) for line in """\
sam Sam Keller|sam.keller@northwind.example|berlin
home Sam Keller|sam@keller.example|berlin
anna Anna Berger|anna.berger@finlytics.example|berlin
tom Tom Weiss|tom.weiss@paybridge.example|berlin
lena Lena Koch|lena.koch@productcircle.example|berlin
petra Dr. Petra Lang|petra.lang@alpine-ventures.example|zurich
juergen Jürgen Müller|juergen.mueller@kontor-bank.example|berlin
jmueller Jürgen Müller|j.mueller@kontor-bank.example|berlin
jonas Jonas Hart|jonas.hart@paybridge.example|berlin
mira Mira Sol|mira.sol@finlytics.example|berlin
felix Felix Brandt|felix.brandt@hafen-capital.example|berlin
helene Hélène Roux|helene.roux@productcircle.example|paris
max Max Stein|max.stein@hafen-capital.example|berlin
ana Ana Costa|ana.costa@alpine-ventures.example|zurich
priya Priya Nair|priya@lumen-angels.example|kolkata
jan Jan de Vries|jan.devries@productcircle.example|berlin
olivia Olivia Brooks|olivia.brooks@productcircle.example|london
oliver Oliver Grant|oliver.grant@finlytics.example|berlin
sophie Sophie Laurent|sophie.laurent@kontor-bank.example|berlin
katrin Katrin Vogel|katrin.vogel@paybridge.example|berlin
ben Ben Fischer|ben.fischer@northwind.example|berlin
clara Clara Nguyen|clara.nguyen@northwind.example|berlin
david David Okafor|david.okafor@northwind.example|berlin
eva Eva Schmitt|eva.schmitt@northwind.example|berlin
soeren Sören Jansen|soeren.jansen@northwind.example|berlin
greta Greta Lindqvist|greta.lindqvist@northwind.example|berlin
farid Farid Haddad|farid.haddad@northwind.example|berlin
zoe Zoë Martin|zoe.martin@mailbox.example|berlin
luca Luca Rossi|luca.rossi@posteo.example|zurich
mia Mia Hoffmann|mia.hoffmann@webpost.example|berlin
dan Daniel Kim|dan.kim@hudsonlabs.example|ny
paula Paula Reyes|paula@reyes-design.example|lisbon
wolf Heike Wolf|h.wolf@wolf-steuer.example|berlin
becker Klaus Becker|k.becker@becker-hausverwaltung.example|berlin
praxis Praxis Dr. Yilmaz|praxis@hausarzt-yilmaz.example|berlin
support DomainHost Support|support@domainhost.example|utc
fintechweekly Fintech Weekly|news@fintechweekly.example|utc
productletter The Product Letter|digest@productletter.example|ny
vcbriefing VC Briefing|hello@vc-briefing.example|london
berlinstartups Berlin Startup Digest|newsletter@berlin-startups.example|berlin
calbot Calendar|notifications@calendar-robot.example|utc
ledger northwind/ledger|ledger@noreply.github.example|utc
cloudvendor Ryan Cole|sales@cloudvendor.example|la
billing CloudHost Billing|billing@cloudhost.example|utc
coworking Coworking Mitte|info@coworking-mitte.example|berlin
pydev |python-dev@lists.example|utc""".splitlines())}
COLLEAGUES = ["ben", "clara", "david", "eva", "soeren", "greta", "farid"]
JOINED = {"farid": date(2025, 4, 1)}
CANON = {"jmueller": "juergen"}                     # an alias: same person, same display name
BASE64_NAMES = {"zoe", "cold_lea"}                  # their mailers use B encoding, the rest Q
HOSTS = {"sam": "mail.northwind.example", "home": "keller.example", "calbot": "calendar-robot.example"}
GITHUB_ACTORS = []
for _k in ("ben", "clara", "david", "greta"):      # robot mail with a colleague's display name
    PEOPLE["gh_" + _k] = (PEOPLE[_k][0], "noreply@github.example", "utc")
    GITHUB_ACTORS.append("gh_" + _k)

# python-dev posters: name | address | zone
LIST_KEYS = []
for _i, _line in enumerate("""\
Guido Brandl|guido@brandl.example|zurich
Ewa Nowak|ewa.nowak@pk-edu.example|berlin
Hiroshi Tanaka|htanaka@kyoto-u.example|tokyo
Marta Ferreira|marta@ferreira.example|lisbon
Raymond Chu|rchu@pyfound.example|la
Inès Moreau|ines.moreau@labo.example|paris
Victor Stanko|victor@stanko.example|berlin
Aisha Bello|aisha.bello@devmail.example|london
Karl Sørensen|karl@sorensen.example|berlin
Priyanka Rao|priyanka@rao-dev.example|kolkata
Samuel Ortiz|sortiz@cpython-dev.example|ny
Nadia Petrova|nadia@petrova.example|berlin
Tim Baxter|tim@baxter.example|london
Lukas Brenner|lukas.brenner@uni-graz.example|zurich
Emily Zhang|emily.zhang@pydata.example|la
Oscar Lindholm|oscar@lindholm.example|berlin
Françoise Didier|fdidier@free-py.example|paris
Daniel Weber|dweber@weber.example|berlin
Yusuf Demir|yusuf@demir.example|berlin
Grace Adeyemi|grace@adeyemi.example|london""".splitlines()):
    PEOPLE[f"list{_i}"] = tuple(_line.split("|"))
    LIST_KEYS.append(f"list{_i}")

# cold senders (wrote once, never answered): key | date | time | name | address | zone | subject
COLD = []
for _line in """\
cold_marsh|2024-09-17|15:20|Kevin Marsh|kevin@growthhackers.example|ny|Quick question about Northwind's growth
cold_pohl|2024-10-08|09:05|Sandra Pohl|s.pohl@talentbridge.example|berlin|PM role at a Series B fintech - interested?
cold_mehta|2024-11-12|10:40|Arjun Mehta|arjun@ledgerly.example|kolkata|Partnership: payments API for fintechs
cold_roth|2024-12-02|13:15|Nadine Roth|nadine.roth@eventmaker.example|berlin|Speaker invitation: Banking Summit 2025
cold_baker|2025-01-21|11:00|Chris Baker|chris@seo-wizards.example|london|Your website's SEO
cold_lea|2025-02-18|10:30|Léa Girard|lea.girard@fundfinder.example|paris|Series A investors list for Northwind
cold_jensen|2025-03-25|08:45|Mark Jensen|mark.jensen@devshop.example|berlin|Outsourcing your backend development
cold_sato|2025-05-06|17:10|Yuki Sato|yuki@translate-pro.example|tokyo|Localization for your app
cold_lindgren|2025-06-10|14:00|Oskar Lindgren|oskar@nordicpay.example|berlin|Instant payments white paper
cold_lowe|2025-07-22|12:30|Brenda Lowe|brenda@conf-leads.example|ny|Attendee list: Money20/20 Europe
cold_graf|2025-09-02|09:50|Tobias Graf|t.graf@recruit-now.example|berlin|Ihr Profil passt: Head of Product (m/w/d) in München
cold_frost|2025-10-14|16:05|Hannah Frost|hannah@podcast-fin.example|london|Guest spot on our fintech podcast?
cold_karim|2025-11-25|10:10|Ahmed Karim|ahmed.karim@cloudsecure.example|berlin|Security audit offer for Northwind
cold_wendt|2026-01-13|11:25|Julia Wendt|julia.wendt@venture-scout.example|berlin|Seed round: would you take a call?
cold_novak|2026-02-10|08:35|Peter Novak|peter.novak@bizdev-partners.example|berlin|Follow up: partnership
cold_kraft|2026-02-27|15:45|Ines Kraft|ines@startup-awards.example|berlin|Nominierung: Fintech-Startup des Jahres""".splitlines():
    _key, _day, _hhmm, *_who, _subject = _line.split("|")
    PEOPLE[_key] = tuple(_who)
    COLD.append((_key, _day, _hhmm, _subject))

# Who writes on which rhythm: key, Sam's address, first, last, gap (days), share of threads Sam
# starts, longest thread, reply pace, topic, optional (Cc person, chance)
RHYTHMS = [
    ("anna", "sam", "2024-09-04", "2025-11-25", 17, .6, 6, "client", "pilot", None),
    ("tom", "sam", "2024-09-18", "2026-01-12", 42, .5, 4, "client", "paybridge", None),
    ("juergen", "sam", "2024-09-10", "2026-02-20", 30, .5, 5, "client", "kontor", ("sophie", .25)),
    ("jonas", "sam", "2024-10-01", "2026-02-24", 21, .5, 5, "client", "payments", None),
    ("mira", "sam", "2024-09-16", "2026-02-25", 21, .5, 5, "client", "payments", ("oliver", .15)),
    ("petra", "sam", "2024-09-09", "2026-02-23", 30, .55, 4, "client", "investor", ("ana", .2)),
    ("felix", "sam", "2024-09-02", "2025-03-10", 8, .5, 6, "client", "investor", None),
    ("helene", "sam", "2024-10-14", "2026-01-26", 60, .4, 3, "client", "product", None),
    ("max", "sam", "2024-11-05", "2026-01-20", 80, .6, 3, "client", "investor", None),
    ("priya", "sam", "2024-10-20", "2025-12-10", 90, .5, 3, "client", "investor", None),
    ("jan", "sam", "2024-09-25", "2026-02-12", 50, .5, 4, "client", "product", None),
    ("olivia", "sam", "2025-01-15", "2026-02-05", 70, .5, 3, "client", "product", None),
    ("oliver", "sam", "2024-10-10", "2025-10-30", 75, .5, 3, "client", "finlytics", None),
    ("paula", "sam", "2025-01-20", "2025-09-30", 40, .6, 4, "client", "design", None),
    ("wolf", "home", "2024-09-20", "2026-02-10", 90, .6, 3, "client", "tax", None),
    ("zoe", "home", "2024-09-06", "2026-02-27", 18, .5, 5, "friend", "friends", None),
    ("mia", "home", "2024-09-12", "2026-02-22", 32, .5, 4, "friend", "friends", None),
    ("dan", "home", "2024-10-02", "2026-01-30", 60, .5, 4, "friend", "friends", None),
    ("luca", "home", "2024-09-08", "2025-06-30", 24, .5, 4, "friend", "friends", None),
    ("luca", "home", "2025-07-15", "2026-01-25", 40, 1.0, 2, "slow", "friends", None),   # going cold
]

TOPICS = {k: v.split("|") for k, v in {
    "pilot": "Pilot scope for Q4|Finlytics pilot: kickoff agenda|Payments API sandbox access|Pilot feedback round"
             "|Contract draft for the pilot|Banking partner shortlist|Q1 pilot review|Reconciliation edge cases"
             "|Pilot metrics dashboard|Next steps after the steering call|Pricing for the pilot extension"
             "|Fraud checks in the pilot|Quick question on settlement times|Q2 pilot numbers"
             "|Pilot extension: legal sign-off|Onboarding flow feedback|Go-live checklist",
    "finlytics": "Finlytics budget for 2025|Security review documents|Invoice question|Steering committee dates",
    "paybridge": "PayBridge API rate limits|Settlement reports|Card payments roadmap|Intro call follow-up"
                 "|PayBridge partner program|Chargeback handling|Quarterly check-in|Banking licence question",
    "kontor": "Anbindung SEPA Instant|Rückfragen zum Rahmenvertrag|Zahlungsverkehr: Testumgebung"
              "|Termin für den Jour fixe|Unterlagen für die Prüfung|Freigabe der Schnittstelle|Grüße aus Frankfurt"
              "|Kurze Rückfrage zu Gebühren|Änderungen im Zahlungsverkehr 2025|Protokoll vom Workshop"
              "|Pilotphase: nächste Schritte|Datenschutz-Folgenabschätzung",
    "payments": "SEPA Instant rollout|Payment orchestration notes|Fraud rules for instant payments|Webhook retries"
                "|Open banking consent flows|PSD3 reading list|Payments meetup in Berlin?"
                "|Idempotency keys in payment APIs|Request-to-pay pilots|Reconciliation at scale"
                "|Instant payments and liquidity|Your talk on payment rails",
    "investor": "Investor update: what's new at Northwind|Seed extension: term sheet questions|Series A timing"
                "|Intro to a portfolio founder|Board deck draft|Market map for SME payments"
                "|Finanzierung: KfW options|Coffee next time you're in Munich?|Hiring plan for 2025"
                "|Runway and burn, quick sanity check|Customer references for diligence",
    "product": "PM role at a fintech: your take?|Product management reading list|Roadmap workshop slides"
               "|Mentoring session notes|Product Circle: talk proposal|Discovery interviews template"
               "|Product Circle meetup: save the date|Career ladder for PMs",
    "design": "Landing page drafts|Invoice for the design work|Logo variations|Onboarding illustrations",
    "tax": "Unterlagen Steuererklärung 2024|Rückfrage zur Umsatzsteuer|Termin im Februar|Belege Q3"
           "|Grundsteuer: Bescheid",
    "friends": "Dinner on Friday?|Photos from the weekend|Climbing on Sunday?|Book recommendation|Concert tickets"
               "|Long time no see|The recipe you asked for|Running club on Thursday|Trip to Lisbon"
               "|Board game night|Birthday plans|Flat-warming party",
    "team": "Sprint planning notes|Release checklist|Hiring: backend engineer|Customer call recap"
            "|Roadmap draft for next quarter|Incident review|Offsite agenda|Pricing page copy"
            "|Security questionnaire|Data retention policy|Standup moved to 9:45"
            "|Quick question about the ledger export|Demo for Finlytics|OKR check-in|Expense policy update"
            "|Design review|Docs for the API v2|Feedback on the pitch deck|Lunch?|Support rota"
            "|Board meeting prep|Bug in the FX conversion|Wie war der Workshop?|Travel to Frankfurt",
    "vendor": "Quick question, Sam|Cut your cloud bill by 30%|Still interested?|Case study: fintech on CloudVendor"
              "|15 minutes next week?|Your free migration assessment|Last chance: partner pricing",
    "coworking": "Hausmitteilung: Heizungswartung|Neue Öffnungszeiten am Empfang|Einladung zum Sommerfest"
                 "|Ihre Rechnung für den Arbeitsplatz|Reinigung der Küche",
    "fintechweekly": "Open banking, one year on|The payments stack explained|Who is winning SME banking"
                     "|Instant payments everywhere|Fintech funding in numbers|Embedded finance, again",
    "productletter": "Roadmaps that survive contact|The product management career ladder"
                     "|Saying no to customers|Metrics that matter|Discovery for B2B|Writing good specs",
    "vcbriefing": "Seed rounds are getting bigger|Series A in Europe this quarter|What a term sheet hides"
                  "|Investors to watch|Secondaries explained|The fundraising calendar",
    "berlinstartups": "Neue Gründungen in Berlin|Finanzierung: die Runden der Woche|Events im Kiez"
                      "|Jobs in Berliner Startups|Gründerinnen im Porträt",
}.items()}
NEWSLETTERS = [  # key, weekday, time, every n weeks, List-Id
    ("fintechweekly", 3, "07:00", 1, "Fintech Weekly <weekly.fintechweekly.example>"),
    ("productletter", 6, "08:00", 1, "The Product Letter <letter.productletter.example>"),
    ("vcbriefing", 1, "06:00", 1, "VC Briefing <briefing.vc-briefing.example>"),
    ("berlinstartups", 4, "09:00", 2, "Berlin Startup Digest <digest.berlin-startups.example>"),
]
PR_TITLES = ["Fix rounding in FX conversion", "Add SEPA Instant status codes", "Bump dependencies",
             "Ledger export: CSV encoding", "Retry webhooks with backoff", "Refactor settlement job",
             "Docs: API v2 quickstart", "Speed up reconciliation query", "Audit log for admin actions",
             "Remove legacy card flow", "Flaky test in payouts", "Feature flag for pilot customers"]
LIST_TOPICS = ["PEP 9999: Deferred evaluation of defaults", "Deprecating the telnetlib leftovers",
               "Free-threading status update", "Release schedule for the next version",
               "Buildbot failures on ARM", "Proposal: stricter datetime parsing", "Summary of the core sprint",
               "Typing: TypeForm discussion", "Change to the default hash seed", "Windows installer changes",
               "Stable ABI and the limited API", "Docs translation workflow", "Security release announcement"]

# work.ics: uid, summary, start, minutes (all-day: days), organizer, attendees, extra properties
TEAM = [("sam", "ACCEPTED")] + [(c, "ACCEPTED") for c in COLLEAGUES[1:6]]
EVENTS = [
    ("team-sync@kith-sample.example", "Weekly team sync", "2024-09-02T10:00", 45, "ben", TEAM,
     {"rrule": "FREQ=WEEKLY;BYDAY=MO", "exdate": "20251229T100000"}),
    ("team-sync@kith-sample.example", "Weekly team sync (moved to Tuesday)", "2025-10-07T14:00", 45, "ben", TEAM,
     {"recurrence_id": "20251006T100000", "sequence": 1}),
    ("finlytics-kickoff@kith-sample.example", "Finlytics pilot kickoff", "2024-10-08T14:00", 90, "sam",
     [("sam", "ACCEPTED"), ("anna", "ACCEPTED"), ("mira", "ACCEPTED"), ("oliver", "TENTATIVE"),
      ("clara", "ACCEPTED")], {}),
    ("paybridge-review@kith-sample.example", "PayBridge integration review", "2025-05-14T11:00", 60, "tom",
     [("sam", "ACCEPTED"), ("tom", "ACCEPTED"), ("jonas", "ACCEPTED"), ("katrin", "ACCEPTED"),
      ("david", "ACCEPTED")], {}),
    ("investor-call-2025q4@kith-sample.example", "Investor update call", "2025-11-18T16:00", 60, "sam",
     [("sam", "ACCEPTED"), ("petra", "ACCEPTED"), ("ana", "ACCEPTED"), ("max", "DECLINED"),
      ("priya", "TENTATIVE"), ("ben", "ACCEPTED")], {}),
    ("vendor-demo@kith-sample.example", "CloudVendor demo", "2025-03-05T17:00", 30, "cloudvendor",
     [("sam", "DECLINED")], {}),
    ("product-circle-meetup@kith-sample.example", "Product Circle meetup", "2025-06-12T18:30", 120, "jan",
     [("sam", "TENTATIVE"), ("jan", "ACCEPTED"), ("helene", "ACCEPTED"), ("olivia", "ACCEPTED")], {}),
    ("anna-20260120@kith-sample.example", "Finlytics pilot check-in", "2026-01-20T10:00", 45, "anna",
     [("sam", "ACCEPTED"), ("anna", "ACCEPTED")], {"cancelled": True, "sequence": 2}),
    ("lena-coffee@kith-sample.example", "Coffee: PM career chat", "2026-03-02T09:00", 45, "sam",
     [("sam", "ACCEPTED"), ("lena", "ACCEPTED")], {}),
    ("offsite-2025@kith-sample.example", "Team offsite", "2025-05-21", 2, "ben", TEAM, {}),
    ("fintech-week-2025@kith-sample.example", "Fintech Week Frankfurt", "2025-10-14", 3, None, [], {}),
    ("vacation-2024@kith-sample.example", "Vacation", "2024-12-23", 12, None, [], {}),
    ("vacation-2025@kith-sample.example", "Vacation", "2025-08-04", 19, None, [], {}),
    ("roadmap-review-2026@kith-sample.example", "Roadmap review", "2026-03-05T13:00", 90, "ben", TEAM, {}),
    ("kontor-20260310@kith-sample.example", "Jour fixe Kontor Bank", "2026-03-10T10:00", 60, "sam",
     [("sam", "ACCEPTED"), ("juergen", "NEEDS-ACTION")], {}),
    ("petra-20260312@kith-sample.example", "Alpine Ventures catch-up", "2026-03-12T15:00", 45, "petra",
     [("sam", "NEEDS-ACTION"), ("petra", "ACCEPTED")], {}),
]
MEETING_RHYTHMS = [  # key, summary, first, last, gap (days), who else comes to every third one
    ("anna", "Finlytics pilot check-in", "2024-11-05", "2025-12-09", 42, ["clara"]),
    ("petra", "Alpine Ventures catch-up", "2024-09-19", "2026-02-12", 60, ["ana"]),
    ("juergen", "Jour fixe Kontor Bank", "2024-10-22", "2026-01-27", 90, ["sophie"]),
    ("jonas", "PayBridge API sync", "2024-11-12", "2026-01-16", 120, []),
    ("mira", "Payments deep-dive", "2025-01-28", "2026-02-17", 110, []),
    ("felix", "Lunch", "2024-09-26", "2025-02-28", 70, []),
]
BIRTHDAYS = [("zoe", "1991-03-05"), ("anna", "1986-07-14"), ("juergen", "1972-01-23"), ("petra", "1979-06-08"),
             ("tom", "1983-09-30"), ("luca", "1990-11-02"), ("mia", "1992-12-12"), ("ben", "1981-08-03"),
             ("felix", "1985-04-17")]
VTIMEZONE = ["BEGIN:VTIMEZONE", "TZID:Europe/Berlin", "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200",
             "TZNAME:CEST", "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
             "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET", "DTSTART:19701025T030000",
             "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD", "END:VTIMEZONE"]

CAST = [  # key, goal, role (for the SAMPLE.md table)
    ("anna", "Fintech customers", "client (Finlytics pilot); lapsed"), ("tom", "Fintech customers", "PayBridge; owed a reply"),
    ("lena", "Product career", "new; first meeting 2026-03-02"), ("petra", "Investors", "investor; focus person"),
    ("juergen", "Fintech customers", "Kontor Bank; alias j.mueller@"), ("jonas", "Fintech customers", "payments (PayBridge)"),
    ("mira", "Fintech customers", "payments (Finlytics)"), ("felix", "Investors", "former colleague; dormant since 2025-03"),
    ("helene", "Product career", "helped: intro on 2026-02-20"), ("max", "Investors", "passive"),
    ("ana", "Investors", "Petra's associate (Cc, meetings)"), ("priya", "Investors", "angel, passive"),
    ("jan", "Product career", "Product Circle"), ("olivia", "Product career", "Product Circle London"),
    ("oliver", "Fintech customers", "Finlytics"), ("sophie", "Fintech customers", "Kontor Bank (Cc, meetings)"),
    ("katrin", "Fintech customers", "PayBridge Munich (Cc on Tom's intro)"),
    *[(c, "–", "colleague" + (", joined 2025-04" if c == "farid" else "")) for c in COLLEAGUES],
    ("zoe", "–", "friend; birthday 03-05"), ("mia", "–", "friend"), ("dan", "–", "friend, New York"),
    ("luca", "–", "friend going cold"), ("paula", "–", "freelance designer (2025)"), ("wolf", "–", "tax adviser"),
    ("becker", "–", "landlord; Sam wrote 2×"), ("praxis", "–", "doctor's office; Sam wrote 3×"),
    ("support", "–", "role address; Sam wrote 2×"),
]
FOLDER_NOTES = {"INBOX": "received mail, newsletters, robots", "Sent": "everything Sam sent (both addresses)",
                "Archive": "older received threads; one duplicate copy", "Lists.python-dev": "python-dev list traffic"}

SAMPLE_MD = """\
# The Kith sample: Sam Keller's mail and calendar

Generated by `python examples/generate_sample.py` (seed {seed}); do not edit the files by hand:
change the generator, run it, commit the result. Running it twice gives byte-identical files
(`tests/test_sample_data.py` checks that). All names, addresses and domains are invented
(`.example`). Messages have headers only and the body line `(sample body)`.

The sample's **last day is Tuesday 3 March 2026**: a digest is made "as of" 08:00
Europe/Berlin that morning. No mail is dated later; `work.ics` holds future events
(team syncs, 5/10/12 March) that a reader must ignore as of that date.

## Files

| folder (Maildir++, under `mail/`) | cur/ | new/ | what |
|---|---:|---:|---|
{folders}

{total} messages in all, {sent} of them in `.Sent`, from 1 September 2024 to 3 March 2026.
`new/` holds mail nobody has opened yet: unanswered inbox mail since 17:00 the evening before,
list mail since 1 March, Sam's phone copies in `.Sent/new` (filed there by a server-side
Bcc-to-self rule) and one filter copy in `.Archive/new`. Each `tmp/` holds an empty `.gitkeep` only so that git keeps the folder.

- `calendar/work.ics` (X-WR-CALNAME:Work): a weekly team sync (RRULE, one EXDATE on 29 Dec 2025,
  the 6 Oct 2025 occurrence moved to Tue 7 Oct 14:00 via RECURRENCE-ID), one-to-ones and group
  meetings with ORGANIZER/ATTENDEE (PARTSTAT ACCEPTED/DECLINED/TENTATIVE/NEEDS-ACTION), one
  cancelled event, all-day events (offsite, conference, vacations). SUMMARY only, no DESCRIPTION.
- `calendar/birthdays.ics` (X-WR-CALNAME:Birthdays): yearly all-day events "Anna Berger's
  birthday" etc., CATEGORIES:BIRTHDAY, DTSTART in the birth year. No attendees: match by name.

## The user and the goals

Sam Keller, time zone Europe/Berlin, works at Northwind. Addresses: `sam.keller@northwind.example`
(work, most mail) and `sam@keller.example` (personal: friends, landlord, doctor, domain host).

```toml
[user]
addresses = ["sam.keller@northwind.example", "sam@keller.example"]
timezone = "Europe/Berlin"

[[goals]]
name = "Fintech customers"
keywords = ["fintech", "payments", "banking", "pilot", "Zahlungsverkehr"]
domains = ["finlytics.example", "paybridge.example", "kontor-bank.example"]

[[goals]]
name = "Investors"
keywords = ["seed", "series A", "term sheet", "investor update", "Finanzierung"]
domains = ["alpine-ventures.example", "hafen-capital.example"]

[[goals]]
name = "Product career"
keywords = ["product management", "roadmap", "PM role", "mentoring"]
domains = ["productcircle.example"]
```

## The cast

Computed from the generated files. "mail in / out" counts direct messages from the person to
Sam and from Sam to them (To or Cc); meetings are non-cancelled calendar events up to 3 March
2026 with them as attendee (not declined), not counting the weekly team sync; "median gap" is the
median number of days between the starts of conversations (a thread's first direct message, or
a meeting): the person's natural rhythm.

| name | address | goal | role | mail in / out | meetings | first | last | median gap | last subject |
|---|---|---|---|---:|---:|---|---|---:|---|
{cast}

Everyone else is noise: four newsletters (List-Id, List-Unsubscribe, Precedence: bulk:
`news@fintechweekly.example`, `digest@productletter.example`, `hello@vc-briefing.example`,
`newsletter@berlin-startups.example`), robots with `Auto-Submitted: auto-generated`
(`noreply@github.example`, which uses colleagues' display names; `notifications@calendar-robot.example`;
`billing@cloudhost.example`), the python-dev list (20 posters, List-Id
`<python-dev.lists.example>`, folder `.Lists.python-dev`; Sam posted three times, so those
three Message-IDs are both in `.Sent` and in the list folder), `sales@cloudvendor.example`
("Ryan Cole", every Wednesday, **no** bulk headers, never answered), `info@coworking-mitte.example`,
and 16 cold senders who wrote once and got no answer (several with goal keywords in the subject).

## What the digest for Tuesday 3 March 2026 should surface

1. **Reconnect: Anna Berger** (Fintech customers). Threads every 2–3 weeks from September 2024;
   the last contact is 22 December 2025 (Sam closed the "Q3 pilot numbers" thread), **71 days**
   before 3 March. Sam started {anna_threads} threads with her and she answered {anna_answered}
   of them ({anna_2025} were started in 2025). The 20 January 2026 "Finlytics pilot check-in" is
   STATUS:CANCELLED and must not count as contact.
2. **You owe a reply: Tom Weiss**. He wrote on 26 February 2026 ("Intro to the Munich team",
   Cc Katrin Vogel, flagged); nothing from Sam since. Every other personal thread with
   a message after 1 February 2026 ends with Sam. Not owed: Ines Kraft's cold mail of 27 February, the vendor, robots.
3. **Follow up on yesterday: Lena Koch** (Product career). First meeting: "Coffee: PM career
   chat", Mon 2 March 09:00–09:45, organised by Sam, Lena ACCEPTED. Before it she was only in Cc
   on Hélène Roux's introduction (20 February) and wrote once to arrange it (24 February, answered).
4. **Give first.**
   - Introduction: **Jonas Hart** (PayBridge) and **Mira Sol** (Finlytics) both talk payments with
     Sam every few weeks and never share a thread or a meeting. (Tom/Jonas/Katrin share PayBridge
     threads and a meeting; Anna/Mira/Oliver met at the Finlytics kickoff.)
   - **Hélène Roux** introduced Lena on 20 February; Sam only thanked her briefly.
   - **Zoë Martin's birthday** is Thursday 5 March (birthdays.ics): a reason to call.
5. **Focus person: Dr. Petra Lang** (Investors): mail every few weeks, a meeting about every two
   months (last in February), the next one (12 March, NEEDS-ACTION) is in the future.
6. **Network for "Investors"**: Petra active; Max Stein, Priya Nair and Ana Costa passive;
   **Felix Brandt** dormant (weekly in 2024, nothing since March 2025); nobody new this quarter.
   Luca Rossi (friend, no goal) is **cooling**: since July 2025 Sam starts every thread, answers
   take days, and Sam's 8 February "Ski weekend in March?" is unanswered.
7. **Never noise** despite low volume: Klaus Becker (landlord), Praxis Dr. Yilmaz and DomainHost
   support — Sam wrote to each at least twice.

## Quirks a reader must survive

- Display names and German subjects are RFC 2047 encoded (`=?utf-8?q?J=C3=BCrgen_M=C3=BCller?=`;
  Zoë Martin's mailer uses B encoding); long Cc and References lines are folded.
- Jürgen Müller also writes as `j.mueller@kontor-bank.example` (same display name, same
  threads); German replies use `AW:`.
- Date headers use each sender's offset (+0100/+0200 for Berlin by the EU DST rules, -0500/-0400,
  +0530, +0900, +0000).
- The doctor's office reply of 15 January 2025 has no Message-ID.
- One Jürgen Müller message is in the inbox and again in `.Archive/new` (same bytes, same Message-ID).
- Ahmed Karim's cold mail has `Date: sometime last week` (the file name still carries the real time).
- The CloudHost invoice of 1 July 2025 ends its header block with a garbage line
  (`=== billing-gateway 2.3 ===`); Python's parser treats it as the start of the body, after
  all the real headers.
- Support tickets start with an `Auto-Submitted: auto-replied` acknowledgement, then a human reply.
"""


# ---------------------------------------------------------------- time zones and headers
def _last_sunday(y: int, m: int) -> date:
    d = date(y, m + 1, 1) - timedelta(days=1)
    return d - timedelta(days=(d.weekday() + 1) % 7)


def _nth_sunday(y: int, m: int, n: int) -> date:
    d = date(y, m, 1)
    return d + timedelta(days=(6 - d.weekday()) % 7 + 7 * (n - 1))


def _at(d: date, minutes: int) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(minutes=minutes)


def offset(utc: datetime, zone: str) -> int:
    """Minutes east of UTC in `zone` at `utc` (EU and US daylight-saving rules)."""
    std, rule = ZONES[zone]
    if rule == "eu":
        begin, end = _at(_last_sunday(utc.year, 3), 60), _at(_last_sunday(utc.year, 10), 60)
    elif rule == "us":
        begin = _at(_nth_sunday(utc.year, 3, 2), 120 - std)
        end = _at(_nth_sunday(utc.year, 11, 1), 60 - std)
    else:
        return std
    return std + 60 if begin <= utc < end else std


def to_utc(local: datetime, zone: str) -> datetime:
    naive = local.replace(tzinfo=UTC)
    return naive - timedelta(minutes=offset(naive - timedelta(minutes=ZONES[zone][0]), zone))


def at(day: str | date, hhmm: str, zone: str = "berlin") -> datetime:
    d = date.fromisoformat(day) if isinstance(day, str) else day
    return to_utc(datetime.combine(d, time.fromisoformat(hhmm)), zone)


def rfc_date(utc: datetime, zone: str) -> str:
    off = offset(utc, zone)
    loc = utc + timedelta(minutes=off)
    sign, (h, m) = "+" if off >= 0 else "-", divmod(abs(off), 60)
    return (f"{DAYS[loc.weekday()]}, {loc.day:02d} {MONTHS[loc.month - 1]} {loc.year} "
            f"{loc.hour:02d}:{loc.minute:02d}:{loc.second:02d} {sign}{h:02d}{m:02d}")


def encode_words(text: str, b64: bool = False) -> str:
    """RFC 2047 encoded words for non-ASCII text (Q by default, as most mailers do)."""
    if text.isascii():
        return text
    if b64:
        return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="
    plain = text.split(" ")
    plain = " ".join(plain[:next(i for i, w in enumerate(plain) if not w.isascii())])  # "Re: " stays
    words, cur = [], ""
    for ch in text[len(plain):].lstrip(" "):
        piece = ("_" if ch == " " else ch if ch.isascii() and (ch.isalnum() or ch in "!*+-/")
                 else "".join(f"={b:02X}" for b in ch.encode()))
        if len(cur) + len(piece) > 60:
            words, cur = words + [cur], ""
        cur += piece
    return (plain + " " if plain else "") + "\n ".join(f"=?utf-8?q?{w}?=" for w in words + [cur])


def fmt_addr(key: str) -> str:
    name, email = PEOPLE[key][:2]
    if not name:
        return email
    if not name.isascii():
        name = encode_words(name, key in BASE64_NAMES)
    elif any(c in name for c in '.,()<>@:;"'):
        name = f'"{name}"'
    return f"{name} <{email}>"


def fmt_addrs(keys: list[str]) -> str:
    parts = [fmt_addr(k) for k in keys]
    return ", ".join(parts) if sum(map(len, parts)) < 64 else ",\n ".join(parts)


# ---------------------------------------------------------------- the message store
class Sample:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.msgs: list[dict] = []
        self.events: list[dict] = []
        self.threads = 0
        self.topic_pos: dict[str, int] = {}

    def msg(self, when: datetime, sender: str, to: list[str], subject: str, cc=(), parent=None,
            extra=(), folder: str | None = None, thread: int | None = None) -> dict:
        host = HOSTS.get(sender) or PEOPLE[sender][1].split("@")[1]
        when = when.replace(second=self.rng.randrange(60), microsecond=0)
        uniq = f"{when:%Y%m%d%H%M%S}.{len(self.msgs) + 1:05d}.{self.rng.getrandbits(32):08x}"
        m = {"utc": when, "sender": sender, "to": list(to), "cc": list(cc), "subject": subject,
             "folder": folder or ("Sent" if sender in ME else "INBOX"), "flags": "S",
             "extra": list(extra), "mid": f"<{uniq}@{host}>", "irt": None, "refs": [],
             "thread": thread if thread is not None else self.new_thread()}
        if parent:
            m["irt"], m["refs"] = parent["mid"], (parent["refs"] + [parent["mid"]])[-8:]
            if sender in ME and parent["sender"] not in ME:
                parent["flags"] = "RS"
        self.msgs.append(m)
        return m

    def new_thread(self) -> int:
        self.threads += 1
        return self.threads

    def chain(self, subject: str, steps: list[tuple], reply: str = "Re: ") -> list[dict]:
        """A scripted thread: steps are (when, sender, to, cc)."""
        out, tid = [], self.new_thread()
        for i, (when, sender, to, cc) in enumerate(steps):
            out.append(self.msg(when, sender, to, (reply if i else "") + subject, cc,
                                out[-1] if out else None, thread=tid))
        return out

    def fit(self, t: datetime, zone: str, work: bool) -> datetime:
        """Move `t` into plausible hours for someone in `zone` (office hours for work mail)."""
        loc = t + timedelta(minutes=offset(t, zone))
        lo, hi = (8, 19) if work else (8, 23)
        day = loc.date() + timedelta(days=1 if loc.hour >= hi else 0)
        if lo <= loc.hour < hi and not (work and day.weekday() >= 5):
            return t
        while work and day.weekday() >= 5:
            day += timedelta(days=1)
        return to_utc(datetime.combine(day, time(lo)) + timedelta(minutes=self.rng.randint(5, 150)), zone)

    def start(self, d: date, zone: str, work: bool) -> datetime:
        hour = self.rng.uniform(8.5, 17.5) if work else self.rng.uniform(9, 22)
        t = to_utc(datetime.combine(d, time()) + timedelta(hours=hour), zone)
        return self.fit(t, zone, work)

    def dates(self, first: date, last: date, gap: float, work: bool) -> list[date]:
        out, d = [], first
        while d <= last:
            for a, b in VACATIONS:
                if work and a <= d <= b:
                    d = b + timedelta(days=self.rng.randint(1, 4))
            if d <= last:
                out.append(d)
            d += timedelta(days=max(2, round(gap * self.rng.uniform(0.7, 1.3))))
        return out + [last] if out and (last - out[-1]).days > gap / 2 else out   # active until `last`

    def subject(self, topic: str) -> str:
        subjects = TOPICS[topic]
        pos = self.topic_pos.setdefault(topic, self.rng.randrange(len(subjects)))
        self.topic_pos[topic] = pos + 1
        return subjects[pos % len(subjects)]

    def thread(self, t: datetime, subject: str, me: str, side: list[str], n: int, sam_starts: bool,
               pace: str, cc=(), reply: str = "Re: ", alias_at: int = -1) -> list[dict]:
        """A back-and-forth thread between Sam (`me`) and `side` (+ `cc`), replies to all."""
        everyone, tid, out = [me, *side, *cc], self.new_thread(), []
        work = me == "sam"
        for i in range(n):
            if i == 0:
                sender, to = (me, list(side)) if sam_starts else (side[0], [me])
                ccs = [p for p in everyone if p not in (sender, *to)]
            else:
                prev = out[-1]["sender"]
                pool = [p for p in everyone if p != CANON.get(prev, prev)]
                sender = pool[0] if len(everyone) == 2 else self.rng.choice(pool)
                if i == alias_at and sender == "juergen":
                    sender = "jmueller"
                to = [prev]
                ccs = [p for p in everyone if p not in (CANON.get(sender, sender), CANON.get(prev, prev))]
                t = self.fit(t + timedelta(hours=self.rng.uniform(*PACE[pace])), PEOPLE[sender][2], work)
            if t > CUTOFF:
                break
            out.append(self.msg(t, sender, to, (reply if i else "") + subject, ccs, out[-1] if out else None,
                                thread=tid))
        if out and out[-1]["utc"] >= RECENT and out[-1]["sender"] not in ME:  # no reply owed but Tom's
            last = out[-1]
            when = min(self.fit(last["utc"] + timedelta(hours=2), "berlin", False), CUTOFF - timedelta(minutes=9))
            out.append(self.msg(when, me, [last["sender"]], reply + subject,
                                [p for p in last["cc"] if p not in ME], last, thread=tid))
        if out and out[-1]["utc"] < datetime(2025, 3, 1, tzinfo=UTC) and self.rng.random() < 0.5:
            for m in out:
                if m["sender"] not in ME:
                    m["folder"] = "Archive"
        return out


# ---------------------------------------------------------------- correspondents
def rhythms(s: Sample) -> None:
    """Everyone with a natural rhythm: clients, investors, product people, friends."""
    for key, me, first, last, gap, p_sam, longest, pace, topic, cc in RHYTHMS:
        work = me == "sam"
        for i, d in enumerate(s.dates(date.fromisoformat(first), date.fromisoformat(last), gap, work)):
            sam_starts = s.rng.random() < p_sam
            n = 1 if pace == "slow" and s.rng.random() < 0.3 else s.rng.randint(2, longest)
            ccs = [cc[0]] if cc and s.rng.random() < cc[1] else []
            zone = "berlin" if sam_starts else PEOPLE[key][2]
            s.thread(s.start(d, zone, work), s.subject(topic), me, [key], n, sam_starts, pace, ccs,
                     "AW: " if topic in ("kontor", "tax") and s.rng.random() < 0.7 else "Re: ",
                     alias_at=1 if key == "juergen" and i in (3, 9) else -1)


def colleagues(s: Sample) -> None:
    """Northwind colleagues: frequent, two-way, often several people per thread."""
    d = START
    while d < CUTOFF.date():
        d += timedelta(days=s.rng.choice([1, 2, 2, 3, 3, 4]))
        if d.weekday() >= 5 or any(a <= d <= b for a, b in VACATIONS):
            continue
        active = [c for c in COLLEAGUES if d >= JOINED.get(c, START)]
        side = s.rng.sample(active, s.rng.choice([1, 1, 1, 2, 2, 3]))
        s.thread(s.start(d, "berlin", True), s.subject("team"), "sam", side,
                 s.rng.randint(2, 5), s.rng.random() < 0.45, "work")


def scripted(s: Sample) -> None:
    """The scenario threads the sample's digest is checked against (see SAMPLE.md)."""
    s.chain("Q3 pilot numbers", [(at("2025-12-12", "10:12"), "sam", ["anna"], []),
                                 (at("2025-12-15", "09:41"), "anna", ["sam"], []),
                                 (at("2025-12-16", "11:03"), "sam", ["anna"], []),
                                 (at("2025-12-19", "16:27"), "anna", ["sam"], []),
                                 (at("2025-12-22", "09:15"), "sam", ["anna"], [])])
    s.chain("Intro to the Munich team", [(at("2026-02-26", "10:14"), "tom", ["sam"], ["katrin"])])[0]["flags"] = "FS"
    s.chain("Intro: Sam Keller <> Lena Koch (PM career)", [(at("2026-02-20", "16:05", "paris"), "helene", ["sam"], ["lena"]),
                                                           (at("2026-02-20", "17:32"), "sam", ["helene"], [])])
    s.chain("Coffee: PM career chat?", [(at("2026-02-24", "11:20"), "lena", ["sam"], []),
                                        (at("2026-02-24", "14:05"), "sam", ["lena"], [])])
    s.chain("Ski weekend in March?", [(at("2026-02-08", "19:40"), "home", ["luca"], [])])
    s.chain("Wasserschaden im Bad", [(at("2025-03-03", "08:12"), "home", ["becker"], []),
                                     (at("2025-03-04", "10:30"), "becker", ["home"], [])], "AW: ")
    s.chain("Nebenkostenabrechnung 2024", [(at("2025-09-15", "09:05"), "becker", ["home"], []),
                                           (at("2025-09-16", "20:11"), "home", ["becker"], [])], "AW: ")
    s.chain("Heizung im Arbeitszimmer", [(at("2026-01-12", "07:55"), "home", ["becker"], []),
                                         (at("2026-01-13", "11:40"), "becker", ["home"], [])], "AW: ")
    s.chain("Termin zur Vorsorgeuntersuchung", [(at("2025-01-14", "08:02"), "home", ["praxis"], []),
                                                (at("2025-01-15", "12:48"), "praxis", ["home"], [])],
            "AW: ")[1]["mid"] = None                                  # quirk: no Message-ID
    s.chain("Rezept und Überweisung", [(at("2025-06-02", "07:45"), "home", ["praxis"], [])])
    s.chain("Terminabsage 25.11.", [(at("2025-11-20", "18:30"), "home", ["praxis"], [])])
    for day, subject, ticket in (("2025-02-10", "DNS records for keller.example not updating", 48213),
                                 ("2025-11-03", "Renewal failed for keller.example", 51877)):
        first = s.chain(subject, [(at(day, "09:10"), "home", ["support"], [])])[0]
        ack = s.msg(at(day, "09:11", "utc"), "support", ["home"], f"[Ticket #{ticket}] We received your request",
                    parent=first, extra=[("Auto-Submitted", "auto-replied")], thread=first["thread"])
        human = s.msg(at(day, "15:40", "utc"), "support", ["home"], f"[Ticket #{ticket}] Re: {subject}",
                      parent=ack, thread=first["thread"])
        s.msg(at(day, "18:02"), "home", ["support"], f"Re: [Ticket #{ticket}] Re: {subject}", parent=human,
              thread=first["thread"])


def newsletters_and_robots(s: Sample) -> None:
    """Bulk senders: newsletters (List-*), robots (Auto-Submitted), the weekly vendor (no bulk headers)."""
    day, pr, vendor_prev = START, 380, None
    while day <= CUTOFF.date():
        for key, weekday, hhmm, every, list_id in NEWSLETTERS:
            if day.weekday() == weekday and (day - START).days // 7 % every == 0:
                host = PEOPLE[key][1].split("@")[1]
                issue = f"{PEOPLE[key][0]} #{(day - START).days // 7 + 112}: {s.subject(key)}"
                s.msg(at(day, hhmm, PEOPLE[key][2]), key, ["sam"], issue, extra=[
                    ("List-Id", list_id), ("List-Unsubscribe", f"<https://{host}/u/sk-4711>, <mailto:leave@{host}>"),
                    ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"), ("Precedence", "bulk")])
        if day.weekday() < 5 and s.rng.random() < 0.5 and day < CUTOFF.date():   # GitHub notifications
            first = s.rng.random() < 0.45
            pr += 1 if first else 0
            root = f"<northwind/ledger/pull/{pr}@github.example>"
            m = s.msg(s.start(day, "utc", True), s.rng.choice(GITHUB_ACTORS), ["ledger"],
                      ("" if first else "Re: ") + f"[northwind/ledger] {PR_TITLES[pr % len(PR_TITLES)]} (PR #{pr})",
                      cc=["sam"], extra=[("List-Id", "northwind/ledger <ledger.northwind.github.example>"),
                                         ("Auto-Submitted", "auto-generated"),
                                         ("X-GitHub-Reason", s.rng.choice(["review_requested", "mention", "author"]))])
            m["mid"] = root if first else f"<northwind/ledger/pull/{pr}/c{len(s.msgs)}@github.example>"
            m["irt"], m["refs"] = (None, []) if first else (root, [root])
        if day.weekday() == 0:                                               # weekly calendar digest
            s.msg(at(day, "06:00"), "calbot", ["sam"], f"Your week ahead: {day.day} {MONTHS[day.month - 1]} – "
                  f"{(day + timedelta(days=4)).day} {MONTHS[(day + timedelta(days=4)).month - 1]}",
                  extra=[("Auto-Submitted", "auto-generated")])
        if day.weekday() == 2:                                               # the vendor who never gives up
            follow = vendor_prev is not None and s.rng.random() < 0.4           # "Re:" to his own mail
            subject = "Re: " + vendor_prev["subject"].removeprefix("Re: ") if follow else s.subject("vendor")
            vendor_prev = s.msg(at(day, f"09:{s.rng.randint(0, 59):02d}", "la"), "cloudvendor", ["sam"], subject,
                                parent=vendor_prev if follow else None)
        if day.day == 1:
            m = s.msg(at(day, "05:30", "utc"), "billing", ["sam"], f"Your CloudHost invoice for "
                      f"{MONTHS[day.month - 1]} {day.year} (NW-{day:%Y%m})", extra=[("Auto-Submitted", "auto-generated")])
            m["garbage"] = "=== billing-gateway 2.3 ===\n" if day == date(2025, 7, 1) else ""
        if (day - START).days % 45 == 20:
            s.msg(at(day, "10:15"), "coworking", ["home"], s.subject("coworking"))
        day += timedelta(days=1)
    for event in s.events:                                                   # reminders for 1:1 meetings
        if isinstance(event["start"], datetime) and len(event["att"]) == 2 and not event.get("cancelled"):
            when = to_utc(event["start"], "berlin") - timedelta(minutes=15)
            if when < CUTOFF:
                s.msg(when, "calbot", ["sam"], f"Reminder: {event['summary']} at {event['start']:%H:%M}",
                      extra=[("Auto-Submitted", "auto-generated")])


def mailing_list(s: Sample) -> None:
    """python-dev: many senders, filed in its own folder; Sam posts three times."""
    d, n = START, 0
    extra = [("List-Id", "Python development <python-dev.lists.example>"),
             ("List-Unsubscribe", "<mailto:python-dev-leave@lists.example>"),
             ("List-Post", "<mailto:python-dev@lists.example>"), ("Precedence", "list")]
    while True:
        d += timedelta(days=s.rng.choice([2, 3, 3, 4, 5]))
        t = s.start(d, "utc", False)
        if t > CUTOFF:
            return
        n += 1
        people = s.rng.sample(LIST_KEYS, 4)
        subject, k, tid, prev = LIST_TOPICS[n % len(LIST_TOPICS)], s.rng.randint(1, 5), s.new_thread(), None
        for i in range(max(k, 3) if n in (21, 77, 128) else k):
            sender = "sam" if i == 1 and n in (21, 77, 128) else s.rng.choice(
                [p for p in people if not prev or p != prev["sender"]])
            if t > CUTOFF:
                break
            prev = s.msg(t, sender, ["pydev"], ("Re: " if i else "") + subject, parent=prev, extra=extra,
                         folder="Lists.python-dev", thread=tid)
            if sender == "sam":
                s.msgs.append(dict(prev, folder="Sent", extra=[]))
            t += timedelta(hours=s.rng.uniform(0.5, 20))


def one_offs(s: Sample) -> None:
    """Cold senders who wrote once and never got an answer (and the unparseable Date)."""
    for key, day, hhmm, subject in COLD:
        m = s.msg(at(day, hhmm, PEOPLE[key][2]), key, ["sam"], subject)
        if key == "cold_karim":
            m["date"] = "sometime last week"


def quirks(s: Sample) -> None:
    """One message also filed in .Archive (same bytes, same Message-ID), delivered there unread."""
    first = next(m for m in s.msgs if m["sender"] == "juergen" and m["utc"] >= datetime(2025, 6, 1, tzinfo=UTC))
    s.msgs.append(dict(first, folder="Archive", new=True))


# ---------------------------------------------------------------- calendar
def calendar(s: Sample) -> None:
    """Meetings in work.ics: a weekly series, one-to-ones, group meetings, all-day events."""
    e = s.events
    for uid, summary, start, length, org, att, opts in EVENTS:
        e.append({"uid": uid, "summary": summary, "org": org, "att": att, "minutes": length, **opts,
                  "start": date.fromisoformat(start) if len(start) == 10 else datetime.fromisoformat(start)})
    for key, summary, first, last, gap, others in MEETING_RHYTHMS:
        for i, d in enumerate(s.dates(date.fromisoformat(first), date.fromisoformat(last), gap, True)):
            while d.weekday() >= 5:
                d += timedelta(days=1)
            org = "sam" if i % 2 else key
            start = datetime.combine(d, time(s.rng.choice([9, 10, 11, 14, 15, 16]), s.rng.choice([0, 30])))
            e.append({"uid": f"{key}-{d:%Y%m%d}@kith-sample.example", "summary": summary, "org": org,
                      "att": [("sam", "ACCEPTED"), (key, "ACCEPTED")] + [(o, "ACCEPTED") for o in others if i % 3 == 1],
                      "start": start, "minutes": s.rng.choice([30, 45, 60])})
    e.sort(key=lambda ev: (str(ev["start"]), ev["uid"]))


def ics_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")


def fold(line: str) -> str:
    data, out = line.encode(), []
    while len(data) > 75:
        cut = 75 if not out else 74
        while data[cut] & 0xC0 == 0x80:
            cut -= 1
        out.append(data[:cut].decode())
        data = data[cut:]
    return "\r\n ".join(out + [data.decode()]) + "\r\n"


def person(prop: str, key: str, partstat: str | None = None) -> str:
    name, email = PEOPLE[key][:2]
    cn = f'"{name}"' if any(c in name for c in ",;:") else name
    params = f";ROLE=REQ-PARTICIPANT;PARTSTAT={partstat}" if partstat else ""
    return f"{prop};CN={cn}{params}:mailto:{email}"


def vevent(ev: dict) -> list[str]:
    start = ev["start"]
    if isinstance(start, datetime):
        end = start + timedelta(minutes=ev["minutes"])
        when = [f"DTSTART;TZID=Europe/Berlin:{start:%Y%m%dT%H%M%S}", f"DTEND;TZID=Europe/Berlin:{end:%Y%m%dT%H%M%S}"]
    else:
        when = [f"DTSTART;VALUE=DATE:{start:%Y%m%d}", f"DTEND;VALUE=DATE:{start + timedelta(days=ev['minutes']):%Y%m%d}"]
    lines = ["BEGIN:VEVENT", f"UID:{ev['uid']}", f"DTSTAMP:{DTSTAMP}", *when]
    for key, prop in (("rrule", "RRULE"), ("exdate", "EXDATE;TZID=Europe/Berlin"),
                      ("recurrence_id", "RECURRENCE-ID;TZID=Europe/Berlin")):
        lines += [f"{prop}:{ev[key]}"] if key in ev else []
    lines += [f"SUMMARY:{ics_text(ev['summary'])}", "STATUS:" + ("CANCELLED" if ev.get("cancelled") else "CONFIRMED")]
    lines += [f"SEQUENCE:{ev['sequence']}"] if ev.get("sequence") else []
    lines += ["TRANSP:TRANSPARENT"] if not isinstance(start, datetime) else []
    if ev["org"]:
        lines.append(person("ORGANIZER", ev["org"]))
        lines += [person("ATTENDEE", k, p) for k, p in ev["att"]]
    return lines + ["END:VEVENT"]


def ics_file(name: str, events: list[list[str]], tz: list[str] = ()) -> bytes:
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Kith//Sample generator//EN", "CALSCALE:GREGORIAN",
            f"X-WR-CALNAME:{name}", "X-WR-TIMEZONE:Europe/Berlin", *tz]
    return "".join(fold(x) for x in head + sum(events, []) + ["END:VCALENDAR"]).encode()


def birthdays() -> list[list[str]]:
    out = []
    for key, born in BIRTHDAYS:
        d = date.fromisoformat(born)
        name = PEOPLE[key][0].removeprefix("Dr. ")
        out.append(["BEGIN:VEVENT", f"UID:birthday-{key}@kith-sample.example", f"DTSTAMP:{DTSTAMP}",
                    f"DTSTART;VALUE=DATE:{d:%Y%m%d}", f"DTEND;VALUE=DATE:{d + timedelta(days=1):%Y%m%d}",
                    "RRULE:FREQ=YEARLY", f"SUMMARY:{name}'s birthday", "CATEGORIES:BIRTHDAY",
                    "TRANSP:TRANSPARENT", "END:VEVENT"])
    return out


# ---------------------------------------------------------------- output
def render(m: dict) -> bytes:
    h = [("From", fmt_addr(m["sender"])), ("To", fmt_addrs(m["to"]))]
    h += [("Cc", fmt_addrs(m["cc"]))] if m["cc"] else []
    h += [("Subject", encode_words(m["subject"])), ("Date", m.get("date") or rfc_date(m["utc"], PEOPLE[m["sender"]][2]))]
    h += [("Message-ID", m["mid"])] if m["mid"] else []
    h += [("In-Reply-To", m["irt"]), ("References", "\n ".join(m["refs"]))] if m["irt"] else []
    h += m["extra"] + [("MIME-Version", "1.0"), ("Content-Type", "text/plain; charset=utf-8"),
                       ("Content-Transfer-Encoding", "7bit")]
    return ("".join(f"{k}: {v}\n" for k, v in h) + m.get("garbage", "") + "\n(sample body)\n").encode()


def is_new(m: dict) -> bool:
    """Unread (new/): last night's mail, recent list mail, Sam's phone copies, the filed duplicate."""
    if m["folder"] == "INBOX":
        return m["utc"] >= datetime(2026, 3, 2, 16, tzinfo=UTC) and m["flags"] == "S"   # not replied to
    if m["folder"] == "Sent":
        return m["sender"] == "home" and m["utc"] >= datetime(2026, 2, 1, tzinfo=UTC)
    return m.get("new") or m["folder"].startswith("Lists") and m["utc"] >= datetime(2026, 3, 1, tzinfo=UTC)


def folder_path(folder: str) -> str:
    return "mail" if folder == "INBOX" else f"mail/.{folder}"


def mail_files(s: Sample) -> dict[str, bytes]:
    """Maildir++ files by relative path; file names carry the message time and a unique counter."""
    files = {f"{folder_path(f)}/tmp/.gitkeep": b"" for f in FOLDERS}   # git keeps no empty folders
    files.update({f"{folder_path(f)}/maildirfolder": b"" for f in FOLDERS[1:]})
    for i, m in enumerate(sorted(s.msgs, key=lambda m: (m["utc"], m["folder"], m["mid"] or "")), 1):
        new = is_new(m)
        name = f"{int(m['utc'].timestamp())}.M{i}P4242.kith-sample" + ("" if new else f":2,{m['flags']}")
        files[f"{folder_path(m['folder'])}/{'new' if new else 'cur'}/{name}"] = render(m)
    return files


def cast_rows(s: Sample) -> list[str]:
    """The SAMPLE.md table, computed from the generated data so that it cannot drift."""
    rows, direct = [], [m for m in s.msgs if m["folder"] in ("INBOX", "Sent") or m["folder"] == "Archive"
                        and not m.get("new")]
    for key, goal, role in CAST:
        days, starts, sent, received, last = [], {}, 0, 0, None
        for m in direct:
            sender, to = CANON.get(m["sender"], m["sender"]), {CANON.get(k, k) for k in m["to"] + m["cc"]}
            if sender in ME and key in to or sender == key and to & set(ME):
                days.append(m["utc"].date())
                starts[m["thread"]] = min(starts.get(m["thread"], days[-1]), days[-1])
                sent, received = sent + (sender in ME), received + (sender == key)
                last = m if last is None or m["utc"] > last["utc"] else last
        meetings = [ev["start"] for ev in s.events if "rrule" not in ev and "recurrence_id" not in ev
                    and not ev.get("cancelled") and (key, "DECLINED") not in ev["att"]
                    and any(k == key for k, _ in ev["att"]) and str(ev["start"]) < "2026-03-03"]
        meetings = [d.date() if isinstance(d, datetime) else d for d in meetings]
        days, starts = sorted(days + meetings), sorted(set(starts.values()) | set(meetings))
        gaps = [(b - a).days for a, b in zip(starts, starts[1:])]
        median = f"{statistics.median(gaps):.0f}" if gaps else "–"
        rows.append(f"| {PEOPLE[key][0]} | `{PEOPLE[key][1]}` | {goal} | {role} | {received} / {sent} | "
                    f"{len(meetings)} | {days[0]} | {days[-1]} | {median} | {last['subject'] if last else ''} |")
    return rows


def sample_md(s: Sample) -> bytes:
    counts = {}
    for m in s.msgs:
        k = (m["folder"], "new" if is_new(m) else "cur")
        counts[k] = counts.get(k, 0) + 1
    folders = "\n".join(f"| `{'.' + f if f != 'INBOX' else '(root)'}` | {counts.get((f, 'cur'), 0)} | "
                        f"{counts.get((f, 'new'), 0)} | {FOLDER_NOTES[f]} |" for f in FOLDERS)
    anna = [m for m in s.msgs if m["sender"] == "sam" and m["to"] == ["anna"] and not m["irt"]]
    answered = sum(any(r["thread"] == m["thread"] and r["sender"] == "anna" for r in s.msgs) for m in anna)
    in_2025 = [m for m in anna if m["utc"].year == 2025]
    text = SAMPLE_MD.format(
        total=len(s.msgs), sent=sum(m["folder"] == "Sent" for m in s.msgs), folders=folders,
        cast="\n".join(cast_rows(s)), anna_threads=len(anna), anna_answered=answered,
        anna_2025=len(in_2025), seed=SEED)
    return text.encode()


def build() -> tuple[Sample, dict[str, bytes]]:
    """Every generated file, by path relative to the output folder."""
    s = Sample()
    calendar(s)
    rhythms(s)
    colleagues(s)
    scripted(s)
    newsletters_and_robots(s)
    mailing_list(s)
    one_offs(s)
    quirks(s)
    assert all(m["utc"] <= CUTOFF for m in s.msgs), "mail after the sample's last morning"
    files = mail_files(s)
    files["calendar/work.ics"] = ics_file("Work", [vevent(ev) for ev in s.events], VTIMEZONE)
    files["calendar/birthdays.ics"] = ics_file("Birthdays", birthdays())
    files["SAMPLE.md"] = sample_md(s)
    return s, files


def generate(out: Path) -> Sample:
    s, files = build()
    for sub in ("mail", "calendar"):
        shutil.rmtree(out / sub, ignore_errors=True)
    for folder in FOLDERS:
        for sub in ("cur", "new", "tmp"):
            (out / folder_path(folder) / sub).mkdir(parents=True, exist_ok=True)
    (out / "calendar").mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        (out / rel).write_bytes(data)
    return s


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="folder to write into; its mail/ and calendar/ are replaced (default: examples/)")
    s = generate(parser.parse_args(argv).out)
    print(f"{len(s.msgs)} messages, {len(s.events)} calendar entries")


if __name__ == "__main__":
    main()
