"""Stored pool analytics, so any server process serves a large pool's analytics without a full load.

Revision ID: pool_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "pool_0001"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("pool",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pool_analytics",
        sa.Column("plan_code", sa.String(32), nullable=False),
        sa.Column("part", sa.String(80), nullable=False),
        sa.Column("state_idx", sa.BigInteger(), nullable=False),
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("plan_code", "part", name="pk_pool_analytics"),
    )


def downgrade() -> None:
    op.drop_table("pool_analytics")
