"""Organizations and model groups: the seed's request shapes, idempotent creates, refusals."""

from __future__ import annotations

from pathlib import Path

import saas_api

REVISIONS = list((Path(saas_api.__file__).parent / "migrations" / "versions").glob("0*.py"))


def test_migrations_ran_once_and_a_rerun_applies_nothing(saas_db):
    assert saas_db.first_pending == f"pending {len(REVISIONS)}"
    assert f"{len(REVISIONS)} to apply" in saas_db.first_migration
    assert "0 to apply" in saas_db.migrate().stdout
    assert saas_db.migrate("--pending").stdout.strip() == "pending 0"
    tables = {r["tablename"] for r in saas_db.rows("SELECT tablename FROM pg_tables")}
    assert {"organizations", "model_groups", "teams", "team_model_groups", "credits"} <= tables
    assert {"admin_sessions", "admin_login_failures", "audit_events"} <= tables
    managed = saas_db.rows(
        "SELECT table_name FROM information_schema.columns WHERE column_name = 'managed_by'"
    )
    assert sorted(r["table_name"] for r in managed) == ["model_groups", "organizations", "teams"]


def test_health_and_readiness(api):
    assert api.request("GET", "/health", admin=False).json() == {"status": "ok"}
    ready = api.request("GET", "/health/ready", admin=False)
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"ready": True, "database": "ok", "litellm": "ok"}


def test_organization_from_the_seed_body_is_created_once(api, saas_db, unique):
    name = unique("Test Org")
    body = {"name": name, "litellm_organization_id": unique("test-org")}
    first = api.request("POST", "/api/organizations/create", json=body)
    assert first.status_code == 201, first.text
    org_id = first.json()["organization_id"]
    assert org_id.startswith("org_")
    again = api.request("POST", "/api/organizations/create", json=body)
    assert again.status_code == 200 and again.json()["organization_id"] == org_id
    rows = saas_db.rows("SELECT id, name FROM organizations WHERE name = :'n'", n=name)
    assert rows == [{"id": org_id, "name": name}]
    changed = api.request(
        "POST", "/api/organizations/create", json=body | {"litellm_organization_id": "other"}
    )
    assert changed.status_code == 409
    assert changed.json()["fields"] == ["litellm_organization_id"]


def test_organization_with_a_chosen_id_lists_gets_updates_and_deletes(api, saas_db, unique):
    org_id = unique("acme")
    body = {"name": unique("Acme"), "organization_id": org_id}
    created = api.ok("POST", "/api/organizations/create", json=body)
    assert created["organization_id"] == org_id
    assert org_id in [o["organization_id"] for o in api.ok("GET", "/api/organizations")]
    new_name = unique("Acme Renamed")
    api.ok("PUT", f"/api/organizations/{org_id}", json={"name": new_name})
    assert saas_db.rows("SELECT name FROM organizations WHERE id = :'i'", i=org_id) == [
        {"name": new_name}
    ]
    got = api.ok("GET", f"/api/organizations/{org_id}")
    assert got["name"] == new_name and got["teams"] == []
    api.ok("DELETE", f"/api/organizations/{org_id}")
    assert api.request("GET", f"/api/organizations/{org_id}").status_code == 404
    assert saas_db.rows("SELECT id FROM organizations WHERE id = :'i'", i=org_id) == []


def test_model_group_with_unknown_models_is_refused_listing_them(api, saas_db, models, unique):
    name = unique("bad-group")
    answer = api.request(
        "POST",
        "/api/model-groups/create",
        json={"name": name, "models": [models[0], "no-such-model", "gpt-9"]},
    )
    assert answer.status_code == 422
    assert answer.json()["unknown_models"] == ["no-such-model", "gpt-9"]
    assert "no-such-model" in answer.json()["detail"]
    assert saas_db.rows("SELECT name FROM model_groups WHERE name = :'n'", n=name) == []


def test_model_group_create_get_list_and_idempotent_retry(api, saas_db, models, unique):
    name = unique("standard-models")
    body = {"name": name, "models": models[:2], "description": "the usual"}
    assert api.request("POST", "/api/model-groups/create", json=body).status_code == 201
    assert api.request("POST", "/api/model-groups/create", json=body).status_code == 200
    conflict = api.request("POST", "/api/model-groups/create", json=body | {"models": models})
    assert conflict.status_code == 409 and conflict.json()["fields"] == ["models"]
    stored = saas_db.rows("SELECT models, description FROM model_groups WHERE name = :'n'", n=name)
    assert stored == [{"models": models[:2], "description": "the usual"}]
    assert api.ok("GET", f"/api/model-groups/{name}")["models"] == models[:2]
    assert name in [g["name"] for g in api.ok("GET", "/api/model-groups")]
    api.ok("DELETE", f"/api/model-groups/{name}")
    assert api.request("GET", f"/api/model-groups/{name}").status_code == 404
