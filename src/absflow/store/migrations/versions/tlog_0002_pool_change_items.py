"""Verifiable log: itemised lists of assets added to or removed from a pool (``pool.changed``).

Revision ID: tlog_0002
Revises: tlog_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tlog_0002"
down_revision: str | Sequence[str] | None = "tlog_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pool_change_items",
        sa.Column("log_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("plan_code", sa.String(32), nullable=False),
        sa.Column("asset_id", sa.String(64), nullable=False),
        sa.Column("change", sa.String(8), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("log_index", "position", name="pk_pool_change_items"),
    )
    op.create_index("ix_pool_change_items_plan_asset", "pool_change_items", ["plan_code", "asset_id"])


def downgrade() -> None:
    op.drop_index("ix_pool_change_items_plan_asset", table_name="pool_change_items")
    op.drop_table("pool_change_items")
