"""Pacing and retries for every HTTP connector: one helper, used by all.

`with_backoff` retries what the provider says is temporary (429, 5xx, rate-limit
403s), honouring Retry-After, with exponential backoff and full jitter; a server
that asks for a wait beyond `MAX_RETRY_AFTER` makes it give up at once.
`TokenBucket` spends quota units at the rate the provider allows, so we rarely
hit a 429 at all. Clock and sleep are parameters, so tests need no real time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")
EPSILON = 1e-9
MIN_PAUSE = 1e-6
# The longest Retry-After waited for within one sync. Throttling answers usually ask for
# seconds to a minute or two; a longer wait would block the daemon's single thread, and with
# it every other source and the morning digest. Beyond this we give up this round (the cursor
# is committed batch by batch, so the next scheduled sync resumes where this one stopped).
MAX_RETRY_AFTER = 300.0


class Retryable(Exception):
    """Raised (or mapped to) by a connector for a temporary failure."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WaitTooLong(Exception):
    """The server asked for a pause longer than MAX_RETRY_AFTER: give up this round."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"asked to wait {wait_text(seconds)}")
        self.seconds = seconds


def wait_text(seconds: float) -> str:
    """'45 s', '12 min', '3 h' for a one-line message."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.0f} h"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; HTTP dates are rare here)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def delay_for(attempt: int, *, base: float = 1.0, cap: float = 64.0, rng: Callable[[], float] = random.random,
              retry_after: float | None = None) -> float:
    """Full-jitter exponential delay; the server's Retry-After wins when it asks for longer (up to
    MAX_RETRY_AFTER: callers give up on longer waits, and this keeps any other caller bounded)."""
    jittered = rng() * min(cap, base * 2 ** attempt)
    return max(jittered, min(retry_after, MAX_RETRY_AFTER)) if retry_after is not None else jittered


def with_backoff(call: Callable[[], T], *, classify: Callable[[Exception], float | None | bool],
                 attempts: int = 6, sleep: Callable[[float], None] = time.sleep,
                 rng: Callable[[], float] = random.random) -> T:
    """Run `call`, retrying while `classify(exc)` says the error is temporary.

    `classify` returns False for a permanent error (re-raised at once), True for a
    temporary one, or a number of seconds the server asked us to wait. A wait
    beyond MAX_RETRY_AFTER raises WaitTooLong (from the error) without sleeping.
    """
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - classify decides
            verdict = classify(exc)
            if verdict is False:
                raise
            retry_after = None if verdict is True else float(verdict)
            if retry_after is not None and retry_after > MAX_RETRY_AFTER:
                raise WaitTooLong(retry_after) from exc
            if attempt == attempts - 1:
                raise
            sleep(delay_for(attempt, rng=rng, retry_after=retry_after))
    raise AssertionError("unreachable")


@dataclass
class TokenBucket:
    """Spend `units` at most at `rate` units per second, with bursts up to `capacity`."""

    rate: float
    capacity: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _level: float = field(init=False)
    _stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self._level = self.capacity
        self._stamp = self.clock()

    def take(self, units: float) -> float:
        """Wait until `units` are available, take them; returns the seconds waited."""
        waited = 0.0
        while True:
            now = self.clock()
            self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._level >= units - EPSILON:  # float rounding must not leave us a hair short forever
                self._level = max(0.0, self._level - units)
                return waited
            pause = max(MIN_PAUSE, (units - self._level) / self.rate)
            self.sleep(pause)
            waited += pause
