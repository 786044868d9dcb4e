"""Alembic environment: runs on the connection saas_api.migrate opened (and locked)."""

from alembic import context

from saas_api.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
