"""Drives the generated prisma-client-py client (LiteLLM's schema) through the bridge.

Runs inside the test session's Prisma venv, not the project venv. Reads one JSON command a line
on stdin (`{"scenario": name, "args": {...}}`) and answers one JSON line on the protocol fd:
`{"ok": true, "result": ...}` or `{"ok": false, "error": "<module.Class>", "message": ...}`.
Importing the generated client takes seconds, so one process serves a whole test session.
Its stdout is redirected to stderr at start: the engine inherits it, and prisma-client-py
prints the engine's --version there.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
from datetime import UTC, datetime, timedelta

from prisma import Base64, Json, Prisma

SCENARIOS = {}


def scenario(function):
    SCENARIOS[function.__name__] = function
    return function


def dump(value):
    if value is None:
        return None
    if isinstance(value, list):
        return [dump(item) for item in value]
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


class State:
    db: Prisma | None = None


def db() -> Prisma:
    assert State.db is not None, "not connected"
    return State.db


@scenario
async def connect(timeout_s=10):
    State.db = Prisma(connect_timeout=timedelta(seconds=timeout_s))
    await State.db.connect()
    return {"engine_pid": State.db._internal_engine.process.pid}


@scenario
async def disconnect():
    if State.db is not None and State.db.is_connected():
        await State.db.disconnect(timeout=timedelta(seconds=10))
    State.db = None
    return None


@scenario
async def engine_pid():
    process = db()._internal_engine.process
    return process.pid if process is not None else None


@scenario
async def create_key(token, team_id=None, tpm_limit=None, metadata=None, expires=None):
    created = await db().litellm_verificationtoken.create(
        data={
            "token": token,
            "key_alias": f"alias-{token}",
            "team_id": team_id,
            "models": ["gpt-4o", "claude-3"],
            "spend": 0.25,
            "max_budget": 10.5,
            "tpm_limit": tpm_limit,
            "rpm_limit": 7,
            "expires": datetime.fromisoformat(expires) if expires else None,
            # LiteLLM passes Json both ways: Json(...) wrappers and pre-dumped strings.
            "metadata": Json(metadata if metadata is not None else {}),
            "aliases": json.dumps({"small": "gpt-4o-mini"}),
            "config": Json({}),
            "permissions": Json({"allow": ["chat"]}),
            "model_spend": Json({}),
            "model_max_budget": Json({"gpt-4o": {"budget_limit": 1.5}}),
            "budget_fallbacks": Json({}),
        }
    )
    return dump(created)


@scenario
async def find_key(token):
    key = await db().litellm_verificationtoken.find_unique(
        where={"token": token}, include={"litellm_budget_table": True}
    )
    return dump(key)


@scenario
async def find_key_or_raise(token):
    return dump(await db().litellm_verificationtoken.find_unique_or_raise(where={"token": token}))


@scenario
async def find_first_or_raise_team(alias):
    return dump(await db().litellm_teamtable.find_first_or_raise(where={"team_alias": alias}))


@scenario
async def increment_key_spend(token, amount):
    updated = await db().litellm_verificationtoken.update(
        where={"token": token}, data={"spend": {"increment": amount}}
    )
    return dump(updated)


@scenario
async def update_missing_key(token):
    return dump(
        await db().litellm_verificationtoken.update(where={"token": token}, data={"spend": 1})
    )


@scenario
async def delete_missing_key(token):
    return dump(await db().litellm_verificationtoken.delete(where={"token": token}))


@scenario
async def create_team(team_id, alias, tpm_limit=None, metadata=None, with_budget=False):
    data = {
        "team_id": team_id,
        "team_alias": alias,
        "admins": ["admin@example.org"],
        "members": ["a@example.org", "b@example.org"],
        "members_with_roles": Json([{"role": "admin", "user_id": "admin@example.org"}]),
        "metadata": Json(metadata if metadata is not None else {}),
        "models": [],
        "tpm_limit": tpm_limit,
        "model_spend": Json({}),
        "model_max_budget": Json({}),
    }
    team = await db().litellm_teamtable.create(data=data)
    return dump(team)


@scenario
async def key_with_budget_and_mappings(token, budget_id):
    """Nested writes and includes: a budget, a key using it, JWT mappings under the key."""
    await db().litellm_budgettable.create(
        data={
            "budget_id": budget_id,
            "max_budget": 100.0,
            "tpm_limit": 2**53 + 1,
            "model_max_budget": Json({"gpt-4o": 5}),
            "created_by": "tests",
            "updated_by": "tests",
        }
    )
    await db().litellm_verificationtoken.create(
        data={
            "token": token,
            "litellm_budget_table": {"connect": {"budget_id": budget_id}},
            "jwt_key_mappings": {
                "create": [
                    {"jwt_claim_name": "sub", "jwt_claim_value": f"{token}-1"},
                    {"jwt_claim_name": "sub", "jwt_claim_value": f"{token}-2"},
                    {"jwt_claim_name": "email", "jwt_claim_value": f"{token}-3"},
                ]
            },
        }
    )
    found = await db().litellm_verificationtoken.find_unique(
        where={"token": token},
        include={
            "litellm_budget_table": True,
            "jwt_key_mappings": {
                "where": {"jwt_claim_name": "sub"},
                "order_by": {"jwt_claim_value": "desc"},
                "take": 1,
            },
        },
    )
    budget = await db().litellm_budgettable.find_unique(
        where={"budget_id": budget_id}, include={"keys": {"include": {"jwt_key_mappings": True}}}
    )
    return {"key": dump(found), "budget": dump(budget)}


@scenario
async def find_keys(tokens, since):
    """The filter shapes LiteLLM's key listing uses."""
    found = await db().litellm_verificationtoken.find_many(
        where={
            "token": {"in": tokens},
            "OR": [{"expires": None}, {"expires": {"gt": datetime.fromisoformat(since)}}],
            "NOT": [{"key_alias": {"startswith": "nope"}}],
            "models": {"has": "gpt-4o"},
            "key_alias": {"contains": "ALIAS", "mode": "insensitive"},
        },
        order={"token": "desc"},
        take=10,
        skip=0,
    )
    distinct = await db().litellm_verificationtoken.find_many(
        where={"token": {"in": tokens}}, distinct=["rpm_limit"]
    )
    by_json = await db().litellm_verificationtoken.find_many(
        where={"token": {"in": tokens}, "permissions": {"equals": Json({"allow": ["chat"]})}}
    )
    by_path = await db().litellm_verificationtoken.find_many(
        where={
            "token": {"in": tokens},
            "metadata": {"path": ["tier"], "equals": Json("gold")},
        }
    )
    return {
        "ordered": [k.token for k in found],
        "distinct": len(distinct),
        "by_json": sorted(k.token for k in by_json),
        "by_path": sorted(k.token for k in by_path),
    }


@scenario
async def upsert_config(name, value):
    row = await db().litellm_config.upsert(
        where={"param_name": name},
        data={
            "create": {"param_name": name, "param_value": Json(value)},
            "update": {"param_value": Json(value)},
        },
    )
    return dump(row)


@scenario
async def store_file_content(content_b64):
    row = await db().litellm_managedfilecontenttable.create(
        data={"content": Base64(content_b64.encode())}
    )
    again = await db().litellm_managedfilecontenttable.find_unique(where={"id": row.id})
    return {"id": row.id, "content": str(again.content)}


@scenario
async def spend_logs(prefix, count):
    start = datetime(2030, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)
    rows = [
        {
            "request_id": f"{prefix}-{i}",
            "call_type": "acompletion",
            "api_key": f"{prefix}-key-{i % 2}",
            "spend": 0.5 * (i + 1),
            "total_tokens": 10 * (i + 1),
            "prompt_tokens": 4,
            "completion_tokens": 6,
            "startTime": start + timedelta(seconds=i),
            "endTime": start + timedelta(seconds=i, milliseconds=250),
            "model": "gpt-4o" if i % 2 == 0 else "claude-3",
            "metadata": json.dumps({"i": i, "tags": ["x", "y"], "nested": {"ok": True}}),
            "request_tags": Json(["t1"]),
            "messages": Json({}),
            "response": Json({}),
            "proxy_server_request": Json({}),
        }
        for i in range(count)
    ]
    created = await db().litellm_spendlogs.create_many(data=rows)
    duplicate = await db().litellm_spendlogs.create_many(data=rows[:2], skip_duplicates=True)
    total = await db().litellm_spendlogs.count(where={"request_id": {"startswith": prefix}})
    grouped = await db().litellm_spendlogs.group_by(
        by=["model"],
        where={"request_id": {"startswith": prefix}},
        sum={"spend": True, "total_tokens": True},
        count=True,
        max={"startTime": True},
        order={"model": "asc"},
    )
    updated = await db().litellm_spendlogs.update_many(
        where={"request_id": {"startswith": prefix}, "model": "claude-3"},
        data={"status": "success"},
    )
    first = await db().litellm_spendlogs.find_first(
        where={"request_id": {"startswith": prefix}}, order={"startTime": "asc"}
    )
    return {
        "created": created,
        "duplicate": duplicate,
        "count": total,
        "grouped": grouped,
        "updated": updated,
        "first": dump(first),
    }


@scenario
async def daily_spend_bigint(user_id, big):
    where = {
        "user_id_date_api_key_model_custom_llm_provider_mcp_namespaced_tool_name_endpoint": {
            "user_id": user_id,
            "date": "2030-01-02",
            "api_key": "k",
            "model": "gpt-4o",
            "custom_llm_provider": "openai",
            "mcp_namespaced_tool_name": "",
            "endpoint": "/chat/completions",
        }
    }
    for _ in range(2):
        await db().litellm_dailyuserspend.upsert(
            where=where,
            data={
                "create": {
                    **where[next(iter(where))],
                    "prompt_tokens": big,
                    "api_requests": 1,
                    "spend": 0.5,
                },
                "update": {"prompt_tokens": {"increment": big}, "api_requests": {"increment": 1}},
            },
        )
    grouped = await db().litellm_dailyuserspend.group_by(
        by=["user_id"],
        where={"user_id": user_id},
        sum={"prompt_tokens": True, "api_requests": True},
    )
    row = await db().litellm_dailyuserspend.find_first(where={"user_id": user_id})
    return {"grouped": grouped, "prompt_tokens": row.prompt_tokens}


@scenario
async def delete_logs(prefix):
    return await db().litellm_spendlogs.delete_many(where={"request_id": {"startswith": prefix}})


@scenario
async def batch(prefix):
    async with db().batch_() as batcher:
        batcher.litellm_config.create(
            data={"param_name": f"{prefix}-a", "param_value": Json({"n": 1})}
        )
        batcher.litellm_config.create(
            data={"param_name": f"{prefix}-b", "param_value": json.dumps([1, 2])}
        )
        batcher.litellm_config.update(
            where={"param_name": f"{prefix}-a"}, data={"param_value": Json({"n": 2})}
        )
        batcher.litellm_config.delete(where={"param_name": f"{prefix}-b"})
    return None


@scenario
async def batch_with_failure(prefix):
    async with db().batch_() as batcher:
        batcher.litellm_config.create(data={"param_name": f"{prefix}-ok", "param_value": Json({})})
        batcher.litellm_config.create(data={"param_name": f"{prefix}-dup", "param_value": Json({})})
        batcher.litellm_config.create(data={"param_name": f"{prefix}-dup", "param_value": Json({})})
    return None


@scenario
async def spend_update_in_transaction(tokens, amount):
    """LiteLLM's spend writer: update_many batches inside an interactive transaction."""
    async with (
        db().tx(timeout=timedelta(seconds=10)) as transaction,
        transaction.batch_() as batcher,
    ):
        for token in sorted(tokens):
            batcher.litellm_verificationtoken.update_many(
                where={"token": token}, data={"spend": {"increment": amount}}
            )
    return None


@scenario
async def transaction_commit(name):
    async with db().tx() as transaction:
        await transaction.litellm_config.create(
            data={"param_name": name, "param_value": Json({"tx": "commit"})}
        )
        inside = await transaction.litellm_config.find_unique(where={"param_name": name})
        await transaction.execute_raw("SELECT pg_advisory_xact_lock($1::bigint)", 42)
    return dump(inside)


class Rollback(Exception):
    pass


@scenario
async def transaction_rollback(name):
    try:
        async with db().tx() as transaction:
            await transaction.litellm_config.create(
                data={"param_name": name, "param_value": Json({"tx": "rollback"})}
            )
            seen = await transaction.litellm_config.count(where={"param_name": name})
            raise Rollback(seen)
    except Rollback as rollback:
        return {"seen_inside": rollback.args[0]}


@scenario
async def transaction_expired(name, timeout_ms, sleep_ms):
    transaction = await db().tx(timeout=timedelta(milliseconds=timeout_ms)).start()
    await transaction.litellm_config.create(data={"param_name": name, "param_value": Json({})})
    await asyncio.sleep(sleep_ms / 1000)
    await transaction.litellm_config.find_many()
    return None


@scenario
async def query_after_rollback(name):
    manager = db().tx()
    transaction = await manager.start()
    await transaction.litellm_config.create(data={"param_name": name, "param_value": Json({})})
    await manager.rollback()
    await transaction.litellm_config.count()
    return None


@scenario
async def unique_violation(team_id):
    await db().litellm_teamtable.create(data={"team_id": team_id, "team_alias": team_id})
    await db().litellm_teamtable.create(data={"team_id": team_id, "team_alias": team_id})
    return None


@scenario
async def foreign_key_violation(token):
    await db().litellm_jwtkeymapping.create(
        data={"jwt_claim_name": "sub", "jwt_claim_value": token, "token": token}
    )
    return None


@scenario
async def query_raw(sql, params=()):
    return await db().query_raw(sql, *params)


@scenario
async def query_first(sql, params=()):
    return await db().query_first(sql, *params)


@scenario
async def execute_raw(sql, params=()):
    return await db().execute_raw(sql, *params)


@scenario
async def raw_in_transaction(sql, params=()):
    async with db().tx() as transaction:
        await transaction.execute_raw("SET LOCAL statement_timeout = 5000")
        return await transaction.query_raw(sql, *params)


@scenario
async def count_configs(prefix):
    return await db().litellm_config.count(where={"param_name": {"startswith": prefix}})


@scenario
async def concurrent_counts(n):
    results = await asyncio.gather(*(db().litellm_config.count() for _ in range(n)))
    return len(results)


@scenario
async def metrics():
    result = await db().get_metrics()
    return dump(result)


async def serve(protocol):
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        try:
            result = await SCENARIOS[command["scenario"]](**command.get("args", {}))
            reply = {"ok": True, "result": result}
        except Exception as error:  # report every failure to the test, which decides
            reply = {
                "ok": False,
                "error": f"{type(error).__module__}.{type(error).__qualname__}",
                "message": str(error),
                "traceback": traceback.format_exc()[-3000:],
            }
        protocol.write(json.dumps(reply, default=str) + "\n")
        protocol.flush()
    if State.db is not None and State.db.is_connected():
        await State.db.disconnect(timeout=timedelta(seconds=10))


def main():
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    asyncio.run(serve(protocol))


if __name__ == "__main__":
    main()
