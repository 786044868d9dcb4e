"""Every file the dev stack reads, rendered from the deploy's own templates with the deploy's own
settings and secrets (the `dev` secret store), plus the compose file itself.

Files without secrets go to compose/rendered/ (git-ignored, mounted read-only); files with
secrets are returned for the secrets volume (compose/stack.py), each owned by the one service
user that reads it, mode 0600. The compose file carries no secret: each service's label
`org.gateway-bundle.inputs` is a digest of what it reads, so Compose recreates exactly the
services whose inputs changed and leaves the others running."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from pathlib import Path

from bundle import scram, sizing
from bundle.render import render
from compose.images import USERS, postgres_version
from provisioning.apply import LITELLM_MODEL_RELOAD_SECONDS
from tasks.litellm import DEFAULTS as LITELLM_DEFAULTS
from tasks.postgres import CLIENTS
from tasks.saas_api import DEFAULTS as SAAS_API_DEFAULTS

COMPOSE_DIR = Path(__file__).resolve().parent
REPO_ROOT = COMPOSE_DIR.parent
RENDERED = COMPOSE_DIR / "rendered"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
SECRETS_MOUNT = "/run/gateway/secrets"
LITELLM_PORT = LITELLM_DEFAULTS["litellm_port"]
SAAS_API_PORT = SAAS_API_DEFAULTS["saas_api_port"]
FAKE_PROVIDER_PORT = 9999
# One process per container, as on the hosts' small instances; pools sized like theirs.
LITELLM_CLIENT = {"litellm_workers": 1}
SAAS_API_CLIENT = {"saas_api_workers": 1}


@dataclass
class SecretFile:
    content: str
    owner: int
    mode: int = 0o600


@dataclass
class Rendered:
    compose: str
    files: dict[str, str] = field(default_factory=dict)  # path under compose/rendered/
    secret_files: dict[str, SecretFile] = field(default_factory=dict)


def dev_verifier(password: str) -> str:
    """A SCRAM verifier whose salt is derived from the password: the same secret always renders
    the same file, so an unchanged store recreates no container."""
    salt = hmac.new(password.encode(), b"gateway-dev postgres salt", hashlib.sha256).digest()[:16]
    return scram.verifier(password, salt=salt)


def roles_sql(secrets: dict[str, str]) -> str:
    """tasks/postgres.py's roles and databases, as idempotent SQL for psql."""
    # Names are tasks/postgres.py's constants and the verifier is ours: no outside input here.
    lines = ["-- Rendered by make dev (compose/render.py): roles as in tasks/postgres.py."]
    for role, database, _, secret in CLIENTS:
        role_missing = f"NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}')"
        database_missing = f"NOT EXISTS (SELECT FROM pg_database WHERE datname = '{database}')"
        lines += [
            f"SELECT 'CREATE ROLE {role}' WHERE {role_missing}\\gexec",
            f"ALTER ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
            f"PASSWORD '{dev_verifier(secrets[secret])}';",
            f"SELECT 'CREATE DATABASE {database} OWNER {role}' WHERE {database_missing}\\gexec",
            f"ALTER DATABASE {database} OWNER TO {role};",
            f"REVOKE CONNECT ON DATABASE {database} FROM PUBLIC;",
        ]
    return "\n".join(lines) + "\n"


def render_stack(settings, tags: dict[str, str], secrets: dict[str, str], source: Path) -> Rendered:
    suite = settings["dev_suite"]
    version = postgres_version(suite)
    rendered = Rendered(compose="")
    clients = sizing.client_connections([LITELLM_CLIENT], [SAAS_API_CLIENT])
    data = "/var/lib/postgresql/data"
    rendered.files["postgres/50-gateway.conf"] = (
        render(
            "postgres/50-gateway.conf.j2",
            listen_addresses=["*"],
            memory_mb=settings["dev_postgres_memory_mb"],
            client_connections=clients,
            ssl_cert_file=f"{data}/tls/server.crt",
            ssl_key_file=f"{data}/tls/server.key",
            **sizing.postgres_settings(settings["dev_postgres_memory_mb"], clients),
        )
        + "unix_socket_directories = '/run/postgresql'\n"
    )
    # Remote peers over TLS only, as on the hosts: here every peer is on the compose network.
    rendered.files["postgres/pg_hba.conf"] = render(
        "postgres/pg_hba.conf.j2",
        rules=[
            {"type": "hostssl", "database": database, "role": role, "address": "samenet"}
            for role, database, _, _ in CLIENTS
        ],
    )
    rendered.files["redis/redis.conf"] = render(
        "redis/redis.conf.j2",
        # Inside the container's own network namespace: only the compose network reaches it.
        bind=["0.0.0.0"],  # noqa: S104
        memory_mb=settings["dev_redis_maxmemory_mb"] * 4,
        shares_host=False,
        maxmemory_mb=settings["dev_redis_maxmemory_mb"],
        supervised="no",
        pidfile=None,
        aclfile=f"{SECRETS_MOUNT}/users.acl",
    )
    rendered.files["litellm/config.yaml"] = render(
        "litellm/config.yaml.j2",
        pool_limit=sizing.litellm_pool_limit(LITELLM_CLIENT, 1),
        spend_write_interval=settings["litellm_spend_write_interval"],
        request_timeout=settings["litellm_request_timeout"],
        bundled_engine=True,
        model_reload_interval=LITELLM_MODEL_RELOAD_SECONDS,
    )
    rendered.secret_files = {
        "postgres-roles.sql": SecretFile(roles_sql(secrets), USERS["postgres"].uid),
        "users.acl": SecretFile(
            render(
                "redis/users.acl.j2",
                litellm_password_sha256=hashlib.sha256(
                    secrets["redis_litellm_password"].encode()
                ).hexdigest(),
            ),
            USERS["redis"].uid,
        ),
        "litellm.env": SecretFile(
            render(
                "litellm/litellm.env.j2",
                master_key=secrets["litellm_master_key"],
                salt_key=secrets["litellm_salt_key"],
                database_url="postgresql://litellm@postgres:5432/litellm?sslmode=require",
                database_password=secrets["postgres_litellm_password"],
                redis_host="redis",
                redis_port=6379,
                redis_password=secrets["redis_litellm_password"],
            ),
            USERS["litellm"].uid,
        ),
        "saas-api.env": SecretFile(
            render(
                "saas_api/saas-api.env.j2",
                database_url="postgresql://saas@postgres:5432/saas?sslmode=require",
                database_password=secrets["postgres_saas_password"],
                master_key=secrets["saas_api_master_key"],
                litellm_url=f"http://litellm:{LITELLM_PORT}",
                litellm_master_key=secrets["litellm_master_key"],
                key_encryption_secret=secrets["saas_api_key_encryption_secret"],
                pool_size=sizing.pool_limit(SAAS_API_CLIENT, 1, "saas_api"),
                default_model_group=settings["saas_api_default_model_group"],
            ),
            USERS["saas-api"].uid,
        ),
    }
    reads = {
        "postgres": ["postgres/50-gateway.conf", "postgres/pg_hba.conf", "postgres-roles.sql"],
        "redis": ["redis/redis.conf", "users.acl"],
        "litellm": ["litellm/config.yaml", "litellm.env"],
        "saas-api": ["saas-api.env"],
        "fake-provider": [],
    }
    inputs = {
        service: _digest(tags[service], [_content(rendered, name) for name in names])
        for service, names in reads.items()
        if service in tags
    }
    rendered.compose = render(
        "compose/compose.yaml.j2",
        project=settings["dev_project"],
        tags=tags,
        inputs=inputs,
        users={service: user.uid for service, user in USERS.items()},
        postgres_version=version,
        litellm_port=LITELLM_PORT,
        saas_api_port=SAAS_API_PORT,
        published={
            "litellm": settings["dev_litellm_port"],
            "saas-api": settings["dev_saas_api_port"],
        },
        publish_data_ports=settings["dev_publish_data_ports"],
        fake_provider=settings["dev_fake_provider"],
        fake_provider_port=FAKE_PROVIDER_PORT,
        secrets_mount=SECRETS_MOUNT,
        source=str(source),
    )
    return rendered


def _content(rendered: Rendered, name: str) -> str:
    return rendered.files[name] if name in rendered.files else rendered.secret_files[name].content


def _digest(tag: str, contents: list[str]) -> str:
    digest = hashlib.sha256(tag.encode())
    for content in contents:
        digest.update(b"\0" + content.encode())
    return digest.hexdigest()[:16]


def write(rendered: Rendered) -> None:
    """compose/compose.yaml and compose/rendered/ (world-readable: no secret in them)."""
    for name, content in rendered.files.items():
        path = RENDERED / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
        path.chmod(0o644)
    if not COMPOSE_FILE.exists() or COMPOSE_FILE.read_text() != rendered.compose:
        COMPOSE_FILE.write_text(rendered.compose)
