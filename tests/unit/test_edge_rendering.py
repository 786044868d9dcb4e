"""The edge's Caddyfile, rendered for each TLS mode, is accepted by Caddy itself (`caddy adapt`,
the Caddyfile adapter the service uses), and its routes say who reaches what."""

import json
import subprocess

import pytest

from bundle.render import render

CONTEXT = {
    "acme_email": "ops@corp.net",
    "tls_protocols": "tls1.3",
    "certificate_path": "/etc/caddy/tls/edge.crt",
    "key_path": "/etc/caddy/tls/edge.key",
    "gateway_host": "gateway.corp.net",
    "api_host": "api.corp.net",
    "admin_host": "admin.corp.net",
    "admin_cidrs": ["198.51.100.0/24"],
    "inference_paths": ["/chat/completions", "/v1/*", "/embeddings", "/models"],
    "llm_upstreams": ["10.0.0.21:4000", "10.0.0.22:4000"],
    "api_upstreams": ["10.0.0.31:8003"],
    "admin_upstreams": ["10.0.0.31:3000", "10.0.0.32:3000"],
    "health_interval": "2s",
    "health_timeout": "2s",
    "try_duration": "5s",
    "max_request_body": "64MB",
}


def adapt(tls_mode: str, tmp_path) -> dict:
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(render("edge/Caddyfile.j2", tls_mode=tls_mode, **CONTEXT))
    adapted = subprocess.run(
        ["caddy", "adapt", "--adapter", "caddyfile", "--config", str(caddyfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert adapted.returncode == 0, adapted.stderr
    return json.loads(adapted.stdout)


def site(config: dict, name: str) -> dict:
    (route,) = [
        r
        for r in config["apps"]["http"]["servers"]["srv0"]["routes"]
        if r["match"][0]["host"] == [name]
    ]
    return route


def subroutes(node):
    """Every subroute handler in a route, depth first."""
    if isinstance(node, dict):
        if node.get("handler") == "subroute":
            yield node
        for value in node.values():
            yield from subroutes(value)
    elif isinstance(node, list):
        for item in node:
            yield from subroutes(item)


def flat(node) -> str:
    return json.dumps(node)


@pytest.mark.parametrize("tls_mode", ["acme", "internal", "files"])
def test_every_tls_mode_is_a_valid_caddy_config(tls_mode, tmp_path):
    config = adapt(tls_mode, tmp_path)
    assert config["admin"]["listen"] == "unix//run/caddy/admin.sock"
    policies = flat(config["apps"].get("tls", {}))
    if tls_mode == "internal":
        assert '"module": "internal"' in policies
    if tls_mode == "files":
        assert "/etc/caddy/tls/edge.key" in policies
    assert '"protocol_min": "tls1.3"' in flat(config["apps"]["http"])


def test_admin_surfaces_answer_only_the_admin_networks(tmp_path):
    config = adapt("internal", tmp_path)
    gateway = flat(site(config, "gateway.corp.net"))
    # A request from outside the admin networks that is no inference path gets 403.
    assert '"not": [{"remote_ip": {"ranges": ["198.51.100.0/24"]}}]' in gateway
    assert '"status_code": 403' in gateway
    assert '"uri": "/health/liveliness"' in gateway
    assert "10.0.0.21:4000" in gateway and "10.0.0.22:4000" in gateway
    api = flat(site(config, "api.corp.net"))
    assert '"/api/me/*"' in api and "^/api/teams/[^/]+/usage$" in api
    assert '"status_code": 403' in api and '"uri": "/health"' in api


def test_bodies_are_bounded_and_buffered_so_a_retry_can_resend_them(tmp_path):
    config = adapt("internal", tmp_path)
    for name in ("gateway.corp.net", "api.corp.net", "admin.corp.net"):
        routes = flat(site(config, name))
        assert '"handler": "request_body", "max_size": 64000000' in routes, name
        assert '"buffer_requests": true' in routes, name


def test_the_admin_panel_answers_only_the_admin_networks_balanced_over_every_api_host(tmp_path):
    config = adapt("internal", tmp_path)
    admin = site(config, "admin.corp.net")
    # The site's `handle` block: the one subroute whose routes answer with a status of its own.
    (routes,) = [
        node["routes"]
        for node in subroutes(admin)
        if any(h["handler"] == "static_response" for r in node["routes"] for h in r["handle"])
    ]
    # First: everyone outside the admin networks gets the edge's 403, whatever the path.
    refusal, *rest = routes
    assert refusal["match"] == [{"not": [{"remote_ip": {"ranges": ["198.51.100.0/24"]}}]}]
    assert refusal["handle"] == [
        {"body": "forbidden", "handler": "static_response", "status_code": 403}
    ]
    # Then (no path matcher: there is no public page) the panel, over every api host's port.
    (proxy,) = [h for r in rest for h in r["handle"] if h["handler"] == "reverse_proxy"]
    assert all("match" not in r for r in rest)
    assert [u["dial"] for u in proxy["upstreams"]] == ["10.0.0.31:3000", "10.0.0.32:3000"]
    assert proxy["health_checks"]["active"]["uri"] == "/health"
    assert proxy["load_balancing"]["selection_policy"] == {"policy": "round_robin"}
