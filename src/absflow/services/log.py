"""Appending events to the verifiable log, inside the caller's transaction.

Each append stores the entry (canonical bytes + leaf hash), the perfect subtree hashes of
level ``STORED_MIN_LEVEL`` (16 leaves) and above that the new leaf completes (``log_nodes``)
and the new compact range on the head row, so proofs and roots come from O(log n) stored
hashes (absflow.services.tlog).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from absflow.store.log import LogEntryRow, LogHeadRow, LogNodeRow
from absflow.tlog.entry import entry_bytes, entry_bytes_and_time
from absflow.tlog.hashing import leaf_hash
from absflow.tlog.merkle import HASH_SIZE, STORED_MIN_LEVEL, frontier_append, frontier_extend

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
    completed = [node for node in completed if node[0] >= STORED_MIN_LEVEL]
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

    Same result as calling ``append_event`` for each, in order. Entries are hashed chunk by
    chunk and the subtrees they complete are hashed level by level (``frontier_extend``). On
    PostgreSQL the rows stream in with COPY while the next chunk is being built (the server
    works meanwhile).
    """
    head = _lock_head(session)
    first = head.size
    state = _Appender(first, split_frontier(head.frontier))
    session.flush()
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            with cursor.copy("COPY log_entries (idx, entry_type, plan_code, business_date, recorded_at, body, "
                             "leaf_hash) FROM STDIN (FORMAT binary)") as copy:
                copy.write(_BINARY_HEADER)
                for start in range(0, len(events), _CHUNK):
                    copy.write(state.copy_binary(events[start:start + _CHUNK]))
                copy.write(_BINARY_TRAILER)
            with cursor.copy("COPY log_nodes (level, idx, hash) FROM STDIN") as copy:
                for start in range(0, len(state.nodes), _CHUNK):
                    nodes = state.nodes[start:start + _CHUNK]
                    copy.write("".join(f"{level}\t{idx}\t\\\\x{value.hex()}\n" for level, idx, value in nodes))
    else:
        rows = [
            {"idx": i, "entry_type": e.entry_type, "plan_code": e.plan_code, "business_date": e.business_date,
             "recorded_at": e.recorded_at, "body": body, "leaf_hash": leaf}
            for start in range(0, len(events), _CHUNK)
            for i, e, body, leaf, _ in state.chunk(events[start:start + _CHUNK])
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
# Binary COPY (PostgreSQL's documented format): signature, flags, header extension; each
# tuple is a field count and (length, bytes) per field, -1 for NULL; -1 ends the data.
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_BINARY_TRAILER = struct.pack(">h", -1)
_BINARY_NULL = struct.pack(">i", -1)
_ROW_HEAD = struct.Struct(">hiq")  # 7 fields, then idx as int8
_TIME = struct.Struct(">iqi")  # recorded_at as int8 microseconds since 2000-01-01 UTC, then the body's length
_LEAF_LENGTH = struct.pack(">i", HASH_SIZE)
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_PG_EPOCH_DATE = date(2000, 1, 1)


def _binary_text(value: str) -> bytes:
    data = value.encode("utf-8")
    return struct.pack(">i", len(data)) + data


def _binary_day(value: date) -> bytes:
    return struct.pack(">ii", 4, (value - _PG_EPOCH_DATE).days)
class _Appender:
    """Running state of a bulk append: next index, compact range, stored subtrees to write."""

    def __init__(self, index: int, frontier: list[bytes]) -> None:
        self.index = index
        self.frontier = frontier
        self.nodes: list[tuple[int, int, bytes]] = []
        self._days: dict[date, str] = {}
        self._texts: dict[str, bytes] = {}
        self._day_numbers: dict[date, bytes] = {}

    def chunk(self, events: Sequence[Event]) -> list[tuple[int, Event, bytes, bytes, str]]:
        """(index, event, body, leaf hash, time text) per event; the chunk's subtrees go to ``nodes``."""
        days = self._days
        sha256 = hashlib.sha256
        out = []
        index = self.index
        for event in events:
            day = event.business_date
            day_text = None
            if day is not None:
                day_text = days.get(day)
                if day_text is None:
                    day_text = days[day] = day.isoformat()
            body, time_text = entry_bytes_and_time(
                entry_type=event.entry_type, plan_code=event.plan_code, business_date=day,
                payload=event.payload, recorded_at=event.recorded_at, day_text=day_text)
            out.append((index, event, body, sha256(b"\x00" + body).digest(), time_text))
            index += 1
        self.frontier, completed = frontier_extend(self.frontier, self.index, [row[3] for row in out],
                                                   keep_from=STORED_MIN_LEVEL)
        self.nodes.extend(completed)
        self.index = index
        return out

    def copy_binary(self, events: Sequence[Event]) -> bytes:
        """PostgreSQL binary COPY tuples for ``events`` (no hex or text parsing on either side)."""
        texts, days, pack = self._texts, self._day_numbers, _ROW_HEAD.pack
        parts: list[bytes] = []
        append = parts.append
        for idx, e, body, leaf, _ in self.chunk(events):
            kind = texts.get(e.entry_type) or texts.setdefault(e.entry_type, _binary_text(e.entry_type))
            plan = _BINARY_NULL if e.plan_code is None else (
                texts.get(e.plan_code) or texts.setdefault(e.plan_code, _binary_text(e.plan_code)))
            day = _BINARY_NULL if e.business_date is None else (
                days.get(e.business_date) or days.setdefault(e.business_date, _binary_day(e.business_date)))
            moment = e.recorded_at - _PG_EPOCH
            micros = (moment.days * 86_400 + moment.seconds) * 1_000_000 + moment.microseconds
            append(pack(7, 8, idx))
            append(kind)
            append(plan)
            append(day)
            append(_TIME.pack(8, micros, len(body)))
            append(body)
            append(_LEAF_LENGTH)
            append(leaf)
        return b"".join(parts)


__all__ = ["MAIN_LOG_ID", "Event", "append_event", "append_events", "split_frontier"]
