"""Shared helpers for end-to-end tests: they drive the same commands an operator types."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from bundle.facts import HostPlatform
from bundle.platforms import Target, target_of
from bundle.secret_store import SecretStore
from bundle.ssh_tunnel import ssh_tunnel
from testbed import paths, state

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.hookimpl(trylast=True)  # after pytest grouped the tests by topology
def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.e2e)
    for item in [i for i in items if i.get_closest_marker("last_in_topology")]:
        items.remove(item)
        same = [n for n, other in enumerate(items) if topology_of(other) == topology_of(item)]
        items.insert(same[-1] + 1 if same else len(items), item)


def topology_of(item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("topology") if callspec else None


def run(args, *, timeout=900, check=False, cwd=REPO, **kwargs):
    """Run a command from the repository root (or `cwd`); return the CompletedProcess and its
    duration."""
    started = time.monotonic()
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )
    result.seconds = time.monotonic() - started
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
        )
    return result


def run_testbed(*args, **kwargs):
    return run([sys.executable, "-m", "testbed", *args], **kwargs)


def pyinfra(*args, **kwargs):
    return run([BIN / "pyinfra", *args], **kwargs)


def deploy_json(inventory="inventories/testbed.py", *extra):
    """Run deploy.py with pyinfra's JSON report; return (report, seconds)."""
    result = pyinfra("-y", "--json", inventory, "deploy.py", *extra, check=True)
    return json.loads(result.stdout), result.seconds


def run_verify_suite(inventory="inventories/testbed.py"):
    """The verification suite exactly as an operator runs it against an inventory."""
    result = run(
        [sys.executable, "-m", "pytest", "tests/verify", "--inventory", inventory, "-q"],
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert " passed" in result.stdout.splitlines()[-1]


def ssh(name, command, **kwargs):
    return run_testbed("ssh", name, command, **kwargs)


def host_target(name) -> Target:
    """The Python, glibc and machine a testbed host's wheelhouses are fetched for, read from it
    as the deploy reads it."""
    printed = ssh(name, HostPlatform().command(), check=True).stdout.splitlines()
    return target_of(HostPlatform().process(printed))


@pytest.fixture(scope="session")
def root_only():
    if os.geteuid() != 0:
        pytest.fail("end-to-end tests boot containers and must run as root")


# The deployed testbed, per topology, shared by the data tier and LiteLLM tests.
TOPOLOGIES = ["single", "split"]


@pytest.fixture(scope="session", params=TOPOLOGIES)
def topology(request, root_only):
    """One deployed testbed per topology, shared by every module that tests a deployment (pytest
    groups the tests by this parameter, so each topology is brought up once)."""
    run_testbed("down", "--purge", check=True)
    run_testbed("up", "--topology", request.param, check=True, timeout=1200)
    yield request.param
    run_testbed("down", "--purge")


@pytest.fixture(scope="session")
def roles(topology):
    """Host names by role, as the running testbed recorded them. Client hosts get psql and
    redis-cli: test tooling, not part of any deploy."""
    current = state.load()
    for host in current.hosts:
        if not {"db", "cache"} & set(host.groups):
            installed = ssh(
                host.name,
                "DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
                "--no-install-recommends postgresql-client redis-tools",
                timeout=600,
            )
            assert installed.returncode == 0, installed.stderr
    names = {}
    for host in current.hosts:
        for group in host.groups:
            names.setdefault(group, []).append(host.name)
    return {group: hosts[0] for group, hosts in names.items()} | {
        "non_peer": next(
            (
                h.name
                for h in current.hosts
                if "edge" in h.groups and not {"llm", "api", "db", "cache"} & set(h.groups)
            ),
            None,
        ),
        "address": {h.name: h.address for h in current.hosts},
    }


def secret(name):
    return SecretStore("testbed").values()[name]


class Background:
    """`_loop` on a daemon thread for the length of a `with` block; `_loop` checks `_stop`."""

    def __init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        raise NotImplementedError

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=60)


class ProcessWatcher:
    """Samples every host's process list (full argv) every `INTERVAL` seconds while a deploy
    runs, over one SSH connection per host: a new `testbed ssh` per sample cost about a core of
    this machine's two, taken from the deploy under test, and sampled each host less often."""

    INTERVAL = 0.1
    # The remote loop ends by itself after this long, should the connection outlive the test.
    LIMIT_SECONDS = 1800
    MARK = "--- sample ---"

    def __init__(self, hosts):
        self.hosts, self.samples = hosts, []
        self._streams: list[subprocess.Popen] = []
        self._readers: list[threading.Thread] = []

    def __enter__(self):
        loop = (
            f"timeout {self.LIMIT_SECONDS} sh -c "
            f"'while :; do ps -eo args --no-headers; echo {self.MARK}; sleep {self.INTERVAL}; done'"
        )
        for name in self.hosts:
            stream = subprocess.Popen(
                [sys.executable, "-m", "testbed", "ssh", name, loop],
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
            reader.start()
            self._streams.append(stream)
            self._readers.append(reader)
        return self

    def _read(self, stream):
        sample = []
        for line in stream.stdout:
            if line.rstrip("\n") == self.MARK:
                self.samples.append("".join(sample))
                sample = []
            else:
                sample.append(line)

    def __exit__(self, *exc):
        for stream in self._streams:
            stream.terminate()
        for stream, reader in zip(self._streams, self._readers, strict=True):
            stream.wait(timeout=30)
            reader.join(timeout=30)


@pytest.fixture(scope="session")
def deploy_logs(topology):
    """Every verbose deploy output of this topology, for the secret leak check."""
    return {}


@pytest.fixture(scope="session")
def first_deploy(topology, deploy_logs):
    """The first deploy, verbose, with every host's process list sampled throughout."""
    hosts = [h.name for h in state.load().hosts]
    with ProcessWatcher(hosts) as watcher:
        result = pyinfra("-y", "-v", "inventories/testbed.py", "deploy.py", timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    deploy_logs["first deploy (-v)"] = result.stdout + result.stderr
    deploy_logs["process lists during the first deploy"] = "\n".join(watcher.samples)
    return result, watcher.samples


def psql_as(client, role, database, password, target, *, sslmode="require", sql="SELECT 1"):
    """psql from `client` to `target`, the password given on stdin (never in argv)."""
    command = (
        "read -r PGPASSWORD; export PGPASSWORD; "
        f"psql -XAt 'host={target} dbname={database} user={role} sslmode={sslmode} "
        f"connect_timeout=5' -c {shlex.quote(sql)}"
    )
    return ssh(client, command, input=password + "\n", timeout=60)


def psql_as_litellm(roles, *, database="litellm", password=None, **kwargs):
    """psql from the llm host as role litellm (with its real password unless given one)."""
    llm = roles["llm"]
    password = password or secret("postgres_litellm_password")
    return psql_as(llm, "litellm", database, password, db_target(roles, llm), **kwargs)


def db_target(roles, client):
    db = roles["db"]
    return "127.0.0.1" if db == client else roles["address"][db]


def deploy_fake_provider(host_name):
    return pyinfra(
        "-y",
        "--json",
        "inventories/testbed.py",
        "tests/fakes/deploy_fake_provider.py",
        "--limit",
        host_name,
        timeout=600,
    )


@pytest.fixture(scope="session")
def fake_provider_url(roles):
    """The fake LLM provider, deployed on the edge host (a different host from LiteLLM in split),
    as LiteLLM reaches it over the network."""
    deployed = deploy_fake_provider(roles["edge"])
    assert deployed.returncode == 0, deployed.stderr[-2000:]
    return f"http://{roles['address'][roles['edge']]}:9999/v1"


def probe(source, address, port):
    """Open a TCP connection from a testbed host, or from the control machine (source None)."""
    command = f"timeout 5 bash -c '</dev/tcp/{address}/{port}' && echo open"
    if source is None:
        return run(["bash", "-c", command])
    return ssh(source, command)


def answering(probes) -> list[tuple]:
    """The (source, address, port) probes that connected, all probed at once: a dropped port
    costs its 5 s timeout once, not once per probe."""
    probes = list(probes)
    with ThreadPoolExecutor(max_workers=max(len(probes), 1)) as pool:
        results = list(pool.map(lambda p: probe(*p).stdout.strip() == "open", probes))
    return [p for p, connected in zip(probes, results, strict=True) if connected]


LITELLM_PORT, SAAS_API_PORT = 4000, 8003


def service_tunnel(roles, role: str, wait_ready: str, port: int):
    """An SSH tunnel to `role`'s first host's private address, once its wait-ready script says
    the service is ready (a data tier test may just have rebooted a host)."""
    name = roles[role]
    ready = ssh(name, wait_ready, timeout=400)
    assert ready.returncode == 0, ready.stdout + ready.stderr
    testbed_ssh = ["ssh", "-F", str(paths.SSH_CONFIG), "-o", "BatchMode=yes"]
    return ssh_tunnel(testbed_ssh, name, roles["address"][name], port)


@pytest.fixture(scope="session")
def litellm(first_deploy, roles):
    """LiteLLM on the first llm host, through an SSH tunnel, as an operator reaches it."""
    with service_tunnel(roles, "llm", "/opt/litellm/wait-ready", LITELLM_PORT) as url:
        yield url


@pytest.fixture(scope="session")
def admin(litellm):
    with httpx.Client(
        base_url=litellm,
        headers={"Authorization": f"Bearer {secret('litellm_master_key')}"},
        timeout=60,
    ) as client:
        yield client


@pytest.fixture(scope="session")
def saas_api(first_deploy, roles):
    """The SaaS API on the first api host, through an SSH tunnel."""
    with service_tunnel(roles, "api", "/opt/saas-api/wait-ready", SAAS_API_PORT) as url:
        yield url
