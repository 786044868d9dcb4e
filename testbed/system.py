"""Helpers around the control machine's own tools: run a command, require root, install deps."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from testbed.errors import TestbedError

# Debian package that provides each tool the testbed drives.
REQUIRED_TOOLS = {
    "debootstrap": "debootstrap",
    "systemd-nspawn": "systemd-container",
    "nft": "nftables",
    "ip": "iproute2",
    "unshare": "util-linux",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
}


def run(args: list[str], *, check: bool = True, capture: bool = True, **kwargs):
    """Run a command (never through a shell); raise TestbedError with its stderr on failure."""
    result = subprocess.run(args, text=True, capture_output=capture, **kwargs)
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout or "").strip().splitlines()
        raise TestbedError(
            f"command failed ({result.returncode}): {' '.join(args)}"
            + (f": {detail[-1]}" if detail else "")
        )
    return result


def require_root() -> None:
    if os.geteuid() != 0:
        raise TestbedError(
            "the testbed must run as root (it creates network namespaces, mounts and "
            "containers); re-run with sudo or as root"
        )


def missing_packages() -> list[str]:
    return sorted({pkg for tool, pkg in REQUIRED_TOOLS.items() if shutil.which(tool) is None})


def ensure_tools() -> None:
    """Install the Debian packages the testbed needs when any tool is missing."""
    packages = missing_packages()
    if not packages:
        return
    progress(f"installing testbed dependencies: {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-q"], env=env)
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], env=env)
    still = missing_packages()
    if still:
        raise TestbedError(f"could not install {' '.join(still)} with apt-get")


def progress(message: str) -> None:
    print(f"testbed: {message}", file=sys.stderr, flush=True)
