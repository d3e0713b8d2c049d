"""Itemised pool changes in the log: which assets entered or left a pool on a business day.

``log_pool_changes`` appends one ``pool.changed`` entry (root over the day's list, counts,
totals) in the caller's transaction and stores the list in ``pool_change_items``, so
"asset X entered/left the pool of plan P on day D" can be proven and checked offline
(``pool_change_bundle``, ``absflow log pool-proof``). The initial pool is the imported
tape's records (``tape.imported`` carries their root; see absflow.services.tape_records).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from absflow.domain.issues import NotFound
from absflow.services.context import Context
from absflow.services.log import append_event
from absflow.services.tapes import bulk_insert
from absflow.store.db import transaction
from absflow.store.log import LogEntryRow, PoolChangeItemRow
from absflow.tlog.hashing import leaf_hash
from absflow.tlog.itemised import (
    POOL_CHANGE_TYPE,
    POOL_CHANGES_LIST,
    PoolChange,
    ordered_changes,
    pool_change_bytes,
    pool_change_payload,
)
from absflow.tlog.merkle import inclusion_proof

PURCHASE_REASON = "revolving_purchase"


def daily_pool_changes(pool_before: pl.DataFrame, purchases: pl.DataFrame,
                       removals: Sequence[tuple[str, str]]) -> list[PoolChange]:
    """A daily run's changes: purchases (their principal) and removals (the asset's balance at the
    start of the day, i.e. what left the pool), with the run's removal reason."""
    added = [PoolChange(str(a), "added", int(b), PURCHASE_REASON)
             for a, b in zip(purchases.get_column("asset_id").to_list(),
                             purchases.get_column("balance_fen").to_list(), strict=True)] if purchases.height else []
    removed: list[PoolChange] = []
    if removals:
        ids = [a for a, _ in removals]
        known = pool_before.filter(pl.col("asset_id").is_in(ids)).select("asset_id", "balance_fen")
        balance = dict(zip(known.get_column("asset_id").to_list(), known.get_column("balance_fen").to_list(),
                           strict=True))
        removed = [PoolChange(a, "removed", int(balance.get(a) or 0), reason) for a, reason in removals]
    return added + removed


def log_pool_changes(session: Session, *, plan_code: str, business_date: date, recorded_at: datetime,
                     changes: Sequence[PoolChange], source: str) -> int | None:
    """Append ``pool.changed`` for a non-empty list and store its items; return the entry's index."""
    if not changes:
        return None
    items = ordered_changes(changes)
    index = append_event(session, entry_type=POOL_CHANGE_TYPE, plan_code=plan_code, business_date=business_date,
                         recorded_at=recorded_at, payload=pool_change_payload(items, source))
    # The driver's bulk path (COPY on PostgreSQL, executemany on SQLite): thousands of items a day.
    bulk_insert(session, PoolChangeItemRow.__tablename__, pl.DataFrame({
        "position": range(len(items)), "asset_id": [c.asset_id for c in items],
        "change": [c.change for c in items], "amount_fen": [c.amount_fen for c in items],
        "reason": [c.reason for c in items],
    }, schema={"position": pl.Int64, "asset_id": pl.String, "change": pl.String, "amount_fen": pl.Int64,
               "reason": pl.String}), {"log_index": index, "plan_code": plan_code})
    return index


def _list_of(session: Session, log_index: int) -> list[PoolChange]:
    rows = session.execute(select(PoolChangeItemRow).where(PoolChangeItemRow.log_index == log_index)
                           .order_by(PoolChangeItemRow.position)).scalars()
    return [PoolChange(r.asset_id, r.change, r.amount_fen, r.reason) for r in rows]


def pool_change_bundle(ctx: Context, plan_code: str, asset_id: str) -> dict[str, Any]:
    """A bundle proving every logged change of ``asset_id`` in the pool of ``plan_code``: each
    ``pool.changed`` entry in a signed checkpoint, and the asset's item in that entry's list."""
    from absflow.services import tlog as tlog_service

    ctx.require("download", plan_code)
    with transaction(ctx.engine) as session:
        hits = session.execute(
            select(PoolChangeItemRow.log_index, PoolChangeItemRow.position)
            .where(PoolChangeItemRow.plan_code == plan_code, PoolChangeItemRow.asset_id == asset_id)
            .order_by(PoolChangeItemRow.log_index, PoolChangeItemRow.position)).all()
        if not hits:
            raise NotFound(f"plan {plan_code} has no logged pool change of asset {asset_id!r} "
                           "(an asset of the initial pool is proven by its tape record: `absflow log record-proof`)")
        items = []
        for log_index, position in hits:
            listed = _list_of(session, log_index)
            leaves = [leaf_hash(pool_change_bytes(c)) for c in listed]
            items.append({"entry": log_index, "list": POOL_CHANGES_LIST, "index": position,
                          "body": pool_change_bytes(listed[position]).decode("utf-8"),
                          "proof": [p.hex() for p in inclusion_proof(position, leaves)]})
    return tlog_service.entries_bundle(ctx, sorted({i["entry"] for i in items}), items=items)


def logged_list(ctx: Context, log_index: int) -> list[PoolChange]:
    """The stored list of a ``pool.changed`` entry (for views and audits)."""
    ctx.require("view", None)
    with transaction(ctx.engine) as session:
        entry = session.get(LogEntryRow, log_index)
        if entry is None or entry.entry_type != POOL_CHANGE_TYPE:
            raise NotFound(f"log entry {log_index} is not a {POOL_CHANGE_TYPE} entry")
        return _list_of(session, log_index)
