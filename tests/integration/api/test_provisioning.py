"""Seeding against the real services: the guide's example applied through LiteLLM's admin API
and the SaaS API (a real server process), then applied again without a single write, then three
edits that are exactly three updates reaching the team's key. State is read back with raw
clients, not with the provisioning code under test."""

from __future__ import annotations

import copy
import uuid

import pytest

from provisioning import snapshot
from provisioning.apply import apply, make_plan
from provisioning.clients import LiteLLMAdmin, SaasAdmin
from provisioning.spec import parse_spec
from tests.fakes.seed_spec import example_for_fake_provider

from .conftest import Masked
from .helpers import new_org, new_team


def example_spec(provider_url: str, provider_key: str) -> tuple[dict, dict[str, str]]:
    """The example, its names unique for this run, pointed at the fake provider."""
    data = example_for_fake_provider(f"{provider_url}/v1")
    return data, {c["name"]: provider_key for c in data["credentials"]}


# The session's LiteLLM runs one process (litellm_service.py, workers=1): a model it just wrote
# is in the only copy there is, so apply has no reload interval to wait out. The e2e tests run
# apply against two instances, with the wait.
ONE_PROCESS = 0


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
    result = apply(spec, secrets, changes, litellm, saas, model_reload_seconds=ONE_PROCESS)
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
    problems = [d for d in drift(snapshot.read(admin_litellm, saas)) if d.team_id == team_id]
    assert [d.problem for d in problems] == ["LiteLLM team budget differs"]

    repaired, writes = run(data, secrets, admin_litellm, saas)
    assert [(c.kind, c.name, c.fields) for c in repaired.changes if c.action != "unchanged"] == [
        ("team", team_id, ("litellm",))
    ]
    assert writes == 1
    live = litellm.team(team_id)["team_info"]
    assert live["max_budget"] == 100.0 and sorted(live["models"]) == group_models
    assert [d for d in drift(snapshot.read(admin_litellm, saas)) if d.team_id == team_id] == []


def test_prune_removes_what_the_spec_dropped_and_nothing_else(
    clients, litellm, litellm_proxy, fake_provider, saas_db, api, models
):
    admin_litellm, saas = clients
    data, secrets = example_spec(fake_provider.url, fake_provider.api_key)
    extra_team = dict(data["teams"][0], id=data["teams"][0]["id"] + "-extra", name="Extra Team")
    data["teams"].append(extra_team)
    run(data, secrets, admin_litellm, saas)
    # Added by hand (the admin panel, LiteLLM's UI): not the seed's to remove.
    hand_org = new_org(api)
    hand_team = new_team(api, models[:1])["team_id"]
    with litellm_proxy.admin() as raw:
        hand_model = f"hand-{uuid.uuid4().hex[:8]}"
        added = raw.post(
            "/model/new",
            json={
                "model_name": hand_model,
                "litellm_params": {"model": "openai/gpt-3.5-turbo", "api_base": fake_provider.url},
                "model_info": {"id": hand_model},
            },
        )
        assert added.status_code == 200, added.text[:300]
    # Earlier tests' seeded objects are the seed's too: a prune of this spec removes them.
    seeded_elsewhere = {
        row["team_id"]
        for row in saas_db.rows("SELECT team_id FROM teams WHERE managed_by = 'gateway-seed'")
    } - {t["id"] for t in data["teams"]}

    dropped_model = data["models"].pop(0)  # gpt-4-turbo: in no group
    data["teams"].remove(extra_team)
    spec = parse_spec(data, "seed.yaml", lambda ref: True)
    without_prune = make_plan(spec, secrets, admin_litellm, saas)
    assert all(c.action != "deleted" for c in without_prune)
    changes = make_plan(spec, secrets, admin_litellm, saas, prune=True)
    deleted = {(c.kind, c.name) for c in changes if c.action == "deleted"}
    assert {("team", extra_team["id"]), ("model", dropped_model["name"])} <= deleted
    assert {name for kind, name in deleted if kind == "team"} == (
        {extra_team["id"]} | seeded_elsewhere
    )
    apply(spec, secrets, changes, admin_litellm, saas, model_reload_seconds=ONE_PROCESS)

    teams = {r["team_id"] for r in saas_db.rows("SELECT team_id FROM teams")}
    assert extra_team["id"] not in teams and not seeded_elsewhere & teams
    assert {data["teams"][0]["id"], hand_team} <= teams
    assert litellm.team(extra_team["id"]) is None
    assert litellm.team(hand_team) is not None
    orgs = {r["id"] for r in saas_db.rows("SELECT id FROM organizations")}
    assert {hand_org, data["organizations"][0]["id"]} <= orgs
    live_models = {m["model_info"]["id"] for m in litellm.get("/model/info").json()["data"]}
    assert dropped_model["name"] not in live_models
    assert {hand_model} | {m["name"] for m in data["models"]} <= live_models
