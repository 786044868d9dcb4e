"""The TLS edge for the `edge` group: Caddy from Debian in front of every `llm` and `api` host.

Three sites: the gateway (LiteLLM), the API (the SaaS API) and the admin panel, each
load-balanced over its role's hosts with active health checks. Public are only the inference
paths and the team self-service routes; LiteLLM's UI and admin API, the SaaS admin routes and
the whole admin panel answer only the admin networks.
TLS comes from ACME (production default), Caddy's own CA (`internal`: the testbed; its root is
fetched to the control machine for clients) or operator-provided files. The Caddyfile is
checked with `caddy validate` before it replaces the live one and loaded by a graceful reload."""

from __future__ import annotations

from pathlib import Path

from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.operations import apt, files, server, systemd
from pyinfra.operations.util import any_changed

from bundle import firewall, settings
from bundle.data import settings_reader
from bundle.host_roles import litellm_endpoints
from bundle.operations import rendered_file, running_service, validated_file
from bundle.render import render

REPO = Path(__file__).resolve().parent.parent
CADDYFILE = "/etc/caddy/Caddyfile"
TLS_DIR = "/etc/caddy/tls"
# Where Caddy (HOME=/var/lib/caddy) keeps its own CA in `internal` mode.
INTERNAL_ROOT = "/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt"

# The api hosts' ports: the edge's upstreams.
DEFAULTS = settings.defaults("saas_api_port", "saas_api_admin_port", prefix="edge_")

setting = settings_reader(DEFAULTS)


def ca_certificate_path(environment: str) -> Path:
    """Where the testbed's (internal mode's) CA root lands on the control machine."""
    return REPO / "secrets" / f"{environment}-edge-ca.crt"


def upstreams(group: str, port_key: str) -> list[str]:
    """`address:port` of every host of `group`, each with its own `port_key` (its data's, else
    the default), as its own deploy reads it."""
    return [
        f"{h.data.get('private_address')}:{h.data.get(port_key) or DEFAULTS[port_key]}"
        for h in inventory.get_group(group, [])
    ]


def render_caddyfile(tls_mode: str) -> str:
    return render(
        "edge/Caddyfile.j2",
        tls_mode=tls_mode,
        acme_email=setting("edge_acme_email"),
        tls_protocols=setting("edge_tls_protocols"),
        certificate_path=f"{TLS_DIR}/edge.crt",
        key_path=f"{TLS_DIR}/edge.key",
        gateway_host=setting("edge_gateway_host"),
        api_host=setting("edge_api_host"),
        admin_host=setting("edge_admin_host"),
        admin_cidrs=setting("edge_admin_cidrs"),
        inference_paths=setting("edge_inference_paths"),
        # Every LiteLLM instance of every llm host, each checked and balanced on its own.
        llm_upstreams=litellm_endpoints(inventory.get_group("llm", [])),
        api_upstreams=upstreams("api", "saas_api_port"),
        admin_upstreams=upstreams("api", "saas_api_admin_port"),
        health_interval=setting("edge_health_interval"),
        health_timeout=setting("edge_health_timeout"),
        try_duration=setting("edge_try_duration"),
        max_request_body=setting("edge_max_request_body"),
    )


@deploy("TLS edge")
def deploy_edge():
    tls_mode = setting("edge_tls_mode")
    apt.packages(name="Install Caddy", packages=["caddy"], no_recommends=True)
    dropin = rendered_file(
        "edge/caddy-gateway.conf.j2", "/etc/systemd/system/caddy.service.d/gateway.conf"
    )
    systemd.daemon_reload(name="Reload systemd units", _if=dropin.did_change)
    certificates = []
    if tls_mode == "files":
        files.directory(name=f"Create {TLS_DIR}", path=TLS_DIR, mode="750", group="caddy")
        for source, name, mode in (
            (setting("edge_tls_certificate"), "edge.crt", "640"),
            (setting("edge_tls_key"), "edge.key", "640"),
        ):
            certificates.append(
                files.put(
                    name=f"Push the edge's TLS {name}",
                    src=str(Path(source).expanduser()),
                    dest=f"{TLS_DIR}/{name}",
                    mode=mode,
                    user="root",
                    group="caddy",
                )
            )
    caddyfile = validated_file(
        name=f"Render {CADDYFILE}",
        content=render_caddyfile(tls_mode),
        dest=CADDYFILE,
        # As the service runs it (its user and storage), so `tls internal` finds its own CA.
        validate=(
            "runuser -u caddy -- env HOME=/var/lib/caddy "
            "caddy validate --adapter caddyfile --config {path}"
        ),
    )
    started, restarted = running_service(
        "caddy.service",
        "Caddy",
        restart_when=(dropin,),
        reload_when=(caddyfile, *certificates),
    )
    firewall.allow_port("edge-http", 80, setting("edge_public_cidrs"))
    firewall.allow_port("edge-https", 443, setting("edge_public_cidrs"))
    if tls_mode == "internal":
        server.shell(
            name="Wait for Caddy's internal CA",
            commands=[
                f"for i in $(seq 60); do test -s {INTERNAL_ROOT} && exit 0; sleep 1; done; "
                f"echo 'Caddy created no CA at {INTERNAL_ROOT}' >&2; exit 1"
            ],
            _if=any_changed(started, restarted),
        )
        files.get(
            name="Fetch the edge's CA certificate for clients",
            src=INTERNAL_ROOT,
            dest=str(ca_certificate_path(host.data.get("environment"))),
        )
