"""The SaaS API on the testbed, in both topologies: the setup guide's "Test SaaS API → LiteLLM
Connection" and "Test with Team Key" steps, run with curl exactly as the guide writes them (only
the host:port differ: SSH tunnels to the deployed services), after its Step 2 and Step 3 set-up
(models in LiteLLM, the `standard-models` group); the team key's limits; the firewall."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import httpx
import pytest

from .conftest import SAAS_API_PORT, answering, probe, secret

# The guide's commands, verbatim but for the base URLs and the organization id placeholder.
SEED_CREATE_ORG = """curl -X POST http://localhost:8003/api/organizations/create \\
  -H "X-Admin-Key: $MASTER_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{
    "name": "Test Org",
    "litellm_organization_id": "test-org"
  }'"""
SEED_CREATE_TEAM = """curl -X POST http://localhost:8003/api/teams/create \\
  -H "X-Admin-Key: $MASTER_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{
    "name": "Test Team",
    "organization_id": "org_...",
    "litellm_team_id": "test-team",
    "max_budget": 100.0
  }'"""
SEED_GET_TEAM = """curl http://localhost:8003/api/teams/{team_id} \\
  -H "X-Admin-Key: $MASTER_KEY\""""
SEED_TEAM_REQUEST = """curl -X POST http://localhost:8002/chat/completions \\
  -H "Authorization: Bearer $TEAM_VIRTUAL_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{
    "model": "gpt-3.5-turbo",
    "messages": [{"role": "user", "content": "Hello from team!"}]
  }'"""


def seed_curl(command: str, saas_url: str, litellm_url: str, **env) -> dict:
    """Run one of the guide's commands in bash; its JSON answer."""
    script = command.replace("http://localhost:8003", saas_url).replace(
        "http://localhost:8002", litellm_url
    )
    result = subprocess.run(
        ["bash", "-c", script.replace("curl ", "curl -sS --fail-with-body --max-time 120 ", 1)],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert result.returncode == 0, (result.returncode, result.stdout[-800:], result.stderr[-800:])
    return json.loads(result.stdout)


def ensure_model(admin, name: str, fake_provider_url: str, credential: str):
    """The guide's Step 2 through LiteLLM's API: `name` routed to the fake provider."""
    known = {m["model_name"] for m in admin.get("/model/info").json()["data"]}
    if name in known:
        return
    answer = admin.post(
        "/model/new",
        json={
            "model_name": name,
            "litellm_params": {
                "model": "openai/fake-model",
                "api_base": fake_provider_url,
                "litellm_credential_name": credential,
                "input_cost_per_token": 0.000002,
                "output_cost_per_token": 0.000004,
            },
            "model_info": {"id": f"seed-{name}"},
        },
    )
    assert answer.status_code == 200, answer.text[:300]


@pytest.fixture(scope="session")
def seed_setup(admin, saas_api, fake_provider_url):
    """Step 2 (credential and models in LiteLLM) and Step 3's model group in the SaaS API."""
    credential = "openai-main"
    listed = admin.get("/credentials").json().get("credentials", [])
    if credential not in [c.get("credential_name") for c in listed]:
        created = admin.post(
            "/credentials",
            json={
                "credential_name": credential,
                "credential_values": {"api_key": "sk-fake-" + uuid.uuid4().hex},
                "credential_info": {"custom_llm_provider": "openai"},
            },
        )
        assert created.status_code == 200, created.text[:300]
    for name in ("gpt-3.5-turbo", "gpt-4-turbo"):
        ensure_model(admin, name, fake_provider_url, credential)
    with saas_client(saas_api) as client:
        # LiteLLM workers learn database models within ~30 s: the live check may lag.
        deadline = time.monotonic() + 90
        while True:
            group = client.post(
                "/api/model-groups/create",
                json={"name": "standard-models", "models": ["gpt-3.5-turbo"]},
            )
            if group.status_code in (200, 201) or time.monotonic() > deadline:
                break
            time.sleep(3)
        assert group.status_code in (200, 201), group.text
    return {"group": "standard-models", "outside_model": "gpt-4-turbo"}


def saas_client(url: str) -> httpx.Client:
    return httpx.Client(
        base_url=url, headers={"X-Admin-Key": secret("saas_api_master_key")}, timeout=120
    )


def test_seed_saas_api_to_litellm_connection_and_team_key(saas_api, litellm, seed_setup):
    env = {"MASTER_KEY": secret("saas_api_master_key")}
    org = seed_curl(SEED_CREATE_ORG, saas_api, litellm, **env)
    assert org["organization_id"].startswith("org_") and org["name"] == "Test Org"
    team = seed_curl(
        SEED_CREATE_TEAM.replace("org_...", org["organization_id"]), saas_api, litellm, **env
    )
    assert team["team_id"] == "test-team" and team["model_groups"] == [seed_setup["group"]]
    info = seed_curl(SEED_GET_TEAM.format(team_id="test-team"), saas_api, litellm, **env)
    key = info["virtual_key"]
    assert key == team["virtual_key"] and key.startswith("sk-")

    answer = seed_curl(SEED_TEAM_REQUEST, saas_api, litellm, TEAM_VIRTUAL_KEY=key)
    assert answer["choices"][0]["message"]["content"]
    # the guide's steps again change nothing
    assert (
        seed_curl(SEED_CREATE_ORG, saas_api, litellm, **env)["organization_id"]
        == org["organization_id"]
    )


def test_the_team_key_is_limited_to_its_groups_models(saas_api, litellm, seed_setup):
    with saas_client(saas_api) as client:
        key = client.get("/api/teams/test-team").json()["virtual_key"]
    outside = httpx.post(
        f"{litellm}/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "model": seed_setup["outside_model"],
            "messages": [{"role": "user", "content": "not mine"}],
        },
        timeout=60,
    )
    assert outside.status_code in (401, 403), outside.text[:300]


def test_the_team_key_is_limited_to_its_budget(saas_api, litellm, seed_setup):
    with saas_client(saas_api) as client:
        org = client.post("/api/organizations/create", json={"name": "Budget Org"}).json()
        team = client.post(
            "/api/teams/create",
            json={
                "name": "Tiny Budget",
                "organization_id": org["organization_id"],
                "max_budget": 0.000001,
                "model_groups": [seed_setup["group"]],
            },
        )
        assert team.status_code in (200, 201), team.text
    key = team.json()["virtual_key"]
    codes = []
    for _ in range(30):
        answer = httpx.post(
            f"{litellm}/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "spend"}]},
            timeout=60,
        )
        codes.append(answer.status_code)
        if answer.status_code != 200:
            assert "budget" in answer.text.lower(), answer.text[:300]
            break
        time.sleep(1)
    assert codes[0] == 200 and codes[-1] != 200, codes


def test_the_api_port_is_open_to_the_edge_only(roles, topology, saas_api):
    address = roles["address"][roles["api"]]
    assert probe(roles["edge"], address, SAAS_API_PORT).stdout.strip() == "open"
    sources = [None] + ([roles["db"], roles["llm"]] if topology == "split" else [])
    assert answering((source, address, SAAS_API_PORT) for source in sources) == []
