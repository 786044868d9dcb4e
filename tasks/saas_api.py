"""The SaaS API for the `api` group.

In order: the service's wheel and its hash-locked dependencies (built on the control machine,
pushed, installed into a root-owned venv); its environment file (root only: it holds the admin
key, the LiteLLM master key and the key-encryption secret); its schema migrations, once, from
the first `api` host, before any host restarts; the sandboxed service, restarted only when
something it reads changed, then gated on its readiness (database and LiteLLM reachable); the
admin panel (a second app of the same wheel, same environment, its own unit and port) likewise;
both ports opened to the `edge` peers only."""

from __future__ import annotations

from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.operations import apt, files, server, systemd

from bundle import artifacts, firewall, peers, settings, sizing
from bundle.data import settings_reader
from bundle.deploy_secrets import secrets_for
from bundle.facts import SaasApiPendingMigrations
from bundle.host_roles import database_url, host_target, litellm_urls_in_turn
from bundle.host_roles import worker_count as worker_count_for
from bundle.operations import (
    readiness_gate,
    rendered_file,
    running_service,
    unit_file,
    venv_from_wheelhouse,
)

ROOT = "/opt/saas-api"
CACHE = "/var/cache/gateway-bundle"
ETC = "/etc/saas-api"
VENV = f"{ROOT}/venv"
ENV_FILE = f"{ETC}/saas-api.env"

DEFAULTS = settings.defaults(prefix="saas_api_")

setting = settings_reader(DEFAULTS)


@deploy("SaaS API")
def deploy_saas_api():
    target = host_target()
    own_address = host.data.get("private_address")
    secrets = secrets_for(host.data.get("environment"))
    worker_count = worker_count_for(setting("saas_api_workers"))
    # Every LiteLLM instance on every llm host: the SaaS API fails over between them
    # (saas_api/litellm.py).
    litellm_urls = litellm_urls_in_turn("the SaaS API", "api")

    apt.packages(
        name="Install Python's venv support", packages=["python3-venv"], no_recommends=True
    )
    server.user(  # noqa: S604 (`shell` is the user's login shell, not a subprocess shell)
        name="Create the saas-api system user",
        user="saas-api",
        system=True,
        shell="/usr/sbin/nologin",
        home="/var/lib/saas-api",
        create_home=False,
    )
    files.directory(name=f"Create {CACHE}", path=CACHE, mode="700")
    for path in (ROOT, f"{ROOT}/venvs"):
        files.directory(name=f"Create {path}", path=path, mode="755")
    files.directory(name=f"Create {ETC}", path=ETC, mode="700")

    files.put(
        name="Push the SaaS API wheelhouse",
        src=str(artifacts.saas_api_tar(target)),
        dest=f"{CACHE}/saas-api-wheelhouse.tar",
        mode="600",
    )
    venv = venv_from_wheelhouse(
        name="Install the SaaS API from the wheelhouse",
        tar=f"{CACHE}/saas-api-wheelhouse.tar",
        root=ROOT,
        artifact=artifacts.saas_api_name(target),
    )
    environment = rendered_file(
        "saas_api/saas-api.env.j2",
        ENV_FILE,
        mode="600",
        database_url=database_url("saas", "the SaaS API", settings.POSTGRES_PORT),
        database_password=secrets["postgres_saas_password"],
        master_key=secrets["saas_api_master_key"],
        litellm_url=",".join(litellm_urls),
        litellm_master_key=secrets["litellm_master_key"],
        key_encryption_secret=secrets["saas_api_key_encryption_secret"],
        # Per process of both apps: they read this one file.
        pool_size=sizing.pool_limit(host.data, worker_count, "saas_api"),
        default_model_group=setting("saas_api_default_model_group"),
    )
    _migrate_once(venv)
    unit = unit_file(
        "saas_api/saas-api.service.j2",
        "/etc/systemd/system/saas-api.service",
        listen_address=own_address,
        port=setting("saas_api_port"),
        workers=worker_count,
    )
    systemd.daemon_reload(name="Reload systemd units", _if=unit.did_change)
    started, restarted = running_service(
        "saas-api.service", "the SaaS API", restart_when=(environment, unit, venv)
    )
    readiness_gate(
        f"{ROOT}/wait-ready",
        task="saas_api",
        label="the SaaS API",
        unit="saas-api.service",
        url=f"http://{own_address}:{setting('saas_api_port')}/health/ready",
        key="ready",
        value=True,
        timeout=int(setting("saas_api_readiness_timeout")),
        wait_name="Wait until the SaaS API is ready (database and LiteLLM reachable)",
        when=(started, restarted),
    )
    edge_peers = sorted(peers.client_addresses("edge") - {own_address})
    firewall.allow_port("api", setting("saas_api_port"), edge_peers)
    _admin_panel(own_address, edge_peers, environment, venv)


def _admin_panel(own_address: str, edge_peers: list[str], environment, venv) -> None:
    """The admin panel: the same wheel, environment, user and sandbox as the SaaS API, its own
    unit and port, reached only through the edge (which the panel believes about the browser's
    address)."""
    port = setting("saas_api_admin_port")
    unit = unit_file(
        "saas_api/saas-admin.service.j2",
        "/etc/systemd/system/saas-admin.service",
        listen_address=own_address,
        port=port,
        workers=int(setting("saas_api_admin_workers")),
        # Caddy connects from the edge host's private address, also when it is this host.
        forwarded_allow_ips=sorted(peers.client_addresses("edge")),
    )
    systemd.daemon_reload(name="Reload systemd units for the admin panel", _if=unit.did_change)
    started, restarted = running_service(
        "saas-admin.service", "the admin panel", restart_when=(environment, unit, venv)
    )
    readiness_gate(
        f"{ROOT}/wait-admin-ready",
        task="saas_api",
        label="the admin panel",
        unit="saas-admin.service",
        url=f"http://{own_address}:{port}/health/ready",
        key="ready",
        value=True,
        timeout=int(setting("saas_api_readiness_timeout")),
        wait_name="Wait until the admin panel is ready (database and LiteLLM reachable)",
        when=(started, restarted),
    )
    firewall.allow_port("api-admin", port, edge_peers)


def _migrate_once(venv) -> None:
    """The schema migrations from the first `api` host only, before any host restarts (each
    operation runs on every host before the next one starts)."""
    first = inventory.get_group("api")[0]
    if host.name != first.name:
        host.noop(f"SaaS API migrations run from {first.name}")
        return
    migrate = f"{VENV}/bin/saas-api-migrate"
    # None on a first run (no venv or environment file yet); a new venv may bring revisions.
    pending = host.get_fact(SaasApiPendingMigrations, migrate=migrate, env_file=ENV_FILE)
    server.shell(
        name="Apply the SaaS API's database migrations",
        commands=[f"{migrate} --env-file {ENV_FILE}"],
        _if=lambda: pending != 0 or venv.did_change(),
    )
