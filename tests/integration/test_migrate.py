"""engine/migrate.py against a real PostgreSQL: LiteLLM's shipped migrations applied once and
recorded in Prisma's ledger layout, nothing applied twice, request-log indexes built, an
invalid leftover index rebuilt, and an unledgered schema refused. Read back with psql."""

import hashlib

from .conftest import run_migrations


def shipped(litellm_files):
    directories = sorted(p for p in litellm_files["migrations"].iterdir() if p.is_dir())
    return {
        d.name: hashlib.sha256((d / "migration.sql").read_bytes()).hexdigest()
        for d in directories
        if (d / "migration.sql").exists()
    }


def test_every_shipped_migration_is_recorded_with_its_checksum(litellm_db, litellm_files):
    rows = litellm_db.rows(
        "SELECT migration_name, checksum, finished_at IS NOT NULL AS finished, "
        'applied_steps_count FROM "_prisma_migrations"'
    )
    expected = shipped(litellm_files)
    assert len(expected) > 200
    assert {r["migration_name"]: r["checksum"] for r in rows} == expected
    assert all(r["finished"] and r["applied_steps_count"] == 1 for r in rows)
    assert f"{len(expected)} to apply" in litellm_db.first_migration.stdout


def test_the_request_log_indexes_are_built_and_valid(litellm_db):
    rows = litellm_db.rows(
        "SELECT c.relname AS name, x.indisvalid AS valid FROM pg_index x "
        "JOIN pg_class c ON c.oid = x.indexrelid "
        "WHERE x.indrelid = '\"LiteLLM_SpendLogs\"'::regclass"
    )
    valid = {r["name"] for r in rows if r["valid"]}
    assert {
        "LiteLLM_SpendLogs_api_key_startTime_idx",
        "LiteLLM_SpendLogs_litellm_call_id_idx",
    } <= valid


def test_a_second_run_applies_nothing(litellm_db, wheel_venv, work_dir):
    before = litellm_db.psql('SELECT count(*), max(finished_at) FROM "_prisma_migrations"')
    again = run_migrations(wheel_venv, litellm_db, work_dir / "again.env")
    assert ", 0 to apply" in again.stdout
    assert litellm_db.psql('SELECT count(*), max(finished_at) FROM "_prisma_migrations"') == before


def test_an_invalid_index_left_by_an_interrupted_build_is_rebuilt(litellm_db, wheel_venv, work_dir):
    name = "20261003000000_add_managed_file_flat_ids_gin_index"
    index = "LiteLLM_ManagedFileTable_flat_model_file_ids_idx"
    # What an interrupted CREATE INDEX CONCURRENTLY leaves: an invalid index, no ledger row.
    litellm_db.psql(
        "\\c litellm\nUPDATE pg_index SET indisvalid = false WHERE indexrelid = :'index'::regclass",
        superuser=True,
        index=f'"{index}"',
    )
    litellm_db.psql("DELETE FROM \"_prisma_migrations\" WHERE migration_name = :'name'", name=name)
    rerun = run_migrations(wheel_venv, litellm_db, work_dir / "repair.env")
    assert ", 1 to apply" in rerun.stdout
    valid = litellm_db.psql(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = :'index'::regclass", index=f'"{index}"'
    )
    assert valid == "t"


def test_a_schema_without_the_ledger_is_refused_untouched(litellm_db, wheel_venv, work_dir):
    litellm_db.psql("CREATE DATABASE unledgered OWNER litellm", superuser=True)
    unledgered = type(litellm_db).__new__(type(litellm_db))
    unledgered.__dict__.update(litellm_db.__dict__, database="unledgered")
    unledgered.psql('CREATE TABLE "LiteLLM_VerificationToken" (token text)')
    result = run_migrations(wheel_venv, unledgered, work_dir / "unledgered.env", check=False)
    assert result.returncode == 2
    assert "no _prisma_migrations ledger" in result.stderr
    tables = unledgered.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    assert tables == "1"
