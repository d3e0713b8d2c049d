"""Loan tapes: import batches, pool assets with pool membership, performance history.

Revision ID: tape_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tape_0001"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("tape",)
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tape_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(300), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("cutoff_date", sa.Date(), nullable=False),
        sa.Column("mapping_json", sa.Text(), nullable=False),
        sa.Column("totals_json", sa.Text(), nullable=False),
        sa.Column("merkle_root", sa.String(64), nullable=True),
        sa.Column("log_index", sa.BigInteger(), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tape_batches"),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_tape_batches_plan_id_plans", ondelete="CASCADE"),
        sa.UniqueConstraint("plan_id", "sha256", name="uq_tape_batches_plan_id_sha256"),
    )
    op.create_index("ix_tape_batches_plan_id", "tape_batches", ["plan_id"])
    fen = sa.BigInteger
    op.create_table(
        "pool_assets",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("asset_type", sa.String(32), nullable=False),
        sa.Column("asset_id", sa.String(64), nullable=False),
        sa.Column("obligor_id", sa.String(64), nullable=False),
        sa.Column("balance_fen", fen(), nullable=False),
        sa.Column("original_principal_fen", fen(), nullable=True),
        sa.Column("rate", sa.Float(53), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("maturity_date", sa.Date(), nullable=True),
        sa.Column("original_term_months", sa.Integer(), nullable=True),
        sa.Column("remaining_term_months", sa.Integer(), nullable=True),
        sa.Column("amortization", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("days_past_due", sa.Integer(), nullable=True),
        sa.Column("region", sa.String(64), nullable=True),
        sa.Column("industry", sa.String(64), nullable=True),
        sa.Column("grade", sa.String(32), nullable=True),
        sa.Column("purpose", sa.String(64), nullable=True),
        sa.Column("extension_count", sa.Integer(), nullable=True),
        sa.Column("accrued_interest_fen", fen(), nullable=True),
        sa.Column("fees_fen", fen(), nullable=True),
        sa.Column("cash_balance_fen", fen(), nullable=True),
        sa.Column("securities_market_value_fen", fen(), nullable=True),
        sa.Column("short_market_value_fen", fen(), nullable=True),
        sa.Column("maintenance_ratio", sa.Float(53), nullable=True),
        sa.Column("branch", sa.String(64), nullable=True),
        sa.Column("payment_frequency_months", sa.Integer(), nullable=True),
        sa.Column("residual_value_fen", fen(), nullable=True),
        sa.Column("leased_asset", sa.String(64), nullable=True),
        sa.Column("creditor_id", sa.String(64), nullable=True),
        sa.Column("cutoff_date", sa.Date(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("acquired_on", sa.Date(), nullable=False),
        sa.Column("removed_on", sa.Date(), nullable=True),
        sa.Column("removal_reason", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_pool_assets"),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_pool_assets_plan_id_plans", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["batch_id"], ["tape_batches.id"], name="fk_pool_assets_batch_id_tape_batches",
                                ondelete="CASCADE"),
    )
    op.create_index("ix_pool_assets_batch_id", "pool_assets", ["batch_id"])
    op.create_index("ix_pool_assets_plan_id_removed_on", "pool_assets", ["plan_id", "removed_on"])
    op.create_index(
        "uq_pool_assets_active_asset", "pool_assets", ["asset_type", "asset_id"], unique=True,
        sqlite_where=sa.text("removed_on IS NULL"), postgresql_where=sa.text("removed_on IS NULL"),
    )
    op.create_table(
        "performance_records",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("begin_balance_fen", fen(), nullable=False),
        sa.Column("scheduled_principal_fen", fen(), nullable=False),
        sa.Column("prepaid_principal_fen", fen(), nullable=False),
        sa.Column("defaulted_amount_fen", fen(), nullable=False),
        sa.Column("recovery_fen", fen(), nullable=False),
        sa.Column("end_balance_fen", fen(), nullable=False),
        sa.Column("days_past_due", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("origination_date", sa.Date(), nullable=True),
        sa.Column("original_principal_fen", fen(), nullable=True),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_performance_records"),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_performance_records_plan_id_plans",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["batch_id"], ["tape_batches.id"], name="fk_performance_records_batch_id_tape_batches",
                                ondelete="CASCADE"),
        sa.UniqueConstraint("plan_id", "loan_id", "period", name="uq_performance_records_plan_id_loan_id_period"),
    )
    op.create_index("ix_performance_records_batch_id", "performance_records", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_performance_records_batch_id", "performance_records")
    op.drop_table("performance_records")
    op.drop_index("uq_pool_assets_active_asset", "pool_assets")
    op.drop_index("ix_pool_assets_plan_id_removed_on", "pool_assets")
    op.drop_index("ix_pool_assets_batch_id", "pool_assets")
    op.drop_table("pool_assets")
    op.drop_index("ix_tape_batches_plan_id", "tape_batches")
    op.drop_table("tape_batches")
