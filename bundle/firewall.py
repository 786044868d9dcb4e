"""The hook roles use to open their port to their peers in the base firewall.

A role's rules live in `/etc/nftables.d/<role>.nft`, included into the input chain of the base
deploy's table; each file is validated before it goes live and nftables is reloaded only when
one changed."""

from __future__ import annotations

import ipaddress

from pyinfra.operations import systemd

from bundle.operations import validated_file
from bundle.render import render

RULES_DIR = "/etc/nftables.d"
# A candidate holds bare rules: check it the way it will be read, inside an input chain.
VALIDATE = (
    "printf 'table inet gateway_check {{ chain input {{\\ninclude \"%s\"\\n}}\\n}}\\n' {path} "
    "| nft --check --file -"
)


def render_rules(role: str, port: int | list[int], peers: list[str]) -> str:
    networks = [ipaddress.ip_network(p, strict=False) for p in peers]
    # A single address as itself (10.0.0.5, not 10.0.0.5/32).
    text = {n: str(n.network_address if n.num_addresses == 1 else n) for n in networks}
    return render(
        "base/role.nft.j2",
        role=role,
        # Several ports as an nft set: { 4000, 4001 }.
        port=port if isinstance(port, int) else "{ " + ", ".join(map(str, port)) + " }",
        peers_v4=sorted({text[n] for n in networks if n.version == 4}),
        peers_v6=sorted({text[n] for n in networks if n.version == 6}),
    )


def allow_port(role: str, port: int | list[int], peers: list[str]):
    """Admit TCP `port` (or ports) from `peers` (addresses or networks) only; reload the
    firewall if that changed."""
    ports = port if isinstance(port, int) else ", ".join(map(str, port))
    rules = validated_file(
        name=f"Open port {ports} to the {role} peers in the firewall",
        content=render_rules(role, port, peers),
        dest=f"{RULES_DIR}/{role}.nft",
        validate=VALIDATE,
    )
    systemd.service(
        name=f"Reload nftables for the {role} rules",
        service="nftables.service",
        reloaded=True,
        _if=rules.did_change,
    )
    return rules
