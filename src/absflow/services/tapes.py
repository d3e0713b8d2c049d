"""Loan tapes: validate (no database), import into a plan's pool (atomic, idempotent, logged),
and load the pool or the performance history as polars frames for analysis.

Import is one transaction: the tape is read and checked batch by batch and each clean
batch is bulk-written at once (COPY on PostgreSQL, batched ``executemany`` on SQLite), so
memory stays flat on files of any size. If any problem turns up anywhere, every problem is
reported and the transaction is rolled back: nothing is written. The batch record keeps
the file's SHA-256; importing the same bytes into the same plan again writes nothing and
returns the first import. Each import appends a ``tape.imported`` log entry carrying the
RFC 9162 root over the tape's records (``records_root``, docs/TLOG.md "Itemised lists").
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import psycopg
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from absflow.domain.issues import Conflict, Issue, Location, ValidationFailed
from absflow.domain.money import format_yuan
from absflow.services import bulk_hash
from absflow.services.context import Context
from absflow.services.log import append_event
from absflow.services.plans import load_plan_row
from absflow.services.tape_records import record_hashes
from absflow.store.db import is_postgresql, sqlite_execute_rows, transaction
from absflow.store.tapes import PerformanceRecordRow, PoolAssetRow, TapeBatchRow
from absflow.tape.mapping import TapeMapping, load_mapping
from absflow.tape.months import months_elapsed, months_remaining
from absflow.tape.readers import DEFAULT_BATCH_BYTES
from absflow.tape.schema import ASSET_KINDS, FieldKind, TapeKind, schema_for
from absflow.tape.validate import TapeReport, TapeRun, check_tape, fen_column, issue_json

#: pool_assets column ← canonical frame column, per asset type. Columns not listed stay null.
ASSET_COLUMNS: dict[TapeKind, dict[str, str]] = {
    TapeKind.CONSUMER_LOAN: {
        "asset_id": "loan_id", "obligor_id": "obligor_id", "balance_fen": "current_balance_fen",
        "original_principal_fen": "original_principal_fen", "rate": "interest_rate",
        "start_date": "origination_date", "maturity_date": "maturity_date",
        "original_term_months": "original_term_months", "remaining_term_months": "remaining_term_months",
        "amortization": "amortization", "status": "status", "days_past_due": "days_past_due", "region": "region",
        "industry": "industry", "grade": "grade", "purpose": "purpose",
    },
    TapeKind.MARGIN_LOAN: {
        "asset_id": "contract_id", "obligor_id": "client_id", "balance_fen": "principal_outstanding_fen",
        "rate": "financing_rate", "start_date": "start_date", "maturity_date": "due_date",
        "original_term_months": "original_term_months", "remaining_term_months": "remaining_term_months",
        "status": "status", "extension_count": "extension_count", "accrued_interest_fen": "accrued_interest_fen",
        "fees_fen": "fees_fen", "cash_balance_fen": "cash_balance_fen",
        "securities_market_value_fen": "securities_market_value_fen",
        "short_market_value_fen": "short_market_value_fen", "maintenance_ratio": "maintenance_ratio",
        "region": "region", "industry": "industry", "branch": "branch",
    },
    TapeKind.LEASE: {
        "asset_id": "lease_id", "obligor_id": "lessee_id", "balance_fen": "current_balance_fen",
        "original_principal_fen": "original_principal_fen", "rate": "interest_rate", "start_date": "start_date",
        "maturity_date": "maturity_date", "original_term_months": "original_term_months",
        "remaining_term_months": "remaining_term_months", "payment_frequency_months": "payment_frequency_months",
        "amortization": "amortization", "residual_value_fen": "residual_value_fen", "leased_asset": "leased_asset",
        "status": "status", "days_past_due": "days_past_due", "region": "region", "industry": "industry",
    },
    TapeKind.RECEIVABLE: {
        "asset_id": "receivable_id", "obligor_id": "debtor_id", "balance_fen": "current_balance_fen",
        "original_principal_fen": "face_amount_fen", "rate": "discount_rate", "start_date": "invoice_date",
        "maturity_date": "due_date", "original_term_months": "original_term_months",
        "remaining_term_months": "remaining_term_months", "status": "status", "days_past_due": "days_past_due",
        "region": "region", "industry": "industry", "creditor_id": "creditor_id",
    },
}
PERFORMANCE_COLUMNS = [
    "loan_id", "period", "begin_balance_fen", "scheduled_principal_fen", "prepaid_principal_fen",
    "defaulted_amount_fen", "recovery_fen", "end_balance_fen", "days_past_due", "status", "origination_date",
    "original_principal_fen", "source_row",
]
#: Common analysis columns every pool frame has, whatever the asset type.
COMMON_COLUMNS = ("asset_id", "obligor_id", "balance_fen", "rate", "remaining_term_months", "seasoning_months",
                  "region", "industry", "status")
SQLITE_BATCH = 50_000
#: SQLite page cache (KiB) while inserting SQLITE_BATCH rows or more (the connection's own setting returns after).
SQLITE_BULK_CACHE_KIB = 131_072


@dataclass
class ImportResult:
    """What an import did. ``already_imported``: these bytes were imported before; nothing written."""

    plan_code: str
    kind: TapeKind
    batch_id: int
    sha256: str
    rows: int
    cutoff: date
    file_name: str
    already_imported: bool = False
    totals_fen: dict[str, int] = field(default_factory=dict)
    log_index: int | None = None
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "valid": True, "rows": self.rows, "errors": [], "plan_code": self.plan_code, "kind": self.kind.value,
            "batch_id": self.batch_id, "sha256": self.sha256, "cutoff": self.cutoff.isoformat(),
            "file_name": self.file_name, "already_imported": self.already_imported,
            "totals": {k.removesuffix("_fen"): format_yuan(v) for k, v in sorted(self.totals_fen.items())},
            "log_index": self.log_index,
        }


class TapeRejected(ValidationFailed):
    """The tape has problems (all listed); nothing was imported. ``rows``: data rows read."""

    def __init__(self, report: TapeReport) -> None:
        super().__init__(report.issues, f"{len(report.issues)} problem(s) in the tape; nothing was imported")
        self.rows = report.rows


def resolve_mapping(mapping: TapeMapping | str | Path) -> TapeMapping:
    return mapping if isinstance(mapping, TapeMapping) else load_mapping(mapping)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def validate_tape(path: str | Path, mapping: TapeMapping | str | Path, *, cutoff: date | None = None,
                  keep_frame: bool = False, batch_bytes: int = DEFAULT_BATCH_BYTES) -> TapeReport:
    """Check a tape file against ``mapping`` (a TapeMapping or a YAML path). No database.

    Returns a report with every problem found (``report.valid`` when there are none).
    A bad mapping raises ValidationFailed (the tape cannot be read without one).
    """
    checked = resolve_mapping(mapping)
    return check_tape(path, checked, cutoff=cutoff, keep_frame=keep_frame, batch_bytes=batch_bytes)


def _plan_issue(code: str, message: str, value: str | None = None) -> ValidationFailed:
    return ValidationFailed([Issue(code, message, Location(field_path="plan"), value)])


def import_tape(ctx: Context, plan_code: str, path: str | Path, mapping: TapeMapping | str | Path, cutoff: date,
                *, batch_bytes: int = DEFAULT_BATCH_BYTES,
                progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Import an asset tape (into the plan's pool) or a performance tape, atomically.

    ``cutoff``: the date the tape's balances are as of; assets join the pool on it.
    ``progress(bytes_read_estimate, total_bytes)`` is called after each batch.
    Raises ValidationFailed (every problem; nothing written), NotFound, Conflict.
    """
    ctx.require("edit", plan_code)
    started = time.perf_counter()
    checked = resolve_mapping(mapping)
    kind = checked.asset_type
    source = Path(path)
    if not source.is_file():
        raise ValidationFailed([Issue("file_not_found", f"no file at {source}", Location(), str(source))])
    sha256 = file_sha256(source)
    total_bytes = source.stat().st_size
    now = ctx.now()
    with transaction(ctx.engine) as session:
        plan = load_plan_row(session, plan_code, for_update=True)
        if kind is not TapeKind.LOAN_PERFORMANCE and plan.asset_type != kind.value:
            raise _plan_issue("asset_type_mismatch", f"plan {plan_code} holds {plan.asset_type} assets; the mapping "
                              f"reads a {kind.value} tape", kind.value)
        existing = session.execute(
            select(TapeBatchRow).where(TapeBatchRow.plan_id == plan.id, TapeBatchRow.sha256 == sha256)
        ).scalar_one_or_none()
        if existing is not None:
            return ImportResult(
                plan_code=plan_code, kind=TapeKind(existing.kind), batch_id=existing.id, sha256=sha256,
                rows=existing.row_count, cutoff=existing.cutoff_date, file_name=existing.file_name,
                already_imported=True, totals_fen={k: int(v) for k, v in json.loads(existing.totals_json).items()},
                log_index=existing.log_index, seconds=time.perf_counter() - started,
            )
        batch = TapeBatchRow(
            plan_id=plan.id, kind=kind.value, sha256=sha256, file_name=source.name[:300], row_count=0,
            cutoff_date=cutoff, mapping_json=json.dumps(checked.as_dict(), ensure_ascii=False, sort_keys=True),
            totals_json="{}", imported_at=now,
        )
        session.add(batch)
        session.flush()
        run = TapeRun(source, checked, cutoff=cutoff, batch_bytes=batch_bytes)
        done_bytes = 0
        with RecordHashes() as leaves:
            try:
                for frame in run:
                    if run.ok:
                        _write(session, kind, frame, plan_id=plan.id, batch_id=batch.id, cutoff=cutoff,
                               leaves=leaves)
                    done_bytes = min(total_bytes, done_bytes + max(batch_bytes, 1))
                    if progress is not None:
                        progress(done_bytes, total_bytes)
            except (IntegrityError, sqlite3.IntegrityError, psycopg.IntegrityError) as exc:
                orig = exc.orig if isinstance(exc, IntegrityError) else exc
                detail = " ".join(str(orig).split())
                raise Conflict(
                    "some rows are already in a pool (an asset may be in one plan's pool at a time; a performance "
                    f"record once per loan and month); nothing was imported: {detail}"
                ) from None
            report = run.report(sha256=sha256)
            if not report.valid:
                raise TapeRejected(report)
            records_root = leaves.root()
        batch.row_count = report.rows
        batch.totals_json = json.dumps(report.totals_fen, sort_keys=True)
        batch.merkle_root = records_root.hex()
        index = append_event(
            session, entry_type="tape.imported", plan_code=plan_code, recorded_at=now, business_date=cutoff,
            payload={
                "batch_id": batch.id, "kind": kind.value, "sha256": sha256, "file_name": batch.file_name,
                "rows": report.rows, "cutoff": cutoff, "records_root": batch.merkle_root,
                "totals": {k.removesuffix("_fen"): format_yuan(v) for k, v in sorted(report.totals_fen.items())},
                "mapping": checked.as_dict(),
            },
        )
        batch.log_index = index
        session.flush()
        if progress is not None:
            progress(total_bytes, total_bytes)
        return ImportResult(
            plan_code=plan_code, kind=kind, batch_id=batch.id, sha256=sha256, rows=report.rows, cutoff=cutoff,
            file_name=batch.file_name, totals_fen=dict(report.totals_fen), log_index=index,
            seconds=time.perf_counter() - started,
        )


# --- bulk writing ----------------------------------------------------------------------

def asset_frame(kind: TapeKind, frame: pl.DataFrame) -> pl.DataFrame:
    """The pool_assets columns of a canonical batch that vary by row (named as the table's)."""
    exprs = []
    for target, canonical in ASSET_COLUMNS[kind].items():
        if canonical == "original_term_months" and kind in (TapeKind.MARGIN_LOAN, TapeKind.RECEIVABLE):
            start = "start_date" if kind is TapeKind.MARGIN_LOAN else "invoice_date"
            exprs.append(months_remaining(pl.col(start), pl.col("due_date")).cast(pl.Int32).alias(target))
        else:
            exprs.append(pl.col(canonical).alias(target))
    return frame.select(*exprs, pl.col("source_row"))


class RecordHashes:
    """The leaf hashes of a tape's records (tlog), batch by batch in file order, and their root.

    Where hashing holds no GIL (``bulk_hash.releases_gil``: the compiled backend, large batches)
    a batch is hashed in a worker thread while the caller writes it to the database; otherwise
    in line. Use as a context manager: leaving it waits for (or cancels) the worker.
    """

    def __init__(self) -> None:
        self._parts: list[Future[np.ndarray] | np.ndarray] = []
        self._worker: ThreadPoolExecutor | None = None

    def add(self, rows: pl.DataFrame, kind: TapeKind, dtypes: dict[str, pl.DataType]) -> None:
        if bulk_hash.releases_gil(rows.height):
            if self._worker is None:
                self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="absflow-record-hashes")
            self._parts.append(self._worker.submit(record_hashes, rows, kind.value, dtypes))
        else:
            self._parts.append(record_hashes(rows, kind.value, dtypes))

    def root(self) -> bytes:
        """RFC 9162 root over every record added (waits for the worker)."""
        parts = [part.result() if isinstance(part, Future) else part for part in self._parts]
        if not parts:
            return bulk_hash.EMPTY_ROOT
        return bulk_hash.tree_root(parts[0] if len(parts) == 1 else np.concatenate(parts))

    def __enter__(self) -> RecordHashes:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._worker is not None:
            self._worker.shutdown(wait=True, cancel_futures=True)


def _write(session: Session, kind: TapeKind, frame: pl.DataFrame, *, plan_id: int, batch_id: int,
           cutoff: date, leaves: RecordHashes) -> None:
    """Bulk-write one checked batch and add its records to ``leaves`` (hashed beside the write)."""
    constants: dict[str, int | str | date] = {"plan_id": plan_id, "batch_id": batch_id}
    if kind is TapeKind.LOAN_PERFORMANCE:
        rows = frame.select(PERFORMANCE_COLUMNS)
        leaves.add(rows, kind, PERF_DTYPES)
        bulk_insert(session, PerformanceRecordRow.__tablename__, rows, constants)
        return
    rows = asset_frame(kind, frame)
    leaves.add(rows, kind, POOL_DTYPES)
    insert_pool_rows(session, plan_id, rows, {"batch_id": batch_id, "asset_type": kind.value, "cutoff_date": cutoff,
                                              "acquired_on": cutoff})


def _sql_literal(value: int | str | date) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str | date):
        raise TypeError(f"no SQL literal for {value!r}")
    if isinstance(value, int):
        return str(value)
    text = value.isoformat() if isinstance(value, date) else value
    return "'" + text.replace("'", "''") + "'"


def bulk_insert(session: Session, table: str, rows: pl.DataFrame,
                constants: dict[str, int | str | date] | None = None) -> None:
    """Append ``rows`` (columns named as the table's) plus ``constants`` (the same value on
    every row) in the session's transaction: COPY … FROM STDIN (CSV) on PostgreSQL, multi-row
    INSERTs on SQLite (:func:`sqlite_execute_rows`; constants as literals, dates as ISO text as
    SQLAlchemy stores them)."""
    if rows.height == 0:
        return
    fixed = constants or {}
    connection = session.connection()
    raw: Any = connection.connection.driver_connection
    if is_postgresql(connection.engine):
        full = rows.with_columns(pl.lit(v).alias(k) for k, v in fixed.items()) if fixed else rows
        names = ", ".join(f'"{c}"' for c in full.columns)
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT csv)") as copy:
            step = 200_000
            for offset in range(0, full.height, step):
                buffer = io.BytesIO()
                full.slice(offset, step).write_csv(buffer, include_header=False, null_value="")
                copy.write(buffer.getvalue())
        return
    text_rows = rows.with_columns(pl.col(pl.Date).cast(pl.String))
    names = ", ".join(f'"{c}"' for c in (*fixed, *rows.columns))
    values = ", ".join([*(_sql_literal(v) for v in fixed.values()), *("?" for _ in rows.columns)])
    head = f"INSERT INTO {table} ({names}) VALUES "
    cursor = raw.cursor()
    # A large insert gets a larger page cache for its duration: an index whose keys arrive out
    # of order (a tape not sorted by contract id) otherwise spills and re-reads pages on every
    # few rows (300,000 shuffled rows: 5.1 s → 3.6 s of CPU; sorted ones are unaffected).
    previous = cursor.execute("PRAGMA cache_size").fetchone()[0] if rows.height >= SQLITE_BATCH else None
    try:
        if previous is not None:
            cursor.execute(f"PRAGMA cache_size = -{SQLITE_BULK_CACHE_KIB}")
        for offset in range(0, text_rows.height, SQLITE_BATCH):
            sqlite_execute_rows(cursor, head, f"({values})", text_rows.slice(offset, SQLITE_BATCH).rows())
    finally:
        if previous is not None:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")
        cursor.close()


# --- loading frames ----------------------------------------------------------------------

def read_query(session: Session, sql: str, params: dict[str, Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Run a SELECT fast: COPY … TO STDOUT on PostgreSQL, a raw cursor on SQLite.

    ``sql`` names parameters as ``:name``; values are ints or dates only (bound as
    literals for COPY, which takes no parameters; as ``?`` on SQLite).
    """
    connection = session.connection()
    raw: Any = connection.connection.driver_connection
    names = _PARAM.findall(sql)
    text_schema = {k: (pl.String() if v == pl.Date else v) for k, v in schema.items()}
    if is_postgresql(connection.engine):
        bound = _PARAM.sub(lambda m: _pg_literal(params[m.group(1)]), sql)
        buffer = io.BytesIO()
        with raw.cursor() as cursor, cursor.copy(f"COPY ({bound}) TO STDOUT (FORMAT csv)") as copy:
            for block in copy:
                buffer.write(block)
        buffer.seek(0)
        if buffer.getbuffer().nbytes == 0:
            frame = pl.DataFrame(schema=text_schema)
        else:
            frame = pl.read_csv(buffer, has_header=False, schema=text_schema)
    else:
        cursor = raw.cursor()
        try:
            cursor.execute(_PARAM.sub("?", sql), [_sqlite_value(params[n]) for n in names])
            rows = cursor.fetchall()
        finally:
            cursor.close()
        frame = pl.DataFrame(rows, schema=text_schema, orient="row")
    return frame.with_columns([pl.col(k).str.to_date("%Y-%m-%d") for k, v in schema.items() if v == pl.Date])


_PARAM = re.compile(r":(\w+)")


def _pg_literal(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def _sqlite_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


POOL_DTYPES: dict[str, pl.DataType] = {
    "id": pl.Int64(), "batch_id": pl.Int64(), "asset_type": pl.String(), "asset_id": pl.String(),
    "obligor_id": pl.String(), "balance_fen": pl.Int64(), "original_principal_fen": pl.Int64(),
    "rate": pl.Float64(), "start_date": pl.Date(), "maturity_date": pl.Date(), "original_term_months": pl.Int64(),
    "remaining_term_months": pl.Int64(), "amortization": pl.String(), "status": pl.String(),
    "days_past_due": pl.Int64(), "region": pl.String(), "industry": pl.String(), "grade": pl.String(),
    "purpose": pl.String(), "extension_count": pl.Int64(), "accrued_interest_fen": pl.Int64(),
    "fees_fen": pl.Int64(), "cash_balance_fen": pl.Int64(), "securities_market_value_fen": pl.Int64(),
    "short_market_value_fen": pl.Int64(), "maintenance_ratio": pl.Float64(), "branch": pl.String(),
    "payment_frequency_months": pl.Int64(), "residual_value_fen": pl.Int64(), "leased_asset": pl.String(),
    "creditor_id": pl.String(), "cutoff_date": pl.Date(), "source_row": pl.Int64(), "acquired_on": pl.Date(),
    "removed_on": pl.Date(), "removal_reason": pl.String(),
}
#: Columns whose current value for an asset in a pool is its ``pool_asset_states`` row's, and for
#: an asset that left, its ``pool_asset_removals`` row's (the ``pool_assets`` row keeps the values
#: the asset came with; migration tape_0006).
STATE_COLUMNS = ("balance_fen", "accrued_interest_fen", "cutoff_date", "maturity_date", "extension_count", "status")
#: Columns of a removal row only (null for an asset held now).
REMOVAL_COLUMNS = ("removed_on", "removal_reason")


def pool_rows_sql(columns: Sequence[str], where: str = "", *, as_of: bool = False) -> str:
    """SELECT of ``columns`` of the pool rows of plan ``:plan_id`` (``pool_assets`` as ``p``) with
    their membership: the assets held now (their state rows, ``s``), or with ``as_of`` those held
    at the end of day ``:as_of`` (acquired by then and held now, or removed after it: their
    removal rows, ``s``). ``STATE_COLUMNS`` and ``REMOVAL_COLUMNS`` come from ``s``, the others
    from ``p``; ``where``: further conditions naming ``p.<column>`` or ``s.<column>`` (columns
    both tables have). Unordered. Held now: one pass over the state rows, each finding its pool
    row by id."""
    def part(table: str, removed: bool, condition: str) -> str:
        picked = ", ".join(f"s.{c}" if c in STATE_COLUMNS or (removed and c in REMOVAL_COLUMNS)
                           else f"NULL AS {c}" if c in REMOVAL_COLUMNS else f"p.{c}" for c in columns)
        return (f"SELECT {picked} FROM {table} s JOIN pool_assets p ON p.id = s.pool_asset_id "
                f"WHERE s.plan_id = :plan_id{condition}" + (f" AND {where}" if where else ""))
    if not as_of:
        return part("pool_asset_states", False, "")
    return (part("pool_asset_states", False, " AND p.acquired_on <= :as_of") + " UNION ALL "
            + part("pool_asset_removals", True, " AND s.removed_on > :as_of AND p.acquired_on <= :as_of"))


def insert_pool_rows(session: Session, plan_id: int, rows: pl.DataFrame,
                     constants: dict[str, int | str | date]) -> None:
    """Assets entering plan ``plan_id``'s pool: ``rows`` plus ``constants`` (columns of
    ``pool_assets``; ``asset_type``, ``cutoff_date`` and ``acquired_on`` among them, ``batch_id``
    for a tape's rows) appended to ``pool_assets``, and each asset's state row (its values as it
    comes). An asset another pool holds (or this one) breaks the state table's key:
    IntegrityError, and the caller's transaction is to be rolled back. The caller holds the
    plan (its row or its daily-run lock), so the plan's new rows of this batch (or with no batch)
    beyond the largest id before are this call's, whatever another transaction commits meanwhile."""
    before = session.execute(text("SELECT COALESCE(MAX(id), 0) FROM pool_assets")).scalar_one()
    bulk_insert(session, PoolAssetRow.__tablename__, rows, {**constants, "plan_id": plan_id})
    values = ", ".join(STATE_COLUMNS)
    batch = constants.get("batch_id")
    session.execute(text(f"INSERT INTO pool_asset_states (asset_type, asset_id, pool_asset_id, plan_id, {values}) "
                         f"SELECT asset_type, asset_id, id, plan_id, {values} FROM pool_assets "
                         # "+plan_id": the new rows by their ids, not the plan's every row by its index
                         "WHERE id > :before AND +plan_id = :plan_id AND batch_id "
                         + ("IS NULL" if batch is None else "= :batch") + " ORDER BY asset_type, asset_id"),
                    {"before": before, "plan_id": plan_id, **({} if batch is None else {"batch": batch})})


_MEMBERSHIP = ("id", "batch_id", "asset_type", "cutoff_date", "source_row", "acquired_on", "removed_on",
               "removal_reason")
_ALWAYS = ("asset_id", "obligor_id", "balance_fen", "original_principal_fen", "rate", "start_date",
           "maturity_date", "original_term_months", "remaining_term_months", "status", "region", "industry")


def pool_frame_columns(kind: TapeKind) -> list[str]:
    """Columns of ``load_pool_frame`` for plans holding ``kind`` assets."""
    canonical = [fen_column(f) for f in schema_for(kind).fields]
    return list(dict.fromkeys([*canonical, *COMMON_COLUMNS, *_ALWAYS, *_MEMBERSHIP]))


def load_pool_frame(ctx: Context, plan_code: str, as_of: date | None = None) -> pl.DataFrame:
    """The assets in the plan's pool as a polars frame, one row per asset.

    ``as_of`` None: the current pool (assets not removed); remaining terms and seasoning
    as of each asset's cut-off date. With ``as_of``: assets acquired on or before it and
    not removed by then; remaining term and seasoning at ``as_of``.

    Columns: the asset type's canonical fields (money as Int64 ``…_fen``, rates Float64
    fractions, dates Date), the common analysis columns ``asset_id, obligor_id,
    balance_fen, rate, remaining_term_months, seasoning_months, region, industry,
    status``, ``start_date, maturity_date, original_term_months,
    original_principal_fen``, and pool membership ``id, batch_id, asset_type,
    cutoff_date, source_row, acquired_on, removed_on, removal_reason``.
    """
    ctx.require("view", plan_code)
    with transaction(ctx.engine) as session:
        plan = load_plan_row(session, plan_code)
        kind = TapeKind(plan.asset_type)
        stored = [c for c in POOL_DTYPES if c in set(ASSET_COLUMNS[kind]) | set(_ALWAYS) | set(_MEMBERSHIP)]
        params: dict[str, Any] = {"plan_id": plan.id, **({} if as_of is None else {"as_of": as_of})}
        # Sorted here, not by the database: PostgreSQL sorted a million rows on disk (work_mem).
        sql = pool_rows_sql(stored, as_of=as_of is not None)
        frame = read_query(session, sql, params, {c: POOL_DTYPES[c] for c in stored}).sort("id")
    return _pool_view(kind, frame, as_of)


def tape_pool_frame(path: str | Path, mapping: TapeMapping | str | Path, cutoff: date, *,
                    where: str = "tape") -> pl.DataFrame:
    """An asset tape file checked by the tape checker (no database) as the frame ``load_pool_frame`` gives.

    Every problem of the tape (row, column, value) or the mapping is raised at once as
    ValidationFailed, each issue's field path prefixed with ``where`` (e.g. ``pool.tape_file``).
    """
    try:
        report = validate_tape(path, mapping, cutoff=cutoff, keep_frame=True)
    except ValidationFailed as exc:
        raise ValidationFailed(_located(exc.issues, where), exc.message) from None
    if not report.valid:
        raise ValidationFailed(_located(report.issues, where),
                               f"{len(report.issues)} problem(s) in the tape {path}; nothing was run")
    if report.kind not in ASSET_KINDS or report.frame is None:
        raise ValidationFailed([Issue("not_an_asset_tape", f"a {report.kind.value} tape is not a pool",
                                      Location(field_path=where), str(path))])
    frame = asset_frame(report.kind, report.frame).with_columns(
        pl.int_range(1, report.frame.height + 1, dtype=pl.Int64).alias("id"), pl.lit(0, dtype=pl.Int64).alias(
            "batch_id"), pl.lit(report.kind.value).alias("asset_type"), pl.lit(cutoff).alias("cutoff_date"),
        pl.lit(cutoff).alias("acquired_on"), pl.lit(None, dtype=pl.Date).alias("removed_on"),
        pl.lit(None, dtype=pl.String).alias("removal_reason"))
    return _pool_view(report.kind, frame, None)


def _located(issues: list[Issue], where: str) -> list[Issue]:
    return [Issue(i.code, i.message, Location(i.location.row, i.location.column,
                                              f"{where}: {i.location.field_path}" if i.location.field_path else where),
                  i.value) for i in issues]


def _pool_view(kind: TapeKind, frame: pl.DataFrame, as_of: date | None) -> pl.DataFrame:
    at = pl.col("cutoff_date") if as_of is None else pl.lit(as_of, dtype=pl.Date)
    if as_of is None:
        remaining = pl.col("remaining_term_months")
    else:
        shifted = (pl.col("remaining_term_months") - months_elapsed(pl.col("cutoff_date"), at)).clip(lower_bound=0)
        remaining = pl.when(pl.col("maturity_date").is_not_null()).then(
            months_remaining(at, pl.col("maturity_date"))).otherwise(shifted)
    frame = frame.with_columns(
        remaining.cast(pl.Int64).alias("remaining_term_months"),
        months_elapsed(pl.col("start_date"), at).alias("seasoning_months"),
    )
    canonical = []
    for target, source in ASSET_COLUMNS[kind].items():
        if source != target and source not in frame.columns:
            canonical.append(pl.col(target).alias(source))
    frame = frame.with_columns(canonical)
    missing = [pl.lit(None, dtype=_dtype_of(kind, c)).alias(c) for c in pool_frame_columns(kind)
               if c not in frame.columns]
    if missing:
        frame = frame.with_columns(missing)
    return frame.select(pool_frame_columns(kind))


def _dtype_of(kind: TapeKind, column: str) -> pl.DataType:
    for spec in schema_for(kind).fields:
        if fen_column(spec) == column:
            return {FieldKind.MONEY: pl.Int64(), FieldKind.RATE: pl.Float64(), FieldKind.RATIO: pl.Float64(),
                    FieldKind.INTEGER: pl.Int64(), FieldKind.DATE: pl.Date()}.get(spec.kind, pl.String())
    return POOL_DTYPES.get(column, pl.String())


PERF_DTYPES: dict[str, pl.DataType] = {
    "batch_id": pl.Int64(), "loan_id": pl.String(), "period": pl.Date(), "begin_balance_fen": pl.Int64(),
    "scheduled_principal_fen": pl.Int64(), "prepaid_principal_fen": pl.Int64(), "defaulted_amount_fen": pl.Int64(),
    "recovery_fen": pl.Int64(), "end_balance_fen": pl.Int64(), "days_past_due": pl.Int64(), "status": pl.String(),
    "origination_date": pl.Date(), "original_principal_fen": pl.Int64(), "source_row": pl.Int64(),
}


def load_performance_frame(ctx: Context, plan_code: str) -> pl.DataFrame:
    """The plan's monthly performance history, one row per loan per month, ordered by loan and period.

    Columns: loan_id, period (Date, 1st of the month), begin_balance_fen,
    scheduled_principal_fen, prepaid_principal_fen, defaulted_amount_fen, recovery_fen,
    end_balance_fen, days_past_due, status, origination_date, original_principal_fen
    (both filled from the pool by loan id where the history tape lacks them), vintage
    (Date, month of origination), batch_id, source_row.
    """
    ctx.require("view", plan_code)
    with transaction(ctx.engine) as session:
        plan = load_plan_row(session, plan_code)
        columns = list(PERF_DTYPES)
        sql = f"SELECT {', '.join(columns)} FROM performance_records WHERE plan_id = :plan_id ORDER BY loan_id, period"
        frame = read_query(session, sql, {"plan_id": plan.id}, PERF_DTYPES)
        if frame.height and (frame.get_column("origination_date").null_count()
                             or frame.get_column("original_principal_fen").null_count()):
            pool_sql = ("SELECT asset_id, start_date, original_principal_fen FROM pool_assets "
                        "WHERE plan_id = :plan_id ORDER BY id")
            pool = read_query(session, pool_sql, {"plan_id": plan.id},
                               {"asset_id": pl.String(), "start_date": pl.Date(),
                                "original_principal_fen": pl.Int64()})
            pool = pool.unique("asset_id", keep="last").rename(
                {"asset_id": "loan_id", "start_date": "pool_origination_date",
                 "original_principal_fen": "pool_original_principal_fen"})
            frame = frame.join(pool, on="loan_id", how="left").with_columns(
                pl.col("origination_date").fill_null(pl.col("pool_origination_date")),
                pl.col("original_principal_fen").fill_null(pl.col("pool_original_principal_fen")),
            ).drop("pool_origination_date", "pool_original_principal_fen")
    return frame.with_columns(pl.col("origination_date").dt.month_start().alias("vintage"))


def list_batches(ctx: Context, plan_code: str) -> list[dict[str, Any]]:
    """The plan's imported tapes, oldest first (money totals as decimal strings in yuan)."""
    ctx.require("view", plan_code)
    with transaction(ctx.engine) as session:
        plan = load_plan_row(session, plan_code)
        rows = session.execute(
            select(TapeBatchRow).where(TapeBatchRow.plan_id == plan.id).order_by(TapeBatchRow.id)
        ).scalars().all()
        return [
            {"batch_id": r.id, "kind": r.kind, "sha256": r.sha256, "file_name": r.file_name, "rows": r.row_count,
             "cutoff": r.cutoff_date.isoformat(), "imported_at": r.imported_at.isoformat(),
             "totals": {k.removesuffix("_fen"): format_yuan(int(v)) for k, v in json.loads(r.totals_json).items()},
             "log_index": r.log_index}
            for r in rows
        ]


__all__ = [
    "ImportResult", "TapeRejected", "TapeReport", "import_tape", "issue_json", "list_batches",
    "load_performance_frame", "load_pool_frame", "pool_frame_columns", "validate_tape",
]
