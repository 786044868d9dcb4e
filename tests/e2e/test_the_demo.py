"""`make demo` as a newcomer runs it: from a clean clone of this repository (its own venv,
secret store and keys file; the shared download caches), on a fresh testbed of each topology,
twice. The second run changes nothing and prints the same. Then the LiteLLM UI logs in through
the edge, and a host that says it runs another release is refused by preflight with nothing
changed.

The testbed runs Debian 13 (trixie) here (`DEMO_SUITE`): every other e2e test deploys bookworm,
so this is where trixie gets the deploy, a second deploy "No change", the verification suite,
the seed and the guide's Step 4.

It replaces the session's testbed, so it runs after every other test of its topology. On
`single` by default; `DEMO_TOPOLOGIES=single,split` adds split (9 minutes more in CI, for a split
deploy, its verification and Step 4 through the edge that the split tests run already)."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from bundle.secret_store import SecretStore
from testbed import state

from .conftest import REPO, run, run_testbed, ssh
from .test_settings import host_state

DEMO_SECONDS = 2400
TOPOLOGIES = os.environ.get("DEMO_TOPOLOGIES", "single").split(",")
SUITE = os.environ.get("DEMO_SUITE", "trixie")
POSTGRES = {"bookworm": 15, "trixie": 17}
GATEWAY = "gateway.testbed.internal"
ARTIFACTS = REPO / "test-artifacts"


def make_demo(clone, topology):
    return subprocess.run(
        ["make", "demo", f"TOPOLOGY={topology}", f"SUITE={SUITE}"],
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
def test_make_demo_from_a_clean_clone_twice_changes_nothing_the_second_time(
    topology, tmp_path, monkeypatch
):
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

    hosts = state.load().hosts
    assert {h.name: release_of(h.name) for h in hosts} == dict.fromkeys(
        (h.name for h in hosts), SUITE
    )
    edge = next(h for h in hosts if "edge" in h.groups)
    monkeypatch.setenv("GATEWAY_SECRETS_DIR", str(clone / "secrets"))
    the_ui_logs_in_through_the_edge(edge.address, clone, topology)
    db = next(h for h in hosts if "db" in h.groups)
    another_release_is_refused_with_nothing_changed(clone, db)


def release_of(name: str) -> str:
    return ssh(name, ". /etc/os-release && echo $VERSION_CODENAME", check=True).stdout.strip()


def the_ui_logs_in_through_the_edge(address: str, clone, topology: str):
    from .litellm_ui import login_to_litellm_ui

    screenshot = ARTIFACTS / f"litellm-ui-{SUITE}-{topology}.png"
    result = login_to_litellm_ui(
        f"https://{GATEWAY}",
        SecretStore("testbed").values()["litellm_master_key"],
        screenshot,
        address=address,
        ca_file=clone / "secrets" / "testbed-edge-ca.crt",
    )
    assert result["logged_in"], result
    assert screenshot.stat().st_size > 10_000


# The host's os-release as a bullseye host has it (saved first, put back after): what the
# deploy reads to know the release.
CLAIM_BULLSEYE = (
    "mv /etc/os-release /etc/os-release.drill && sed"
    " -e 's/^VERSION_CODENAME=.*/VERSION_CODENAME=bullseye/'"
    " -e 's/^PRETTY_NAME=.*/PRETTY_NAME=\"Debian GNU\\/Linux 11 (bullseye)\"/'"
    " /usr/lib/os-release > /etc/os-release"
)


def another_release_is_refused_with_nothing_changed(clone, host):
    """Preflight reads every host's release before any operation: one line naming the host, what
    it runs and what is supported; the host's files and services untouched."""
    before = host_state(host.name, POSTGRES[SUITE])
    ssh(host.name, CLAIM_BULLSEYE, check=True)
    try:
        refused = run(
            [clone / ".venv" / "bin" / "pyinfra", "-y", "inventories/testbed.py", "deploy.py"],
            cwd=clone,
            timeout=600,
        )
    finally:
        ssh(host.name, "mv -f /etc/os-release.drill /etc/os-release", check=True)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output[-3000:]
    assert (
        f"{host.name}: runs Debian GNU/Linux 11 (bullseye) (x86_64); supported: Debian 12 "
        "(bookworm) and Debian 13 (trixie) on x86_64" in output
    ), output[-3000:]
    assert "Starting operation" not in output, output[-3000:]
    assert host_state(host.name, POSTGRES[SUITE]) == before
    assert release_of(host.name) == SUITE
