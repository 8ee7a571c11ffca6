"""`kith service`: the unit texts, where they go, and which commands run (never the real systemd)."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from daemon.unit_files import (AGENT_LABEL, ServiceError, install, manager_reachable, render_launchd_plist,
                               render_systemd_unit, service_environment, status, systemd_quote, uninstall, unit_path)
from tests.conftest import ROOT

PYTHON = "/home/anna/.venvs/kith/bin/python"
CONFIG = Path("/home/anna/.config/kith/config.toml")


class Recorder:
    """A Runner that records the commands and answers with a fixed exit code."""

    def __init__(self, code: int = 0, output: str = "") -> None:
        self.commands: list[list[str]] = []
        self.code, self.output = code, output

    def __call__(self, command: list[str]) -> tuple[int, str]:
        self.commands.append(command)
        return self.code, self.output


def linux_env(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}


def test_systemd_unit_starts_this_interpreter_with_the_config_and_restarts_on_failure() -> None:
    unit = render_systemd_unit(PYTHON, CONFIG, {"XDG_DATA_HOME": "/data"})
    lines = unit.splitlines()
    assert f"ExecStart={PYTHON} -m daemon --config {CONFIG} run" in lines
    assert "Restart=on-failure" in lines and "WantedBy=default.target" in lines and "Type=simple" in lines
    assert 'Environment="XDG_DATA_HOME=/data"' in lines
    assert "RestartPreventExitStatus=2 5 6" in lines          # bad config, files it cannot write, already running
    assert "ExecReload=/bin/kill -HUP $MAINPID" in lines      # `systemctl --user reload kith` = SIGHUP
    assert not any(line.startswith(("StandardOutput", "StandardError")) for line in lines)   # journald


def test_systemd_quoting_of_spaces_percent_and_dollar() -> None:
    assert systemd_quote("/opt/my kith/python") == '"/opt/my kith/python"'
    assert systemd_quote("/opt/100%/python") == "/opt/100%%/python"
    assert systemd_quote("/opt/$HOME/python") == "/opt/$$HOME/python"
    assert systemd_quote("A=$x y", exec_line=False) == '"A=$x y"'
    unit = render_systemd_unit("/opt/my kith/python", Path("/cfg dir/config.toml"))
    assert 'ExecStart="/opt/my kith/python" -m daemon --config "/cfg dir/config.toml" run' in unit


def test_launchd_agent_keeps_alive_only_after_a_failure(tmp_path) -> None:
    text = render_launchd_plist(PYTHON, CONFIG, tmp_path / "launchd.log", {"PYTHONPATH": "/src"})
    agent = plistlib.loads(text.encode())
    assert agent["Label"] == AGENT_LABEL == "dev.kith.agent"
    assert agent["ProgramArguments"] == [PYTHON, "-m", "daemon", "--config", str(CONFIG), "run"]
    assert agent["KeepAlive"] == {"SuccessfulExit": False} and agent["RunAtLoad"] is True
    assert agent["Umask"] == 0o077 and agent["EnvironmentVariables"] == {"PYTHONPATH": "/src"}
    assert agent["StandardErrorPath"] == str(tmp_path / "launchd.log")


def test_service_environment_carries_xdg_dirs_and_a_source_checkout(tmp_path) -> None:
    env = {"XDG_DATA_HOME": "/d", "XDG_STATE_HOME": "/s", "HOME": "/home/anna", "PATH": "/bin"}
    assert service_environment(env, tmp_path) == {"XDG_DATA_HOME": "/d", "XDG_STATE_HOME": "/s",
                                                  "PYTHONPATH": str(tmp_path)}
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert service_environment({}, site) == {}


def test_unit_paths_per_platform(tmp_path) -> None:
    assert unit_path("linux", linux_env(tmp_path)) == tmp_path / "cfg" / "systemd" / "user" / "kith.service"
    assert unit_path("linux", {"HOME": str(tmp_path)}) == tmp_path / ".config" / "systemd" / "user" / "kith.service"
    agents = tmp_path / "Library" / "LaunchAgents"
    assert unit_path("darwin", {"HOME": str(tmp_path)}) == agents / "dev.kith.agent.plist"
    with pytest.raises(ServiceError, match="win32"):
        unit_path("win32", {"HOME": str(tmp_path)})


def test_systemctl_is_used_only_with_a_user_bus(tmp_path) -> None:
    which = {"systemctl": "/usr/bin/systemctl"}.get
    assert not manager_reachable("linux", {}, which)
    assert manager_reachable("linux", {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus"}, which)
    assert not manager_reachable("linux", {"XDG_RUNTIME_DIR": str(tmp_path)}, which)
    (tmp_path / "bus").touch()
    assert manager_reachable("linux", {"XDG_RUNTIME_DIR": str(tmp_path)}, which)
    assert not manager_reachable("linux", {"XDG_RUNTIME_DIR": str(tmp_path)}, lambda name: None)
    assert manager_reachable("darwin", {}, {"launchctl": "/bin/launchctl"}.get)


def test_install_without_a_service_manager_writes_the_unit_and_prints_the_commands(tmp_path) -> None:
    lines = install(CONFIG, run=None, python=PYTHON, platform="linux", env=linux_env(tmp_path))
    unit = tmp_path / "cfg" / "systemd" / "user" / "kith.service"
    assert f"ExecStart={PYTHON} -m daemon --config {CONFIG} run" in unit.read_text()
    assert f'Environment="XDG_CONFIG_HOME={tmp_path / "cfg"}"' in unit.read_text()
    assert lines[0] == f"Wrote {unit}"
    assert "  systemctl --user enable --now kith.service" in lines


def test_install_and_uninstall_run_systemctl_in_order(tmp_path) -> None:
    env, run = linux_env(tmp_path), Recorder()
    install(CONFIG, run=run, python=PYTHON, platform="linux", env=env)
    unit = unit_path("linux", env)
    assert unit.exists()
    assert run.commands == [["systemctl", "--user", "daemon-reload"],
                            ["systemctl", "--user", "enable", "--now", "kith.service"]]
    run.commands.clear()
    lines = uninstall(run=run, platform="linux", env=env)
    assert not unit.exists() and f"Removed {unit}" in lines
    assert run.commands == [["systemctl", "--user", "disable", "--now", "kith.service"],
                            ["systemctl", "--user", "daemon-reload"]]
    assert uninstall(run=run, platform="linux", env=env) == [f"Not installed: {unit} does not exist"]


def test_uninstall_without_a_user_bus_keeps_the_unit_and_lists_the_steps_in_order(tmp_path) -> None:
    env = linux_env(tmp_path)
    install(CONFIG, run=Recorder(), python=PYTHON, platform="linux", env=env)
    unit = unit_path("linux", env)
    lines = uninstall(run=None, platform="linux", env=env)
    assert unit.exists()                               # `systemctl --user disable` still needs it
    assert lines == ["The service manager is not reachable from here; run:",
                     "  systemctl --user disable --now kith.service", f"  rm {unit}",
                     "  systemctl --user daemon-reload"]


def test_a_refused_command_is_one_error_line_and_the_unit_stays(tmp_path) -> None:
    env = linux_env(tmp_path)
    with pytest.raises(ServiceError) as failed:
        install(CONFIG, run=Recorder(1, "Failed to connect to bus"), python=PYTHON, platform="linux", env=env)
    assert "systemctl --user daemon-reload" in failed.value.line() and "Failed to connect to bus" in failed.value.line()
    assert unit_path("linux", env).exists()


def test_launchd_install_and_uninstall_bootstrap_and_bootout(tmp_path) -> None:
    env, run = {"HOME": str(tmp_path)}, Recorder()
    install(CONFIG, run=run, python=PYTHON, platform="darwin", env=env)
    agent = unit_path("darwin", env)
    assert plistlib.loads(agent.read_bytes())["ProgramArguments"][0] == PYTHON
    uninstall(run=run, platform="darwin", env=env)
    assert run.commands == [["launchctl", "bootstrap", f"gui/{os.getuid()}", str(agent)],
                            ["launchctl", "bootout", f"gui/{os.getuid()}", str(agent)]]
    assert not agent.exists()


def test_status_asks_the_manager_only_when_installed(tmp_path) -> None:
    env, run = linux_env(tmp_path), Recorder(3, "inactive")
    assert status(run=run, platform="linux", env=env)["installed"] is False and run.commands == []
    install(CONFIG, run=None, python=PYTHON, platform="linux", env=env)
    info = status(run=run, platform="linux", env=env)
    assert (info["installed"], info["manager_state"]) == (True, "inactive")
    assert run.commands == [["systemctl", "--user", "is-active", "kith.service"]]


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_DATA_HOME=str(tmp_path / "data"), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "daemon", "--config", str(tmp_path / "config.toml"), *args],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=30)


def test_cli_service_install_status_uninstall_in_a_private_home(tmp_path) -> None:
    assert cli(tmp_path, "service", "install").returncode == 2          # no config yet: nothing written
    unit = tmp_path / "cfg" / "systemd" / "user" / "kith.service"
    assert not unit.exists()
    (tmp_path / "config.toml").write_text('[user]\ntimezone = "UTC"\n')
    done = cli(tmp_path, "service", "install")      # no user bus here: written, and the steps left to the user
    assert done.returncode == 7, done.stderr
    assert done.stderr == "kith: the service file is written but the service is not started — run the commands above\n"
    assert "systemctl --user enable --now kith.service" in done.stdout
    assert f"ExecStart={sys.executable} -m daemon --config {tmp_path / 'config.toml'} run" in unit.read_text()
    info = json.loads(cli(tmp_path, "service", "status", "--json").stdout)
    assert info["installed"] is True and info["running_pid"] is None and info["manager_state"] is None
    done = cli(tmp_path, "service", "uninstall")       # no user bus here: the steps, in order, for the user
    assert done.returncode == 7 and f"  rm {unit}" in done.stdout and unit.exists()
    assert "the service is not stopped or removed" in done.stderr
    unit.unlink()
    done = cli(tmp_path, "service", "uninstall")       # nothing to do is done
    assert done.returncode == 0 and done.stdout.startswith("Not installed") and not done.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_itself_accepts_the_unit(tmp_path) -> None:
    """`systemd-analyze verify` parses the unit in a private manager: no bus, no real user session."""
    unit = tmp_path / "kith.service"
    unit.write_text(render_systemd_unit(sys.executable, tmp_path / "my config" / "config.toml",
                                        {"XDG_DATA_HOME": str(tmp_path / "100% data")}))
    (tmp_path / "run").mkdir()
    done = subprocess.run(["systemd-analyze", "verify", "--user", str(unit)], capture_output=True, text=True,
                          timeout=30, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path),
                                           "XDG_RUNTIME_DIR": str(tmp_path / "run")})
    assert done.returncode == 0, done.stderr
    assert "kith.service" not in done.stderr       # no warning about our unit
