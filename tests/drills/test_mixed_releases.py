"""A mixed fleet, on request (`make test-mixed-releases`, ~15 min; not in `make test`, whose
time budget it would exceed): the split testbed with the data tier on Debian 12 (bookworm) and
the rest on Debian 13 (trixie), deployed, deployed again with no change, and verified by the
verification suite. `db`, `cache` and `backup` are the bookworm hosts: the db host and the
backup host must share a release (pgBackRest must be the same version at both ends), which
preflight enforces.

It replaces whatever testbed is up and removes its own at the end."""

from __future__ import annotations

import pytest

from testbed import state
from tests.e2e.conftest import deploy_json, host_target, run_testbed, run_verify_suite, ssh

BOOKWORM_GROUPS = ("db", "cache", "backup")


def release_of(name: str) -> str:
    return ssh(name, ". /etc/os-release && echo $VERSION_CODENAME", check=True).stdout.strip()


def changed(report) -> list[str]:
    return [op["name"] for op in report["results"]["operations"] if op["success"]]


@pytest.fixture(scope="module")
def mixed_testbed():
    run_testbed("down", "--purge", check=True)
    mixed = [arg for group in BOOKWORM_GROUPS for arg in ("--group-suite", f"{group}=bookworm")]
    run_testbed("up", "--topology", "split", "--suite", "trixie", *mixed, check=True, timeout=1200)
    yield state.load()
    run_testbed("down", "--purge")


def test_a_fleet_of_both_releases_deploys_twice_and_passes_the_verify_suite(mixed_testbed):
    expected = {
        h.name: "bookworm" if set(h.groups) & set(BOOKWORM_GROUPS) else "trixie"
        for h in mixed_testbed.hosts
    }
    assert {h.name: release_of(h.name) for h in mixed_testbed.hosts} == expected
    assert set(expected.values()) == {"bookworm", "trixie"}

    first, first_seconds = deploy_json()
    second, second_seconds = deploy_json()
    assert changed(second) == [], changed(second)
    run_verify_suite()

    # Each host got the wheels of its own Python: trixie's llm and api hosts cp313.
    for host in mixed_testbed.hosts:
        for group, venv in (("llm", "/opt/litellm/venv"), ("api", "/opt/saas-api/venv")):
            if group in host.groups:
                link = ssh(host.name, f"readlink {venv}", check=True).stdout.strip()
                assert link.endswith(f"-{host_target(host.name).python_tag}"), (host.name, link)
                assert link.endswith("-cp313")
    print(
        f"\nmixed split: first deploy {first_seconds:.0f} s ({len(changed(first))} operations "
        f"changed), second {second_seconds:.0f} s (no change)"
    )
