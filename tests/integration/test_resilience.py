"""The bridge under failures: PostgreSQL restarting under a running client, the engine process
killed, a connection limit of one."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest


def running(pid):
    """Whether a process exists and has not exited (a zombie awaiting its parent's wait has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in {"Z", "X"}


def wait_gone(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not running(pid):
            return
        time.sleep(0.05)
    pytest.fail(f"process {pid} still exists after {timeout}s")


def test_postgres_restart_then_next_query_succeeds(client, litellm_db):
    before = client.ok("count_configs", prefix="")
    litellm_db.restart()  # every pooled connection of the bridge is terminated
    name = f"after-restart-{uuid.uuid4().hex[:8]}"
    client.ok("upsert_config", name=name, value={"ok": True})
    assert client.ok("count_configs", prefix="") == before + 1
    assert (
        litellm_db.psql(
            "SELECT param_value->>'ok' FROM \"LiteLLM_Config\" WHERE param_name = :'n'", n=name
        )
        == "true"
    )


def test_postgres_restart_during_idle_transaction_pool(client, litellm_db):
    """Connections checked out by transactions before the restart are not reused after it."""
    client.ok("transaction_commit", name=f"pre-{uuid.uuid4().hex[:8]}")
    litellm_db.restart()
    name = f"post-{uuid.uuid4().hex[:8]}"
    assert client.ok("transaction_commit", name=name)["param_value"] == {"tx": "commit"}
    assert client.ok("concurrent_counts", n=20) == 20


def test_engine_killed_then_reconnect(driver_factory, litellm_db):
    """kill -9 of the engine: prisma-client-py does not respawn it itself; every query fails with
    a connection error until disconnect + connect (what LiteLLM's reconnect does) starts a fresh
    engine, which works."""
    driver = driver_factory(name="killed")
    pid = driver.ok("connect", timeout=120, timeout_s=60)["engine_pid"]
    assert driver.ok("count_configs", prefix="") >= 0
    os.kill(pid, signal.SIGKILL)
    wait_gone(pid)
    # an httpx transport error, unwrapped: ReadError when a kept-alive connection to the dead
    # engine is reused, ConnectError otherwise; prisma-client-py never respawns the engine
    answer = driver.call("count_configs", prefix="")
    assert not answer["ok"]
    assert answer["error"] in {"httpx.ConnectError", "httpx.ReadError"}, answer
    answer = driver.call("count_configs", prefix="")
    assert answer["error"] == "httpx.ConnectError", answer
    driver.ok("disconnect")
    new_pid = driver.ok("connect", timeout=120, timeout_s=60)["engine_pid"]
    assert new_pid != pid
    name = f"after-kill-{uuid.uuid4().hex[:8]}"
    driver.ok("upsert_config", name=name, value=[1])
    assert (
        litellm_db.psql(
            "SELECT param_value::text FROM \"LiteLLM_Config\" WHERE param_name = :'n'", n=name
        )
        == "[1]"
    )
    driver.ok("disconnect")
    wait_gone(new_pid)  # disconnect stops the engine (SIGINT) and it exits


def test_connection_limit_one_serializes_concurrent_queries(driver_factory, litellm_db):
    url = litellm_db.url(connection_limit=1, pool_timeout=20, application_name="bridge-limit")
    driver = driver_factory(url, name="limit1")
    driver.ok("connect", timeout=120, timeout_s=60)
    assert driver.ok("concurrent_counts", n=30) == 30
    # a transaction holds the only connection; other queries wait for it, then run
    assert driver.ok("transaction_commit", name=f"limit-{uuid.uuid4().hex[:8]}")
    backends = litellm_db.psql(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bridge-limit'",
        superuser=True,
    )
    assert backends == "1"
    driver.ok("disconnect")


def test_schema_parameter_sets_search_path_and_model_schema(driver_factory, litellm_db):
    litellm_db.psql("CREATE SCHEMA IF NOT EXISTS other")
    driver = driver_factory(litellm_db.url(schema="other"), name="schema")
    driver.ok("connect", timeout=120, timeout_s=60)
    assert driver.ok("query_first", sql="SELECT current_schema() AS s") == {"s": "other"}
    answer = driver.call("count_configs", prefix="")
    assert answer["error"] == "prisma.errors.TableNotFoundError", answer
    driver.ok("disconnect")
