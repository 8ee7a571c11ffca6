"""The daemon's notion of time: an injectable clock, and schedule's jobs running on it.

schedule 1.2.2 reads naive `datetime.now()` in `Job.should_run/run/_schedule_next_run`
and `Scheduler.idle_seconds`; `ClockJob` and `ClockScheduler` subclass exactly those so
that they read an injected `Clock` instead (tests move time; a wake from sleep is a
jump of it). Ordering and `run_pending` stay schedule's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import schedule

from daemon.errors import UsageError

Counts = tuple[int, int, int]  # messages, events, deleted


class Clock(Protocol):
    def now(self) -> datetime: ...        # aware, UTC
    def monotonic(self) -> float: ...     # does not advance during suspend


@dataclass
class SystemClock:
    """The real clock, plus the test hooks' offset."""

    offset: float = 0.0
    offset_file: Path | None = None
    _last_file_offset: float = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset + self._file_offset())

    def monotonic(self) -> float:
        return time.monotonic()

    def _file_offset(self) -> float:
        """The offset in the file; while it cannot be read (missing, or caught half-written), the last one read:
        a read between the truncation and the write of a new offset must not look like a jump to real time."""
        if self.offset_file is None:
            return 0.0
        try:
            self._last_file_offset = float(self.offset_file.read_text(encoding="ascii"))
        except (OSError, ValueError):
            pass
        return self._last_file_offset

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SystemClock:
        clock_file = env.get("KITH_CLOCK_FILE")
        return cls(_number(env, "KITH_CLOCK_OFFSET", 0.0), Path(clock_file) if clock_file else None)


def minute_seconds(env: Mapping[str, str]) -> float:
    """Real seconds per configured minute: 60, or the KITH_MINUTE_SECONDS test hook."""
    value = _number(env, "KITH_MINUTE_SECONDS", 60.0)
    if value <= 0:
        raise UsageError("KITH_MINUTE_SECONDS must be positive", fix="unset it; it is a hook for tests")
    return value


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env.get(name, default))
    except ValueError:
        raise UsageError(f"{name} is not a number", fix="unset it; it is a hook for tests") from None


@dataclass
class JobState:
    """What the daemon knows about one job between runs."""

    name: str
    interval: timedelta
    cap: timedelta
    failures: int = 0
    last_error: str | None = None
    last_ok_at: str | None = None   # store.utc_text
    counts: Counts = (0, 0, 0)

    def delay(self) -> timedelta:
        """interval × 2^failures, capped (but never below the interval itself)."""
        return min(self.interval * 2 ** min(self.failures, 20), max(self.cap, self.interval))


class ClockJob(schedule.Job):
    """A schedule.Job that reads the injected clock and backs off after failures."""

    def __init__(self, scheduler: ClockScheduler, state: JobState) -> None:
        super().__init__(1, scheduler)
        self.unit = "seconds"
        self.clock = scheduler.clock
        self.state = state

    @property
    def should_run(self) -> bool:
        return self.clock.now() >= self.next_run

    def run(self) -> object:
        result = self.job_func()
        self.last_run = self.clock.now()
        self._schedule_next_run()
        return result

    def _schedule_next_run(self) -> None:
        self.next_run = self.clock.now() + self.state.delay()


class ClockScheduler(schedule.Scheduler):
    """schedule.Scheduler whose jobs and idle time follow the injected clock."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def add(self, state: JobState, func: Callable[[], object]) -> ClockJob:
        """A job that runs `func` now, then after `state.delay()` each time."""
        job = ClockJob(self, state).do(func)
        job.next_run = self.clock.now()
        return job

    @property
    def idle_seconds(self) -> float | None:
        return (self.next_run - self.clock.now()).total_seconds() if self.jobs else None
