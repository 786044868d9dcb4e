"""`saas-api-migrate [--pending]`: bring the database schema to the newest revision.

Runs under a PostgreSQL advisory lock, so two hosts deploying at once apply each revision once.
`--pending` only prints `pending N` (the deploy's fact) and changes nothing. Reads DATABASE_URL
(and PGPASSWORD, through libpq) from the environment, like the service, or from the service's
environment file with `--env-file` (secrets stay out of the command line)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

# Any constant shared by every host; "saas" in ASCII.
LOCK_ID = 0x73616173


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("saas_api") / "migrations"))
    return config


def pending_revisions(connection, config: Config) -> list[str]:
    script = ScriptDirectory.from_config(config)
    current = set(MigrationContext.configure(connection).get_current_heads())
    pending = []
    for revision in script.walk_revisions():
        if revision.revision in current:
            break
        pending.append(revision.revision)
    return pending


def read_env_file(path: str) -> dict[str, str]:
    values = {}
    with open(path) as lines:
        for line in lines:
            name, sep, value = line.strip().partition("=")
            if sep and not name.startswith("#"):
                values[name.strip()] = value.strip()
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="saas-api-migrate", description=__doc__)
    parser.add_argument("--pending", action="store_true", help="print `pending N`, change nothing")
    parser.add_argument("--env-file", help="a systemd environment file (NAME=value lines) to read")
    args = parser.parse_args(argv)
    if args.env_file:
        os.environ.update(read_env_file(args.env_file))
    url = os.environ.get("DATABASE_URL")
    if not url:
        print("saas-api-migrate: DATABASE_URL is not set", file=sys.stderr)
        return 2
    engine = create_engine(re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql+psycopg://", url))
    config = alembic_config()
    with engine.connect() as connection:
        if args.pending:
            print(f"pending {len(pending_revisions(connection, config))}")
            return 0
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": LOCK_ID})
        try:
            todo = pending_revisions(connection, config)
            print(f"saas-api-migrate: {len(todo)} to apply", flush=True)
            connection.commit()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": LOCK_ID})
            connection.commit()
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
