"""Issuance bookbuilding: investors, offerings, bids, allocation runs, issuance results, holders, payments.

Revision ID: book_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "book_0001"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("book",)
depends_on: str | Sequence[str] | None = None


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=f"pk_{table}")


def _fk(table: str, column: str, target: str, *, cascade: bool = True) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE" if cascade else None
    )


def upgrade() -> None:
    t = "book_investors"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("investor_type", sa.String(32), nullable=False),
        sa.Column("qualified", sa.Boolean(), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _pk(t),
        sa.UniqueConstraint("name", name="uq_book_investors_name"),
        sa.UniqueConstraint("credit_code", name="uq_book_investors_credit_code"),
    )
    t = "book_investor_contacts"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("investor_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(40), nullable=True),
        sa.Column("email", sa.String(200), nullable=True),
        _pk(t),
        _fk(t, "investor_id", "book_investors"),
    )
    t = "book_investor_accounts"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("investor_id", sa.Integer(), nullable=False),
        sa.Column("product_name", sa.String(300), nullable=False),
        sa.Column("securities_account", sa.String(40), nullable=True),
        _pk(t),
        _fk(t, "investor_id", "book_investors"),
        sa.UniqueConstraint("investor_id", "product_name", name="uq_book_investor_accounts_product"),
    )
    t = "book_offerings"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("tranche_id", sa.String(40), nullable=False),
        sa.Column("security_name", sa.String(200), nullable=False),
        sa.Column("security_code", sa.String(40), nullable=True),
        sa.Column("term_months", sa.Integer(), nullable=True),
        sa.Column("size_fen", sa.BigInteger(), nullable=False),
        sa.Column("lot_fen", sa.BigInteger(), nullable=False),
        sa.Column("minimum_fen", sa.BigInteger(), nullable=False),
        sa.Column("cap_fen", sa.BigInteger(), nullable=True),
        sa.Column("rate_min_bp", sa.Integer(), nullable=False),
        sa.Column("rate_max_bp", sa.Integer(), nullable=False),
        sa.Column("convention", sa.String(16), nullable=False),
        sa.Column("max_levels", sa.Integer(), nullable=True),
        sa.Column("holder_limit", sa.Integer(), nullable=False),
        sa.Column("bid_open", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bid_close", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payment_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payee_name", sa.String(300), nullable=False),
        sa.Column("payee_bank", sa.String(300), nullable=False),
        sa.Column("payee_account", sa.String(60), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _pk(t),
        _fk(t, "plan_id", "plans"),
        sa.UniqueConstraint("plan_id", "tranche_id", name="uq_book_offerings_plan_tranche"),
    )
    t = "book_bids"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offering_id", sa.Integer(), nullable=False),
        sa.Column("investor_id", sa.Integer(), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        _pk(t),
        _fk(t, "offering_id", "book_offerings"),
        _fk(t, "investor_id", "book_investors", cascade=False),
        _fk(t, "replaces_id", "book_bids", cascade=False),
    )
    op.create_index("ix_book_bids_offering_id", t, ["offering_id"])
    t = "book_allocation_runs"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offering_id", sa.Integer(), nullable=False),
        sa.Column("input_sha256", sa.String(64), nullable=False),
        sa.Column("marginal_rate_bp", sa.Integer(), nullable=True),
        sa.Column("total_demand_fen", sa.BigInteger(), nullable=False),
        sa.Column("allocated_total_fen", sa.BigInteger(), nullable=False),
        sa.Column("shortfall_fen", sa.BigInteger(), nullable=False),
        sa.Column("total_multiple", sa.String(20), nullable=False),
        sa.Column("marginal_multiple", sa.String(20), nullable=True),
        sa.Column("undersubscribed", sa.Boolean(), nullable=False),
        sa.Column("valid_bid_count", sa.Integer(), nullable=False),
        sa.Column("holder_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _pk(t),
        _fk(t, "offering_id", "book_offerings"),
        sa.UniqueConstraint("offering_id", name="uq_book_allocation_runs_offering_id"),
    )
    t = "book_allocation_lines"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("investor_id", sa.Integer(), nullable=False),
        sa.Column("bid_fen", sa.BigInteger(), nullable=False),
        sa.Column("allocated_fen", sa.BigInteger(), nullable=False),
        _pk(t),
        _fk(t, "run_id", "book_allocation_runs"),
        _fk(t, "investor_id", "book_investors", cascade=False),
        sa.UniqueConstraint("run_id", "investor_id", name="uq_book_allocation_lines_run_investor"),
    )
    t = "book_issuance_results"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("tranche_id", sa.String(40), nullable=False),
        sa.Column("offering_id", sa.Integer(), nullable=False),
        sa.Column("coupon_bp", sa.Integer(), nullable=True),
        sa.Column("issued_fen", sa.BigInteger(), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=False),
        _pk(t),
        _fk(t, "plan_id", "plans"),
        _fk(t, "offering_id", "book_offerings"),
        sa.UniqueConstraint("plan_id", "tranche_id", name="uq_book_issuance_results_plan_tranche"),
    )
    t = "book_holders"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("tranche_id", sa.String(40), nullable=False),
        sa.Column("investor_id", sa.Integer(), nullable=False),
        sa.Column("face_fen", sa.BigInteger(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        _pk(t),
        _fk(t, "plan_id", "plans"),
        _fk(t, "investor_id", "book_investors", cascade=False),
        sa.UniqueConstraint("plan_id", "tranche_id", "investor_id", name="uq_book_holders_plan_tranche"),
    )
    t = "book_payments"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offering_id", sa.Integer(), nullable=False),
        sa.Column("investor_id", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reconciled", sa.Boolean(), nullable=False),
        sa.Column("reconciled_at", sa.DateTime(timezone=True), nullable=True),
        _pk(t),
        _fk(t, "offering_id", "book_offerings"),
        _fk(t, "investor_id", "book_investors", cascade=False),
        sa.UniqueConstraint("offering_id", "reference", name="uq_book_payments_offering_reference"),
    )
    op.create_index("ix_book_payments_offering_id", t, ["offering_id"])


def downgrade() -> None:
    op.drop_index("ix_book_payments_offering_id", "book_payments")
    op.drop_table("book_payments")
    op.drop_table("book_holders")
    op.drop_table("book_issuance_results")
    op.drop_table("book_allocation_lines")
    op.drop_table("book_allocation_runs")
    op.drop_index("ix_book_bids_offering_id", "book_bids")
    op.drop_table("book_bids")
    op.drop_table("book_offerings")
    op.drop_table("book_investor_accounts")
    op.drop_table("book_investor_contacts")
    op.drop_table("book_investors")
