"""Shared helpers for end-to-end tests: they drive the same commands an operator types."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.e2e)


def run(args, *, timeout=900, check=False, **kwargs):
    """Run a command from the repository root; return the CompletedProcess and its duration."""
    started = time.monotonic()
    result = subprocess.run(
        [str(a) for a in args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )
    result.seconds = time.monotonic() - started
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
        )
    return result


def run_testbed(*args, **kwargs):
    return run([sys.executable, "-m", "testbed", *args], **kwargs)


def pyinfra(*args, **kwargs):
    return run([BIN / "pyinfra", *args], **kwargs)


def deploy_json(inventory="inventories/testbed.py", *extra):
    """Run deploy.py with pyinfra's JSON report; return (report, seconds)."""
    result = pyinfra("-y", "--json", inventory, "deploy.py", *extra, check=True)
    return json.loads(result.stdout), result.seconds


def run_verify_suite(inventory="inventories/testbed.py"):
    """The verification suite exactly as an operator runs it against an inventory."""
    result = run(
        [sys.executable, "-m", "pytest", "tests/verify", "--inventory", inventory, "-q"],
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert " passed" in result.stdout.splitlines()[-1]


def ssh(name, command, **kwargs):
    return run_testbed("ssh", name, command, **kwargs)


@pytest.fixture(scope="session")
def root_only():
    if os.geteuid() != 0:
        pytest.fail("end-to-end tests boot containers and must run as root")
