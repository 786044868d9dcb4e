"""What the edge deploy promises on `edge` hosts, one fact per test. TLS is checked from the
edge host itself against its configured names: the chain must verify against the CA Caddy
uses (`internal` mode) or the system's trust store (acme, files)."""

import ipaddress

import pytest

from .conftest import MAX_EXPOSURE, exposure

pytestmark = pytest.mark.roles("edge")

INTERNAL_ROOT = "/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt"


def site_names(inventory_host) -> list[str]:
    """The gateway's, the API's and the admin panel's names."""
    return [
        inventory_host.data["edge_gateway_host"],
        inventory_host.data["edge_api_host"],
        inventory_host.data["edge_admin_host"],
    ]


def curl(host, inventory_host, name: str, path: str, *extra: str, body: bool = False) -> str:
    """The HTTP status of https://<name><path> (after the body, with `body`), resolved to this
    host, TLS verified."""
    ca = (
        f"--cacert {INTERNAL_ROOT}"
        if inventory_host.data.get("edge_tls_mode") == "internal"
        else ""
    )
    output = "" if body else "-o /dev/null"
    return host.check_output(
        f"curl -s {output} -w ' %{{http_code}}' --max-time 10 {ca} "
        f"--resolve {name}:443:127.0.0.1 {' '.join(extra)} https://{name}{path}"
    ).strip()


def test_caddy_is_installed_running_and_enabled(host):
    assert host.package("caddy").is_installed
    service = host.service("caddy")
    assert service.is_running and service.is_enabled
    main = host.check_output("systemctl show -P MainPID caddy")
    assert host.check_output(f"ps -o user= -p {main}") == "caddy"


def test_caddy_listens_on_80_and_443_and_administers_over_a_unix_socket(host):
    assert host.socket("tcp://80").is_listening and host.socket("tcp://443").is_listening
    # Caddy's admin endpoint would take any local user's new config: never TCP 2019.
    assert not host.socket("tcp://2019").is_listening
    assert host.socket("unix:///run/caddy/admin.sock").is_listening


def test_the_caddyfile_is_root_owned_and_not_writable_by_others(host):
    caddyfile = host.file("/etc/caddy/Caddyfile")
    assert (caddyfile.user, caddyfile.group, caddyfile.mode) == ("root", "root", 0o644)


def test_the_service_is_sandboxed(host):
    properties = host.check_output(
        "systemctl show caddy -p NoNewPrivileges -p ProtectSystem -p CapabilityBoundingSet "
        "-p PrivateTmp -p ProtectHome"
    )
    values = dict(line.split("=", 1) for line in properties.splitlines())
    assert values == {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "CapabilityBoundingSet": "cap_net_bind_service",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
    }


def test_the_units_exposure_is_low(host):
    score, summary = exposure(host, "caddy.service")
    assert score <= MAX_EXPOSURE, summary


def test_tls_certificates_verify_for_the_configured_names(host, inventory_host):
    for name in site_names(inventory_host):
        # curl fails (status 000) unless the chain verifies and the certificate names the host.
        assert curl(host, inventory_host, name, "/") != "000", name


def test_the_backends_are_healthy_through_the_edge(host, inventory_host):
    gateway, api, _ = site_names(inventory_host)
    assert curl(host, inventory_host, gateway, "/health/liveliness") == "200"
    assert curl(host, inventory_host, api, "/health") == "200"


def test_unauthenticated_admin_requests_are_refused(host, inventory_host):
    gateway, api, _ = site_names(inventory_host)
    # From the edge host itself (not an admin network) the edge refuses; with no key, the
    # services would refuse too.
    assert curl(host, inventory_host, gateway, "/key/list") in ("401", "403")
    assert curl(host, inventory_host, api, "/api/teams") in ("401", "403")


def test_the_admin_panel_answers_the_edge_on_every_api_host(host, inventory_hosts):
    api_hosts = [h for h in inventory_hosts if "api" in h.groups]
    assert api_hosts
    for api_host in api_hosts:
        port = api_host.data.get("saas_api_admin_port") or 3000
        url = f"http://{api_host.data['private_address']}:{port}/health"
        status = host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 10 {url}")
        assert status == "200", (api_host.name, status)


def test_the_admin_site_serves_the_admin_networks_only(host, inventory_host):
    # The request comes from 127.0.0.1 (curl --resolve): served only when that is an admin
    # network, else the edge's own refusal.
    admin = inventory_host.data["edge_admin_host"]
    loopback = ipaddress.ip_address("127.0.0.1")
    admitted = any(
        loopback in ipaddress.ip_network(c, strict=False)
        for c in inventory_host.data["edge_admin_cidrs"]
    )
    answer = curl(host, inventory_host, admin, "/health", body=True)
    assert answer == ('{"status":"ok"} 200' if admitted else "forbidden 403")
