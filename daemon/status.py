"""What `kith status` shows: the daemon, each source's last sync and errors, the next runs, the last digest.

Kept apart from the contact reports so that `kith status` imports no model code and answers at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path

from sqlite_utils import Database

from daemon.config import Config
from daemon.lock import daemon_state
from daemon.logs import log_path
from daemon.service import next_digest_at
from daemon.store import holds_anything, keep_own_addresses_current, mail_carries


def status_report(db: Database, config: Config, now: datetime | None = None) -> dict:
    """What `kith status` shows: per source the last successful sync, counts, errors and the
    next run; the daemon; the next and the last digest; the database size. Fields may be
    added, never renamed (`status --json` is a contract)."""
    now = now or datetime.now(UTC)
    path = config.database_path
    configured = {f"{s.type}:{s.name}" for s in config.sources}
    enabled = {f"{s.type}:{s.name}" for s in config.sources if s.enabled}
    keys = configured | {r[0] for r in db.execute("SELECT source FROM sync_state")}
    pid, problem = daemon_state()
    last = db.execute("SELECT date, delivered_at, path FROM digests ORDER BY date DESC LIMIT 1").fetchone()
    return {
        "database": str(path),
        "database_bytes": _size(path),
        "wal_bytes": _size(path.with_name(path.name + "-wal")),
        # running is null when the lock file cannot be read (another user's): whether a daemon runs is unknown
        "daemon": {"running": None if problem else pid is not None, "pid": pid or None, "log_file": str(log_path()),
                   **({"problem": problem} if problem else {})},
        "sources": [_source_status(db, key, key in configured, key in enabled) for key in sorted(keys)],
        "next_digest_at": next_digest_at(db, config, now).isoformat(timespec="seconds"),
        "digest_waits_for_first_sync": not holds_anything(db),
        "last_digest": {"date": last[0], "delivered_at": last[1], "path": last[2]} if last else None,
        "own_addresses": own_addresses_report(db, config),
        # null unless the digest goes into an Outlook inbox; then whether through an app of its own, signed in
        "outlook_delivery": _outlook_delivery(config),
        # assistants sending from the user's mailbox: their Sent mail is the user's, they are never suggested
        "assistants": [email for email, in db.execute("SELECT email FROM delegates ORDER BY email")],
    }


ORIGINS = {"config": "from the config", "sent-folder": "found in your Sent folders",
           "forwarded-to": "a home account you send or forward mail to",
           "receives-only": "an address of your name that only receives: an old one"}


def own_addresses_report(db: Database, config: Config) -> list[dict]:
    """The user's addresses Kith works with — those of `[user] addresses` and those it found (senders of the
    Sent folders, a home account the user forwards to) — and whether any synced mail carries each: a
    configured address no mail shows (the starter file's you@example.com, a typo) is one to fix."""
    keep_own_addresses_current(db, config.user.addresses)
    rows = dict(db.execute("SELECT email, origin FROM own_addresses").fetchall())
    for address in config.user.addresses:
        rows.setdefault(address.strip().lower(), "config")
    any_mail = holds_anything(db)
    return [{"address": address, "origin": origin,
             "in_mail": any_mail and mail_carries(db, address)} for address, origin in sorted(rows.items())]




def _outlook_delivery(config: Config) -> dict | None:
    """How the digest goes into an Outlook inbox (msal is imported only then): see `delivery_report`."""
    if "outlook" not in config.digest.deliver:
        return None
    from connectors.microsoft_auth import delivery_report
    return delivery_report(config)


def _source_status(db: Database, key: str, configured: bool, enabled: bool) -> dict:
    row = db.execute("SELECT synced_at, last_error, error_at FROM sync_state WHERE source = ?",
                     [key]).fetchone() or (None, None, None)
    plan = db.execute("""SELECT failures, last_run_at, last_ok_at, next_run_at, last_error,
                                last_messages, last_events, last_deleted FROM schedules WHERE job = ?""",
                      [key]).fetchone() or (0, None, None, None, None, 0, 0, 0)
    return {
        "source": key, "configured": configured, "enabled": enabled, "synced_at": row[0],
        "last_error": row[1], "error_at": row[2],
        "messages": db.execute("SELECT count(*) FROM message_copies WHERE source = ?", [key]).fetchone()[0],
        "events": db.execute("SELECT count(*) FROM events WHERE source = ?", [key]).fetchone()[0],
        "failing": bool(plan[0]), "failures": plan[0], "current_error": plan[4],
        "last_run_at": plan[1], "last_ok_at": plan[2], "next_run_at": plan[3] if enabled else None,
        "last_run_counts": {"messages": plan[5], "events": plan[6], "deleted": plan[7]},
    }


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _count(n: int, noun: str) -> str:
    """"1 message", "2 messages", "0 messages"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _when(text: str, zone: tzinfo, now: datetime) -> str:
    """A stored time as the user reads it: local, to the minute, and how long ago or ahead."""
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    seconds = (at - now).total_seconds()
    span = abs(seconds)
    if span < 60:
        relative = "now"
    else:
        amount = (f"{round(span / 60)} min" if span < 90 * 60 else f"{round(span / 3600)} h" if span < 36 * 3600
                  else f"{round(span / 86400)} days")
        relative = f"in {amount}" if seconds > 0 else f"{amount} ago"
    return f"{at.astimezone(zone):%Y-%m-%d %H:%M} ({relative})"


def status_lines(report: dict, zone: tzinfo = UTC, now: datetime | None = None) -> list[str]:
    """`kith status` as text, from `status_report`'s data; times in `zone`, against `now`."""
    now = now or datetime.now(UTC)
    when = lambda text: _when(text, zone, now)  # noqa: E731
    daemon = report["daemon"]
    lines = [f"Daemon: running (pid {daemon['pid']}); log: {daemon['log_file']}" if daemon["running"]
             else f"Daemon: unknown ({daemon['problem']})" if daemon.get("problem")
             else "Daemon: not running — start it with `kith run`, or `kith service install`",
             f"Database: {report['database']} ({(report['database_bytes'] + report['wal_bytes']) // 1024} KiB)"]
    for s in report["sources"]:
        synced = s["last_ok_at"] or s["synced_at"]
        line = f"  {s['source']}: last sync {when(synced) if synced else 'never'}, {_count(s['messages'], 'message')}, " \
               f"{_count(s['events'], 'event')}"
        if not s["configured"]:
            line += f" — not in this config (what it synced still counts; `kith forget {s['source']}` drops it)"
        elif not s["enabled"]:
            line += " — disabled (enabled = false)"
        if s["next_run_at"] and daemon["running"]:
            line += f"; next sync {when(s['next_run_at'])}"
        lines.append(line)
        if s["failing"]:
            lines.append(f"    failing ({_count(s['failures'], 'time')} in a row): {s['current_error']}")
        elif s["last_error"] and not (synced and s["error_at"] and s["error_at"] <= synced):   # else fixed since
            lines.append(f"    last error ({when(s['error_at']) if s['error_at'] else 'time unknown'}): "
                         f"{s['last_error']}")
    own = report.get("own_addresses") or []
    if own:
        lines.append("Your addresses: " + ", ".join(
            f"{o['address']} ({ORIGINS.get(o['origin'], o['origin'])}"
            + ("; in none of the synced mail — check [user] addresses" if o["origin"] == "config" and not o["in_mail"]
               and not report.get("digest_waits_for_first_sync") else "") + ")" for o in own))
    if report.get("assistants"):
        lines.append("Your assistants (what they file in your Sent folders counts as yours; never suggested): "
                     + ", ".join(report["assistants"]))
    if report.get("digest_waits_for_first_sync"):
        lines.append("Next digest: once the first sync brings mail or meetings (nothing synced yet)")
    else:
        lines.append(f"Next digest: {when(report['next_digest_at'])}"
                     + ("" if daemon["running"] else " if the daemon runs"))
    delivery = report.get("outlook_delivery") or {}
    if delivery.get("problem"):
        lines.append(f"Digest to your Outlook inbox: {delivery['problem']}")
    last = report["last_digest"]
    if last is None:
        lines.append("Last digest: none yet")
    elif last["delivered_at"]:
        lines.append(f"Last digest: {last['date']} → {last['path']}")
    elif last["path"]:      # the file is written, a mailbox failed: the next run places it there
        lines.append(f"Last digest: {last['date']} → {last['path']}; not in your inbox yet (see the log; the next "
                     "run tries again)")
    else:   # recorded, but its files could not be written: the next run delivers it
        lines.append(f"Last digest: {last['date']}, not delivered yet (see the log; the next run tries again)")
    return lines
