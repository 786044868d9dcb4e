"""The SaaS API under concurrent writes, as a parallel apply sends them: requests through its real
server process (uvicorn) to the real LiteLLM, released together from several threads. State is
read back from LiteLLM and the SaaS API's database directly."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from .helpers import new_group, new_org, team_body

AT_ONCE = 4


def post_together(url: str, admin_key: str, bodies: list[dict]) -> list[httpx.Response]:
    """POST /api/teams/create once per body, every request released at the same moment."""
    start = threading.Barrier(len(bodies))

    def send(body):
        with httpx.Client(base_url=url, headers={"X-Admin-Key": admin_key}, timeout=120) as client:
            start.wait()
            return client.post("/api/teams/create", json=body)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(send, bodies))


def test_identical_creates_at_once_make_one_team_and_one_key(
    api, saas_api_server, saas_settings, litellm, saas_db, models
):
    admin_key = saas_settings.master_key.get_secret_value()
    org_id, group = new_org(api), new_group(api, models[:1])
    for _ in range(3):  # three rounds: the race window is narrow, each round opens it anew
        body = team_body(org_id, [group])
        answers = post_together(saas_api_server, admin_key, [body] * AT_ONCE)
        codes = sorted(a.status_code for a in answers)
        assert codes == [200] * (AT_ONCE - 1) + [201], [a.text[:200] for a in answers]
        assert len({a.json()["virtual_key"] for a in answers}) == 1
        team_id = body["litellm_team_id"]
        assert litellm.team(team_id)["team_info"]["team_id"] == team_id
        assert len(litellm.keys_of_team(team_id)) == 1
        rows = saas_db.rows("SELECT status FROM teams WHERE team_id = :'t'", t=team_id)
        assert rows == [{"status": "active"}]


def test_different_creates_at_once_each_get_their_own_team_and_key(
    api, saas_api_server, saas_settings, litellm, saas_db, models
):
    org_id, group = new_org(api), new_group(api, models[:1])
    bodies = [team_body(org_id, [group]) for _ in range(12)]
    answers = post_together(saas_api_server, saas_settings.master_key.get_secret_value(), bodies)
    assert [a.status_code for a in answers] == [201] * len(bodies), [a.text[:200] for a in answers]
    assert len({a.json()["virtual_key"] for a in answers}) == len(bodies)
    for body in bodies:
        assert len(litellm.keys_of_team(body["litellm_team_id"])) == 1
    ids = [b["litellm_team_id"] for b in bodies]
    active = saas_db.rows(
        "SELECT count(*) AS n FROM teams WHERE status = 'active' AND team_id = ANY(:'ids')",
        ids="{" + ",".join(ids) + "}",
    )
    assert active == [{"n": len(bodies)}]
