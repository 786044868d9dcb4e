"""Organizations, model groups, teams with their keys, credits.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MONEY = sa.Numeric(20, 6)


def timestamps():
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False, unique=True),
        sa.Column("litellm_organization_id", sa.String(128)),
        *timestamps(),
    )
    op.create_table(
        "model_groups",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("models", JSONB, nullable=False),
        *timestamps(),
    )
    op.create_table(
        "teams",
        sa.Column("team_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column(
            "organization_id",
            sa.String(128),
            sa.ForeignKey("organizations.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("max_budget", MONEY, nullable=False),
        sa.Column("budget_duration", sa.String(32)),
        sa.Column("rpm_limit", sa.Integer),
        sa.Column("tpm_limit", sa.Integer),
        sa.Column("metadata", JSONB, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("key_generation", sa.Integer, nullable=False),
        sa.Column("key_ciphertext", sa.Text, nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("pending_key_ciphertext", sa.Text),
        sa.Column("pending_key_hash", sa.String(64), unique=True),
        *timestamps(),
        sa.UniqueConstraint("organization_id", "name"),
    )
    op.create_table(
        "team_model_groups",
        sa.Column(
            "team_id",
            sa.String(128),
            sa.ForeignKey("teams.team_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "group_name",
            sa.String(128),
            sa.ForeignKey("model_groups.name", ondelete="RESTRICT", onupdate="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index("team_model_groups_group_name", "team_model_groups", ["group_name"])
    op.create_table(
        "credits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "team_id",
            sa.String(128),
            sa.ForeignKey("teams.team_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("reference", sa.String(128)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.UniqueConstraint("team_id", "reference"),
    )


def downgrade() -> None:
    for table in ("credits", "team_model_groups", "teams", "model_groups", "organizations"):
        op.drop_table(table)
