"""The command line on the bundled sample: the JSON contracts, the golden digest, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

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


def test_status_lists_the_users_addresses_and_sync_warns_of_one_no_mail_carries(tmp_path):
    config = sample_config(tmp_path)
    config.write_text(config.read_text().replace('"sam@keller.example"]', '"sam@keller.example", "you@example.com"]'))
    runner = CliRunner()
    first = runner.invoke(cli, ["--config", str(config), "sync"])
    assert first.exit_code == 0
    assert first.stderr.count("you@example.com (in [user] addresses) is in none of the synced mail") == 1
    report = json.loads(runner.invoke(cli, ["--config", str(config), "status", "--json"]).output)
    own = {o["address"]: (o["origin"], o["in_mail"]) for o in report["own_addresses"]}
    assert own == {"sam.keller@northwind.example": ("config", True), "sam@keller.example": ("config", True),
                   "you@example.com": ("config", False)}
    text = runner.invoke(cli, ["--config", str(config), "status"]).output
    assert "you@example.com (from the config; in none of the synced mail — check [user] addresses)" in text
    assert "sam.keller@northwind.example (from the config)," in text


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
    assert out.count("you usually talk every") == 1      # the state says it; the facts do not again
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


def run_kith(*args: str, env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daemon", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=ROOT, timeout=120, input=input)


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
    assert done.returncode == 2 and done.stdout == ""                   # no "Nothing needs you today" digest
    assert done.stderr == ("kith: no mail or calendar synced yet (no digest was written or stored) — add [[sources]] "
                           "to the config, then run `kith sync`\n")
    written = run_kith("--config", str(config), "digest")           # the day's digest is not used up
    assert written.returncode == 2 and written.stdout == "" and not (tmp_path / "digests").exists()
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
    assert kith("sync").exit_code == 0 and meetings() == before     # held twice, a meeting still counts once
    from daemon.config import load
    db = store.open_store(load(config).database_path)
    assert db.execute("SELECT count(DISTINCT source) FROM events").fetchone()[0] == 2        # both copies held
    refused = kith("forget", "calendar")
    assert refused.exception.exit_code == 2 and "ics:calendar is still in the config" in str(refused.exception)
    done = kith("forget", "sample-calendar")
    assert done.exit_code == 0 and done.output == "Forgot ics:sample-calendar: 319 events deleted.\n"
    assert meetings() == before and "sample-calendar" not in kith("status").output
    unknown = kith("forget", "nope")
    assert unknown.exception.exit_code == 2 and "use one of: ics:calendar, maildir:sample-mail" in str(unknown.exception)


def test_forget_waits_for_a_sync_running_on_the_store(tmp_path):
    """The daemon (or `kith sync`) holds the store's sync lock: `kith forget` deletes nothing midway through
    that sync, and does its work once it ends."""
    from daemon.lock import acquire_sync
    config = sample_config(tmp_path)
    assert run_kith("--config", str(config), "sync").returncode == 0
    config.write_text(config.read_text().replace('name = "sample-calendar"', 'name = "calendar"'))
    copies = lambda: store.open_store(tmp_path / "kith.db").execute(  # noqa: E731
        "SELECT count(*) FROM events WHERE source = 'ics:sample-calendar'").fetchone()[0]
    held = copies()
    assert held > 0
    with acquire_sync(tmp_path / "kith.db", wait=0):
        forget = subprocess.Popen([sys.executable, "-m", "daemon", "--config", str(config), "forget",
                                   "sample-calendar"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        time.sleep(1.5)
        assert forget.poll() is None and copies() == held           # waiting, nothing deleted yet
    out, err = forget.communicate(timeout=30)
    assert forget.returncode == 0, err
    assert "waiting for the sync running in process" in err and out.startswith("Forgot ics:sample-calendar:")
    assert copies() == 0


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


def test_a_full_disk_under_the_digest_folder_is_a_disk_error_not_a_config_error(tmp_path, monkeypatch):
    """ENOSPC on a folder the user can write to: the setting is right, the disk is full (exit 5, free space),
    not "set it to a folder you can write to" with exit 2, the code that tells systemd the config is broken."""
    import errno

    from daemon import paths
    config = sample_config(tmp_path)
    kith = lambda *args: CliRunner().invoke(cli, ["--config", str(config), *args])  # noqa: E731
    assert kith("sync").exit_code == 0
    (tmp_path / "digests").mkdir()
    write = paths.write_private

    def full_disk(path, data):
        if path.parent == tmp_path / "digests":
            raise OSError(errno.ENOSPC, "No space left on device", str(path.with_name(f".{path.name}.x.tmp")))
        return write(path, data)
    monkeypatch.setattr(paths, "write_private", full_disk)
    done = kith("digest", "--as-of", SAMPLE_DAY)
    assert done.exception.exit_code == 5, done.output
    assert str(done.exception) == (f"[digest] directory: cannot write the digest into {tmp_path / 'digests'} (No space "
                                   f"left on device) — free disk space on the disk that holds {tmp_path / 'digests'}; "
                                   "the day's digest stays due and is written on the next try")
    monkeypatch.setattr(paths, "write_private", write)           # space freed
    assert kith("digest", "--as-of", SAMPLE_DAY).exit_code == 0
    assert (tmp_path / "digests" / f"kith-{SAMPLE_DAY}.md").exists()


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
    assert done.stderr.startswith(f"kith: {database}: ")        # which file, met wherever the command was


def test_a_sync_note_stays_on_one_line_whatever_the_file_name(tmp_path):
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "mail" / sub).mkdir(parents=True)
    (tmp_path / "mail" / "cur" / "bad\nname:2,S").write_text("no header at all")
    config = tmp_path / "config.toml"
    config.write_text(f'[user]\naddresses = ["me@example.org"]\n[storage]\ndatabase = "{tmp_path / "kith.db"}"\n'
                      f'[[sources]]\ntype = "maildir"\nname = "m"\npath = "{tmp_path / "mail"}"\n')
    done = run_kith("--config", str(config), "sync")
    assert done.returncode == 0 and done.stderr.splitlines() == [
        "maildir:m: note: INBOX/cur/bad\\nname:2,S: message has no usable Date, skipped"]


@pytest.mark.parametrize("typed", ["03/03/2026", "2026-W10", "20260303", "2026-3-3"])
def test_a_bad_date_is_one_line(tmp_path, typed):
    """Only YYYY-MM-DD, as the error asks: Python would read "2026-W10" as a Monday nobody meant."""
    config = sample_config(tmp_path)
    done = run_kith("--config", str(config), "digest", "--as-of", typed)
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
    missing = run_kith("--config", str(target), "status")
    assert f"run `kith --config {target} init` to write one there" in missing.stderr   # not the default path's
    runner = CliRunner()
    wrote = runner.invoke(cli, ["--config", str(target), "init"])
    assert wrote.exit_code == 0 and f"then run `kith --config {target} sync`" in wrote.output
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    again = run_kith("--config", str(target), "init")
    assert again.returncode == 2 and "--force" in again.stderr
    status = run_kith("--config", str(target), "status")
    assert status.returncode == 0, status.stderr


def test_init_writes_the_machines_time_zone_from_tz(tmp_path):
    """A Californian following the README must get the morning digest in the morning, not at 23:30."""
    target = tmp_path / "config.toml"
    wrote = run_kith("--config", str(target), "init", env={"TZ": "America/Los_Angeles"})
    assert wrote.returncode == 0 and "The time zone is this machine's, America/Los_Angeles." in wrote.stdout
    assert '\ntimezone = "America/Los_Angeles"   # this machine\'s time zone' in target.read_text()
    from daemon.config import load
    assert str(load(target).zone) == "America/Los_Angeles"


def test_the_machines_time_zone_comes_from_tz_then_etc_timezone_then_the_localtime_link(tmp_path):
    from daemon.config import parse
    from daemon.starter import machine_timezone, starter_config
    etc = tmp_path / "etc"
    etc.mkdir()
    assert machine_timezone({}, etc) is None                                  # nothing names a zone
    text = starter_config(machine_timezone({}, etc))
    assert 'timezone = "UTC"   # no time zone found on this machine' in text
    assert parse(text, tmp_path / "c.toml").user.timezone == "UTC"
    (etc / "localtime").symlink_to("../usr/share/zoneinfo/posix/Asia/Tokyo")  # the link's target need not exist
    assert machine_timezone({}, etc) == "Asia/Tokyo"
    (etc / "timezone").write_text("Europe/Berlin\n")
    assert machine_timezone({}, etc) == "Europe/Berlin"
    assert machine_timezone({"TZ": ":America/Los_Angeles"}, etc) == "America/Los_Angeles"
    assert machine_timezone({"TZ": "/usr/share/zoneinfo/America/Chicago"}, etc) == "America/Chicago"
    assert machine_timezone({"TZ": "CET-1CEST,M3.5.0,M10.5.0/3"}, etc) == "Europe/Berlin"   # a rule is no name
    assert parse(starter_config("Europe/Berlin"), tmp_path / "c.toml").user.timezone == "Europe/Berlin"


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
    assert "Your network for “Fintech customers”" in payload()          # a goal's name is no subject
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


# ------------------------------------------------------------ what a new user runs into

ME = "Me <me@home.example>"


def mbox_of(*mails: tuple[str, str, str, str]) -> str:
    """An mbox of (from, to, subject, extra header lines) mails, one a day from 6 January 2025 on."""
    return "".join(f"From x Mon Jan  6 09:00:00 2025\nMessage-ID: <{n}@x.example>\n"
                   f"Date: {6 + n} Jan 2025 09:00:00 +0000\nFrom: {sender}\nTo: {to}\nSubject: {subject}\n{extra}\n"
                   for n, (sender, to, subject, extra) in enumerate(mails))


def mail_kith(tmp_path, mbox: str):
    """A config reading one mbox file (written from `mbox`) into a store in tmp_path; returns a CliRunner kith."""
    (tmp_path / "inbox.mbox").write_text(mbox)
    config = tmp_path / "kith.toml"
    config.write_text(f'[user]\naddresses = ["me@home.example"]\n[storage]\ndatabase = "{tmp_path / "k.db"}"\n'
                      f'[[sources]]\ntype = "mbox"\nname = "m"\npath = "{tmp_path / "inbox.mbox"}"\n')
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, ["--config", str(config), *args])


NAMESAKES = mbox_of(("Joel Stanley <joel@jms.example>", ME, "Patch review", ""),
                    (ME, "Joel Stanley <joel@jms.example>", "Re: Patch review", ""),
                    ("Joel Stanley <joel.stanley@ibm.example>", ME, "Board bringup", ""),
                    (ME, "Joel Stanley <joel.stanley@ibm.example>", "Re: Board bringup", ""),
                    ("Jürgen Müller <jm@bank.example>", ME, "Termin", ""),
                    (ME, "Jürgen Müller <jm@bank.example>", "Re: Termin", ""),
                    *[(f"Joel Nr{n} <joel{n}@x{n}.example>", ME, f"Hello {n}", "") for n in range(4)],
                    ("Andrew Jeffery <andrew@aj.example>", "openbmc@lists.ozlabs.org", "[PATCH] gpio",
                     "List-Id: <openbmc.lists.ozlabs.org>\n"))


def test_explain_finds_a_contact_by_name_and_lists_namesakes_instead_of_guessing(tmp_path):
    kith = mail_kith(tmp_path, NAMESAKES)
    assert kith("sync").exit_code == 0
    by_address = kith("explain", "jm@bank.example", "--as-of", "2025-02-01").output
    for name in ("Jürgen Müller", "jürgen", "JUERGEN mueller", "Müll"):   # whole name, a word, a part; any case
        done = kith("explain", name, "--as-of", "2025-02-01")
        assert done.exit_code == 0 and done.output == by_address, name
    two = kith("explain", "joel stanley", "--as-of", "2025-02-01")
    assert two.exception.exit_code == 2 and str(two.exception) == (
        "2 contacts are named like 'joel stanley': Joel Stanley <joel.stanley@ibm.example>, Joel Stanley "
        "<joel@jms.example> — give one of their addresses: `kith explain ADDRESS`")
    many = str(kith("explain", "Joel", "--as-of", "2025-02-01").exception)
    assert many.startswith("6 contacts are named like 'Joel': Joel Stanley <") and many.count("<") == 5
    assert " and 1 more — give one of their addresses" in many
    nobody = kith("explain", "Zed Zero", "--as-of", "2025-02-01")
    assert nobody.exception.exit_code == 2 and str(nobody.exception).startswith(
        "no contact has the name or address 'Zed Zero' as of 2025-02-01 — check the spelling")
    assert "no contact with the address nobody@x.example as of" in str(kith("explain", "nobody@x.example").exception)


def test_feedback_never_guesses_whom_a_name_means_but_names_the_address_to_give(tmp_path):
    kith = mail_kith(tmp_path, NAMESAKES)
    assert kith("sync").exit_code == 0
    one = kith("feedback", "Jürgen Müller", "good")
    assert one.exception.exit_code == 2 and str(one.exception) == ("'Jürgen Müller' is not an e-mail address — write their "
                                                         "address: `kith feedback jm@bank.example good` (Jürgen Müller)")
    two = str(kith("feedback", "Joel Stanley", "noise").exception)
    assert two.startswith("'Joel Stanley' is not an e-mail address — write the address of the one you mean: "
                          "2 contacts are named so, Joel Stanley <")
    assert "(no contact has that name either)" in str(kith("feedback", "Zed", "noise").exception)
    assert store.open_store(tmp_path / "k.db").execute("SELECT count(*) FROM feedback").fetchone()[0] == 0


def test_feedback_on_a_mailing_list_is_stored_but_says_it_has_no_effect(tmp_path):
    kith = mail_kith(tmp_path, NAMESAKES)
    assert kith("sync").exit_code == 0
    done = kith("feedback", "openbmc@lists.ozlabs.org", "good")
    assert done.exit_code == 0 and done.output == (
        "openbmc@lists.ozlabs.org: valuable — stored, but with no effect: this is a mailing list's address, never "
        "a contact. Judge the people who post to it by their own addresses.\n")
    rows = store.open_store(tmp_path / "k.db").execute("SELECT address, verdict FROM feedback").fetchall()
    assert [tuple(r) for r in rows] == [("openbmc@lists.ozlabs.org", "good")]
    person = kith("feedback", "andrew@aj.example", "good")
    assert person.output == "andrew@aj.example: valuable. It counts from the next digest on.\n"
    listed = kith("explain", "openbmc@lists.ozlabs.org")
    assert listed.exception.exit_code == 2 and "openbmc@lists.ozlabs.org is a mailing list's address, never a contact" in str(
        listed.exception)


def test_explain_as_of_a_day_before_a_verdict_says_it_counts_from_its_day(tmp_path):
    kith = mail_kith(tmp_path, NAMESAKES)
    assert kith("sync").exit_code == 0
    assert kith("feedback", "jm@bank.example", "noise").exit_code == 0
    db = store.open_store(tmp_path / "k.db")
    db.execute("UPDATE feedback SET at = '2025-03-10T08:00:00+00:00'")
    before = kith("explain", "jm@bank.example", "--as-of", "2025-02-01")
    assert before.output.splitlines()[2] == ("Your verdict of 2025-03-10 (noise) counts from that day on: it is not "
                                             "used as of 2025-02-01.")
    assert "State: noise" not in before.output
    db.execute("INSERT INTO feedback (address, verdict, goal, at) SELECT address, verdict, goal, at FROM feedback")
    assert kith("explain", "jm@bank.example", "--as-of", "2025-02-01").output == before.output   # given twice: said once
    data = json.loads(kith("explain", "jm@bank.example", "--as-of", "2025-02-01", "--json").output)
    assert data["later_feedback"] == [{"verdict": "noise", "goal": None, "date": "2025-03-10"}]
    after = kith("explain", "jm@bank.example", "--as-of", "2025-03-10").output
    assert "State: noise" in after and "Your verdict" not in after
    db.execute("INSERT INTO feedback (address, verdict, goal, at) VALUES ('jm@bank.example', 'not-now', NULL, "
               "'2025-03-12T08:00:00+00:00')")
    assert ("Your verdicts of 2025-03-10 (noise) and 2025-03-12 (not now) count from those days on: they are not "
            "used as of 2025-02-01.") in kith("explain", "jm@bank.example", "--as-of", "2025-02-01").output


@pytest.mark.parametrize("args", [("explain", "x@y.example"), ("explain", "Joel Stanley"), ("contacts",),
                                  ("contacts", "--json"), ("digest", "--stdout"), ("digest", "--json")])
def test_before_any_sync_each_judging_command_says_to_sync_first(tmp_path, args):
    config = tmp_path / "kith.toml"
    config.write_text(f'[user]\naddresses = ["me@home.example"]\n[storage]\ndatabase = "{tmp_path / "k.db"}"\n'
                      f'[[sources]]\ntype = "mbox"\nname = "m"\npath = "{tmp_path / "inbox.mbox"}"\n')
    done = run_kith("--config", str(config), *args)
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    assert done.stderr.startswith("kith: no mail or calendar synced yet") and "run `kith sync` first" in done.stderr
    assert "spelling" not in done.stderr


def test_eval_before_any_sync_is_the_one_line_and_no_half_report(tmp_path):
    config = tmp_path / "kith.toml"
    config.write_text(f'[user]\naddresses = ["me@home.example"]\n[storage]\ndatabase = "{tmp_path / "k.db"}"\n')
    for json_too in ((), ("--json",)):      # exit 2 as every judging command: a script tells it from a result
        done = run_kith("--config", str(config), "eval", *json_too)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr == "kith: no scores: the store holds no mail yet — run `kith sync` first\n"


# ------------------------------------------------------------ one sync at a time

def hold_sync_lock(database, seconds: float) -> subprocess.Popen:
    from tests.test_lock import hold_sync
    return hold_sync(database, seconds)


def test_a_second_sync_waits_for_the_running_one_and_then_reads_only_what_is_new(tmp_path):
    kith = mail_kith(tmp_path, NAMESAKES)
    child = hold_sync_lock(tmp_path / "k.db", 1.5)       # a sync of this store, in another process
    try:
        done = kith("sync")
    finally:
        child.kill()
        child.wait(timeout=5)
    assert done.exit_code == 0 and done.stdout == "mbox:m: 11 new messages\n"
    assert done.stderr.startswith(f"kith: waiting for the sync running in process {child.pid}… (at most 10 minutes")
    assert done.stderr.count("\n") == 1


def test_a_second_sync_gives_up_after_the_wait_with_one_line(tmp_path, monkeypatch):
    from daemon import cli as cli_module
    monkeypatch.setattr(cli_module, "SYNC_WAIT_SECONDS", 1)
    kith = mail_kith(tmp_path, NAMESAKES)
    child = hold_sync_lock(tmp_path / "k.db", 60)
    try:
        done = kith("sync")
    finally:
        child.kill()
        child.wait(timeout=5)
    assert done.exception.exit_code == 6 and "\n" not in str(done.exception)
    assert f"another sync of this store is still running (process {child.pid}) after 1 second" in str(done.exception)
    assert "waiting for the sync running" in done.stderr
    assert not (tmp_path / "k.db").exists() or not store.holds_anything(store.open_store(tmp_path / "k.db"))


def test_two_syncs_started_together_read_the_mail_once(tmp_path):
    many = mbox_of(*[(f"Person {n} <p{n}@x{n % 50}.example>", ME, f"Note {n}", "") for n in range(20000)])
    (tmp_path / "inbox.mbox").write_text(many)
    config = tmp_path / "kith.toml"
    config.write_text(f'[user]\naddresses = ["me@home.example"]\n[storage]\ndatabase = "{tmp_path / "k.db"}"\n'
                      f'[[sources]]\ntype = "mbox"\nname = "m"\npath = "{tmp_path / "inbox.mbox"}"\n')
    command = [sys.executable, "-m", "daemon", "--config", str(config), "sync"]
    both = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in both]
    assert [p.returncode for p in both] == [0, 0], outputs
    assert sorted(out for out, _ in outputs) == ["mbox:m: 20000 new messages\n", "mbox:m: nothing new\n"]
    assert all(err == "" or err.startswith("kith: waiting for the sync running in process") for _, err in outputs)


def test_contacts_during_a_sync_say_so_without_waiting_or_guessing_why_all_are_noise(tmp_path):
    kith = mail_kith(tmp_path, mbox_of(*[(f"Sender {n} <s{n}@shop{n}.example>", ME, f"Offer {n}", "")
                                         for n in range(3)]))
    assert kith("sync").exit_code == 0
    child = hold_sync_lock(tmp_path / "k.db", 60)
    try:
        started = time.monotonic()
        done = kith("contacts", "--as-of", "2025-03-01")
        digest = kith("digest", "--as-of", "2025-03-01", "--stdout")
        quick = time.monotonic() - started < 30
    finally:
        child.kill()
        child.wait(timeout=5)
    running = f"kith: a sync is running (process {child.pid}): the figures may be incomplete until it ends"
    assert quick and done.exit_code == 0 and done.stdout == ""
    assert done.stderr.splitlines() == [running, "kith: all 3 contacts are noise — `kith contacts --all` lists them "
                                                 "with the reason"]
    assert digest.exit_code == 0 and digest.stderr.splitlines()[0] == running
    assert digest.stderr.splitlines()[1] == "kith: a preview — a sync is still reading your mail; nothing was stored"
    assert kith("digest", "--as-of", "2025-03-01").stdout.startswith("Digest for 2025-03-01 written")   # not used up
    child = hold_sync_lock(tmp_path / "k.db", 60)
    try:
        forced = kith("digest", "--as-of", "2025-03-01", "--force", "--stdout")
    finally:
        child.kill()
        child.wait(timeout=5)
    assert "nothing was stored" in forced.stderr
    assert kith("digest", "--as-of", "2025-03-01").stdout.startswith("Digest for 2025-03-01 already delivered")
    after = kith("contacts", "--as-of", "2025-03-01")                 # no sync running: the likely cause again
    assert "none of the mail is from you" in after.stderr and "a sync is running" not in after.stderr


# ------------------------------------------------------------ calendars: cancelled occurrences apart

def calendar_kith(tmp_path):
    config = tmp_path / "kith.toml"
    config.write_text(f'[user]\naddresses = ["me@home.example"]\n[storage]\ndatabase = "{tmp_path / "k.db"}"\n'
                      f'[[sources]]\ntype = "ics"\nname = "calendar"\npath = "{tmp_path / "cal"}"\n')
    (tmp_path / "cal").mkdir()
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, ["--config", str(config), *args])


def invitation(path, uid: str, start: str, *, seq: int = 0, rule: str = "", method: str = "REQUEST") -> None:
    status = "CANCELLED" if method == "CANCEL" else "CONFIRMED"
    path.write_text(f"BEGIN:VCALENDAR\nVERSION:2.0\nMETHOD:{method}\nBEGIN:VEVENT\nUID:{uid}\nSEQUENCE:{seq}\n"
                    f"DTSTART:{start}\nDTEND:{start[:-3]}59Z\nSTATUS:{status}\nSUMMARY:Sync\n"
                    "ORGANIZER:mailto:olga@example.com\nATTENDEE;PARTSTAT=ACCEPTED:mailto:me@home.example\n"
                    + (f"RRULE:{rule}\n" if rule else "") + "END:VEVENT\nEND:VCALENDAR\n")


def test_a_sync_counts_the_occurrences_of_a_cancelled_series_apart(tmp_path):
    kith = calendar_kith(tmp_path)
    cal = tmp_path / "cal"
    for n in range(4):
        invitation(cal / f"single{n}.ics", f"single{n}", f"2025010{n + 1}T100000Z")
    invitation(cal / "series.ics", "series", "20250106T100000Z", rule="FREQ=WEEKLY;INTERVAL=2;COUNT=12")
    invitation(cal / "series-cancel.ics", "series", "20250106T100000Z", seq=1,
               rule="FREQ=WEEKLY;INTERVAL=2;COUNT=12", method="CANCEL")
    assert kith("sync").output == "ics:calendar: 4 new events, 12 cancelled occurrences\n"
    assert kith("sync").output == "ics:calendar: nothing new\n"


def test_a_series_cancelled_after_it_was_synced_is_counted_as_cancelled_not_as_known(tmp_path):
    kith = calendar_kith(tmp_path)
    cal = tmp_path / "cal"
    invitation(cal / "single.ics", "single", "20250101T100000Z")
    invitation(cal / "series.ics", "series", "20250106T100000Z", rule="FREQ=WEEKLY;INTERVAL=2;COUNT=12")
    assert kith("sync").output == "ics:calendar: 13 new events\n"
    invitation(cal / "series-cancel.ics", "series", "20250106T100000Z", seq=1,
               rule="FREQ=WEEKLY;INTERVAL=2;COUNT=12", method="CANCEL")
    assert kith("sync").output == "ics:calendar: 0 new events, 12 cancelled occurrences\n"


def test_wide_characters_keep_the_contacts_columns_in_line():
    from daemon.cli import fit_width
    assert fit_width("南野ムルシエラゴ", 10) == "南野ムル… " and fit_width("Anna", 6) == "Anna  "
    assert fit_width("固件二部喻", 9) == "固件二部…" and fit_width("固件二部喻", 10) == "固件二部喻"
    assert fit_width("固件二部喻", 8) == "固件二… "           # a wide character never half fits; "…" marks the cut
    long = "confirm_4_7ee084c2f1_dfarmer770@newman.oscar.aol.com"
    assert fit_width(long, 40, whole=True) == long            # an address is what `kith explain` is given
    assert fit_width("Jürgen Müller", 13) == "Jürgen Müller"


def test_small_values_keep_the_digits_that_tell_them_apart():
    from daemon.report import value_text
    # a list developer's closest ties: 0.006 and 0.003, not "0.00" twice
    assert [value_text(v) for v in (0.35, 0.1, 0.0064, 0.0031, 0.0004, 0.0)] == \
        ["0.35", "0.10", "0.006", "0.003", "<0.001", "0.00"]


def test_eval_with_a_horizon_longer_than_the_mail_advises_a_shorter_one(synced):
    """Ten years ahead of the sample's 18 months puts the date before all mail: a longer horizon would
    only make that worse."""
    done = synced("eval", "--horizon", "3650")
    assert done.exit_code == 0 and "no mail before it" in done.output
    assert "a shorter --horizon" in done.output and "a longer --horizon" not in done.output


def test_an_address_taken_out_of_the_config_is_no_longer_the_users_before_the_next_sync(tmp_path):
    config = sample_config(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config), "sync"]).exit_code == 0
    tom = "tom.weiss@paybridge.example"
    config.write_text(config.read_text().replace('"sam@keller.example"]', f'"sam@keller.example", "{tom}"]'))
    report = json.loads(runner.invoke(cli, ["--config", str(config), "status", "--json"]).output)
    assert "tom.weiss@paybridge.example" in {o["address"] for o in report["own_addresses"]}
    config.write_text(config.read_text().replace(f', "{tom}"]', "]"))
    rows = json.loads(runner.invoke(cli, ["--config", str(config), "contacts", "--as-of", SAMPLE_DAY, "--json"]).output)
    assert "tom.weiss@paybridge.example" in {r["address"] for r in rows}              # a contact again, without a sync
    report = json.loads(runner.invoke(cli, ["--config", str(config), "status", "--json"]).output)
    assert "tom.weiss@paybridge.example" not in {o["address"] for o in report["own_addresses"]}


def test_read_commands_before_the_first_sync_create_no_database_nor_its_folders(tmp_path):
    """A mistyped `[storage] database` path: `status` and `contacts` say nothing is synced, and create nothing."""
    config = sample_config(tmp_path)
    database = tmp_path / "typo" / "deeper" / "kith.db"
    config.write_text(config.read_text().replace(f'database = "{tmp_path / "kith.db"}"', f'database = "{database}"'))
    runner = CliRunner()
    status = runner.invoke(cli, ["--config", str(config), "status"])
    assert status.exit_code == 0 and "once the first sync brings mail" in status.output
    listed = runner.invoke(cli, ["--config", str(config), "contacts"])
    assert listed.exception.exit_code == 2 and "no mail or calendar synced yet" in str(listed.exception)
    assert not (tmp_path / "typo").exists()
    assert runner.invoke(cli, ["--config", str(config), "sync"]).exit_code == 0 and database.exists()


def test_a_forced_digest_that_fails_midway_leaves_the_stored_one_whole(tmp_path, monkeypatch):
    """Kill hunt: `kith digest --force` deleted the stored digest before rendering the new one; killed in between,
    the day lost its digest, and rendered again it turned into a replay. Now nothing is deleted until the new one
    is stored, in the same transaction."""
    import daemon.analysis
    kith = mail_kith(tmp_path, NAMESAKES)
    assert kith("sync").exit_code == 0
    assert kith("digest", "--as-of", "2025-03-01").exit_code == 0
    db = store.open_store(tmp_path / "k.db")
    before = db.execute("SELECT date, payload, replay FROM digests").fetchall()
    db.execute("UPDATE digests SET replay = 0")      # written on its day, as the daemon would have
    def killed(*args, **kw):
        raise KeyboardInterrupt                       # the process dies while rendering
    monkeypatch.setattr(daemon.analysis, "build_digest", killed)
    assert kith("digest", "--as-of", "2025-03-01", "--force").exit_code != 0
    assert db.execute("SELECT date, payload FROM digests").fetchall() == [row[:2] for row in before]
    monkeypatch.undo()
    assert kith("digest", "--as-of", "2025-03-01", "--force").stdout.startswith("Digest for 2025-03-01 written")
    assert db.execute("SELECT replay FROM digests").fetchall() == [(0,)]     # still one shown on its day
