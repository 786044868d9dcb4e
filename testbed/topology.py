"""Which hosts a testbed has: names, addresses, MAC addresses and pyinfra groups (pure logic)."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field

ROLES = ("db", "cache", "llm", "api", "edge")
# Roles only the split topology has: the single host keeps its backups itself.
SPLIT_ONLY_ROLES = ("backup",)
SUITES = ("bookworm", "trixie")
TOPOLOGIES = ("single", "split")
MAX_HOSTS = 16
# Hosts take addresses from .11 upwards; .1 is the control machine's end of the bridge.
FIRST_HOST_OFFSET = 11

# split: one host per data role, two behind the edge for each stateless service, and a backup
# host holding the database's backup repository.
SPLIT_LAYOUT = (
    ("db1", ("db",)),
    ("cache1", ("cache",)),
    ("llm1", ("llm",)),
    ("llm2", ("llm",)),
    ("api1", ("api",)),
    ("api2", ("api",)),
    ("edge1", ("edge",)),
    ("backup1", ("backup",)),
)


@dataclass(frozen=True)
class HostSpec:
    name: str
    address: str
    mac: str
    groups: tuple[str, ...] = field(default_factory=tuple)
    # Its own Debian release, when it is not the testbed's (`--group-suite`).
    suite: str = ""

    def to_json(self) -> dict:
        return asdict(self) | {"groups": list(self.groups)}

    @classmethod
    def from_json(cls, data: dict) -> HostSpec:
        return cls(
            data["name"],
            data["address"],
            data["mac"],
            tuple(data.get("groups", ())),
            data.get("suite", ""),
        )


def group_suites(values: list[str] | None) -> dict[str, str]:
    """`--group-suite GROUP=SUITE` options as {group: suite}; ValueError for a bad one."""
    found = {}
    for value in values or []:
        group, _, suite = value.partition("=")
        if group not in ROLES + SPLIT_ONLY_ROLES or suite not in SUITES:
            raise ValueError(
                f"--group-suite {value!r}: expected GROUP=SUITE with GROUP one of "
                f"{', '.join(ROLES + SPLIT_ONLY_ROLES)} and SUITE one of {', '.join(SUITES)}"
            )
        found[group] = suite
    return found


def validate_request(
    *, hosts: int | None, topology: str | None, suite: str, by_group: dict | None = None
) -> None:
    """Raise ValueError with an operator-readable sentence for a request we cannot build."""
    if hosts is not None and topology is not None:
        raise ValueError("give either --hosts N or --topology, not both")
    if hosts is not None and not 1 <= hosts <= MAX_HOSTS:
        raise ValueError(f"--hosts must be between 1 and {MAX_HOSTS}, got {hosts}")
    if topology is not None and topology not in TOPOLOGIES:
        raise ValueError(f"unknown topology {topology!r}; choose one of {', '.join(TOPOLOGIES)}")
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; choose one of {', '.join(SUITES)}")
    if by_group and topology != "split":
        raise ValueError("--group-suite needs --topology split (one host per role)")


def layout(*, hosts: int | None, topology: str | None) -> list[tuple[str, tuple[str, ...]]]:
    """Host names with their role groups. `--hosts N` gives role-less hosts for base testing."""
    if hosts is not None:
        return [(f"host{i}", ()) for i in range(1, hosts + 1)]
    if topology == "split":
        return list(SPLIT_LAYOUT)
    return [("gateway1", ROLES)]


def mac_for(address: ipaddress.IPv4Address) -> str:
    """A fixed, locally administered MAC derived from the address, so a re-created host keeps it
    and the control machine's neighbour entry stays right."""
    octets = address.packed
    return "02:00:" + ":".join(f"{b:02x}" for b in octets)


def plan(
    *, hosts: int | None, topology: str | None, subnet: str, by_group: dict | None = None
) -> list[HostSpec]:
    network = ipaddress.IPv4Network(subnet)
    names = layout(hosts=hosts, topology=topology)
    if FIRST_HOST_OFFSET + len(names) >= network.num_addresses - 1:
        raise ValueError(f"subnet {subnet} is too small for {len(names)} hosts")
    specs = []
    for index, (name, groups) in enumerate(names):
        address = network.network_address + FIRST_HOST_OFFSET + index
        suite = next((by_group[g] for g in groups if g in (by_group or {})), "")
        specs.append(HostSpec(name, str(address), mac_for(address), groups, suite))
    return specs


def gateway_address(subnet: str) -> str:
    return str(ipaddress.IPv4Network(subnet).network_address + 1)


def describe(*, hosts: int | None, topology: str | None, by_group: dict | None = None) -> str:
    shape = f"{hosts} hosts" if hosts is not None else f"topology {topology or 'single'}"
    mixed = ", ".join(f"{group} on {suite}" for group, suite in sorted((by_group or {}).items()))
    return f"{shape} ({mixed})" if mixed else shape
