"""Keeps one host's container running: boots it, and boots it again after a guest reboot.

Started detached by `testbed up` as `python -m testbed.supervisor STATE_DIR NAME` (the state
directory is in argv so that `down` can find supervisors an earlier run left behind);
`testbed down` sends it SIGTERM, which it passes on to systemd-nspawn: an orderly guest
shutdown.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from testbed import cgroups, guest, paths, sources, state

# systemd-nspawn exits with this code when the guest asked for a reboot.
REBOOT_EXIT = 133


def nspawn_command(name: str) -> list[str]:
    # A fresh time namespace whose boot clock starts near zero: pyinfra's server.reboot
    # recognises a reboot by the guest's uptime going down.
    with open("/proc/uptime") as f:
        offset = max(int(float(f.read().split()[0])) - 1, 0)
    return [
        "unshare",
        "--time",
        f"--boottime=-{offset}",
        "systemd-nspawn",
        "--boot",
        "--keep-unit",
        "--register=no",
        f"--machine={name}",
        f"--directory={guest.root(name)}",
        f"--network-namespace-path=/run/netns/{paths.netns_name(name)}",
        # nspawn grants this only with --private-network; the guest's firewall needs it, and
        # it reaches no further than the guest's own network namespace.
        "--capability=CAP_NET_ADMIN",
        "--resolv-conf=off",
        "--timezone=off",
        "--link-journal=no",
        "--console=read-only",
    ]


def nspawn_environment() -> dict[str, str]:
    return dict(
        os.environ,
        # A pure cgroup2 tree: systemd inside reaches "running" with no failed units.
        SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1",
        # net.* sysctls are per namespace and the guest may set them; kernel-wide ones stay
        # read-only.
        SYSTEMD_NSPAWN_API_VFS_WRITABLE="network",
    )


def prepare_start(name: str) -> None:
    current = state.load()
    host = current.host(name)
    apt = sources.debian_sources(sources.control_apt_sources(), current.suite_of(host))
    guest.write_start_files(
        host,
        peers=current.hosts,
        resolved_sources=sources.resolve(sources.control_endpoints(apt)),
        apt_sources=sources.render_deb822(apt),
        apt_settings=sources.control_apt_settings(),
        ca_certificates=sources.extra_ca_certificates(),
        authorized_key=paths.SSH_KEY.with_suffix(".pub").read_text(),
    )


def supervise(name: str) -> int:
    stopping = False
    child: subprocess.Popen | None = None

    def on_term(signum, frame):
        nonlocal stopping
        stopping = True
        if child and child.poll() is None:
            child.send_signal(signal.SIGTERM)  # nspawn turns this into a clean guest poweroff

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    log = open(paths.host_dir(name) / "console.log", "ab", buffering=0)  # noqa: SIM115
    cgroups.enter_host_cgroup(name)
    while not stopping:
        prepare_start(name)
        log.write(f"\n--- testbed: starting {name}\n".encode())
        child = subprocess.Popen(
            nspawn_command(name),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=nspawn_environment(),
        )
        if stopping:  # SIGTERM arrived while we were preparing this start
            child.send_signal(signal.SIGTERM)
        code = child.wait()
        log.write(f"\n--- testbed: {name} exited with {code}\n".encode())
        if code != REBOOT_EXIT:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(supervise(sys.argv[-1]))
