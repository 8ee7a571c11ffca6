"""`kith service install|uninstall|status`: a systemd user unit (Linux) or a launchd agent (macOS).

Rendering is pure, so the unit text is tested as text. Installing writes the
file and runs the service manager's commands only when a `Runner` is given,
which the CLI does only when the manager is reachable (systemctl with a user
bus, or launchctl); otherwise the commands are returned for the user to run.
The unit starts this very interpreter with the absolute config path, and
carries the XDG variables set at install time, so that the service reads the
same config and database as the shell that installed it.
"""

from __future__ import annotations

import os
import plistlib
import shlex
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Mapping
from pathlib import Path

import daemon
from daemon import lock, paths
from daemon.errors import KithError

UNIT_NAME = "kith.service"
AGENT_LABEL = "dev.kith.agent"
CARRIED_VARIABLES = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")
Runner = Callable[[list[str]], tuple[int, str]]


class ServiceError(KithError):
    """The service file cannot be installed, or the service manager refused a command."""

    exit_code = 7


def launch_arguments(python: str, config: Path) -> list[str]:
    return [python, "-m", "daemon", "--config", str(config), "run"]


def service_environment(env: Mapping[str, str], package_root: Path | None = None) -> dict[str, str]:
    """Variables the service needs to see what the installing shell saw.

    PYTHONPATH is added when Kith runs from a source checkout rather than
    site-packages, so `-m daemon` finds this package (and never python-daemon's).
    """
    result = {name: env[name] for name in CARRIED_VARIABLES if env.get(name)}
    root = package_root or Path(daemon.__file__).resolve().parent.parent
    installed = {Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
    if root not in installed:
        result["PYTHONPATH"] = str(root)
    return result


def systemd_quote(arg: str, *, exec_line: bool = True) -> str:
    """Quote one word for a unit file: `%` doubled; on Exec lines `$` doubled and plain words bare;
    Environment= assignments always quoted."""
    text = arg.replace("%", "%%")
    if exec_line:
        text = text.replace("$", "$$")
        if text and not any(c.isspace() or c in "\"'\\;" for c in text):
            return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_systemd_unit(python: str, config: Path, environment: Mapping[str, str] | None = None) -> str:
    """The systemd user unit; stdout/stderr go to the journal (`journalctl --user -u kith`)."""
    exec_start = " ".join(systemd_quote(a) for a in launch_arguments(python, config))
    env_lines = [f"Environment={systemd_quote(f'{k}={v}', exec_line=False)}"
                 for k, v in sorted((environment or {}).items())]
    return "\n".join([
        "[Unit]",
        "Description=Kith: syncs mail and calendar metadata and writes the morning digest",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={exec_start}",
        "ExecReload=/bin/kill -HUP $MAINPID",
        *env_lines,
        "Restart=on-failure",
        "RestartSec=30",
        "# 2: invalid config, 5: Kith's own files cannot be written (a root-owned lock or log,",
        "# a full or read-only disk), 6: already running; restarting would not help",
        "RestartPreventExitStatus=2 5 6",
        "TimeoutStopSec=15",
        "UMask=0077",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ])


def render_launchd_plist(python: str, config: Path, log_file: Path,
                         environment: Mapping[str, str] | None = None) -> str:
    """The launchd agent: started at login, restarted only after a failure."""
    agent: dict[str, object] = {
        "Label": AGENT_LABEL,
        "ProgramArguments": launch_arguments(python, config),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 30,
        "ProcessType": "Background",
        "Umask": 0o077,
        "StandardOutPath": str(log_file),
        "StandardErrorPath": str(log_file),
    }
    if environment:
        agent["EnvironmentVariables"] = dict(sorted(environment.items()))
    return plistlib.dumps(agent, sort_keys=False).decode("utf-8")


def unit_path(platform: str, env: Mapping[str, str]) -> Path:
    home = Path(env.get("HOME") or Path.home())
    if platform.startswith("linux"):
        config_home = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
        return config_home / "systemd" / "user" / UNIT_NAME
    if platform == "darwin":
        return home / "Library" / "LaunchAgents" / f"{AGENT_LABEL}.plist"
    raise ServiceError(f"kith service does not know the service manager of {platform!r}",
                       fix="run `kith run` from your system's service manager or a login script")


def render(platform: str, python: str, config: Path, env: Mapping[str, str]) -> str:
    environment = service_environment(env)
    if platform == "darwin":
        return render_launchd_plist(python, config, paths.state_dir() / "launchd.log", environment)
    return render_systemd_unit(python, config, environment)


def start_commands(platform: str, path: Path, uid: int) -> list[list[str]]:
    if platform == "darwin":
        return [["launchctl", "bootstrap", f"gui/{uid}", str(path)]]
    return [["systemctl", "--user", "daemon-reload"], ["systemctl", "--user", "enable", "--now", UNIT_NAME]]


def stop_commands(platform: str, path: Path, uid: int) -> list[list[str]]:
    if platform == "darwin":
        return [["launchctl", "bootout", f"gui/{uid}", str(path)]]
    return [["systemctl", "--user", "disable", "--now", UNIT_NAME]]


def manager_reachable(platform: str, env: Mapping[str, str], which: Callable[[str], str | None] = shutil.which) -> bool:
    """systemctl needs a user bus (absent over plain ssh, in containers and in tests)."""
    if platform == "darwin":
        return which("launchctl") is not None
    runtime = env.get("XDG_RUNTIME_DIR")
    has_bus = bool(env.get("DBUS_SESSION_BUS_ADDRESS")) or bool(runtime and Path(runtime, "bus").exists())
    return which("systemctl") is not None and has_bus


def run_command(command: list[str]) -> tuple[int, str]:
    """The real Runner."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return done.returncode, (done.stderr or done.stdout).strip()


def default_runner(platform: str = sys.platform, env: Mapping[str, str] | None = None) -> Runner | None:
    return run_command if manager_reachable(platform, os.environ if env is None else env) else None


def _apply(commands: list[list[str]], run: Runner | None, *, strict: bool = True) -> list[str]:
    if run is None:
        return ["The service manager is not reachable from here; run:", *(f"  {shlex.join(c)}" for c in commands)]
    lines = []
    for command in commands:
        code, output = run(command)
        if code != 0 and strict:
            raise ServiceError(f"`{shlex.join(command)}` failed ({output or f'exit code {code}'})",
                               fix="run it yourself to see why; the service file is in place")
        lines.append(f"Ran: {shlex.join(command)}" + (f" (exit code {code}, ignored)" if code else ""))
    return lines


def install(config: Path, *, run: Runner | None, python: str = sys.executable, platform: str = sys.platform,
            env: Mapping[str, str] | None = None) -> list[str]:
    """Write the unit for `config` (absolute) and start it; return what was done, for the user."""
    env = os.environ if env is None else env
    path = unit_path(platform, env)
    paths.write_private(path, render(platform, str(Path(python).absolute()), config.absolute(), env))
    return [f"Wrote {path}", *_apply(start_commands(platform, path, os.getuid()), run)]


def uninstall(*, run: Runner | None, platform: str = sys.platform, env: Mapping[str, str] | None = None) -> list[str]:
    """Stop the service and remove its file; a service that is not installed is not an error."""
    env = os.environ if env is None else env
    path = unit_path(platform, env)
    if not path.exists():
        return [f"Not installed: {path} does not exist"]
    if run is None:     # the manager needs the file to disable the service: leave both steps to the user, in order
        commands = [*stop_commands(platform, path, os.getuid()), ["rm", str(path)]]
        commands += [] if platform == "darwin" else [["systemctl", "--user", "daemon-reload"]]
        return _apply(commands, None)
    lines = _apply(stop_commands(platform, path, os.getuid()), run, strict=False)
    path.unlink()
    lines.append(f"Removed {path}")
    if platform != "darwin":
        lines += _apply([["systemctl", "--user", "daemon-reload"]], run, strict=False)
    return lines


def status(*, run: Runner | None, platform: str = sys.platform, env: Mapping[str, str] | None = None) -> dict:
    """Whether the service file exists, what the manager says, and which pid holds the daemon lock."""
    env = os.environ if env is None else env
    path = unit_path(platform, env)
    state = None
    if run is not None and path.exists():
        command = (["launchctl", "print", f"gui/{os.getuid()}/{AGENT_LABEL}"] if platform == "darwin"
                   else ["systemctl", "--user", "is-active", UNIT_NAME])
        code, output = run(command)
        state = ("loaded" if code == 0 else "not loaded") if platform == "darwin" else (output or f"exit code {code}")
    pid, problem = lock.daemon_state()
    return {"unit_file": str(path), "installed": path.exists(), "manager_state": state, "running_pid": pid,
            "manager": "launchd" if platform == "darwin" else "systemd",
            **({"daemon_problem": problem} if problem else {})}
