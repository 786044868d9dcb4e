"""Every query shape LiteLLM uses, through the generated prisma-client-py client and the bridge,
against LiteLLM's real schema; state is read back with psql, never with the client."""

from __future__ import annotations

import base64
import uuid

import pytest


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def one(db, sql, **variables):
    rows = db.rows(sql, **variables)
    assert len(rows) == 1, rows
    return rows[0]


def test_create_key_round_trips_json_bigint_datetime_and_lists(client, litellm_db):
    token = unique("tok")
    big = 2**53 + 1  # beyond a double's exact range
    created = client.ok(
        "create_key",
        token=token,
        tpm_limit=big,
        metadata={"tier": "gold", "tags": ["a", "b"], "n": 1.5, "none": None},
        expires="2031-02-03T04:05:06.789000+00:00",
    )
    assert created["tpm_limit"] == big
    assert created["metadata"] == {"tier": "gold", "tags": ["a", "b"], "n": 1.5, "none": None}
    assert created["aliases"] == {"small": "gpt-4o-mini"}
    assert created["expires"].startswith("2031-02-03T04:05:06.789")
    assert created["models"] == ["gpt-4o", "claude-3"]

    row = one(
        litellm_db,
        "SELECT jsonb_typeof(metadata) AS metadata_type, metadata, jsonb_typeof(aliases) AS"
        " aliases_type, aliases->>'small' AS small, tpm_limit::text AS tpm,"
        " to_char(expires AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') AS expires, models"
        " FROM \"LiteLLM_VerificationToken\" WHERE token = :'token'",
        token=token,
    )
    assert row["metadata_type"] == "object"  # stored as JSON, not as a JSON string
    assert row["metadata"] == {"tier": "gold", "tags": ["a", "b"], "n": 1.5, "none": None}
    assert row["aliases_type"] == "object"  # pre-dumped strings too, as LiteLLM sends them
    assert row["small"] == "gpt-4o-mini"
    assert row["tpm"] == str(big)
    assert row["expires"] == "2031-02-03 04:05:06.789"
    assert row["models"] == ["gpt-4o", "claude-3"]


def test_find_update_and_include(client, litellm_db):
    token = unique("tok")
    client.ok("create_key", token=token)
    found = client.ok("find_key", token=token)
    assert found["token"] == token
    assert found["litellm_budget_table"] is None
    updated = client.ok("increment_key_spend", token=token, amount=1.5)
    assert updated["spend"] == pytest.approx(1.75)
    row = one(
        litellm_db, "SELECT spend FROM \"LiteLLM_VerificationToken\" WHERE token = :'t'", t=token
    )
    assert row["spend"] == pytest.approx(1.75)
    assert client.ok("find_key", token=unique("absent")) is None


def test_nested_create_and_includes_with_arguments(client, litellm_db):
    token, budget_id = unique("tok"), unique("budget")
    result = client.ok("key_with_budget_and_mappings", token=token, budget_id=budget_id)
    key, budget = result["key"], result["budget"]
    assert key["litellm_budget_table"]["budget_id"] == budget_id
    assert key["litellm_budget_table"]["tpm_limit"] == 2**53 + 1
    assert key["litellm_budget_table"]["model_max_budget"] == {"gpt-4o": 5}
    # include with where / order_by / take on the relation
    assert [m["jwt_claim_value"] for m in key["jwt_key_mappings"]] == [f"{token}-2"]
    assert [k["token"] for k in budget["keys"]] == [token]
    assert len(budget["keys"][0]["jwt_key_mappings"]) == 3
    rows = litellm_db.rows(
        "SELECT jwt_claim_value FROM \"LiteLLM_JWTKeyMapping\" WHERE token = :'t' ORDER BY 1",
        t=token,
    )
    assert [r["jwt_claim_value"] for r in rows] == [f"{token}-1", f"{token}-2", f"{token}-3"]


def test_filters_ordering_distinct_and_json_filters(client):
    tokens = [unique("flt") for _ in range(3)]
    client.ok("create_key", token=tokens[0], metadata={"tier": "gold"})
    client.ok(
        "create_key",
        token=tokens[1],
        metadata={"tier": "silver"},
        expires="2020-01-01T00:00:00+00:00",
    )
    client.ok(
        "create_key", token=tokens[2], metadata={"tier": "gold"}, expires="2040-01-01T00:00:00"
    )
    result = client.ok("find_keys", tokens=tokens, since="2025-01-01T00:00:00+00:00")
    assert result["ordered"] == sorted([tokens[0], tokens[2]], reverse=True)
    assert result["distinct"] == 1  # every key has rpm_limit 7
    assert result["by_json"] == sorted(tokens)
    assert result["by_path"] == sorted([tokens[0], tokens[2]])


def test_upsert_json_values(client, litellm_db):
    name = unique("cfg")
    client.ok("upsert_config", name=name, value={"general_settings": {"a": [1, None, "x"]}})
    client.ok("upsert_config", name=name, value=["replaced", {"ü": "ñ"}])
    row = one(
        litellm_db,
        'SELECT jsonb_typeof(param_value) AS type, param_value FROM "LiteLLM_Config"'
        " WHERE param_name = :'n'",
        n=name,
    )
    assert row == {"type": "array", "param_value": ["replaced", {"ü": "ñ"}]}


def test_bytes_round_trip(client, litellm_db):
    payload = bytes(range(256)) * 3
    result = client.ok("store_file_content", content_b64=base64.b64encode(payload).decode())
    assert base64.b64decode(result["content"]) == payload
    row = one(
        litellm_db,
        "SELECT encode(content, 'hex') AS hex FROM \"LiteLLM_ManagedFileContentTable\""
        " WHERE id = :'id'",
        id=result["id"],
    )
    assert row["hex"] == payload.hex()


def test_create_many_count_group_by_update_many_delete_many(client, litellm_db):
    prefix = unique("log")
    result = client.ok("spend_logs", prefix=prefix, count=6)
    assert result["created"] == 6
    assert result["duplicate"] == 0  # skip_duplicates
    assert result["count"] == 6
    assert result["updated"] == 3
    grouped = {g["model"]: g for g in result["grouped"]}
    assert set(grouped) == {"claude-3", "gpt-4o"}
    assert grouped["gpt-4o"]["_sum"]["spend"] == pytest.approx(0.5 + 1.5 + 2.5)
    assert grouped["gpt-4o"]["_sum"]["total_tokens"] == 10 + 30 + 50
    assert grouped["claude-3"]["_count"]["_all"] == 3
    assert grouped["claude-3"]["_max"]["startTime"].startswith("2030-01-02T03:04:10.123")
    assert result["first"]["request_id"] == f"{prefix}-0"
    assert result["first"]["metadata"] == {"i": 0, "tags": ["x", "y"], "nested": {"ok": True}}

    rows = litellm_db.rows(
        "SELECT request_id, jsonb_typeof(metadata) AS type, metadata->'nested'->>'ok' AS ok,"
        " status, to_char(\"startTime\" AT TIME ZONE 'UTC', 'HH24:MI:SS.MS') AS start"
        " FROM \"LiteLLM_SpendLogs\" WHERE request_id LIKE :'p' || '-%' ORDER BY request_id",
        p=prefix,
    )
    assert [r["type"] for r in rows] == ["object"] * 6
    assert rows[0]["ok"] == "true"
    assert rows[0]["start"] == "03:04:05.123"
    assert sorted(r["status"] for r in rows if r["status"]) == ["success"] * 3

    assert client.ok("delete_logs", prefix=prefix) == 6
    assert (
        litellm_db.psql(
            "SELECT count(*) FROM \"LiteLLM_SpendLogs\" WHERE request_id LIKE :'p' || '-%'",
            p=prefix,
        )
        == "0"
    )


def test_bigint_upsert_increment_and_aggregate(client, litellm_db):
    user = unique("user")
    big = 2**62  # two increments would overflow a double's exact range many times over
    result = client.ok("daily_spend_bigint", user_id=user, big=big // 4)
    assert result["prompt_tokens"] == big // 2
    # group_by results are not parsed into a model: BigInt sums arrive as decimal strings,
    # exactly as the native engine returned them under the GraphQL protocol
    assert result["grouped"][0]["_sum"]["prompt_tokens"] == str(big // 2)
    assert result["grouped"][0]["_sum"]["api_requests"] == "2"
    row = one(
        litellm_db,
        'SELECT prompt_tokens::text AS p, api_requests FROM "LiteLLM_DailyUserSpend"'
        " WHERE user_id = :'u'",
        u=user,
    )
    assert row == {"p": str(big // 2), "api_requests": 2}


def test_batch(client, litellm_db):
    prefix = unique("batch")
    client.ok("batch", prefix=prefix)
    rows = litellm_db.rows(
        'SELECT param_name, param_value FROM "LiteLLM_Config"'
        " WHERE param_name LIKE :'p' || '-%' ORDER BY 1",
        p=prefix,
    )
    assert rows == [{"param_name": f"{prefix}-a", "param_value": {"n": 2}}]


def test_batch_is_atomic_and_reports_the_unique_violation(client, litellm_db):
    prefix = unique("batchfail")
    answer = client.call("batch_with_failure", prefix=prefix)
    assert not answer["ok"]
    assert answer["error"] == "prisma.errors.UniqueViolationError"
    assert (
        litellm_db.psql(
            "SELECT count(*) FROM \"LiteLLM_Config\" WHERE param_name LIKE :'p' || '-%'",
            p=prefix,
        )
        == "0"
    )


def test_batch_inside_interactive_transaction(client, litellm_db):
    tokens = [unique("spend") for _ in range(3)]
    for token in tokens:
        client.ok("create_key", token=token)
    client.ok("spend_update_in_transaction", tokens=tokens, amount=0.75)
    rows = litellm_db.rows(
        'SELECT spend FROM "LiteLLM_VerificationToken"'
        " WHERE token = ANY (string_to_array(:'tokens', ','))",
        tokens=",".join(tokens),
    )
    assert [r["spend"] for r in rows] == [pytest.approx(1.0)] * 3


def test_transaction_commit(client, litellm_db):
    name = unique("txc")
    inside = client.ok("transaction_commit", name=name)
    assert inside["param_value"] == {"tx": "commit"}
    row = one(
        litellm_db, "SELECT param_value FROM \"LiteLLM_Config\" WHERE param_name = :'n'", n=name
    )
    assert row["param_value"] == {"tx": "commit"}


def test_transaction_rollback_leaves_no_row(client, litellm_db):
    name = unique("txr")
    assert client.ok("transaction_rollback", name=name) == {"seen_inside": 1}
    assert (
        litellm_db.psql("SELECT count(*) FROM \"LiteLLM_Config\" WHERE param_name = :'n'", n=name)
        == "0"
    )


def test_expired_transaction(client, litellm_db):
    name = unique("txe")
    answer = client.call("transaction_expired", name=name, timeout_ms=300, sleep_ms=1000)
    assert not answer["ok"]
    assert answer["error"] == "prisma.errors.TransactionExpiredError", answer
    assert (
        litellm_db.psql("SELECT count(*) FROM \"LiteLLM_Config\" WHERE param_name = :'n'", n=name)
        == "0"
    )


def test_query_on_rolled_back_transaction(client):
    answer = client.call("query_after_rollback", name=unique("txq"))
    assert not answer["ok"]
    assert answer["error"] == "prisma.errors.TransactionExpiredError", answer


def test_unique_violation(client, litellm_db):
    team = unique("team")
    answer = client.call("unique_violation", team_id=team)
    assert not answer["ok"]
    assert answer["error"] == "prisma.errors.UniqueViolationError"
    assert (
        litellm_db.psql("SELECT count(*) FROM \"LiteLLM_TeamTable\" WHERE team_id = :'t'", t=team)
        == "1"
    )


def test_foreign_key_violation(client):
    answer = client.call("foreign_key_violation", token=unique("nokey"))
    assert not answer["ok"]
    assert answer["error"] == "prisma.errors.ForeignKeyViolationError"


def test_record_not_found(client):
    missing = unique("missing")
    answer = client.call("find_key_or_raise", token=missing)
    assert answer["error"] == "prisma.errors.RecordNotFoundError"
    answer = client.call("find_first_or_raise_team", alias=missing)
    assert answer["error"] == "prisma.errors.RecordNotFoundError"
    # update/delete of a missing record return None, as prisma-client-py maps P2025 there
    assert client.ok("update_missing_key", token=missing) is None
    assert client.ok("delete_missing_key", token=missing) is None


def test_team_create_with_json_list_and_bigint(client, litellm_db):
    team = unique("team")
    created = client.ok(
        "create_team", team_id=team, alias=team, tpm_limit=2**40, metadata={"k": "v"}
    )
    assert created["members_with_roles"] == [{"role": "admin", "user_id": "admin@example.org"}]
    row = one(
        litellm_db,
        "SELECT jsonb_typeof(members_with_roles) AS type, tpm_limit, members"
        " FROM \"LiteLLM_TeamTable\" WHERE team_id = :'t'",
        t=team,
    )
    assert row == {
        "type": "array",
        "tpm_limit": 2**40,
        "members": ["a@example.org", "b@example.org"],
    }


def test_concurrent_queries(client):
    assert client.ok("concurrent_counts", n=64) == 64


def test_metrics(client):
    assert client.ok("metrics") == {"counters": [], "gauges": [], "histograms": []}
