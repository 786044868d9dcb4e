"""`make demo` as a newcomer runs it: from a clean clone of this repository (its own venv,
secret store and keys file; the shared download caches), on a fresh testbed of each topology,
twice. The second run changes nothing and prints the same.

It replaces the session's testbed, so it runs after every other test of its topology. On
`single` by default; `DEMO_TOPOLOGIES=single,split` adds split (9 minutes more in CI, for a split
deploy, its verification and Step 4 through the edge that the split tests run already)."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from .conftest import REPO, run_testbed

DEMO_SECONDS = 2400
TOPOLOGIES = os.environ.get("DEMO_TOPOLOGIES", "single").split(",")


def make_demo(clone, topology):
    return subprocess.run(
        ["make", "demo", f"TOPOLOGY={topology}"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=DEMO_SECONDS,
        check=False,
    )


def changed_counts(output: str) -> list[int]:
    """The demo's "N operation(s) changed" lines: the deploy, then the fake provider."""
    return [int(n) for n in re.findall(r"^    (\d+) operation\(s\) changed", output, re.M)]


def summary(output: str) -> str:
    return output[output.index("The gateway is up") :]


@pytest.mark.last_in_topology
@pytest.mark.parametrize("topology", TOPOLOGIES, indirect=True)
def test_make_demo_from_a_clean_clone_twice_changes_nothing_the_second_time(topology, tmp_path):
    clone = tmp_path / "clone"
    cloned = subprocess.run(
        ["git", "clone", "-q", str(REPO), str(clone)], capture_output=True, text=True, check=False
    )
    assert cloned.returncode == 0, cloned.stderr
    run_testbed("down", "--purge", check=True)

    first = make_demo(clone, topology)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    deploy_changes, provider_changes = changed_counts(first.stdout)
    assert deploy_changes > 0 and provider_changes > 0, first.stdout[-3000:]
    assert re.search(r"^    \d+ passed", first.stdout, re.M), first.stdout[-3000:]
    assert "POST https://gateway.testbed.internal/chat/completions: '" in first.stdout
    assert (clone / "secrets" / "testbed-team-keys.json").exists()

    second = make_demo(clone, topology)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert changed_counts(second.stdout) == [0, 0], second.stdout[-3000:]
    assert summary(second.stdout) == summary(first.stdout)
