"""Index of every pool row by asset (active or removed): "ever owned by any plan" is a lookup.

The daily run's revolving purchase never buys a contract that any plan holds or has held. The only
index on ``asset_id`` was the partial unique index of active rows, so that check scanned
``pool_assets`` once per 900 candidates (≈ 1.4 s a day at 200,000 loans on SQLite).

Revision ID: tape_0003
Revises: tape_0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "tape_0003"
down_revision: str | Sequence[str] | None = "tape_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_pool_assets_asset_type_asset_id", "pool_assets", ["asset_type", "asset_id"])


def downgrade() -> None:
    op.drop_index("ix_pool_assets_asset_type_asset_id", "pool_assets")
