"""The single-instance lock: refuses a second holder by name, and dies with its process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from daemon.lock import AlreadyRunning, SyncRunning, acquire, acquire_sync, holder, sync_holder, sync_lock_path
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


# ------------------------------------------------------------ the sync lock of one store

HOLD_SYNC = "import sys, time; from pathlib import Path; from daemon.lock import acquire_sync; " \
            "lock = acquire_sync(Path(sys.argv[1]), wait=0); print('held', flush=True); time.sleep(float(sys.argv[2]))"


def hold_sync(database, seconds: float) -> subprocess.Popen:
    """Another process holding the store's sync lock for `seconds`, as a running sync does."""
    child = subprocess.Popen([sys.executable, "-c", HOLD_SYNC, str(database), str(seconds)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.stdout.readline() == "held\n"
    return child


def test_the_sync_lock_sits_beside_the_database_and_names_its_holder(tmp_path) -> None:
    database = tmp_path / "data" / "kith.db"
    assert sync_holder(database) is None                              # no lock file yet: nobody syncs
    with acquire_sync(database, wait=0):
        path = tmp_path / "data" / "kith.db.sync.lock"
        assert sync_lock_path(database) == path and path.read_text() == f"{os.getpid()}\n"
        assert path.stat().st_mode & 0o777 == 0o600
        assert sync_holder(database) == os.getpid()
        assert holder(tmp_path / "data" / "kith.lock") is None         # not the daemon's lock
    assert sync_holder(database) is None


def test_a_second_sync_waits_for_the_first_to_end_and_says_so_once(tmp_path) -> None:
    database = tmp_path / "kith.db"
    child = hold_sync(database, 1.5)
    told: list[int | None] = []
    try:
        started = time.monotonic()
        with acquire_sync(database, wait=30, on_wait=told.append, poll=0.05):
            waited = time.monotonic() - started
            assert sync_holder(database) == os.getpid()
    finally:
        child.kill()
        child.wait(timeout=5)
    assert 0.5 < waited < 20 and told == [child.pid]


def test_a_sync_that_outlasts_the_wait_is_a_one_line_error_naming_it(tmp_path) -> None:
    database = tmp_path / "kith.db"
    child = hold_sync(database, 60)
    try:
        with pytest.raises(SyncRunning) as refused:
            acquire_sync(database, wait=0.5, poll=0.05)
        assert sync_holder(database) == child.pid
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=5)
    line = refused.value.line()
    assert refused.value.exit_code == 6 and "\n" not in line
    assert f"another sync of this store is still running (process {child.pid})" in line and str(database) in line
    assert sync_holder(database) is None                              # killed: the kernel released it
    with acquire_sync(database, wait=0):
        pass


def test_threads_holding_the_sync_lock_take_turns(tmp_path) -> None:
    """Each holder opens the file anew, so two threads of one process exclude each other too."""
    database, inside, overlaps = tmp_path / "kith.db", [], []

    def sync() -> None:
        with acquire_sync(database, wait=30, poll=0.01):
            inside.append(1)
            overlaps.append(len(inside))
            time.sleep(0.2)
            inside.pop()
    workers = [threading.Thread(target=sync) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    assert overlaps == [1, 1, 1]


# ---------------------------------------------------------------------- a state folder Kith cannot write

OTHER_USER = 65534
WITHOUT_OVERRIDE = ["setpriv", "--inh-caps=-dac_override,-dac_read_search,-fowner",
                    "--bounding-set=-dac_override,-dac_read_search,-fowner"]


class Outsider:
    """Kith against state files that are not its user's, as `sudo kith run` leaves kith.lock and kith.log. Run as
    root, the files become another user's and kith runs without root's power to override file modes (setpriv);
    run as anyone else, the files stay the user's own, closed to them."""

    def __init__(self, base: Path) -> None:
        self.base, self.root = base, os.geteuid() == 0
        if self.root and shutil.which("setpriv") is None:
            pytest.skip("needs setpriv to run kith as root without overriding file modes")
        self.state = base / "state" / "kith"
        self.state.mkdir(parents=True)
        self.config = base / "config.toml"
        self.config.write_text(f'[user]\naddresses = ["me@home.example"]\n[storage]\ndatabase = "{base / "kith.db"}"\n'
                               f'[digest]\ndirectory = "{base / "digests"}"\n')
        self.taken: list[Path] = []

    def take_away(self, path: Path) -> None:
        """`path` becomes another user's (as root), or closed to its own user."""
        if self.root:
            os.chown(path, OTHER_USER, OTHER_USER)
            path.chmod(0o755 if path.is_dir() else 0o600)
        else:
            path.chmod(0o500 if path.is_dir() else 0)
        self.taken.append(path)

    def give_back(self) -> None:
        for path in self.taken:
            if self.root:
                os.chown(path, 0, 0)
            path.chmod(0o700)

    def kith(self, *args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "HOME": str(self.base), "XDG_STATE_HOME": str(self.base / "state"),
               "XDG_DATA_HOME": str(self.base / "data"), "XDG_CONFIG_HOME": str(self.base / "cfg"),
               "PYTHONPATH": str(ROOT)}
        for name in ("INVOCATION_ID", "JOURNAL_STREAM", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"):
            env.pop(name, None)
        prefix = WITHOUT_OVERRIDE if self.root else []
        return subprocess.run([*prefix, sys.executable, "-m", "daemon", "--config", str(self.config), *args], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=60)

    def fix_named(self, line: str, path: Path) -> bool:
        chown = f"sudo chown {'-R ' if path.is_dir() else ''}$USER {path}`"
        return chown in line if self.root else f"chmod u+rwX {path}`" in line


@pytest.fixture
def outsider(tmp_path):
    kith = Outsider(tmp_path)
    yield kith
    kith.give_back()


def one_line(done: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


def test_a_lock_file_left_by_sudo_is_one_line_for_run_and_unknown_for_status(outsider) -> None:
    lock = outsider.state / "kith.lock"
    lock.write_text("4242\n")
    outsider.take_away(lock)
    run = outsider.kith("run")
    assert run.returncode == 5                 # StoreError: systemd's unit does not restart into it (2 5 6)
    line = one_line(run)
    assert line.startswith(f"kith: {lock}: cannot open the lock file (Permission denied)") and outsider.fix_named(line, lock)
    assert not (outsider.state / "crash.log").exists()
    status = outsider.kith("status")
    assert status.returncode == 0, status.stderr
    assert f"Daemon: unknown ({lock}: cannot read the lock file (Permission denied)" in status.stdout
    report = json.loads(outsider.kith("status", "--json").stdout)["daemon"]
    assert report["running"] is None and str(lock) in report["problem"]
    service = outsider.kith("service", "status")
    assert service.returncode == 0 and f"Daemon: unknown ({lock}: cannot read the lock file" in service.stdout


def test_a_log_file_left_by_sudo_is_one_line(outsider) -> None:
    log = outsider.state / "kith.log"
    log.write_text("a line of root's daemon\n")
    outsider.take_away(log)
    run = outsider.kith("run")
    assert run.returncode == 5
    line = one_line(run)
    assert line.startswith(f"kith: {log}: cannot open the log file (Permission denied)") and outsider.fix_named(line, log)


def test_a_state_folder_kith_cannot_write_is_one_line(outsider) -> None:
    outsider.take_away(outsider.state)
    run = outsider.kith("run")
    assert run.returncode == 5
    line = one_line(run)
    assert line.startswith(f"kith: {outsider.state / 'kith.lock'}: cannot open the lock file (Permission denied)")
    assert outsider.fix_named(line, outsider.state)


def test_a_state_folder_that_cannot_exist_is_one_line_for_run_and_unknown_for_status(tmp_path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state folder should be")
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\ndatabase = "{tmp_path / "kith.db"}"\n')
    env = {**os.environ, "XDG_STATE_HOME": str(blocker), "PYTHONPATH": str(ROOT)}
    env.pop("INVOCATION_ID", None)
    env.pop("JOURNAL_STREAM", None)
    run = subprocess.run([sys.executable, "-m", "daemon", "--config", str(config), "run"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 5
    assert one_line(run).startswith(f"kith: {blocker / 'kith'}: cannot open the lock file (Not a directory)")
    assert f"check that {blocker} is a folder you can write to" in run.stderr
    status = subprocess.run([sys.executable, "-m", "daemon", "--config", str(config), "status"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and f"Daemon: unknown ({blocker / 'kith' / 'kith.lock'}: cannot read" in status.stdout


def test_a_sync_lock_on_a_read_only_disk_says_to_move_the_database_not_the_state_folder(tmp_path, monkeypatch):
    """Kill hunt: the lock beside the database said "set XDG_STATE_HOME", which moves no database."""
    import errno
    from daemon.errors import StoreError
    real = os.open

    def read_only(path, *args, **kw):
        if str(path).endswith(".sync.lock"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real(path, *args, **kw)
    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(StoreError) as info:
        acquire_sync(tmp_path / "kith.db", wait=0)
    assert "set [storage] database to a folder you can write to" in info.value.line()
    assert "XDG_STATE_HOME" not in info.value.line()
