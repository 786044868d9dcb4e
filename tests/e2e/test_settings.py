"""Every documented setting, wrong three ways (a wrong type, a value out of range or format, a
misspelt name), given to the real deploy on the deployed single testbed as an operator would
(`--data KEY=VALUE`): preflight refuses every case before any operation, one line each naming
the host, the key, the source and the remedy, and nothing on the host changes (the rendered
files' checksums and every service's main PID, read back over SSH before and after).

The three sweeps are one deploy each: preflight lists every problem at once."""

from __future__ import annotations

import json

import pytest

from bundle import settings
from testbed import state

from .conftest import pyinfra, ssh

pytestmark = pytest.mark.parametrize("topology", ["single"], indirect=True)

# What the deploy renders and runs on the single host ({pg}: its PostgreSQL major version).
FILES = (
    "/etc/redis/redis.conf",
    "/etc/redis/users.acl",
    "/etc/postgresql/{pg}/main/conf.d/50-gateway.conf",
    "/etc/postgresql/{pg}/main/pg_hba.conf",
    "/etc/litellm/config.yaml",
    "/etc/litellm/litellm.env",
    "/etc/saas-api/saas-api.env",
    "/etc/systemd/system/litellm@.service",
    "/etc/systemd/system/saas-api.service",
    "/etc/systemd/system/saas-admin.service",
    "/etc/caddy/Caddyfile",
    "/etc/nftables.conf",
    "/etc/ssh/sshd_config.d/00-gateway-hardening.conf",
    "/etc/systemd/journald.conf.d/50-gateway.conf",
    "/etc/chrony/conf.d/gateway.conf",
    "/etc/apt/apt.conf.d/20auto-upgrades",
)
SERVICES = (
    "redis-server",
    "postgresql@{pg}-main",
    "litellm@4000",
    "litellm@4001",
    "saas-api",
    "saas-admin",
    "caddy",
    "chrony",
    "ssh",
)


def misspelt(key: str) -> str:
    """The key with its last two different adjacent letters swapped (a typo)."""
    for n in range(len(key) - 2, 0, -1):
        if key[n] != key[n + 1] and "_" not in key[n : n + 2]:
            return key[:n] + key[n + 1] + key[n] + key[n + 2 :]
    raise AssertionError(key)


def as_data(value) -> str:
    """The value as `--data KEY=VALUE` spells it (pyinfra parses numbers and JSON)."""
    return value if isinstance(value, str) else json.dumps(value)


def host_state(name: str, pg: int = 15) -> str:
    """The checksums of the rendered files and the services' main PIDs, read over SSH."""
    files, services = (" ".join(n.format(pg=pg) for n in names) for names in (FILES, SERVICES))
    checksums = ssh(name, f"sha256sum {files}", check=True).stdout
    pids = ssh(name, f"systemctl show -p Id -p MainPID {services}", check=True).stdout
    return checksums + pids


def sweep(cases: dict[str, object]):
    """Run the deploy with every case at once; return its output lines and its return code."""
    data = [arg for key, value in cases.items() for arg in ("--data", f"{key}={as_data(value)}")]
    result = pyinfra("-y", "inventories/testbed.py", "deploy.py", *data, timeout=600)
    return result.stdout + result.stderr, result.returncode


SWEEPS = {
    "wrong type": {s.key: s.kind.wrong_type for s in settings.SETTINGS},
    "out of range or format": {s.key: s.kind.invalid for s in settings.SETTINGS},
    "misspelt": {misspelt(s.key): "x" for s in settings.SETTINGS},
}
COUNTED: dict[str, int] = {}


@pytest.mark.parametrize("name", SWEEPS)
def test_every_setting_wrong_is_refused_before_any_operation(first_deploy, name, request):
    cases = SWEEPS[name]
    [host] = [h.name for h in state.load().hosts]
    before = host_state(host)
    output, returncode = sweep(cases)
    after = host_state(host)

    assert returncode != 0
    assert "--> Starting operation" not in output, "an operation ran"
    assert f"preflight: {len(cases)} problems in the inventory" in output
    lines = [line for line in output.splitlines() if line.startswith(f"{host}: ")]
    refused = {}
    for key in cases:
        [line] = [line for line in lines if line.startswith(f"{host}: {key} = ")]
        refused[key] = line
        assert "(from --data): " in line
        if name == "misspelt":
            [original] = [s.key for s in settings.SETTINGS if misspelt(s.key) == key]
            assert f"unknown setting (did you mean {original}?)" in line
            assert line.endswith("; rename or remove it in --data")
        else:
            assert ", expected " in line
            assert "; fix it in --data" in line
    assert len(refused) == len(cases) == len(settings.SETTINGS)
    assert after == before, "the host changed"
    COUNTED[name] = len(refused)
    print(f"{name}: {len(refused)} of {len(cases)} refused before any operation")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"saas_api_port": 4000}, "the SaaS API and LiteLLM instance 1 (litellm_port + 0) both"),
        ({"saas_api_admin_port": 4001}, "the admin panel and LiteLLM instance 2"),
        ({"litellm_port": 5431}, "both need port 5432; move litellm_port in --data"),
        ({"base_ssh_port": 6379}, "Redis and SSH both need port 6379"),
        ({"litellm_workers": 1}, "fewer workers than litellm_instances (2)"),
    ],
)
def test_collisions_and_mismatches_are_refused_before_any_operation(first_deploy, data, expected):
    [host] = [h.name for h in state.load().hosts]
    before = host_state(host)
    output, returncode = sweep(data)
    assert returncode != 0
    assert "--> Starting operation" not in output
    assert expected in output
    assert host_state(host) == before
