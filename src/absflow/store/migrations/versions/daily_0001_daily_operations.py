"""Daily revolving operations: inputs, day results, postings, asset events, repurchases, distributions.

Revision ID: daily_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "daily_0001"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("daily",)
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "daily_asset_events",
        sa.Column("id", ROW_ID, nullable=False, autoincrement=True),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("asset_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("interest_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.String(120), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name="fk_daily_asset_events_plan_id_plans", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_daily_asset_events"),
    )
    op.create_index(
        "ix_daily_asset_events_plan_id_business_date", "daily_asset_events", ["plan_id", "business_date"], unique=False
    )
    op.create_index("ix_daily_asset_events_asset_id", "daily_asset_events", ["asset_id"], unique=False)
    op.create_table(
        "daily_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("purchase_state", sa.String(32), nullable=False),
        sa.Column("pool_balance_fen", sa.BigInteger(), nullable=False),
        sa.Column("cash_fen", sa.BigInteger(), nullable=False),
        sa.Column("scale_fen", sa.BigInteger(), nullable=False),
        sa.Column("available_fen", sa.BigInteger(), nullable=False),
        sa.Column("purchased_principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("purchased_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("purchased_count", sa.Integer(), nullable=False),
        sa.Column("delivery_sha256", sa.String(64), nullable=True),
        sa.Column("inputs_sha256", sa.String(64), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=True),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("plan_id", "business_date", name="uq_daily_days_plan_id_business_date"),
        sa.PrimaryKeyConstraint("id", name="pk_daily_days"),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_daily_days_plan_id_plans", ondelete="CASCADE"),
    )
    op.create_table(
        "daily_distributions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("payment_date", sa.Date(), nullable=False),
        sa.Column("tranche_id", sa.String(32), nullable=False),
        sa.Column("interest_due_fen", sa.BigInteger(), nullable=False),
        sa.Column("interest_paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("principal_paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("liquidity_drawn_fen", sa.BigInteger(), nullable=False),
        sa.Column("shortfall_paid_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name="fk_daily_distributions_plan_id_plans", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_daily_distributions"),
        sa.UniqueConstraint(
            "plan_id", "payment_date", "tranche_id", name="uq_daily_distributions_plan_id_payment_date_tranche_id"
        ),
    )
    op.create_table(
        "daily_inputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(300), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_daily_inputs_plan_id_plans", ondelete="CASCADE"),
        sa.UniqueConstraint("plan_id", "business_date", "kind", name="uq_daily_inputs_plan_id_business_date_kind"),
        sa.PrimaryKeyConstraint("id", name="pk_daily_inputs"),
    )
    op.create_table(
        "daily_plan_states",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stopped_on", sa.Date(), nullable=True),
        sa.Column("stop_reason", sa.String(200), nullable=True),
        sa.Column("last_run_date", sa.Date(), nullable=True),
        sa.Column("initial_pool_fen", sa.BigInteger(), nullable=False),
        sa.Column("cumulative_default_fen", sa.BigInteger(), nullable=False),
        sa.Column("state_json", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", name="pk_daily_plan_states"),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name="fk_daily_plan_states_plan_id_plans", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "daily_postings",
        sa.Column("id", ROW_ID, nullable=False, autoincrement=True),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("entry_no", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(48), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("memo", sa.String(120), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_daily_postings"),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_daily_postings_plan_id_plans", ondelete="CASCADE"),
    )
    op.create_index(
        "ix_daily_postings_plan_id_business_date", "daily_postings", ["plan_id", "business_date"], unique=False
    )
    op.create_table(
        "daily_repurchases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("instructed_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("interest_fen", sa.BigInteger(), nullable=False),
        sa.Column("received_fen", sa.BigInteger(), nullable=False),
        sa.Column("settled_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name="fk_daily_repurchases_plan_id_plans", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("plan_id", "asset_id", name="uq_daily_repurchases_plan_id_asset_id"),
        sa.PrimaryKeyConstraint("id", name="pk_daily_repurchases"),
    )


def downgrade() -> None:
    for table in (
        "daily_distributions",
        "daily_repurchases",
        "daily_asset_events",
        "daily_postings",
        "daily_days",
        "daily_plan_states",
        "daily_inputs",
    ):
        op.drop_table(table)
