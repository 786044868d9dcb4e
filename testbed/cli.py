"""`python -m testbed up|down|status|ssh`: local Debian hosts to deploy the bundle to and test."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from testbed import cgroups, guest, image, network, paths, procs, sources, state, topology
from testbed.errors import TestbedError
from testbed.system import ensure_tools, progress, require_root, run

BOOT_TIMEOUT = 180


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m testbed", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="boot the testbed's hosts (idempotent)")
    shape = up.add_mutually_exclusive_group()
    shape.add_argument("--hosts", type=int, help="N role-less hosts named host1..hostN")
    shape.add_argument("--topology", help="single (default: one host, every role) or split")
    up.add_argument(
        "--suite", default="bookworm", help="Debian release: bookworm (default) or trixie"
    )
    up.add_argument(
        "--group-suite",
        action="append",
        metavar="GROUP=SUITE",
        help="another release for the hosts of one group (split only; repeatable): a mixed fleet",
    )
    down = sub.add_parser("down", help="stop every host and remove networking and mounts")
    down.add_argument("--purge", action="store_true", help="also delete the hosts' disks and keys")
    purge = sub.add_parser(
        "purge", help="destroy one host: power it off and delete its disk (`up` makes it anew)"
    )
    purge.add_argument("name")
    sub.add_parser("status", help="list hosts, addresses and state")
    ssh = sub.add_parser("ssh", help="open a shell (or run a command) on a host")
    ssh.add_argument("name")
    ssh.add_argument("remote", nargs=argparse.REMAINDER)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "up":
            return cmd_up(args)
        if args.command == "down":
            return cmd_down(args)
        if args.command == "purge":
            return cmd_purge(args.name)
        if args.command == "status":
            return cmd_status()
        return cmd_ssh(args)
    except TestbedError as error:
        print(f"testbed: error: {error}", file=sys.stderr)
        return 1


def cmd_up(args: argparse.Namespace) -> int:
    try:
        by_group = topology.group_suites(args.group_suite)
        topology.validate_request(
            hosts=args.hosts, topology=args.topology, suite=args.suite, by_group=by_group
        )
    except ValueError as error:
        raise TestbedError(str(error)) from None
    require_root()
    shape = topology.describe(hosts=args.hosts, topology=args.topology, by_group=by_group)
    current = state.load()
    if current and (current.shape, current.suite) != (shape, args.suite):
        raise TestbedError(
            f"the testbed already holds {current.shape} ({current.suite}); run "
            "`python -m testbed down --purge` before asking for "
            f"{shape} ({args.suite})"
        )
    started = time.monotonic()
    ensure_tools()
    network.check_subnet_free(paths.SUBNET)
    hosts = topology.plan(
        hosts=args.hosts, topology=args.topology, subnet=paths.SUBNET, by_group=by_group
    )
    apt = sources.control_apt_sources()
    suites = sorted({args.suite, *by_group.values()})
    # Hosts on disk keep the image they were created from: an overlay's lower layer must not
    # change underneath its upper layer.
    if current:
        images = {current.suite: current.image} | current.other_images
    else:
        images = {s: str(image.ensure_image(s, main_mirror(apt, s))) for s in suites}
    for rootfs in images.values():
        image.remove_unused(keep=Path(rootfs))
    ensure_ssh_key()

    desired = current or state.TestbedState(
        shape=shape,
        suite=args.suite,
        subnet=paths.SUBNET,
        gateway=topology.gateway_address(paths.SUBNET),
        image=images[args.suite],
        hosts=hosts,
        other_images={suite: path for suite, path in images.items() if suite != args.suite},
    )
    network.ensure_bridge(paths.SUBNET)
    raised_from = network.ensure_inotify_instances()
    if raised_from is not None:
        progress(
            f"raised fs.inotify.max_user_instances from {raised_from} to "
            f"{network.INOTIFY_INSTANCES_FLOOR} (every host's systemd needs its own)"
        )
    if desired.previous_ip_forward is None:
        desired.previous_ip_forward = network.enable_forwarding()
    else:
        network.enable_forwarding()
    network.apply_ruleset(
        network.render_ruleset(
            table=paths.NFT_TABLE,
            bridge=paths.BRIDGE,
            subnet=paths.SUBNET,
            allowed=allowed_destinations(apt, desired.suites()),
        )
    )
    state.save(desired)

    booting = []
    for host in desired.hosts:
        network.ensure_host_network(
            name=host.name, address=host.address, mac=host.mac, subnet=desired.subnet
        )
        guest.mount_root(host.name, Path(desired.image_of(host)))
        if not procs.supervisor_pids(host.name):
            procs.start_supervisor(host.name)
            booting.append(host.name)
    if booting:
        progress(f"booting {', '.join(booting)}")
    wait_ready(desired)
    progress(
        f"up: {len(desired.hosts)} host(s) ready in {time.monotonic() - started:.1f}s "
        f"({', '.join(booting) or 'all'} {'booted' if booting else 'were already running'})"
    )
    print_status(desired)
    return 0


def main_mirror(apt: list[sources.AptSource], suite: str) -> sources.AptSource:
    try:
        return sources.main_mirror(sources.debian_sources(apt, suite), suite)
    except LookupError as error:
        raise TestbedError(f"{error}; add a Debian source to /etc/apt/sources.list.d") from None


def allowed_destinations(apt: list[sources.AptSource], suites: list[str]) -> dict[str, list[int]]:
    endpoints = [
        endpoint
        for suite in suites
        for endpoint in sources.control_endpoints(sources.debian_sources(apt, suite))
    ]
    resolved = sources.resolve(endpoints)
    allowed: dict[str, list[int]] = {}
    for endpoint in endpoints:
        for address in resolved.get(endpoint.host, []):
            allowed.setdefault(address, [])
            if endpoint.port not in allowed[address]:
                allowed[address].append(endpoint.port)
    return allowed


def ensure_ssh_key() -> None:
    paths.SSH_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not paths.SSH_KEY.exists():
        run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "testbed",
                "-f",
                str(paths.SSH_KEY),
            ]
        )


def write_ssh_files(current: state.TestbedState, keys: dict[str, list[str]]) -> None:
    """An ssh_config and a known_hosts with each host's real keys, read from its own disk."""
    config, known = [], []
    for host in current.hosts:
        config.append(
            f"Host {host.name} {host.address}\n"
            f"    HostName {host.address}\n"
            "    User root\n"
            f"    IdentityFile {paths.SSH_KEY}\n"
            "    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {paths.KNOWN_HOSTS}\n"
            "    StrictHostKeyChecking yes\n"
            "    ConnectTimeout 5\n"
            "    LogLevel ERROR\n"
        )
        known += [f"{host.address},{host.name} {key}" for key in keys.get(host.name, [])]
    paths.SSH_CONFIG.write_text("\n".join(config))
    paths.KNOWN_HOSTS.write_text("".join(line + "\n" for line in known))


def wait_ready(current: state.TestbedState) -> None:
    """Wait until every host answers SSH and systemd says `running`."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    keys: dict[str, list[str]] = {}
    pending = [h.name for h in current.hosts]
    while pending:
        for name in list(pending):
            if name not in keys:
                host_keys = guest.host_public_keys(name)
                if not host_keys:
                    continue
                keys[name] = host_keys
                write_ssh_files(current, keys)
            result = ssh(name, "systemctl is-system-running", timeout=10)
            answer = result.stdout.strip()
            if answer == "running":
                pending.remove(name)
            elif answer == "degraded":
                failed = ssh(name, "systemctl --failed --no-legend --plain", timeout=10).stdout
                raise TestbedError(f"{name} booted degraded; failed units: {failed.strip()}")
        if pending and time.monotonic() > deadline:
            logs = ", ".join(str(paths.host_dir(n) / "console.log") for n in pending)
            raise TestbedError(f"{', '.join(pending)} not ready after {BOOT_TIMEOUT}s; see {logs}")
        if pending:
            time.sleep(0.3)


def ssh(name: str, command: str, timeout: float = 10):
    args = ["ssh", "-F", str(paths.SSH_CONFIG), "-o", "BatchMode=yes", name, command]
    try:
        return run(args, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:  # a hung connection during boot is just "not yet"
        return subprocess.CompletedProcess(args, 255, "", "timed out")


def cmd_down(args: argparse.Namespace) -> int:
    require_root()
    current = state.load()
    names = {h.name for h in current.hosts} if current else set()
    if paths.HOSTS_DIR.exists():  # also hosts an earlier, interrupted run left on disk
        names |= {p.name for p in paths.HOSTS_DIR.iterdir()}
    supervisors = procs.supervisor_pids()
    if supervisors:
        progress(f"shutting down {len(supervisors)} host(s)")
    procs.stop(supervisors, timeout=60)
    procs.kill_containers()
    for name in sorted(names):
        guest.unmount_root(name)
    network.remove_all()
    cgroups.remove_all()
    if current:
        network.restore_forwarding(current.previous_ip_forward)
    if args.purge:
        for mount in guest.our_mounts():
            run(["umount", "--lazy", mount], check=False)
        shutil.rmtree(paths.STATE_DIR, ignore_errors=True)
    left = (
        network.leftovers()
        + cgroups.leftovers()
        + guest.our_mounts()
        + [f"process {pid}" for pid in procs.supervisor_pids() + procs.container_pids()]
    )
    if left:
        raise TestbedError("could not remove: " + "; ".join(left))
    progress("down" + (" (purged hosts' disks and keys)" if args.purge else ""))
    return 0


def cmd_purge(name: str) -> int:
    """A lost host, for drills: killed without a shutdown (as a dead disk or a crash would
    leave it) and its disk deleted. It stays in the testbed's plan: `up` boots it again from the
    image, with new SSH host keys, and the rest of the testbed is left as it is."""
    require_root()
    current = state.load()
    if current is None or name not in {h.name for h in current.hosts}:
        known = ", ".join(h.name for h in current.hosts) if current else "none: not up"
        raise TestbedError(f"no host {name!r} in the testbed (hosts: {known})")
    for pid in procs.supervisor_pids(name):
        procs.signal_now(pid)
    procs.kill_containers(name)
    # The guest's own processes live on after nspawn is gone; its network namespace holds them
    # all (its init with them: killing that ends its pid namespace).
    deadline = time.monotonic() + 30
    while (left := network.netns_pids(name)) and time.monotonic() < deadline:
        for pid in left:
            procs.signal_now(pid)
        time.sleep(0.5)
    guest.unmount_root(name)
    shutil.rmtree(paths.host_dir(name), ignore_errors=True)
    if network.netns_pids(name) or procs.container_pids(name) or paths.host_dir(name).exists():
        raise TestbedError(f"could not remove {name}: processes or {paths.host_dir(name)} left")
    progress(f"purged {name}: powered off, disk deleted; `python -m testbed up` makes it anew")
    return 0


def cmd_status() -> int:
    current = state.load()
    if current is None:
        print("testbed: not up")
        return 0
    print_status(current)
    return 0


def print_status(current: state.TestbedState) -> None:
    print(f"testbed: {current.shape}, Debian {current.suite}, subnet {current.subnet}")
    print(f"{'NAME':<10} {'ADDRESS':<15} {'RELEASE':<9} {'STATE':<10} GROUPS")
    for host in current.hosts:
        if not procs.supervisor_pids(host.name):
            status = "stopped"
        elif os.geteuid() == 0 and paths.SSH_CONFIG.exists():
            status = ssh(host.name, "systemctl is-system-running", timeout=5).stdout.strip()
            status = status or "booting"
        else:
            status = "started"
        print(
            f"{host.name:<10} {host.address:<15} {current.suite_of(host):<9} {status:<10} "
            f"{','.join(host.groups) or '-'}"
        )


def cmd_ssh(args: argparse.Namespace) -> int:
    require_root()
    current = state.load()
    if current is None or args.name not in {h.name for h in current.hosts}:
        known = ", ".join(h.name for h in current.hosts) if current else "none (testbed not up)"
        raise TestbedError(f"no testbed host named {args.name!r}; hosts: {known}")
    os.execvp("ssh", ["ssh", "-F", str(paths.SSH_CONFIG), args.name, *args.remote])  # noqa: S606
    return 0
