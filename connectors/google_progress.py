"""A progress bar with an ETA for long first syncs, on stderr, only when stderr is a terminal.

A 100,000-message Gmail backfill takes from half an hour to hours under the
per-user quota; without a bar it looks hung. Drawing is kept out of the
connector: it calls `update(done)` and nothing else.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

WIDTH = 24
REDRAW_SECONDS = 0.5


def format_eta(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else (f"{minutes}m {secs:02d}s" if minutes else f"{secs}s")


def progress_line(label: str, done: int, total: int, rate: float | None) -> str:
    """`gmail:me [#####.....] 12,000/100,000 12% ETA 4m 10s` (ETA once a rate is known)."""
    total = max(total, done, 1)
    share = done / total
    bar = "#" * int(share * WIDTH) + "." * (WIDTH - int(share * WIDTH))
    eta = f" ETA {format_eta((total - done) / rate)}" if rate else ""
    return f"{label} [{bar}] {done:,}/{total:,} {share:4.0%}{eta}"


class Progress:
    """Redraws one line at most twice a second; silent unless the stream is a TTY."""

    def __init__(self, label: str, total: int, done: int = 0, *, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = total > 0 and self.stream.isatty()
        self.label, self.total, self.clock = label, total, clock
        self.start_done, self.start = done, clock()
        self.drawn_at = float("-inf")
        self.done = done

    def update(self, done: int, *, force: bool = False) -> None:
        now = self.clock()
        self.done = done
        if not self.enabled or (now - self.drawn_at < REDRAW_SECONDS and not force):
            return
        elapsed = now - self.start
        rate = (done - self.start_done) / elapsed if elapsed > 0 and done > self.start_done else None
        self.stream.write("\r" + progress_line(self.label, done, self.total, rate) + "\x1b[K")
        self.stream.flush()
        self.drawn_at = now

    def close(self) -> None:
        """Draw the final state and end the line, so the next output starts clean."""
        if self.enabled and self.drawn_at > float("-inf"):
            self.update(self.done, force=True)
            self.stream.write("\n")
            self.stream.flush()
