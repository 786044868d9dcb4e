"""Apply LiteLLM's shipped SQL migrations without Prisma's schema engine (bundled engine mode).

Runs on an `llm` host with the LiteLLM venv's Python, which provides `psycopg` and the
migrations themselves (`litellm_proxy_extras`, the release LiteLLM was installed with):

    /opt/litellm/venv/bin/python migrate.py --env-file /etc/litellm/litellm.env [--pending]

What `prisma migrate deploy` would do, and what the native schema engine would record:
- migrations are applied in name order; each one in its own transaction together with its
  row in `_prisma_migrations` (Prisma's ledger layout: id, checksum = sha256 of the file,
  started/finished timestamps, migration name, applied step count), so a failure leaves
  neither a half-applied migration nor a ledger row claiming it;
- a migration containing `CREATE INDEX CONCURRENTLY` cannot run in a transaction: it runs
  alone, after dropping an invalid index an earlier interrupted build may have left;
- Prisma's own advisory lock is held throughout, so two runners (or a native
  `prisma migrate deploy`) never interleave;
- then LiteLLM's request-log indexes, which no migration builds, through LiteLLM's own
  `ensure_request_log_indexes`.
Re-running applies nothing and changes nothing. The database URL comes from the root-only
environment file, never from argv; nothing secret is printed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# The key `prisma migrate` locks (prisma-engines: schema-engine's advisory lock).
PRISMA_ADVISORY_LOCK_KEY = 72707369
# Query parameters only Prisma understands; libpq refuses them.
PRISMA_ONLY_PARAMS = {"schema", "connection_limit", "pool_timeout", "pgbouncer", "socket_timeout"}

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                  VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"            VARCHAR(64) NOT NULL,
    "finished_at"         TIMESTAMPTZ,
    "migration_name"      VARCHAR(255) NOT NULL,
    "logs"                TEXT,
    "rolled_back_at"      TIMESTAMPTZ,
    "started_at"          TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)
"""
CONCURRENT_INDEX = re.compile(
    r'CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?"([^"]+)"',
    re.IGNORECASE,
)


class MigrationError(Exception):
    """A problem the operator must act on; the message says what and how."""


def read_env_file_text(text: str) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile= reads them (values optionally quoted)."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def libpq_url(database_url: str) -> tuple[str, str]:
    """The URL without Prisma-only parameters, and the schema the migrations target."""
    parts = urlsplit(database_url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    schema = dict(params).get("schema") or "public"
    kept = [(k, v) for k, v in params if k not in PRISMA_ONLY_PARAMS]
    return urlunsplit(parts._replace(query=urlencode(kept))), schema


def sql_without_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


def shipped_migrations(directory: Path) -> list[tuple[str, str]]:
    """(name, sql) of every migration, in the order Prisma applies them."""
    found = sorted(p for p in directory.iterdir() if (p / "migration.sql").is_file())
    return [(p.name, (p / "migration.sql").read_text(encoding="utf-8")) for p in found]


def checksum(sql: str) -> str:
    return hashlib.sha256(sql.encode("utf-8")).hexdigest()


def ledger(conn) -> dict[str, tuple[str, bool]]:
    """migration name -> (checksum, finished) for rows not rolled back; {} before the first run."""
    if conn.execute("SELECT to_regclass('\"_prisma_migrations\"')").fetchone()[0] is None:
        return {}
    rows = conn.execute(
        'SELECT migration_name, checksum, finished_at IS NOT NULL FROM "_prisma_migrations" '
        "WHERE rolled_back_at IS NULL"
    ).fetchall()
    return {name: (digest, finished) for name, digest, finished in rows}


def pending(conn, migrations: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The migrations the ledger does not record (read-only: also what --pending reports)."""
    done = ledger(conn)
    unfinished = sorted(name for name, (_, finished) in done.items() if not finished)
    if unfinished:
        raise MigrationError(
            f"_prisma_migrations records unfinished migrations {unfinished}: a migration failed "
            "outside this runner; inspect the schema, then delete or mark those rows "
            "(rolled_back_at) before migrating again"
        )
    for name, sql in migrations:
        if name in done and done[name][0] != checksum(sql):
            print(f"warning: {name} was changed after it was applied (checksum differs)")
    return [(name, sql) for name, sql in migrations if name not in done]


def apply_in_transaction(conn, name: str, sql: str) -> None:
    with conn.transaction():
        conn.execute(sql)
        record(conn, name, sql)


def apply_concurrently(conn, name: str, sql: str) -> None:
    """A migration that builds indexes CONCURRENTLY: outside a transaction, after removing
    an invalid leftover of an interrupted build (IF NOT EXISTS would keep it forever)."""
    from psycopg import sql as q

    for index in CONCURRENT_INDEX.findall(sql_without_comments(sql)):
        invalid = conn.execute(
            "SELECT 1 FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
            "WHERE c.relname = %s AND NOT x.indisvalid",
            (index,),
        ).fetchone()
        if invalid:
            conn.execute(q.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(q.Identifier(index)))
    conn.execute(sql)
    record(conn, name, sql)


def record(conn, name: str, sql: str) -> None:
    conn.execute(
        'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, '
        "started_at, applied_steps_count) VALUES (%s, %s, now(), %s, now(), 1)",
        (str(uuid.uuid4()), checksum(sql), name),
    )


def has_litellm_tables_without_ledger(conn) -> bool:
    row = conn.execute(
        "SELECT to_regclass('\"_prisma_migrations\"') IS NULL "
        "AND to_regclass('\"LiteLLM_VerificationToken\"') IS NOT NULL"
    ).fetchone()
    return bool(row[0])


def migrate(database_url: str, migrations_dir: Path, *, only_report: bool) -> int:
    import psycopg

    url, schema = libpq_url(database_url)
    migrations = shipped_migrations(migrations_dir)
    if not migrations:
        raise MigrationError(f"no migrations found in {migrations_dir}")
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise MigrationError(f"cannot connect to the LiteLLM database: {exc}") from None
    with conn:
        conn.execute(f"SET search_path TO {psycopg.sql.Identifier(schema).as_string(conn)}")
        if has_litellm_tables_without_ledger(conn):
            raise MigrationError(
                "the database has LiteLLM tables but no _prisma_migrations ledger (schema pushed "
                "with `prisma db push`?): baseline it with the native engine or start from an "
                "empty database"
            )
        if only_report:
            todo = pending(conn, migrations)
            print(f"pending {len(todo)}")
            return 0
        conn.execute("SELECT pg_advisory_lock(%s)", (PRISMA_ADVISORY_LOCK_KEY,))
        conn.execute(LEDGER_DDL)
        todo = pending(conn, migrations)
        print(f"{len(migrations)} migrations shipped, {len(todo)} to apply", flush=True)
        started = time.monotonic()
        for number, (name, sql) in enumerate(todo, 1):
            concurrent = "CONCURRENTLY" in sql_without_comments(sql).upper()
            try:
                (apply_concurrently if concurrent else apply_in_transaction)(conn, name, sql)
            except psycopg.Error as exc:
                raise MigrationError(f"migration {name} failed: {exc}") from None
            print(f"applied {number}/{len(todo)} {name}", flush=True)
        conn.execute("SELECT pg_advisory_unlock(%s)", (PRISMA_ADVISORY_LOCK_KEY,))
        if todo:
            print(f"applied {len(todo)} migrations in {time.monotonic() - started:.1f} s")
    return 0 if build_request_log_indexes(url, schema) else 1


def build_request_log_indexes(url: str, schema: str) -> bool:
    """LiteLLM's own builder: concurrently, under its coordinator lock, skipping indexes a
    database already has. It logs, never raises, and says whether all are in place."""
    from litellm_proxy_extras.request_log_indexes import ensure_request_log_indexes

    if ensure_request_log_indexes(url, schema):
        print("request-log indexes in place")
        return True
    print("error: some request-log indexes could not be built; re-run to retry", file=sys.stderr)
    return False


def default_migrations_dir() -> Path:
    import litellm_proxy_extras

    return Path(litellm_proxy_extras.__file__).resolve().parent / "migrations"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", type=Path, required=True, help="file with DATABASE_URL=")
    parser.add_argument("--migrations-dir", type=Path, help="default: litellm_proxy_extras'")
    parser.add_argument("--pending", action="store_true", help="only print the pending count")
    args = parser.parse_args(argv)
    try:
        if not args.env_file.is_file():
            raise MigrationError(f"{args.env_file}: no such file")
        values = read_env_file_text(args.env_file.read_text())
        database_url = values.get("DATABASE_URL")
        # libpq's own variables (PGPASSWORD, PGSSLROOTCERT, ...), for this runner and for
        # LiteLLM's index builder alike: the password stays out of URLs and argv.
        os.environ.update({k: v for k, v in values.items() if k.startswith("PG")})
        if not database_url:
            raise MigrationError(f"{args.env_file}: DATABASE_URL is not set")
        migrations_dir = args.migrations_dir or default_migrations_dir()
        return migrate(database_url, migrations_dir, only_report=args.pending)
    except MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
