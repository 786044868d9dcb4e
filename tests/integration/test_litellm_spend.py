"""Spend survives the end of a proxy process: the session's real LiteLLM (one worker, the
deploy's config with its spend_flush callback) answers a team key's completions, then is either
killed with SIGKILL (no shutdown hook runs, as with the OOM killer or a host crash) or stopped
gracefully. The team's and the key's spend are read back from PostgreSQL with psql after the
proxy is up again and compared with the sum of the costs LiteLLM reported per request."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

REQUESTS = 60
# The most a crash may lose: the requests of this many seconds of the measured traffic
# (litellm_spend_flush_seconds is 0.5; the write itself takes a few milliseconds more).
LOSS_BOUND_SECONDS = 1.0


@pytest.fixture
def team_key(litellm_proxy):
    model = f"spend-{uuid.uuid4().hex[:8]}"
    litellm_proxy.add_model(model)
    team = f"team-{uuid.uuid4().hex[:8]}"
    with litellm_proxy.admin() as admin:
        assert admin.post("/team/new", json={"team_id": team, "max_budget": 100}).status_code == 200
        answer = admin.post("/key/generate", json={"team_id": team, "models": [model]})
        assert answer.status_code == 200, litellm_proxy.redact(answer.text[:300])
    return team, answer.json()["key"], answer.json()["token"], model


def completions(proxy, key, model, count):
    """`count` completions one after another; (their summed cost as LiteLLM reported it, the
    requests per second)."""
    total, started = 0.0, time.monotonic()
    with httpx.Client(base_url=proxy.base_url, timeout=60) as client:
        for i in range(count):
            answer = client.post(
                "/chat/completions",
                headers={"Authorization": f"Bearer {key}"},
                json={"model": model, "messages": [{"role": "user", "content": f"count {i}"}]},
            )
            assert answer.status_code == 200, proxy.redact(answer.text[:300])
            total += float(answer.headers["x-litellm-response-cost"])
    return total, count / (time.monotonic() - started)


def recorded_spend(proxy, team, token):
    """(team spend, key spend) as PostgreSQL holds them."""
    team_row = proxy.database.rows(
        "SELECT spend FROM \"LiteLLM_TeamTable\" WHERE team_id = :'team'", team=team
    )
    key_row = proxy.database.rows(
        "SELECT spend FROM \"LiteLLM_VerificationToken\" WHERE token = :'token'", token=token
    )
    return team_row[0]["spend"], key_row[0]["spend"]


def test_a_crash_right_after_the_requests_loses_at_most_a_second_of_spend(litellm_proxy, team_key):
    team, key, token, model = team_key
    expected, rate = completions(litellm_proxy, key, model, REQUESTS)
    litellm_proxy.crash()
    litellm_proxy.start()
    per_request = expected / REQUESTS
    # Each counter on its own: LiteLLM's batch writer commits keys, then teams, in transactions
    # of their own, so a kill between the two leaves the team one flush behind its key (seen in
    # CI: the key 1 request short, the team 14). Either may lose at most the bound.
    spends = recorded_spend(litellm_proxy, team, token)
    for what, spend in zip(("team", "key"), spends, strict=True):
        lost = round((expected - spend) / per_request, 1)
        print(
            f"kill -9 right after {REQUESTS} requests at {rate:.1f} req/s: {what} spend "
            f"{spend:.8f} of {expected:.8f}, {lost} requests ({lost / REQUESTS:.1%}) lost"
        )
        assert spend <= expected * (1 + 1e-9), f"more {what} spend recorded than the requests cost"
        assert lost <= rate * LOSS_BOUND_SECONDS, f"the {what} lost more than the bound"


def test_a_graceful_restart_keeps_every_requests_spend(litellm_proxy, team_key):
    team, key, token, model = team_key
    expected, _ = completions(litellm_proxy, key, model, REQUESTS)
    litellm_proxy.restart()
    assert recorded_spend(litellm_proxy, team, token) == (
        pytest.approx(expected, rel=1e-9),
        pytest.approx(expected, rel=1e-9),
    )
