"""One host's disk and the files it gets from the control machine at every start."""

from __future__ import annotations

import shutil
from pathlib import Path

from testbed import paths
from testbed.system import run
from testbed.topology import HostSpec

CA_DIR = "usr/local/share/ca-certificates/control-machine"


def upper(name: str) -> Path:
    return paths.host_dir(name) / "upper"


def workdir(name: str) -> Path:
    return paths.host_dir(name) / "work"


def root(name: str) -> Path:
    return paths.host_dir(name) / "root"


def is_mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mounts") as mounts:
        return any(line.split()[1] == target for line in mounts)


def mount_root(name: str, lower: Path) -> None:
    for directory in (upper(name), workdir(name), root(name)):
        directory.mkdir(parents=True, exist_ok=True)
    if not is_mounted(root(name)):
        options = f"lowerdir={lower},upperdir={upper(name)},workdir={workdir(name)}"
        run(["mount", "-t", "overlay", "overlay", "-o", options, str(root(name))])


def unmount_root(name: str) -> None:
    if is_mounted(root(name)):
        run(["umount", str(root(name))], check=False)
        if is_mounted(root(name)):
            run(["umount", "--lazy", str(root(name))], check=False)


def our_mounts() -> list[str]:
    """Mount points under the testbed's state directory (used by `down` and by tests)."""
    prefix = str(paths.STATE_DIR) + "/"
    with open("/proc/self/mounts") as mounts:
        return [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]


def render_hosts_file(host: HostSpec, peers: list[HostSpec], sources: dict[str, list[str]]) -> str:
    lines = ["127.0.0.1\tlocalhost", f"127.0.1.1\t{host.name}", "::1\tlocalhost ip6-localhost"]
    lines += [f"{peer.address}\t{peer.name}" for peer in peers if peer.name != host.name]
    lines.append("# package sources, resolved by the control machine at this start (no DNS here)")
    lines += [f"{addresses[0]}\t{name}" for name, addresses in sorted(sources.items()) if addresses]
    return "\n".join(lines) + "\n"


def write_start_files(
    host: HostSpec,
    *,
    peers: list[HostSpec],
    resolved_sources: dict[str, list[str]],
    apt_sources: str,
    apt_settings: str,
    ca_certificates: list[Path],
    authorized_key: str,
) -> None:
    """Refresh what a host takes from the control machine, before each boot.

    The CA certificates in particular can change whenever the control machine boots, so they
    are copied here rather than baked into the cached image."""
    rootfs = root(host.name)
    _write(rootfs / "etc/hostname", host.name + "\n")
    _write(rootfs / "etc/hosts", render_hosts_file(host, peers, resolved_sources))
    # Hosts have no DNS: every name they need is in /etc/hosts.
    _write(rootfs / "etc/resolv.conf", "# no DNS in the testbed; names are in /etc/hosts\n")
    _write(rootfs / "etc/apt/sources.list.d/control-machine.sources", apt_sources)
    _write(rootfs / "etc/apt/apt.conf.d/90control-machine", apt_settings)
    if copy_ca_certificates(rootfs, ca_certificates):
        _write(rootfs / "etc/testbed/refresh-ca-certificates", "")
    ssh_dir = rootfs / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    _write(ssh_dir / "authorized_keys", authorized_key, mode=0o600)


def copy_ca_certificates(rootfs: Path, certificates: list[Path]) -> bool:
    """Make the host's extra CA directory hold exactly `certificates`; True if it changed."""
    ca_dir = rootfs / CA_DIR
    wanted = {cert.name: cert.read_bytes() for cert in certificates}
    present = {p.name: p.read_bytes() for p in ca_dir.glob("*.crt")} if ca_dir.exists() else {}
    if wanted == present:
        return False
    shutil.rmtree(ca_dir, ignore_errors=True)
    ca_dir.mkdir(parents=True)
    for name, content in wanted.items():
        (ca_dir / name).write_bytes(content)
    return True


def host_public_keys(name: str) -> list[str]:
    """The host's own SSH host keys (`type base64`), read from its disk; made at first boot."""
    ssh_dir = root(name) / "etc/ssh"
    if not (ssh_dir / "testbed-host-keys-ready").exists():
        return []
    return [" ".join(p.read_text().split()[:2]) for p in sorted(ssh_dir.glob("ssh_host_*_key.pub"))]


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()
    path.write_text(text)
    path.chmod(mode)
