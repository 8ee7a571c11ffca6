"""The command line on the bundled sample: the JSON contracts, the golden digest, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from daemon import store
from daemon.cli import cli
from tests.sample import ROOT, SAMPLE_DAY, sample_config

GOLDEN = ROOT / "tests" / "fixtures" / "golden" / f"sample-{SAMPLE_DAY}.md"
STATES = {"active", "passive", "cooling", "dormant", "new", "noise"}


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    """The sample synced once into a temporary store; returns a function running kith with its config."""
    tmp = tmp_path_factory.mktemp("sample")
    config = sample_config(tmp)
    runner = CliRunner()

    def kith(*args: str):
        return runner.invoke(cli, ["--config", str(config), *args])

    first = kith("sync")
    assert first.exit_code == 0, (first.output, first.exception)
    return kith


def test_sync_reports_counts_and_a_second_sync_reads_nothing(synced):
    again = synced("sync")
    assert again.output == "maildir:sample-mail: nothing new\nics:sample-calendar: nothing new\n"


def test_contacts_json_contract(synced):
    rows = json.loads(synced("contacts", "--as-of", SAMPLE_DAY, "--json").output)
    assert len(rows) > 40
    for row in rows:
        assert {"address", "addresses", "name", "value", "noise", "state", "goals", "last_contact"} <= set(row)
        assert isinstance(row["value"], float) and isinstance(row["noise"], bool) and row["state"] in STATES
        assert row["address"] in row["addresses"]
        assert set(row["goals"]) == {"Fintech customers", "Investors", "Product career"}
        assert row["last_contact"] is None or row["last_contact"] <= SAMPLE_DAY
    limited = json.loads(synced("contacts", "--as-of", SAMPLE_DAY, "--json", "--limit", "5").output)
    assert limited == rows[:5]


def test_the_users_own_addresses_are_not_contacts_and_nobody_written_to_twice_is_noise(synced):
    rows = json.loads(synced("contacts", "--as-of", SAMPLE_DAY, "--json").output)
    addresses = {a for row in rows for a in row["addresses"]}
    assert not addresses & {"sam.keller@northwind.example", "sam@keller.example"}
    assert not [r["address"] for r in rows if r["noise"] and r["sent"] >= 2]


def test_robots_newsletters_and_lists_are_noise_and_people_lead(synced):
    rows = json.loads(synced("contacts", "--as-of", SAMPLE_DAY, "--json").output)
    by_address = {r["address"]: r for r in rows}
    for robot in ("noreply@github.example", "news@fintechweekly.example", "sales@cloudvendor.example"):
        assert by_address[robot]["noise"], robot
    top = [r for r in rows[:15]]
    assert all(not r["noise"] for r in top)
    assert by_address["anna.berger@finlytics.example"]["state"] == "cooling"


def test_aliases_from_the_config_are_one_contact(synced):
    rows = json.loads(synced("contacts", "--as-of", SAMPLE_DAY, "--json").output)
    juergen = [r for r in rows if "j.mueller@kontor-bank.example" in r["addresses"]]
    assert len(juergen) == 1 and "juergen.mueller@kontor-bank.example" in juergen[0]["addresses"]
    assert juergen[0]["name"] == "Jürgen Müller"


def test_digest_json_contract_and_budget(synced):
    data = json.loads(synced("digest", "--as-of", SAMPLE_DAY, "--json").output)
    assert data["date"] == SAMPLE_DAY
    kinds = {s["kind"] for s in data["suggestions"]}
    assert {"reply_owed", "follow_up", "reconnect"} <= kinds
    for s in data["suggestions"]:
        assert {"kind", "address", "name", "reasons", "goal", "minutes"} <= set(s)
        assert s["reasons"] and all(isinstance(r, str) for r in s["reasons"]) and isinstance(s["minutes"], int)
    assert sum(s["minutes"] for s in data["suggestions"]) <= 30
    people = {s["address"]: s for s in data["suggestions"]}
    assert people["tom.weiss@paybridge.example"]["kind"] == "reply_owed"
    assert people["lena.koch@productcircle.example"]["kind"] == "follow_up"
    assert people["anna.berger@finlytics.example"]["kind"] == "reconnect"


def test_golden_digest(synced):
    """The sample's digest, word for word. After a deliberate change: KITH_UPDATE_GOLDEN=1 pytest tests/test_cli.py."""
    out = synced("digest", "--as-of", SAMPLE_DAY).output
    markdown_path = out.split(": ", 1)[1].split(", ")[0].strip()
    markdown = open(markdown_path, encoding="utf-8").read()
    if os.environ.get("KITH_UPDATE_GOLDEN"):
        GOLDEN.write_text(markdown, encoding="utf-8")
    assert markdown == GOLDEN.read_text(encoding="utf-8")


def test_digest_files_are_written_once_and_private(synced, tmp_path):
    first = synced("digest", "--as-of", "2026-03-02")
    assert "written" in first.output
    second = synced("digest", "--as-of", "2026-03-02")
    assert "already delivered" in second.output
    path = first.output.split(": ", 1)[1].split(", ")[0].strip()
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_explain_gives_facts_in_plain_words(synced):
    out = synced("explain", "anna.berger@finlytics.example", "--as-of", SAMPLE_DAY).output
    assert "Anna Berger" in out and "last contact 71 days ago" in out and "cooling" in out
    assert "  - you started 10 of the 18 threads between you\n  - replied to all 10 of your threads\n" in out
    owed = synced("explain", "tom.weiss@paybridge.example", "--as-of", SAMPLE_DAY).output
    assert "they wrote 5 days ago (“Intro to the Munich team”) and wait for your answer\n" in owed
    fintech = next(line for line in owed.splitlines() if line.startswith("  - Fintech customers ("))
    assert "at paybridge.example, one of the goal's domains; name or address matches “PayBridge”" in fintech
    assert "subjects mention “payments”" in fintech
    lena = synced("explain", "lena.koch@productcircle.example", "--as-of", SAMPLE_DAY).output
    assert "the subjects you share are close to the goal's words (closest: “Coffee: PM career chat”)" in lena
    stranger = synced("explain", "ines@startup-awards.example", "--as-of", SAMPLE_DAY).output
    assert "no conversation went both ways yet" in stranger and "0 conversations" not in stranger
    missing = synced("explain", "nobody@nowhere.example", "--as-of", SAMPLE_DAY)
    assert "no contact with the address nobody@nowhere.example" in str(missing.exception)
    own = synced("explain", "Sam.Keller@northwind.example", "--as-of", SAMPLE_DAY)
    assert "sam.keller@northwind.example is one of your own addresses" in str(own.exception)


def run_kith(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daemon", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=ROOT, timeout=120)


def test_a_broken_config_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[user]\nname = "A"\n[[goals]]\nname = "X"\nkeywords = "seed"\n')
    done = run_kith("--config", str(bad), "sync")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "bad.toml:5" in done.stderr and "Traceback" not in done.stderr


def test_an_empty_store_says_why_the_digest_is_empty(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[user]\naddresses = ["me@example.org"]\n[storage]\ndatabase = "{tmp_path / "kith.db"}"\n'
                      f'[digest]\ndirectory = "{tmp_path / "digests"}"\n')
    done = run_kith("--config", str(config), "digest", "--stdout")
    assert done.returncode == 0 and "— no one today\n\nNothing needs you today." in done.stdout
    assert done.stderr == ("kith: no mail or calendar synced yet (nothing was stored) — add [[sources]] to the "
                           "config, then run `kith sync`\n")
    written = run_kith("--config", str(config), "digest")           # the day's digest is not used up
    assert written.returncode == 0 and written.stdout == "" and not (tmp_path / "digests").exists()
    status = json.loads(run_kith("--config", str(config), "status", "--json").stdout)
    assert status["last_digest"] is None


def test_a_failed_sync_is_one_line_per_source_without_repeating_its_name(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[user]\naddresses = ["me@example.org"]\n[storage]\ndatabase = "{tmp_path / "kith.db"}"\n'
                      f'[[sources]]\ntype = "maildir"\nname = "m"\npath = "{tmp_path / "nope"}"\n'
                      f'[[sources]]\ntype = "outlook"\nname = "work-mail"\n'
                      f'client_id = "00000000-0000-0000-0000-000000000000"\ntoken_cache = "{tmp_path / "none.bin"}"\n')
    done = run_kith("--config", str(config), "sync")
    assert done.returncode == 3
    assert done.stderr.splitlines() == [
        f"maildir:m: failed: {tmp_path / 'nope'}: no such folder — set path to a Maildir (the folder that "
        "holds cur/ and new/) or to the folder that holds your Maildirs (INBOX/, Sent/, …)",
        "outlook:work-mail: failed: not signed in to Microsoft — run `kith auth microsoft --source work-mail`"]


def test_syncing_only_disabled_sources_says_they_are_disabled(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\ndatabase = "{tmp_path / "kith.db"}"\n'
                      f'[[sources]]\ntype = "mbox"\nname = "m"\npath = "x"\nenabled = false\n')
    for args in (("sync",), ("sync", "--source", "m")):
        done = run_kith("--config", str(config), *args)
        assert done.returncode == 0 and done.stdout == "No sources to sync: m is disabled (enabled = false in the config).\n"


def test_forget_drops_what_a_renamed_source_synced(tmp_path):
    config = sample_config(tmp_path)
    kith = lambda *args: CliRunner().invoke(cli, ["--config", str(config), *args])  # noqa: E731
    assert kith("sync").exit_code == 0
    meetings = lambda: sum(c["meetings"] for c in json.loads(kith("contacts", "--json").output))  # noqa: E731
    before = meetings()
    config.write_text(config.read_text().replace('name = "sample-calendar"', 'name = "calendar"'))
    assert kith("sync").exit_code == 0 and meetings() == 2 * before          # the old name's copies still count
    refused = kith("forget", "calendar")
    assert refused.exception.exit_code == 2 and "ics:calendar is still in the config" in str(refused.exception)
    done = kith("forget", "sample-calendar")
    assert done.exit_code == 0 and done.output == "Forgot ics:sample-calendar: 319 events deleted.\n"
    assert meetings() == before and "sample-calendar" not in kith("status").output
    unknown = kith("forget", "nope")
    assert unknown.exception.exit_code == 2 and "use one of: ics:calendar, maildir:sample-mail" in str(unknown.exception)


def test_a_future_day_is_a_preview_that_stores_nothing(synced):
    from datetime import date, timedelta
    ahead = (date.today() + timedelta(days=30)).isoformat()
    preview = synced("digest", "--as-of", ahead)
    assert preview.exit_code == 0 and "a preview" in preview.stderr and "Your network for" in preview.stdout
    again = synced("digest", "--as-of", ahead, "--json")
    assert json.loads(again.stdout)["date"] == ahead and "already delivered" not in again.output
    assert synced("status", "--json").output.count(ahead) == 0


@pytest.mark.parametrize("args, says", [
    (("contacts", "--as-of", "9999-12-31"), "--as-of 9999-12-31 is out of range"),
    (("digest", "--as-of", "0001-01-01"), "--as-of 0001-01-01 is out of range"),
    (("eval", "--horizon", "3000000"), "3000000 is not in the range 1<=x<=3650"),
])
def test_dates_and_horizons_beyond_any_mail_are_one_line_errors(tmp_path, args, says):
    config = sample_config(tmp_path)
    done = run_kith("--config", str(config), *args)
    assert done.returncode == 2 and says in done.stderr and done.stderr.count("\n") == 1


def test_an_unwritable_digest_folder_is_one_line_and_the_day_stays_due(tmp_path):
    config = sample_config(tmp_path)
    blocker = tmp_path / "digests"
    blocker.write_text("a file where the folder should be")
    run_kith("--config", str(config), "sync")
    done = run_kith("--config", str(config), "digest", "--as-of", SAMPLE_DAY)
    assert done.returncode == 2 and done.stderr.startswith("kith: [digest] directory: cannot write the digest into")
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    status = run_kith("--config", str(config), "status").stdout
    assert f"Last digest: {SAMPLE_DAY}, not delivered yet" in status
    blocker.unlink()
    assert run_kith("--config", str(config), "digest", "--as-of", SAMPLE_DAY).returncode == 0
    assert (blocker / f"kith-{SAMPLE_DAY}.md").exists()


def test_a_damaged_database_is_one_line(tmp_path):
    import sqlite3
    config = sample_config(tmp_path)
    assert run_kith("--config", str(config), "sync").returncode == 0
    database = tmp_path / "kith.db"
    with sqlite3.connect(database) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    with open(database, "r+b") as handle:       # every page but the first (the header and the schema) overwritten
        for page in range(1, pages):
            handle.seek(page * 4096)
            handle.write(b"\xff" * 4096)
    done = run_kith("--config", str(config), "contacts", "--as-of", SAMPLE_DAY)
    assert done.returncode == 5 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert "database disk image is malformed" in done.stderr and "restore it from a backup" in done.stderr


def test_a_sync_note_stays_on_one_line_whatever_the_file_name(tmp_path):
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "mail" / sub).mkdir(parents=True)
    (tmp_path / "mail" / "cur" / "bad\nname:2,S").write_text("no header at all")
    config = tmp_path / "config.toml"
    config.write_text(f'[user]\naddresses = ["me@example.org"]\n[storage]\ndatabase = "{tmp_path / "kith.db"}"\n'
                      f'[[sources]]\ntype = "maildir"\nname = "m"\npath = "{tmp_path / "mail"}"\n')
    done = run_kith("--config", str(config), "sync")
    assert done.returncode == 0 and done.stderr.splitlines() == [
        "  note: INBOX/cur/bad\\nname:2,S: message has no usable Date, skipped"]


def test_a_bad_date_is_one_line(tmp_path):
    config = sample_config(tmp_path)
    done = run_kith("--config", str(config), "digest", "--as-of", "03/03/2026")
    assert done.returncode == 2 and "YYYY-MM-DD" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("args, says", [
    (("eval", "--horizon", "0"), "kith eval: Invalid value for '--horizon'"),
    (("feedback", "anna@example.org", "maybe"), "'maybe' is not one of 'good', 'noise', 'not-now', 'done'"),
    (("contacts", "--nope"), "kith contacts: No such option '--nope'"),
    (("nosuch",), "kith: No such command 'nosuch'"),
])
def test_a_mistyped_command_line_is_one_line_naming_the_help_and_exit_2(args, says):
    done = run_kith(*args)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and says in done.stderr and "--help'" in done.stderr
    assert "Usage:" not in done.stderr


def test_init_writes_a_starter_that_loads_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "conf" / "config.toml"
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(target), "init"]).exit_code == 0
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    again = run_kith("--config", str(target), "init")
    assert again.returncode == 2 and "--force" in again.stderr
    status = run_kith("--config", str(target), "status")
    assert status.returncode == 0, status.stderr


def test_explain_takes_an_address_as_mail_shows_it(synced):
    bare = synced("explain", "tom.weiss@paybridge.example")
    typed = synced("explain", "Tom Weiss <Tom.Weiss@paybridge.example>")
    assert bare.exit_code == typed.exit_code == 0 and typed.output == bare.output and "Tom Weiss" in typed.output


def test_explain_json_gives_the_contact_row_with_facts_and_goal_reasons(synced):
    data = json.loads(synced("explain", "anna.berger@finlytics.example", "--as-of", SAMPLE_DAY, "--json").output)
    assert {"address", "addresses", "name", "value", "noise", "state", "goals", "last_contact"} <= set(data)
    assert any("last contact 71 days ago" in fact for fact in data["facts"])
    fintech = data["goal_reasons"]["Fintech customers"]
    assert "at finlytics.example, one of the goal's domains" in fintech
    assert set(data["goal_reasons"]) <= {name for name, fit in data["goals"].items() if fit >= 0.1}


def test_feedback_takes_one_contact_at_a_time_and_never_the_user(synced):
    two = synced("feedback", "jonas.hart@paybridge.example, mira.sol@finlytics.example", "noise")
    assert two.exception.exit_code == 2 and "holds more than one address" in str(two.exception)
    own = synced("feedback", "Sam.Keller@northwind.example", "good")
    assert own.exception.exit_code == 2 and "is one of your own addresses" in str(own.exception)
    rows = json.loads(synced("contacts", "--as-of", SAMPLE_DAY, "--json").output)
    assert not any(r["noise"] for r in rows if r["address"] in ("jonas.hart@paybridge.example",
                                                                  "mira.sol@finlytics.example"))


def test_contacts_table_has_a_header_and_is_ordered_by_its_weighted_column(synced):
    table = synced("contacts", "--as-of", SAMPLE_DAY).output.splitlines()
    assert table[0].split()[:3] == ["value", "weighted", "state"]
    weighted = [float(line.split()[1]) for line in table[1:]]
    assert weighted == sorted(weighted, reverse=True) and len(weighted) > 20


def test_contacts_for_one_goal_and_goal_names_typed_in_any_case(synced):
    rows = json.loads(synced("contacts", "--as-of", SAMPLE_DAY, "--goal", "investors", "--json").output)
    assert rows and all(r["goals"]["Investors"] >= 0.3 and not r["noise"] for r in rows)
    assert "petra.lang@alpine-ventures.example" in [r["address"] for r in rows]
    weighted = [r["value"] * r["goals"]["Investors"] for r in rows]
    assert weighted == sorted(weighted, reverse=True)
    everyone = json.loads(synced("contacts", "--as-of", SAMPLE_DAY, "--json").output)
    assert len(rows) < len([r for r in everyone if not r["noise"]])
    table = synced("contacts", "--as-of", SAMPLE_DAY, "--goal", "Investors").output.splitlines()
    assert table[0].split()[:3] == ["value", "for", "goal"] and len(table) == len(rows) + 1
    order = [float(line.split()[1]) for line in table[1:]]      # the second column sets the order
    assert order == sorted(order, reverse=True)
    unknown = synced("contacts", "--goal", "Investments")
    assert unknown.exception.exit_code == 2 and "use one of: Fintech customers, Investors, Product career" in str(unknown.exception)


def test_contacts_says_why_the_table_is_empty_when_every_contact_is_noise(tmp_path):
    mail = "".join(f"From x Mon Jan  6 09:00:00 2025\nMessage-ID: <{n}@x.example>\n"
                   f"Date: Mon, 6 Jan 2025 09:0{n}:00 +0000\nFrom: Sender {n} <s{n}@shop{n}.example>\n"
                   f"To: me@home.example\nSubject: Offer {n}\n\n" for n in range(3))
    (tmp_path / "inbox.mbox").write_text(mail)
    config = tmp_path / "kith.toml"
    config.write_text(f'[user]\naddresses = ["me@hmoe.example"]\n[storage]\ndatabase = "{tmp_path / "k.db"}"\n'
                      f'[[sources]]\ntype = "mbox"\nname = "m"\npath = "{tmp_path / "inbox.mbox"}"\n')
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config), "sync"]).exit_code == 0
    done = runner.invoke(cli, ["--config", str(config), "contacts", "--as-of", "2025-03-01"])
    assert done.exit_code == 0 and done.stdout == ""
    assert done.stderr.strip() == ("kith: all 3 contacts are noise: none of the mail is from you — check `[user] "
                                   "addresses` in the config and that your sent mail is synced — `kith contacts "
                                   "--all` lists them with the reason")


def test_forget_also_forgets_the_own_addresses_learned_from_that_source(tmp_path):
    sent = tmp_path / "old" / "Sent.mbox"
    sent.parent.mkdir()
    sent.write_text("".join(f"From x Mon Jan  6 09:00:00 2025\nMessage-ID: <{n}@x.example>\nDate: Mon, 6 Jan 2025 "
                            f"09:0{n}:00 +0000\nFrom: alias@home.example\nTo: anna@x.example\nSubject: S{n}\n\n"
                            for n in range(3)))
    config = tmp_path / "kith.toml"
    text = (f'[user]\naddresses = ["me@home.example"]\n[storage]\ndatabase = "{tmp_path / "k.db"}"\n'
            f'[[sources]]\ntype = "mbox"\nname = "old"\npath = "{sent.parent}"\n')
    config.write_text(text)
    kith = lambda *args: CliRunner().invoke(cli, ["--config", str(config), *args])  # noqa: E731
    own = lambda: {r[0] for r in store.open_store(tmp_path / "k.db").execute("SELECT email FROM own_addresses")}  # noqa: E731
    assert kith("sync").exit_code == 0 and own() == {"me@home.example", "alias@home.example"}
    config.write_text(text + "enabled = false\n")
    assert kith("forget", "old").exit_code == 0 and own() == {"me@home.example"}


def test_store_subjects_false_later_blanks_the_subjects_in_stored_digests_too(tmp_path):
    config = sample_config(tmp_path)
    kith = lambda *args: CliRunner().invoke(cli, ["--config", str(config), *args])  # noqa: E731
    assert kith("sync").exit_code == 0 and kith("digest", "--as-of", SAMPLE_DAY).exit_code == 0
    db = store.open_store(tmp_path / "kith.db")
    subjects = {s for (s,) in db.execute("SELECT DISTINCT subject FROM messages") if len(s) > 8}
    payload = lambda: db.execute("SELECT payload FROM digests").fetchone()[0]  # noqa: E731
    assert any(s in payload() for s in subjects)
    config.write_text(config.read_text().replace("store_subjects = true", "store_subjects = false"))
    assert kith("sync").exit_code == 0
    assert not any(s in payload() for s in subjects) and "“…”" in payload()
    assert db.execute("SELECT count(*) FROM messages WHERE subject != ''").fetchone()[0] == 0


def test_contacts_says_so_when_there_are_none(tmp_path):
    (tmp_path / "inbox.mbox").write_text("From x Mon Jan  6 09:00:00 2025\nMessage-ID: <1@x.example>\nDate: Mon, 6 "
                                         "Jan 2025 09:00:00 +0000\nFrom: me@home.example\nTo: me@home.example\n"
                                         "Subject: Note to self\n\n")
    config = tmp_path / "kith.toml"
    config.write_text(f'[user]\naddresses = ["me@home.example"]\n[storage]\ndatabase = "{tmp_path / "k.db"}"\n'
                      f'[[sources]]\ntype = "mbox"\nname = "m"\npath = "{tmp_path / "inbox.mbox"}"\n')
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config), "sync"]).exit_code == 0
    done = runner.invoke(cli, ["--config", str(config), "contacts"])
    assert done.exit_code == 0 and done.stdout == "" and "no contacts yet" in done.stderr


def test_sync_tells_new_messages_from_known_ones_and_forget_what_it_deleted(tmp_path):
    from tests.test_sync import deliver, later
    root = tmp_path / "Maildir"
    files = [deliver(root, n) for n in range(4)] + [deliver(root, 4, "new")]
    config = tmp_path / "kith.toml"
    text = (f'[user]\naddresses = ["me@home.example"]\n[storage]\ndatabase = "{tmp_path / "k.db"}"\n'
            f'[[sources]]\ntype = "maildir"\nname = "work"\npath = "{root}"\n')
    config.write_text(text)
    kith = lambda *args: CliRunner().invoke(cli, ["--config", str(config), *args])  # noqa: E731
    stored = lambda: store.open_store(tmp_path / "k.db").execute("SELECT count(*) FROM messages").fetchone()[0]  # noqa: E731
    assert kith("sync").output == "maildir:work: 5 new messages\n"
    files[4].rename(root / "cur" / (files[4].name + ":2,S"))        # read: new/ → cur/
    files[0].unlink()
    deliver(root, 5, "new")
    later(root)
    assert kith("sync").output == "maildir:work: 1 new message, 4 already known; 1 removed\n"
    assert kith("sync").output == "maildir:work: nothing new\n"
    config.write_text(text.replace('name = "work"', 'name = "old-work"'))    # renamed
    assert kith("sync").output == "maildir:old-work: 0 new messages, 5 already known\n" and stored() == 5
    assert kith("forget", "work").output == ("Forgot maildir:work: 5 message copies dropped, 0 messages deleted "
                                             "from the store (5 messages still held by other sources).\n")
    assert stored() == 5
    (root / "cur" / files[1].name).unlink()
    later(root)
    assert kith("sync").output == "maildir:old-work: 0 new messages, 4 already known; 1 removed\n" and stored() == 4
    config.write_text(text.replace('name = "work"', 'name = "old-work"') + "enabled = false\n")
    assert kith("forget", "old-work").output == ("Forgot maildir:old-work: 4 message copies dropped, "
                                                 "4 messages deleted from the store.\n")
    assert stored() == 0


def test_forget_counts_one_message_and_one_copy_in_the_singular(tmp_path):
    from tests.test_sync import deliver
    for name in ("a", "b"):
        deliver(tmp_path / name, 1)
    deliver(tmp_path / "b", 2)
    config = tmp_path / "kith.toml"
    blocks = "".join(f'[[sources]]\ntype = "maildir"\nname = "{n}"\npath = "{tmp_path / n}"\n' for n in ("a", "b"))
    config.write_text(f'[storage]\ndatabase = "{tmp_path / "k.db"}"\n{blocks}')
    kith = lambda *args: CliRunner().invoke(cli, ["--config", str(config), *args])  # noqa: E731
    assert kith("sync").output == "maildir:a: 1 new message\nmaildir:b: 1 new message, 1 already known\n"
    config.write_text(f'[storage]\ndatabase = "{tmp_path / "k.db"}"\n'
                      f'[[sources]]\ntype = "maildir"\nname = "b"\npath = "{tmp_path / "b"}"\n')
    assert kith("forget", "a").output == ("Forgot maildir:a: 1 message copy dropped, 0 messages deleted from the "
                                          "store (1 message still held by other sources).\n")
    config.write_text(f'[storage]\ndatabase = "{tmp_path / "k.db"}"\n')
    assert kith("forget", "b").output == "Forgot maildir:b: 2 message copies dropped, 2 messages deleted from the store.\n"
