"""A cgroup of its own for each host.

systemd-nspawn --keep-unit runs a container in the cgroup it was started in. Started side by
side from one cgroup, every container's systemd would manage the same `payload/system.slice/...`
directories and prune each other's unit cgroups mid-start (units then fail at random with
"Failed at step CGROUP"). So each host's supervisor first moves into `<cgroup2>/<prefix>/<name>`.
"""

from __future__ import annotations

import os
from pathlib import Path

from testbed import paths


def cgroup2_root() -> Path | None:
    """Where this machine mounts the cgroup v2 hierarchy (pure or hybrid layout)."""
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            if fields[2] == "cgroup2":
                return Path(fields[1])
    return None


def testbed_root() -> Path | None:
    root = cgroup2_root()
    return root / f"{paths.PREFIX}-testbed" if root else None


def enter_host_cgroup(name: str) -> None:
    """Move the calling process (and so its future children) into the host's own cgroup."""
    base = testbed_root()
    if base is None:
        return
    own = base / name
    own.mkdir(parents=True, exist_ok=True)
    (own / "cgroup.procs").write_text(f"{os.getpid()}\n")


def remove_all() -> list[str]:
    """Remove our (empty) cgroups, deepest first; return those that could not be removed."""
    base = testbed_root()
    if base is None or not base.exists():
        return []
    left = []
    for directory in sorted(
        (p for p in base.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)
    ):
        try:
            directory.rmdir()
        except OSError:
            left.append(str(directory))
    try:
        base.rmdir()
    except OSError:
        left.append(str(base))
    return left


def leftovers() -> list[str]:
    base = testbed_root()
    return [f"cgroup {base}"] if base and base.exists() else []
