"""Raw queries as LiteLLM and litellm-proxy-extras issue them (copied from litellm 1.108.7's
proxy code, unchanged in 1.108.12), including PostgreSQL catalog types the pg driver adapter
does not know."""

from __future__ import annotations

import uuid

import pytest

# litellm/proxy/utils.py: the spend-view check (ARRAY_AGG over `name` → name[])
VIEW_CHECK = """
    WITH existing_views AS (
        SELECT viewname
        FROM pg_views
        WHERE schemaname = 'public' AND viewname IN (
            'LiteLLM_VerificationTokenView', 'MonthlyGlobalSpend', 'bridge_test_view'
        )
    )
    SELECT
        (SELECT COUNT(*) FROM existing_views) AS view_count,
        ARRAY_AGG(viewname) AS view_names
    FROM existing_views
"""
# litellm/proxy/utils.py: the view-setup gate
GATE = "SELECT to_regclass($1) IS NOT NULL AS present"
# litellm/proxy/utils.py: spend-log row estimate (regclass literal)
ROW_ESTIMATE = """
    SELECT reltuples::BIGINT
    FROM pg_class
    WHERE oid = '"LiteLLM_SpendLogs"'::regclass;
"""
# litellm/proxy/spend_tracking/spend_management_endpoints.py: relname (name), relkind ("char")
RELKIND = """
    SELECT relname, relkind
    FROM pg_class
    WHERE relname = 'LiteLLM_SpendLogs';
"""
# litellm/proxy/db/db_transaction_queue/spend_logs_partition_manager.py (inside a transaction)
PARTITIONED = """
    SELECT EXISTS (
        SELECT 1
        FROM pg_partitioned_table pt
        JOIN pg_class c ON c.oid = pt.partrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relname = $1
          AND n.nspname = current_schema()
    ) AS partitioned
"""
PARTITIONS = """
    SELECT c.relname AS name,
           pg_get_expr(c.relpartbound, c.oid) AS bound
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_class p ON p.oid = i.inhparent
    JOIN pg_namespace n ON n.oid = p.relnamespace
    WHERE p.relname = $1
      AND n.nspname = current_schema()
"""
# litellm/proxy/db/master_key_migration.py (information_schema's sql_identifier domain)
ENCRYPTED_COLUMNS_SQL = (
    "SELECT table_name, column_name FROM information_schema.columns "
    "WHERE table_schema = ANY (current_schemas(false))"
)
# litellm_proxy_extras/replica_identity.py (a regclass column)
REPLICA_TABLES = """
    SELECT c.oid::regclass
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r'
      AND n.nspname = ANY (current_schemas(false))
"""
# advisory locks: proxy_server.py, access_group_team_sync.py
CONFIG_LOCK = "SELECT 1 AS locked FROM pg_advisory_xact_lock(hashtext($1))"
TEAM_LOCK = "SELECT pg_advisory_xact_lock(hashtext($1)) IS NULL AS locked"


def test_view_check_returns_name_array(client, litellm_db):
    litellm_db.psql("CREATE OR REPLACE VIEW bridge_test_view AS SELECT 1 AS one")
    rows = client.ok("query_raw", sql=VIEW_CHECK)
    assert rows == [{"view_count": 1, "view_names": ["bridge_test_view"]}]


def test_gate_with_parameter(client):
    assert client.ok("query_raw", sql=GATE, params=['"LiteLLM_SpendLogs"']) == [{"present": True}]
    assert client.ok("query_raw", sql=GATE, params=["nope_nothing"]) == [{"present": False}]


def test_regclass_literal_and_bigint(client):
    rows = client.ok("query_raw", sql=ROW_ESTIMATE)
    assert len(rows) == 1 and isinstance(rows[0]["reltuples"], int)


def test_name_and_char_columns(client):
    assert client.ok("query_raw", sql=RELKIND) == [{"relname": "LiteLLM_SpendLogs", "relkind": "r"}]
    assert client.ok("query_first", sql=RELKIND) == {"relname": "LiteLLM_SpendLogs", "relkind": "r"}


def test_partition_queries_in_transaction(client):
    assert client.ok("raw_in_transaction", sql=PARTITIONED, params=["LiteLLM_SpendLogs"]) == [
        {"partitioned": False}
    ]
    assert client.ok("raw_in_transaction", sql=PARTITIONS, params=["LiteLLM_SpendLogs"]) == []


def test_information_schema_columns(client):
    rows = client.ok("query_raw", sql=ENCRYPTED_COLUMNS_SQL)
    assert {"table_name": "LiteLLM_Config", "column_name": "param_value"} in rows
    assert len(rows) > 500


def test_regclass_column(client):
    rows = client.ok("query_raw", sql=REPLICA_TABLES)
    names = {row["oid"] for row in rows}
    assert '"LiteLLM_SpendLogs"' in names  # regclass prints quoted mixed-case names


def test_advisory_locks(client):
    assert client.ok("raw_in_transaction", sql=CONFIG_LOCK, params=["general_settings"]) == [
        {"locked": 1}
    ]
    assert client.ok("raw_in_transaction", sql=TEAM_LOCK, params=["team-1"]) == [{"locked": False}]


def test_catalog_views_pg_indexes_and_pg_matviews(client, litellm_db):
    view = f"bridge_mv_{uuid.uuid4().hex[:8]}"
    litellm_db.psql('CREATE MATERIALIZED VIEW :"view" AS SELECT 1 AS one', view=view)
    rows = client.ok(
        "query_raw",
        sql="SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes"
        " WHERE tablename = $1 ORDER BY indexname",
        params=["LiteLLM_SpendLogs"],
    )
    pkey = [r for r in rows if r["indexname"] == "LiteLLM_SpendLogs_pkey"]
    assert pkey == [
        {
            "schemaname": "public",
            "tablename": "LiteLLM_SpendLogs",
            "indexname": "LiteLLM_SpendLogs_pkey",
            "indexdef": 'CREATE UNIQUE INDEX "LiteLLM_SpendLogs_pkey" ON public."LiteLLM_SpendLogs"'
            " USING btree (request_id)",
        }
    ]
    matviews = client.ok(
        "query_raw",
        sql="SELECT matviewname, ispopulated FROM pg_matviews WHERE matviewname = $1",
        params=[view],
    )
    assert matviews == [{"matviewname": view, "ispopulated": True}]


def test_catalog_and_unusual_types_become_text(client):
    rows = client.ok(
        "query_raw",
        sql="SELECT 'abc'::name AS n, 'x'::\"char\" AS c, 'pg_class'::regclass AS r,"
        " ARRAY['a', 'b c']::name[] AS names, 42::oid AS o, interval '1 day 2 hours' AS iv,"
        " ARRAY[timestamptz '2030-01-02 03:04:05+00'] AS stamps, pg_advisory_xact_lock(1) AS v,"
        " '1 2'::int2vector AS vec, 'pg_catalog.pg_class'::regclass::oid AS class_oid,"
        " ARRAY['pg_class'::regclass] AS classes, txid_current() > 0 AS tx",
    )
    assert rows == [
        {
            "n": "abc",
            "c": "x",
            "r": "pg_class",
            "names": ["a", "b c"],
            "o": 42,
            "iv": "1 day 02:00:00",
            "stamps": ["2030-01-02 03:04:05+00"],
            "v": "",
            "vec": "1 2",
            "class_oid": 1259,
            "classes": ["pg_class"],
            "tx": True,
        }
    ]


def test_ordinary_types_and_parameters(client):
    row = client.ok(
        "query_first",
        sql="SELECT $1::text AS s, $2::int AS i, $3::float8 AS f, $4::boolean AS b,"
        " $5::text AS nothing, $6::timestamptz AS at, 12345678901234::bigint AS big,"
        " 1.25::numeric AS dec, '{\"a\": [1, 2]}'::jsonb AS j, ARRAY['x', 'y'] AS arr,"
        " gen_random_uuid() IS NOT NULL AS u",
        params=["ü text", 7, 1.5, True, None, "2030-01-02T03:04:05+00:00"],
    )
    assert row["s"] == "ü text" and row["i"] == 7 and row["f"] == 1.5 and row["b"] is True
    assert row["nothing"] is None
    assert row["at"].startswith("2030-01-02T03:04:05")
    assert row["big"] == 12345678901234
    assert row["dec"] == pytest.approx(1.25)
    assert row["j"] == {"a": [1, 2]}
    assert row["arr"] == ["x", "y"]
    assert row["u"] is True


def test_execute_raw_returns_affected_rows(client, litellm_db):
    prefix = f"raw-{uuid.uuid4().hex[:8]}"
    for suffix in ("a", "b"):
        litellm_db.psql(
            "INSERT INTO \"LiteLLM_Config\" (param_name, param_value) VALUES (:'name', '{}')",
            name=f"{prefix}-{suffix}",
        )
    count = client.ok(
        "execute_raw",
        sql='UPDATE "LiteLLM_Config" SET param_value = $1::jsonb WHERE param_name LIKE $2',
        params=['{"set": "by raw"}', f"{prefix}-%"],
    )
    assert count == 2
    rows = litellm_db.rows(
        "SELECT param_value FROM \"LiteLLM_Config\" WHERE param_name LIKE :'p' || '-%'",
        p=prefix,
    )
    assert rows == [{"param_value": {"set": "by raw"}}] * 2


def test_raw_query_error(client):
    answer = client.call("query_raw", sql="SELECT * FROM no_such_table")
    assert not answer["ok"]
    assert answer["error"] == "prisma.errors.RawQueryError"
    assert "no_such_table" in answer["message"]
