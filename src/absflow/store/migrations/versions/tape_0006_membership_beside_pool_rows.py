"""Pool membership beside the pool rows: a removal no longer touches ``pool_assets``.

Until now an asset leaving a pool had its final values, ``removed_on`` and ``removal_reason``
written into its ``pool_assets`` row, which moved it between three indexes (the active unique
index, the removed-rows index and (plan_id, removed_on)). The ≈ 2,500 rows a daily run removes
at 200,000 loans lie all over a table that holds every asset ever bought: each commit wrote
≈ 3,200 of its ≈ 4,000 pages (16 KiB) for them, and those writes bounded the day.

Now ``pool_assets`` rows are written once and never changed; ``removed_on``/``removal_reason``
and the indexes over them go. An asset in a pool has one ``pool_asset_states`` row (now for
every active asset, with ``pool_asset_id`` and ``plan_id``; its key (asset_type, asset_id) is
the one-pool-at-a-time rule the active unique index was); leaving deletes it and appends a
``pool_asset_removals`` row (day, reason, final values), indexed by asset (held before by any
plan) and by (plan_id, removed_on) (a plan's pool on a past day). A plan's rows are indexed by
(plan_id, acquired_on).

Upgrade moves the data: every active row gets its state row (its values where it had none),
every removed row a removal row. Downgrade writes both back into ``pool_assets`` (the state
table then holds no rows, which the previous revision reads as "unchanged since imported").

Revision ID: tape_0006
Revises: tape_0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tape_0006"
down_revision: str | Sequence[str] | None = "tape_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VALUES = ("balance_fen", "accrued_interest_fen", "cutoff_date", "maturity_date", "extension_count", "status")
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _value_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [sa.Column("balance_fen", sa.BigInteger(), nullable=False),
            sa.Column("accrued_interest_fen", sa.BigInteger()),
            sa.Column("cutoff_date", sa.Date(), nullable=False),
            sa.Column("maturity_date", sa.Date()),
            sa.Column("extension_count", sa.Integer()),
            sa.Column("status", sa.String(16), nullable=False)]


def _state_table(name: str, key_name: str, *, membership: bool) -> None:
    keys = [sa.Column("pool_asset_id", _ROW_ID, nullable=False), sa.Column("plan_id", sa.Integer(), nullable=False)]
    op.create_table(
        name,
        sa.Column("asset_type", sa.String(32), nullable=False),
        sa.Column("asset_id", sa.String(64), nullable=False),
        *(keys if membership else []),
        *_value_columns(),
        sa.PrimaryKeyConstraint("asset_type", "asset_id", name=key_name),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "postgresql":  # room on each page for the day's new row versions (HOT updates)
        op.execute(f"ALTER TABLE {name} SET (fillfactor = 80)")


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    values = ", ".join(_VALUES)
    op.create_table(
        "pool_asset_removals",
        sa.Column("id", _ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("pool_asset_id", _ROW_ID, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("asset_type", sa.String(32), nullable=False),
        sa.Column("asset_id", sa.String(64), nullable=False),
        sa.Column("removed_on", sa.Date(), nullable=False),
        sa.Column("removal_reason", sa.String(32)),
        *_value_columns(),
    )
    op.execute(f"INSERT INTO pool_asset_removals (pool_asset_id, plan_id, asset_type, asset_id, removed_on, "
               f"removal_reason, {values}) SELECT id, plan_id, asset_type, asset_id, removed_on, removal_reason, "
               f"{values} FROM pool_assets WHERE removed_on IS NOT NULL ORDER BY removed_on, id")
    op.create_index("ix_pool_asset_removals_asset", "pool_asset_removals", ["asset_type", "asset_id"])
    op.create_index("ix_pool_asset_removals_plan_id_removed_on", "pool_asset_removals", ["plan_id", "removed_on"])

    op.rename_table("pool_asset_states", "pool_asset_states_changed")
    if postgresql:  # the new table's key takes the name
        op.execute("ALTER TABLE pool_asset_states_changed RENAME CONSTRAINT pk_pool_asset_states "
                   "TO pk_pool_asset_states_changed")
    _state_table("pool_asset_states", "pk_pool_asset_states", membership=True)
    current = ", ".join(f"CASE WHEN s.asset_id IS NULL THEN p.{c} ELSE s.{c} END" for c in _VALUES)
    op.execute(f"INSERT INTO pool_asset_states (asset_type, asset_id, pool_asset_id, plan_id, {values}) "
               f"SELECT p.asset_type, p.asset_id, p.id, p.plan_id, {current} FROM pool_assets p "
               "LEFT JOIN pool_asset_states_changed s ON s.asset_type = p.asset_type AND s.asset_id = p.asset_id "
               "WHERE p.removed_on IS NULL ORDER BY p.asset_type, p.asset_id")
    op.drop_table("pool_asset_states_changed")

    op.drop_index("uq_pool_assets_active_asset", "pool_assets")
    op.drop_index("ix_pool_assets_removed_asset", "pool_assets")
    op.drop_index("ix_pool_assets_plan_id_removed_on", "pool_assets")
    op.execute("ALTER TABLE pool_assets DROP COLUMN removed_on")
    op.execute("ALTER TABLE pool_assets DROP COLUMN removal_reason")
    op.create_index("ix_pool_assets_plan_id_acquired_on", "pool_assets", ["plan_id", "acquired_on"])


def downgrade() -> None:
    op.drop_index("ix_pool_assets_plan_id_acquired_on", "pool_assets")
    op.add_column("pool_assets", sa.Column("removed_on", sa.Date()))
    op.add_column("pool_assets", sa.Column("removal_reason", sa.String(32)))
    key = ("s.asset_type = pool_assets.asset_type AND s.asset_id = pool_assets.asset_id "
           "AND s.pool_asset_id = pool_assets.id")
    for source, extra in (("pool_asset_states", ()), ("pool_asset_removals", ("removed_on", "removal_reason"))):
        sets = ", ".join(f"{c} = (SELECT s.{c} FROM {source} s WHERE {key})" for c in (*_VALUES, *extra))
        op.execute(f"UPDATE pool_assets SET {sets} WHERE EXISTS (SELECT 1 FROM {source} s WHERE {key})")
    op.create_index("ix_pool_assets_plan_id_removed_on", "pool_assets", ["plan_id", "removed_on"])
    op.create_index(
        "uq_pool_assets_active_asset", "pool_assets", ["asset_type", "asset_id"], unique=True,
        sqlite_where=sa.text("removed_on IS NULL"), postgresql_where=sa.text("removed_on IS NULL"),
    )
    op.create_index(
        "ix_pool_assets_removed_asset", "pool_assets", ["asset_type", "asset_id"],
        sqlite_where=sa.text("removed_on IS NOT NULL"), postgresql_where=sa.text("removed_on IS NOT NULL"),
    )
    op.drop_table("pool_asset_removals")
    op.drop_table("pool_asset_states")
    _state_table("pool_asset_states", "pk_pool_asset_states", membership=False)
