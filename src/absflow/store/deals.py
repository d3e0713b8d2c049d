"""Rows of deal documents attached to plans, one row per version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from absflow.store.base import Base


class DealVersionRow(Base):
    """Version ``version`` (1, 2, …) of a plan's deal document: the text as given and its normalized JSON."""

    __tablename__ = "deal_versions"
    __table_args__ = (UniqueConstraint("plan_id", "version", name="uq_deal_versions_plan_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    source_text: Mapped[str] = mapped_column(Text, nullable=False)
    document_json: Mapped[str] = mapped_column(Text, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    attached_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
