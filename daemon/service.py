"""`kith run`: the long-running loop that syncs all day and delivers the morning digest once.

- Time is a parameter: the sync jobs run on schedule's scheduler, subclassed in
  `daemon.clock` so that it reads an injected `Clock`.
- The digest is decided from the database each tick, not by the scheduler (which
  "does not run missed jobs" and skips the day after a late start): past `[digest] time`
  in the user's zone and today's digest undelivered in `digests`. Only today's is made.
- The config file is looked at before each round (inode, size, mtime): an edit is read as SIGHUP reads it,
  so that a removed source is not synced back after `kith forget`, nor subjects stored after
  `store_subjects = false`. A source's round that finds the file edited since the tick began waits for it.
- Wake from sleep = a wall-clock jump between ticks (the monotonic clock stops
  during suspend); overdue jobs then run once. After a wake or a start the digest waits up to
  WAKE_GRACE_MINUTES for a source that failed since (Wi-Fi is often not back yet), retrying it every
  WAKE_RETRY_MINUTES meanwhile; one still failing then is named in the digest.
- A failing job is counted, logged once per change of state and retried after
  interval × 2^failures (≤ 6 h); `schedules` keeps failures and next runs for `kith status`.
- Signal handlers only set flags and wake the sleep (`signal.set_wakeup_fd`). Syncs stop
  between batches; after STOP_GRACE s SIGALRM raises `Stopping`, rolling back the open
  transaction. SQLite waits at most BUSY_TIMEOUT_MS for a lock.

Test hooks (environment, for tests only): KITH_MINUTE_SECONDS — real seconds per config
minute (intervals, backoff, tick), e.g. 0.1; KITH_CLOCK_OFFSET — seconds added to the
wall clock; KITH_CLOCK_FILE — a file holding such an offset, re-read on every reading
(a test rewrites it to simulate a sleep).
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from datetime import time as day_time
from functools import partial
from pathlib import Path

from sqlite_utils import Database

from connectors.base import Source
from daemon import lock, store
from daemon.clock import Clock, ClockScheduler, Counts, JobState, SystemClock, minute_seconds
from daemon.config import Config, SourceConfig
from daemon.config import load as load_config
from daemon.errors import KithError, SourceError, StoreError
from daemon.logs import QUIET_SYNC_FAILURES, setup_service_logging
from daemon.sync import build_source, sync_source

log = logging.getLogger(__name__)

STOP_GRACE = 4.0              # seconds from SIGTERM to a forced stop (systemd waits 90)
BUSY_TIMEOUT_MS = 3000        # a locked database fails fast and is retried with backoff
MAX_BACKOFF_MINUTES = 360
DIGEST_RETRY_MINUTES = 5
TICK_MINUTES = 0.5            # tick at least this often, to notice a wake-up or clock change
WAKE_GRACE_MINUTES = 15       # after a wake or start, the digest waits at most this long for every source to sync …
WAKE_RETRY_MINUTES = 2        # … retrying a source that failed after this long (not its usual backoff)
JUMP_SECONDS = 60.0           # a wall-clock jump larger than this is a sleep or a clock change


class Stopping(BaseException):
    """Leave the loop now: raised between batches after a stop request, or by the grace alarm.

    A BaseException, so that no `except Exception` on the way (logging's, a
    library's, our job guard) swallows it; sqlite-utils' atomic() rolls back on it.
    """


def source_key(source: SourceConfig) -> str:
    return f"{source.type}:{source.name}"


# ------------------------------------------------------------------ the digest, from the database

def digest_time_on(day: date, config: Config) -> datetime:
    hour, minute = (int(part) for part in config.digest.time.split(":"))
    return datetime.combine(day, day_time(hour, minute), config.zone)


def digest_due(db: Database, config: Config, now: datetime) -> date | None:
    """Today's date if its digest time has passed and it is not delivered yet, else None."""
    today = now.astimezone(config.zone).date()
    if now < digest_time_on(today, config):
        return None
    row = db.execute("SELECT delivered_at FROM digests WHERE date = ?", [today.isoformat()]).fetchone()
    return None if row and row[0] else today


def next_digest_at(db: Database, config: Config, now: datetime) -> datetime:
    """When the daemon writes the next digest: today's time, now (overdue), or tomorrow's — also when today's
    was written before its time (`kith digest` in the night)."""
    today = now.astimezone(config.zone).date()
    if digest_due(db, config, now):
        return now
    at = digest_time_on(today, config)
    written = db.execute("SELECT delivered_at FROM digests WHERE date = ?", [today.isoformat()]).fetchone()
    if now < at and not (written and written[0]):
        return at
    return digest_time_on(today + timedelta(days=1), config)   # today's is written (a `kith digest` before its time)


# ------------------------------------------------------------------ the service

class Flags:
    """Set by signal handlers, read by the loop. Handlers do nothing else."""

    def __init__(self) -> None:
        self.stop = False
        self.reload = False

    def on_stop(self, signum: int, frame: object) -> None:
        if self.stop:
            raise Stopping("second stop signal")
        self.stop = True
        signal.setitimer(signal.ITIMER_REAL, STOP_GRACE)

    def on_reload(self, signum: int, frame: object) -> None:
        self.reload = True

    @staticmethod
    def on_alarm(signum: int, frame: object) -> None:
        raise Stopping(f"not stopped within {STOP_GRACE} s")

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self.on_stop)
        signal.signal(signal.SIGINT, self.on_stop)
        signal.signal(signal.SIGHUP, self.on_reload)
        signal.signal(signal.SIGALRM, self.on_alarm)


class Service:
    """The daemon's state; `tick()` does the due work once, `run()` loops until stopped."""

    def __init__(self, config: Config, db: Database, clock: Clock, *, minute: float = 60.0,
                 build: Callable[[SourceConfig, Config], Source] = build_source, flags: Flags | None = None) -> None:
        self.config, self.db, self.clock, self.minute, self.build = config, db, clock, minute, build
        self.flags = flags or Flags()
        logging.getLogger("daemon.sync").addFilter(QUIET_SYNC_FAILURES)  # adding it twice is a no-op
        self.scheduler = ClockScheduler(clock)
        self.digest = self._job("digest", DIGEST_RETRY_MINUTES)
        self.digest_retry_at: datetime | None = None
        self._last_tick: tuple[datetime, float] | None = None
        self._loop_error: str | None = None
        self._waiting_since: date | None = None       # the day whose digest waits for the first sync (logged)
        self._said_waiting_for_sync = False            # the digest waits for a `kith sync` (logged once)
        self._awake_since: datetime | None = None      # the start or the last wake: syncs before it are stale
        self._failing_before_wake: set[str] = set()     # sources failing already then: no wait helps them
        self._said_waiting_for_wake: datetime | None = None   # the wake whose digest wait was logged
        self._hurried: dict[str, int] = {}             # sources retried soon while the digest waits: their failures
        self._config_stamp = config_stamp(config.path)   # the file as last read (or tried)
        self.schedule_sources()

    def minutes(self, n: float) -> timedelta:
        return timedelta(seconds=n * self.minute)

    def schedule_sources(self) -> None:
        """(Re)create one job per enabled source; each syncs at once, then every `interval`."""
        self.scheduler.clear()
        for sc in self.config.sources:
            if sc.enabled:
                state = self._job(source_key(sc), sc.interval)
                self.scheduler.add(state, partial(self._guarded, state, partial(self._sync, sc)))

    def _job(self, name: str, interval: float) -> JobState:
        """A job's state, continued from `schedules`: a restart does not reset the backoff."""
        state = JobState(name, self.minutes(interval), self.minutes(MAX_BACKOFF_MINUTES))
        try:
            row = self.db.execute("""SELECT failures, last_ok_at, last_messages, last_events, last_deleted
                                     FROM schedules WHERE job = ?""", [name]).fetchone()
        except sqlite3.Error:
            row = None
        if row:
            state.failures, state.last_ok_at, state.counts = row[0], row[1], tuple(row[2:])
        return state

    def _adopt(self, state: JobState) -> None:
        """Take a job's failures, error and last success from `schedules`, as the last sync (`kith sync`'s)
        recorded them: a round the daemon left to it is neither a success nor a failure of its own."""
        try:
            row = self.db.execute("SELECT failures, last_ok_at, last_error FROM schedules WHERE job = ?",
                                  [state.name]).fetchone()
        except sqlite3.Error:
            return
        if row:
            state.failures, state.last_ok_at, state.last_error = row[0] or 0, row[1], row[2]

    def tick(self) -> None:
        """One pass: read an edited config, notice a clock jump, run the due syncs, then the digest if it is due."""
        if self.config_edited():
            log.info("the config file changed: reading it again")
            self.reload()
        started = self.clock.now()
        if self._last_tick is None:
            self._woke(started)
        self._notice_jump(started, self.clock.monotonic())
        self.scheduler.run_pending()
        for job in self.scheduler.jobs:
            if job.last_run is not None and job.last_run >= started:
                self._save(job.state, job.next_run)
        self._morning(self.clock.now())

    def run(self, wait: Callable[[float], None]) -> None:
        """Tick and sleep until a stop is requested; `wait(seconds)` returns early on a signal."""
        log.info("kith daemon started (pid %d): %d sources, digest at %s %s", os.getpid(),
                 len(self.scheduler.jobs), self.config.digest.time, self.config.user.timezone)
        try:
            while not self.flags.stop:
                if self.flags.reload:
                    self.reload()
                self._safe_tick()
                if not self.flags.stop:
                    wait(self.minutes(TICK_MINUTES).total_seconds() if self._loop_error else self.sleep_seconds())
        except Stopping as exc:
            log.info("stopping: %s", exc)
        log.info("kith daemon stopped")

    def _safe_tick(self) -> None:
        """A bug outside the guarded jobs is logged (once while it repeats) and the loop goes on:
        exiting would only make the service manager restart us into the same bug."""
        try:
            self.tick()
        except Exception as exc:  # noqa: BLE001
            if describe(exc) != self._loop_error:
                log.exception("unexpected error in the daemon loop; going on")
            self._loop_error = describe(exc)
        else:
            self._loop_error = None

    def sleep_seconds(self) -> float:
        """Until the next job, the next digest time or the next forced tick, whichever is first."""
        now = self.clock.now()
        longest = self.minutes(TICK_MINUTES).total_seconds()
        idle = self.scheduler.idle_seconds
        waits = [longest, longest if idle is None else idle]
        waits.append((digest_time_on(now.astimezone(self.config.zone).date(), self.config) - now).total_seconds()
                     % 86400)
        if self.digest_retry_at:
            waits.append((self.digest_retry_at - now).total_seconds())
        return max(0.0, min(waits))

    def config_edited(self) -> bool:
        """Whether the config file changed since it was last read (or found invalid: that is logged once)."""
        return config_stamp(self.config.path) != self._config_stamp

    def reload(self) -> None:
        """SIGHUP, or an edited file: load the config again; an invalid one is logged and the old one kept."""
        self.flags.reload = False
        self._config_stamp = config_stamp(self.config.path)    # before reading: an edit meanwhile is seen next time
        try:
            new = load_config(self.config.path)
        except KithError as exc:
            log.error("config not reloaded, keeping the previous one: %s", exc.line())
            return
        if new.database_path != self.config.database_path:
            # the open store, its sync lock and `kith sync`'s view of it all follow the path: half a switch would sync
            # into one store while locking (and creating) another
            log.warning("[storage] database changed to %s: still using %s until kith is restarted "
                        "(`systemctl --user restart kith`)", new.database_path, self.config.database_path)
            new = replace(new, storage=self.config.storage)
        self.config = new
        self.schedule_sources()
        log.info("config reloaded: %d sources, digest at %s %s", len(self.scheduler.jobs),
                 new.digest.time, new.user.timezone)

    # -------------------------------------------------------------- jobs

    def _guarded(self, state: JobState, work: Callable[[], Counts]) -> None:
        """Run one job; a failure is counted, logged once per change and backed off, never raised."""
        if self.flags.stop:
            raise Stopping("stop requested")
        try:
            counts = work()
        except SyncDeferred:
            self._adopt(state)      # the outcome is that `kith sync`'s, which records its own (daemon.sync)
            return
        except Exception as exc:  # noqa: BLE001 - one job must never take the daemon down
            if self.flags.stop:
                raise Stopping("stop requested") from None
            self._failed(state, exc)
        else:
            if state.last_error:
                log.info("%s works again after %d failures", state.name, state.failures)
            state.failures, state.last_error = 0, None
            state.last_ok_at, state.counts = store.utc_text(self.clock.now()), counts

    def _failed(self, state: JobState, exc: Exception) -> None:
        line = describe(exc)
        state.failures += 1
        retry = self.clock.now() + state.delay()
        if line != state.last_error:
            expected = isinstance(exc, (KithError, sqlite3.Error, OSError))
            # An unexpected message may quote data (an address): it goes to DEBUG and `kith status` only.
            shown = line if expected else f"unexpected {exc.__class__.__name__} (see `kith status`)"
            log.warning("%s failed: %s — retrying in %s, then backing off", state.name, shown, _human(state.delay()))
            log.debug("%s: %s", state.name, line, exc_info=None if expected else exc)
        else:
            log.debug("%s failed again (%d times); next try at %s", state.name, state.failures, retry.isoformat())
        state.last_error = line

    def _sync(self, sc: SourceConfig) -> Counts:
        source = self.build(sc, self.config)
        try:
            held = lock.acquire_sync(self.config.database_path, wait=0)
        except lock.SyncRunning:
            # a `kith sync` of the same store is doing this work now: this round leaves it to that one
            log.info("%s: skipped this round: a `kith sync` of the same store is running", source_key(sc))
            raise SyncDeferred from None
        with held:
            if self.config_edited():    # e.g. the source was removed, and `kith forget` may follow at once
                log.info("%s: skipped this round: the config file changed; it is read first", source_key(sc))
                raise SyncDeferred
            result = sync_source(self.db, source, store_subjects=self.config.privacy.store_subjects,
                                 on_batch=self._between_batches)
        if result.error:
            raise SourceError(result.error)
        if result.notes:
            log.info("%s: %d notes (skipped items); details at DEBUG level", source_key(sc), len(result.notes))
            for note in result.notes:
                log.debug("%s: %s", source_key(sc), note)
        if store.own_addresses_due(self.db):
            store.refresh_own_addresses(self.db, self.config.user.addresses)
        return result.messages, result.events, result.deleted

    def _between_batches(self, counts: store.Counts) -> None:
        """Called after each committed batch: the safe place to stop."""
        if self.flags.stop:
            raise Stopping("stop requested between batches")

    def _morning(self, now: datetime) -> None:
        """Deliver today's digest when it is due (decided from `digests`), retrying with backoff."""
        if self.digest_retry_at and now < self.digest_retry_at:
            return
        try:
            day = digest_due(self.db, self.config, now)
        except sqlite3.Error as exc:
            self._failed(self.digest, exc)
            self.digest_retry_at = now + self.digest.delay()
            return
        if day is None or self._before_first_sync(day):
            return
        if self._manual_sync_running():
            # a `kith sync` is reading mail into the store: the day's digest waits for it, not for a backoff
            self.digest_retry_at = now + self.minutes(1)
            return
        stale = self._not_synced_since_wake()
        if stale and self._waiting_after_wake(day, now, stale):
            return
        self._settle_hurried(now)
        self._guarded(self.digest, partial(self._deliver, day, now, stale))
        self.digest_retry_at = now + self.digest.delay() if self.digest.failures else None
        self._save(self.digest, self.digest_retry_at or digest_time_on(day + timedelta(days=1), self.config))

    def _manual_sync_running(self) -> bool:
        """Whether another process (`kith sync`) holds the store's sync lock: its mail is half read."""
        try:
            running = lock.sync_holder(self.config.database_path) is not None
        except OSError:
            return False
        if running and not self._said_waiting_for_sync:
            log.info("the digest waits for the `kith sync` running on the same store")
        self._said_waiting_for_sync = running
        return running

    def _before_first_sync(self, day: date) -> bool:
        """An empty store would give an empty digest and use up the day: the digest waits for the first sync."""
        try:
            if store.holds_anything(self.db):
                return False
        except sqlite3.Error:
            return False                # the delivery itself will meet and report the problem
        if self._waiting_since != day:
            log.info("digest for %s waits: no mail or calendar synced yet", day.isoformat())
            self._waiting_since = day
        return True

    def _woke(self, now: datetime) -> None:
        self._awake_since = now
        self._failing_before_wake = {job.state.name for job in self.scheduler.jobs if job.state.failures}

    def _not_synced_since_wake(self) -> list[JobState]:
        """The enabled sources that failed since the start or the last wake and have not synced since: the
        network not back yet. One failing already before (an expired sign-in) is not waited for."""
        if self._awake_since is None:
            return []
        since = store.utc_text(self._awake_since)
        return [job.state for job in self.scheduler.jobs
                if job.state.last_error and job.state.name not in self._failing_before_wake
                and (not job.state.last_ok_at or job.state.last_ok_at < since)]

    def _waiting_after_wake(self, day: date, now: datetime, stale: list[JobState]) -> bool:
        """Whether the digest waits for `stale` sources: within WAKE_GRACE_MINUTES of the wake, a digest from the
        evening's mail would miss the night's, and call answered mail owed. A failed source is retried soon."""
        until = self._awake_since + self.minutes(WAKE_GRACE_MINUTES)
        if now >= until:
            return False
        soon = now + self.minutes(WAKE_RETRY_MINUTES)
        for job in self.scheduler.jobs:
            if job.state in stale:
                self._hurried.setdefault(job.state.name, job.state.failures)
                job.next_run = min(job.next_run, soon)
        if self._said_waiting_for_wake != self._awake_since:
            log.info("digest for %s waits up to %s for %s to sync", day.isoformat(), _human(until - now),
                     ", ".join(state.name for state in stale))
            self._said_waiting_for_wake = self._awake_since
        self.digest_retry_at = min(soon, until)
        return True

    def _settle_hurried(self, now: datetime) -> None:
        """The quick retries while the digest waited count as the one failure they were hurried after: the usual
        backoff goes on from there, not from the cap that a retry every 2 minutes would reach."""
        for job in self.scheduler.jobs:
            before = self._hurried.get(job.state.name)
            if before is not None and job.state.failures > before:
                job.state.failures = before
                job.next_run = (job.last_run or now) + job.state.delay()     # from its last try, as usual
                self._save(job.state, job.next_run)
        self._hurried = {}

    def _deliver(self, day: date, now: datetime, stale: list[JobState] | None = None) -> Counts:
        from daemon.analysis import build_digest  # imports the models: only when a digest is made
        from daemon.deliver import deliver
        digest, _ = build_digest(self.db, self.config, day)
        if stale:
            names = ", ".join(state.name for state in stale)
            error = next((state.last_error for state in stale if state.last_error), None)
            digest.notes.append(f"Written before {names} could sync since your computer woke or Kith started"
                                + (f" ({error})" if error else "") + ": newer mail there is not in this digest.")
        delivered = deliver(self.db, digest, self.config.digest_dir, now, config=self.config)
        log.info("digest for %s %s: %d suggestions in %s", day.isoformat(),
                 "was already delivered" if delivered.already else "delivered", len(digest.suggestions),
                 self.config.digest_dir)
        if delivered.kept:
            log.info("digest for %s: %s had it already, not placed there again", day.isoformat(),
                     " and ".join(delivered.kept))
        return len(digest.suggestions), 0, 0

    def _notice_jump(self, now: datetime, monotonic: float) -> None:
        """A wall-clock jump between ticks means sleep or a clock change: due work runs once now."""
        last, self._last_tick = self._last_tick, (now, monotonic)
        if last is None:
            return
        jump = (now - last[0]).total_seconds() - (monotonic - last[1])
        if abs(jump) <= JUMP_SECONDS:
            return
        log.info("wall clock jumped %+.0f s (sleep or clock change): running what is due", jump)
        self.digest_retry_at = None
        self._woke(now)
        for job in self.scheduler.jobs:
            job.next_run = min(job.next_run, now + job.state.delay())  # after a backward jump

    def _save(self, state: JobState, next_run: datetime | None) -> None:
        """Record the job's state for `kith status`; a database problem here is only logged."""
        try:
            self.db.execute(
                """INSERT OR REPLACE INTO schedules (job, failures, last_run_at, last_ok_at, next_run_at,
                       last_error, last_messages, last_events, last_deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [state.name, state.failures, store.utc_text(self.clock.now()), state.last_ok_at,
                 store.utc_text(next_run) if next_run else None, state.last_error, *state.counts])
        except sqlite3.Error as exc:
            log.debug("could not record the state of %s: %s", state.name, exc)


def config_stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells an edited config file apart: inode (an editor's save-by-rename), size and mtime; None when
    it cannot be read (deleted, a folder's permissions): reading it then says what is wrong."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


class SyncDeferred(Exception):
    """A source's round left to the `kith sync` that holds the store's sync lock."""


def describe(exc: BaseException) -> str:
    """One line for the log and `kith status`; database trouble reads as a StoreError."""
    if isinstance(exc, KithError):
        return exc.line()
    if isinstance(exc, sqlite3.Error):
        return StoreError(f"database problem ({exc})",
                          fix="free disk space or stop the other program using the database").line()
    if isinstance(exc, OSError):
        return f"{exc.__class__.__name__}: {exc.strerror or exc}"
    return f"unexpected {exc.__class__.__name__}: {exc} (run `kith -v run` for the traceback in the log)"


def _human(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.1f} s"


# ------------------------------------------------------------------ `kith run`

class Waker:
    """Sleep that a signal cuts short: Python writes a byte to our socket on every signal."""

    def __init__(self) -> None:
        self._read, self._write = socket.socketpair()
        self._read.setblocking(False)
        self._write.setblocking(False)
        self._previous = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)

    def wait(self, seconds: float) -> None:
        select.select([self._read], [], [], seconds)
        try:
            while self._read.recv(512):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        signal.set_wakeup_fd(self._previous)
        self._read.close()
        self._write.close()


def serve(config_path: Path, *, verbose: bool = False, env: Mapping[str, str] | None = None) -> None:
    """Run the daemon in the foreground until SIGTERM/SIGINT; return normally (exit code 0)."""
    env = os.environ if env is None else env
    config = load_config(config_path)
    minute, clock = minute_seconds(env), SystemClock.from_env(env)
    with lock.acquire():
        flags = Flags()
        flags.install()
        try:
            _serve(config, clock, minute, flags, verbose=verbose, env=env)
        except Stopping:
            pass  # a second signal or the grace alarm during start-up or clean-up


def _serve(config: Config, clock: Clock, minute: float, flags: Flags, *, verbose: bool,
           env: Mapping[str, str]) -> None:
    setup_service_logging(verbose, env=env)      # a log it cannot open is one line (StoreError), before anything
    waker = Waker()
    db = store.open_store(config.database_path)
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        Service(config, db, clock, minute=minute, flags=flags).run(waker.wait)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        waker.close()
        db.close()
