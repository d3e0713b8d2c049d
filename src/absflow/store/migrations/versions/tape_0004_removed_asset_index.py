"""The asset-history index covers removed rows only: an import no longer maintains it.

``tape_0003`` indexed every pool row by ``(asset_type, asset_id)`` so that "held by any plan,
now or before" is a lookup. The active rows already have that index (the partial unique
``uq_pool_assets_active_asset``), so the second one doubled the index work of every bulk insert
(an import of 1,000,000 rows: ≈ +10 s on SQLite, more on PostgreSQL) for rows that are never
removed at import. Now the history index holds the removed rows only (``removed_on IS NOT NULL``);
the ownership check asks both partial indexes (services.daily ``_owned_elsewhere``). A row enters
it when a daily run removes it (repaid, repurchased).

Revision ID: tape_0004
Revises: tape_0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tape_0004"
down_revision: str | Sequence[str] | None = "tape_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_pool_assets_asset_type_asset_id", "pool_assets")
    op.create_index(
        "ix_pool_assets_removed_asset", "pool_assets", ["asset_type", "asset_id"],
        sqlite_where=sa.text("removed_on IS NOT NULL"), postgresql_where=sa.text("removed_on IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_pool_assets_removed_asset", "pool_assets")
    op.create_index("ix_pool_assets_asset_type_asset_id", "pool_assets", ["asset_type", "asset_id"])
