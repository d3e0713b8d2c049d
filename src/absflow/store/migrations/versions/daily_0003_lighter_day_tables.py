"""The day's bulk tables get lighter: no asset-id index on asset events, no foreign keys.

A daily run appends ≈ 13,000 ``daily_asset_events`` and a few dozen ``daily_postings`` rows.
``ix_daily_asset_events_asset_id`` took one random B-tree insert per event (at 200,000 loans
≈ 13,000 a day into an index of millions of entries: most of the pages a day dirtied in it),
and nothing reads events by asset id — every reader selects a plan's days
(``ix_daily_asset_events_plan_id_business_date``). The foreign keys to ``plans`` fired a
referential check per row (a trigger per row under COPY on PostgreSQL); the run writes
``plan_id`` from the plan row it holds in the same transaction, and plans are never deleted
(as for ``pool_assets``, tape_0002). Measured: docs/PERFORMANCE.md "daily operations".

Revision ID: daily_0003
Revises: daily_0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "daily_0003"
down_revision: str | Sequence[str] | None = "daily_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_daily_asset_events_asset_id", "daily_asset_events")
    with op.batch_alter_table("daily_asset_events") as batch:
        batch.drop_constraint("fk_daily_asset_events_plan_id_plans", type_="foreignkey")
    with op.batch_alter_table("daily_postings") as batch:
        batch.drop_constraint("fk_daily_postings_plan_id_plans", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("daily_postings") as batch:
        batch.create_foreign_key("fk_daily_postings_plan_id_plans", "plans", ["plan_id"], ["id"], ondelete="CASCADE")
    with op.batch_alter_table("daily_asset_events") as batch:
        batch.create_foreign_key("fk_daily_asset_events_plan_id_plans", "plans", ["plan_id"], ["id"],
                                 ondelete="CASCADE")
    op.create_index("ix_daily_asset_events_asset_id", "daily_asset_events", ["asset_id"], unique=False)
