"""Who may call what, and bad input: a 4xx naming the field, nothing half-created."""

from __future__ import annotations

import pytest

from .helpers import new_group, new_org, new_team, team_body

ADMIN_ROUTES = [
    ("GET", "/api/organizations"),
    ("POST", "/api/organizations/create"),
    ("GET", "/api/organizations/org_x"),
    ("PUT", "/api/organizations/org_x"),
    ("DELETE", "/api/organizations/org_x"),
    ("GET", "/api/model-groups"),
    ("POST", "/api/model-groups/create"),
    ("GET", "/api/model-groups/g"),
    ("PUT", "/api/model-groups/g"),
    ("DELETE", "/api/model-groups/g"),
    ("GET", "/api/teams"),
    ("POST", "/api/teams/create"),
    ("GET", "/api/teams/t"),
    ("PUT", "/api/teams/t"),
    ("DELETE", "/api/teams/t"),
    ("POST", "/api/teams/t/suspend"),
    ("POST", "/api/teams/t/resume"),
    ("POST", "/api/teams/t/rotate-key"),
    ("POST", "/api/teams/t/credits"),
]


@pytest.fixture(scope="module")
def two_teams(api, models):
    return new_team(api, models[:1]), new_team(api, models[:1])


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_admin_routes_refuse_no_key_wrong_key_and_team_keys(api, two_teams, method, path):
    team_key = two_teams[0]["virtual_key"]
    no_key = api.request(method, path, admin=False, json={})
    assert no_key.status_code == 401, no_key.text
    wrong = api.request(method, path, admin=False, headers={"X-Admin-Key": "x" * 40}, json={})
    assert wrong.status_code == 403, wrong.text
    as_team = api.request(
        method, path, admin=False, headers={"Authorization": f"Bearer {team_key}"}, json={}
    )
    assert as_team.status_code == 401, as_team.text
    # the team key as the admin key is just a wrong admin key
    team_as_admin = api.request(method, path, admin=False, headers={"X-Admin-Key": team_key})
    assert team_as_admin.status_code == 403


def test_a_team_sees_its_own_usage_and_nothing_of_another(api, two_teams):
    team_a, team_b = two_teams
    bearer_a = {"Authorization": f"Bearer {team_a['virtual_key']}"}
    own = api.request("GET", f"/api/teams/{team_a['team_id']}/usage", admin=False, headers=bearer_a)
    assert own.status_code == 200 and own.json()["team_id"] == team_a["team_id"]
    me = api.request("GET", "/api/me/usage", admin=False, headers=bearer_a)
    assert me.status_code == 200 and me.json()["team_id"] == team_a["team_id"]
    other = api.request(
        "GET", f"/api/teams/{team_b['team_id']}/usage", admin=False, headers=bearer_a
    )
    assert other.status_code == 403
    assert team_b["team_id"] not in other.text
    for headers in ({}, {"Authorization": "Bearer sk-not-a-team-key-at-all-000000000"}):
        assert api.request("GET", "/api/me/usage", admin=False, headers=headers).status_code == 401
    admin = api.request("GET", f"/api/teams/{team_b['team_id']}/usage")
    assert admin.status_code == 200


def test_health_needs_no_key_and_reveals_nothing(api):
    answer = api.request("GET", "/health/ready", admin=False)
    assert set(answer.json()) == {"ready", "database", "litellm"}


def _count(saas_db, table: str) -> int:
    return len(saas_db.rows(f"SELECT 1 FROM {table}"))


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ('{"name": "Broken", ', "not valid JSON"),
        ({"name": "T", "organization_id": "ORG", "max_budget": "100"}, "max_budget"),
        ({"name": "T", "organization_id": "ORG", "max_budget": -1}, "max_budget"),
        ({"name": "T", "organization_id": "ORG", "max_budget": 1, "rpm_limit": 0}, "rpm_limit"),
        (
            {"name": "T", "organization_id": "ORG", "max_budget": 1, "budget_duration": "1y"},
            "budget_duration",
        ),
        (
            {"name": "T", "organization_id": "ORG", "max_budget": 1, "model_groups": "g"},
            "model_groups",
        ),
        ({"name": "T", "organization_id": "ORG", "max_budget": 1, "colour": "red"}, "colour"),
        ({"name": "T", "organization_id": "no-such-org", "max_budget": 1}, "organization_id"),
        ({"organization_id": "ORG", "max_budget": 1}, "name"),
        (
            {"name": "T", "organization_id": "ORG", "max_budget": 1, "model_groups": ["nope"]},
            "model_groups",
        ),
    ],
)
def test_bad_team_input_names_the_field_and_creates_nothing(
    api, litellm, saas_db, models, payload, field
):
    org_id = new_org(api)
    before = {t: _count(saas_db, t) for t in ("teams", "team_model_groups", "credits")}
    if isinstance(payload, dict):
        payload = {k: (org_id if v == "ORG" else v) for k, v in payload.items()}
        answer = api.request("POST", "/api/teams/create", json=payload)
    else:
        answer = api.request(
            "POST",
            "/api/teams/create",
            content=payload,
            headers={"Content-Type": "application/json"},
        )
    assert 400 <= answer.status_code < 500, answer.text
    assert field in answer.json()["detail"], answer.json()
    assert before == {t: _count(saas_db, t) for t in before}


def test_oversized_body_is_refused_before_anything_happens(api, saas_db):
    before = _count(saas_db, "organizations")
    huge = {"name": "Huge", "litellm_organization_id": "x" * (64 * 1024)}
    answer = api.request("POST", "/api/organizations/create", json=huge)
    assert answer.status_code == 413 and "request body" in answer.json()["detail"]
    chunks = (b'{"name": "' + b"y" * 4096 for _ in range(8))
    streamed = api.request(
        "POST",
        "/api/organizations/create",
        content=chunks,
        headers={"Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    assert _count(saas_db, "organizations") == before


def test_bad_model_group_and_credit_input(api, two_teams, models):
    group = api.request("POST", "/api/model-groups/create", json={"name": "g-empty", "models": []})
    assert group.status_code == 422 and "models" in group.json()["detail"]
    twice = api.request(
        "POST", "/api/model-groups/create", json={"name": "g-dup", "models": [models[0]] * 2}
    )
    assert twice.status_code == 422 and "more than once" in twice.json()["detail"]
    team_id = two_teams[0]["team_id"]
    for amount in (0, -5, "5"):
        answer = api.request("POST", f"/api/teams/{team_id}/credits", json={"amount": amount})
        assert answer.status_code == 422 and "amount" in answer.json()["detail"]


def test_default_group_applies_when_configured(saas_db, saas_settings, litellm, models):
    """A second app instance configured with DEFAULT_MODEL_GROUP."""
    from fastapi.testclient import TestClient
    from saas_api.main import create_app

    from .conftest import Api

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PGPASSWORD", saas_db.password)
        admin = Api(None, saas_settings)
        with TestClient(create_app(saas_settings)) as client:
            admin.client = client
            group = new_group(admin, models[2:3])
        settings = saas_settings.model_copy(update={"default_model_group": group})
        with TestClient(create_app(settings)) as client:
            admin.client = client
            team = admin.ok("POST", "/api/teams/create", json=team_body(new_org(admin), None))
    assert team["model_groups"] == [group] and team["models"] == models[2:3]
    assert litellm.team(team["team_id"])["team_info"]["models"] == models[2:3]
