"""The session's real LiteLLM proxy (litellm_service.py) works end to end on loopback: a model
registered through the admin API answers through the fake provider, with the master key and with
a virtual key limited to it, and that key is refused a model outside its list; LiteLLM keeps
its counters in Redis as the ACL user `litellm`. State is read back with raw HTTP calls, psql and
redis-cli; no key is ever part of an assertion message."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest

from .litellm_service import poll

# The fake provider's reply: FAKE_PROVIDER_COMPLETION_TOKENS (7) words.
REPLY = " ".join(f"word{i}" for i in range(7))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def chat(proxy, key: str, model: str, text: str = "one two three") -> httpx.Response:
    return httpx.post(
        f"{proxy.base_url}/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": text}]},
        timeout=60,
    )


def ok(proxy, response: httpx.Response) -> dict:
    assert response.status_code == 200, (response.status_code, proxy.redact(response.text[:500]))
    return response.json()


@pytest.fixture(scope="module")
def models(litellm_proxy):
    """Two models on the fake provider: one a key will be limited to, and another."""
    allowed, other = unique("it-gpt"), unique("it-gpt-other")
    litellm_proxy.add_model(allowed)
    litellm_proxy.add_model(other, provider_model="openai/gpt-4-turbo")
    return {"allowed": allowed, "other": other}


def test_the_proxy_is_ready_on_loopback_with_its_database(litellm_proxy):
    answer = httpx.get(f"{litellm_proxy.base_url}/health/readiness", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["db"] == "connected"
    assert litellm_proxy.base_url.startswith("http://127.0.0.1:")


def test_registered_models_are_listed_by_the_admin_api(litellm_proxy, models):
    with litellm_proxy.admin() as admin:
        listed = ok(litellm_proxy, admin.get("/model/info"))["data"]
    by_name = {m["model_name"]: m for m in listed}
    assert {models["allowed"], models["other"]} <= set(by_name)
    params = by_name[models["allowed"]]["litellm_params"]
    assert params["api_base"] == f"{litellm_proxy.provider_url}/v1"
    assert params["model"] == "openai/gpt-3.5-turbo"


def test_registered_models_are_stored_in_the_proxys_database(litellm_proxy, models):
    rows = litellm_proxy.database.rows(
        "SELECT model_name, model_id FROM \"LiteLLM_ProxyModelTable\" WHERE model_name = :'name'",
        name=models["allowed"],
    )
    assert len(rows) == 1
    assert rows[0]["model_id"].startswith(models["allowed"] + "-")


def test_the_master_key_gets_the_fake_providers_answer(litellm_proxy, models):
    answer = ok(litellm_proxy, chat(litellm_proxy, litellm_proxy.master_key, models["allowed"]))
    assert answer["choices"][0]["message"]["content"] == REPLY
    assert answer["usage"]["prompt_tokens"] == 3
    assert answer["usage"]["completion_tokens"] == 7


def test_a_key_limited_to_a_model_uses_it_and_is_refused_another(litellm_proxy, models):
    alias = unique("it-key")
    with litellm_proxy.admin() as admin:
        created = ok(
            litellm_proxy,
            admin.post("/key/generate", json={"models": [models["allowed"]], "key_alias": alias}),
        )
        key = created["key"]
        assert key[:3] == "sk-"  # only the prefix can ever show in a failure

        answer = ok(litellm_proxy, chat(litellm_proxy, key, models["allowed"], "a b"))
        assert answer["choices"][0]["message"]["content"] == REPLY
        assert answer["usage"]["prompt_tokens"] == 2

        refused = chat(litellm_proxy, key, models["other"])
        assert refused.status_code in (401, 403), refused.status_code

        info = ok(litellm_proxy, admin.get("/key/info", params={"key": key}))["info"]
    assert info["key_alias"] == alias
    assert info["models"] == [models["allowed"]]


def test_an_unknown_key_is_refused(litellm_proxy, models):
    refused = chat(litellm_proxy, "sk-" + uuid.uuid4().hex, models["allowed"])
    assert refused.status_code == 401


def test_litellm_keeps_rate_limit_counters_in_redis_as_its_acl_user(
    litellm_proxy, redis_server, models
):
    with litellm_proxy.admin() as admin:
        key = ok(
            litellm_proxy,
            admin.post("/key/generate", json={"models": [models["allowed"]], "rpm_limit": 100}),
        )["key"]
    ok(litellm_proxy, chat(litellm_proxy, key, models["allowed"]))
    token = hashlib.sha256(key.encode()).hexdigest()  # LiteLLM's name for the key
    counters = poll(
        lambda: redis_server.cli("--scan", "--pattern", f"*{token}*").split(),
        timeout=30,
        what="LiteLLM's counters for the key in Redis",
    )
    suffixes = sorted(name.rsplit(":", 1)[-1] for name in counters)
    assert "requests" in suffixes, suffixes
    # and nobody else gets in: the default user is off
    assert "NOAUTH" in redis_server.cli("PING", authenticated=False)
