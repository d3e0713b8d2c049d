"""Importing tapes into a plan's pool: atomic, idempotent, logged; loading frames back (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select

from absflow.domain.issues import Conflict, ValidationFailed
from absflow.services import plans, tapes
from absflow.services.context import Context
from absflow.store.db import transaction
from absflow.store.log import LogEntryRow
from absflow.store.tapes import PoolAssetRow, TapeBatchRow
from absflow.tape.mapping import default_mapping
from absflow.tape.schema import TapeKind
from absflow.tlog.entry import canonical_json

CUTOFF = date(2026, 3, 31)
MARGIN = default_mapping("margin_loan")


def _counts(ctx: Context) -> tuple[int, int, int]:
    with transaction(ctx.engine) as session:
        return (
            session.execute(select(func.count()).select_from(PoolAssetRow)).scalar_one(),
            session.execute(select(func.count()).select_from(TapeBatchRow)).scalar_one(),
            session.execute(select(func.count()).select_from(LogEntryRow)
                            .where(LogEntryRow.entry_type == "tape.imported")).scalar_one(),
        )


def _plan(ctx: Context, asset_type: str = "margin_loan") -> str:
    return plans.create_plan(ctx, name="测试计划", asset_type=asset_type).code


def test_import_writes_pool_batch_and_log_entry(ctx: Context, margin_csv: Callable[..., Path]) -> None:
    code = _plan(ctx)
    result = tapes.import_tape(ctx, code, margin_csv(), MARGIN, CUTOFF)
    assert (result.rows, result.already_imported) == (4, False)
    assert result.totals_fen["principal_outstanding_fen"] == 25_000_050  # 250000.50 yuan
    assert _counts(ctx) == (4, 1, 1)
    frame = tapes.load_pool_frame(ctx, code)
    assert frame.height == 4
    assert frame.get_column("principal_outstanding_fen").to_list() == [10_000_050, 5_000_000, 8_000_000, 2_000_000]
    assert frame.get_column("balance_fen").to_list() == frame.get_column("principal_outstanding_fen").to_list()
    assert frame.schema["balance_fen"] == pl.Int64 and frame.schema["rate"] == pl.Float64
    assert frame.schema["start_date"] == pl.Date and frame.schema["due_date"] == pl.Date
    m1 = frame.row(0, named=True)
    # (1000 + 250000) / 100000.50, derived at import
    assert m1["maintenance_ratio"] == pytest.approx(251000 / 100000.50)
    assert (m1["asset_id"], m1["obligor_id"], m1["region"], m1["status"]) == ("M1", "C1", "广东", "performing")
    # cut-off 2026-03-31 → due 2026-07-05: payment dates 04-05, 05-05, 06-05, 07-05
    assert m1["remaining_term_months"] == 4
    assert m1["seasoning_months"] == 2  # 2026-01-05 → 2026-03-31
    assert m1["acquired_on"] == CUTOFF and m1["removed_on"] is None
    with transaction(ctx.engine) as session:
        entry = session.execute(select(LogEntryRow).where(LogEntryRow.entry_type == "tape.imported")).scalar_one()
        body = entry.body
    assert result.sha256.encode() in body and b'"rows":4' in body
    assert b'"principal_outstanding":"250000.50"' in body
    assert canonical_json({"x": 1})  # payload went through canonical JSON (no floats)


def test_same_file_twice_imports_nothing_new(ctx: Context, margin_csv: Callable[..., Path]) -> None:
    code = _plan(ctx)
    path = margin_csv()
    first = tapes.import_tape(ctx, code, path, MARGIN, CUTOFF)
    again = tapes.import_tape(ctx, code, path, MARGIN, CUTOFF)
    assert again.already_imported and again.batch_id == first.batch_id and again.rows == 4
    assert _counts(ctx) == (4, 1, 1)


def test_bad_tape_writes_nothing(ctx: Context, margin_csv: Callable[..., Path], margin_rows: list[str]) -> None:
    code = _plan(ctx)
    rows = [*[r.replace("M", "N") for r in margin_rows], "N9,C9,-1,0.08,2026-01-05,2026-07-05,performing,1,0,广东"]
    with pytest.raises(ValidationFailed) as failed:
        tapes.import_tape(ctx, code, margin_csv(rows), MARGIN, CUTOFF)
    assert [(i.location.row, i.code) for i in failed.value.issues] == [(6, "negative")]
    assert _counts(ctx) == (0, 0, 0)


def test_streaming_import_with_small_batches_fails_atomically(ctx: Context, margin_csv: Callable[..., Path]) -> None:
    """The huge-file path: many small batches; a bad row in the last batch leaves nothing behind."""
    code = _plan(ctx)
    rows = [f"S{i},C{i % 7},{1000 + i},0.08,2026-01-05,2026-07-05,performing,5000,0,广东" for i in range(300)]
    good = margin_csv(rows, name="good.csv")
    result = tapes.import_tape(ctx, code, good, MARGIN, CUTOFF, batch_bytes=512)
    assert result.rows == 300
    frame = tapes.load_pool_frame(ctx, code)
    assert frame.height == 300 and frame.get_column("source_row").to_list() == list(range(2, 302))
    code2 = _plan(ctx)
    bad_rows = [r.replace("S", "T", 1) for r in rows]
    bad_rows[-1] = bad_rows[-1].replace("2026-07-05", "2025-07-05")
    with pytest.raises(ValidationFailed) as failed:
        tapes.import_tape(ctx, code2, margin_csv(bad_rows, name="bad.csv"), MARGIN, CUTOFF, batch_bytes=512)
    assert [(i.location.row, i.code) for i in failed.value.issues] == [(301, "due_before_start")]
    assert tapes.load_pool_frame(ctx, code2).height == 0
    assert _counts(ctx) == (300, 1, 1)


def test_hashing_beside_the_write_and_bulk_settings_leave_nothing_behind(
        ctx: Context, margin_csv: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Large-tape paths on small tapes: records hashed in a worker thread beside the write, SQLite's
    larger page cache while inserting. A rejected or conflicting import still writes nothing, and
    neither a thread nor the cache setting outlives an import."""
    from sqlalchemy import text

    from absflow.services import bulk_hash

    monkeypatch.setattr(bulk_hash, "COMPILED_FROM", 1)
    monkeypatch.setattr(tapes, "SQLITE_BATCH", 7)
    with ctx.engine.connect() as conn:
        cache = conn.exec_driver_sql("PRAGMA cache_size").scalar() if ctx.engine.dialect.name == "sqlite" else None
    rows = [f"H{i},C{i % 7},{1000 + i},0.08,2026-01-05,2026-07-05,performing,5000,0,广东" for i in range(300)]
    code = _plan(ctx)
    result = tapes.import_tape(ctx, code, margin_csv(rows, name="good.csv"), MARGIN, CUTOFF, batch_bytes=2048)
    assert result.rows == 300 and tapes.load_pool_frame(ctx, code).height == 300
    bad_rows = [r.replace("H", "J", 1) for r in rows]
    bad_rows[-1] = bad_rows[-1].replace("2026-07-05", "2025-07-05")
    with pytest.raises(ValidationFailed):
        tapes.import_tape(ctx, _plan(ctx), margin_csv(bad_rows, name="bad.csv"), MARGIN, CUTOFF, batch_bytes=2048)
    with pytest.raises(Conflict):  # the same assets into a second pool, found in a later batch
        tapes.import_tape(ctx, _plan(ctx), margin_csv([r.replace("H", "K", 1) for r in rows[:200]] + rows[200:],
                                                      name="taken.csv"), MARGIN, CUTOFF, batch_bytes=2048)
    assert _counts(ctx) == (300, 1, 1)
    assert not [t for t in threading.enumerate() if t.name.startswith("absflow-record-hashes")]
    if cache is not None:
        with ctx.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == cache
    with ctx.engine.connect() as conn:
        stored = conn.execute(text("SELECT merkle_root FROM tape_batches WHERE id = :b"),
                              {"b": result.batch_id}).scalar_one()
    monkeypatch.setattr(bulk_hash, "COMPILED_FROM", 10**9)  # the same root, hashed in line
    report = tapes.validate_tape(margin_csv(rows, name="good.csv"), MARGIN, cutoff=CUTOFF, keep_frame=True)
    assert report.frame is not None
    with tapes.RecordHashes() as leaves:
        leaves.add(tapes.asset_frame(TapeKind.MARGIN_LOAN, report.frame), TapeKind.MARGIN_LOAN, tapes.POOL_DTYPES)
        assert leaves.root().hex() == stored


def test_asset_in_one_pool_at_a_time(ctx: Context, margin_csv: Callable[..., Path], margin_rows: list[str]) -> None:
    first, second = _plan(ctx), _plan(ctx)
    tapes.import_tape(ctx, first, margin_csv(), MARGIN, CUTOFF)
    other = margin_csv(name="other.csv", rows=[*margin_rows, "M5,C5,1,0.08,2026-01-05,2026-07-05,performing,5,0,广东"])
    with pytest.raises(Conflict):
        tapes.import_tape(ctx, second, other, MARGIN, CUTOFF)
    assert tapes.load_pool_frame(ctx, second).height == 0
    assert _counts(ctx) == (4, 1, 1)


def test_asset_type_must_match_plan(ctx: Context, margin_csv: Callable[..., Path]) -> None:
    code = _plan(ctx, "consumer_loan")
    with pytest.raises(ValidationFailed) as failed:
        tapes.import_tape(ctx, code, margin_csv(), MARGIN, CUTOFF)
    assert failed.value.issues[0].code == "asset_type_mismatch"


def test_consumer_pool_frame_and_as_of(ctx: Context, consumer_csv: Callable[..., Path]) -> None:
    code = _plan(ctx, "consumer_loan")
    tapes.import_tape(ctx, code, consumer_csv(), default_mapping("consumer_loan"), CUTOFF)
    frame = tapes.load_pool_frame(ctx, code)
    l1 = frame.row(0, named=True)
    assert l1["maturity_date"] == date(2026, 10, 15)  # origination + 12 months
    assert l1["remaining_term_months"] == 7  # 04-15 … 10-15
    assert l1["amortization"] == "level_payment"
    assert l1["current_balance_fen"] == 800_000 and l1["original_principal_fen"] == 1_200_000
    later = tapes.load_pool_frame(ctx, code, as_of=date(2026, 6, 30))
    assert later.row(0, named=True)["remaining_term_months"] == 4
    assert later.row(0, named=True)["seasoning_months"] == 8
    assert tapes.load_pool_frame(ctx, code, as_of=date(2026, 3, 30)).height == 0  # not yet acquired


def test_performance_history_import_and_vintage(ctx: Context, tmp_path: Path,
                                                consumer_csv: Callable[..., Path]) -> None:
    code = _plan(ctx, "consumer_loan")
    tapes.import_tape(ctx, code, consumer_csv(), default_mapping("consumer_loan"), CUTOFF)
    history = tmp_path / "perf.csv"
    history.write_text(
        "loan_id,period,begin_balance,scheduled_principal,prepaid_principal,defaulted_amount,recovery,"
        "days_past_due,status\n"
        "L1,2025-11-30,12000,1000,0,0,0,0,performing\n"
        "L1,2025-12-31,11000,1000,2000,0,0,0,performing\n"
        "L3,2025-07-31,30000,500,0,0,0,15,delinquent\n",
        encoding="utf-8",
    )
    result = tapes.import_tape(ctx, code, history, default_mapping("loan_performance"), CUTOFF)
    assert result.rows == 3
    frame = tapes.load_performance_frame(ctx, code)
    assert frame.get_column("period").to_list() == [date(2025, 11, 1), date(2025, 12, 1), date(2025, 7, 1)]
    assert frame.get_column("end_balance_fen").to_list() == [1_100_000, 800_000, 2_950_000]
    assert frame.get_column("vintage").to_list() == [date(2025, 10, 1), date(2025, 10, 1), date(2025, 6, 1)]
    assert frame.get_column("original_principal_fen").to_list() == [1_200_000, 1_200_000, 3_000_000]


def test_pool_rows_get_state_rows_for_this_call_only(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: rows of the same plan that another transaction commits while a call adds its
    own (a second tape of the plan) are not taken for this call's: each asset gets one state row,
    and both calls succeed. An asset already held gets no second one (IntegrityError)."""
    if ctx.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    code = plans.create_plan(ctx, name="两批", asset_type="margin_loan").code
    with ctx.engine.connect() as conn:
        plan_id = conn.execute(text("SELECT id FROM plans WHERE code = :c"), {"c": code}).scalar_one()
    real = tapes.bulk_insert
    cutoff = date(2026, 6, 30)

    def rows(*ids: str) -> pl.DataFrame:
        return pl.DataFrame({"asset_id": list(ids), "obligor_id": ["C"] * len(ids), "balance_fen": [100] * len(ids),
                             "start_date": [cutoff] * len(ids), "status": ["normal"] * len(ids)})

    constants = {"asset_type": "margin_loan", "cutoff_date": cutoff, "acquired_on": cutoff}

    def meanwhile(*args: object, **kwargs: object) -> None:  # another batch of the plan commits first
        monkeypatch.setattr(tapes, "bulk_insert", real)
        with transaction(ctx.engine) as other:
            tapes.insert_pool_rows(other, plan_id, rows("B1", "B2"), {**constants, "batch_id": 2})
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tapes, "bulk_insert", meanwhile)
    with transaction(ctx.engine) as session:
        tapes.insert_pool_rows(session, plan_id, rows("A1", "A2"), {**constants, "batch_id": 1})
    with ctx.engine.connect() as conn:
        held = sorted(tuple(r) for r in conn.execute(text(
            "SELECT s.asset_id, p.batch_id FROM pool_asset_states s JOIN pool_assets p ON p.id = s.pool_asset_id")))
    assert held == [("A1", 1), ("A2", 1), ("B1", 2), ("B2", 2)]
    with pytest.raises(IntegrityError), transaction(ctx.engine) as session:
        tapes.insert_pool_rows(session, plan_id, rows("A2"), {**constants, "batch_id": 3})
