"""The upgrade drill on the split topology, between two real LiteLLM releases under continuous
load through the edge: the testbed runs today's pin (1.108.12, `litellm.lock`) as every new
install does; the drill rolls it back to the release pinned before it (1.108.7,
`litellm-1.108.7.lock`), which these hosts never ran, then forward again. Each time: no failed
request, the migrations from the first llm host only (never from the others), every instance
of every llm host restarted once, the previous venv kept (and switched back to without
reinstalling), and after the step that installs, a second deploy in which every operation is
"No change".

The release new to the hosts is the older one here, because the testbed is deployed with
today's pin once for every test of its topology; the operations are the same in both
directions (a venv new to the hosts: pushed, installed, its migrations run once; a kept one:
switched to), and across the two steps the edge serves a mix of both releases each way.

`make test` runs the first step only (the costly path: push, install, migrations, restarts);
the switch back to the kept release, two more minutes of CI for restarts only, runs on request
(`make test-upgrade-drill`, UPGRADE_DRILL_STEPS=both).

Late in its topology (last_in_topology): it restarts every LiteLLM instance once or twice and
keeps a second venv on the llm hosts (it ends on the older release, or on today's pin after
both steps)."""

from __future__ import annotations

import os
import time

import pytest

from bundle import artifacts
from testbed import state as testbed_state

from .conftest import deploy_json, host_target, psql_as_litellm, pyinfra, ssh
from .test_litellm import LOAD_RPM, PORT, catalog, restarted_ports, team_key  # noqa: F401
from .through_the_edge import EdgeLoad

pytestmark = [pytest.mark.last_in_topology]

ROOT = "/opt/litellm"
DEFAULT, PREVIOUS = "litellm", "litellm-1.108.7"
VERSION = {DEFAULT: "1.108.12", PREVIOUS: "1.108.7"}
MIGRATIONS = "Apply LiteLLM's database migrations"
STEPS = (
    ("rollback to a release new to the hosts", PREVIOUS, DEFAULT),
    ("forward to the kept release", DEFAULT, PREVIOUS),
)[: 2 if os.environ.get("UPGRADE_DRILL_STEPS") == "both" else 1]


def changed_on(report, operation: str) -> list[str]:
    """Hosts where the operation named `operation` changed something (pyinfra's JSON)."""
    hosts = []
    for op in report["results"]["operations"]:
        if op["name"].endswith(operation):
            hosts += op["success"]
    return sorted(hosts)


def ledger(roles) -> tuple[int, int]:
    """Rows in Prisma's migration ledger, and distinct migration names among them."""
    result = psql_as_litellm(
        roles, sql='SELECT count(*), count(DISTINCT migration_name) FROM "_prisma_migrations"'
    )
    assert result.returncode == 0, result.stderr
    rows, names = result.stdout.strip().split("|")
    return int(rows), int(names)


def releases(host: str) -> dict:
    """What the host runs and keeps: the venv link's target, the venvs and engines present,
    LiteLLM's version in the current venv, and each venv's install time (its marker's mtime)."""
    script = (
        f"basename $(readlink {ROOT}/venv); ls {ROOT}/venvs | tr '\\n' ' '; echo; "
        f"ls {ROOT}/engines | tr '\\n' ' '; echo; "
        f"{ROOT}/venv/bin/python -c "
        "'import importlib.metadata as m; print(m.version(\"litellm\"))'; "
        f"stat -c '%n %Y' {ROOT}/venvs/*/.gateway-artifact"
    )
    result = ssh(host, script, timeout=120)
    assert result.returncode == 0, result.stderr
    current, venvs, engines, version, *stamps = result.stdout.strip().splitlines()
    return {
        "current": current,
        "venvs": set(venvs.split()),
        "engines": set(engines.split()),
        "version": version,
        "installed": {line.split("/")[-2]: line.split()[-1] for line in stamps},
    }


@pytest.mark.parametrize("topology", ["split"], indirect=True)
def test_a_release_rolls_back_and_forward_under_load_with_no_failed_request(
    first_deploy,
    roles,
    admin,
    catalog,  # noqa: F811 (the fixture, imported from test_litellm)
    topology,
):
    llm_hosts = sorted(h.name for h in testbed_state.load().hosts if "llm" in h.groups)
    first_llm = roles["llm"]
    target = host_target(first_llm)
    artifact = {lock: artifacts.venv_name("litellm", lock, target) for lock in (DEFAULT, PREVIOUS)}
    before = {host: releases(host) for host in llm_hosts}
    for state in before.values():
        assert state["current"] == artifact[DEFAULT], state
    # When each host installed each venv: a switch back must not change it.
    installed = {host: dict(state["installed"]) for host, state in before.items()}
    ledger_before = ledger(roles)
    # Bad input: one line naming the key, the file and the remedy; no operation runs anywhere.
    refused = pyinfra(
        "-y", "inventories/testbed.py", "deploy.py", "--data", "litellm_lock=litellm-x"
    )
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert (
        "litellm_lock = 'litellm-x' but bundle/requirements/litellm-x.lock does not exist" in output
    )
    assert "Starting operation" not in output
    assert {host: releases(host) for host in llm_hosts} == before
    _team, key = team_key(admin, catalog, max_budget=100.0, rpm_limit=LOAD_RPM)
    measured = []
    edge_team = {"key": key, "model": catalog["model"]}
    with EdgeLoad(roles["address"][roles["edge"]], edge_team, api=False) as load:
        load.run_for(10)
        for step, lock, previous in STEPS:
            new_to_the_hosts = lock == PREVIOUS
            started = time.monotonic()
            report, seconds = deploy_json(
                "inventories/testbed.py", "--data", f"litellm_lock={lock}"
            )
            # A second deploy after the step that installs: pushes, installs, markers and the
            # link settle in one run (the switch back only moves the link: its target and the
            # install times are read back below).
            second, unsettled = "", []
            if new_to_the_hosts:
                again, again_seconds = deploy_json(
                    "inventories/testbed.py", "--data", f"litellm_lock={lock}"
                )
                second = f", second deploy {again_seconds:.0f} s"
                unsettled = [
                    op["name"]
                    for op in again["results"]["operations"]
                    if op["success"] or op["error"]
                ]
            load.run_for(4)
            failed = load.failures(since=started)
            measured.append(
                f"{step}: deploy {seconds:.0f} s{second}, "
                f"migrations on {changed_on(report, MIGRATIONS)}, {len(failed)} failed"
            )
            assert failed == [], (step, failed[:5])
            # Migrations once, from the first llm host: a venv new to the hosts may ship new
            # ones; a kept venv's are counted by its own runner (here: none pending).
            migrated = changed_on(report, MIGRATIONS)
            assert migrated == ([first_llm] if new_to_the_hosts else []), (step, migrated)
            restarted = {port: sorted(hosts) for port, hosts in restarted_ports(report).items()}
            assert restarted == {PORT: llm_hosts, PORT + 1: llm_hosts}, (step, restarted)
            assert changed_on(report, "Install LiteLLM from the wheelhouse") == llm_hosts
            pushed = changed_on(report, "Push the LiteLLM wheelhouse")
            assert pushed == (llm_hosts if new_to_the_hosts else []), (step, pushed)
            assert unsettled == [], (step, unsettled)
            for host in llm_hosts:
                state = releases(host)
                assert state["current"] == artifact[lock], (step, host, state)
                assert state["venvs"] == {artifact[lock], artifact[previous]}, (step, host)
                assert state["version"] == VERSION[lock], (step, host)
                assert state["engines"] == before[host]["engines"], (step, host)
                if new_to_the_hosts:
                    installed[host][artifact[lock]] = state["installed"][artifact[lock]]
                else:  # switched back to, never reinstalled
                    assert state["installed"] == installed[host], (step, host)
        load.run_for(10)
    rows, names = ledger(roles)
    print(
        f"upgrade drill (split, {len(load.records)} requests through the edge, "
        f"{len(load.failures(since=0))} failed): " + "; ".join(measured)
    )
    assert load.failures(since=0) == []
    assert (rows, names) == ledger_before and rows == names, "a migration was applied twice"
