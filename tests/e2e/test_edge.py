"""The TLS edge on the testbed, in both topologies: clients reach LiteLLM and the SaaS API only
through Caddy over TLS that verifies against the CA the deploy fetched; inference and team
self-service are public; LiteLLM's UI and admin API and the SaaS admin routes answer only the
admin network (the control machine) and are refused from every other address (a testbed host
stands in for the internet).

Requests use curl with --resolve (the testbed has no DNS for the edge's names)."""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest

from provisioning.apply import apply, make_plan
from provisioning.clients import LiteLLMAdmin, SaasAdmin
from provisioning.spec import parse_spec
from tests.fakes.seed_spec import example_for_fake_provider

from .conftest import REPO, secret, ssh

GATEWAY, API = "gateway.testbed.internal", "api.testbed.internal"
CA = REPO / "secrets" / "testbed-edge-ca.crt"
# Where the outside host keeps its copy of the CA (as a client of the gateway would).
HOST_CA = "/tmp/gateway-edge-ca.crt"
FAKE_PROVIDER_KEY = "sk-fake-provider-key"


def curl_args(name: str, address: str, path: str, *, ca: str, scheme="https", extra=()):
    port = 443 if scheme == "https" else 80
    return [
        "curl",
        "-sS",
        "--max-time",
        "30",
        "--resolve",
        f"{name}:{port}:{address}",
        "--cacert",
        ca,
        "-o",
        "/dev/stderr",
        "-w",
        "%{http_code}",
        *extra,
        f"{scheme}://{name}{path}",
    ]


def from_admin(name, path, roles, **kwargs) -> tuple[int, str]:
    """A request from the control machine, which is the admin network."""
    args = curl_args(name, roles["address"][roles["edge"]], path, ca=str(CA), **kwargs)
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    return int(done.stdout or 0), done.stderr


def from_outside(source, name, path, roles, **kwargs) -> tuple[int, str]:
    """The same request from testbed host `source`, outside the admin networks."""
    args = curl_args(name, roles["address"][roles["edge"]], path, ca=HOST_CA, **kwargs)
    done = ssh(source, shlex.join(args), timeout=60)
    return int(done.stdout or 0), done.stderr


def header_args(headers: dict[str, str]) -> list[str]:
    return [arg for key, value in headers.items() for arg in ("-H", f"{key}: {value}")]


@pytest.fixture(scope="module")
def outsider(first_deploy, roles):
    """A testbed host acting as the internet (not in the admin networks): the db host, which in
    the single topology is the edge itself. It gets the CA the deploy fetched, as a client
    would."""
    copied = ssh(roles["db"], f"cat > {HOST_CA}", input=CA.read_text(), timeout=60)
    assert copied.returncode == 0, copied.stderr
    return roles["db"]


@pytest.fixture(scope="module")
def team(litellm, saas_api, fake_provider_url):
    """The guide's example seeded (names unique to this run): its team id, key and models."""
    data = example_for_fake_provider(fake_provider_url)
    secrets = {c["name"]: FAKE_PROVIDER_KEY for c in data["credentials"]}
    spec = parse_spec(data, "seed.yaml", lambda ref: True)
    with (
        LiteLLMAdmin(litellm, secret("litellm_master_key")) as admin_litellm,
        SaasAdmin(saas_api, secret("saas_api_master_key")) as saas,
    ):
        result = apply(
            spec, secrets, make_plan(spec, secrets, admin_litellm, saas), admin_litellm, saas
        )
    team_id = data["teams"][0]["id"]
    return {
        "id": team_id,
        "key": result.issued_keys[team_id],
        "model": data["model_groups"][0]["models"][0],
    }


def chat_args(key: str, model: str) -> list[str]:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "via the edge"}]})
    return [
        *header_args({"Authorization": f"Bearer {key}", "Content-Type": "application/json"}),
        "-d",
        body,
    ]


def test_tls_verifies_against_the_fetched_ca_and_http_redirects(first_deploy, roles):
    assert CA.exists(), "the deploy did not fetch the edge's CA"
    status, body = from_admin(GATEWAY, "/health/liveliness", roles)
    assert status == 200, body
    status, _ = from_admin(GATEWAY, "/health/liveliness", roles, scheme="http")
    assert status in (301, 308)
    # TLS 1.2 is refused: the edge speaks TLS 1.3 only.
    status, error = from_admin(GATEWAY, "/health/liveliness", roles, extra=("--tls-max", "1.2"))
    assert status == 0 and "alert" in error.lower(), error


def test_security_headers_are_set(first_deploy, roles):
    status, headers = from_admin(API, "/health", roles, extra=("-D", "/dev/stderr"))
    assert status == 200
    lowered = headers.lower()
    assert "strict-transport-security: max-age=31536000" in lowered
    assert "x-content-type-options: nosniff" in lowered
    assert "x-frame-options: deny" in lowered
    assert "\nserver:" not in lowered


def test_a_team_key_works_over_tls_from_outside(first_deploy, roles, outsider, team):
    status, body = from_outside(
        outsider, GATEWAY, "/chat/completions", roles, extra=chat_args(team["key"], team["model"])
    )
    assert status == 200, body[:300]
    assert json.loads(body)["choices"][0]["message"]["content"]
    usage_headers = header_args({"Authorization": f"Bearer {team['key']}"})
    status, body = from_outside(outsider, API, "/api/me/usage", roles, extra=usage_headers)
    assert status == 200, body[:300]


@pytest.mark.parametrize(
    ("site", "path"),
    [
        (GATEWAY, "/ui/"),
        (GATEWAY, "/login"),
        (GATEWAY, "/key/list"),
        (GATEWAY, "/model/new"),
        (GATEWAY, "/team/list"),
        (API, "/api/teams"),
        (API, "/api/organizations"),
    ],
)
def test_admin_surfaces_are_refused_from_outside_and_served_to_admins(
    first_deploy, roles, outsider, site, path
):
    credentials = (
        {"Authorization": f"Bearer {secret('litellm_master_key')}"}
        if site == GATEWAY
        else {"X-Admin-Key": secret("saas_api_master_key")}
    )
    status, body = from_outside(outsider, site, path, roles, extra=header_args(credentials))
    assert status == 403 and body == "forbidden", body[:300]
    status, body = from_admin(site, path, roles, extra=header_args(credentials))
    # The service's own answer (GET on a POST route is 405), not the edge's refusal.
    assert status in (200, 307, 405) and body != "forbidden", body[:300]


def test_the_admin_network_reads_team_info_through_the_edge(first_deploy, roles, team):
    status, body = from_admin(
        API,
        f"/api/teams/{team['id']}",
        roles,
        extra=header_args({"X-Admin-Key": secret("saas_api_master_key")}),
    )
    assert status == 200, body[:300]
    assert json.loads(body)["virtual_key"] == team["key"]
