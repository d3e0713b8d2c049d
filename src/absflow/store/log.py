"""Rows of the verifiable log: entries (leaves) in append order, and the log head."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from absflow.store.base import Base


class LogHeadRow(Base):
    """One row per log: its size. Appenders lock it, so indexes have no gaps or twins."""

    __tablename__ = "log_heads"
    log_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)


class LogEntryRow(Base):
    """A leaf: its canonical bytes (``body``) and RFC 9162 leaf hash, at position ``idx``."""

    __tablename__ = "log_entries"
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_type: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    plan_code: Mapped[str | None] = mapped_column(String(32), index=True)
    business_date: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
