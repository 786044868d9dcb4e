"""The CPU time each systemd unit of a host has used, as its cgroup counts it (cpu.stat), read
over SSH: the benchmarks' measure of what a piece of work cost each service."""

from __future__ import annotations

import subprocess

# Every unit's (and slice's) CPU time in microseconds, one "<unit> <usec>" line each.
CPU_COMMAND = (
    "cd /sys/fs/cgroup/system.slice && for unit in */; do "
    'echo "${unit%/} $(sed -n "s/^usage_usec //p" "$unit/cpu.stat")"; done'
)


def unit_cpu(ssh: list[str] | tuple[str, ...]) -> dict[str, float]:
    """unit → CPU seconds so far, on the host `ssh` (argv up to the destination) reaches."""
    lines = subprocess.run(
        [*ssh, CPU_COMMAND], capture_output=True, text=True, timeout=60, check=True
    ).stdout.splitlines()
    seconds = {}
    for line in lines:
        unit, _, usec = line.partition(" ")
        if usec.strip().isdigit():
            seconds[unit] = int(usec) / 1e6
    return seconds
