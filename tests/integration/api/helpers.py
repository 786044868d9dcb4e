"""Building blocks the team tests share: an organization + group + team in one call."""

from __future__ import annotations

import time
import uuid


def new_org(api) -> str:
    name = f"Org {uuid.uuid4().hex[:8]}"
    return api.ok("POST", "/api/organizations/create", json={"name": name})["organization_id"]


def new_group(api, models: list[str]) -> str:
    name = f"group-{uuid.uuid4().hex[:8]}"
    api.ok("POST", "/api/model-groups/create", json={"name": name, "models": models})
    return name


def team_body(org_id: str, groups: list[str] | None, **extra) -> dict:
    body = {
        "name": f"Team {uuid.uuid4().hex[:8]}",
        "organization_id": org_id,
        "litellm_team_id": f"team-{uuid.uuid4().hex[:10]}",
        "max_budget": 100.0,
    }
    if groups is not None:
        body["model_groups"] = groups
    return body | extra


def new_team(api, models: list[str], **extra) -> dict:
    body = team_body(new_org(api), [new_group(api, models)], **extra)
    return api.ok("POST", "/api/teams/create", json=body)


def eventually(check, *, timeout: float = 60, interval: float = 1.0, what: str = "condition"):
    """Poll `check` until it returns a truthy value; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not reached within {timeout} s (last: {last!r})")
