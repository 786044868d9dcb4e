"""Who created an organization, model group or team, when it was a tool (the seed's
"gateway-seed"): its prune removes only what it created, never what an operator added by hand.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("organizations", "model_groups", "teams")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("managed_by", sa.String(64), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "managed_by")
