"""What the SaaS API deploy promises on `api` hosts, one fact per test."""

import json
import re

import pytest

from .conftest import MAX_EXPOSURE, admitted_sources, exposure, listening_addresses, peer_addresses

pytestmark = pytest.mark.roles("api")

VENV = "/opt/saas-api/venv"
PORT = 8003
ADMIN_PORT = 3000  # the admin panel's (saas_api_admin_port)


def url(inventory_host, path):
    return f"http://{inventory_host.data['private_address']}:{PORT}{path}"


def normalized(name: str) -> str:
    return name.lower().replace("_", "-")


@pytest.mark.dev_stack
def test_the_service_and_every_dependency_are_the_locked_versions(host):
    lock = host.file(f"{VENV}/requirements.lock").content_string
    pinned = {
        normalized(name): version
        for name, _, version in (
            line.split(" ")[0].partition("==")
            for line in lock.splitlines()
            if "==" in line and not line.startswith((" ", "#"))
        )
    }
    frozen = host.check_output(f"{VENV}/bin/python -m pip freeze --all --disable-pip-version-check")
    installed = {
        normalized(name): version
        for name, _, version in (line.partition("==") for line in frozen.splitlines())
    }
    assert {"saas-api", "fastapi", "sqlalchemy", "alembic", "uvicorn"} <= set(pinned)
    assert {n: v for n, v in pinned.items() if installed.get(n) != v} == {}


@pytest.mark.dev_stack
def test_venv_is_owned_by_root_and_not_writable_by_others(host):
    writable = host.check_output(
        f"find -L {VENV}/ -xdev \\( ! -user root -o -perm -o+w \\) -print -quit"
    )
    assert writable == ""


def test_the_service_is_running_and_enabled_as_its_own_user(host):
    service = host.service("saas-api")
    assert service.is_running and service.is_enabled
    main = host.check_output("systemctl show -P MainPID saas-api")
    assert host.check_output(f"ps -o user= -p {main}") == "saas-api"


def test_listens_only_on_the_private_address(host, inventory_host):
    assert listening_addresses(host, PORT) == {inventory_host.data["private_address"]}


def test_readiness_reports_database_and_litellm(host, inventory_host):
    answer = json.loads(
        host.check_output(f"curl -sf --max-time 10 {url(inventory_host, '/health/ready')}")
    )
    assert answer == {"ready": True, "database": "ok", "litellm": "ok"}


@pytest.mark.parametrize("path", ["/api/teams", "/api/organizations", "/api/model-groups"])
def test_admin_routes_refuse_requests_without_the_admin_key(host, inventory_host, path):
    code = host.check_output(
        f"curl -s -o /dev/null -w '%{{http_code}}' {url(inventory_host, path)}"
    )
    assert code == "401"


def test_the_environment_file_is_root_only(host):
    env = host.file("/etc/saas-api/saas-api.env")
    assert (env.user, env.group, env.mode) == ("root", "root", 0o600)
    assert "KEY_ENCRYPTION_SECRET=" in env.content_string


@pytest.mark.dev_stack
def test_the_database_url_carries_no_password(host):
    env = host.file("/etc/saas-api/saas-api.env").content_string
    database_url = next(line for line in env.splitlines() if line.startswith("DATABASE_URL="))
    assert ":" not in database_url.split("//", 1)[1].split("@", 1)[0]


@pytest.mark.dev_stack
def test_the_schema_is_at_the_newest_revision(host):
    pending = host.check_output(
        f"{VENV}/bin/saas-api-migrate --env-file /etc/saas-api/saas-api.env --pending"
    )
    assert pending == "pending 0"


def test_the_service_is_sandboxed(host):
    properties = host.check_output(
        "systemctl show saas-api -p NoNewPrivileges -p ProtectSystem -p CapabilityBoundingSet "
        "-p PrivateTmp -p ProtectHome -p MemoryDenyWriteExecute"
    )
    values = dict(line.split("=", 1) for line in properties.splitlines())
    assert values == {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "CapabilityBoundingSet": "",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "MemoryDenyWriteExecute": "yes",
    }


def test_the_admin_panel_is_running_and_enabled_as_the_services_user(host):
    service = host.service("saas-admin")
    assert service.is_running and service.is_enabled
    main = host.check_output("systemctl show -P MainPID saas-admin")
    assert host.check_output(f"ps -o user= -p {main}") == "saas-api"
    assert "saas_api.admin.app:create_app" in host.check_output(f"ps -o args= -p {main}")


def test_the_admin_panel_listens_only_on_the_private_address(host, inventory_host):
    assert listening_addresses(host, ADMIN_PORT) == {inventory_host.data["private_address"]}


def test_the_admin_panel_reports_database_and_litellm_ready(host, inventory_host):
    address = inventory_host.data["private_address"]
    answer = json.loads(
        host.check_output(f"curl -sf --max-time 10 http://{address}:{ADMIN_PORT}/health/ready")
    )
    assert answer == {"ready": True, "database": "ok", "litellm": "ok"}


def test_the_admin_panel_believes_forwarded_addresses_from_the_edge_hosts_only(
    host, inventory_hosts
):
    command = host.check_output("systemctl show -P ExecStart saas-admin")
    allowed = re.search(r"--forwarded-allow-ips (\S+)", command).group(1)
    edges = {h.data["private_address"] for h in inventory_hosts if "edge" in h.groups}
    assert set(allowed.split(",")) == edges


@pytest.mark.parametrize("unit", ["saas-api", "saas-admin"])
def test_the_units_exposure_is_low(host, unit):
    score, summary = exposure(host, f"{unit}.service")
    assert score <= MAX_EXPOSURE, summary


@pytest.mark.parametrize("port", [PORT, ADMIN_PORT])
def test_the_firewall_admits_the_port_from_the_edge_peers_only(
    host, inventory_host, inventory_hosts, port
):
    # Only remote peers need a rule: an edge on this very host connects over loopback routing.
    edges = peer_addresses(inventory_hosts, "edge", inventory_host)
    assert admitted_sources(host, port) == ([edges] if edges else [])
