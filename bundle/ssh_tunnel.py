"""An SSH port forward from the control machine to a private address: how operators (and the
tests and benchmarks that act like them) reach services the firewall keeps private."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence


class TunnelError(Exception):
    """The forward did not come up; the message carries ssh's own words."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def ssh_tunnel(
    ssh: Sequence[str], via: str, target: str, port: int, *, timeout: float = 20
) -> Iterator[str]:
    """`http://127.0.0.1:<free port>` forwarded through host `via` to `target:port`, using the
    ssh command line `ssh` (e.g. `["ssh", "-F", config]`); closed when the block ends."""
    local = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [*ssh, "-N", "-o", "ExitOnForwardFailure=yes"]
            + ["-L", f"127.0.0.1:{local}:{target}:{port}", via],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,  # "connect failed" lines while the service restarts; shown on failure
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise TunnelError(
                        f"SSH tunnel to {target}:{port} via {via} failed: "
                        f"{log.read().decode(errors='replace').strip()[-500:]}"
                    )
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", local)):
                    break
                if time.monotonic() > deadline:
                    raise TunnelError(f"SSH tunnel to {target}:{port} via {via}: no listener")
                time.sleep(0.1)
            yield f"http://127.0.0.1:{local}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def ssh_argv(name: str, data: dict) -> tuple[str, ...]:
    """OpenSSH to an inventory host with its own connection data (as tests/verify does),
    ending with the destination."""
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR"]
    if data.get("ssh_user"):
        argv += ["-l", data["ssh_user"]]
    if data.get("ssh_port"):
        argv += ["-p", str(data["ssh_port"])]
    if data.get("ssh_key"):
        argv += ["-i", data["ssh_key"], "-o", "IdentitiesOnly=yes"]
    if data.get("ssh_known_hosts_file"):
        argv += ["-o", f"UserKnownHostsFile={data['ssh_known_hosts_file']}"]
        argv += ["-o", "StrictHostKeyChecking=yes"]
    return (*argv, data.get("ssh_hostname") or name)
