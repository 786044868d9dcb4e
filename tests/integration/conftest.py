"""Real parts for the bridge's integration tests: a throwaway PostgreSQL 15 (TLS, SCRAM) with
LiteLLM's schema migrated in, a venv with prisma-client-py 0.15.0 from the LiteLLM wheelhouse,
the client generated for LiteLLM's schema.prisma, and a long-lived process driving it. For tests
of LiteLLM's admin API: a real LiteLLM proxy configured as the deploy configures it, with a
throwaway Redis and the fake LLM provider (litellm_service.py)."""

from __future__ import annotations

import copy
import fcntl
import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENGINE = REPO / "engine"
QUERY_ENGINE = ENGINE / "bin" / "query-engine"
SCHEMA_ENGINE = ENGINE / "bin" / "schema-engine"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
HERE = Path(__file__).resolve().parent

sys.path.insert(0, str(REPO))
from bundle import artifacts  # noqa: E402
from bundle.platforms import local_target  # noqa: E402
from bundle.ssh_tunnel import free_port  # noqa: E402

from .litellm_service import (  # noqa: E402
    FakeProvider,
    LiteLLMProxy,
    RedisServer,
    bundled_engine_environment,
    client_marker,
    schema_dir,
)


def run(args, *, timeout=120, env=None, cwd=None, check=True, user=None, stdin=None):
    """Run a command with a bounded time; fail the test with its output if it fails."""
    argv = [str(a) for a in args]
    if user is not None:
        argv = ["runuser", "-u", user, "--", *argv]
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
        check=False,
        input=stdin,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(argv[:6])} … exited {result.returncode}\n"
            f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
        )
    return result


class Postgres:
    """A PostgreSQL 15 cluster in a temporary directory, on a free loopback port, TLS with a
    self-signed certificate, SCRAM passwords, remote (TCP) connections over TLS only."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.superuser_password = secrets.token_urlsafe(18)
        self.password = secrets.token_urlsafe(18)  # the litellm role's
        self.user = "litellm"
        self.database = "litellm"

    def pg_ctl(self, *args, timeout=60):
        return run(
            [PG_BIN / "pg_ctl", "-D", self.data, "-l", self.root / "server.log", *args],
            user="postgres",
            timeout=timeout + 10,
        )

    def init(self):
        shutil.chown(self.root, "postgres", "postgres")
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.superuser_password + "\n")
        shutil.chown(pwfile, "postgres", "postgres")
        pwfile.chmod(0o600)
        run(
            [
                PG_BIN / "initdb",
                "-D",
                self.data,
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
            user="postgres",
        )
        pwfile.unlink()
        run(
            [
                "openssl",
                "req",
                "-new",
                "-x509",
                "-days",
                "2",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-newkey",
                "rsa:2048",
                "-keyout",
                self.data / "server.key",
                "-out",
                self.data / "server.crt",
            ],
        )
        for name in ("server.key", "server.crt"):
            shutil.chown(self.data / name, "postgres", "postgres")
        (self.data / "server.key").chmod(0o600)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\nssl = on\n"
                f"unix_socket_directories = '{self.root}'\nfsync = off\n"
                "max_connections = 60\n"
            )
        (self.data / "pg_hba.conf").write_text(
            "local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\n"
        )

    def start(self):
        self.pg_ctl("-w", "-t", "60", "start")

    def stop(self, mode="fast"):
        self.pg_ctl("-w", "-t", "60", "-m", mode, "stop")

    def restart(self):
        self.pg_ctl("-w", "-t", "60", "-m", "fast", "restart")

    def url(self, **params) -> str:
        query = {"sslmode": "require", **params}
        encoded = "&".join(f"{k}={v}" for k, v in query.items())
        return (
            f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"
            f"?{encoded}"
        )

    def psql_env(self, superuser=False):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(
            PGHOST="127.0.0.1",
            PGPORT=str(self.port),
            PGSSLMODE="require",
            PGUSER="postgres" if superuser else self.user,
            PGPASSWORD=self.superuser_password if superuser else self.password,
            PGDATABASE="postgres" if superuser else self.database,
            PGCONNECT_TIMEOUT="10",
        )
        return env

    def psql(self, sql, *, superuser=False, timeout=60, **variables):
        """Run SQL with psql (the independent reader); return stdout, unaligned, tuples only.
        Values go in as psql variables (`:'name'` in the SQL), never into the SQL text."""
        assignments = [f"--set={name}={value}" for name, value in variables.items()]
        return run(
            ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", *assignments, "-f", "-"],
            env=self.psql_env(superuser),
            timeout=timeout,
            stdin=sql,
        ).stdout.strip()

    def rows(self, sql, **variables):
        """Rows of a query as dicts, read through psql as JSON."""
        wrapped = "SELECT coalesce(json_agg(_row), '[]'::json) FROM (" + sql + ") _row"  # noqa: S608
        return json.loads(self.psql(wrapped, **variables))


@pytest.fixture(scope="session")
def engine_ready():
    """The engine's npm dependencies must be installed (`npm ci --ignore-scripts` in engine/)."""
    missing = [
        name
        for name in ("@prisma/query-engine-wasm", "@prisma/adapter-pg", "pg", "prisma")
        if not (ENGINE / "node_modules" / name / "package.json").exists()
    ]
    if missing:
        pytest.fail(
            f"engine/node_modules lacks {', '.join(missing)}: run `npm ci --ignore-scripts` in "
            f"{ENGINE}"
        )
    return ENGINE


@pytest.fixture(scope="session")
def work_dir():
    path = Path(tempfile.mkdtemp(prefix="bridge-it-"))
    path.chmod(0o711)  # the postgres user reaches its cluster directory inside
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def litellm_files(work_dir):
    """LiteLLM's schema.prisma and migrations, from the wheels the bundle ships."""
    wheelhouse = artifacts.wheelhouse("litellm", None, local_target())
    target = work_dir / "litellm"
    (litellm_wheel,) = wheelhouse.glob("litellm-[0-9]*.whl")
    (extras_wheel,) = wheelhouse.glob("litellm_proxy_extras-[0-9]*.whl")
    with zipfile.ZipFile(litellm_wheel) as wheel:
        wheel.extract("litellm/proxy/schema.prisma", target)
    with zipfile.ZipFile(extras_wheel) as wheel:
        for name in wheel.namelist():
            if name.startswith("litellm_proxy_extras/migrations/"):
                wheel.extract(name, target)
    return {
        "wheelhouse": wheelhouse,
        "schema": target / "litellm" / "proxy" / "schema.prisma",
        "migrations": target / "litellm_proxy_extras" / "migrations",
    }


@pytest.fixture(scope="session")
def postgres(work_dir):
    root = work_dir / "pg"
    root.mkdir()
    cluster = Postgres(root)
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        run(
            [PG_BIN / "pg_ctl", "-D", cluster.data, "-w", "-t", "60", "-m", "immediate", "stop"],
            user="postgres",
            timeout=70,
            check=False,
        )


@pytest.fixture(scope="session")
def wheel_venv(litellm_files):
    """A venv from the bundle's wheelhouse (cached) with what the engine's Python side needs:
    prisma-client-py, and psycopg plus LiteLLM's migrations for engine/migrate.py."""
    wheelhouse = litellm_files["wheelhouse"]
    venv = artifacts.cache_dir() / "integration" / f"engine-venv-{wheelhouse.name}"
    venv.parent.mkdir(parents=True, exist_ok=True)
    lock = (venv.parent / f"{venv.name}.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)  # released when the session ends
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        run([sys.executable, "-m", "venv", venv], timeout=120)
        run(
            [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-index"]
            + ["--find-links", wheelhouse, "prisma==0.15.0", "psycopg[binary]"]
            + ["litellm-proxy-extras==0.4.110"],
            timeout=300,
        )
        (venv / ".complete").write_text("")
    yield venv
    lock.close()


def run_migrations(venv: Path, postgres, env_file: Path, *, check=True):
    """engine/migrate.py, as the deploy runs it: the URL and password from a root-only file."""
    env_file.write_text(
        f"DATABASE_URL=postgresql://{postgres.user}@127.0.0.1:{postgres.port}/"
        f"{postgres.database}?sslmode=require&connection_limit=5\n"
        f"PGPASSWORD={postgres.password}\n"
    )
    env_file.chmod(0o600)
    return run(
        [venv / "bin" / "python", ENGINE / "migrate.py", "--env-file", env_file],
        env={k: v for k, v in os.environ.items() if not k.startswith("PG")},
        timeout=300,
        check=check,
    )


@pytest.fixture(scope="session")
def litellm_role(postgres):
    """The `litellm` login role (its password is postgres.password)."""
    # the password travels on psql's stdin, not its command line
    postgres.psql(
        f"\\set pw '{postgres.password}'\nCREATE ROLE litellm LOGIN PASSWORD :'pw';",
        superuser=True,
    )
    return postgres


@pytest.fixture(scope="session")
def litellm_db(litellm_role, wheel_venv, work_dir):
    """The `litellm` role and database, with LiteLLM's schema built by our migration runner."""
    postgres = litellm_role
    postgres.psql("CREATE DATABASE litellm OWNER litellm", superuser=True)
    started = time.monotonic()
    postgres.first_migration = run_migrations(wheel_venv, postgres, work_dir / "litellm.env")
    postgres.migrate_seconds = time.monotonic() - started
    return postgres


def prisma_env(venv: Path, home: Path) -> dict[str, str]:
    """What `prisma generate` needs so nothing is downloaded (the hosts use the same)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRISMA", "DATABASE_URL"))}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(home),
        PRISMA_BINARY_CACHE_DIR=str(ENGINE),
        PRISMA_QUERY_ENGINE_BINARY=str(QUERY_ENGINE),
        PRISMA_SCHEMA_ENGINE_BINARY=str(SCHEMA_ENGINE),
        PRISMA_USE_GLOBAL_NODE="1",
        PRISMA_HIDE_UPDATE_MESSAGE="1",
        CHECKPOINT_DISABLE="1",
    )
    return env


@pytest.fixture(scope="session")
def prisma_venv(engine_ready, wheel_venv, litellm_files, work_dir):
    """prisma-client-py 0.15.0 from the wheelhouse, with the client generated for LiteLLM's
    schema in this session."""
    venv = wheel_venv
    home = work_dir / "generate-home"
    home.mkdir()
    schema_copy = work_dir / "schema" / "schema.prisma"
    schema_copy.parent.mkdir()
    shutil.copy(litellm_files["schema"], schema_copy)
    started = time.monotonic()
    result = run(
        [venv / "bin" / "python", "-m", "prisma", "generate", "--schema", schema_copy],
        env=prisma_env(venv, home),
        cwd=schema_copy.parent,
        timeout=300,
    )
    yield {
        "venv": venv,
        "python": venv / "bin" / "python",
        "home": home,
        "generate_output": result.stdout + result.stderr,
        "generate_seconds": time.monotonic() - started,
    }


class Driver:
    """The client driver process: one JSON command in, one JSON answer out, with a deadline."""

    def __init__(self, python: Path, env: dict[str, str], log_path: Path):
        self.log_path = log_path
        self.log = log_path.open("ab")
        self.process = subprocess.Popen(
            [str(python), str(HERE / "client_driver.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
            cwd=str(log_path.parent),
        )
        self.answers: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.answers.put(json.loads(line))
        self.answers.put(None)

    def call(self, scenario, timeout=60, **args):
        """Run a scenario; return {"ok", "result"} or {"ok": False, "error", "message"}."""
        self.process.stdin.write((json.dumps({"scenario": scenario, "args": args}) + "\n").encode())
        self.process.stdin.flush()
        try:
            answer = self.answers.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            pytest.fail(
                f"client driver: {scenario} did not answer within {timeout}s\n{self.tail()}"
            )
        if answer is None:
            pytest.fail(f"client driver exited during {scenario}\n{self.tail()}")
        return answer

    def ok(self, scenario, timeout=60, **args):
        answer = self.call(scenario, timeout=timeout, **args)
        if not answer["ok"]:
            pytest.fail(
                f"{scenario} failed: {answer['error']}: {answer['message']}\n"
                f"{answer.get('traceback', '')}\n{self.tail()}"
            )
        return answer["result"]

    def tail(self, size=4000):
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-size:]

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def client_env(venv: Path, url: str) -> dict[str, str]:
    """The environment LiteLLM's process gives prisma-client-py with the bridge."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PRISMA", "DATABASE_URL", "PG"))
    }
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        DATABASE_URL=url,
        PRISMA_QUERY_ENGINE_BINARY=str(QUERY_ENGINE),
    )
    return env


@pytest.fixture(scope="session")
def driver_factory(prisma_venv, litellm_db, work_dir):
    started = []

    def start(url=None, name="driver"):
        driver = Driver(
            prisma_venv["python"],
            client_env(prisma_venv["venv"], url or litellm_db.url()),
            work_dir / f"{name}-{len(started)}.log",
        )
        started.append(driver)
        return driver

    yield start
    for driver in started:
        driver.close()


@pytest.fixture(scope="session")
def client(driver_factory):
    """A driver with a connected client, shared by the session's query tests."""
    driver = driver_factory(name="client")
    driver.ok("connect", timeout=120, timeout_s=60)
    return driver


@pytest.fixture(scope="session")
def litellm_venv(engine_ready, litellm_files):
    """The whole LiteLLM venv, installed as hosts install it (`--no-index --require-hashes` from
    the wheelhouse and bundle/requirements/litellm.lock; cached per lock), with LiteLLM's Prisma
    client generated as the deploy generates it, against this checkout's engine/."""
    wheelhouse = litellm_files["wheelhouse"]
    venv = artifacts.cache_dir() / "integration" / f"litellm-venv-{wheelhouse.name}"
    venv.parent.mkdir(parents=True, exist_ok=True)
    lock = (venv.parent / f"{venv.name}.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)  # released when the session ends
    if not (venv / ".complete").exists():
        started = time.monotonic()
        shutil.rmtree(venv, ignore_errors=True)
        run([sys.executable, "-m", "venv", venv], timeout=120)
        run(
            [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-index"]
            + ["--find-links", wheelhouse, "--require-hashes"]
            + ["-r", artifacts.lock_path("litellm")],
            timeout=600,
        )
        (venv / ".complete").write_text(f"installed in {time.monotonic() - started:.1f} s\n")
    marker = venv / ".prisma-generated"
    if not marker.exists() or marker.read_text() != client_marker(ENGINE):
        marker.unlink(missing_ok=True)
        home = venv / ".generate-home"
        home.mkdir(exist_ok=True)
        # as prisma_generate_command("bundled"): in LiteLLM's proxy directory, its schema
        run(
            [venv / "bin" / "prisma", "generate", "--schema", "schema.prisma"],
            env=prisma_env(venv, home) | bundled_engine_environment(ENGINE),
            cwd=schema_dir(venv),
            timeout=300,
        )
        marker.write_text(client_marker(ENGINE))
    yield venv
    lock.close()


@pytest.fixture(scope="session")
def redis_server(work_dir):
    """A throwaway Redis on loopback behind the production ACL (user `litellm`)."""
    server = RedisServer(work_dir / "redis")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fake_provider(work_dir):
    """The fake LLM provider on loopback, requiring its API key."""
    provider = FakeProvider(work_dir / "fake-provider")
    try:
        provider.start()
        yield provider
    finally:
        provider.stop()


@pytest.fixture(scope="session")
def litellm_proxy_db(litellm_role, wheel_venv, work_dir):
    """The proxy's own LiteLLM database on the session's cluster: owned by the `litellm` role,
    migrated by engine/migrate.py like litellm_db. A running LiteLLM writes on its own (views at
    start, config, heartbeats, spend); the bridge tests' database stays free of that. Its
    psql()/rows() read this database."""
    database = copy.copy(litellm_role)
    database.database = "litellm_proxy"
    litellm_role.psql("CREATE DATABASE litellm_proxy OWNER litellm", superuser=True)
    started = time.monotonic()
    database.first_migration = run_migrations(wheel_venv, database, work_dir / "proxy-db.env")
    database.migrate_seconds = time.monotonic() - started
    return database


@pytest.fixture(scope="session")
def litellm_proxy(litellm_venv, litellm_proxy_db, redis_server, fake_provider, work_dir):
    """A real LiteLLM proxy on loopback, configured and started as the deploy does (one
    worker), ready with its database connected. Offers base_url, master_key, provider_url,
    provider_api_key, database (psql/rows on its database), add_model(), admin(), restart(),
    log_tail(), redact(). Stopped at the end."""
    proxy = LiteLLMProxy(
        venv=litellm_venv,
        root=work_dir / "litellm-proxy",
        database=litellm_proxy_db,
        redis=redis_server,
        provider=fake_provider,
        engine=ENGINE,
    )
    try:
        proxy.start()
        yield proxy
    finally:
        proxy.stop()
