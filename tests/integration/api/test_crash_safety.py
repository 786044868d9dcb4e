"""A team create interrupted at each step converges on retry: exactly one LiteLLM team and one
key, the stored key works, nothing orphaned. Failures are injected between the real calls (the
call to LiteLLM happens, then its answer is "lost"), never instead of them."""

from __future__ import annotations

import pytest
from saas_api.litellm import LiteLLMClient, LiteLLMUnavailable

from saas_api import teams as team_service

from .conftest import masked
from .helpers import new_group, new_org, team_body


class InjectedCrash(RuntimeError):
    """Stands for the process dying or the database going away at that point."""


def lose_answer(method):
    """The real LiteLLM call happens; the caller sees a timeout instead of its answer."""

    async def wrapper(self, *args, **kwargs):
        await method(self, *args, **kwargs)
        raise LiteLLMUnavailable("injected: answer lost after the call succeeded")

    return wrapper


def fail_before(method):
    async def wrapper(self, *args, **kwargs):
        raise LiteLLMUnavailable("injected: LiteLLM unreachable")

    return wrapper


async def crash(*args, **kwargs):
    raise InjectedCrash("injected: crash after LiteLLM finished, before the database write")


FAULTS = {
    "litellm down before the team": (LiteLLMClient, "create_team", fail_before),
    "team created, answer lost": (LiteLLMClient, "create_team", lose_answer),
    "team created, litellm down before the key": (LiteLLMClient, "generate_key", fail_before),
    "key generated, answer lost": (LiteLLMClient, "generate_key", lose_answer),
    "litellm done, database write failed": (team_service, "mark_active", None),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_interrupted_create_converges_on_retry(api, litellm, saas_db, models, fault):
    body = team_body(new_org(api), [new_group(api, models[:1])])
    team_id = body["litellm_team_id"]
    target, name, make = FAULTS[fault]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(target, name, crash if make is None else make(getattr(target, name)))
        failed = api.request("POST", "/api/teams/create", json=body)
    assert failed.status_code >= 500, failed.text
    if failed.status_code == 503:
        assert failed.json()["team_id"] == team_id and "retry" in failed.json()["detail"]
    rows = saas_db.rows("SELECT status FROM teams WHERE team_id = :'t'", t=team_id)
    assert rows == [{"status": "creating"}]  # the intent survived the failure

    retried = api.request("POST", "/api/teams/create", json=body)
    assert retried.status_code == 200, retried.text
    team = masked(retried.json())
    assert team["status"] == "active"
    assert saas_db.rows("SELECT status FROM teams WHERE team_id = :'t'", t=team_id) == [
        {"status": "active"}
    ]
    live = litellm.team(team_id)
    assert live is not None and live["team_info"]["models"] == models[:1]
    assert len(litellm.keys_of_team(team_id)) == 1
    answer = litellm.complete(team["virtual_key"], models[0])
    assert answer.status_code == 200, answer.text[:300]
    # and a third call changes nothing
    assert api.ok("POST", "/api/teams/create", json=body)["virtual_key"] == team["virtual_key"]
    assert len(litellm.keys_of_team(team_id)) == 1


def test_interrupted_rotation_converges_on_retry(api, litellm, models):
    team = api.ok(
        "POST", "/api/teams/create", json=team_body(new_org(api), [new_group(api, models[:1])])
    )
    team_id, old_key = team["team_id"], team["virtual_key"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LiteLLMClient, "generate_key", lose_answer(LiteLLMClient.generate_key))
        assert api.request("POST", f"/api/teams/{team_id}/rotate-key").status_code == 503
    assert litellm.complete(old_key, models[0]).status_code == 200  # still the current key
    rotated = api.ok("POST", f"/api/teams/{team_id}/rotate-key")
    assert litellm.complete(rotated["virtual_key"], models[0]).status_code == 200
    assert litellm.complete(old_key, models[0]).status_code == 401
    assert len(litellm.keys_of_team(team_id)) == 1


def test_interrupted_delete_finishes_on_retry(api, litellm, saas_db, models):
    team = api.ok(
        "POST", "/api/teams/create", json=team_body(new_org(api), [new_group(api, models[:1])])
    )
    team_id = team["team_id"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LiteLLMClient, "delete_team", lose_answer(LiteLLMClient.delete_team))
        assert api.request("DELETE", f"/api/teams/{team_id}").status_code == 503
    assert saas_db.rows("SELECT status FROM teams WHERE team_id = :'t'", t=team_id) == [
        {"status": "deleting"}
    ]
    api.ok("DELETE", f"/api/teams/{team_id}")
    assert saas_db.rows("SELECT 1 FROM teams WHERE team_id = :'t'", t=team_id) == []
    assert litellm.team(team_id) is None
