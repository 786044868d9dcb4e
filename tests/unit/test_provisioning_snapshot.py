"""The live snapshot travels as a pyinfra fact's output: it must keep only the compared fields
(never a credential value or anything else a service adds), page through LiteLLM's lists, and
read its keys from the SaaS API's environment file."""

import json

import httpx

from provisioning import snapshot
from provisioning.clients import LiteLLMAdmin, SaasAdmin

SECRET = "sk-provider-secret-value"  # noqa: S105 (a test value)


def litellm_answers(request: httpx.Request) -> httpx.Response:
    page = int(request.url.params.get("page", 1))
    if request.url.path == "/credentials":
        return httpx.Response(
            200,
            json={
                "credentials": [
                    {
                        "credential_name": "c",
                        "credential_values": {"api_key": SECRET},
                        "credential_info": {"custom_llm_provider": "openai", "token": SECRET},
                    }
                ]
            },
        )
    if request.url.path == "/model/info":
        return httpx.Response(
            200,
            json={
                "data": [
                    {
                        "model_name": "m",
                        "litellm_params": {"model": "openai/m", "api_key": SECRET},
                        "model_info": {"id": "m"},
                    }
                ]
            },
        )
    if request.url.path == "/v2/team/list":
        assert request.url.params["page_size"] == "100"
        teams = [{"team_id": f"t{page}", "models": [], "spend": 1.0, "members_with_roles": []}]
        return httpx.Response(200, json={"teams": teams, "total_pages": 3})
    if request.url.path == "/key/list":
        keys = [{"token": "hash", "team_id": "t1", "key_name": "sk-...abcd", "spend": 2}]
        return httpx.Response(200, json={"keys": keys, "total_pages": 1})
    return httpx.Response(404)


def saas_answers(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=[])


def test_the_snapshot_keeps_only_compared_fields_and_reads_every_page():
    with (
        LiteLLMAdmin("http://l", "sk-m", transport=httpx.MockTransport(litellm_answers)) as litellm,
        SaasAdmin("http://s", "a", transport=httpx.MockTransport(saas_answers)) as saas,
    ):
        taken = snapshot.read(litellm, saas)
    assert SECRET not in json.dumps(taken)
    assert [t["team_id"] for t in taken["litellm_teams"]] == ["t1", "t2", "t3"]
    assert set(taken["litellm_teams"][0]) == {"team_id", "models", "max_budget", "metadata"}
    assert set(taken["litellm_keys"][0]) == {
        "token",
        "team_id",
        "key_alias",
        "models",
        "blocked",
        "metadata",
    }
    assert set(taken) == set(snapshot.SECTIONS)


def test_the_environment_file_is_read_as_systemd_reads_ours(tmp_path):
    env = tmp_path / "saas-api.env"
    env.write_text("# comment\nMASTER_KEY=abc=def\n\nLITELLM_PROXY_URL=http://10.0.0.2:4000\n")
    assert snapshot.read_env_file(str(env)) == {
        "MASTER_KEY": "abc=def",
        "LITELLM_PROXY_URL": "http://10.0.0.2:4000",
    }
