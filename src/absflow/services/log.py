"""Appending events to the verifiable log, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from absflow.store.log import LogEntryRow, LogHeadRow
from absflow.tlog.entry import entry_bytes
from absflow.tlog.hashing import leaf_hash

MAIN_LOG_ID = 1


def append_event(
    session: Session,
    *,
    entry_type: str,
    plan_code: str | None,
    payload: Mapping[str, Any],
    recorded_at: datetime,
    business_date: date | None = None,
) -> int:
    """Append one entry in the caller's transaction and return its index.

    The log head row is locked for the rest of the transaction, so concurrent appenders
    get consecutive indexes and a rolled-back state change leaves no entry behind.
    """
    head = session.execute(
        select(LogHeadRow).where(LogHeadRow.log_id == MAIN_LOG_ID).with_for_update()
    ).scalar_one()
    body = entry_bytes(
        entry_type=entry_type,
        plan_code=plan_code,
        business_date=business_date,
        payload=payload,
        recorded_at=recorded_at,
    )
    index = head.size
    session.add(
        LogEntryRow(
            idx=index,
            entry_type=entry_type,
            plan_code=plan_code,
            business_date=business_date,
            recorded_at=recorded_at,
            body=body,
            leaf_hash=leaf_hash(body),
        )
    )
    head.size = index + 1
    session.flush()
    return index
