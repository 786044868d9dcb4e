"""Point testinfra at the hosts of a pyinfra inventory: `pytest tests/verify --inventory FILE`,
or at the dev target's running containers: `pytest tests/verify --dev-stack`.

Each test runs once per host of the groups it is about (all hosts unless marked
`@pytest.mark.roles(...)`). Hosts are reached with OpenSSH using the inventory's own connection
data, with strict host key checking whenever the inventory names a known_hosts file. Containers
are reached with testinfra's docker backend (`docker exec`, as the service's own user); each
container stands for the role its service plays on hosts, and only the checks that are the same
there run (`@pytest.mark.dev_stack`), plus the containers' own (`dev_stack_only`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import testinfra

from bundle.inventory_data import InventoryError, load_hosts

REPO = Path(__file__).resolve().parents[2]


def pytest_addoption(parser):
    parser.addoption(
        "--inventory",
        default=os.environ.get("VERIFY_INVENTORY"),
        help="pyinfra inventory file to verify, e.g. inventories/testbed.py",
    )

    parser.addoption(
        "--dev-stack",
        action="store_true",
        help="verify the dev target's running containers (make dev) instead of an inventory",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "roles(*groups): run only on hosts in these groups")
    config.addinivalue_line("markers", "dev_stack: also checked on the dev target's containers")
    config.addinivalue_line(
        "markers", "dev_stack_only: checked on the dev target's containers only"
    )


def pytest_collection_modifyitems(config, items):
    dev_stack = config.getoption("--dev-stack")
    wanted = ("dev_stack", "dev_stack_only") if dev_stack else None
    kept, dropped = [], []
    for item in items:
        marks = {mark.name for mark in item.iter_markers()}
        keep = bool(marks & set(wanted)) if wanted else "dev_stack_only" not in marks
        (kept if keep else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


# The role each dev service plays on hosts.
DEV_STACK_ROLES = {
    "postgres": "db",
    "redis": "cache",
    "litellm": "llm",
    "saas-api": "api",
    # The admin panel runs on api hosts, from the SaaS API's image and environment.
    "admin": "api",
    "fake-provider": "fake-provider",
}


def dev_stack_hosts() -> list:
    from compose import engine, images, render, settings

    try:
        client = engine.client(start=False)
        project = settings.load()["dev_project"]
    except (engine.EngineError, settings.SettingsError) as error:
        raise pytest.UsageError(str(error)) from None
    containers = client.containers.list(
        filters={"label": f"com.docker.compose.project={project}", "status": "running"}
    )
    if not containers:
        raise pytest.UsageError(f"no running container of project {project}: run `make dev`")
    ports = {
        "postgres": 5432,
        "redis": 6379,
        "litellm": render.LITELLM_PORT,
        "saas-api": render.SAAS_API_PORT,
        "admin": render.ADMIN_PORT,
        "fake-provider": render.FAKE_PROVIDER_PORT,
    }
    hosts = []
    for container in sorted(containers, key=lambda c: c.name):
        service = container.labels["com.docker.compose.service"]
        user = images.USERS[render.image_of(service)].name
        data = {"dev_stack": True, "user": user, "port": ports[service]}
        hosts.append(
            (
                InventoryHost(service, (DEV_STACK_ROLES[service],), data),
                testinfra.get_host(f"docker://{container.name}"),
            )
        )
    return hosts


def as_user(host, user: str, command: str) -> str:
    """`command` run as `user`: on hosts through runuser (testinfra connects as root); in the
    dev stack's containers every command already runs as the service's own user."""
    return command if host.backend.NAME == "docker" else f"runuser -u {user} -- {command}"


# systemd-analyze security's scale: 0 (fully sandboxed) to 10. Every long-running unit the deploy
# installs stays at or below this.
MAX_EXPOSURE = 3.0


def exposure(host, unit: str) -> tuple[float, str]:
    """`unit`'s overall exposure level by systemd-analyze security, and the report's last line."""
    report = host.check_output(f"systemd-analyze security --no-pager {unit}")
    summary = report.splitlines()[-1]
    return float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", summary).group(1)), summary


@dataclass(frozen=True)
class InventoryHost:
    name: str
    groups: tuple[str, ...]
    data: dict


def load_inventory(path: str) -> list[InventoryHost]:
    """The inventory exactly as pyinfra sees it (group_data merged)."""
    try:
        hosts = load_hosts(path)
    except InventoryError as error:
        raise pytest.UsageError(str(error)) from None
    return [InventoryHost(h["name"], tuple(h["groups"]), h["data"]) for h in hosts]


def ssh_config_for(hosts, directory: Path, control_dir: Path) -> Path:
    blocks = []
    for host in hosts:
        data = host.data
        lines = [f"Host {host.name}", f"    HostName {data.get('ssh_hostname') or host.name}"]
        lines.append(f"    User {data.get('ssh_user') or 'root'}")
        if data.get("ssh_port"):
            lines.append(f"    Port {data.get('ssh_port')}")
        if data.get("ssh_key"):
            lines += [f"    IdentityFile {data.get('ssh_key')}", "    IdentitiesOnly yes"]
        if data.get("ssh_known_hosts_file"):
            lines += [
                f"    UserKnownHostsFile {data.get('ssh_known_hosts_file')}",
                "    StrictHostKeyChecking yes",
            ]
        lines += ["    BatchMode yes", "    ConnectTimeout 10", "    LogLevel ERROR"]
        # testinfra asks for ControlMaster but sets no ControlPath, without which OpenSSH does
        # not multiplex: every command would pay a new connection and handshake.
        lines.append(f"    ControlPath {control_dir}/%C")
        blocks.append("\n".join(lines))
    path = directory / "ssh_config"
    path.write_text("\n\n".join(blocks) + "\n")
    return path


def _hosts(config):
    if not hasattr(config, "_verify_hosts") and config.getoption("--dev-stack"):
        config._verify_hosts = dev_stack_hosts()
    if not hasattr(config, "_verify_hosts"):
        path = config.getoption("--inventory")
        if not path:
            raise pytest.UsageError(
                "pass --inventory inventories/<env>.py (or set VERIFY_INVENTORY)"
            )
        hosts = load_inventory(path)
        directory = Path(config.cache.mkdir("verify"))
        # Short: a control socket's path must fit in 108 bytes.
        control_dir = Path(tempfile.mkdtemp(prefix="verify-ssh-"))
        # The masters exit by themselves 60 s after their last command (testinfra's default).
        config.add_cleanup(lambda: shutil.rmtree(control_dir, ignore_errors=True))
        ssh_config = ssh_config_for(hosts, directory, control_dir)
        config._verify_hosts = [
            (host, testinfra.get_host(f"ssh://{host.name}", ssh_config=str(ssh_config)))
            for host in hosts
        ]
    return config._verify_hosts


@pytest.fixture
def inventory_hosts(request) -> list[InventoryHost]:
    """Every host of the inventory (for checks about a host's peers)."""
    return [inventory_host for inventory_host, _ in _hosts(request.config)]


def peer_addresses(inventory_hosts, group: str, own) -> set[str]:
    """The private addresses of `group`'s hosts other than `own`."""
    return {
        h.data["private_address"]
        for h in inventory_hosts
        if group in h.groups and h.data["private_address"] != own.data["private_address"]
    }


def admitted_sources(host, port: int) -> list[set[str] | None]:
    """For each input-chain rule of the base firewall that accepts TCP `port`: the source
    addresses it admits (None: from anywhere). Read from nft's own JSON listing."""
    listing = json.loads(host.check_output("nft --json list table inet gateway_firewall"))
    found = []
    for rule in (item["rule"] for item in listing["nftables"] if "rule" in item):
        if rule["chain"] != "input" or not any("accept" in e for e in rule["expr"]):
            continue
        matches = [e["match"] for e in rule["expr"] if "match" in e]
        field = lambda m: m["left"].get("payload", {}).get("field")  # noqa: E731
        ports = [m["right"] for m in matches if field(m) == "dport"]
        if not any(p == port or (isinstance(p, dict) and port in p.get("set", [])) for p in ports):
            continue
        sources = None
        for match in (m for m in matches if field(m) == "saddr"):
            right = match["right"]
            values = right["set"] if isinstance(right, dict) and "set" in right else [right]
            sources = (sources or set()) | {
                f"{v['prefix']['addr']}/{v['prefix']['len']}" if isinstance(v, dict) else v
                for v in values
            }
        found.append(sources)
    return found


def listening_addresses(host, port: int) -> set[str]:
    """The addresses something listens on at TCP `port` (for "listens only where intended")."""
    sockets = host.socket.get_listening_sockets()
    return {s.split("://")[1].rsplit(":", 1)[0] for s in sockets if s.endswith(f":{port}")}


def pytest_generate_tests(metafunc):
    names = [n for n in ("inventory_host", "host") if n in metafunc.fixturenames]
    if not names:
        return
    marker = metafunc.definition.get_closest_marker("roles")
    roles = set(marker.args) if marker else None
    selected = [
        pair for pair in _hosts(metafunc.config) if roles is None or roles & set(pair[0].groups)
    ]
    values = [
        pair if len(names) == 2 else pair[("inventory_host", "host").index(names[0])]
        for pair in selected
    ]
    metafunc.parametrize(
        names if len(names) == 2 else names[0], values, ids=[inv.name for inv, _ in selected]
    )
