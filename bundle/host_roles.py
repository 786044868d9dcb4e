"""What a component's deploy asks about the host it runs on and the hosts it talks to."""

from __future__ import annotations

from pyinfra import host, inventory
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.hardware import Cpus

from bundle import artifacts, sizing
from bundle.facts import PythonVersion


def service_address(group: str, component: str, *, loopback: bool = True) -> str:
    """Where this host reaches the first host of `group`: loopback when it is this host and
    the service listens there too (`loopback`; the data services do, LiteLLM does not)."""
    address = _members(group, component)[0].data.get("private_address")
    return "127.0.0.1" if loopback and address == host.data.get("private_address") else address


def service_addresses_in_turn(group: str, component: str, own_group: str) -> list[str]:
    """Every `group` host's private address, starting at a different one on each `own_group`
    host (the second api host starts with the second llm host), so that clients which fail
    over in list order spread their load. Services here listen on private addresses only."""
    addresses = [member.data.get("private_address") for member in _members(group, component)]
    own = [member.name for member in inventory.get_group(own_group, [])]
    start = own.index(host.name) % len(addresses) if host.name in own else 0
    return addresses[start:] + addresses[:start]


def _members(group: str, component: str) -> list:
    members = inventory.get_group(group, [])
    if not members:
        raise DeployError(f"{host.name}: {component} needs a host in the `{group}` group")
    return members


def worker_count(configured) -> int:
    """The configured number of worker processes, else one per core, at most 8."""
    return int(configured) if configured else sizing.clamp(host.get_fact(Cpus) or 1, 1, 8)


def require_target_python(component: str, group: str) -> None:
    """The wheelhouses are built for Debian bookworm's Python; refuse any other."""
    wanted = ".".join(map(str, artifacts.TARGET_PYTHON))
    found = host.get_fact(PythonVersion)
    if found != wanted:
        raise DeployError(
            f"{host.name}: {component}'s wheelhouse is built for Python {wanted} (Debian "
            f"bookworm); this host has {found or 'no python3'}: use bookworm for {group} hosts"
        )


def database_url(role: str, component: str, port: int) -> str:
    """The role's database (named after it) on the first `db` host. TLS to a remote database
    (pg_hba has hostssl for remote peers); never a password in the URL: PGPASSWORD carries it."""
    db = service_address("db", component)
    tls = "" if db == "127.0.0.1" else "?sslmode=require"
    return f"postgresql://{role}@{db}:{port}/{role}{tls}"
