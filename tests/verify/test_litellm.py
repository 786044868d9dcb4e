"""What the LiteLLM deploy promises on `llm` hosts, one fact per test."""

import json
from pathlib import Path

import pytest

from .conftest import MAX_EXPOSURE, exposure, listening_addresses

pytestmark = pytest.mark.roles("llm")

VENV = "/opt/litellm/venv"
LOCKS = Path(__file__).resolve().parents[2] / "bundle" / "requirements"


def instance_ports(inventory_host) -> list[int]:
    """litellm@<port> for `litellm_instances` (default 2) ports from `litellm_port` (4000)."""
    first = int(inventory_host.data.get("litellm_port") or 4000)
    return list(range(first, first + int(inventory_host.data.get("litellm_instances") or 2)))


def instance_urls(inventory_host, path: str) -> list[str]:
    address = inventory_host.data["private_address"]
    return [f"http://{address}:{port}{path}" for port in instance_ports(inventory_host)]


def pins_of(lock: str) -> dict[str, str]:
    """name -> version in a hash-locked requirements file."""
    pins = {}
    for line in lock.splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split(" ")[0].split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def pinned(host):
    """name -> version from the lock the venv was installed from."""
    return pins_of(host.file(f"{VENV}/requirements.lock").content_string)


@pytest.mark.dev_stack
def test_litellm_and_prisma_are_the_releases_the_chosen_lock_pins(host, inventory_host):
    # The lock in this repository that `litellm_lock` names (default: litellm.lock).
    lock = (LOCKS / f"{inventory_host.data.get('litellm_lock') or 'litellm'}.lock").read_text()
    expected = pins_of(lock)
    versions = host.check_output(
        f'{VENV}/bin/python -c "from importlib.metadata import version as v; '
        "print(v('litellm'), v('prisma'))\""
    )
    assert versions == f"{expected['litellm']} {expected['prisma']}"


@pytest.mark.dev_stack
def test_every_locked_package_is_installed_at_its_pinned_version(host):
    frozen = host.check_output(f"{VENV}/bin/python -m pip freeze --all --disable-pip-version-check")
    installed = {
        name.lower().replace("_", "-"): version
        for name, _, version in (line.partition("==") for line in frozen.splitlines())
    }
    missing = {n: v for n, v in pinned(host).items() if installed.get(n) != v}
    assert missing == {}


@pytest.mark.dev_stack
def test_venv_is_owned_by_root_and_not_writable_by_others(host):
    writable = host.check_output(
        f"find -L {VENV}/ -xdev \\( ! -user root -o -perm -o+w \\) -print -quit"
    )
    assert writable == ""


@pytest.mark.dev_stack
def test_venv_is_reached_through_its_versioned_symlink(host):
    assert host.file(VENV).is_symlink
    assert host.file(VENV).linked_to.startswith("/opt/litellm/venvs/litellm-")


def test_pushed_wheelhouse_is_private_to_root(host):
    tar = host.file("/var/cache/gateway-bundle/litellm-wheelhouse.tar")
    assert (tar.user, tar.mode) == ("root", 0o600)


def test_every_instance_is_running_and_enabled_as_its_own_user(host, inventory_host):
    for port in instance_ports(inventory_host):
        service = host.service(f"litellm@{port}")
        assert service.is_running and service.is_enabled, port
        main = host.check_output(f"systemctl show -P MainPID litellm@{port}")
        assert host.check_output(f"ps -o user= -p {main}") == "litellm"


def test_no_other_litellm_unit_runs(host, inventory_host):
    running = host.check_output(
        "systemctl list-units --plain --no-legend --state=running 'litellm*' | cut -d' ' -f1"
    )
    expected = {f"litellm@{port}.service" for port in instance_ports(inventory_host)}
    assert set(running.split()) == expected


def test_every_instance_listens_only_on_the_private_address(host, inventory_host):
    for port in instance_ports(inventory_host):
        assert listening_addresses(host, port) == {inventory_host.data["private_address"]}, port


def test_every_instance_reports_the_database_connected(host, inventory_host):
    for url in instance_urls(inventory_host, "/health/readiness"):
        answer = json.loads(host.check_output(f"curl -sf --max-time 10 {url}"))
        assert answer["db"] == "connected", url


def test_unauthenticated_admin_requests_are_refused(host, inventory_host):
    for url in instance_urls(inventory_host, "/key/list"):
        assert host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' {url}") == "401"


@pytest.mark.dev_stack
def test_secrets_file_is_readable_by_root_and_the_service_only(host):
    env = host.file("/etc/litellm/litellm.env")
    assert (env.user, env.group, env.mode) == ("root", "litellm", 0o640)
    assert "PGPASSWORD=" in env.content_string


@pytest.mark.dev_stack
def test_the_database_url_carries_no_password(host):
    env = host.file("/etc/litellm/litellm.env").content_string
    url = next(line for line in env.splitlines() if line.startswith("DATABASE_URL="))
    assert "@" in url and ":" not in url.split("//", 1)[1].split("@", 1)[0]


def test_the_service_is_sandboxed(host, inventory_host):
    port = instance_ports(inventory_host)[0]
    properties = host.check_output(
        f"systemctl show litellm@{port} -p NoNewPrivileges -p ProtectSystem "
        "-p CapabilityBoundingSet -p PrivateTmp -p ProtectHome"
    )
    values = dict(line.split("=", 1) for line in properties.splitlines())
    assert values["NoNewPrivileges"] == "yes"
    assert values["ProtectSystem"] == "strict"
    assert values["CapabilityBoundingSet"] == ""
    assert values["PrivateTmp"] == "yes"
    assert values["ProtectHome"] == "yes"


def test_every_instances_exposure_is_low(host, inventory_host):
    for port in instance_ports(inventory_host):
        score, summary = exposure(host, f"litellm@{port}.service")
        assert score <= MAX_EXPOSURE, summary


@pytest.mark.dev_stack
def test_the_bundled_engine_runs_on_debians_node(host):
    node = host.package("nodejs")
    assert node.is_installed and node.version.split(".")[0] in {"18", "20"}
    assert host.check_output("/opt/litellm/engine/bin/query-engine --version") == (
        "query-engine 393aa359c9ad4a4bb28630fb5613f9c281cde053"
    )


@pytest.mark.dev_stack
def test_the_engine_and_its_packages_are_not_writable_by_the_service(host):
    writable = host.check_output(
        "find -L /opt/litellm/engine/ -xdev \\( ! -user root -o -perm -o+w \\) -print -quit"
    )
    assert writable == ""


@pytest.mark.parametrize("flag", ["LITELLM_LOCAL_MODEL_COST_MAP", "NO_DOCS", "NO_REDOC"])
def test_the_service_runs_offline_without_docs(host, inventory_host, flag):
    port = instance_ports(inventory_host)[0]
    assert f"{flag}=True" in host.check_output(f"systemctl show -P Environment litellm@{port}")
