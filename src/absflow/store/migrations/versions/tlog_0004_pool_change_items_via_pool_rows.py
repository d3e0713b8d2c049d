"""Verifiable log: a daily run's pool-change items are found through the assets' pool rows, not
an index. ``pool_change_items.via_pool_rows`` marks them; the (plan_code, asset_id) index keeps
only the other lists' items (a day's thousands of entries on pages all over that index were
≈ 17 % of the pages a day's commit wrote at 200,000 loans).

Items stored before this revision keep ``via_pool_rows`` false and stay in the index.

Revision ID: tlog_0004
Revises: tlog_0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tlog_0004"
down_revision: str | Sequence[str] | None = "tlog_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_pool_change_items_plan_asset"


def upgrade() -> None:
    op.add_column("pool_change_items",
                  sa.Column("via_pool_rows", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.drop_index(INDEX, table_name="pool_change_items")
    op.create_index(INDEX, "pool_change_items", ["plan_code", "asset_id"],
                    sqlite_where=sa.text("NOT via_pool_rows"), postgresql_where=sa.text("NOT via_pool_rows"))


def downgrade() -> None:
    op.drop_index(INDEX, table_name="pool_change_items")
    op.create_index(INDEX, "pool_change_items", ["plan_code", "asset_id"])
    with op.batch_alter_table("pool_change_items") as batch:
        batch.drop_column("via_pool_rows")
