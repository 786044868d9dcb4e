"""Finding and stopping the testbed's processes, including ones an earlier run left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from testbed import paths

SUPERVISOR_MODULE = "testbed.supervisor"


def _cmdline(pid: int) -> list[str]:
    try:
        return (
            Path(f"/proc/{pid}/cmdline")
            .read_bytes()
            .decode(errors="replace")
            .rstrip("\0")
            .split("\0")
        )
    except OSError:
        return []


def _root(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/root")
    except OSError:
        return ""


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]


def supervisor_pids(name: str | None = None) -> list[int]:
    found = []
    for pid in _pids():
        argv = _cmdline(pid)
        ours = SUPERVISOR_MODULE in argv and str(paths.STATE_DIR) in argv
        if ours and (name is None or argv[-1] == name):
            found.append(pid)
    return found


def container_pids(name: str | None = None) -> list[int]:
    """systemd-nspawn itself and every process living inside one of our root filesystems (or
    `name`'s only)."""
    prefix = str(paths.host_dir(name) if name else paths.HOSTS_DIR) + "/"
    found = []
    for pid in _pids():
        argv = _cmdline(pid)
        in_ours = _root(pid).startswith(prefix)
        is_nspawn = argv and argv[0].endswith("systemd-nspawn") and any(prefix in a for a in argv)
        if in_ours or is_nspawn:
            found.append(pid)
    return found


def start_supervisor(name: str) -> int:
    log = open(paths.host_dir(name) / "supervisor.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", SUPERVISOR_MODULE, str(paths.STATE_DIR), name],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,  # outlives the CLI; `down` stops it
        cwd=Path(__file__).resolve().parent.parent,
    )
    return process.pid


def stop(pids: list[int], *, timeout: float) -> None:
    """SIGTERM (a clean guest poweroff), then SIGKILL whatever is left after `timeout`."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.2)
    for pid in pids:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)


def kill_containers(name: str | None = None, timeout: float = 10) -> None:
    for pid in container_pids(name):
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and container_pids(name):
        time.sleep(0.2)


def signal_now(pid: int) -> None:
    """SIGKILL: no clean shutdown."""
    _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
