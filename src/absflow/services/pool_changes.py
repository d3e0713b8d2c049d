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
from sqlalchemy import null, select, text
from sqlalchemy.orm import Session

from absflow.domain.issues import NotFound
from absflow.services import bulk_hash
from absflow.services.context import Context
from absflow.services.log import append_event
from absflow.services.tapes import bulk_insert
from absflow.store.db import transaction
from absflow.store.log import LogEntryRow, PoolChangeItemRow
from absflow.store.plans import PlanRow
from absflow.store.tapes import PoolAssetRemovalRow, PoolAssetRow, PoolAssetStateRow
from absflow.tlog.entry import CanonicalError, json_string
from absflow.tlog.hashing import leaf_hash
from absflow.tlog.itemised import (
    CHANGE_KINDS,
    ITEM_VERSION,
    POOL_CHANGE_TYPE,
    POOL_CHANGES_LIST,
    PoolChange,
    pool_change_bytes,
)
from absflow.tlog.merkle import inclusion_proof

PURCHASE_REASON = "revolving_purchase"


#: Columns of a day's list of changes as a frame (``changes_frame``), in the leaf's key order.
CHANGE_COLUMNS: dict[str, Any] = {"amount_fen": pl.Int64, "asset_id": pl.String, "change": pl.String,
                                  "reason": pl.String}
#: Characters ``canonical_json`` escapes inside a string; texts without them are written as is.
_ESCAPED = r'["\\\x00-\x1f]'


def changes_frame(changes: Sequence[PoolChange]) -> pl.DataFrame:
    """A list of changes as a frame of ``CHANGE_COLUMNS`` (same order)."""
    return pl.DataFrame({"amount_fen": [c.amount_fen for c in changes], "asset_id": [c.asset_id for c in changes],
                         "change": [c.change for c in changes], "reason": [c.reason for c in changes]},
                        schema=CHANGE_COLUMNS)


def daily_pool_changes(pool_before: pl.DataFrame, purchases: pl.DataFrame,
                       removals: Sequence[tuple[str, str]]) -> pl.DataFrame:
    """A daily run's changes as a frame of ``CHANGE_COLUMNS``: purchases (their principal) and
    removals (the asset's balance at the start of the day, i.e. what left the pool; 0 for an
    id not in it), with the run's removal reason."""
    added = purchases.select(pl.col("balance_fen").cast(pl.Int64).alias("amount_fen"),
                             pl.col("asset_id").cast(pl.String), pl.lit("added").alias("change"),
                             pl.lit(PURCHASE_REASON).alias("reason"))
    removed = pl.DataFrame({"asset_id": [a for a, _ in removals], "reason": [r for _, r in removals]},
                           schema={"asset_id": pl.String, "reason": pl.String})
    known = pool_before.select("asset_id", pl.col("balance_fen").alias("amount_fen")).filter(
        pl.col("asset_id").is_in(removed.get_column("asset_id").implode()))  # a join would hash the whole pool
    removed = removed.join(known, on="asset_id", how="left", maintain_order="left").select(
        pl.col("amount_fen").fill_null(0).cast(pl.Int64), "asset_id", pl.lit("removed").alias("change"), "reason")
    return pl.concat([added, removed])


def ordered_frame(changes: pl.DataFrame) -> pl.DataFrame:
    """The canonical order of a day's list (``ordered_changes``): additions first, then removals,
    each by asset id (code-point order; ties keep their order)."""
    kind = pl.col("change").replace_strict(list(CHANGE_KINDS), list(range(len(CHANGE_KINDS))), default=None,
                                           return_dtype=pl.Int64)
    unknown = changes.filter(kind.is_null())
    if unknown.height:
        raise CanonicalError(f"pool change of {unknown.item(0, 'asset_id')!r}: change must be one of {CHANGE_KINDS}")
    return changes.sort(kind, "asset_id", maintain_order=True)


def _json_texts(values: pl.Series) -> pl.Expr | pl.Series:
    """Each text as a JSON string literal exactly as ``canonical_json`` writes it."""
    if not values.str.contains(_ESCAPED).any():
        return pl.lit('"') + values + pl.lit('"')
    return pl.Series([json_string(v) for v in values.to_list()], dtype=pl.String)


def leaf_data(changes: pl.DataFrame) -> pl.Series:
    """``pool_change_bytes`` of every row of a ``CHANGE_COLUMNS`` frame, as UTF-8 text."""
    ids, reasons = _json_texts(changes.get_column("asset_id")), _json_texts(changes.get_column("reason"))
    return changes.select(pl.concat_str(
        pl.lit('{"amount_fen":'), pl.col("amount_fen").cast(pl.String), pl.lit(',"asset_id":'), ids,
        pl.lit(',"change":"'), pl.col("change"), pl.lit('","reason":'), reasons,
        pl.lit(f',"v":{ITEM_VERSION}}}'))).to_series()


def change_payload(ordered: pl.DataFrame, source: str) -> dict[str, Any]:
    """``pool_change_payload`` of a list in canonical order, from its frame (the same dict)."""
    totals: dict[str, dict[str, int]] = {kind: {"count": 0, "amount_fen": 0} for kind in CHANGE_KINDS}
    for kind, count, amount in ordered.group_by("change").agg(pl.len(), pl.col("amount_fen").sum()).iter_rows():
        totals[kind] = {"count": int(count), "amount_fen": int(amount)}
    # A day's few thousand items: the compiled hashing when a tape import has loaded it (≈ 2 against 7 ms).
    using = "compiled" if bulk_hash.compiled_loaded() else None
    list_root = bulk_hash.tree_root(bulk_hash.leaf_hashes(leaf_data(ordered), using=using), using=using)
    return {"source": source, "root": list_root.hex(), "count": ordered.height, **totals}


def log_pool_changes(session: Session, *, plan_code: str, business_date: date, recorded_at: datetime,
                     changes: Sequence[PoolChange] | pl.DataFrame, source: str) -> int | None:
    """Append ``pool.changed`` for a non-empty list and store its items; return the entry's index.
    ``changes``: PoolChange items or a frame of ``CHANGE_COLUMNS`` (``daily_pool_changes``)."""
    prepared = prepare_pool_changes(changes, source)
    return write_pool_changes(session, plan_code=plan_code, business_date=business_date, recorded_at=recorded_at,
                              prepared=prepared)


def prepare_pool_changes(changes: Sequence[PoolChange] | pl.DataFrame,
                         source: str) -> tuple[pl.DataFrame, dict[str, Any]] | None:
    """The list in canonical order and its entry's payload (the leaves hashed), without the
    store: :func:`write_pool_changes` writes them. None for an empty list."""
    frame = changes if isinstance(changes, pl.DataFrame) else changes_frame(changes)
    if frame.height == 0:
        return None
    items = ordered_frame(frame.select(list(CHANGE_COLUMNS)))
    return items, change_payload(items, source)


def write_pool_changes(session: Session, *, plan_code: str, business_date: date, recorded_at: datetime,
                       prepared: tuple[pl.DataFrame, dict[str, Any]] | None, via_pool_rows: bool = False) -> int | None:
    """Append the ``pool.changed`` entry of a :func:`prepare_pool_changes` list and store its
    items in the caller's transaction; the entry's index (None for an empty list).

    ``via_pool_rows``: only for a daily run's list, written in the same transaction as its pool
    rows — every added asset has a ``pool_assets`` row of the plan acquired on ``business_date``
    and every removed one a ``pool_asset_removals`` row of that day. Its items are then found
    through those rows, and stay out of the asset index (see ``PoolChangeItemRow.via_pool_rows``)."""
    if prepared is None:
        return None
    items, payload = prepared
    index = append_event(session, entry_type=POOL_CHANGE_TYPE, plan_code=plan_code, business_date=business_date,
                         recorded_at=recorded_at, payload=payload)
    # The driver's bulk path (COPY on PostgreSQL, executemany on SQLite): thousands of items a day.
    bulk_insert(session, PoolChangeItemRow.__tablename__, items.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("position"), "asset_id", "change", "amount_fen", "reason"),
        {"log_index": index, "plan_code": plan_code, "via_pool_rows": int(via_pool_rows)})
    return index


def _logged_positions(session: Session, plan_code: str, asset_id: str) -> list[tuple[int, int]]:
    """(log index, position) of every stored pool-change item of ``asset_id`` in the plan's lists:
    the daily runs' items through the asset's pool rows (the days it was acquired and removed:
    that day's ``pool.changed`` entry of the plan, then the asset in that entry's items), the
    other lists' through the asset index. Every lookup is by an index."""
    plan = session.execute(select(PlanRow.id, PlanRow.asset_type).where(PlanRow.code == plan_code)).one_or_none()
    found: set[tuple[int, int]] = set()
    if plan is not None:
        days: set[date] = set()
        # The asset's state row (held now) and removal rows (held before), by their asset keys; this
        # plan's kept here (a plan_id condition could draw the planner to the plan's whole pool).
        for table in (PoolAssetStateRow, PoolAssetRemovalRow):
            removed_on = table.removed_on if table is PoolAssetRemovalRow else null()
            for plan_id, acquired, removed in session.execute(
                    select(table.plan_id, PoolAssetRow.acquired_on, removed_on)
                    .join(PoolAssetRow, PoolAssetRow.id == table.pool_asset_id)
                    .where(table.asset_type == plan.asset_type, table.asset_id == asset_id)):
                if plan_id == plan.id:
                    days.update(d for d in (acquired, removed) if d is not None)
        entries = session.execute(select(LogEntryRow.idx).where(
            LogEntryRow.plan_code == plan_code, LogEntryRow.entry_type == POOL_CHANGE_TYPE,
            LogEntryRow.business_date.in_(sorted(days)))).scalars().all() if days else []
        for log_index in entries:
            found.update((log_index, position) for position in session.execute(
                select(PoolChangeItemRow.position).where(
                    PoolChangeItemRow.log_index == log_index, PoolChangeItemRow.asset_id == asset_id,
                    PoolChangeItemRow.via_pool_rows.is_(True))).scalars())
    found.update(session.execute(  # the partial index's own condition, so that the index is used
        select(PoolChangeItemRow.log_index, PoolChangeItemRow.position)
        .where(PoolChangeItemRow.plan_code == plan_code, PoolChangeItemRow.asset_id == asset_id,
               text("NOT via_pool_rows"))).tuples())
    return sorted(found)


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
        hits = _logged_positions(session, plan_code, asset_id)
        if not hits:
            raise NotFound(f"plan {plan_code} has no logged pool change of asset {asset_id!r} "
                           "(an asset of the initial pool is proven by its tape record: `absflow log record-proof`)")
        items: list[dict[str, Any]] = []
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
