"""Teams end to end against the real LiteLLM: keys limited to the groups' models, budgets,
changes propagated, suspend/resume, rotation, top-ups, usage, deletion."""

from __future__ import annotations

from .conftest import masked
from .helpers import eventually, new_group, new_org, new_team, team_body


def test_seed_team_body_gets_a_litellm_team_and_a_working_key(api, litellm, saas_db, models):
    org_id = new_org(api)
    group = new_group(api, models[:1])
    body = team_body(org_id, [group])
    created = api.request("POST", "/api/teams/create", json=body)
    assert created.status_code == 201, created.json().get("detail")
    team = masked(created.json())
    assert team["team_id"] == body["litellm_team_id"]
    assert team["status"] == "active" and team["models"] == models[:1]
    key = team["virtual_key"]
    assert key.startswith("sk-")

    live = litellm.team(team["team_id"])["team_info"]
    assert live["max_budget"] == 100.0 and live["models"] == models[:1]
    assert len(litellm.keys_of_team(team["team_id"])) == 1
    stored = saas_db.rows(
        "SELECT status, key_ciphertext FROM teams WHERE team_id = :'t'", t=team["team_id"]
    )
    assert stored[0]["status"] == "active"
    assert key not in stored[0]["key_ciphertext"]  # encrypted at rest

    answer = litellm.complete(key, models[0])
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["choices"][0]["message"]["content"]
    outside = litellm.complete(key, models[1])
    assert outside.status_code in (401, 403), outside.text[:300]

    got = api.ok("GET", f"/api/teams/{team['team_id']}")
    assert got["virtual_key"] == key and got["model_groups"] == [group]
    assert got["spend"] is not None and got["remaining_budget"] is not None
    assert "virtual_key" not in [k for t in api.ok("GET", "/api/teams") for k, v in t.items() if v]


def test_create_retry_is_idempotent_and_a_different_body_conflicts(api, litellm, models):
    org_id = new_org(api)
    body = team_body(org_id, [new_group(api, models[:1])], rpm_limit=100)
    first = api.ok("POST", "/api/teams/create", json=body, expect=(201,))
    again = api.ok("POST", "/api/teams/create", json=body, expect=(200,))
    assert again["virtual_key"] == first["virtual_key"]
    conflict = api.request(
        "POST", "/api/teams/create", json=body | {"max_budget": 5.0, "rpm_limit": 7}
    )
    assert conflict.status_code == 409
    assert conflict.json()["fields"] == ["max_budget", "rpm_limit"]
    assert len(litellm.keys_of_team(body["litellm_team_id"])) == 1


def test_team_without_groups_and_no_default_is_refused_and_nothing_is_created(
    api, litellm, saas_db
):
    body = team_body(new_org(api), None)
    answer = api.request("POST", "/api/teams/create", json=body)
    assert answer.status_code == 422
    assert "model_groups" in answer.json()["detail"]
    assert saas_db.rows("SELECT 1 FROM teams WHERE team_id = :'t'", t=body["litellm_team_id"]) == []
    assert litellm.team(body["litellm_team_id"]) is None


def test_team_update_reaches_litellm(api, litellm, models):
    team = new_team(api, models[:1])
    other = new_group(api, models[1:3])
    updated = api.ok(
        "PUT",
        f"/api/teams/{team['team_id']}",
        json={"max_budget": 42.5, "rpm_limit": 30, "model_groups": [other]},
    )
    assert updated["models"] == sorted(models[1:3])
    live = litellm.team(team["team_id"])["team_info"]
    assert (live["max_budget"], live["rpm_limit"]) == (42.5, 30)
    assert sorted(live["models"]) == sorted(models[1:3])
    assert litellm.complete(team["virtual_key"], models[2]).status_code == 200
    assert litellm.complete(team["virtual_key"], models[0]).status_code in (401, 403)
    cleared = api.ok("PUT", f"/api/teams/{team['team_id']}", json={"rpm_limit": None})
    assert cleared["rpm_limit"] is None
    assert litellm.team(team["team_id"])["team_info"]["rpm_limit"] is None


def test_model_group_change_propagates_and_assigned_group_cannot_be_deleted(api, litellm, models):
    group = new_group(api, models[:1])
    team = api.ok("POST", "/api/teams/create", json=team_body(new_org(api), [group]))
    api.ok("PUT", f"/api/model-groups/{group}", json={"models": models[:2]})
    live = litellm.team(team["team_id"])["team_info"]
    assert sorted(live["models"]) == sorted(models[:2])
    key_info = litellm.get("/key/info", key=team["virtual_key"]).json()["info"]
    assert sorted(key_info["models"]) == sorted(models[:2])
    assert litellm.complete(team["virtual_key"], models[1]).status_code == 200
    refused = api.request("DELETE", f"/api/model-groups/{group}")
    assert refused.status_code == 409 and refused.json()["teams"] == [team["team_id"]]


def test_suspend_resume_and_rotate(api, litellm, models):
    team = new_team(api, models[:1])
    team_id, key = team["team_id"], team["virtual_key"]
    api.ok("POST", f"/api/teams/{team_id}/suspend")
    assert litellm.complete(key, models[0]).status_code == 401
    api.ok("POST", f"/api/teams/{team_id}/resume")
    assert litellm.complete(key, models[0]).status_code == 200

    rotated = api.ok("POST", f"/api/teams/{team_id}/rotate-key")
    new_key = rotated["virtual_key"]
    assert new_key != key and rotated["key_alias"] == f"{team_id}_key_2"
    assert litellm.complete(new_key, models[0]).status_code == 200
    assert litellm.complete(key, models[0]).status_code == 401
    assert len(litellm.keys_of_team(team_id)) == 1
    assert api.ok("GET", f"/api/teams/{team_id}")["virtual_key"] == new_key


def test_credits_add_once_per_reference(api, litellm, saas_db, models):
    team = new_team(api, models[:1], max_budget=10.0)
    team_id = team["team_id"]
    body = {"amount": 2.5, "reference": "invoice-1"}
    assert api.ok("POST", f"/api/teams/{team_id}/credits", json=body)["max_budget"] == 12.5
    assert api.ok("POST", f"/api/teams/{team_id}/credits", json=body)["max_budget"] == 12.5
    api.ok("POST", f"/api/teams/{team_id}/credits", json={"amount": 0.1})
    assert litellm.team(team_id)["team_info"]["max_budget"] == 12.6
    rows = saas_db.rows("SELECT max_budget::text FROM teams WHERE team_id = :'t'", t=team_id)
    assert rows == [{"max_budget": "12.600000"}]


def test_usage_shows_spend_per_model_and_budget_is_enforced(api, litellm, models):
    team = new_team(api, models[:2], max_budget=0.000001)
    team_id, key = team["team_id"], team["virtual_key"]
    assert litellm.complete(key, models[0]).status_code == 200

    def spent():
        usage = api.ok("GET", f"/api/teams/{team_id}/usage")
        return usage if usage["spend"] > 0 and usage["models"] else None

    usage = eventually(spent, timeout=60, what="LiteLLM spend for the team")
    assert [m["model"] for m in usage["models"]] == [models[0]]
    assert usage["remaining_budget"] == max(usage["max_budget"] - usage["spend"], 0)
    # Over budget now: LiteLLM refuses the key (budget_exceeded).
    refused = eventually(
        lambda: (r := litellm.complete(key, models[0])).status_code != 200 and r,
        timeout=30,
        what="the over-budget key refused",
    )
    assert "budget" in refused.text.lower()


def test_delete_removes_litellm_team_and_key(api, litellm, saas_db, models):
    team = new_team(api, models[:1])
    team_id = team["team_id"]
    api.ok("DELETE", f"/api/teams/{team_id}")
    assert litellm.team(team_id) is None
    assert litellm.complete(team["virtual_key"], models[0]).status_code == 401
    assert saas_db.rows("SELECT 1 FROM teams WHERE team_id = :'t'", t=team_id) == []
    assert api.request("GET", f"/api/teams/{team_id}").status_code == 404
    org = api.ok("GET", f"/api/organizations/{team['organization_id']}")
    assert org["teams"] == []
    api.ok("DELETE", f"/api/organizations/{team['organization_id']}")


def test_organization_with_teams_cannot_be_deleted(api, models):
    team = new_team(api, models[:1])
    answer = api.request("DELETE", f"/api/organizations/{team['organization_id']}")
    assert answer.status_code == 409 and "team" in answer.json()["detail"]
