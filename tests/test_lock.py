"""The single-instance lock: refuses a second holder by name, and dies with its process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from daemon.lock import AlreadyRunning, acquire, holder
from tests.conftest import ROOT

HOLD = "import sys, time; from pathlib import Path; from daemon.lock import acquire; " \
       "lock = acquire(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)"


def test_lock_records_our_pid_privately_and_is_released(tmp_path) -> None:
    path = tmp_path / "state" / "kith.lock"
    with acquire(path):
        assert path.read_text() == f"{os.getpid()}\n"
        assert path.stat().st_mode & 0o777 == 0o600
        assert holder(path) == os.getpid()
    assert holder(path) is None
    assert path.exists()            # never deleted: deleting would let two processes lock two files


def test_second_acquire_is_refused_with_one_line_naming_the_holder(tmp_path) -> None:
    path = tmp_path / "kith.lock"
    with acquire(path):
        with pytest.raises(AlreadyRunning) as refused:
            acquire(path)
    assert refused.value.exit_code == 6
    line = refused.value.line()
    assert "\n" not in line and f"process {os.getpid()}" in line and str(path) in line


def test_a_holder_killed_with_sigkill_leaves_no_stale_lock(tmp_path) -> None:
    path = tmp_path / "kith.lock"
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stdout.readline() == "held\n"
        assert holder(path) == child.pid
        with pytest.raises(AlreadyRunning, match=f"process {child.pid} holds the lock"):
            acquire(path)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=5)
    assert path.read_text() == f"{child.pid}\n"   # the dead pid is still written there...
    assert holder(path) is None                   # ...but nobody holds the lock
    with acquire(path):
        assert holder(path) == os.getpid()


def test_holder_of_a_missing_or_leftover_file_is_nobody(tmp_path) -> None:
    assert holder(tmp_path / "absent.lock") is None
    leftover = tmp_path / "kith.lock"
    leftover.write_text("4242\n")
    assert holder(leftover) is None
    with acquire(leftover):
        assert leftover.read_text() == f"{os.getpid()}\n"
