"""Who a service on this host serves: its clients' private addresses, split into remote peers
and clients on this very host, and the addresses the service must therefore listen on."""

from __future__ import annotations

from pyinfra import inventory


def client_addresses(group: str) -> set[str]:
    return {h.data.get("private_address") for h in inventory.get_group(group, [])}


def listen_addresses(own_address: str, remote_peers: list[str], local_client: bool) -> list[str]:
    """Loopback for clients on this host (or when nobody else connects), the private address
    only when a remote peer needs it: never more than that."""
    return (["127.0.0.1"] if local_client or not remote_peers else []) + (
        [own_address] if remote_peers else []
    )
