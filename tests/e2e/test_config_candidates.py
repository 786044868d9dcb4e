"""Configs the schema admits but a service refuses, or cannot start on, put through the deploy's
own validate-and-restart operations on the deployed single testbed (tests/e2e/deploys/
candidate_config.py): a refused candidate stops the deploy with the service's own message and
leaves the live file and the service's PID as they were; one that passes the check but makes the
service fail at start is taken back (the previous file restored, the service running on it) and
the deploy fails naming it, with the journal's tail."""

from __future__ import annotations

import pytest

from testbed import state

from .conftest import deploy_json, pyinfra, ssh

pytestmark = pytest.mark.parametrize("topology", ["single"], indirect=True)

UNITS = {
    "redis": "redis-server",
    "postgres": "postgresql@15-main",
    "litellm": "litellm@4000",
    "unit": "saas-api",
}
PATHS = {
    "redis": "/etc/redis/redis.conf",
    "postgres": "/etc/postgresql/15/main/conf.d/50-gateway.conf",
    "litellm": "/etc/litellm/config.yaml",
    "unit": "/etc/systemd/system/saas-api.service",
}


def host_name() -> str:
    [host] = [h.name for h in state.load().hosts]
    return host


def checksum(path: str) -> str:
    return ssh(host_name(), f"sha256sum {path}", check=True).stdout.split()[0]


def main_pid(unit: str) -> str:
    return ssh(host_name(), f"systemctl show -p MainPID --value {unit}", check=True).stdout.strip()


def active(unit: str) -> str:
    return ssh(host_name(), f"systemctl is-active {unit}").stdout.strip()


def candidate(case: str):
    result = pyinfra(
        "-y",
        "inventories/testbed.py",
        "tests/e2e/deploys/candidate_config.py",
        "--data",
        f"candidate={case}",
        timeout=600,
    )
    return result.stdout + result.stderr, result.returncode


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ("redis", "FATAL CONFIG FILE ERROR"),
        ("postgres", 'invalid value for parameter "max_connections": "many"'),
        ("litellm", "database_connection_pool_limit"),
        ("unit", "Unknown key 'RestartSecs' in section [Service]"),
    ],
)
def test_a_refused_candidate_leaves_the_live_file_and_the_service(first_deploy, service, message):
    path, unit = PATHS[service], UNITS[service]
    before = checksum(path), main_pid(unit)
    output, returncode = candidate(f"{service}-refused")
    assert returncode != 0
    assert message in output, output[-3000:]
    assert (checksum(path), main_pid(unit)) == before
    assert ssh(host_name(), f"ls -a {path.rsplit('/', 1)[0]}").stdout.count(".candidate") == 0


@pytest.mark.parametrize(
    ("service", "label", "message"),
    [
        ("redis", "Redis", "192.0.2.10"),
        ("postgres", "PostgreSQL", "192.0.2.10"),
    ],
)
def test_a_candidate_the_service_cannot_start_on_is_taken_back(
    first_deploy, service, label, message
):
    path, unit = PATHS[service], UNITS[service]
    before = checksum(path)
    output, returncode = candidate(f"{service}-start-fails")
    assert returncode != 0
    assert f"{label} did not come back on its new settings; put back the previous {path}" in output
    assert f"restarted {unit}.service on them: active" in output
    assert message in output, output[-3000:]  # the journal's (or the log's) tail
    assert checksum(path) == before
    assert active(unit) == "active"
    assert ssh(host_name(), f"ls -a {path.rsplit('/', 1)[0]}").stdout.count(".previous") == 0


def test_a_deploy_after_the_candidates_changes_nothing(first_deploy):
    report, _ = deploy_json()
    for op in report["results"]["operations"]:
        assert op["success"] == [] and op["error"] == [], op["name"]
