"""The SaaS API under test: its own `saas` database on the session's PostgreSQL (migrated by
`saas-api-migrate`, as the deploy does), talking to the real LiteLLM proxy on loopback. The app
runs in-process (Starlette's TestClient) so tests can inject failures between its steps; every
assertion about state reads it back with raw clients: psql for the database, httpx for LiteLLM."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import uuid

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from saas_api.main import create_app
from saas_api.settings import Settings

from ..conftest import REPO, run

SAAS_SRC = REPO / "saas_api" / "src"


class SaasDatabase:
    def __init__(self, postgres):
        self.postgres = postgres
        self.password = secrets.token_urlsafe(18)
        self.url = f"postgresql://saas@127.0.0.1:{postgres.port}/saas?sslmode=require"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        return env | {"DATABASE_URL": self.url, "PGPASSWORD": self.password}

    def migrate(self, *args: str) -> subprocess.CompletedProcess:
        """saas-api-migrate as the deploy runs it: a separate process, the URL and password
        from its environment."""
        env = self.env() | {"PYTHONPATH": str(SAAS_SRC)}
        return run([sys.executable, "-m", "saas_api.migrate", *args], env=env, timeout=120)

    def rows(self, sql: str, **variables) -> list[dict]:
        """Rows as dicts, read with psql (the independent reader) as the saas role."""
        wrapped = "SELECT coalesce(json_agg(_row), '[]'::json) FROM (" + sql + ") _row"  # noqa: S608
        return json.loads(self.execute(wrapped, **variables).strip())

    def execute(self, sql: str, **variables) -> str:
        """A statement run by psql as the saas role (tests set up state with it); its output."""
        env = self.postgres.psql_env() | {
            "PGUSER": "saas",
            "PGPASSWORD": self.password,
            "PGDATABASE": "saas",
        }
        assignments = [f"--set={name}={value}" for name, value in variables.items()]
        result = run(
            ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", *assignments, "-f", "-"],
            env=env,
            stdin=sql,
        )
        return result.stdout


@pytest.fixture(scope="session")
def saas_db(postgres):
    database = SaasDatabase(postgres)
    postgres.psql(
        f"\\set pw '{database.password}'\nCREATE ROLE saas LOGIN PASSWORD :'pw';",
        superuser=True,
    )
    postgres.psql("CREATE DATABASE saas OWNER saas", superuser=True)
    database.first_pending = database.migrate("--pending").stdout.strip()
    database.first_migration = database.migrate().stdout
    return database


@pytest.fixture(scope="session")
def saas_settings(saas_db, litellm_proxy) -> Settings:
    return Settings(
        database_url=saas_db.url,
        master_key=secrets.token_urlsafe(32),
        litellm_proxy_url=litellm_proxy.base_url,
        litellm_master_key=litellm_proxy.master_key,
        key_encryption_secret=Fernet.generate_key().decode(),
        default_model_group=None,
        max_body_bytes=16 * 1024,
    )


@pytest.fixture(scope="session")
def saas_app(saas_db, saas_settings):
    """The app with its lifespan running; PGPASSWORD for its libpq connections."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PGPASSWORD", saas_db.password)
        app = create_app(saas_settings)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client


class Masked(str):
    """A key that shows as `sk-…` in pytest's failure explanations (never the value)."""

    def __repr__(self) -> str:
        return "'sk-…'"


def masked(body):
    """A SaaS API answer with its virtual keys masked for test output."""
    if isinstance(body, list):
        return [masked(item) for item in body]
    if isinstance(body, dict):
        return {
            k: Masked(v) if k == "virtual_key" and isinstance(v, str) else masked(v)
            for k, v in body.items()
        }
    return body


class Api:
    """Calls to the SaaS API with the admin key (or none, or another)."""

    def __init__(self, client: TestClient, settings: Settings):
        self.client = client
        self.admin_key = settings.master_key.get_secret_value()

    def request(self, method: str, path: str, *, admin: bool = True, headers=None, **kwargs):
        headers = dict(headers or {})
        if admin:
            headers["X-Admin-Key"] = self.admin_key
        return self.client.request(method, path, headers=headers, **kwargs)

    def ok(self, method: str, path: str, expect=(200, 201), **kwargs) -> dict:
        answer = self.request(method, path, **kwargs)
        assert answer.status_code in expect, f"{method} {path}: {answer.status_code}"
        return masked(answer.json())


@pytest.fixture(scope="session")
def api(saas_app, saas_settings) -> Api:
    return Api(saas_app, saas_settings)


@pytest.fixture(scope="session")
def models(litellm_proxy) -> list[str]:
    """Three LiteLLM models routed to the fake provider, for the groups under test."""
    names = [f"it-model-{n}-{uuid.uuid4().hex[:6]}" for n in ("a", "b", "c")]
    for name in names:
        litellm_proxy.add_model(name)
    return names


@pytest.fixture
def unique():
    """A fresh name per test: tests never depend on each other's leftovers."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}"


class LiteLLMReader:
    """LiteLLM's state read back with the master key, bypassing the SaaS API."""

    def __init__(self, proxy):
        self.proxy = proxy

    def get(self, path: str, **params) -> httpx.Response:
        with self.proxy.admin() as client:
            return client.get(path, params=params)

    def team(self, team_id: str) -> dict | None:
        answer = self.get("/team/info", team_id=team_id)
        return None if answer.status_code == 404 else answer.json()

    def keys_of_team(self, team_id: str) -> list[str]:
        """Key hashes LiteLLM holds for the team (its /key/list)."""
        answer = self.get("/key/list", team_id=team_id, size=100)
        assert answer.status_code == 200, answer.text[:300]
        return answer.json()["keys"]

    def complete(self, key: str, model: str, content: str = "hello there") -> httpx.Response:
        return httpx.post(
            f"{self.proxy.base_url}/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": model, "messages": [{"role": "user", "content": content}]},
            timeout=60,
        )


@pytest.fixture(scope="session")
def litellm(litellm_proxy) -> LiteLLMReader:
    return LiteLLMReader(litellm_proxy)


@pytest.fixture(scope="session")
def saas_api_server(saas_db, saas_settings, work_dir):
    """The SaaS API as a real server process (uvicorn, one worker) on loopback, for clients
    that speak HTTP (provisioning): configured only by its environment, like the service."""
    from bundle.ssh_tunnel import free_port

    from ..litellm_service import Service, poll

    port = free_port()
    env = saas_db.env() | {
        "PYTHONPATH": str(SAAS_SRC),
        "MASTER_KEY": saas_settings.master_key.get_secret_value(),
        "LITELLM_PROXY_URL": str(saas_settings.litellm_proxy_url),
        "LITELLM_MASTER_KEY": saas_settings.litellm_master_key.get_secret_value(),
        "KEY_ENCRYPTION_SECRET": saas_settings.key_encryption_secret.get_secret_value(),
    }
    server = Service(
        "saas-api",
        [sys.executable, "-m", "uvicorn", "--factory", "saas_api.main:create_app"]
        + ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
        env=env,
        cwd=work_dir,
        log=work_dir / "saas-api.log",
    )
    server.secrets += [env["MASTER_KEY"], env["LITELLM_MASTER_KEY"], env["PGPASSWORD"]]
    server.start()
    url = f"http://127.0.0.1:{port}"

    def ready():
        try:
            return httpx.get(f"{url}/health/ready", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    try:
        poll(ready, timeout=60, what="the SaaS API ready", alive=server.alive, tail=server.log_tail)
        yield url
    finally:
        server.stop()


# the admin panel ------------------------------------------------------------------------------


def admin_settings(saas_settings: Settings, **overrides):
    from saas_api.admin.settings import AdminSettings

    return AdminSettings(
        **{
            name: getattr(saas_settings, name)
            for name in Settings.model_fields
            if name not in overrides
        },
        **overrides,
    )


@contextlib.contextmanager
def admin_client(saas_db, settings):
    """The panel in-process; https so the browser-only (Secure) cookies go back and forth."""
    from saas_api.admin.app import create_app as create_admin_app

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PGPASSWORD", saas_db.password)
        app = create_admin_app(settings)
        with TestClient(
            app,
            base_url="https://admin.test",
            raise_server_exceptions=True,
            follow_redirects=False,
        ) as client:
            yield client


@pytest.fixture(scope="session")
def admin_app(saas_db, saas_settings):
    with admin_client(saas_db, admin_settings(saas_settings)) as client:
        yield client
