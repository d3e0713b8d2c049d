"""Rows of loan tapes: import batches, pool assets (with pool membership), performance history.

``pool_assets`` holds one row per asset per plan, for every asset type: the columns all
types share (id, obligor, balance in fen, rate as a fraction, dates, status, region,
industry), then type-specific columns (null where they do not apply), then pool
membership: ``acquired_on`` (cut-off of the tape or date of a revolving purchase),
``removed_on`` and ``removal_reason`` (repurchase, repaid, …). An asset (type + id) is in
at most one pool at a time: a partial unique index over the rows not removed; a second partial
index over the removed rows finds an asset's past holders.

The two bulk tables (``pool_assets``, ``performance_records``) carry no foreign keys:
PostgreSQL's COPY fires one referential trigger per row and key, which doubled the import
time (migration ``tape_0002``). Their ``plan_id``/``batch_id`` are written only by
services that hold the plan row locked (and insert the batch row) in the same
transaction; plans are never deleted.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from absflow.store.base import Base, Fen

#: Surrogate keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
RowId = BigInteger().with_variant(Integer(), "sqlite")


class TapeBatchRow(Base):
    """One imported tape file: what, when, from which bytes (SHA-256), with which mapping."""

    __tablename__ = "tape_batches"
    __table_args__ = (UniqueConstraint("plan_id", "sha256", name="uq_tape_batches_plan_id_sha256"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    file_name: Mapped[str] = mapped_column(String(300), nullable=False)
    row_count: Mapped[int] = mapped_column(Integer, nullable=False)
    cutoff_date: Mapped[date] = mapped_column(Date, nullable=False)
    mapping_json: Mapped[str] = mapped_column(Text, nullable=False)
    totals_json: Mapped[str] = mapped_column(Text, nullable=False)
    merkle_root: Mapped[str | None] = mapped_column(String(64))
    log_index: Mapped[int | None] = mapped_column(BigInteger)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class PoolAssetRow(Base):
    """One asset in one plan's pool. Money in fen, rates as fractions."""

    __tablename__ = "pool_assets"
    __table_args__ = (
        Index("ix_pool_assets_plan_id_removed_on", "plan_id", "removed_on"),
        Index(
            "uq_pool_assets_active_asset", "asset_type", "asset_id", unique=True,
            sqlite_where=text("removed_on IS NULL"), postgresql_where=text("removed_on IS NULL"),
        ),
        # The removed rows of an asset: with the index above, "ever owned by any plan" is two lookups
        # (migration tape_0004; a bulk import, whose rows are all active, does not maintain it).
        Index(
            "ix_pool_assets_removed_asset", "asset_type", "asset_id",
            sqlite_where=text("removed_on IS NOT NULL"), postgresql_where=text("removed_on IS NOT NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(Integer, nullable=False)  # plans.id (no FK: see module docstring)
    batch_id: Mapped[int | None] = mapped_column(Integer)  # tape_batches.id; null for rows not from a tape
    asset_type: Mapped[str] = mapped_column(String(32), nullable=False)
    asset_id: Mapped[str] = mapped_column(String(64), nullable=False)
    obligor_id: Mapped[str] = mapped_column(String(64), nullable=False)
    # common
    balance_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    original_principal_fen: Mapped[int | None] = mapped_column(Fen)
    rate: Mapped[float | None] = mapped_column(Float(53))
    start_date: Mapped[date] = mapped_column(Date, nullable=False)
    maturity_date: Mapped[date | None] = mapped_column(Date)
    original_term_months: Mapped[int | None] = mapped_column(Integer)
    remaining_term_months: Mapped[int | None] = mapped_column(Integer)
    amortization: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    days_past_due: Mapped[int | None] = mapped_column(Integer)
    region: Mapped[str | None] = mapped_column(String(64))
    industry: Mapped[str | None] = mapped_column(String(64))
    grade: Mapped[str | None] = mapped_column(String(32))
    purpose: Mapped[str | None] = mapped_column(String(64))
    # margin loans (融出资金债权)
    extension_count: Mapped[int | None] = mapped_column(Integer)
    accrued_interest_fen: Mapped[int | None] = mapped_column(Fen)
    fees_fen: Mapped[int | None] = mapped_column(Fen)
    cash_balance_fen: Mapped[int | None] = mapped_column(Fen)
    securities_market_value_fen: Mapped[int | None] = mapped_column(Fen)
    short_market_value_fen: Mapped[int | None] = mapped_column(Fen)
    maintenance_ratio: Mapped[float | None] = mapped_column(Float(53))
    branch: Mapped[str | None] = mapped_column(String(64))
    # leases
    payment_frequency_months: Mapped[int | None] = mapped_column(Integer)
    residual_value_fen: Mapped[int | None] = mapped_column(Fen)
    leased_asset: Mapped[str | None] = mapped_column(String(64))
    # receivables
    creditor_id: Mapped[str | None] = mapped_column(String(64))
    # where the row came from and pool membership
    cutoff_date: Mapped[date] = mapped_column(Date, nullable=False)
    source_row: Mapped[int | None] = mapped_column(Integer)
    acquired_on: Mapped[date] = mapped_column(Date, nullable=False)
    removed_on: Mapped[date | None] = mapped_column(Date)
    removal_reason: Mapped[str | None] = mapped_column(String(32))


class PoolAssetStateRow(Base):
    """The current changing values of an active pool asset a daily run has changed (migration
    tape_0005): they override its ``pool_assets`` row's until it leaves the pool, when they are
    written into that row and this one is deleted. Keyed like the active-asset unique index."""

    __tablename__ = "pool_asset_states"
    __table_args__ = ({"sqlite_with_rowid": False},)
    asset_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    balance_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    accrued_interest_fen: Mapped[int | None] = mapped_column(Fen)
    cutoff_date: Mapped[date] = mapped_column(Date, nullable=False)
    maturity_date: Mapped[date | None] = mapped_column(Date)
    extension_count: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), nullable=False)


class PerformanceRecordRow(Base):
    """One loan in one month (static-pool / roll-rate history). Money in fen."""

    __tablename__ = "performance_records"
    __table_args__ = (
        UniqueConstraint("plan_id", "loan_id", "period", name="uq_performance_records_plan_id_loan_id_period"),
    )
    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(Integer, nullable=False)  # plans.id (no FK: see module docstring)
    batch_id: Mapped[int] = mapped_column(Integer, nullable=False)  # tape_batches.id
    loan_id: Mapped[str] = mapped_column(String(64), nullable=False)
    period: Mapped[date] = mapped_column(Date, nullable=False)
    begin_balance_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    scheduled_principal_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    prepaid_principal_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    defaulted_amount_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    recovery_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    end_balance_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    days_past_due: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    origination_date: Mapped[date | None] = mapped_column(Date)
    original_principal_fen: Mapped[int | None] = mapped_column(Fen)
    source_row: Mapped[int | None] = mapped_column(Integer)
