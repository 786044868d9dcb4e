"""pyinfra inventory groups for the running testbed (read by inventories/testbed.py)."""

from __future__ import annotations

from testbed import paths
from testbed.state import TestbedState
from testbed.topology import ROLES, SPLIT_ONLY_ROLES


def connection_data(address: str) -> dict:
    return {
        "ssh_hostname": address,
        # The testbed has one network: peers reach a host where the control machine does.
        "private_address": address,
        "ssh_user": "root",
        "ssh_key": str(paths.SSH_KEY),
        "ssh_known_hosts_file": str(paths.KNOWN_HOSTS),
        "ssh_strict_host_key_checking": "yes",
        "ssh_allow_agent": False,
        "ssh_look_for_keys": False,
    }


def groups_for(current: TestbedState) -> dict[str, list]:
    """`{group: [(name, data), ...]}`: one group per role plus `testbed_hosts` with every host."""
    groups: dict[str, list] = {"testbed_hosts": []}
    for role in ROLES + SPLIT_ONLY_ROLES:
        groups[role] = []
    for host in current.hosts:
        entry = (host.name, connection_data(host.address))
        groups["testbed_hosts"].append(entry)
        for role in host.groups:
            groups[role].append(entry)
    return {name: members for name, members in groups.items() if members}
