"""Seeding against the real services: the guide's example applied through LiteLLM's admin API
and the SaaS API (a real server process), then applied again without a single write, then three
edits that are exactly three updates reaching the team's key. State is read back with raw
clients, not with the provisioning code under test."""

from __future__ import annotations

import copy

import pytest

from provisioning.apply import apply, make_plan
from provisioning.clients import LiteLLMAdmin, SaasAdmin
from provisioning.spec import parse_spec
from tests.fakes.seed_spec import example_for_fake_provider

from .conftest import Masked


def example_spec(provider_url: str, provider_key: str) -> tuple[dict, dict[str, str]]:
    """The example, its names unique for this run, pointed at the fake provider."""
    data = example_for_fake_provider(f"{provider_url}/v1")
    return data, {c["name"]: provider_key for c in data["credentials"]}


@pytest.fixture
def clients(litellm_proxy, saas_api_server, saas_settings):
    with (
        LiteLLMAdmin(litellm_proxy.base_url, litellm_proxy.master_key) as litellm,
        SaasAdmin(saas_api_server, saas_settings.master_key.get_secret_value()) as saas,
    ):
        yield litellm, saas


def run(data, secrets, litellm, saas):
    spec = parse_spec(data, "seed.yaml", lambda ref: True)
    changes = make_plan(spec, secrets, litellm, saas)
    writes_before = litellm.writes + saas.writes
    result = apply(spec, secrets, changes, litellm, saas)
    return result, litellm.writes + saas.writes - writes_before


def test_apply_creates_then_changes_nothing_then_exactly_three_updates(
    clients, litellm, fake_provider, saas_db
):
    admin_litellm, saas = clients
    data, secrets = example_spec(fake_provider.url, fake_provider.api_key)
    team_id = data["teams"][0]["id"]

    first, writes = run(data, secrets, admin_litellm, saas)
    assert [c.action for c in first.changes] == ["created"] * 8
    assert writes == 8
    key = Masked(first.issued_keys[team_id])
    model_ids = {m["name"] for m in data["models"]}
    live_ids = {m["model_info"]["id"] for m in litellm.get("/model/info").json()["data"]}
    assert model_ids <= live_ids
    teams = saas_db.rows("SELECT team_id, status FROM teams WHERE team_id = :'t'", t=team_id)
    assert teams == [{"team_id": team_id, "status": "active"}]
    group_models = data["model_groups"][0]["models"]
    served = litellm.complete(key, group_models[0])
    assert served.status_code == 200, served.text[:400]

    second, writes = run(data, secrets, admin_litellm, saas)
    assert {c.action for c in second.changes} == {"unchanged"}
    assert writes == 0 and second.issued_keys == {}

    edited = copy.deepcopy(data)
    edited["models"][0]["input_cost_per_1k_tokens"] = 0.02
    edited["model_groups"][0]["models"] = group_models[:1]
    edited["teams"][0]["max_budget"] = 50.0
    third, writes = run(edited, secrets, admin_litellm, saas)
    updates = [(c.kind, c.fields) for c in third.changes if c.action != "unchanged"]
    assert updates == [
        ("model", ("input_cost_per_token",)),
        ("model_group", ("models",)),
        ("team", ("max_budget",)),
    ]
    assert writes == 3
    key_info = litellm.get("/key/info", key=key).json()["info"]
    assert key_info["models"] == group_models[:1]
    assert litellm.team(team_id)["team_info"]["max_budget"] == 50.0
    refused = litellm.complete(key, group_models[1])
    assert refused.status_code in (401, 403), refused.text[:300]
    price = next(
        m
        for m in litellm.get("/model/info").json()["data"]
        if m["model_info"]["id"] == data["models"][0]["name"]
    )
    assert price["litellm_params"]["input_cost_per_token"] == pytest.approx(0.00002)


def test_out_of_band_change_in_litellm_shows_in_drift_and_apply_repairs_it(
    clients, litellm, litellm_proxy, fake_provider
):
    from provisioning.drift import drift

    admin_litellm, saas = clients
    data, secrets = example_spec(fake_provider.url, fake_provider.api_key)
    run(data, secrets, admin_litellm, saas)
    team_id = data["teams"][0]["id"]
    group_models = sorted(data["model_groups"][0]["models"])
    with litellm_proxy.admin() as raw:  # an operator "fixing" LiteLLM by hand
        changed = raw.post("/team/update", json={"team_id": team_id, "max_budget": 1.0})
        assert changed.status_code == 200, changed.text[:300]
    problems = [d for d in drift(admin_litellm, saas) if d.team_id == team_id]
    assert [d.problem for d in problems] == ["LiteLLM team budget differs"]

    repaired, writes = run(data, secrets, admin_litellm, saas)
    assert [(c.kind, c.name, c.fields) for c in repaired.changes if c.action != "unchanged"] == [
        ("team", team_id, ("litellm",))
    ]
    assert writes == 1
    live = litellm.team(team_id)["team_info"]
    assert live["max_budget"] == 100.0 and sorted(live["models"]) == group_models
    assert [d for d in drift(admin_litellm, saas) if d.team_id == team_id] == []
