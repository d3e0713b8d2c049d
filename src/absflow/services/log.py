"""Appending events to the verifiable log, inside the caller's transaction.

Each append stores the entry (canonical bytes + leaf hash), the perfect subtree hashes
the new leaf completes (``log_nodes``) and the new compact range on the head row, so
proofs and roots come from O(log n) stored hashes (absflow.services.tlog).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from absflow.store.log import LogEntryRow, LogHeadRow, LogNodeRow
from absflow.tlog.entry import entry_bytes
from absflow.tlog.hashing import leaf_hash
from absflow.tlog.merkle import HASH_SIZE, frontier_append

MAIN_LOG_ID = 1


class Event(NamedTuple):
    """One event for ``append_events`` (the same fields ``append_event`` takes)."""

    entry_type: str
    plan_code: str | None
    payload: Mapping[str, Any]
    recorded_at: datetime
    business_date: date | None = None


def split_frontier(raw: bytes | None) -> list[bytes]:
    if not raw:
        return []
    return [raw[i:i + HASH_SIZE] for i in range(0, len(raw), HASH_SIZE)]


def _lock_head(session: Session) -> LogHeadRow:
    return session.execute(
        select(LogHeadRow).where(LogHeadRow.log_id == MAIN_LOG_ID).with_for_update()
    ).scalar_one()


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
    head = _lock_head(session)
    body = entry_bytes(
        entry_type=entry_type,
        plan_code=plan_code,
        business_date=business_date,
        payload=payload,
        recorded_at=recorded_at,
    )
    index = head.size
    leaf = leaf_hash(body)
    frontier, completed = frontier_append(split_frontier(head.frontier), index, leaf)
    session.add(
        LogEntryRow(
            idx=index,
            entry_type=entry_type,
            plan_code=plan_code,
            business_date=business_date,
            recorded_at=recorded_at,
            body=body,
            leaf_hash=leaf,
        )
    )
    for level, node_index, value in completed:
        session.add(LogNodeRow(level=level, idx=node_index, hash=value))
    head.size = index + 1
    head.frontier = b"".join(frontier)
    session.flush()
    return index


def append_events(session: Session, events: Sequence[Event]) -> int:
    """Append many entries in the caller's transaction (one lock, bulk insert); return the first index.

    Same result as calling ``append_event`` for each, in order. On PostgreSQL rows go in
    with COPY.
    """
    head = _lock_head(session)
    first = head.size
    frontier = split_frontier(head.frontier)
    entry_rows: list[tuple[Any, ...]] = []
    node_rows: list[tuple[int, int, bytes]] = []
    index = first
    for event in events:
        body = entry_bytes(
            entry_type=event.entry_type,
            plan_code=event.plan_code,
            business_date=event.business_date,
            payload=event.payload,
            recorded_at=event.recorded_at,
        )
        leaf = leaf_hash(body)
        frontier, completed = frontier_append(frontier, index, leaf)
        entry_rows.append(
            (index, event.entry_type, event.plan_code, event.business_date, event.recorded_at, body, leaf)
        )
        node_rows.extend(completed)
        index += 1
    session.flush()
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _copy_rows(session, entry_rows, node_rows)
    else:
        if entry_rows:
            connection.execute(insert(LogEntryRow), [
                {"idx": r[0], "entry_type": r[1], "plan_code": r[2], "business_date": r[3], "recorded_at": r[4],
                 "body": r[5], "leaf_hash": r[6]} for r in entry_rows
            ])
        if node_rows:
            connection.execute(insert(LogNodeRow), [{"level": lv, "idx": i, "hash": h} for lv, i, h in node_rows])
    head.size = index
    head.frontier = b"".join(frontier)
    session.flush()
    return first


def _copy_rows(session: Session, entry_rows: list[tuple[Any, ...]], node_rows: list[tuple[int, int, bytes]]) -> None:
    """COPY the rows in binary-safe text form through the session's psycopg connection."""
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        with cursor.copy(
            "COPY log_entries (idx, entry_type, plan_code, business_date, recorded_at, body, leaf_hash) FROM STDIN"
        ) as copy:
            for row in entry_rows:
                copy.write_row(row)
        with cursor.copy("COPY log_nodes (level, idx, hash) FROM STDIN") as copy:
            for row in node_rows:
                copy.write_row(row)


__all__ = ["MAIN_LOG_ID", "Event", "append_event", "append_events", "split_frontier"]
