"""Stored pool analytics: each part (summary, field list, concentration, one stratification)
as the JSON the API serves, tagged with the plan state it was computed at.

A part is valid while the plan's newest log entry is still the one it was computed at
(``state_idx`` and ``state_hash``); any change to the pool appends to the plan's log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from absflow.store.base import Base


class PoolAnalyticsRow(Base):
    __tablename__ = "pool_analytics"
    plan_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: ``summary``, ``fields``, ``concentration`` or ``strat:<field>``
    part: Mapped[str] = mapped_column(String(80), primary_key=True)
    state_idx: Mapped[int] = mapped_column(BigInteger, nullable=False)
    #: hex leaf hash of the plan's newest log entry when computed
    state_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    #: UTF-8 JSON of the part, unmasked
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
