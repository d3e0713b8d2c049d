"""Daily operations of a revolving plan: load the servicer's files, run business days, show them.

``run_day`` is keyed (plan, business date) and runs in ONE transaction: the pure day step
(:func:`absflow.revolving.daily.run_day`) then every write (pool assets, events, postings,
repurchases, distributions, the day row, the plan state, the log entry). A run killed
half-way leaves nothing; running a finished day again returns the stored result. Two runs
of the same plan at once: the second fails at once with a Conflict (PostgreSQL advisory
lock; SQLite's write lock with a short wait). Days run in trading-day order; a gap is an
error naming the missing days. docs/DAILY.md.
"""

from __future__ import annotations

import gc
import hashlib
import io
import itertools
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, bindparam, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from absflow.calendar import Calendar
from absflow.deal.model import Deal
from absflow.domain.issues import Conflict, Issue, Location, NotFound, ValidationFailed
from absflow.domain.money import format_yuan
from absflow.revolving import check_eligibility, check_limits
from absflow.revolving.daily import (
    DayContext,
    DayResult,
    OpenRepurchase,
    PlanState,
    Settlement,
    asset_tables,
    finish_day,
    opening_state,
    settle_day,
)
from absflow.revolving.daypool import POOL_COLUMNS, DayPool
from absflow.revolving.delivery import delivery_list
from absflow.services.calendar import service_calendar
from absflow.services.context import Context
from absflow.services.daily_inputs import (
    DAILY_KINDS,
    check_daily_file,
    frame_from_bytes,
    frame_to_bytes,
    to_day_frame,
)
from absflow.services.deals import current_deal_row, deal_version_of
from absflow.services.log import append_event
from absflow.services.plans import load_plan_row
from absflow.services.pool_changes import daily_pool_changes, prepare_pool_changes, write_pool_changes
from absflow.services.tapes import (
    REMOVAL_COLUMNS,
    STATE_COLUMNS,
    bulk_insert,
    insert_pool_rows,
    pool_rows_sql,
    read_query,
)
from absflow.store.daily import (
    DailyDayRow,
    DailyDistributionRow,
    DailyInputRow,
    DailyPlanStateRow,
    DailyRepurchaseRow,
)
from absflow.store.db import (
    connections_share_data,
    is_postgresql,
    is_sqlite,
    read_transaction,
    run_in_background,
    session_factory,
    sqlite_execute_rows,
    transaction,
)
from absflow.store.tapes import TapeBatchRow

#: SQLite: how long a daily run waits for another writer before reporting a conflict (ms).
SQLITE_RUN_WAIT_MS = 1500
#: SQLite: the page cache of a daily run's connection while it runs (KiB; the default is 2 MiB).
#: A day at 200,000 loans changes rows and index entries on ≈ 10,000 pages; with the default the
#: same pages were evicted and read back within the day (removals 121 → 64 ms a day measured at
#: 256 MiB, docs/PERFORMANCE.md). Pages are allocated as used and freed when the run ends.
SQLITE_RUN_CACHE_KIB = 262_144

#: Test hook: called inside the run's transaction after the lock is held and the work is done,
#: before commit (tests use it to kill the process or to hold the lock).
_before_commit: Callable[[Session], None] | None = None


#: CPython's thread switch interval while a day's files are stored or a day runs (its default
#: is 5 ms). The day's writing thread binds each statement's rows under the interpreter lock and
#: waited for the computing thread to give the lock up at each switch interval: at 1 ms days
#: 25–60 of the 200,000-loan life ran 360 → 336 ms a day (0.5 and 0.2 ms: no better;
#: docs/PERFORMANCE.md).
DAY_SWITCH_INTERVAL_SECONDS = 0.001


class _SwitchInterval:
    """The process's switch interval, shortened while any day's work runs (blocks may nest and
    run on several threads at once: the value from before the first is restored after the last)."""

    def __init__(self) -> None:
        self.lock, self.depth, self.before = threading.Lock(), 0, sys.getswitchinterval()

    def enter(self) -> None:
        with self.lock:
            if self.depth == 0:
                self.before = sys.getswitchinterval()
                sys.setswitchinterval(min(self.before, DAY_SWITCH_INTERVAL_SECONDS))
            self.depth += 1

    def leave(self) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth == 0:
                sys.setswitchinterval(self.before)


_switch_interval = _SwitchInterval()


@contextmanager
def short_switch_interval() -> Iterator[None]:
    """Run the block (or, as a decorator, each call) with the switch interval at
    ``DAY_SWITCH_INTERVAL_SECONDS`` (never lengthened), then restore it."""
    _switch_interval.enter()
    try:
        yield
    finally:
        _switch_interval.leave()


# ---------------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class LoadResult:
    plan_code: str
    business_date: date
    files: list[dict[str, Any]]
    log_index: int


def _plan_deal(session: Session, ctx: Context, plan_code: str) -> Deal:
    """The plan's current deal, read inside the caller's transaction."""
    plan = load_plan_row(session, plan_code)
    row = current_deal_row(session, plan.id)
    deal = deal_version_of(plan_code, row).deal if row is not None else None
    if deal is None or deal.revolving is None:
        raise Conflict(f"plan {plan_code} has no deal document with a revolving section; attach one first "
                       "(absflow deal attach)")
    return deal


def load_inputs(ctx: Context, plan_code: str, business_date: date, paths: Sequence[str | Path], *,
                mapping: str | Path | None = None) -> LoadResult:
    """Validate the day's files together and store them; all problems at once, nothing stored on any.

    The kind comes from each file name's start (docs/DAILY.md). Loading a kind again for a day
    not yet run replaces it; once the day has run its inputs are final (Conflict).
    """
    ctx.require("edit", plan_code)
    checked = [check_daily_file(p, mapping=mapping) for p in paths]
    issues: list[Issue] = []
    frames: dict[str, pl.DataFrame] = {}
    files: dict[str, tuple[str, str]] = {}
    for item in checked:
        for issue in item.report.issues:
            issues.append(Issue(issue.code, f"{item.path.name}: {issue.message}", issue.location, issue.value))
        if item.kind in frames:
            issues.append(Issue("duplicate_kind", f"two {item.kind} files for one day", Location(
                field_path=item.path.name)))
        frames[item.kind] = to_day_frame(item.kind, item.frame)
        files[item.kind] = (item.path.name, hashlib.sha256(item.path.read_bytes()).hexdigest())
    if issues:
        raise ValidationFailed(issues)
    return store_inputs(ctx, plan_code, business_date, frames, files)


@short_switch_interval()
def store_inputs(ctx: Context, plan_code: str, business_date: date, frames: dict[str, pl.DataFrame],
                 files: dict[str, tuple[str, str]] | None = None, *,
                 cache: dict[str, Any] | None = None) -> LoadResult:
    """Store canonical frames of the day (already checked row by row) after the checks against
    the pool and between files. ``files``: kind → (file name, sha256) for the record.
    ``cache``: the days' cache of :func:`run_through` / the simulation (the pool is taken from
    it when it holds the plan's current pool version, :func:`cached_pool`)."""
    ctx.require("edit", plan_code)
    unknown = sorted(set(frames) - set(DAILY_KINDS))
    if unknown:
        raise ValidationFailed([Issue("unknown_daily_kind", f"unknown daily kind {k}", Location(field_path=k), k)
                                for k in unknown])
    now = ctx.now()
    frames = {k: (v if "source_row" in v.columns else v.with_row_index("source_row", offset=2)
                  .with_columns(pl.col("source_row").cast(pl.Int64))) for k, v in frames.items()}
    # The stored bytes are encoded on two threads while this one checks (polars encodes without
    # the interpreter lock): ≈ 25 ms a day at 200,000 loans, no longer after the checks' ≈ 20 ms.
    with ThreadPoolExecutor(2, thread_name_prefix="absflow-encode") as encoders, \
            transaction(ctx.engine) as session:
        encoding = {kind: encoders.submit(frame_to_bytes, frames[kind]) for kind in sorted(frames)}
        plan = load_plan_row(session, plan_code, for_update=True)
        done = session.execute(select(DailyDayRow.id).where(
            DailyDayRow.plan_id == plan.id, DailyDayRow.business_date == business_date)).scalar_one_or_none()
        if done is not None:
            raise Conflict(f"{plan_code} {business_date} has already run; its inputs are final")
        referenced = pl.concat([pl.Series("contract_id", [], pl.String), *(
            frames[k].get_column("contract_id").cast(pl.String) for k in ("collections", "extensions", "liquidations",
                                                                          "repurchase_receipts") if k in frames)
        ]).unique().sort()
        held = cache.get("pool") if cache is not None else None
        version = pool_version(session, plan.id, session.get(DailyPlanStateRow, plan.id))
        if held is not None and held[0] == version:
            pool = held[1].frame.filter(pl.col("asset_id").is_in(referenced.implode())).select(
                "asset_id", "balance_fen", "maturity_date")
        else:
            _fresh_statistics(session)
            pool = _pool_subset(session, plan.id, referenced.to_list())
        stored = _stored_inputs(session, plan.id, business_date)
        issues = _cross_check(frames, {**stored, **frames}, pool, lambda: {
            item.asset_id for item in cached_open_repurchases(session, plan.id, version, cache)})
        if issues:
            raise ValidationFailed(issues)
        out = []
        encoded: dict[str, tuple[bytes, pl.DataFrame]] = {}
        encoded_bytes = {kind: future.result() for kind, future in encoding.items()}
        existing = {row.kind: row for row in session.execute(select(DailyInputRow).where(
            DailyInputRow.plan_id == plan.id, DailyInputRow.business_date == business_date)).scalars()}
        for kind, frame in sorted(frames.items()):
            data = encoded_bytes[kind]
            encoded[kind] = (data, frame)
            name, digest = (files or {}).get(kind, (f"{kind} (frame)", hashlib.sha256(data).hexdigest()))
            row = existing.get(kind)
            if row is None:
                row = DailyInputRow(plan_id=plan.id, business_date=business_date, kind=kind)
                session.add(row)
            row.sha256, row.file_name, row.row_count = digest, name[:300], frame.height
            row.data, row.loaded_at = data, now
            out.append({"kind": kind, "file": name, "rows": frame.height, "sha256": digest})
        index = append_event(session, entry_type="daily.inputs_loaded", plan_code=plan_code, recorded_at=now,
                             business_date=business_date, payload={"files": out})
    if cache is not None:  # committed: the run of this day need not decode what it reads back
        kept = cache.get("inputs")
        kept = kept[1] if kept is not None and kept[0] == (plan_code, business_date) else {}
        cache["inputs"] = ((plan_code, business_date), {**kept, **encoded})
    return LoadResult(plan_code, business_date, out, index)


def _cross_check(new: dict[str, pl.DataFrame], all_frames: dict[str, pl.DataFrame], pool: pl.DataFrame,
                 open_ids: Callable[[], set[str]]) -> list[Issue]:
    """Checks against the pool and between files: every problem with its file row.
    ``open_ids``: the assets with an open repurchase instruction (asked only when receipts come)."""
    issues: list[Issue] = []
    facts = pool.select(pl.col("asset_id").alias("contract_id"), pl.col("balance_fen").alias("_balance"),
                        pl.col("maturity_date").alias("_due"), pl.lit(True).alias("_active"))
    for kind in ("collections", "extensions", "liquidations", "repurchase_receipts"):
        frame = new.get(kind)
        if frame is None or frame.height == 0:
            continue
        bad = pl.col("_active").is_null()
        if kind == "collections":
            bad = bad | (pl.col("principal_fen") > pl.col("_balance"))
        if kind == "extensions":
            bad = bad | (pl.col("_due").is_not_null() & (pl.col("new_due_date") <= pl.col("_due")))
        flagged = frame.with_row_index("_order").join(facts, on="contract_id", how="left").filter(bad).sort("_order")
        for row in flagged.iter_rows(named=True):  # only the rows with a problem, in file order
            where = Location(row=row["source_row"], column="contract_id", field_path=kind)
            if row["_active"] is None:
                issues.append(Issue("unknown_contract", f"{kind}: contract {row['contract_id']} is not in the "
                                    "plan's pool", where, row["contract_id"]))
                continue
            if kind == "collections":
                issues.append(Issue("principal_exceeds_balance", f"collections: principal "
                                    f"{format_yuan(row['principal_fen'])} is more than the outstanding "
                                    f"{format_yuan(row['_balance'])}",
                                    Location(row=row["source_row"], column="principal", field_path=kind),
                                    format_yuan(row["principal_fen"])))
            if kind == "extensions":
                issues.append(Issue("extension_not_later", f"extensions: new due date {row['new_due_date']} is not "
                                    f"after the current {row['_due']}",
                                    Location(row=row["source_row"], column="new_due_date", field_path=kind),
                                    str(row["new_due_date"])))
    receipts = new.get("repurchase_receipts")
    if receipts is not None and receipts.height:
        open_now, active = open_ids(), set(pool.get_column("asset_id").to_list())
        for row in receipts.iter_rows(named=True):
            if row["contract_id"] in active and row["contract_id"] not in open_now:
                issues.append(Issue("no_open_repurchase", f"repurchase_receipts: no open repurchase instruction for "
                                    f"{row['contract_id']}", Location(row=row["source_row"], column="contract_id",
                                                                      field_path="repurchase_receipts"),
                                    row["contract_id"]))
    positions, prices = all_frames.get("positions"), all_frames.get("prices")
    if positions is not None and "positions" in new:
        if prices is None:
            issues.append(Issue("prices_missing", "positions need the day's prices file (load it with them)",
                                Location(field_path="positions")))
        else:
            known = set(prices.get_column("security_code").to_list())
            for row in positions.filter(~pl.col("security_code").is_in(list(known))).head(50).iter_rows(named=True):
                issues.append(Issue("no_price", f"positions: no closing price for security {row['security_code']}",
                                    Location(row=row["source_row"], column="security_code", field_path="positions"),
                                    row["security_code"]))
    return issues


#: Columns of ``open_repurchases`` (an ``OpenRepurchase``'s fields, in order).
OPEN_REPURCHASE_COLUMNS: dict[str, Any] = {
    "asset_id": pl.String(), "reason": pl.String(), "instructed_on": pl.Date(), "due_on": pl.Date(),
    "principal_fen": pl.Int64(), "interest_fen": pl.Int64(), "received_fen": pl.Int64(), "settled_on": pl.Date()}


def open_repurchases(session: Session, plan_id: int, due_by: date | None = None) -> pl.DataFrame:
    """The plan's open repurchase instructions (``OPEN_REPURCHASE_COLUMNS``; those due by
    ``due_by`` when given), through the open-instructions index and the driver's fast path: at
    the end of term every asset left is instructed at once (≈ 170,000 open at 200,000 loans, read
    in ≈ 2.7 s a day as mapped rows)."""
    due = "" if due_by is None else " AND due_on <= :due_by"
    return read_query(session, f"SELECT {', '.join(OPEN_REPURCHASE_COLUMNS)} FROM daily_repurchases "
                      f"WHERE plan_id = :plan_id AND settled_on IS NULL{due}",
                      {"plan_id": plan_id, **({} if due_by is None else {"due_by": due_by})}, OPEN_REPURCHASE_COLUMNS)


def _stored_inputs(session: Session, plan_id: int, day: date) -> dict[str, pl.DataFrame]:
    return {kind: frame_from_bytes(data) for kind, data in _stored_input_bytes(session, plan_id, day).items()}


def _stored_input_bytes(session: Session, plan_id: int, day: date) -> dict[str, bytes]:
    """The day's stored input frames as stored (Parquet bytes) by kind."""
    rows = session.execute(select(DailyInputRow.kind, DailyInputRow.data).where(
        DailyInputRow.plan_id == plan_id, DailyInputRow.business_date == day))
    return {kind: bytes(data) for kind, data in rows}


def _held_rows(session: Session, plan_id: int, as_of: date | None = None) -> pl.DataFrame:
    """``POOL_COLUMNS`` of the plan's pool now (``as_of`` None) or at the end of ``as_of``, in the
    pool rows' order (their ids)."""
    columns = list(POOL_COLUMNS)
    params: dict[str, Any] = {"plan_id": plan_id, **({} if as_of is None else {"as_of": as_of})}
    return read_query(session, pool_rows_sql(["id", *columns], as_of=as_of is not None), params,
                      {"id": pl.Int64(), **{c: _DTYPES[c] for c in columns}}).sort("id").drop("id")


def _pool_frame(session: Session, plan_id: int) -> pl.DataFrame:
    frame = _held_rows(session, plan_id)
    return frame.with_columns(
        pl.col("accrued_interest_fen").fill_null(0), pl.col("extension_count").fill_null(0)
    ).select([pl.col(c).cast(t) for c, t in POOL_COLUMNS.items()])


_DTYPES: dict[str, Any] = {c: (t() if isinstance(t, type) else t) for c, t in POOL_COLUMNS.items()}


# ---------------------------------------------------------------------------------- running


@dataclass
class DayRun:
    """What a run did (or had done, when ``already_done``)."""

    plan_code: str
    business_date: date
    status: str
    purchase_state: str
    summary: dict[str, Any]
    already_done: bool = False
    log_index: int | None = None
    checkpoint: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@contextmanager
def _run_transaction(ctx: Context, plan_code: str) -> Iterator[Session]:
    """One transaction holding the plan's daily-run lock; a second concurrent run gets a Conflict."""
    engine = ctx.engine
    connection = engine.connect()
    raw: Any = None
    cache_before: Any = None
    try:
        if is_sqlite(engine):
            raw = connection.connection.driver_connection
            raw.execute(f"PRAGMA busy_timeout={SQLITE_RUN_WAIT_MS}")
            cache_before = raw.execute("PRAGMA cache_size").fetchone()[0]
            raw.execute(f"PRAGMA cache_size = -{SQLITE_RUN_CACHE_KIB}")
        session = session_factory(engine)(bind=connection)
        try:
            with session.begin():
                if is_postgresql(engine):
                    got = session.execute(text("SELECT pg_try_advisory_xact_lock(hashtext(:key))"),
                                          {"key": f"absflow.daily:{plan_code}"}).scalar_one()
                    if not got:
                        raise Conflict(f"another daily run of plan {plan_code} is in progress; try again when it "
                                       "has finished")
                yield session
        except OperationalError as error:
            if "locked" in str(error).lower() or "busy" in str(error).lower():
                raise Conflict(f"another daily run of plan {plan_code} (or another writer) holds the database; "
                               "try again when it has finished") from None
            raise
        finally:
            session.close()
    finally:
        if raw is not None:
            raw.execute("PRAGMA busy_timeout=10000")
            raw.execute(f"PRAGMA cache_size = {int(cache_before)}")
        connection.close()


def pool_version(session: Session, plan_id: int, state_row: DailyPlanStateRow | None) -> tuple[Any, ...]:
    """What the plan's active pool is a function of, read from the database: the last run day
    and its log index (a committed run changes both; a run that did not commit changes
    neither) and the plan's newest tape batch (an import adds pool rows). Two indexed
    lookups; nothing else writes ``pool_assets``."""
    last_run = state_row.last_run_date if state_row is not None else None
    run_index = None if last_run is None else session.execute(select(DailyDayRow.log_index).where(
        DailyDayRow.plan_id == plan_id, DailyDayRow.business_date == last_run)).scalar_one_or_none()
    batch = session.execute(select(func.max(TapeBatchRow.id)).where(TapeBatchRow.plan_id == plan_id)).scalar()
    return (last_run, run_index, batch)


def cached_pool(session: Session, plan_id: int, version: tuple[Any, ...],
                cache: dict[str, Any] | None) -> pl.DataFrame:
    """The active pool's frame (:func:`cached_day_pool`)."""
    return cached_day_pool(session, plan_id, version, cache).frame


def cached_day_pool(session: Session, plan_id: int, version: tuple[Any, ...],
                    cache: dict[str, Any] | None) -> DayPool:
    """The active pool, encoded for the day step: from ``cache`` when it holds the pool of the
    plan's current ``version`` (:func:`pool_version`, read in the caller's transaction: the pool
    a committed run of this process left — the day step's end-of-day pool, codes and vocabulary
    carried — or one read here), else read from ``pool_assets`` and encoded from scratch (and
    kept in ``cache``). A run of another process, a tape import or a run that did not commit
    change the version, so the cache is never used stale."""
    pool: DayPool = _kept(cache, "pool", version, lambda: DayPool.of(_pool_frame(session, plan_id)))
    return pool


def cached_open_repurchases(session: Session, plan_id: int, version: tuple[Any, ...],
                            cache: dict[str, Any] | None) -> list[OpenRepurchase]:
    """The plan's open repurchase instructions: from ``cache`` when it holds those of the plan's
    current ``version`` (:func:`pool_version`: the ones a committed run of this process left), else
    read (:func:`open_repurchases`) and kept. At the end of term every asset left is instructed at
    once (≈ 170,000 open at 200,000 loans): reading and building them took ≈ 0.12–0.25 s, three
    times a day (the inputs' check, the run, the simulation's due list)."""
    items: list[OpenRepurchase] = _kept(cache, "open", version, lambda: [
        OpenRepurchase(*r) for r in open_repurchases(session, plan_id).iter_rows()])
    return items


def _kept(cache: dict[str, Any] | None, key: str, version: tuple[Any, ...], load: Callable[[], Any]) -> Any:
    """``cache[key]``'s value when it was kept for ``version``, else ``load()`` (kept for it)."""
    if cache is not None and cache.get(key, (None,))[0] == version:
        return cache[key][1]
    value = load()
    if cache is not None:
        cache[key] = (version, value)
    return value


def open_after(items: Sequence[OpenRepurchase], result: DayResult) -> list[OpenRepurchase]:
    """The open instructions after a day: ``items`` (open at its start) with the day's receipts
    applied (settled ones closed) and its new instructions added — what the day writes."""
    by_asset = {item.asset_id: item for item in items}
    for item in result.repurchase_updates:
        if item.settled_on is None:
            by_asset[item.asset_id] = item
        else:
            by_asset.pop(item.asset_id, None)
    by_asset.update((item.asset_id, item) for item in result.new_repurchases)
    return list(by_asset.values())


def _input_frames(stored: dict[str, bytes], kept: tuple[Any, dict[str, tuple[bytes, pl.DataFrame]]] | None,
                  key: tuple[str, date]) -> dict[str, pl.DataFrame]:
    """The day's stored input frames by kind: a frame :func:`store_inputs` kept in the cache
    when its bytes are exactly the stored bytes (compared whole), else decoded from them."""
    held = kept[1] if kept is not None and kept[0] == key else {}
    frames = {}
    for kind, data in stored.items():
        found = held.get(kind)
        frames[kind] = found[1] if found is not None and found[0] == data else frame_from_bytes(data)
    return frames


def first_day(calendar: Calendar, deal: Deal) -> date:
    """The plan's first day to run: the first trading day after its establishment."""
    return calendar.next_trading_day(deal.dates.establishment)


@short_switch_interval()
def run_day(ctx: Context, plan_code: str, business_date: date, *, allow_empty: bool = False,
            checkpoint: bool = True, cache: dict[str, Any] | None = None) -> DayRun:
    """Run one business day (idempotent: a day already run returns its stored result)."""
    ctx.require("edit", plan_code)
    started = time.perf_counter()
    calendar = service_calendar()
    if not calendar.is_trading_day(business_date):
        raise ValidationFailed([Issue("not_a_trading_day", f"{business_date} is not an SSE trading day",
                                      Location(field_path="business_date"), business_date.isoformat())])
    now = ctx.now()
    with _run_transaction(ctx, plan_code) as session:
        plan = load_plan_row(session, plan_code)
        existing = session.execute(select(DailyDayRow).where(
            DailyDayRow.plan_id == plan.id, DailyDayRow.business_date == business_date)).scalar_one_or_none()
        if existing is not None:
            return _stored_run(plan_code, existing)
        deal = _plan_deal(session, ctx, plan_code)
        state_row = session.get(DailyPlanStateRow, plan.id)
        first = first_day(calendar, deal)
        expected = first if state_row is None or state_row.last_run_date is None else calendar.next_trading_day(
            state_row.last_run_date)
        if business_date < expected:
            raise Conflict(f"{plan_code}: {business_date} is before the next day to run ({expected})")
        if business_date > expected:
            missing = calendar.trading_days(expected, calendar.previous_trading_day(business_date))
            shown = ", ".join(d.isoformat() for d in missing[:5]) + (" …" if len(missing) > 5 else "")
            raise Conflict(f"{plan_code}: days run in order; {len(missing)} trading day(s) not run yet before "
                           f"{business_date}: {shown} (use --through {business_date})")
        if state_row is not None and state_row.status == "ended":
            raise Conflict(f"{plan_code} has ended ({state_row.last_run_date}); nothing more to run")
        stored = _stored_input_bytes(session, plan.id, business_date)
        inputs = _input_frames(stored, (cache or {}).get("inputs"), (plan_code, business_date))
        _fresh_statistics(session)
        if not inputs and not allow_empty:
            raise Conflict(f"{plan_code}: no daily files loaded for {business_date} (absflow daily load …), "
                           "or run with --allow-empty")
        day_ctx = (cache or {}).get("day_ctx") or DayContext.build(plan_code, deal, calendar)
        version = pool_version(session, plan.id, state_row)
        day_pool = cached_day_pool(session, plan.id, version, cache)
        pool = day_pool.frame
        if state_row is None:
            state = opening_state(day_ctx, pool, business_date)
        else:
            state = PlanState.from_json(state_row.state_json)
        open_items = cached_open_repurchases(session, plan.id, version, cache)
        # The day's writes run on a helper thread, in order, while this thread computes: the
        # settlement's pool rows and events while the rest of the day is worked out, the purchases
        # and the rest while the summary and the log entries are (docs/DAILY.md "One run").
        with _writes_behind() as behind, ThreadPoolExecutor(1, thread_name_prefix="absflow-day-reads") as reads:
            candidates = inputs.get("candidates")
            owned_lookup = reads.submit(_owned_elsewhere_committed, ctx.engine, candidates) if \
                connections_share_data(ctx.engine) else behind.submit(_owned_elsewhere, session, candidates)
            settled = settle_day(day_ctx, business_date, day_pool, inputs, state, open_items)
            settlement_written = behind.submit(_write_settlement, session, plan.id, settled,
                                               _settlement_rows(settled))
            result = finish_day(settled, owned_elsewhere=owned_lookup.result())
            after = result.pool_after
            assert after is not None
            _check_reconciles(result, after.frame)
            finished = behind.submit(_write_finish, session, plan.id, result, len(settled.events))
            summary = _summary(result)
            changes = prepare_pool_changes(daily_pool_changes(pool, result.purchases, result.removals),
                                           "daily.run")
            # The first failed write's own error, if any: a later write may succeed (SQLite) or only
            # report the aborted transaction (PostgreSQL).
            settlement_written.result()
            finished.result()
        index = _persist(session, plan.id, plan_code, result, stored, summary, now)
        write_pool_changes(session, plan_code=plan_code, business_date=business_date, recorded_at=now,
                           prepared=changes, via_pool_rows=True)
        if _before_commit is not None:
            _before_commit(session)
    if cache is not None:  # committed: the pool after this day is the plan's pool at this version
        cache["day_ctx"] = day_ctx
        version_after = (business_date, index, version[2])
        cache["pool"] = (version_after, after)
        cache["open"] = (version_after, open_after(open_items, result))
        cache.pop("inputs", None)
    run = DayRun(plan_code, business_date, result.status, result.purchase_state, summary, log_index=index,
                 seconds=time.perf_counter() - started, notes=list(result.reasons))
    if checkpoint:
        run.checkpoint = daily_checkpoint(ctx, plan_code)
    return run


#: Cyclic-GC thresholds while days run back to back (CPython's default is 700, 10, 10).
BATCH_GC_THRESHOLDS = (10_000, 10, 1_000)


@contextmanager
def batch_gc() -> Iterator[None]:
    """Run a batch of days with the cyclic garbage collector's passes put off, then restore it.

    With the defaults a full pass over the process's few hundred thousand long-lived objects
    (≈ 0.1 s) ran every two or three days at 200,000 loans, and young passes every 700
    allocations; ≈ 50 ms a day in all (docs/PERFORMANCE.md). The days free their own data by
    reference counting; what cycles they leave is collected at the end (one full pass)."""
    before = gc.get_threshold()
    gc.set_threshold(*BATCH_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.collect()


def run_through(ctx: Context, plan_code: str, through: date, *, allow_empty: bool = False,
                checkpoint: bool = True, progress: Callable[[DayRun], None] | None = None) -> list[DayRun]:
    """Run every pending trading day up to ``through`` in order, each in its own transaction."""
    ctx.require("edit", plan_code)
    calendar = service_calendar()
    with transaction(ctx.engine) as session:
        plan = load_plan_row(session, plan_code)
        deal = _plan_deal(session, ctx, plan_code)
        state_row = session.get(DailyPlanStateRow, plan.id)
        start = first_day(calendar, deal) if state_row is None or state_row.last_run_date is None else \
            calendar.next_trading_day(state_row.last_run_date)
    runs: list[DayRun] = []
    cache: dict[str, Any] = {}
    with batch_gc():
        for day in calendar.trading_days(start, through):
            run = run_day(ctx, plan_code, day, allow_empty=allow_empty, checkpoint=False, cache=cache)
            runs.append(run)
            if progress is not None:
                progress(run)
            if run.status == "ended":
                break
    if checkpoint and runs:
        runs[-1].checkpoint = daily_checkpoint(ctx, plan_code)
    return runs


def daily_checkpoint(ctx: Context, plan_code: str) -> str:
    """Make a signed log checkpoint after committed days; a failure is reported, never raised."""
    try:
        from absflow.services.tlog import make_checkpoint
    except ImportError:  # pragma: no cover - the log service ships with absflow
        return "skipped: no checkpoint service"
    try:
        info = make_checkpoint(ctx, reason="daily.run", plan_code=plan_code)
    except Exception as error:  # noqa: BLE001 - a checkpoint failure must not undo a committed day
        return f"skipped: {error}"
    return f"size {info.size}" if hasattr(info, "size") else str(info)


#: PostgreSQL: re-ANALYZE a daily table once this share of its rows changed since the last ANALYZE.
STATISTICS_STALE_SHARE = 0.5
#: PostgreSQL: the tables whose statistics a day's statements depend on (``_fresh_statistics``).
DAILY_ANALYZED_TABLES = ("pool_assets", "pool_asset_states", "pool_asset_removals")


def _fresh_statistics(session: Session) -> None:
    """PostgreSQL: ANALYZE the pool's tables (``DAILY_ANALYZED_TABLES``) when they have no
    statistics or stale ones.

    The day's id lookups join the day's ids (thousands) with the pool; without statistics
    (a bulk-loaded table before autovacuum has analyzed it, or autovacuum off) the planner
    takes the table for a few rows and tests every row against the whole list: minutes a
    day at 200,000 loans instead of tens of milliseconds (the state rows of the assets leaving
    the pool: 15 s a day by the 40th day, measured). Cheap to check (one row of
    ``pg_stat_user_tables`` each); ANALYZE samples the table (a few hundred ms) and does not
    block readers or writers."""
    if not is_postgresql(session.connection().engine):
        return
    rows = session.execute(text(
        "SELECT relname, n_live_tup, n_mod_since_analyze, COALESCE(last_analyze, last_autoanalyze) IS NULL "
        "FROM pg_stat_user_tables WHERE relname IN :tables AND schemaname = current_schema()").bindparams(
        bindparam("tables", expanding=True)), {"tables": list(DAILY_ANALYZED_TABLES)}).all()
    for name, live, modified, never in rows:
        if bool(never) or int(modified or 0) > STATISTICS_STALE_SHARE * max(int(live or 0), 1):
            session.execute(text(f"ANALYZE {name}"))


_PROBE = ("SELECT c.id FROM unnest(CAST(:ids AS text[])) AS c(id) CROSS JOIN LATERAL (SELECT 1 FROM {} p "
          "WHERE p.asset_type = 'margin_loan' AND p.asset_id = c.id LIMIT 1) AS found")
#: PostgreSQL: which of ``:ids`` any plan holds (a state row) or held (a removal row) (``_owned_elsewhere``).
OWNED_ELSEWHERE_POSTGRESQL = f"{_PROBE.format('pool_asset_states')} UNION {_PROBE.format('pool_asset_removals')}"


#: SQLite: the same, one pass over the ids with a probe of each table's index on the asset (the
#: two ``IN`` lists of a UNION each built a temporary index of all the ids first: 39–50 against
#: 22 ms for 20,000 candidates).
OWNED_ELSEWHERE_SQLITE = ("SELECT c.value FROM json_each(:ids) AS c WHERE EXISTS (SELECT 1 FROM pool_asset_states s "
                          "WHERE s.asset_type = 'margin_loan' AND s.asset_id = c.value) "
                          "OR EXISTS (SELECT 1 FROM pool_asset_removals r WHERE r.asset_type = 'margin_loan' "
                          "AND r.asset_id = c.value)")


def _owned_elsewhere(session: Session, candidates: pl.DataFrame | None) -> set[str]:
    """Candidate contract ids already in any plan's pool, now or before (never bought again)."""
    if candidates is None or candidates.height == 0:
        return set()
    ids = candidates.get_column("contract_id").unique().to_list()
    # Two lookups by (asset_type, asset_id): held now (the state rows' key) or before (the removal
    # rows' index; migration tape_0006).
    if is_postgresql(session.connection().engine):
        # One index probe per candidate, whatever the statistics say: the planner's estimate of
        # the removed rows lags behind (a day removes thousands; ANALYZE runs when half the table
        # changed), and with "1 row" it joined every removed row against the whole id list — a
        # nested loop that grew by ≈ 2.5 s a day at 200,000 loans (14 s on the 9th day). LATERAL …
        # LIMIT 1 can only be run as a probe per id.
        return set(session.execute(text(OWNED_ELSEWHERE_POSTGRESQL), {"ids": ids}).scalars())
    return set(session.execute(text(OWNED_ELSEWHERE_SQLITE), {"ids": json.dumps(ids)}).scalars())


def _owned_elsewhere_committed(engine: Engine, candidates: pl.DataFrame | None) -> set[str]:
    """:func:`_owned_elsewhere` in a read-only transaction of its own, beside the run's (which its
    helper thread is writing on): what is committed — all the run's own transaction would see of
    other plans and of this plan's earlier days (its pool today is checked in memory)."""
    with read_transaction(engine) as session:
        return _owned_elsewhere(session, candidates)


def _for_ids(session: Session, sql: str, ids: Sequence[str], params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``sql`` with ``{ids}`` made a membership test of all ``ids`` in ONE statement and one
    parameter (SQLite: ``IN (SELECT value FROM json_each(…))``; PostgreSQL: ``IN (SELECT unnest(…))``);
    both use an index on the column, as ``IN (…)`` does."""
    if is_postgresql(session.connection().engine):
        # Not "= ANY(:ids)": once psycopg prepares the statement the generic plan tests every
        # row against the whole array (17 s a day at 200,000 loans); a join stays linear.
        return text(sql.format(ids="IN (SELECT unnest(CAST(:ids AS text[])))")), {**params, "ids": list(ids)}
    return text(sql.format(ids="IN (SELECT value FROM json_each(:ids))")), {**params, "ids": json.dumps(list(ids))}


def _pool_subset(session: Session, plan_id: int, ids: Sequence[str]) -> pl.DataFrame:
    """Id, balance and due date of the plan's active pool rows for the given contract ids (indexed
    lookups, not a scan)."""
    schema: dict[str, Any] = {"asset_id": pl.String, "balance_fen": pl.Int64, "maturity_date": pl.Date}
    if not ids:
        return pl.DataFrame(schema=schema)
    rows = session.execute(*_for_ids(
        session, pool_rows_sql(("asset_id", "balance_fen", "maturity_date"),
                               "s.asset_type = 'margin_loan' AND s.asset_id {ids}"),
        ids, {"plan_id": plan_id})).all()
    raw = pl.DataFrame([tuple(r) for r in rows], schema=list(schema), orient="row")
    return raw.with_columns(
        pl.col("maturity_date").cast(pl.String).str.slice(0, 10).str.to_date() if raw.schema["maturity_date"] != pl.Date
        else pl.col("maturity_date")).cast(pl.Schema(schema))


def _check_reconciles(result: DayResult, pool_after: pl.DataFrame) -> None:
    """The pool account equals the outstanding principal of the pool at the end of the day
    (the day step's ``pool_after``, the rows written read back) to the fen (else the run fails and
    its transaction, with whatever the helper thread wrote, is rolled back)."""
    total = int(pool_after.get_column("balance_fen").sum() or 0)
    ledger_pool = result.state.balances.get("asset:pool", 0)
    if total != ledger_pool or sum(result.state.balances.values()) != 0:
        raise AssertionError(f"ledger does not reconcile: pool {total} fen vs asset:pool {ledger_pool} fen")


#: A ``:name`` parameter in SQL text.
_NAMED = re.compile(r":(\w+)")


#: PostgreSQL: rows above which an update is COPYed into a temporary table and applied by one
#: statement instead of one statement per row (the end of term's 217,000 repurchase receipts:
#: ≈ 2.5 s a statement each).
EXECUTE_MANY_MAX_ROWS = 1_000


def _execute_many(session: Session, sql: str, rows: pl.DataFrame) -> None:
    """PostgreSQL: one statement per row of ``rows`` (``:name`` parameters = columns) on the
    driver's own cursor, in the session's transaction (few rows: the pool's rows are COPYed,
    ``_write_pool_changes``)."""
    raw: Any = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        cursor.executemany(_NAMED.sub(r"%(\1)s", sql), rows.to_dicts())


def _sqlite_rows(session: Session, head: str, rows: pl.DataFrame | Sequence[Sequence[Any]], tail: str = "", *,
                 row: str | None = None) -> None:
    """SQLite: ``head`` + ``row`` once per row of ``rows`` + ``tail``, many rows per statement
    (:func:`sqlite_execute_rows`), on the driver's own cursor in the session's transaction.
    ``rows``: a frame (in column order; dates as ISO text, as SQLAlchemy stores them) or tuples;
    ``row`` None: ``(?, …)``, one per column. On the helper thread one statement per row took the
    interpreter lock back after every row, which held back both threads; JSON read by SQLite
    (``json_each``) cost the helper twice the time, and it then bounded the day
    (docs/PERFORMANCE.md)."""
    if isinstance(rows, pl.DataFrame):
        rows = rows.with_columns(pl.col(pl.Date).cast(pl.String)).rows()
    if not rows:
        return
    raw: Any = session.connection().connection.driver_connection
    cursor = raw.cursor()
    try:
        sqlite_execute_rows(cursor, head, row or "(" + ", ".join("?" * len(rows[0])) + ")", rows, tail)
    finally:
        cursor.close()


def _sqlite_update_from(session: Session, table: str, rows: pl.DataFrame, where: str) -> None:
    """SQLite: set ``table``'s columns named as ``rows``' columns after the first (the key, e.g.
    ``asset_id``) on its row with that key where ``where`` holds (SQL naming the table's columns
    as ``{table}.column``; at most one such row per key). The rows first (MATERIALIZED), each
    finding its row through the table's index on the key."""
    # OR FAIL: a constraint error ends the statement without undoing its earlier rows, so SQLite
    # keeps no statement journal of the pages it changes (the run's transaction is rolled back
    # whole on any error anyway): ≈ 15 % of the statement's time (docs/PERFORMANCE.md).
    _sqlite_rows(session, f"WITH v ({', '.join(rows.columns)}) AS MATERIALIZED (VALUES ", rows,
                 ") UPDATE OR FAIL " + _set_from(table, rows, "v", where))


def _postgresql_update_from(cursor: Any, table: str, rows: pl.DataFrame, where: str) -> None:
    """PostgreSQL: :func:`_sqlite_update_from` — ``rows`` COPYed into a temporary table, then one
    ``UPDATE … FROM`` it (``cursor``: the driver's, in the session's transaction)."""
    cursor.execute("UPDATE " + _set_from(table, rows, f"{_copy_to_temporary(cursor, rows)} AS v", where))


def _set_from(table: str, rows: pl.DataFrame, source: str, where: str) -> str:
    """``{table} SET … FROM {source} WHERE …`` of the two update helpers: ``rows``' columns after
    the first set from ``v`` (``source``), on the row whose key (the first column) is ``v``'s."""
    key, *columns = rows.columns
    sets = ", ".join(f"{c} = v.{c}" for c in columns)
    return f"{table} SET {sets} FROM {source} WHERE {table}.{key} = v.{key} AND {where}"


_PG_TYPES: dict[Any, str] = {pl.String: "text", pl.Int64: "bigint", pl.Int32: "integer", pl.Date: "date",
                             pl.Boolean: "boolean"}
_temp_tables = itertools.count(1)

#: Columns a day's run sets on the state rows it changes (their current values: ``STATE_COLUMNS``),
#: and also on the removal rows it appends.
UPDATED_COLUMNS = STATE_COLUMNS

#: A removal row: its state row's pool row id, plan and asset (``s``), then the final values and
#: the day and reason (``v``: asset_id, UPDATED_COLUMNS, REMOVAL_COLUMNS) — as inserted and as picked.
_REMOVAL_ROW = ("pool_asset_id, plan_id, asset_type, asset_id, "
                + ", ".join((*UPDATED_COLUMNS, *REMOVAL_COLUMNS)))
_REMOVAL_PICKED = ("s.pool_asset_id, s.plan_id, s.asset_type, s.asset_id, "
                   + ", ".join(f"v.{c}" for c in (*UPDATED_COLUMNS, *REMOVAL_COLUMNS)))
#: The removal rows of the assets leaving, each with its pool row's id from its state row.
_REMOVALS_INSERT = (f"INSERT INTO pool_asset_removals ({_REMOVAL_ROW}) SELECT {_REMOVAL_PICKED} "
                    "FROM {v} v JOIN pool_asset_states s ON s.asset_type = 'margin_loan' "
                    "AND s.asset_id = v.asset_id AND s.plan_id = {plan_id}")
#: PostgreSQL: the leaving assets' state rows deleted and their removal rows appended in one
#: statement (``{v}``: a temporary table as ``v`` above, ``{using}``: the rows to delete, with
#: ``t``, a state row's ctid, when found by probes). Removal rows get their ids in asset-id order.
_REMOVALS_MOVE_POSTGRESQL = (
    "WITH gone AS (DELETE FROM pool_asset_states AS s USING {using} RETURNING " + _REMOVAL_PICKED + ") "
    f"INSERT INTO pool_asset_removals ({_REMOVAL_ROW}) SELECT * FROM gone ORDER BY asset_id COLLATE \"C\"")
#: A day's few thousand leaving assets: each state row found by one probe of its key (LATERAL …
#: LIMIT 1), then deleted by its ctid in the same statement. The planner made the lookup a hash
#: join over every state row: ≈ 52 against ≈ 30 ms for 2,500 assets at 200,000 loans (SQLite's two
#: statements, each such a join: ≈ 87 ms; docs/PERFORMANCE.md).
_REMOVALS_BY_PROBES = (
    "(SELECT x.t, v.* FROM {v} AS v CROSS JOIN LATERAL (SELECT h.ctid AS t FROM pool_asset_states AS h "
    "WHERE h.asset_type = 'margin_loan' AND h.asset_id = v.asset_id AND h.plan_id = {plan_id} LIMIT 1) AS x) AS v "
    "WHERE s.ctid = v.t")
#: Many leaving assets (the end of term: the whole pool), joined as the planner likes: for 217,000
#: assets 1.6 s against 2.6 s by probes.
_REMOVALS_BY_JOIN = "{v} AS v WHERE s.asset_type = 'margin_loan' AND s.asset_id = v.asset_id AND s.plan_id = {plan_id}"
#: Leaving assets above which a day's removals are joined, not probed (probes ≈ 12 µs each, the join
#: ≈ 40 ms plus ≈ 5.5 µs each).
REMOVAL_PROBES_MAX_ROWS = 5_000


def _write_pool_changes(session: Session, plan_id: int, updates: pl.DataFrame, removals: Sequence[tuple[str, str]],
                        day: date, pool_before: pl.DataFrame) -> None:
    """The day's changes to the plan's pool: ``updates`` (asset_id + UPDATED_COLUMNS, the changed
    assets' values at the end of the day) and ``removals`` (asset id, reason); ``pool_before``: the
    pool at the start of the day (the values of a removed asset no update changed).

    An asset that stays gets its values in its ``pool_asset_states`` row; an asset that leaves
    gets a ``pool_asset_removals`` row (its final values, the day, the reason) and its state row
    deleted (migration tape_0006): no ``pool_assets`` row is touched. Each asset is written once.
    SQLite: many rows per statement (``_sqlite_rows``), in asset-id order (the state table's key
    order); PostgreSQL: the rows COPYed into a temporary table, then one statement each."""
    _write_pool_change_frames(session, plan_id, *_pool_change_frames(updates, removals, day, pool_before))


def _pool_change_frames(updates: pl.DataFrame, removals: Sequence[tuple[str, str]], day: date,
                        pool_before: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows :func:`_write_pool_changes` writes, in asset-id order: the state rows of the assets
    that stay, and the final rows of the assets that leave."""
    removed = pl.DataFrame({"asset_id": [a for a, _ in removals], "removal_reason": [r[:32] for _, r in removals]},
                           schema={"asset_id": pl.String, "removal_reason": pl.String}).with_columns(
        pl.lit(day, dtype=pl.Date).alias("removed_on"))
    updates = updates.select("asset_id", *UPDATED_COLUMNS)
    leaving = pl.col("asset_id").is_in(removed.get_column("asset_id").implode())
    kept = updates.filter(~leaving).sort("asset_id")
    unchanged = pool_before.select("asset_id", *UPDATED_COLUMNS).filter(
        leaving & ~pl.col("asset_id").is_in(updates.get_column("asset_id").implode()))
    gone = removed.join(pl.concat([updates.filter(leaving), unchanged], how="vertical_relaxed"), on="asset_id",
                        how="inner").select("asset_id", *UPDATED_COLUMNS, *REMOVAL_COLUMNS).sort("asset_id")
    return kept, gone


def _write_pool_change_frames(session: Session, plan_id: int, kept: pl.DataFrame, gone: pl.DataFrame) -> None:
    """Write :func:`_pool_change_frames`' rows (see :func:`_write_pool_changes`)."""
    plan = int(plan_id)
    held_here = f"pool_asset_states.asset_type = 'margin_loan' AND pool_asset_states.plan_id = {plan}"
    if not is_postgresql(session.connection().engine):
        _sqlite_update_from(session, "pool_asset_states", kept, held_here)
        if gone.height:
            names = ", ".join(gone.columns)
            _sqlite_rows(session, f"WITH v ({names}) AS MATERIALIZED (VALUES ", gone,
                         ") " + _REMOVALS_INSERT.format(v="v", plan_id=plan))
            _sqlite_rows(session, "DELETE FROM pool_asset_states WHERE asset_type = 'margin_loan' AND asset_id IN (",
                         gone.select("asset_id"), f") AND plan_id = {plan}", row="?")
        return
    raw: Any = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        if kept.height:
            _postgresql_update_from(cursor, "pool_asset_states", kept, held_here)
        if gone.height:
            using = _REMOVALS_BY_PROBES if gone.height <= REMOVAL_PROBES_MAX_ROWS else _REMOVALS_BY_JOIN
            cursor.execute(_REMOVALS_MOVE_POSTGRESQL.format(
                using=using.format(v=_copy_to_temporary(cursor, gone), plan_id=plan)))


def _copy_to_temporary(cursor: Any, rows: pl.DataFrame) -> str:
    """PostgreSQL: ``rows`` COPYed into a new temporary table (dropped at commit), its first
    column (the key the day's statements join on) analyzed; its name. Only that column: the
    planner needs its row count and distinct keys, and all seven columns of a day's 12,500 state
    rows took ≈ 18 against ≈ 7 ms (the same plans; none at all: a hash of the whole state table)."""
    name = f"day_pool_rows_{next(_temp_tables)}"
    body = ", ".join(f"{c} {_PG_TYPES[rows.schema[c].base_type()]}" for c in rows.columns)
    buffer = io.BytesIO()
    rows.write_csv(buffer, include_header=False, null_value="")
    cursor.execute(f"CREATE TEMPORARY TABLE {name} ({body}) ON COMMIT DROP")
    with cursor.copy(f"COPY {name} ({', '.join(rows.columns)}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(buffer.getvalue())
    cursor.execute(f"ANALYZE {name} ({rows.columns[0]})")
    return name


@contextmanager
def _writes_behind() -> Iterator[ThreadPoolExecutor]:
    """One helper thread that runs the day's writes in the order submitted, on the run's own
    connection and transaction, while the caller computes (the caller does not use the session
    until it has the last write's result). SQLite steps and PostgreSQL round trips release the
    interpreter, so the writes and the computing share the machine's cores; the helper runs at
    background priority (``run_in_background``) so that it takes the cores the computing leaves.
    On leaving, waits for every write: the transaction never commits or rolls back under a
    running statement."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="absflow-day-writes",
                                  initializer=run_in_background)
    try:
        yield executor
    finally:
        executor.shutdown(wait=True)


def _settlement_rows(settled: Settlement) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The settlement's pool rows to write (:func:`_pool_change_frames`)."""
    return _pool_change_frames(settled.pool_updates, settled.removals, settled.day, settled.day_pool.frame)


def _write_settlement(session: Session, plan_id: int, settled: Settlement,
                      rows: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """The settlement's writes (on the writing thread): the pool rows it changes and removes
    (``rows``: :func:`_settlement_rows`, made on the computing thread), and its events."""
    _write_pool_change_frames(session, plan_id, *rows)
    _insert_events(session, plan_id, settled.day, settled.events)


#: Fields of an ``AssetEvent``, in order (the columns of ``daily_asset_events`` a day writes).
EVENT_COLUMNS = ("asset_id", "kind", "principal_fen", "interest_fen", "fee_fen", "detail")


def _insert_events(session: Session, plan_id: int, day: date, events: Sequence[Any]) -> None:
    if not events:
        return
    if not is_postgresql(session.connection().engine):
        _sqlite_rows(session, "INSERT INTO daily_asset_events (plan_id, business_date, asset_id, kind, principal_fen, "
                     f"interest_fen, fee_fen, detail) SELECT {int(plan_id)}, '{day.isoformat()}', column1, column2, "
                     "column3, column4, column5, NULLIF(substr(column6, 1, 120), '') FROM (VALUES ", events, ")")
        return
    bulk_insert(session, "daily_asset_events", pl.DataFrame(events, orient="row", schema={
        "asset_id": pl.String, "kind": pl.String, "principal_fen": pl.Int64, "interest_fen": pl.Int64,
        "fee_fen": pl.Int64, "detail": pl.String,
    }).with_columns(pl.when(pl.col("detail") != "").then(pl.col("detail").str.slice(0, 120)).alias("detail")),
        {"plan_id": plan_id, "business_date": day})


def _write_finish(session: Session, plan_id: int, result: DayResult, settled_events: int) -> None:
    """The bulk writes of the rest of the day: purchases, the events after the first
    ``settled_events`` (the settlement's, already written), postings, repurchase instructions and
    receipts."""
    day = result.business_date
    if result.purchases.height:
        insert_pool_rows(session, plan_id, result.purchases.select(
            "asset_id", "obligor_id", "balance_fen", pl.col("balance_fen").alias("original_principal_fen"), "rate",
            "start_date", "maturity_date", "status", "region", "industry", "extension_count",
            "accrued_interest_fen", "maintenance_ratio", "branch", "cutoff_date", "acquired_on",
        ), {"asset_type": "margin_loan"})
    _insert_events(session, plan_id, day, result.events[settled_events:])
    lines = [(number, account, amount, entry.memo[:120]) for number, entry in enumerate(result.entries, 1)
             for account, amount in entry.lines]
    if lines:
        bulk_insert(session, "daily_postings", pl.DataFrame({
            "plan_id": [plan_id] * len(lines), "business_date": [day] * len(lines),
            "entry_no": [n for n, _, _, _ in lines], "account": [a for _, a, _, _ in lines],
            "amount_fen": [x for _, _, x, _ in lines], "memo": [m for _, _, _, m in lines],
        }, schema_overrides={"business_date": pl.Date}))
    if result.new_repurchases:
        bulk_insert(session, "daily_repurchases", pl.DataFrame(
            [(item.asset_id, item.reason, item.instructed_on, item.due_on, item.principal_fen, item.interest_fen, 0)
             for item in result.new_repurchases], orient="row",
            schema={"asset_id": pl.String, "reason": pl.String, "instructed_on": pl.Date, "due_on": pl.Date,
                    "principal_fen": pl.Int64, "interest_fen": pl.Int64, "received_fen": pl.Int64}),
            {"plan_id": plan_id})
    if result.repurchase_updates:
        received = pl.DataFrame(
            [(item.asset_id, item.received_fen, item.settled_on) for item in result.repurchase_updates],
            orient="row", schema={"asset_id": pl.String, "received_fen": pl.Int64, "settled_on": pl.Date})
        this_plan = f"daily_repurchases.plan_id = {int(plan_id)}"
        if not is_postgresql(session.connection().engine):
            _sqlite_update_from(session, "daily_repurchases", received, this_plan)
        elif received.height <= EXECUTE_MANY_MAX_ROWS:
            _execute_many(session, "UPDATE daily_repurchases SET received_fen = :received_fen, "
                          "settled_on = :settled_on WHERE plan_id = :plan_id AND asset_id = :asset_id",
                          received.with_columns(pl.lit(plan_id).alias("plan_id")))
        else:  # the end of term: the whole pool paid for
            raw: Any = session.connection().connection.driver_connection
            with raw.cursor() as cursor:
                _postgresql_update_from(cursor, "daily_repurchases", received, this_plan)


def _persist(session: Session, plan_id: int, plan_code: str, result: DayResult, inputs: dict[str, bytes],
             summary: dict[str, Any], now: Any) -> int:
    """The day's rows after the bulk writes: distributions, the plan state, the log entry, the day row."""
    day = result.business_date
    for dist in result.distributions:
        session.add(DailyDistributionRow(plan_id=plan_id, payment_date=dist.payment_date, tranche_id=dist.tranche_id,
                                         interest_due_fen=dist.interest_due_fen,
                                         interest_paid_fen=dist.interest_paid_fen,
                                         principal_paid_fen=dist.principal_paid_fen,
                                         liquidity_drawn_fen=dist.liquidity_drawn_fen,
                                         shortfall_paid_fen=dist.shortfall_paid_fen,
                                         residual_paid_fen=dist.residual_paid_fen))
    state_row = session.get(DailyPlanStateRow, plan_id)
    if state_row is None:
        state_row = DailyPlanStateRow(plan_id=plan_id, initial_pool_fen=result.state.initial_pool_fen)
        session.add(state_row)
    state = result.state
    state_row.status, state_row.stopped_on, state_row.stop_reason = state.status, state.stopped_on, \
        (state.stop_reason or None) and state.stop_reason[:200]
    state_row.last_run_date, state_row.cumulative_default_fen = day, state.cumulative_default_fen
    state_row.state_json, state_row.updated_at = state.to_json(), now
    inputs_digest = hashlib.sha256(json.dumps(
        {k: hashlib.sha256(v).hexdigest() for k, v in sorted(inputs.items())}, sort_keys=True
    ).encode()).hexdigest()
    delivery_digest = summary["purchased"]["delivery_sha256"]
    payload = {
        "status": result.status, "purchase_state": result.purchase_state, "reasons": result.reasons,
        "metrics": result.metrics,
        "purchases": {"count": len(result.delivery.lines), "principal": format_yuan(result.delivery.principal_fen),
                      "price": format_yuan(result.delivery.price_fen), "delivery_sha256": delivery_digest},
        "repurchases": [{"asset_id": r.asset_id, "reason": r.reason, "due_on": r.due_on.isoformat(),
                         "principal": format_yuan(r.principal_fen), "interest": format_yuan(r.interest_fen)}
                        for r in result.new_repurchases],
        "repurchases_received": [{"asset_id": r.asset_id, "received": format_yuan(r.received_fen),
                                  "settled": r.settled_on is not None} for r in result.repurchase_updates],
        "distributions": _distributions_json(result),
        "waterfall": _waterfall_json(result),
        "triggers": result.triggers,
        "inputs_sha256": inputs_digest,
    }
    index = append_event(session, entry_type="daily.run", plan_code=plan_code, payload=payload, recorded_at=now,
                         business_date=day)
    session.add(DailyDayRow(
        plan_id=plan_id, business_date=day, status=result.status, purchase_state=result.purchase_state,
        pool_balance_fen=int(result.metrics["pool_balance_fen"]), cash_fen=int(result.metrics["cash_fen"]),
        scale_fen=int(result.metrics["scale_fen"]), available_fen=result.available_fen,
        purchased_principal_fen=result.delivery.principal_fen, purchased_price_fen=result.delivery.price_fen,
        purchased_count=len(result.delivery.lines), delivery_sha256=delivery_digest,
        inputs_sha256=inputs_digest, result_json=json.dumps(summary, sort_keys=True, ensure_ascii=False),
        log_index=index, run_at=now,
    ))
    session.flush()
    return index


def _summary(result: DayResult) -> dict[str, Any]:
    """JSON-ready summary of a day (money as decimal strings)."""
    def yuan(fen: int) -> str:
        return format_yuan(int(fen))

    collected = [e for e in result.events if e.kind == "collection"]
    return {
        "status": result.status,
        "purchase_state": result.purchase_state,
        "reasons": result.reasons,
        "metrics": result.metrics,
        "pool_balance": yuan(int(result.metrics["pool_balance_fen"])),
        "cash": yuan(int(result.metrics["cash_fen"])),
        "scale": yuan(int(result.metrics["scale_fen"])),
        "available": yuan(result.available_fen),
        "collections": {
            "count": len(collected),
            "principal": yuan(sum(e.principal_fen for e in collected)),
            "interest": yuan(sum(e.interest_fen for e in collected)),
            "fees": yuan(sum(e.fee_fen for e in collected)),
        },
        "purchased": {"count": len(result.delivery.lines), "principal": yuan(result.delivery.principal_fen),
                      "price": yuan(result.delivery.price_fen), "delivery_sha256": result.delivery.digest()},
        "repurchases_instructed": len(result.new_repurchases),
        "repurchases_received": sum(1 for r in result.repurchase_updates),
        "extensions": sum(1 for e in result.events if e.kind == "extension"),
        "liquidations": sum(1 for e in result.events if e.kind == "liquidation"),
        "removed": len(result.removals),
        "rejections": result.rejections,
        "class_balances": {k: yuan(v) for k, v in result.class_balances_fen.items()},
        "delinquency": {k: yuan(v) for k, v in result.delinquency_fen.items()},
        "distributions": _distributions_json(result),
        "waterfall": _waterfall_json(result),
        "triggers": result.triggers,
        "balances": {k: yuan(v) for k, v in sorted(result.state.balances.items())},
    }


def _distributions_json(result: DayResult) -> list[dict[str, str]]:
    return [{"tranche": d.tranche_id, "interest_due": format_yuan(d.interest_due_fen),
             "interest_paid": format_yuan(d.interest_paid_fen), "principal_paid": format_yuan(d.principal_paid_fen),
             "residual_paid": format_yuan(d.residual_paid_fen), "liquidity_drawn": format_yuan(d.liquidity_drawn_fen),
             "shortfall_paid": format_yuan(d.shortfall_paid_fen)} for d in result.distributions]


def _waterfall_json(result: DayResult) -> dict[str, Any] | None:
    """The payment date's waterfall: which one ran and every movement, in order (money as yuan strings)."""
    payment = result.payment
    if payment is None:
        return None
    return {"status": payment.status.value, "waterfall": payment.waterfall,
            "lines": [{"step": x.step, "action": x.kind, "target": x.target, "amount": format_yuan(x.amount_fen)}
                      for x in payment.lines]}


def _stored_run(plan_code: str, row: DailyDayRow) -> DayRun:
    summary = json.loads(row.result_json)
    return DayRun(plan_code, row.business_date, row.status, row.purchase_state, summary, already_done=True,
                  log_index=row.log_index, notes=list(summary.get("reasons", [])))


# ---------------------------------------------------------------------------------- showing


def show_day(ctx: Context, plan_code: str, business_date: date) -> dict[str, Any]:
    """A run day: summary, delivery list (交割清单), repurchase instructions, and its re-verification."""
    ctx.require("view", plan_code)
    with read_transaction(ctx.engine) as session:
        plan = load_plan_row(session, plan_code)
        row = session.execute(select(DailyDayRow).where(
            DailyDayRow.plan_id == plan.id, DailyDayRow.business_date == business_date)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"{plan_code} has no run for {business_date}")
        bought = read_query(
            session,
            "SELECT asset_id, obligor_id, original_principal_fen, accrued_interest_fen FROM pool_assets "
            "WHERE plan_id = :plan_id AND acquired_on = :day AND batch_id IS NULL ORDER BY asset_id",
            {"plan_id": plan.id, "day": business_date},
            {"asset_id": pl.String(), "obligor_id": pl.String(), "original_principal_fen": pl.Int64(),
             "accrued_interest_fen": pl.Int64()},
        )
        events = read_query(
            session,
            "SELECT asset_id, principal_fen, interest_fen FROM daily_asset_events WHERE plan_id = :plan_id "
            "AND business_date = :day AND kind = 'purchase' ORDER BY asset_id",
            {"plan_id": plan.id, "day": business_date},
            {"asset_id": pl.String(), "principal_fen": pl.Int64(), "interest_fen": pl.Int64()},
        )
        repurchases = list(session.execute(select(DailyRepurchaseRow).where(
            DailyRepurchaseRow.plan_id == plan.id, DailyRepurchaseRow.instructed_on == business_date)).scalars())
        inputs = _stored_inputs(session, plan.id, business_date)
        deal = _plan_deal(session, ctx, plan_code)
        verification = _reverify(session, plan.id, plan_code, business_date, row, bought, events, inputs, deal)
    summary = json.loads(row.result_json)
    joined = events.join(bought.select("asset_id", "obligor_id"), on="asset_id", how="left")
    price_with_interest = summary["purchased"]["price"] != summary["purchased"]["principal"]
    delivery = delivery_list(
        plan_code, business_date, joined.get_column("asset_id").to_list(),
        joined.get_column("obligor_id").fill_null("").to_list(), joined.get_column("principal_fen").to_list(),
        joined.get_column("interest_fen").to_list(),
        (joined.get_column("principal_fen") + (joined.get_column("interest_fen") if price_with_interest else 0))
        .to_list(),
    )
    return {
        "plan_code": plan_code,
        "business_date": business_date.isoformat(),
        "summary": summary,
        "delivery_list": {"lines": [line.as_dict() for line in delivery.lines],
                          "total_principal": format_yuan(delivery.principal_fen),
                          "total_price": format_yuan(delivery.price_fen), "sha256": delivery.digest()},
        "repurchase_instructions": [
            {"asset_id": r.asset_id, "reason": r.reason, "due_on": r.due_on.isoformat(),
             "principal": format_yuan(r.principal_fen), "interest": format_yuan(r.interest_fen),
             "amount": format_yuan(r.principal_fen + r.interest_fen), "received": format_yuan(r.received_fen),
             "settled_on": r.settled_on.isoformat() if r.settled_on else None} for r in repurchases],
        "verification": verification,
        "log_index": row.log_index,
    }


def _reverify(session: Session, plan_id: int, plan_code: str, day: date, row: DailyDayRow, bought: pl.DataFrame,
              events: pl.DataFrame, inputs: dict[str, pl.DataFrame], deal: Deal) -> dict[str, Any]:
    """Re-check a past day from stored facts: the delivery list digest, each bought asset's
    eligibility on the day's candidate data, and every concentration limit on the pool at the
    end of that day (balances rebuilt from later events)."""
    checks: dict[str, Any] = {}
    # 1. Delivery list from the stored purchase events vs the digest logged that day.
    joined = events.join(bought.select("asset_id", "obligor_id"), on="asset_id", how="left")
    summary = json.loads(row.result_json)
    with_interest = summary["purchased"]["price"] != summary["purchased"]["principal"]
    recomputed = delivery_list(
        plan_code, day, joined.get_column("asset_id").to_list(), joined.get_column("obligor_id").fill_null("")
        .to_list(), joined.get_column("principal_fen").to_list(), joined.get_column("interest_fen").to_list(),
        (joined.get_column("principal_fen") + (joined.get_column("interest_fen") if with_interest else 0)).to_list(),
    )
    checks["delivery_digest_matches"] = recomputed.digest() == row.delivery_sha256
    # 2. Eligibility of each bought asset on the candidate file of the day.
    candidates = inputs.get("candidates")
    spec = deal.revolving
    if candidates is not None and spec is not None and events.height:
        chosen = candidates.filter(pl.col("contract_id").is_in(events.get_column("asset_id").to_list()))
        pool_now = _pool_at_end_of(session, plan_id, day)
        _, table = asset_tables(pool_now, chosen, day)
        result = check_eligibility(table, spec.eligibility, as_of=day, plan_end=deal.dates.legal_maturity)
        failing = [table.code[i] for i in range(len(table)) if not result.eligible[i]]
        checks["bought_assets_eligible"] = not failing and chosen.height == events.height
        checks["ineligible_bought"] = failing
        pool_table, _ = asset_tables(pool_now, candidates.head(0), day)
        breaches = check_limits(pool_table, spec.concentration)
        checks["limit_breaches_at_end_of_day"] = [b.as_dict() for b in breaches]
    checks["ok"] = bool(checks["delivery_digest_matches"]) and checks.get("bought_assets_eligible", True) is not False
    return checks


def _pool_at_end_of(session: Session, plan_id: int, day: date) -> pl.DataFrame:
    """Pool assets held at the end of ``day`` with balances rebuilt: today's balance plus
    every principal reduction recorded after ``day``."""
    frame = _held_rows(session, plan_id, day)
    later = read_query(
        session,
        "SELECT asset_id, SUM(principal_fen) AS later_fen FROM daily_asset_events WHERE plan_id = :plan_id "
        "AND business_date > :day AND kind IN ('collection', 'liquidation', 'repurchase_received') GROUP BY asset_id",
        {"plan_id": plan_id, "day": day}, {"asset_id": pl.String(), "later_fen": pl.Int64()},
    )
    return frame.join(later, on="asset_id", how="left").with_columns(
        (pl.col("balance_fen") + pl.col("later_fen").fill_null(0)).alias("balance_fen")
    ).drop("later_fen").with_columns(pl.col("accrued_interest_fen").fill_null(0),
                                     pl.col("extension_count").fill_null(0))


def list_days(ctx: Context, plan_code: str, first: date | None = None, last: date | None = None) -> list[DailyDayRow]:
    ctx.require("view", plan_code)
    with read_transaction(ctx.engine) as session:
        plan = load_plan_row(session, plan_code)
        query = select(DailyDayRow).where(DailyDayRow.plan_id == plan.id)
        if first:
            query = query.where(DailyDayRow.business_date >= first)
        if last:
            query = query.where(DailyDayRow.business_date <= last)
        return list(session.execute(query.order_by(DailyDayRow.business_date)).scalars())


__all__ = ["DAILY_KINDS", "DayRun", "LoadResult", "list_days", "load_inputs", "run_day", "run_through", "show_day"]
