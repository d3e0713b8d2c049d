"""Appending events to the verifiable log, inside the caller's transaction.

Each append stores the entry (canonical bytes + leaf hash), the perfect subtree hashes
the new leaf completes (``log_nodes``) and the new compact range on the head row, so
proofs and roots come from O(log n) stored hashes (absflow.services.tlog).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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

    Same result as calling ``append_event`` for each, in order. On PostgreSQL the entries
    stream in with COPY while the next chunk is being hashed (the server works meanwhile).
    """
    head = _lock_head(session)
    first = head.size
    state = _Appender(first, split_frontier(head.frontier))
    session.flush()
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            with cursor.copy(
                "COPY log_entries (idx, entry_type, plan_code, business_date, recorded_at, body, leaf_hash) FROM STDIN"
            ) as copy:
                for start in range(0, len(events), _CHUNK):
                    copy.write("".join(state.copy_lines(events[start:start + _CHUNK])))
            with cursor.copy("COPY log_nodes (level, idx, hash) FROM STDIN") as copy:
                for start in range(0, len(state.nodes), _CHUNK):
                    nodes = state.nodes[start:start + _CHUNK]
                    copy.write("".join(f"{level}\t{idx}\t\\\\x{value.hex()}\n" for level, idx, value in nodes))
    else:
        rows = [
            {"idx": i, "entry_type": e.entry_type, "plan_code": e.plan_code, "business_date": e.business_date,
             "recorded_at": e.recorded_at, "body": body, "leaf_hash": leaf}
            for i, e, body, leaf in state.entries(events)
        ]
        if rows:
            connection.execute(insert(LogEntryRow), rows)
        if state.nodes:
            connection.execute(insert(LogNodeRow), [{"level": lv, "idx": i, "hash": h} for lv, i, h in state.nodes])
    head.size = state.index
    head.frontier = b"".join(state.frontier)
    session.flush()
    return first


_CHUNK = 10_000
_NULL = "\\N"


def _copy_text(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


class _Appender:
    """Running state of a bulk append: next index, compact range, completed subtrees."""

    def __init__(self, index: int, frontier: list[bytes]) -> None:
        self.index = index
        self.frontier = frontier
        self.nodes: list[tuple[int, int, bytes]] = []

    def entries(self, events: Sequence[Event]) -> Iterator[tuple[int, Event, bytes, bytes]]:
        for event in events:
            body = entry_bytes(
                entry_type=event.entry_type,
                plan_code=event.plan_code,
                business_date=event.business_date,
                payload=event.payload,
                recorded_at=event.recorded_at,
            )
            leaf = leaf_hash(body)
            self.frontier, completed = frontier_append(self.frontier, self.index, leaf)
            if completed:
                self.nodes.extend(completed)
            yield self.index, event, body, leaf
            self.index += 1

    def copy_lines(self, events: Sequence[Event]) -> Iterator[str]:
        """PostgreSQL COPY text lines (bytea as hex) for ``events``."""
        for idx, e, body, leaf in self.entries(events):
            plan = _NULL if e.plan_code is None else _copy_text(e.plan_code)
            day = _NULL if e.business_date is None else e.business_date.isoformat()
            yield (f"{idx}\t{_copy_text(e.entry_type)}\t{plan}\t{day}\t{e.recorded_at.isoformat()}\t"
                   f"\\\\x{body.hex()}\t\\\\x{leaf.hex()}\n")


__all__ = ["MAIN_LOG_ID", "Event", "append_event", "append_events", "split_frontier"]
