"""What a component's deploy asks about the host it runs on and the hosts it talks to."""

from __future__ import annotations

from pyinfra import host, inventory
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.hardware import Cpus

from bundle import settings, sizing
from bundle.facts import HostPlatform
from bundle.platforms import Target, target_of


def service_address(group: str, component: str, *, loopback: bool = True) -> str:
    """Where this host reaches the first host of `group`: loopback when it is this host and
    the service listens there too (`loopback`; the data services do, LiteLLM does not)."""
    address = _members(group, component)[0].data.get("private_address")
    return "127.0.0.1" if loopback and address == host.data.get("private_address") else address


# LiteLLM runs `litellm_instances` proxies on every llm host, on consecutive ports from
# `litellm_port`: a crash or restart of one (LiteLLM needs 10-30 s to start) leaves the others
# serving. Its clients (the edge, the SaaS API) and its firewall rule read them from the llm
# host's own data.
LITELLM_INSTANCE_DEFAULTS = settings.defaults("litellm_port", "litellm_instances")


def litellm_ports(data) -> list[int]:
    """The ports of the LiteLLM instances on the llm host whose data this is (checked by
    bundle.preflight)."""
    get = lambda key: int(data.get(key) or LITELLM_INSTANCE_DEFAULTS[key])  # noqa: E731
    return list(range(get("litellm_port"), get("litellm_port") + get("litellm_instances")))


def litellm_urls_in_turn(component: str, own_group: str) -> list[str]:
    """Every LiteLLM instance on every llm host, as http URLs, starting at a different llm host
    on each `own_group` host (the second api host starts with the second llm host), so that
    clients which fail over in list order spread their load. LiteLLM listens on private
    addresses only, even when it runs on the client's host."""
    members = _members("llm", component)
    own = [member.name for member in inventory.get_group(own_group, [])]
    start = own.index(host.name) % len(members) if host.name in own else 0
    in_turn = members[start:] + members[:start]
    return [f"http://{endpoint}" for endpoint in litellm_endpoints(in_turn)]


def litellm_endpoints(members) -> list[str]:
    """`address:port` of every LiteLLM instance on the given llm hosts, in their order."""
    return [
        f"{member.data.get('private_address')}:{port}"
        for member in members
        for port in litellm_ports(member.data)
    ]


def _members(group: str, component: str) -> list:
    members = inventory.get_group(group, [])
    if not members:
        raise DeployError(f"{host.name}: {component} needs a host in the `{group}` group")
    return members


def worker_count(configured) -> int:
    """The configured number of worker processes, else one per core, at most 8."""
    return int(configured) if configured else sizing.clamp(host.get_fact(Cpus) or 1, 1, 8)


def host_target() -> Target:
    """The Python, glibc and machine this host's wheelhouses are fetched for (its platform was
    checked by preflight: bundle.platforms)."""
    return target_of(host.get_fact(HostPlatform))


def database_url(role: str, component: str, port: int) -> str:
    """The role's database (named after it) on the first `db` host. TLS to a remote database
    (pg_hba has hostssl for remote peers); never a password in the URL: PGPASSWORD carries it."""
    db = service_address("db", component)
    tls = "" if db == "127.0.0.1" else "?sslmode=require"
    return f"postgresql://{role}@{db}:{port}/{role}{tls}"
