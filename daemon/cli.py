"""The `kith` command line. The one place a KithError becomes a line and an exit code."""

from __future__ import annotations

import json
import logging
import math
import re
import shlex
import sqlite3
import sys
import unicodedata
from datetime import date, datetime, timedelta
from pathlib import Path

import click

from daemon import __version__, paths
from daemon.logs import write_crash_log
from daemon.errors import KithError, StoreError, UsageError

log = logging.getLogger("kith")


class Context:
    """Lazily loaded config and store, shared by the subcommands."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self._config = None
        self._db = None
        self.read_only = False      # a command that only reads: it creates no database (see `db`)

    @property
    def config(self):
        if self._config is None:
            from daemon.config import load
            self._config = load(self.config_path)
        return self._config

    @property
    def db(self):
        if self._db is None:
            from daemon.store import empty_store, open_store
            path = self.config.database_path
            # before the first sync (or with a mistyped path) a read command reads an empty store in memory
            self._db = empty_store() if self.read_only and not path.exists() else open_store(path)
        return self._db


# --as-of stays within these days: mail has none outside them, and years of look-back or horizon around them stay
# within the dates Python can count
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(2999, 12, 31)


def parse_day(value: str | None, ctx: Context) -> date:
    from daemon.analysis import today_for
    if value is None:
        return today_for(ctx.config)
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):     # "2026-W10" and "20260303" are ISO too, but no one's date
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--as-of {value!r} is not a date", fix="write it as YYYY-MM-DD, e.g. --as-of 2026-03-03") from None
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise UsageError(f"--as-of {value} is out of range",
                         fix=f"give a date from {EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()}")
    return day



def emit_json(data: object) -> None:
    click.echo(json.dumps(_json_safe(data), ensure_ascii=False, indent=2, allow_nan=False))


def _json_safe(data: object) -> object:
    """NaN and infinity become null: JSON has no such numbers, and strict parsers reject them."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _json_safe(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_json_safe(value) for value in data]
    return data


@click.group()
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              envvar="KITH_CONFIG", help="Config file (default: config.toml in your config directory).")
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
@click.version_option(__version__, prog_name="kith")
@click.pass_context
def cli(click_ctx: click.Context, config_path: Path | None, verbose: bool) -> None:
    """Kith reads the metadata of your mail and calendar and suggests whom to get in touch with.

    It never sends a message, drafts one, or adds anyone to anything.
    """
    paths.private_umask()
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    click_ctx.obj = Context(config_path or paths.default_config_path())


@cli.command()
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@click.pass_obj
def init(ctx: Context, force: bool) -> None:
    """Write a starter config file to edit."""
    from daemon.starter import machine_timezone, starter_config
    target = ctx.config_path
    if target.exists() and not force:
        raise UsageError("a config file exists already", where=str(target), fix="edit it, or pass --force to replace it")
    zone = machine_timezone()
    try:
        paths.write_private(target, starter_config(zone))
    except OSError as exc:
        raise UsageError(f"cannot write {target} ({exc.strerror or exc})",
                         fix="choose a place you can write to with --config PATH") from None
    sync = "kith sync" if target == paths.default_config_path() else f"kith --config {shlex.quote(str(target))} sync"
    click.echo(f"Wrote {target}. Add your addresses, goals and sources, then run `{sync}`."
               + (f" The time zone is this machine's, {zone}." if zone else
                  " No time zone was found on this machine: set [user] timezone too (it is UTC now)."))


SYNC_WAIT_SECONDS = 600     # a second `kith sync` of one store waits this long for the first to end


@cli.command()
@click.option("--source", "only", default=None, help="Sync only the source with this name.")
@click.pass_obj
def sync(ctx: Context, only: str | None) -> None:
    """Read new mail and calendar metadata from every source."""
    from daemon.sync import sync_all
    config = ctx.config
    if only and only not in [s.name for s in config.sources]:
        raise UsageError(f"no source named {only!r}", where=str(config.path),
                         fix=f"use one of: {', '.join(s.name for s in config.sources) or '(none configured)'}")
    from daemon.logs import QUIET_SYNC_FAILURES
    logging.getLogger("daemon.sync").addFilter(QUIET_SYNC_FAILURES)    # each failure is printed below, once
    with _sync_lock(config):        # a second sync of the store waits: both would read and write the same mail
        results = sync_all(ctx.db, config, only)
    if not results:
        disabled = [s.name for s in config.sources if not s.enabled and only in (None, s.name)]
        if disabled:
            click.echo(f"No sources to sync: {', '.join(disabled)} {'is' if len(disabled) == 1 else 'are'} "
                       "disabled (enabled = false in the config).")
        else:
            click.echo("No sources to sync: add [[sources]] to the config.")
    failed = 0
    for r in results:
        if r.error:
            failed += 1
            click.echo(f"{r.source}: failed: {r.error.removeprefix(f'{r.source}: ')}", err=True)
        else:
            click.echo(f"{r.source}: {sync_summary(r)}")
        for note in r.notes[:20]:
            one_line = note.replace("\r", "\\r").replace("\n", "\\n")    # a file name may hold a line break
            click.echo(f"{r.source}: note: {one_line}", err=True)   # named: stderr may be read apart
        if len(r.notes) > 20:
            click.echo(f"{r.source}: … and {len(r.notes) - 20} more notes", err=True)
    _warn_of_unseen_addresses(ctx)
    _warn_of_delivery_sign_in(ctx, only)
    if failed:
        sys.exit(3)


def fit_width(text: str, width: int, whole: bool = False) -> str:
    """`text` padded to `width` terminal columns, and cut with "…" where longer (`whole`: never cut, an address
    the user copies into `kith explain`): East Asian wide characters (南野, 固件) take two, so that a CJK name
    does not push the columns after it out of line."""
    cells = [2 if unicodedata.east_asian_width(c) in ("W", "F") else 0 if unicodedata.combining(c) else 1
             for c in text]
    if whole or sum(cells) <= width:
        return text + " " * (width - sum(cells))
    out, used = [], 0
    for char, size in zip(text, cells):
        if used + size > width - 1:
            break
        out.append(char)
        used += size
    return "".join(out) + "…" + " " * (width - 1 - used)


def _warn_of_unseen_addresses(ctx: Context) -> None:
    """A configured address of the user's that no synced mail carries — the starter file's you@example.com, a
    typo — makes the user's own mail look like a stranger's: said once per sync, with where to fix it."""
    from daemon.status import own_addresses_report
    from daemon.store import holds_anything
    unseen = [o["address"] for o in own_addresses_report(ctx.db, ctx.config)
              if o["origin"] == "config" and not o["in_mail"]]
    if unseen and holds_anything(ctx.db):
        click.echo(f"kith: {', '.join(unseen)} (in [user] addresses) {'is' if len(unseen) == 1 else 'are'} in none "
                   f"of the synced mail — is it yours? Fix [user] addresses in {ctx.config.path}", err=True)


def _warn_of_delivery_sign_in(ctx: Context, only: str | None) -> None:
    """The digest goes into an Outlook inbox through an app of its own that is not signed in: the digest would
    stay a file. Said with each sync of that mailbox (reading its token cache only), with the command to run."""
    if "outlook" not in ctx.config.digest.deliver:
        return
    from connectors.microsoft_auth import delivery_report
    report = delivery_report(ctx.config)
    if report and report["problem"] and only in (None, report["mailbox"].split(":", 1)[1]):
        click.echo(f"kith: the digest cannot go into your Outlook inbox: {report['problem']}", err=True)


def _sync_lock(config):
    """The store's sync lock, waited for (saying so, with the pid) while another `kith sync` holds it."""
    from daemon.lock import acquire_sync, sync_lock_path

    def waiting(pid: int | None) -> None:
        who = f"process {pid}" if pid else "another process"
        click.echo(f"kith: waiting for the sync running in {who}… (at most {SYNC_WAIT_SECONDS // 60} minutes; "
                   "Ctrl-C stops waiting)", err=True)
    try:
        return acquire_sync(config.database_path, wait=SYNC_WAIT_SECONDS, on_wait=waiting)
    except OSError as exc:
        raise StoreError(f"cannot create the sync lock ({exc.strerror or exc})",
                         where=str(sync_lock_path(config.database_path)),
                         fix="make the database's folder writable by you, or set [storage] database to a "
                             "writable place") from None


def plural(n: int, one: str, many: str | None = None) -> str:
    """"1 message", "2 messages", "0 messages"."""
    return f"{n} {one if n == 1 else many or one + 's'}"


def sync_summary(result) -> str:
    """What one source's sync wrote, told apart: messages new to the store, copies of messages it already held
    (another folder or source has them, or they were read again), events new to the source or read again,
    the cancelled occurrences among them (a cancelled series is expanded to every occurrence it cancels, which
    would otherwise read as hundreds of new events), and copies and events the source no longer holds."""
    parts = []
    if result.messages:
        known = f", {result.known_messages} already known" if result.known_messages else ""
        parts.append(plural(result.new_messages, "new message") + known)
    if result.events:
        known_events = result.known_events - result.cancelled_since
        known = f", {known_events} already known" if known_events else ""
        gone = result.new_cancelled + result.cancelled_since
        parts.append(plural(result.new_events - result.new_cancelled, "new event") + known
                     + (f", {plural(gone, 'cancelled occurrence')}" if gone else ""))
    if result.deleted:
        parts.append(f"{result.deleted} removed")
    return "; ".join(parts) or "nothing new"


@cli.command()
@click.option("--as-of", "as_of", default=None, metavar="DATE", help="Treat DATE (YYYY-MM-DD) as today.")
@click.option("--json", "as_json", is_flag=True, help="Print the digest as JSON.")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print the digest as text.")
@click.option("--force", is_flag=True, help="Render again even if this date's digest was delivered.")
@click.pass_obj
def digest(ctx: Context, as_of: str | None, as_json: bool, to_stdout: bool, force: bool) -> None:
    """Write the digest for today (or --as-of) to the digest folder."""
    ctx.read_only = True
    from daemon.analysis import build_digest, today_for
    from daemon.deliver import deliver, render
    day = parse_day(as_of, ctx)
    require_synced(ctx, "no digest was written or stored")
    syncing = note_if_syncing(ctx)
    result_digest, _ = build_digest(ctx.db, ctx.config, day)
    if day > today_for(ctx.config) or syncing:  # storing it would mark the day delivered before its mail is in
        payload = render(result_digest)
        why = "a sync is still reading your mail" if syncing else f"the digest for {day.isoformat()} is written on that day"
        click.echo(f"kith: a preview — {why}; nothing was stored", err=True)
        if as_json:
            emit_json(payload["json"])
        else:
            click.echo(payload["text"], nl=False)
        return
    # only today's digest goes to the user's inbox: a replay of an earlier day is for reading, not a backdated mail
    today = day == today_for(ctx.config)
    # forced, the stored digest is swapped in one transaction, keeping its replay flag (written on its day: none);
    # while a sync runs only a preview is made (above), and the stored digest stays
    delivered = deliver(ctx.db, result_digest, ctx.config.digest_dir, config=ctx.config if today else None,
                        replay=not today, replace=force)
    if delivered.kept:      # recorded there earlier (before --force, or before another mailbox failed)
        click.echo(f"kith: the digest for {day.isoformat()} is in {' and '.join(delivered.kept)} already: not placed "
                   "there again" + (" (the digest folder has the one rendered now)" if force else ""), err=True)
    mailboxes = [t for t in ctx.config.digest.deliver if t != "file"]
    if not today and mailboxes and not delivered.already:
        click.echo(f"kith: the digest for an earlier day goes to the digest folder only, not to "
                   f"{' or '.join(mailboxes)}", err=True)
    if delivered.already and (as_json or to_stdout):
        click.echo(f"kith: this is the digest stored for {day.isoformat()} (written earlier); --force renders it "
                   "again from the mail now held", err=True)
    if as_json:
        emit_json(delivered.payload["json"])
    elif to_stdout:
        click.echo(delivered.payload["text"], nl=False)
    else:
        state = "already delivered" if delivered.already else "written"
        click.echo(f"Digest for {day.isoformat()} {state}: {', '.join(str(f) for f in delivered.files)}")


def require_synced(ctx: Context, consequence: str = "") -> None:
    """Refuse, in one line, to judge an empty store: an empty digest or contact list is not a judgment of the
    user's mail ("nothing needs you", "no such contact"), and storing a digest would use up the day's digest
    before the first sync."""
    from daemon.store import holds_anything
    if holds_anything(ctx.db):
        return
    said = f" ({consequence})" if consequence else ""
    running = _sync_running(ctx)
    if running is not None:
        who = f"process {running}" if running else "another process"
        raise UsageError(f"no mail or calendar synced yet{said}: the sync running in {who} has stored nothing "
                         "so far", fix="wait for it to end, then run this again")
    fix = "run `kith sync` first" if ctx.config.sources else "add [[sources]] to the config, then run `kith sync`"
    raise UsageError(f"no mail or calendar synced yet{said}", fix=fix)


def _sync_running(ctx: Context) -> int | None:
    """The pid of a sync running on this store (0 if unknown), or None: one look at its lock file."""
    from daemon.lock import sync_holder
    try:
        return sync_holder(ctx.config.database_path)
    except OSError:
        return None


def note_if_syncing(ctx: Context) -> bool:
    """Say on stderr, in one line, that a sync is running: what it has not stored yet is not judged. Whether
    one runs."""
    running = _sync_running(ctx)
    if running is None:
        return False
    who = f"process {running}" if running else "another process"
    click.echo(f"kith: a sync is running ({who}): the figures may be incomplete until it ends", err=True)
    return True


@cli.command()
@click.option("--as-of", "as_of", default=None, metavar="DATE", help="Treat DATE (YYYY-MM-DD) as today.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show only the first N contacts.")
@click.option("--all", "show_noise", is_flag=True, help="Include noise in the table (JSON always has it).")
@click.option("--goal", default=None, metavar="NAME",
              help="Only the contacts who serve this goal, by value times relevance to it.")
@click.pass_obj
def contacts(ctx: Context, as_of: str | None, as_json: bool, limit: int | None, show_noise: bool,
             goal: str | None) -> None:
    """List contacts, most valuable for your goals first (value weighted by goal relevance)."""
    ctx.read_only = True
    from daemon.analysis import analyse, goal_named
    from daemon.report import contact_rows, serving, value_text
    from models.suggest import GOAL_THRESHOLD
    goal = goal_named(ctx.config, goal)
    day = parse_day(as_of, ctx)
    require_synced(ctx)
    syncing = note_if_syncing(ctx)
    analysis = analyse(ctx.db, ctx.config, day)
    rows = contact_rows(analysis, ctx.config)
    if goal is not None:
        rows = serving(rows, goal)
    if as_json:
        emit_json(rows[:limit] if limit else rows)
        return
    shown = rows if show_noise else [r for r in rows if not r["noise"]]
    if not rows and goal is None and not syncing:
        click.echo("kith: no contacts yet: none of the synced mail or meetings involves anyone but you", err=True)
    elif rows and not shown:
        # while a sync runs, the user's sent mail may simply not be read yet: no cause is guessed
        click.echo(f"kith: all {len(rows)} contacts are noise{'' if syncing else _why_all_noise(analysis)} — "
                   "`kith contacts --all` lists them with the reason", err=True)
    # the order is by the second column: value weighted by the goals, or times the relevance to --goal
    order = "for goal" if goal else "weighted"
    if shown:
        click.echo(f"{'value':<6}  {order:<8}  {'state':<8} {'name':<28} {'address':<40} {'last':<10}  goals")
    for r in shown[:limit] if limit else shown:
        goals = ", ".join(g for g, v in r["goals"].items() if v >= GOAL_THRESHOLD)
        key = r["value"] * r["goals"][goal] if goal else r["priority"]
        click.echo(f"{value_text(r['value']):<6}  {value_text(key):<8}  {r['state']:<8} {fit_width(r['name'], 28)} "
                   f"{fit_width(r['address'], 40, whole=True)} {r['last_contact'] or '-':<10}  {goals}")


def _why_all_noise(analysis) -> str:
    """The likely cause when every contact is noise: no mail from the user at all (a typo in [user]
    addresses, the starter config's placeholder, a Sent folder not synced)."""
    if any(f.sent for f in analysis.facts.values()):
        return ""
    return (": none of the mail is from you — check `[user] addresses` in the config and that your sent mail "
            "is synced")


@cli.command()
@click.argument("address")
@click.option("--as-of", "as_of", default=None, metavar="DATE", help="Treat DATE (YYYY-MM-DD) as today.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_obj
def explain(ctx: Context, address: str, as_of: str | None, as_json: bool) -> None:
    """Explain what Kith knows about one contact (by address or name), and why it judges it so."""
    ctx.read_only = True
    from daemon.analysis import StoreAddresses, analyse
    from daemon.contacts import is_mailing_list, typed_address
    from daemon.report import contact_of, explain_contact, stored_list_ids, verdicts_after
    day = parse_day(as_of, ctx)
    require_synced(ctx)
    note_if_syncing(ctx)
    email = typed_address(address, StoreAddresses(ctx.db))
    analysis = analyse(ctx.db, ctx.config, day)
    if email is None and "@" not in address:         # a name: "Joel Stanley", "stanley"
        email = _one_named(analysis.facts, address, f"as of {day.isoformat()}",
                           "give one of their addresses: `kith explain ADDRESS`")
    email = email or address.strip().lower()
    found = contact_of(analysis, email)
    if found is None and email in analysis.own:
        raise UsageError(f"{email} is one of your own addresses: Kith judges the people you write with, not you",
                         fix="give a contact's address; `kith contacts` lists them")
    if found is None and is_mailing_list(email, stored_list_ids(ctx.db)):
        raise UsageError(f"{email} is a mailing list's address, never a contact",
                         fix="explain the people who post to it: `kith contacts` lists them")
    if found is None:
        raise UsageError(f"no contact with the address {address} as of {day.isoformat()}",
                         fix="check the spelling, or run `kith contacts` to list the addresses Kith knows")
    later = verdicts_after(ctx.db, found.contact.addresses, analysis.now, ctx.config.zone)
    result = explain_contact(analysis, ctx.config, found.id, later)
    if as_json:
        emit_json(result)
    else:
        click.echo(result["text"])


def _one_named(facts, name: str, when: str, fix: str) -> str:
    """The address of the one contact called `name` (`daemon.report.contacts_named`); several or none are a
    one-line error naming up to five of them, never a guess."""
    from daemon.report import candidates, contacts_named
    found = contacts_named(facts, name)
    if not found:
        raise UsageError(f"no contact has the name or address {name!r} {when}",
                         fix="check the spelling, or run `kith contacts` to list the names and addresses Kith knows")
    if len(found) > 1:
        raise UsageError(f"{len(found)} contacts are named like {name!r}: {candidates(found)}", fix=fix)
    return found[0].id


@cli.command()
@click.argument("address")
@click.argument("verdict", type=click.Choice(["good", "noise", "not-now", "done", "clear"]))
@click.option("--goal", default=None, help="The judgment is about this goal only (good: relevant; noise: not relevant).")
@click.pass_obj
def feedback(ctx: Context, address: str, verdict: str, goal: str | None) -> None:
    """Tell Kith what you think of a contact: good, noise, not-now (snooze) or done; clear withdraws it."""
    from daemon.analysis import StoreAddresses, goal_named, record_feedback
    from daemon.contacts import is_mailing_list, typed_address
    from daemon.report import stored_list_ids
    goal = goal_named(ctx.config, goal)
    if typed_address(address) is None and "@" not in address and address.strip() and "\n" not in address:
        # a verdict is written: a name is never resolved to an address here, only named in the fix
        raise UsageError(f"{address!r} is not an e-mail address", fix=_address_for_name(ctx, address, verdict))
    known = record_feedback(ctx.db, ctx.config, address, verdict, goal)
    meaning = {"good": "valuable", "noise": "noise", "not-now": "snoozed for 30 days", "done": "done for now",
               "clear": "your verdicts withdrawn (the model judges again)"}[verdict]
    if goal and verdict in ("good", "noise", "clear"):
        meaning = {"good": "relevant to", "noise": "not relevant to",
                   "clear": "your verdict withdrawn for"}[verdict] + f" “{goal}”"
    elif goal:
        meaning += " (for every goal: snoozing is per contact)"
    email = typed_address(address, StoreAddresses(ctx.db))
    named = email or address        # "Gina" <gina@x.org> is stored, and said, as gina@x.org
    if email and is_mailing_list(email, stored_list_ids(ctx.db)):
        click.echo(f"{named}: {meaning} — stored, but with no effect: this is a mailing list's address, never "
                   "a contact. Judge the people who post to it by their own addresses.")
        return
    click.echo(f"{named}: {meaning}. It counts from the next digest on."
               + ("" if known else " Kith has no mail or meeting with this address yet; the judgment waits for one."))


def _address_for_name(ctx: Context, name: str, verdict: str) -> str:
    """The fix when `kith feedback` is given a name: the address of the contact so named, or of each."""
    from daemon.analysis import end_of_day, facts_until, own_addresses, today_for
    from daemon.report import candidates, contacts_named
    today = today_for(ctx.config)
    found = contacts_named(facts_until(ctx.db, ctx.config, own_addresses(ctx.db, ctx.config),
                                       end_of_day(today, ctx.config)), name)
    if len(found) == 1:
        return f"write their address: `kith feedback {found[0].id} {verdict}` ({found[0].contact.name})"
    if found:
        return f"write the address of the one you mean: {len(found)} contacts are named so, {candidates(found)}"
    return "write it as name@example.org (no contact has that name either)"


@cli.group()
def auth() -> None:
    """Connect Kith to a Google or Microsoft account (read-only metadata scopes), or keep an IMAP or CalDAV
    password."""


AUTH_COMMANDS = {"gmail": "google", "google_calendar": "google", "outlook": "microsoft",
                 "outlook_calendar": "microsoft", "imap": "imap", "caldav": "caldav"}


def _provider_source(ctx: Context, name: str | None, types: tuple[str, ...], provider: str):
    sources = [s for s in ctx.config.sources if s.type in types and (name is None or s.name == name)]
    other = next((s for s in ctx.config.sources if name is not None and s.name == name and s.type not in types), None)
    if not sources and other is not None:
        command = AUTH_COMMANDS.get(other.type)
        article = lambda word: "an" if word[0].lower() in "aeiou" else "a"  # noqa: E731
        raise UsageError(f"source {name!r} is {article(other.type)} {other.type} source, not {article(provider)} "
                         f"{provider} one",
                         where=str(ctx.config.path),
                         fix=f"run `kith auth {command} --source {name}`" if command
                         else "it reads local files and needs no sign-in or password")
    if not sources:
        raise UsageError(f"no {provider} source" + (f" named {name!r}" if name else "") + " in the config",
                         where=str(ctx.config.path), fix=f"add a [[sources]] entry with type = \"{types[0]}\"")
    return sources


@auth.command()
@click.option("--source", "name", default=None, help="The source to sign in for (default: every Google source).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser; print the address to open instead.")
@click.pass_obj
def google(ctx: Context, name: str | None, no_browser: bool) -> None:
    """Sign in to Google for Gmail / Google Calendar."""
    from connectors.google_auth import run_google_auth
    for source in _provider_source(ctx, name, ("gmail", "google_calendar"), "Google"):
        path = run_google_auth(source, ctx.config, open_browser=not no_browser)
        click.echo(f"{source.name}: signed in; token saved to {path} (readable by you only).")


@auth.command()
@click.option("--source", "name", default=None, help="The source to sign in for (default: every Microsoft source).")
@click.option("--device-code", is_flag=True, default=None, help="Sign in on another device with a code.")
@click.option("--delivery", is_flag=True,
              help="Sign in the app that puts the digest into your inbox (delivery_client_id), for Mail.ReadWrite "
                   "only (default: the app the sync uses).")
@click.pass_obj
def microsoft(ctx: Context, name: str | None, device_code: bool | None, delivery: bool) -> None:
    """Sign in to Microsoft 365 / Outlook.com for mail and calendar, or (--delivery) for the digest in your
    Outlook inbox."""
    from connectors.microsoft_auth import NO_DELIVERY_APP_FIX, WRITE_SCOPE, run_microsoft_auth, writes_with_sync_app
    if delivery:
        sources = [s for s in _provider_source(ctx, name, ("outlook",), "Outlook") if s.delivery_client_id]
        if not sources:
            raise UsageError("no outlook source" + (f" named {name!r}" if name else "") + " has a delivery_client_id",
                             where=str(ctx.config.path), fix=NO_DELIVERY_APP_FIX)
        for source in sources:
            path = run_microsoft_auth(source, ctx.config, device_code=device_code or None, delivery=True)
            click.echo(f"{source.name}: signed in for digest delivery (Mail.ReadWrite only, app "
                       f"{source.delivery_client_id}); token cache saved to {path} (readable by you only).")
        return
    sources = _provider_source(ctx, name, ("outlook", "outlook_calendar"), "Microsoft")
    for source in sources:
        granted: set[str] = set()
        path = run_microsoft_auth(source, ctx.config, device_code=device_code or None, on_granted=granted.update)
        click.echo(f"{source.name}: signed in; token cache saved to {path} (readable by you only).")
        if WRITE_SCOPE in granted and not writes_with_sync_app(ctx.config):
            click.echo(f"kith: {source.name}: the app the sync uses still holds Mail.ReadWrite, consented to earlier, "
                       "so its tokens can still read and change your mail: revoke that consent (README: Microsoft "
                       f"365, \"Digest in your Outlook inbox\") and run `kith auth microsoft --source {source.name}` "
                       "again.", err=True)
    _say_how_the_digest_reaches_outlook(ctx, sources)


def _say_how_the_digest_reaches_outlook(ctx: Context, signed_in: list) -> None:
    """After the sync's sign-in: once, that its grant includes Mail.ReadWrite when the digest goes into the inbox
    through the sync's own app; or that the delivery app still needs its sign-in."""
    from connectors.microsoft_auth import delivering_source, delivery_report, writes_with_sync_app
    target = delivering_source(ctx.config)
    if writes_with_sync_app(ctx.config):
        click.echo("kith: for the digest in your Outlook inbox, this sign-in also granted Mail.ReadWrite, and "
                   "Microsoft puts every permission of an app into each of its tokens: the token the sync uses can "
                   "read and change your mail too. To keep the sync read-only, register a second app for delivery "
                   f"and set delivery_client_id on source {target.name!r} (README: Microsoft 365, \"Digest in your "
                   "Outlook inbox\").", err=True)
    elif target is not None and target in signed_in:
        waiting = delivery_report(ctx.config)
        if waiting and waiting["signed_in"] is False:
            click.echo(f"{target.name}: the digest goes into your inbox through a second app (delivery_client_id): "
                       f"sign it in too with `kith auth microsoft --source {target.name} --delivery`.")


@auth.command(name="imap")
@click.option("--source", "name", default=None, help="The IMAP source to keep the password of (default: every one).")
@click.pass_obj
def imap_password(ctx: Context, name: str | None) -> None:
    """Ask for an IMAP source's password (an app password), check it with the server, and keep it in a file
    readable by you only."""
    from connectors.imap_session import try_login
    _keep_passwords(ctx, _provider_source(ctx, name, ("imap",), "IMAP"), try_login,
                    lambda s: f"{s.username} at {s.host}")


@auth.command(name="caldav")
@click.option("--source", "name", default=None, help="The CalDAV source to keep the password of (default: every one).")
@click.pass_obj
def caldav_password(ctx: Context, name: str | None) -> None:
    """Ask for a CalDAV source's password (an app password), check it with the server, and keep it in a file
    readable by you only."""
    from connectors.caldav_session import NotCalDAV, try_login
    _keep_passwords(ctx, _provider_source(ctx, name, ("caldav",), "CalDAV"), try_login,
                    lambda s: f"{s.username} at {s.url.strip()}", unchecked=(NotCalDAV,))


def _keep_passwords(ctx: Context, sources, try_login, account, unchecked: tuple[type, ...] = ()) -> None:
    """Ask for each source's password, check it with the server (a refused one is not kept, nor one that
    something else than the server answered, `unchecked`; one that cannot be checked now is, with a word),
    and keep it readable by the user only."""
    from connectors.passwords import save_password
    from daemon.errors import AuthError, SourceError
    for source in sources:
        if source.password_env:
            raise UsageError(f"source {source.name!r} reads its password from the environment variable "
                             f"{source.password_env}", where=str(ctx.config.path),
                             fix="set that variable instead, or remove password_env to keep the password in a file")
        question = f"{source.name}: password for {account(source)} (an app password)"
        if sys.stdin.isatty():
            password = click.prompt(question, hide_input=True, err=True)
        else:       # piped in (a password manager, a script): no terminal to hide it on, and no warning about one
            click.echo(f"{question}: (read from standard input)", err=True)
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise UsageError("no password on standard input", fix=f"run `kith auth {source.type}` in a "
                                 "terminal, or pipe the password in")
        try:
            try_login(source, ctx.config, password)
        except (AuthError, *unchecked):
            raise                       # a refused password is not kept, nor one sent to the wrong place
        except SourceError as exc:      # the server could not be asked: keep it, and say so
            click.echo(f"{source.name}: could not check the password now ({exc.problem})", err=True)
        path = save_password(source, ctx.config, password)
        click.echo(f"{source.name}: password kept in {path} (readable by you only).")


@cli.command(name="eval")
@click.option("--as-of", "as_of", default=None, metavar="DATE",
              help="Judge as of DATE using only earlier data.  [default: the latest date whose horizon has passed]")
@click.option("--horizon", type=click.IntRange(min=1, max=3650), default=90, show_default=True,
              help="Days after DATE in which two-way mail counts as the right answer.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_obj
def evaluate(ctx: Context, as_of: str | None, horizon: int, as_json: bool) -> None:
    """Measure the model against simple baselines on your own mail (time-split)."""
    ctx.read_only = True
    from dataclasses import asdict

    from daemon.analysis import (evaluate_store, holds_mail, horizon_complete, latest_evaluable_day,
                                 newest_mail_day, quiet_horizon)
    from models.learn import reach_days
    day = parse_day(as_of, ctx) if as_of else None
    if not holds_mail(ctx.db):     # only the reason, as the other judging commands: 0 contacts would say nothing
        raise UsageError("no scores: the store holds no mail yet", fix="run `kith sync` first")
    note_if_syncing(ctx)
    day = day or latest_evaluable_day(ctx.db, ctx.config, horizon)
    last_day, newest = day + timedelta(days=horizon), newest_mail_day(ctx.db, ctx.config)
    past = horizon_complete(ctx.config, day, horizon)
    complete = past and newest is not None and newest >= last_day
    result = evaluate_store(ctx.db, ctx.config, day, horizon)
    # the default date avoids a quiet tail; a horizon not over yet is no tail, only unfinished
    quiet = quiet_horizon(ctx.db, ctx.config, day, horizon) if as_of and complete else None
    if as_json:
        emit_json({"as_of": day.isoformat(), "horizon_days": horizon, "horizon_complete": complete,
                   "newest_mail": newest.isoformat() if newest else None, "quiet_horizon": quiet is not None,
                   **asdict(result)})
        return
    oldest = ctx.db.execute("SELECT min(sent_at) FROM messages").fetchone()[0]
    held = (day - datetime.fromisoformat(oldest).astimezone(ctx.config.zone).date()).days if oldest else 0
    reach = reach_days(horizon)
    history = ("no mail before it to learn from" if held <= 0 else
               f"only {_months(held)} before it, too little to learn from" if held < reach else
               f"too little two-way mail in the {round(reach / 30)} months before it to learn from")
    trained = (f"trained on {result.training_rows} examples" if result.training_rows else
               f"{history}, so the transparent rule stood in for the learned model")
    click.echo(f"As of {day.isoformat()}, horizon {horizon} days: {result.contacts} contacts, "
               f"{result.positives} with two-way mail afterwards; {trained}.")
    if not past:
        click.echo("Note: the horizon runs past today; mail still to come is not known yet, so some contacts "
                   "count as without two-way mail that may still have it.")
    elif not complete and newest is not None:
        click.echo(f"Note: the newest mail in the store is from {newest.isoformat()}, before the horizon ends on "
                   f"{last_day.isoformat()}; later mail is not known, so some contacts count as without two-way mail "
                   "that may have had it.")
    if quiet is not None:
        click.echo(f"Note: you wrote {quiet[0]} message{'' if quiet[0] == 1 else 's'} in the horizon against "
                   f"{quiet[1]} in as many days before it: ties that went quiet then (a holiday, a move, an archive "
                   "that ends) count as lost, and the figures measure little. Without --as-of, eval picks a date "
                   "before such a tail.")
    if not 0 < result.positives < result.contacts:
        advice = ("a shorter --horizon, so that the date can lie later" if held <= 0 else
                  "a longer --horizon" if result.positives == 0 else "a shorter --horizon")
        click.echo("No scores: they need contacts with and without two-way mail afterwards. "
                   f"Choose a date with mail before and after it, or {advice}.")
        return
    click.echo(f"{'ranking':<18} {'ROC AUC':>8} {'avg prec':>9} {'prec@20':>8}")
    for name, m in result.results.items():
        click.echo(f"{name:<18} {m.roc_auc:>8.3f} {m.average_precision:>9.3f} {m.precision_at_20:>8.2f}")
    click.echo(f"How firm the lead is: the model's ROC AUC is above every baseline's in {result.model_leads_chance:.0%} "
               "of resamplings of these contacts.")
    if result.positives < FEW_POSITIVES:
        click.echo(f"Note: with {result.positives} contact{'' if result.positives == 1 else 's'} with two-way mail "
                   "afterwards, these figures turn on one or two people and say little; a date with more mail "
                   "around it, or a longer --horizon, measures more.")


FEW_POSITIVES = 5      # below this, a ranking's figures are one or two people's, not a measurement


def _months(days: int) -> str:
    """"3 months of mail", "7 weeks of mail": how much history a store holds, as a person would say it."""
    if days < 60:
        weeks = max(1, round(days / 7))
        return f"{weeks} week{'' if weeks == 1 else 's'} of mail"
    return f"{round(days / 30.4)} months of mail"


@cli.command()
@click.argument("source")
@click.pass_obj
def forget(ctx: Context, source: str) -> None:
    """Delete what a dropped or renamed source synced (SOURCE as `kith status` names it, e.g. mbox:archive)."""
    from daemon.store import forget_source, refresh_own_addresses
    known = [r[0] for r in ctx.db.execute("SELECT source FROM sync_state ORDER BY source")]
    key = source if source in known else next((k for k in known if k.partition(":")[2] == source), None)
    if key is None:
        raise UsageError(f"no synced source named {source!r}", where=str(ctx.config.path),
                         fix=f"use one of: {', '.join(known) or '(nothing synced yet)'}")
    if key in {f"{s.type}:{s.name}" for s in ctx.config.sources if s.enabled}:
        raise UsageError(f"{key} is still in the config and would be synced again", where=str(ctx.config.path),
                         fix="remove it from the config (or set enabled = false), then run this again")
    with _sync_lock(ctx.config):    # a sync running now (the daemon's, or `kith sync`) ends first, not midway
        counts = forget_source(ctx.db, key)     # marks the user's addresses due in its transaction
        refresh_own_addresses(ctx.db, ctx.config.user.addresses)     # an address learned from its Sent folder goes too
    click.echo(f"Forgot {key}: {forget_summary(counts)}." + _forget_password(ctx, key))


def _forget_password(ctx: Context, key: str) -> str:
    """The password `kith auth imap|caldav` kept for a source no longer in the config goes with its mail (a
    disabled source keeps its own, to be enabled again); what the sentence says of it."""
    kind, _, name = key.partition(":")
    if kind not in ("imap", "caldav") or any(f"{s.type}:{s.name}" == key for s in ctx.config.sources):
        return ""
    from connectors.passwords import default_password_path
    path = default_password_path(kind, name)
    try:
        path.unlink()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        return f" Its password file {path} could not be deleted ({exc.strerror}): delete it yourself."
    return f" Its password file {path} was deleted."


def forget_summary(counts) -> str:
    """What `forget` dropped: the source's copies, the messages deleted with them (those no other source
    holds), the messages kept (another source holds them), and its events."""
    parts = []
    if counts.messages:
        kept = f" ({plural(counts.kept_messages, 'message')} still held by other sources)" if counts.kept_messages else ""
        parts.append(f"{plural(counts.messages, 'message copy', 'message copies')} dropped, "
                     f"{plural(counts.deleted_messages, 'message')} deleted from the store{kept}")
    if counts.events or not parts:
        parts.append(f"{plural(counts.events, 'event')} deleted")
    return "; ".join(parts)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_obj
def status(ctx: Context, as_json: bool) -> None:
    """Show the daemon, each source's last sync, errors and next run, and the next and last digest."""
    ctx.read_only = True
    from daemon.status import status_report
    report = status_report(ctx.db, ctx.config)
    if as_json:
        emit_json(report)
        return
    from daemon.status import status_lines
    click.echo("\n".join(status_lines(report, ctx.config.zone)))


@cli.command()
@click.pass_context
def run(click_ctx: click.Context) -> None:
    """Run in the foreground: sync all day, write the morning digest (systemd/launchd start this)."""
    from daemon.service import serve
    serve(click_ctx.obj.config_path, verbose=click_ctx.parent.params["verbose"])


@cli.group()
def service() -> None:
    """Run `kith run` in the background: a systemd user unit (Linux) or a launchd agent (macOS)."""


@service.command("install")
@click.pass_obj
def service_install(ctx: Context) -> None:
    """Write the service file for this config and start it."""
    from daemon import unit_files
    ctx.config  # noqa: B018 - a service that fails at once on a bad config helps nobody
    runner = unit_files.default_runner()
    click.echo("\n".join(unit_files.install(ctx.config_path.resolve(), run=runner)))
    _left_to_you(runner, "the service file is written but the service is not started")


@service.command("uninstall")
def service_uninstall() -> None:
    """Stop the service and remove its file."""
    from daemon import unit_files
    runner = unit_files.default_runner()
    lines = unit_files.uninstall(run=runner)
    click.echo("\n".join(lines))
    if not lines[0].startswith("Not installed"):
        _left_to_you(runner, "the service is not stopped or removed")


def _left_to_you(runner: object, undone: str) -> None:
    """Without a user bus Kith can only print the steps: a script must not take that for done (exit 7)."""
    from daemon.unit_files import ServiceError
    if runner is None:
        click.echo(f"kith: {undone} — run the commands above", err=True)
        sys.exit(ServiceError.exit_code)


@service.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def service_status(as_json: bool) -> None:
    """Show whether the service is installed and whether the daemon runs."""
    from daemon import unit_files
    info = unit_files.status(run=unit_files.default_runner())
    if as_json:
        emit_json(info)
        return
    click.echo(f"{info['manager']}: {info['unit_file']} {'installed' if info['installed'] else 'not installed'}"
               + (f", {info['manager_state']}" if info["manager_state"] else ""))
    pid = info["running_pid"]
    click.echo(f"Daemon: running (pid {pid})" if pid is not None
               else f"Daemon: unknown ({info['daemon_problem']})" if info.get("daemon_problem")
               else "Daemon: not running")


def main() -> None:
    """Entry point: run the CLI; turn expected errors into one line, unexpected ones into one line + log."""
    try:
        cli.main(prog_name="kith", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.UsageError as exc:       # one line, like every other error, with where to look
        where = exc.ctx.command_path if exc.ctx else "kith"
        message = exc.format_message().rstrip(".")
        click.echo(f"{where}: {message} — see '{where} --help'", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KithError as exc:
        click.echo(f"kith: {exc.line()}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except sqlite3.DatabaseError as exc:   # written or read mid-command: read-only, locked by another program, damaged
        from daemon.store import database_problem
        click.echo(f"kith: {database_problem(exc).line()}", err=True)
        sys.exit(StoreError.exit_code)
    except Exception as exc:  # noqa: BLE001 - the one place unknown errors are caught
        log_file = write_crash_log()
        details = (f"details in {log_file}" if log_file else
                   f"no crash log could be written either: check that {paths.state_dir()} is a folder you can write to")
        click.echo(f"kith: unexpected error ({exc.__class__.__name__}: {exc}) — {details}; please report it", err=True)
        sys.exit(70)


