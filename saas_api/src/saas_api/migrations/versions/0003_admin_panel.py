"""The admin panel's tables: its sessions, its login throttle and its audit log.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def now():
    return sa.func.now()


def upgrade() -> None:
    op.create_table(
        "admin_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), server_default=now(), nullable=False),
        sa.Column("flash", sa.Text),
    )
    op.create_table(
        "admin_login_failures",
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=now(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("session", sa.String(12)),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_kind", sa.String(32)),
        sa.Column("object_id", sa.String(128)),
        sa.Column("detail", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("outcome", sa.Text, nullable=False),
    )
    # The audit page lists newest first; an object's history is looked up by its id.
    op.create_index("audit_events_at", "audit_events", ["at"])
    op.create_index("audit_events_object", "audit_events", ["object_kind", "object_id"])


def downgrade() -> None:
    op.drop_index("audit_events_object", "audit_events")
    op.drop_index("audit_events_at", "audit_events")
    for table in ("audit_events", "admin_login_failures", "admin_sessions"):
        op.drop_table(table)
