"""What the SaaS API deploy promises on `api` hosts, one fact per test."""

import json

import pytest

from .conftest import listening_addresses

pytestmark = pytest.mark.roles("api")

VENV = "/opt/saas-api/venv"
PORT = 8003


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
