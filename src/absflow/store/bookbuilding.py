"""Rows of issuance bookbuilding: investors, offerings, bids with history, allocation runs,
issuance results, the initial holder register and payments. Money in integer fen; rates in
integer basis points (rates are quoted to 0.01%)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from absflow.store.base import Base, Fen


class InvestorRow(Base):
    __tablename__ = "book_investors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True, nullable=False)
    investor_type: Mapped[str] = mapped_column(String(32), nullable=False)
    qualified: Mapped[bool] = mapped_column(Boolean, nullable=False)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    contacts: Mapped[list[InvestorContactRow]] = relationship(
        back_populates="investor", cascade="all, delete-orphan", order_by="InvestorContactRow.id"
    )
    accounts: Mapped[list[InvestorAccountRow]] = relationship(
        back_populates="investor", cascade="all, delete-orphan", order_by="InvestorAccountRow.id"
    )


class InvestorContactRow(Base):
    __tablename__ = "book_investor_contacts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    investor_id: Mapped[int] = mapped_column(ForeignKey("book_investors.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    investor: Mapped[InvestorRow] = relationship(back_populates="contacts")


class InvestorAccountRow(Base):
    """A product account (产品账户) an investor subscribes through: the product and its securities account."""

    __tablename__ = "book_investor_accounts"
    __table_args__ = (UniqueConstraint("investor_id", "product_name", name="uq_book_investor_accounts_product"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    investor_id: Mapped[int] = mapped_column(ForeignKey("book_investors.id", ondelete="CASCADE"), nullable=False)
    product_name: Mapped[str] = mapped_column(String(300), nullable=False)
    securities_account: Mapped[str | None] = mapped_column(String(40))
    investor: Mapped[InvestorRow] = relationship(back_populates="accounts")


class OfferingRow(Base):
    """The terms of one tranche's book. ``status``: open → allocated."""

    __tablename__ = "book_offerings"
    __table_args__ = (UniqueConstraint("plan_id", "tranche_id", name="uq_book_offerings_plan_tranche"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), nullable=False)
    tranche_id: Mapped[str] = mapped_column(String(40), nullable=False)
    security_name: Mapped[str] = mapped_column(String(200), nullable=False)
    security_code: Mapped[str | None] = mapped_column(String(40))
    term_months: Mapped[int | None] = mapped_column(Integer)
    size_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    lot_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    minimum_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    cap_fen: Mapped[int | None] = mapped_column(Fen)
    rate_min_bp: Mapped[int] = mapped_column(Integer, nullable=False)
    rate_max_bp: Mapped[int] = mapped_column(Integer, nullable=False)
    convention: Mapped[str] = mapped_column(String(16), nullable=False)
    max_levels: Mapped[int | None] = mapped_column(Integer)
    holder_limit: Mapped[int] = mapped_column(Integer, nullable=False)
    bid_open: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    bid_close: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    payment_deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    payee_name: Mapped[str] = mapped_column(String(300), nullable=False)
    payee_bank: Mapped[str] = mapped_column(String(300), nullable=False)
    payee_account: Mapped[str] = mapped_column(String(60), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class BidRow(Base):
    """One version of one rate level. ``status``: active, amended (replaced by a newer row), withdrawn."""

    __tablename__ = "book_bids"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("book_offerings.id", ondelete="CASCADE"), nullable=False,
                                             index=True)
    investor_id: Mapped[int] = mapped_column(ForeignKey("book_investors.id"), nullable=False)
    rate_bp: Mapped[int] = mapped_column(Integer, nullable=False)
    amount_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("book_bids.id"))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AllocationRunRow(Base):
    """The final allocation of an offering (one per offering: allocating again is a no-op)."""

    __tablename__ = "book_allocation_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("book_offerings.id", ondelete="CASCADE"), unique=True,
                                             nullable=False)
    input_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    marginal_rate_bp: Mapped[int | None] = mapped_column(Integer)
    total_demand_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    allocated_total_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    shortfall_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    total_multiple: Mapped[str] = mapped_column(String(20), nullable=False)
    marginal_multiple: Mapped[str | None] = mapped_column(String(20))
    undersubscribed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    valid_bid_count: Mapped[int] = mapped_column(Integer, nullable=False)
    holder_count: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    lines: Mapped[list[AllocationLineRow]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="AllocationLineRow.id"
    )


class AllocationLineRow(Base):
    __tablename__ = "book_allocation_lines"
    __table_args__ = (UniqueConstraint("run_id", "investor_id", name="uq_book_allocation_lines_run_investor"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("book_allocation_runs.id", ondelete="CASCADE"), nullable=False)
    investor_id: Mapped[int] = mapped_column(ForeignKey("book_investors.id"), nullable=False)
    bid_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    allocated_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    run: Mapped[AllocationRunRow] = relationship(back_populates="lines")


class IssuanceResultRow(Base):
    """What issuance settled for a plan's tranche: the coupon and the face issued."""

    __tablename__ = "book_issuance_results"
    __table_args__ = (UniqueConstraint("plan_id", "tranche_id", name="uq_book_issuance_results_plan_tranche"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), nullable=False)
    tranche_id: Mapped[str] = mapped_column(String(40), nullable=False)
    offering_id: Mapped[int] = mapped_column(ForeignKey("book_offerings.id", ondelete="CASCADE"), nullable=False)
    coupon_bp: Mapped[int | None] = mapped_column(Integer)
    issued_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    settled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class HolderRow(Base):
    """The holder register of a tranche, initially the allocation (face in fen)."""

    __tablename__ = "book_holders"
    __table_args__ = (UniqueConstraint("plan_id", "tranche_id", "investor_id", name="uq_book_holders_plan_tranche"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), nullable=False)
    tranche_id: Mapped[str] = mapped_column(String(40), nullable=False)
    investor_id: Mapped[int] = mapped_column(ForeignKey("book_investors.id"), nullable=False)
    face_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class PaymentRow(Base):
    """Money received from an investor for an offering; ``reconciled`` once matched to the bank statement."""

    __tablename__ = "book_payments"
    __table_args__ = (UniqueConstraint("offering_id", "reference", name="uq_book_payments_offering_reference"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("book_offerings.id", ondelete="CASCADE"), nullable=False,
                                             index=True)
    investor_id: Mapped[int] = mapped_column(ForeignKey("book_investors.id"), nullable=False)
    amount_fen: Mapped[int] = mapped_column(Fen, nullable=False)
    reference: Mapped[str] = mapped_column(String(100), nullable=False)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    reconciled: Mapped[bool] = mapped_column(Boolean, nullable=False)
    reconciled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
