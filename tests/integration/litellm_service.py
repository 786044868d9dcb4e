"""A real LiteLLM proxy on loopback for integration tests, configured exactly as the deploy
configures it: the same templates (config.yaml, litellm.env, litellm.service) rendered with test
values, the unit's environment and command line with the hosts' paths moved to this session's,
the bundled Prisma engine from this checkout's engine/, a throwaway Redis behind the production
ACL, and the fake LLM provider.

Everything listens on 127.0.0.1, every wait has a deadline, every process runs in its own
process group and is stopped at the end (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bundle import artifacts, sizing
from bundle.platforms import local_target
from bundle.render import render
from bundle.ssh_tunnel import free_port
from provisioning.apply import LITELLM_MODEL_RELOAD_SECONDS
from tasks import litellm as litellm_task

REPO = Path(__file__).resolve().parents[2]
ENGINE = REPO / "engine"
FAKE_PROVIDER = REPO / "tests" / "fakes" / "fake_provider.py"
LOOPBACK = "127.0.0.1"
SITE_PACKAGES = Path(local_target().site_packages)

# engine/ is the Node engine's directory, not a Python package: its env-file reader (systemd's
# EnvironmentFile= rules) is loaded by path.
_spec = importlib.util.spec_from_file_location("engine_migrate", ENGINE / "migrate.py")
_migrate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_migrate)
read_env_file_text = _migrate.read_env_file_text


def relocate(value: str, moves: dict[str, Path]) -> str:
    """`value` with each host path in `moves` (a whole path component) replaced by this
    session's path, wherever it occurs (PATH lists several)."""
    for host_path, local in moves.items():
        pattern = re.escape(host_path) + r"(?=/|:|$)"
        value = re.sub(pattern, lambda _match, local=str(local): local, value)
    return value


def bundled_engine_environment(engine: Path = ENGINE) -> dict[str, str]:
    """prisma_environment("bundled") as the hosts get it, pointing at `engine` instead of
    /opt/litellm/engine."""
    return {
        name: relocate(value, {litellm_task.ENGINE: engine})
        for name, value in litellm_task.prisma_environment("bundled").items()
    }


def client_marker(engine: Path = ENGINE) -> str:
    """What the generated client depends on: the lock, the engine's files and its path (baked
    into the client). Like the deploy's .prisma-generated, plus the path."""
    return f"{artifacts.artifact_name('litellm')}+{artifacts.engine_name()}+bundled+{engine}\n"


def schema_dir(venv: Path) -> Path:
    return venv / SITE_PACKAGES / "litellm" / "proxy"


SECRET_TOKEN = re.compile(r"sk-[A-Za-z0-9_\-]{6,}")


def redact(text: str, known: list[str] = ()) -> str:
    """`text` without the given secrets and without anything shaped like an `sk-` key."""
    for secret in known:
        text = text.replace(secret, "***")
    return SECRET_TOKEN.sub("sk-***", text)


def poll(
    check: Callable[[], object],
    *,
    timeout: float,
    what: str,
    alive: Callable[[], bool] = lambda: True,
    tail: Callable[[], str] = lambda: "",
    interval: float = 0.5,
):
    """Call `check` until it returns something truthy; fail at `timeout` seconds, or at once
    when `alive()` turns false (the process being waited for exited)."""
    deadline, last = time.monotonic() + timeout, None
    while True:
        if not alive():
            pytest.fail(f"{what}: the process exited while waiting\n{tail()}")
        try:
            result = check()
        except (OSError, httpx.HTTPError, subprocess.SubprocessError) as exc:
            result, last = None, f"{type(exc).__name__}: {exc}"
        if result:
            return result
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not ready after {timeout:.0f} s (last: {last})\n{tail()}")
        time.sleep(interval)  # poll interval; the deadline above bounds the wait


class Service:
    """One child process in its own process group, its output appended to a log file."""

    def __init__(self, name: str, argv: list, *, env: dict[str, str], cwd: Path, log: Path):
        self.name, self.argv, self.env, self.cwd, self.log = name, argv, env, cwd, log
        self.process: subprocess.Popen | None = None
        self.secrets: list[str] = []  # redacted from log tails

    def start(self) -> None:
        with self.log.open("ab") as log:
            log.write(f"--- {self.name} starting\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [str(a) for a in self.argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # its own process group: children are stopped with it
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stop(self, grace: float = 20) -> int | None:
        """As systemd's KillMode=mixed stops a unit: SIGTERM to the main process (which stops its
        own children: LiteLLM still needs its engine bridge to flush spend on the way out), SIGKILL
        to the group after `grace` seconds or once the main process is gone; the exit status."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError):  # children that outlived the leader
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        return process.returncode

    def kill(self) -> None:
        """SIGKILL to the whole process group, no SIGTERM first."""
        if self.process is None:
            return
        process, self.process = self.process, None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def log_tail(self, size: int = 4000) -> str:
        if not self.log.exists():
            return f"({self.name}: no log yet)"
        text = redact(self.log.read_text(errors="replace")[-size:], self.secrets)
        return f"--- end of {self.log}:\n{text}"


class RedisServer:
    """Debian's redis-server on a free loopback port: the production ACL file (default user
    off, user `litellm` by the SHA-256 of its password), protected mode, no persistence."""

    username = "litellm"

    def __init__(self, root: Path):
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is missing: run `make system-deps` (Debian's redis-server)")
        self.root = root
        root.mkdir(mode=0o700)
        self.host, self.port = LOOPBACK, free_port()
        self.password = secrets.token_urlsafe(24)
        acl = root / "users.acl"
        acl.write_text(
            render(
                "redis/users.acl.j2",
                litellm_password_sha256=hashlib.sha256(self.password.encode()).hexdigest(),
            )
        )
        acl.chmod(0o600)
        conf = root / "redis.conf"
        conf.write_text(
            f"bind {LOOPBACK}\nprotected-mode yes\nport {self.port}\ndaemonize no\n"
            f'logfile ""\ndir {root}\naclfile {acl}\n'
            # no persistence: a throwaway instance
            'save ""\nappendonly no\n'
            "maxmemory 128mb\nmaxmemory-policy volatile-lru\n"
        )
        self.service = Service(
            "redis-server",
            [binary, conf],
            env={"PATH": "/usr/bin:/bin"},
            cwd=root,
            log=root / "redis.log",
        )
        self.service.secrets.append(self.password)

    def cli(self, *args: str, authenticated: bool = True, timeout: float = 10) -> str:
        """redis-cli against this server, the password passed in the environment."""
        env = {"PATH": "/usr/bin:/bin"}
        argv = ["redis-cli", "-h", self.host, "-p", str(self.port), "--no-auth-warning"]
        if authenticated:
            argv += ["--user", self.username]
            env["REDISCLI_AUTH"] = self.password
        result = subprocess.run(
            [*argv, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
        return (result.stdout + result.stderr).strip()

    def start(self, timeout: float = 30) -> None:
        self.service.start()
        poll(
            lambda: self.cli("PING") == "PONG",
            timeout=timeout,
            what="redis-server",
            alive=self.service.alive,
            tail=self.service.log_tail,
        )

    def stop(self) -> None:
        self.service.stop()


class FakeProvider:
    """tests/fakes/fake_provider.py on a free loopback port, requiring its own API key."""

    def __init__(self, root: Path):
        root.mkdir(mode=0o700)
        self.port = free_port()
        self.api_key = "sk-fake-" + secrets.token_hex(16)
        self.url = f"http://{LOOPBACK}:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_PROVIDER")}
        env["FAKE_PROVIDER_API_KEY"] = self.api_key
        self.service = Service(
            "fake-provider",
            [sys.executable, FAKE_PROVIDER, "--host", LOOPBACK, "--port", str(self.port)],
            env=env,
            cwd=root,
            log=root / "fake-provider.log",
        )
        self.service.secrets.append(self.api_key)

    def start(self, timeout: float = 30) -> None:
        self.service.start()
        poll(
            lambda: httpx.get(f"{self.url}/health", timeout=2).status_code == 200,
            timeout=timeout,
            what="fake provider",
            alive=self.service.alive,
            tail=self.service.log_tail,
        )

    def stop(self) -> None:
        self.service.stop()


class LiteLLMProxy:
    """LiteLLM as the deploy runs it, on a free loopback port with one worker.

    The deploy's templates are rendered with this session's values; the rendered unit's
    EnvironmentFile=, Environment=, WorkingDirectory= and ExecStart= are followed with the hosts'
    paths (/opt/litellm/venv, /opt/litellm/engine, /etc/litellm, /var/lib/litellm) moved to the
    test venv, this checkout's engine/ and directories under `root`. `database` is the
    PostgreSQL object the proxy's DATABASE_URL and PGPASSWORD come from (its psql() and rows()
    read the proxy's database back)."""

    def __init__(
        self,
        *,
        venv: Path,
        root: Path,
        database,
        redis: RedisServer,
        provider: FakeProvider,
        engine: Path = ENGINE,
        ready_timeout: float = 240,
    ):
        self.venv, self.root, self.redis, self.provider = venv, root, redis, provider
        self.database = database
        self.ready_timeout = ready_timeout
        root.mkdir(mode=0o700)
        etc, home = root / "etc", root / "home"
        etc.mkdir(mode=0o700)
        home.mkdir(mode=0o700)
        self.port = free_port()
        self.base_url = f"http://{LOOPBACK}:{self.port}"
        self.master_key = "sk-" + secrets.token_urlsafe(24)
        self.salt_key = "sk-" + secrets.token_urlsafe(24)
        self.provider_url = provider.url
        self.provider_api_key = provider.api_key
        self._credential: str | None = None
        self.start_seconds: list[float] = []

        (etc / "config.yaml").write_text(
            render(
                "litellm/config.yaml.j2",
                pool_limit=sizing.litellm_pool_limit({"litellm_workers": 1}, 1),
                spend_write_interval=litellm_task.DEFAULTS["litellm_spend_write_interval"],
                request_timeout=litellm_task.DEFAULTS["litellm_request_timeout"],
                bundled_engine=True,
                model_reload_interval=LITELLM_MODEL_RELOAD_SECONDS,
            )
        )
        (etc / "spend_flush.py").write_text(
            render(
                "litellm/spend_flush.py.j2",
                spacing_seconds=litellm_task.DEFAULTS["litellm_spend_flush_seconds"],
            )
        )
        env_file = etc / "litellm.env"
        env_file.write_text(
            render(
                "litellm/litellm.env.j2",
                master_key=self.master_key,
                salt_key=self.salt_key,
                # the test cluster accepts TCP over TLS only (as remote peers do in production)
                database_url=(
                    f"postgresql://{database.user}@{LOOPBACK}:{database.port}/"
                    f"{database.database}?sslmode=require"
                ),
                database_password=database.password,
                redis_host=redis.host,
                redis_port=redis.port,
                redis_password=redis.password,
            )
        )
        env_file.chmod(0o600)
        # The instance litellm@<port>: systemd puts the instance name where the unit says %i.
        unit = render(
            "litellm/litellm@.service.j2",
            listen_address=LOOPBACK,
            workers=1,
            environment=litellm_task.OFFLINE_ENV | litellm_task.prisma_environment("bundled"),
        ).replace("%i", str(self.port))
        (etc / f"litellm@{self.port}.service").write_text(unit)
        moves = {
            litellm_task.VENV: venv,
            litellm_task.ENGINE: engine,
            litellm_task.ETC: etc,
            "/var/lib/litellm": home,
        }
        env, argv, cwd = self.unit_command(unit, moves)
        self.environment = env
        self.service = Service("litellm", argv, env=env, cwd=cwd, log=root / "litellm.log")
        self.service.secrets += [
            self.master_key,
            self.salt_key,
            database.password,
            redis.password,
            provider.api_key,
        ]

    @staticmethod
    def unit_command(unit: str, moves: dict[str, Path]):
        """(environment, argv, working directory) of the rendered unit, as systemd would start
        it (Environment= first, EnvironmentFile= overriding), with the hosts' paths moved."""
        env: dict[str, str] = {}
        env_files, argv, cwd = [], None, None
        for line in unit.splitlines():
            key, _, value = line.partition("=")
            if key == "Environment":
                name, _, setting = value.partition("=")
                env[name] = relocate(setting, moves)
            elif key == "EnvironmentFile":
                env_files.append(Path(relocate(value, moves)))
            elif key == "WorkingDirectory":
                cwd = Path(relocate(value, moves))
            elif key == "ExecStart":
                argv = [relocate(arg, moves) for arg in shlex.split(value)]
        for env_file in env_files:
            env |= read_env_file_text(env_file.read_text())
        left = [
            text
            for text in [*env.values(), *(argv or []), str(cwd)]
            if any(host_path in text for host_path in moves)
        ]
        assert not left, f"host paths left in the unit after moving: {left}"
        assert argv and cwd, "the unit has no ExecStart= or WorkingDirectory="
        return env, argv, cwd

    # process ------------------------------------------------------------------------------

    def start(self) -> float:
        """Start and wait until readiness reports the database connected; the seconds taken."""
        started = time.monotonic()
        self.service.start()
        poll(
            self._ready,
            timeout=self.ready_timeout,
            what="LiteLLM /health/readiness with the database connected",
            alive=self.service.alive,
            tail=self.log_tail,
            interval=1,
        )
        self.start_seconds.append(time.monotonic() - started)
        with self.service.log.open("a") as log:
            log.write(f"--- litellm ready after {self.start_seconds[-1]:.1f} s\n")
        return self.start_seconds[-1]

    def _ready(self) -> bool:
        answer = httpx.get(f"{self.base_url}/health/readiness", timeout=5)
        return answer.status_code == 200 and answer.json().get("db") == "connected"

    def stop(self) -> int | None:
        return self.service.stop(grace=20)

    def restart(self) -> float:
        self.stop()
        return self.start()

    def crash(self) -> None:
        """SIGKILL to every process of the proxy at once, as the OOM killer or a host crash
        would end them: no shutdown hook runs."""
        self.service.kill()

    def log_tail(self, size: int = 6000) -> str:
        return self.service.log_tail(size)

    def redact(self, text: str) -> str:
        """`text` safe for test output: no secret of this stack, no `sk-` key."""
        return redact(text, self.service.secrets)

    # admin API ----------------------------------------------------------------------------

    def admin(self, timeout: float = 60) -> httpx.Client:
        """An httpx client authenticated with the master key (close it, or use `with`)."""
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.master_key}"},
            timeout=timeout,
        )

    def _post(self, path: str, body: dict) -> dict:
        with self.admin() as client:
            answer = client.post(path, json=body)
        if answer.status_code != 200:
            text = self.redact(answer.text[:800])
            pytest.fail(f"POST {path}: {answer.status_code} {text}\n{self.log_tail(2000)}")
        return answer.json()

    def provider_credential(self) -> str:
        """The fake provider's API key as a LiteLLM credential (created once per proxy)."""
        if self._credential is None:
            name = f"fake-provider-{uuid.uuid4().hex[:8]}"
            self._post(
                "/credentials",
                {
                    "credential_name": name,
                    "credential_values": {"api_key": self.provider_api_key},
                    "credential_info": {"custom_llm_provider": "openai"},
                },
            )
            self._credential = name
        return self._credential

    def add_model(self, model_name: str, provider_model: str = "openai/gpt-3.5-turbo") -> dict:
        """Register `model_name` (stored in the database) routed to the fake provider through
        the shared credential; returns /model/new's answer. `model_info.id` is
        `<model_name>-<random>`: LiteLLM does not make model names unique."""
        return self._post(
            "/model/new",
            {
                "model_name": model_name,
                "litellm_params": {
                    "model": provider_model,
                    "api_base": f"{self.provider_url}/v1",
                    "litellm_credential_name": self.provider_credential(),
                },
                "model_info": {"id": f"{model_name}-{uuid.uuid4().hex[:8]}"},
            },
        )
