"""Every file the dev stack reads, rendered from the deploy's own templates with the deploy's own
settings and secrets (the `dev` secret store), plus the compose file itself.

Each service's files go into its own configuration volume (compose/stack.py), mounted read-only
where the hosts keep them (/etc/litellm, /etc/redis, ...) with the hosts' owners and modes: the
same verification checks hold in both. The compose file carries no secret: each service's label
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
RENDERED = COMPOSE_DIR / "rendered"  # what make dev generates besides the compose file
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
LITELLM_PORT = LITELLM_DEFAULTS["litellm_port"]
SAAS_API_PORT = SAAS_API_DEFAULTS["saas_api_port"]
ADMIN_PORT = SAAS_API_DEFAULTS["saas_api_admin_port"]
FAKE_PROVIDER_PORT = 9999
# One process per container, as on the hosts' small instances; pools sized like theirs.
LITELLM_CLIENT = {"litellm_workers": 1}
SAAS_API_CLIENT = {"saas_api_workers": 1, "saas_api_admin_workers": 1}
# Services that run another service's image: the admin panel is the SaaS API's second app.
IMAGE_OF = {"admin": "saas-api"}


def image_of(service: str) -> str:
    """The image (and so the user) a service of the stack runs."""
    return IMAGE_OF.get(service, service)


@dataclass(frozen=True)
class VolumeFile:
    """A file in a service's configuration volume, with the owner and mode it has on hosts."""

    content: str
    uid: int
    gid: int
    mode: int


@dataclass(frozen=True)
class ConfigVolume:
    """A service's configuration directory (mounted read-only where the hosts have it)."""

    service: str
    mount: str
    files: dict[str, VolumeFile]


@dataclass
class Rendered:
    compose: str
    volumes: list[ConfigVolume] = field(default_factory=list)


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
    version = postgres_version(settings["dev_suite"])
    uid = {service: user.uid for service, user in USERS.items()}
    clients = sizing.client_connections([LITELLM_CLIENT], [SAAS_API_CLIENT])
    memory = settings["dev_postgres_memory_mb"]
    tls = "/var/lib/postgresql/data/tls"
    postgres_conf = render(
        "postgres/50-gateway.conf.j2",
        listen_addresses=["*"],
        memory_mb=memory,
        client_connections=clients,
        ssl_cert_file=f"{tls}/server.crt",
        ssl_key_file=f"{tls}/server.key",
        # No backups in the dev target: its data is a laptop's, and there is no pgBackRest.
        archive_command=None,
        archive_timeout=None,
        **sizing.postgres_settings(memory, clients),
    )
    postgres_conf += "unix_socket_directories = '/run/postgresql'\n"
    # Remote peers over TLS only, as on the hosts: here every peer is on the compose network.
    hba = render(
        "postgres/pg_hba.conf.j2",
        rules=[
            {"type": "hostssl", "database": db, "role": role, "address": settings["dev_subnet"]}
            for role, db, _, _ in CLIENTS
        ],
    )
    redis_conf = render(
        "redis/redis.conf.j2",
        # Inside the container's own network namespace: only the compose network reaches it.
        bind=["0.0.0.0"],  # noqa: S104
        memory_mb=settings["dev_redis_maxmemory_mb"] * 4,
        shares_host=False,
        maxmemory_mb=settings["dev_redis_maxmemory_mb"],
        supervised="no",
        pidfile=None,
        aclfile="/etc/redis/users.acl",
    )
    acl = render(
        "redis/users.acl.j2",
        litellm_password_sha256=hashlib.sha256(
            secrets["redis_litellm_password"].encode()
        ).hexdigest(),
    )
    litellm_config = render(
        "litellm/config.yaml.j2",
        pool_limit=sizing.litellm_pool_limit(LITELLM_CLIENT, 1),
        spend_write_interval=settings["litellm_spend_write_interval"],
        request_timeout=settings["litellm_request_timeout"],
        bundled_engine=True,
        model_reload_interval=LITELLM_MODEL_RELOAD_SECONDS,
    )
    spend_flush = render(
        "litellm/spend_flush.py.j2", spacing_seconds=settings["litellm_spend_flush_seconds"]
    )
    litellm_env = render(
        "litellm/litellm.env.j2",
        master_key=secrets["litellm_master_key"],
        salt_key=secrets["litellm_salt_key"],
        database_url="postgresql://litellm@postgres:5432/litellm?sslmode=require",
        database_password=secrets["postgres_litellm_password"],
        redis_host="redis",
        redis_port=6379,
        redis_password=secrets["redis_litellm_password"],
    )
    saas_env = render(
        "saas_api/saas-api.env.j2",
        database_url="postgresql://saas@postgres:5432/saas?sslmode=require",
        database_password=secrets["postgres_saas_password"],
        master_key=secrets["saas_api_master_key"],
        litellm_url=f"http://litellm:{LITELLM_PORT}",
        litellm_master_key=secrets["litellm_master_key"],
        key_encryption_secret=secrets["saas_api_key_encryption_secret"],
        pool_size=sizing.pool_limit(SAAS_API_CLIENT, 1, "saas_api"),
        default_model_group=settings["saas_api_default_model_group"],
    )
    pg, rd, ll, sa = uid["postgres"], uid["redis"], uid["litellm"], uid["saas-api"]
    # Owners and modes as the deploy sets them (tasks/*.py); the SaaS API's environment file is
    # root-only on hosts, where systemd reads it: here the service reads it itself.
    volumes = [
        ConfigVolume(
            "postgres",
            f"/etc/postgresql/{version}/main",
            {
                "conf.d/50-gateway.conf": VolumeFile(postgres_conf, pg, pg, 0o644),
                "pg_hba.conf": VolumeFile(hba, pg, pg, 0o640),
                "roles.sql": VolumeFile(roles_sql(secrets), pg, pg, 0o600),
            },
        ),
        ConfigVolume(
            "redis",
            "/etc/redis",
            {
                "redis.conf": VolumeFile(redis_conf, 0, rd, 0o640),
                "users.acl": VolumeFile(acl, rd, rd, 0o600),
            },
        ),
        ConfigVolume(
            "litellm",
            "/etc/litellm",
            {
                "config.yaml": VolumeFile(litellm_config, 0, ll, 0o640),
                "spend_flush.py": VolumeFile(spend_flush, 0, ll, 0o640),
                "litellm.env": VolumeFile(litellm_env, 0, ll, 0o640),
            },
        ),
        ConfigVolume(
            "saas-api", "/etc/saas-api", {"saas-api.env": VolumeFile(saas_env, sa, sa, 0o600)}
        ),
        # The admin panel reads the SaaS API's environment, as on the hosts.
        ConfigVolume(
            "admin", "/etc/saas-api", {"saas-api.env": VolumeFile(saas_env, sa, sa, 0o600)}
        ),
    ]
    reads = {volume.service: [f.content for f in volume.files.values()] for volume in volumes}
    tags = tags | {service: tags[image] for service, image in IMAGE_OF.items() if image in tags}
    inputs = {service: _digest(tag, reads.get(service, [])) for service, tag in tags.items()}
    compose = render(
        "compose/compose.yaml.j2",
        project=settings["dev_project"],
        tags=tags,
        inputs=inputs,
        users=uid,
        mounts={volume.service: volume.mount for volume in volumes},
        postgres_version=version,
        litellm_port=LITELLM_PORT,
        saas_api_port=SAAS_API_PORT,
        admin_port=ADMIN_PORT,
        published={
            "litellm": settings["dev_litellm_port"],
            "saas-api": settings["dev_saas_api_port"],
            "admin": settings["dev_admin_port"],
        },
        publish_data_ports=settings["dev_publish_data_ports"],
        fake_provider=settings["dev_fake_provider"],
        fake_provider_port=FAKE_PROVIDER_PORT,
        subnet=settings["dev_subnet"],
        source=str(source),
    )
    return Rendered(compose, volumes)


def volume_name(project: str, service: str) -> str:
    return f"{project}_{service}-etc"


def _digest(tag: str, contents: list[str]) -> str:
    digest = hashlib.sha256(tag.encode())
    for content in contents:
        digest.update(b"\0" + content.encode())
    return digest.hexdigest()[:16]


def write(rendered: Rendered) -> None:
    """compose/compose.yaml (no secret in it)."""
    if not COMPOSE_FILE.exists() or COMPOSE_FILE.read_text() != rendered.compose:
        COMPOSE_FILE.write_text(rendered.compose)
