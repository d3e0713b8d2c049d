"""Rows of daily revolving operations: inputs, day results, postings, asset events, repurchases,
distributions and the plan's operating state. Pool assets themselves live in ``pool_assets``
(absflow.store.tapes); money in integer fen.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from absflow.store.base import Base, Fen

RowId = BigInteger().with_variant(Integer(), "sqlite")


class DailyInputRow(Base):
    """One validated daily servicer file of one kind for one business day (Parquet bytes)."""

    __tablename__ = "daily_inputs"
    __table_args__ = (
        UniqueConstraint("plan_id", "business_date", "kind", name="uq_daily_inputs_plan_id_business_date_kind"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), nullable=False)
    business_date: Mapped[date] = mapped_column(Date, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    file_name: Mapped[str] = mapped_column(String(300), nullable=False)
    row_count: Mapped[int] = mapped_column(Integer, nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class DailyPlanStateRow(Base):
    """Operating state of a plan's daily run: status, last day run, running totals."""

    __tablename__ = "daily_plan_states"
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # revolving | amortizing | ended
    stopped_on: Mapped[date | None] = mapped_column(Date)
    stop_reason: Mapped[str | None] = mapped_column(String(200))
    last_run_date: Mapped[date | None] = mapped_column(Date)
    initial_pool_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    cumulative_default_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    state_json: Mapped[str] = mapped_column(Text, nullable=False)  # tranche balances, last payment date, …
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class DailyDayRow(Base):
    """The result of one business day's run (one row per plan and day; its presence = day done)."""

    __tablename__ = "daily_days"
    __table_args__ = (UniqueConstraint("plan_id", "business_date", name="uq_daily_days_plan_id_business_date"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), nullable=False)
    business_date: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    purchase_state: Mapped[str] = mapped_column(String(32), nullable=False)
    pool_balance_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    cash_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    scale_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    available_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    purchased_principal_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    purchased_price_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    purchased_count: Mapped[int] = mapped_column(Integer, nullable=False)
    delivery_sha256: Mapped[str | None] = mapped_column(String(64))
    inputs_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    result_json: Mapped[str] = mapped_column(Text, nullable=False)
    log_index: Mapped[int | None] = mapped_column(BigInteger)
    run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class DailyPostingRow(Base):
    """One line of a balanced journal entry (debit positive, credit negative, fen)."""

    __tablename__ = "daily_postings"
    __table_args__ = (Index("ix_daily_postings_plan_id_business_date", "plan_id", "business_date"),)
    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(Integer, nullable=False)  # plans.id (no FK: bulk table, daily_0003)
    business_date: Mapped[date] = mapped_column(Date, nullable=False)
    entry_no: Mapped[int] = mapped_column(Integer, nullable=False)
    account: Mapped[str] = mapped_column(String(48), nullable=False)
    amount_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    memo: Mapped[str] = mapped_column(String(120), nullable=False)


class DailyAssetEventRow(Base):
    """What happened to one pool asset on a day: collection, purchase, extension, liquidation, repurchase.

    Read by plan and day only; no index on ``asset_id`` and no foreign key (migration daily_0003:
    ≈ 13,000 rows a day at 200,000 loans)."""

    __tablename__ = "daily_asset_events"
    __table_args__ = (Index("ix_daily_asset_events_plan_id_business_date", "plan_id", "business_date"),)
    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(Integer, nullable=False)  # plans.id (no FK: bulk table, daily_0003)
    business_date: Mapped[date] = mapped_column(Date, nullable=False)
    asset_id: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    principal_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    interest_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    fee_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    detail: Mapped[str | None] = mapped_column(String(120))


class DailyRepurchaseRow(Base):
    """A repurchase instruction to the originator and the cash received against it."""

    __tablename__ = "daily_repurchases"
    __table_args__ = (
        UniqueConstraint("plan_id", "asset_id", name="uq_daily_repurchases_plan_id_asset_id"),
        # The open instructions only (read three times a day; migration daily_0004).
        Index("ix_daily_repurchases_open", "plan_id", "due_on", sqlite_where=text("settled_on IS NULL"),
              postgresql_where=text("settled_on IS NULL")),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), nullable=False)
    asset_id: Mapped[str] = mapped_column(String(64), nullable=False)
    reason: Mapped[str] = mapped_column(String(32), nullable=False)
    instructed_on: Mapped[date] = mapped_column(Date, nullable=False)
    due_on: Mapped[date] = mapped_column(Date, nullable=False)
    principal_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    interest_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    received_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    settled_on: Mapped[date | None] = mapped_column(Date)


class DailyDistributionRow(Base):
    """What a tranche received on a payment date, and the support drawn for it."""

    __tablename__ = "daily_distributions"
    __table_args__ = (
        UniqueConstraint(
            "plan_id", "payment_date", "tranche_id", name="uq_daily_distributions_plan_id_payment_date_tranche_id"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), nullable=False)
    payment_date: Mapped[date] = mapped_column(Date, nullable=False)
    tranche_id: Mapped[str] = mapped_column(String(32), nullable=False)
    interest_due_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    interest_paid_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    principal_paid_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    liquidity_drawn_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    shortfall_paid_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    residual_paid_fen: Mapped[int] = mapped_column(Fen, nullable=False, server_default="0")
