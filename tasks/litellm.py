"""The LiteLLM proxy for the `llm` group.

In order: the hash-locked wheelhouse built on the control machine, pushed and installed into a
root-owned venv (hosts need no PyPI access); the bundled Prisma engine (Node bridge + npm
packages, also pushed) and the Prisma client generated against it; configuration; LiteLLM's
migrations, once, from the first `llm` host, before any proxy restarts; the sandboxed service,
`litellm_instances` proxies per host (litellm@<port>), each restarted only when something it
reads changed, one after the other, each gated on its readiness endpoint reporting the database
connected before the next goes down; the firewall opened to the `api` and `edge` peers only."""

from __future__ import annotations

import math
import re

from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.files import File
from pyinfra.facts.systemd import SystemdStatus
from pyinfra.operations import apt, files, server, systemd
from pyinfra.operations.util import any_changed

from bundle import artifacts, firewall, peers, settings, sizing
from bundle.data import settings_reader
from bundle.deploy_secrets import secrets_for
from bundle.facts import FileText, LiteLLMPendingMigrations
from bundle.host_roles import (
    database_url,
    host_target,
    litellm_ports,
    service_address,
)
from bundle.host_roles import worker_count as worker_count_for
from bundle.litellm_layout import (
    ENGINE,
    OFFLINE_ENV,
    ROOT,
    VENV,
    prisma_environment,
    prisma_generate_command,
)
from bundle.operations import (
    release_from_tar,
    rendered_file,
    unit_file,
    validated_file,
    venv_from_wheelhouse,
    wait_ready_script,
)
from bundle.render import render
from provisioning.apply import LITELLM_MODEL_RELOAD_SECONDS
from tasks.edge import DEFAULTS as EDGE_DEFAULTS

CACHE = "/var/cache/gateway-bundle"
ETC = "/etc/litellm"
ENV_FILE = f"{ETC}/litellm.env"

# Before instances: one litellm.service per host (retired by the first deploy that has them).
SINGLE_UNIT = "/etc/systemd/system/litellm.service"

DEFAULTS = settings.defaults(prefix="litellm_")
CONFIG = f"{ETC}/config.yaml"
# The candidate read by the venv's own LiteLLM: its YAML, then its ConfigYAML model (the typed
# general settings: pool limit, batch interval, ...), offline as the service runs.
CONFIG_CHECK = (
    " ".join(["env", *(f"{k}={v}" for k, v in OFFLINE_ENV.items())])
    + f" {VENV}/bin/python - {{path}} <<'EOF'\n"
    "import sys, yaml\n"
    "from litellm.proxy._types import ConfigYAML\n"
    "ConfigYAML(**yaml.safe_load(open(sys.argv[1])))\n"
    "EOF\n"
)
setting = settings_reader(DEFAULTS)


@deploy("LiteLLM")
def deploy_litellm():
    target = host_target()
    # Each checked by preflight (bundle/settings.py), the lock the same on every llm host.
    lock = setting("litellm_lock")
    mode = setting("litellm_prisma_engine")
    flush_seconds = setting("litellm_spend_flush_seconds")
    own_address = host.data.get("private_address")
    secrets = secrets_for(host.data.get("environment"))
    ports = litellm_ports(host.data)
    workers_per_instance = max(1, worker_count_for(setting("litellm_workers")) // len(ports))
    pool_limit = sizing.litellm_pool_limit(host.data, workers_per_instance * len(ports))

    apt.packages(
        name="Install Python's venv support and Node.js (the engine bridge)",
        packages=["python3-venv", "nodejs"],
        no_recommends=True,
    )
    server.user(  # noqa: S604 (`shell` is the user's login shell, not a subprocess shell)
        name="Create the litellm system user",
        user="litellm",
        system=True,
        shell="/usr/sbin/nologin",
        home="/var/lib/litellm",
        create_home=False,
    )
    files.directory(name=f"Create {CACHE}", path=CACHE, mode="700")
    for path in (ROOT, f"{ROOT}/venvs", f"{ROOT}/engines"):
        files.directory(name=f"Create {path}", path=path, mode="755")
    files.directory(name=f"Create {ETC}", path=ETC, mode="750", user="root", group="litellm")

    files.put(
        name="Push the bundled Prisma engine",
        src=str(artifacts.engine_tar()),
        dest=f"{CACHE}/litellm-engine.tar",
        mode="600",
    )
    engine = release_from_tar(
        name="Install the bundled Prisma engine",
        tar=f"{CACHE}/litellm-engine.tar",
        releases=f"{ROOT}/engines",
        link=ENGINE,
        release=artifacts.engine_name(),
    )
    artifact = artifacts.venv_name("litellm", lock, target)
    release = f"{ROOT}/venvs/{artifact}"
    # A venv kept from an earlier deploy (the one before an upgrade, say) is switched back to,
    # not rebuilt: its wheelhouse need not travel again.
    kept = host.get_fact(FileText, path=f"{release}/.gateway-artifact") == artifact
    if kept:
        host.noop(f"{release} is installed: the LiteLLM wheelhouse stays on the control machine")
    else:
        files.put(
            name="Push the LiteLLM wheelhouse",
            src=str(artifacts.bundle_tar("litellm", lock, target)),
            dest=f"{CACHE}/litellm-wheelhouse.tar",
            mode="600",
        )
    generated = f"{artifact}+{artifacts.engine_name()}+{mode}"
    # The client lives in the venv: one generated for this venv and engine is still good after
    # switching back to it.
    client_current = host.get_fact(FileText, path=f"{release}/.prisma-generated") == generated
    venv = venv_from_wheelhouse(
        name="Install LiteLLM from the wheelhouse",
        tar=f"{CACHE}/litellm-wheelhouse.tar",
        root=ROOT,
        artifact=artifact,
    )
    client = server.shell(
        name="Generate LiteLLM's Prisma client",
        commands=[
            prisma_generate_command(mode, target.site_packages),
            f"echo {generated} > {VENV}/.prisma-generated",
        ],
        # Facts are read before anything runs: also regenerate when this run built either anew.
        _if=lambda: not client_current or (venv.did_change() and not kept) or engine.did_change(),
    )

    config = checked_config(
        render(
            "litellm/config.yaml.j2",
            pool_limit=pool_limit,
            spend_write_interval=setting("litellm_spend_write_interval"),
            request_timeout=setting("litellm_request_timeout"),
            bundled_engine=mode == "bundled",
            model_reload_interval=LITELLM_MODEL_RELOAD_SECONDS,
        )
    )
    spend_flush = rendered_file(
        "litellm/spend_flush.py.j2",
        f"{ETC}/spend_flush.py",
        mode="640",
        group="litellm",
        spacing_seconds=flush_seconds,
    )
    environment = rendered_file(
        "litellm/litellm.env.j2",
        ENV_FILE,
        mode="640",
        group="litellm",
        master_key=secrets["litellm_master_key"],
        salt_key=secrets["litellm_salt_key"],
        database_url=database_url("litellm", "LiteLLM", settings.POSTGRES_PORT),
        database_password=secrets["postgres_litellm_password"],
        redis_host=service_address("cache", "LiteLLM"),
        redis_port=settings.REDIS_PORT,
        redis_password=secrets["redis_litellm_password"],
    )
    _migrate_once(mode, venv, release if kept else None)
    _retire_other_units(ports)
    unit = unit_file(
        "litellm/litellm@.service.j2",
        "/etc/systemd/system/litellm@.service",
        listen_address=own_address,
        workers=workers_per_instance,
        environment=OFFLINE_ENV | prisma_environment(mode),
    )
    systemd.daemon_reload(name="Reload systemd units", _if=unit.did_change)
    wait_ready_script(
        f"{ROOT}/wait-ready",
        task="litellm",
        label="LiteLLM",
        instances={
            str(port): {
                "unit": f"litellm@{port}.service",
                "url": f"http://{own_address}:{port}/health/readiness",
            }
            for port in ports
        },
        key="db",
        value="connected",
        timeout=int(setting("litellm_readiness_timeout")),
    )
    _run_instances(
        ports, restart_when=(config, spend_flush, environment, unit, venv, engine, client)
    )
    firewall.allow_port(
        "llm",
        ports,
        sorted((peers.client_addresses("api") | peers.client_addresses("edge")) - {own_address}),
    )


def _retire_other_units(ports: list[int]) -> None:
    """Stop what an earlier deploy started and this one does not want, before the instances
    need their ports: the single litellm.service of hosts deployed before instances, and
    instances beyond `litellm_instances` when it was lowered."""
    if host.get_fact(File, path=SINGLE_UNIT):
        server.shell(
            name="Retire the single litellm.service (replaced by litellm@<port> instances)",
            commands=[f"systemctl disable --now litellm.service && rm -f {SINGLE_UNIT}"],
        )
    wanted = {f"litellm@{port}.service" for port in ports}
    loaded = host.get_fact(SystemdStatus, services="litellm@*") or {}
    instances = {unit for unit in loaded if re.fullmatch(r"litellm@\d+\.service", unit)}
    for unit in sorted(instances - wanted):
        systemd.service(
            name=f"Stop and disable {unit} (beyond litellm_instances)",
            service=unit,
            running=False,
            enabled=False,
        )


def _run_instances(ports: list[int], *, restart_when: tuple) -> None:
    """Start every instance at once (a new host imports LiteLLM in parallel), then restart the
    running ones that must read new settings one at a time, each ready before the next goes
    down: the host keeps serving through a configuration change. pyinfra runs each operation
    on every host before the next, so every llm host restarts the same instance together."""
    changed = any_changed(*restart_when)
    started = {
        port: systemd.service(
            name=f"Start and enable LiteLLM on port {port}",
            service=f"litellm@{port}.service",
            running=True,
            enabled=True,
        )
        for port in ports
    }
    for port, start in started.items():
        restarted = systemd.service(
            name=f"Restart LiteLLM on port {port} to load new settings",
            service=f"litellm@{port}.service",
            restarted=True,
            # An instance this run just started has read them already. (Only for our own
            # units: a package's service started by its install is not "started" by this run.)
            _if=lambda start=start: changed() and not start.did_change(),
        )
        server.shell(
            name=f"Wait until LiteLLM on port {port} is ready with its database connected",
            commands=[f"{ROOT}/wait-ready {port}"],
            _if=any_changed(start, restarted),
        )
        notice = edge_notice_seconds()
        if notice:
            server.shell(
                name=f"Give the edge {notice} s to count LiteLLM on port {port} in again",
                commands=[f"sleep {notice}"],
                _if=restarted.did_change,
            )


def edge_notice_seconds() -> int:
    """How long after an instance is ready again the edge may still count it out: one active
    health check's interval plus its timeout (tasks/edge.py). Restarting the next instance
    sooner can leave the edge none it counts in (measured: five 503s in a row)."""
    edges = inventory.get_group("edge", [])
    if not edges:
        return 0
    keys = ("edge_health_interval", "edge_health_timeout")
    total = sum(caddy_seconds(edges[0].data.get(key) or EDGE_DEFAULTS[key]) for key in keys)
    return math.ceil(total)


def caddy_seconds(duration: str) -> float:
    """A Caddy duration ("2s", "500ms", "1m30s") in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", str(duration))
    if not parts or "".join(n + u for n, u in parts) != str(duration):
        raise DeployError(f"edge duration {duration!r}: use Caddy's form, like 2s or 500ms")
    return sum(float(number) * units[unit] for number, unit in parts)


def _migrate_once(mode: str, venv, kept_release: str | None) -> None:
    """Apply LiteLLM's migrations from the first `llm` host only, before any host restarts (each
    operation runs on every host before the next one starts). They run when the release this
    deploy switches to may ship migrations the database lacks: counted with that release's own
    runner when its venv is already on the host (a rollback, or forward again), unknown for a
    venv this run builds."""
    first = inventory.get_group("llm")[0]
    if host.name != first.name:
        host.noop(f"LiteLLM migrations run from {first.name}")
        return
    if mode == "native":
        # Upstream's way: LiteLLM runs `prisma migrate deploy` itself at start.
        host.noop("native engine: LiteLLM applies its migrations at start")
        return
    # None when it cannot be known yet (first run: no venv, no database; a venv built by this
    # run, which may ship new migrations).
    pending = host.get_fact(
        LiteLLMPendingMigrations,
        python=f"{kept_release or VENV}/bin/python",
        runner=f"{ENGINE}/migrate.py",
        env_file=ENV_FILE,
    )
    server.shell(
        name="Apply LiteLLM's database migrations",
        commands=[f"{VENV}/bin/python {ENGINE}/migrate.py --env-file {ENV_FILE}"],
        _if=lambda: pending != 0 or (venv.did_change() and kept_release is None),
    )


def checked_config(text: str):
    """config.yaml as `text`, live only once LiteLLM's own parser accepted it."""
    return validated_file(
        name=f"Render {CONFIG} (checked by LiteLLM first)",
        content=text,
        dest=CONFIG,
        validate=CONFIG_CHECK,
        mode="640",
        group="litellm",
    )
