"""Rows of loan tapes: import batches, pool assets (with pool membership), performance history.

``pool_assets`` holds one row per asset per plan, for every asset type, written once when the
asset enters the plan's pool (a tape's cut-off or a revolving purchase) and never changed: the
columns all types share (id, obligor, balance in fen, rate as a fraction, dates, status,
region, industry), then type-specific columns (null where they do not apply), then
``acquired_on``. Membership and the values a day changes live beside it (migration
``tape_0006``): an asset in a pool has one ``pool_asset_states`` row (its current balance,
accrued interest, cut-off, due date, extension count and status), keyed by (asset_type,
asset_id) — so an asset is in at most one pool at a time; when it leaves, that row is deleted and
a ``pool_asset_removals`` row (the day, the reason, the final values) is appended. Every
``pool_assets`` row has exactly one of the two. A removal touches no ``pool_assets`` page.

The bulk tables (``pool_assets``, ``performance_records``, the states and removals) carry no
foreign keys: PostgreSQL's COPY fires one referential trigger per row and key, which doubled
the import time (migration ``tape_0002``). Their ``plan_id``/``batch_id``/``pool_asset_id``
are written only by services that hold the plan row locked (and insert the batch row) in the
same transaction; plans are never deleted.
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
        # A plan's rows by the day they came (a day's purchases; the whole plan): appended to, as days go by.
        Index("ix_pool_assets_plan_id_acquired_on", "plan_id", "acquired_on"),
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


class _AssetValues:
    """The values of a pool asset that daily runs change (``services.tapes.STATE_COLUMNS``): money in fen."""

    balance_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    accrued_interest_fen: Mapped[int | None] = mapped_column(Fen)
    cutoff_date: Mapped[date] = mapped_column(Date, nullable=False)
    maturity_date: Mapped[date | None] = mapped_column(Date)
    extension_count: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), nullable=False)


class PoolAssetStateRow(_AssetValues, Base):
    """An asset in a pool now: its ``pool_assets`` row and the current values of what a day changes
    (migration tape_0006). Keyed by (asset_type, asset_id): an asset is in one pool at a time.
    Inserted with the pool row (tape import, purchase), updated by daily runs, deleted when the
    asset leaves (a ``pool_asset_removals`` row takes its place)."""

    __tablename__ = "pool_asset_states"
    __table_args__ = ({"sqlite_with_rowid": False},)
    asset_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pool_asset_id: Mapped[int] = mapped_column(RowId, nullable=False)  # pool_assets.id
    plan_id: Mapped[int] = mapped_column(Integer, nullable=False)


class PoolAssetRemovalRow(_AssetValues, Base):
    """An asset that left a plan's pool: the day, why (repurchase, repaid, …) and its values then
    (migration tape_0006). Appended in the order assets leave."""

    __tablename__ = "pool_asset_removals"
    __table_args__ = (
        # "Held before by any plan" and an asset's past pool rows: a lookup.
        Index("ix_pool_asset_removals_asset", "asset_type", "asset_id"),
        # A plan's pool on a past day: the assets removed after it (appended to, as days go by).
        Index("ix_pool_asset_removals_plan_id_removed_on", "plan_id", "removed_on"),
    )
    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    pool_asset_id: Mapped[int] = mapped_column(RowId, nullable=False)  # pool_assets.id
    plan_id: Mapped[int] = mapped_column(Integer, nullable=False)
    asset_type: Mapped[str] = mapped_column(String(32), nullable=False)
    asset_id: Mapped[str] = mapped_column(String(64), nullable=False)
    removed_on: Mapped[date] = mapped_column(Date, nullable=False)
    removal_reason: Mapped[str | None] = mapped_column(String(32))


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
