"""The testbed's network: a bridge on the control machine, one namespace per host, and an
nftables table that lets hosts reach the package sources and nothing else outside."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from testbed import paths
from testbed.errors import TestbedError
from testbed.system import run

IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


def render_ruleset(*, table: str, bridge: str, subnet: str, allowed: dict[str, list[int]]) -> str:
    """The control machine's nftables table for the testbed.

    `allowed` maps an IPv4 address to the TCP ports hosts may open to it (package sources).
    Forwarding between hosts on the bridge never reaches this table (it is switched, not routed).
    """
    elements = ", ".join(
        f"{address} . {port}" for address in sorted(allowed) for port in sorted(allowed[address])
    )
    allowed_set = f"\n        elements = {{ {elements} }}" if elements else ""
    return f"""\
table inet {table} {{
    set package_sources {{
        type ipv4_addr . inet_service{allowed_set}
    }}

    chain forward {{
        type filter hook forward priority filter; policy accept;
        # Host to host: with br_netfilter loaded, bridged frames pass this hook too. The hosts'
        # own firewalls decide about them, as they would on a real private network.
        ip saddr {subnet} ip daddr {subnet} accept
        oifname "{bridge}" ct state established,related accept
        oifname "{bridge}" drop
        iifname "{bridge}" ip daddr . tcp dport @package_sources ct state new accept
        iifname "{bridge}" ct state established,related accept
        iifname "{bridge}" drop
    }}

    chain input {{
        type filter hook input priority filter; policy accept;
        iifname "{bridge}" ct state established,related accept
        iifname "{bridge}" icmp type echo-request accept
        iifname "{bridge}" drop
    }}

    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        ip saddr {subnet} oifname != "{bridge}" masquerade
    }}
}}
"""


def check_subnet_free(subnet: str) -> None:
    """Refuse a subnet that overlaps a route this machine already has (other than ours)."""
    network = ipaddress.IPv4Network(subnet)
    for line in run(["ip", "-4", "route", "show"]).stdout.splitlines():
        fields = line.split()
        if not fields or "dev" not in fields or fields[fields.index("dev") + 1] == paths.BRIDGE:
            continue
        if fields[0] == "default":
            continue
        try:
            if ipaddress.IPv4Network(fields[0], strict=False).overlaps(network):
                raise TestbedError(
                    f"testbed subnet {subnet} overlaps this machine's route {fields[0]}; "
                    "set TESTBED_SUBNET to a free /24"
                )
        except ValueError:
            continue


def link_exists(name: str, netns: str | None = None) -> bool:
    args = ["ip"] + (["-n", netns] if netns else []) + ["link", "show", name]
    return run(args, check=False).returncode == 0


def ensure_bridge(subnet: str) -> None:
    if not link_exists(paths.BRIDGE):
        prefix = ipaddress.IPv4Network(subnet).prefixlen
        gateway = str(ipaddress.IPv4Network(subnet).network_address + 1)
        run(["ip", "link", "add", paths.BRIDGE, "type", "bridge"])
        run(["ip", "addr", "add", f"{gateway}/{prefix}", "dev", paths.BRIDGE])
    run(["ip", "link", "set", paths.BRIDGE, "up"])


def apply_ruleset(ruleset: str) -> None:
    """Replace the testbed's table atomically (one nft transaction)."""
    script = f"table inet {paths.NFT_TABLE}\ndelete table inet {paths.NFT_TABLE}\n{ruleset}"
    run(["nft", "-f", "-"], input=script)


def enable_forwarding() -> str:
    """Turn on IPv4 forwarding; return the previous value so `down` can restore it."""
    previous = IP_FORWARD.read_text().strip()
    IP_FORWARD.write_text("1\n")
    return previous


INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")
# Every host's systemd (and each of its services' managers) holds inotify instances, and all
# hosts' root is one uid to the kernel: the default 128 runs out at about eight hosts, and a
# guest's units then fail with "Too many open files" (user@0.service first).
INOTIFY_INSTANCES_FLOOR = 1024


def ensure_inotify_instances() -> int | None:
    """Raise the kernel's per-user inotify instance limit to the floor; the old value when it
    was raised (a limit, not a behaviour: nothing else on the machine notices, so `down` leaves
    it)."""
    previous = int(INOTIFY_INSTANCES.read_text())
    if previous >= INOTIFY_INSTANCES_FLOOR:
        return None
    INOTIFY_INSTANCES.write_text(f"{INOTIFY_INSTANCES_FLOOR}\n")
    return previous


def other_testbeds_running() -> bool:
    """Whether another testbed (another TESTBED_PREFIX) still has a host namespace next to its
    bridge: its hosts need forwarding on after this one is gone."""
    netns_dir = Path("/run/netns")
    prefixes = (
        {n.name.split("-", 1)[0] for n in netns_dir.glob("*-*")} if netns_dir.exists() else set()
    )
    return any(p != paths.PREFIX and link_exists(f"{p}0") for p in prefixes)


def restore_forwarding(previous: str | None) -> None:
    if previous in ("0", "1") and not other_testbeds_running():
        IP_FORWARD.write_text(previous + "\n")


def netns_exists(netns: str) -> bool:
    return Path("/run/netns", netns).exists()


def netns_pids(name: str) -> list[int]:
    """Every process in the host's network namespace: its whole guest, whichever pid and mount
    namespace it is in (a guest's init outlives a SIGKILLed systemd-nspawn)."""
    netns = paths.netns_name(name)
    if not netns_exists(netns):
        return []
    listed = run(["ip", "netns", "pids", netns], check=False)
    return [int(p) for p in listed.stdout.split() if p.isdigit()]


def ensure_host_network(*, name: str, address: str, mac: str, subnet: str) -> None:
    """A namespace with `eth0` (fixed MAC, fixed address) plugged into the bridge."""
    netns, veth = paths.netns_name(name), paths.veth_name(name)
    prefix = ipaddress.IPv4Network(subnet).prefixlen
    gateway = str(ipaddress.IPv4Network(subnet).network_address + 1)
    if not netns_exists(netns):
        run(["ip", "netns", "add", netns])
    if not link_exists(veth):
        run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns])
    run(["ip", "link", "set", veth, "master", paths.BRIDGE, "up"])
    run(["ip", "-n", netns, "link", "set", "lo", "up"])
    run(["ip", "-n", netns, "link", "set", "eth0", "address", mac])
    run(["ip", "-n", netns, "addr", "replace", f"{address}/{prefix}", "dev", "eth0"])
    run(["ip", "-n", netns, "link", "set", "eth0", "up"])
    run(["ip", "-n", netns, "route", "replace", "default", "via", gateway])
    # A stale neighbour entry from an earlier host at this address stalls SSH for ~30 s.
    run(["ip", "neigh", "flush", "to", address, "dev", paths.BRIDGE], check=False)


def _our_namespaces() -> list[str]:
    listing = run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in listing.splitlines() if line.startswith(paths.PREFIX + "-")]


def _our_links() -> list[str]:
    links = []
    for line in run(["ip", "-o", "link", "show"], check=False).stdout.splitlines():
        link = line.split(":")[1].strip().split("@")[0]
        if link.startswith(paths.PREFIX + "-"):
            links.append(link)
    return links


def _table_exists() -> bool:
    return run(["nft", "list", "table", "inet", paths.NFT_TABLE], check=False).returncode == 0


def remove_all() -> None:
    """Remove every namespace, link, bridge and table of ours the kernel still has, whether or
    not our state file remembers them (an interrupted run may have lost it)."""
    for link in _our_links():
        run(["ip", "link", "del", link], check=False)
    for netns in _our_namespaces():
        run(["ip", "netns", "del", netns], check=False)
    if link_exists(paths.BRIDGE):
        run(["ip", "link", "del", paths.BRIDGE], check=False)
    if _table_exists():
        run(["nft", "delete", "table", "inet", paths.NFT_TABLE], check=False)


def leftovers() -> list[str]:
    """Everything of ours still present in the kernel: used by `down` and by tests."""
    found = [f"bridge {paths.BRIDGE}"] if link_exists(paths.BRIDGE) else []
    if _table_exists():
        found.append(f"nftables table inet {paths.NFT_TABLE}")
    found += [f"network namespace {netns}" for netns in _our_namespaces()]
    found += [f"link {link}" for link in _our_links()]
    return found
