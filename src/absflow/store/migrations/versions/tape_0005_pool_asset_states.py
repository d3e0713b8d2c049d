"""The changing values of active pool assets in a narrow table of their own: ``pool_asset_states``.

A daily run at 200,000 loans changes ≈ 12,500 active assets a day (collections and the interest
they settle, extensions, liquidations). Rewriting each one's wide ``pool_assets`` row (40
columns) dirtied ≈ 8,000 pages a day on SQLite, more as the table grew with every asset ever
bought; on PostgreSQL each update wrote a new version of the wide row and an entry in each of its
three indexes. A state row holds only what a day changes — balance, accrued interest, its
cut-off, due date, extension count, status — for an active asset a daily run has changed, keyed
by (asset_type, asset_id), which is unique among active assets (``uq_pool_assets_active_asset``):
narrow rows under one key index (SQLite: WITHOUT ROWID, the rows are the index).

An active asset's current values are its state row's where it has one, else its
``pool_assets`` row's (as imported or bought). When an asset leaves the pool, the day writes its
final values into its ``pool_assets`` row beside ``removed_on`` and deletes its state row: a
removed row is complete on its own. Databases upgraded to this revision need no data moved.

Revision ID: tape_0005
Revises: tape_0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tape_0005"
down_revision: str | Sequence[str] | None = "tape_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FOLDED = ("balance_fen", "accrued_interest_fen", "cutoff_date", "maturity_date", "extension_count", "status")


def upgrade() -> None:
    op.create_table(
        "pool_asset_states",
        sa.Column("asset_type", sa.String(32), nullable=False),
        sa.Column("asset_id", sa.String(64), nullable=False),
        sa.Column("balance_fen", sa.BigInteger(), nullable=False),
        sa.Column("accrued_interest_fen", sa.BigInteger()),
        sa.Column("cutoff_date", sa.Date(), nullable=False),
        sa.Column("maturity_date", sa.Date()),
        sa.Column("extension_count", sa.Integer()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("asset_type", "asset_id", name="pk_pool_asset_states"),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "postgresql":  # room on each page for the day's new row versions (HOT updates)
        op.execute("ALTER TABLE pool_asset_states SET (fillfactor = 80)")


def downgrade() -> None:
    # Fold every state row back into its active pool_assets row, then drop the table.
    sets = ", ".join(f"{c} = (SELECT s.{c} FROM pool_asset_states s WHERE s.asset_type = pool_assets.asset_type "
                     f"AND s.asset_id = pool_assets.asset_id)" for c in _FOLDED)
    op.execute(f"UPDATE pool_assets SET {sets} WHERE removed_on IS NULL AND EXISTS (SELECT 1 FROM pool_asset_states s "
               "WHERE s.asset_type = pool_assets.asset_type AND s.asset_id = pool_assets.asset_id)")
    op.drop_table("pool_asset_states")
