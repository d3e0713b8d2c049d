"""Rows of the plan registry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from absflow.store.base import Base


class PlanCodeCounterRow(Base):
    """Last number handed out per year; codes are never reused, even for abandoned plans."""

    __tablename__ = "plan_code_counters"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, nullable=False)


class PlanRow(Base):
    __tablename__ = "plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    asset_type: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    parties: Mapped[list[PlanPartyRow]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="PlanPartyRow.id"
    )
    history: Mapped[list[PlanStatusChangeRow]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="PlanStatusChangeRow.id"
    )


class PlanPartyRow(Base):
    __tablename__ = "plan_parties"
    __table_args__ = (UniqueConstraint("plan_id", "role", "name", name="uq_plan_parties_role_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    plan: Mapped[PlanRow] = relationship(back_populates="parties")


class PlanStatusChangeRow(Base):
    __tablename__ = "plan_status_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), nullable=False)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32), nullable=False)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    plan: Mapped[PlanRow] = relationship(back_populates="history")
