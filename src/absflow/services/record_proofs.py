"""Proof that a loan record is in the tape it was imported with (``absflow log record-proof``).

``tape.imported`` logs ``records_root``, the RFC 9162 root over the tape's records in file
order (absflow.services.tape_records). A proof rebuilds every record's leaf — from the
stored rows while they are as imported, else from the imported file itself (checked against
the SHA-256 the entry logs) — and exports the record, its inclusion proof in that root and
the entry's inclusion proof in a signed checkpoint, for ``absflow verify``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import polars as pl
from sqlalchemy import Table, select

from absflow.domain.issues import Conflict, Issue, Location, NotFound, ValidationFailed
from absflow.services import tapes as tape_service
from absflow.services import tlog as tlog_service
from absflow.services.context import Context
from absflow.services.plans import load_plan_row
from absflow.services.tape_records import record_leaves, record_texts
from absflow.store.db import read_transaction
from absflow.store.tapes import PerformanceRecordRow, PoolAssetRow, TapeBatchRow
from absflow.tape.mapping import parse_mapping
from absflow.tape.schema import TapeKind
from absflow.tape.validate import TapeRun
from absflow.tlog.itemised import RECORDS_LIST
from absflow.tlog.merkle import inclusion_proof, root


def _layout(kind: TapeKind) -> tuple[Table, list[str], dict[str, pl.DataType], str]:
    """(table, written columns, their dtypes, key column) of a tape kind's records."""
    if kind is TapeKind.LOAN_PERFORMANCE:
        columns = [c for c in tape_service.PERFORMANCE_COLUMNS if c != "source_row"]
        return cast(Table, PerformanceRecordRow.__table__), columns, tape_service.PERF_DTYPES, "loan_id"
    columns = list(tape_service.ASSET_COLUMNS[kind])
    return cast(Table, PoolAssetRow.__table__), columns, tape_service.POOL_DTYPES, "asset_id"


def _stored_frame(session: Any, kind: TapeKind, batch_id: int) -> pl.DataFrame:
    table, columns, dtypes, _ = _layout(kind)
    rows = session.execute(select(*[table.c[c] for c in columns]).where(table.c.batch_id == batch_id)
                           .order_by(table.c.id)).all()
    return pl.DataFrame([tuple(r) for r in rows], schema={c: dtypes[c] for c in columns}, orient="row")


def _tape_issue(code: str, message: str, path: Path) -> ValidationFailed:
    return ValidationFailed([Issue(code, message, Location(field_path="tape"), str(path))], message)


def _file_frame(path: Path, batch: TapeBatchRow, kind: TapeKind) -> pl.DataFrame:
    """The records as the import wrote them, re-read from the imported file."""
    digest = tape_service.file_sha256(path)
    if digest != batch.sha256:
        raise _tape_issue("tape_mismatch", f"{path} has SHA-256 {digest}; tape batch {batch.id} was imported "
                          f"from a file with SHA-256 {batch.sha256}", path)
    mapping = parse_mapping(json.loads(batch.mapping_json))
    run = TapeRun(path, mapping, cutoff=batch.cutoff_date)
    frames = []
    for frame in run:
        if kind is TapeKind.LOAN_PERFORMANCE:
            frames.append(frame.select(tape_service.PERFORMANCE_COLUMNS))
        else:
            frames.append(tape_service.asset_frame(kind, frame))
    if not run.ok or not frames:
        raise _tape_issue("tape_unreadable", f"{path} no longer reads as it was imported", path)
    _, columns, dtypes, _ = _layout(kind)
    return pl.concat(frames).select([pl.col(c).cast(dtypes[c]) for c in columns])


def record_bundle(ctx: Context, plan_code: str, batch_id: int, record_id: str,
                  tape: Path | None = None) -> dict[str, Any]:
    """A bundle proving the record(s) of ``record_id`` are in tape batch ``batch_id`` as imported."""
    ctx.require("download", plan_code)
    with read_transaction(ctx.engine) as session:
        plan = load_plan_row(session, plan_code)
        batch = session.get(TapeBatchRow, batch_id)
        if batch is None or batch.plan_id != plan.id:
            raise NotFound(f"plan {plan_code} has no tape batch {batch_id}")
        if batch.merkle_root is None or batch.log_index is None:
            raise NotFound(f"tape batch {batch_id} was imported before tapes logged their records' root")
        kind = TapeKind(batch.kind)
        frame = _file_frame(tape, batch, kind) if tape is not None else _stored_frame(session, kind, batch_id)
        _, _, dtypes, key = _layout(kind)
        leaves = record_leaves(frame, kind.value, dtypes)
        if root(leaves).hex() != batch.merkle_root:
            if tape is not None:
                raise Conflict(f"the records read from {tape} do not give the root logged for batch {batch_id}")
            raise Conflict(f"records of tape batch {batch_id} changed since the import (pool rows are written "
                           "once: changed outside absflow?); give the imported file with --tape to prove from it")
        positions = [i for i, value in enumerate(frame.get_column(key).to_list()) if value == record_id]
        if not positions:
            raise NotFound(f"tape batch {batch_id} has no record {record_id!r}")
        log_index = batch.log_index
    items = []
    for i in positions:
        text = record_texts(frame.slice(i, 1), kind.value, dtypes)[0]
        items.append({"entry": log_index, "list": RECORDS_LIST, "index": i, "body": text,
                      "proof": [p.hex() for p in inclusion_proof(i, leaves)]})
    return tlog_service.entries_bundle(ctx, [log_index], items=items)
