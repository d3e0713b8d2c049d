"""Tamper detection: change any single byte of any logged row with raw SQL; the audit finds it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from absflow.domain.plan import AssetType
from absflow.services import plans as plan_service
from absflow.services import tlog as tlog_service
from absflow.services.context import Context
from absflow.services.log import Event, append_events
from absflow.store.db import transaction
from absflow.tlog.note import SignerKey

SIGNER = SignerKey.from_seed("absflow.test/log", bytes(range(32)))


@pytest.fixture
def logged(ctx: Context) -> Context:
    ctx.extras["log_signer"] = SIGNER
    plan = plan_service.create_plan(ctx, name="审计测试计划", asset_type=AssetType.MARGIN_LOAN)
    plan_service.advance_plan(ctx, plan.code, "filed")
    t0 = datetime(2026, 3, 3, 10, tzinfo=UTC)
    with transaction(ctx.engine) as session:
        append_events(session, [Event("daily.run", plan.code, {"n": i, "amount": "12.34"}, t0 + timedelta(minutes=i),
                                      date(2026, 3, 3)) for i in range(9)])
    tlog_service.make_checkpoint(ctx)
    assert tlog_service.audit_log(ctx, [SIGNER.verifier()]).ok
    return ctx


def raw(engine: Engine, sql: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def fetch(engine: Engine, sql: str, **params: object) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def flipped(value: bytes, position: int) -> bytes:
    return value[:position] + bytes([value[position] ^ 0x01]) + value[position + 1:]


def audit(ctx: Context) -> tlog_service.AuditReport:
    return tlog_service.audit_log(ctx, [SIGNER.verifier()])


def test_every_byte_of_an_entry_body_and_leaf_hash(logged: Context) -> None:
    engine = logged.engine
    for idx in (0, 5, 10):
        (body, leaf), = fetch(engine, "SELECT body, leaf_hash FROM log_entries WHERE idx = :i", i=idx)
        body, leaf = bytes(body), bytes(leaf)
        for column, original in (("body", body), ("leaf_hash", leaf)):
            positions = range(len(original)) if idx == 5 else range(0, len(original), 7)
            for position in positions:
                changed = flipped(original, position)
                raw(engine, f"UPDATE log_entries SET {column} = :v WHERE idx = :i", v=changed, i=idx)
                report = audit(logged)
                assert not report.ok and report.first_bad_index == idx, (column, position, report)
                raw(engine, f"UPDATE log_entries SET {column} = :v WHERE idx = :i", v=original, i=idx)
    assert audit(logged).ok


def column_changes(engine: Engine, idx: int) -> Iterator[tuple[str, str, dict[str, object]]]:
    (entry_type, plan_code, business_date), = fetch(
        engine, "SELECT entry_type, plan_code, business_date FROM log_entries WHERE idx = :i", i=idx)
    yield "entry_type", "UPDATE log_entries SET entry_type = :v WHERE idx = :i", {"v": str(entry_type) + "x"}
    yield "plan_code", "UPDATE log_entries SET plan_code = :v WHERE idx = :i", {"v": str(plan_code)[:-1] + "9"}
    new_date = date(2026, 3, 4) if business_date is not None else date(2020, 1, 1)
    yield "business_date", "UPDATE log_entries SET business_date = :v WHERE idx = :i", {"v": new_date}
    yield "recorded_at", "UPDATE log_entries SET recorded_at = :v WHERE idx = :i", {
        "v": datetime(2026, 3, 3, 10, 0, 1, tzinfo=UTC)}


def test_every_column_of_entry_rows(logged: Context) -> None:
    engine = logged.engine
    (size,), = fetch(engine, "SELECT size FROM log_heads")
    for idx in range(int(size)):  # type: ignore[call-overload]
        before = fetch(engine, "SELECT * FROM log_entries WHERE idx = :i", i=idx)
        for column, sql, params in column_changes(engine, idx):
            raw(engine, sql, i=idx, **params)
            report = audit(logged)
            assert not report.ok and report.first_bad_index == idx, (idx, column, report)
            restore = {"entry_type": before[0][1], "plan_code": before[0][2], "business_date": before[0][3],
                       "recorded_at": before[0][4]}[column]
            raw(engine, f"UPDATE log_entries SET {column} = :v WHERE idx = :i", v=restore, i=idx)
        assert audit(logged).ok


def test_moving_or_deleting_an_entry(logged: Context) -> None:
    engine = logged.engine
    raw(engine, "UPDATE log_entries SET idx = 1000 WHERE idx = 4")
    report = audit(logged)
    assert not report.ok and report.first_bad_index == 4
    raw(engine, "UPDATE log_entries SET idx = 4 WHERE idx = 1000")
    assert audit(logged).ok
    raw(engine, "DELETE FROM log_entries WHERE idx = 10")
    report = audit(logged)
    assert not report.ok and report.first_bad_index == 10


def test_subtree_hashes_head_and_checkpoints(logged: Context) -> None:
    engine = logged.engine
    t0 = datetime(2026, 3, 5, 10, tzinfo=UTC)
    with transaction(engine) as session:  # 11 + 30 entries: subtree hashes at levels 4 and 5 are stored
        append_events(session, [Event("daily.run", None, {"n": i}, t0, None) for i in range(30)])
    tlog_service.make_checkpoint(logged)
    nodes = fetch(engine, "SELECT level, idx, hash FROM log_nodes")
    assert sorted((lv, i) for lv, i, _ in nodes) == [(4, 0), (4, 1), (5, 0)]
    for level, idx, value in nodes:
        original = bytes(value)  # type: ignore[arg-type]
        raw(engine, "UPDATE log_nodes SET hash = :v WHERE level = :l AND idx = :i",
            v=flipped(original, 31), l=level, i=idx)
        report = audit(logged)
        assert not report.ok and report.first_bad_index == idx << level  # type: ignore[operator]
        raw(engine, "UPDATE log_nodes SET hash = :v WHERE level = :l AND idx = :i", v=original, l=level, i=idx)
    (frontier,), = fetch(engine, "SELECT frontier FROM log_heads")
    raw(engine, "UPDATE log_heads SET frontier = :v", v=flipped(bytes(frontier), 0))  # type: ignore[arg-type]
    assert not audit(logged).ok
    raw(engine, "UPDATE log_heads SET frontier = :v", v=bytes(frontier))  # type: ignore[arg-type]
    raw(engine, "UPDATE log_heads SET size = size + 1")
    assert not audit(logged).ok
    raw(engine, "UPDATE log_heads SET size = size - 1")
    raw(engine, "INSERT INTO log_nodes (level, idx, hash) VALUES (2, 0, :h)", h=bytes(32))
    assert "unexpected subtree hash" in str(audit(logged).problem)
    raw(engine, "DELETE FROM log_nodes WHERE level = 2")
    (note,), = fetch(engine, "SELECT note FROM log_checkpoints ORDER BY id DESC LIMIT 1")
    for position in range(0, len(str(note)), 5):
        changed = str(note)[:position] + ("A" if str(note)[position] != "A" else "B") + str(note)[position + 1:]
        raw(engine, "UPDATE log_checkpoints SET note = :v WHERE note = :o", v=changed, o=note)
        assert not audit(logged).ok, position
        raw(engine, "UPDATE log_checkpoints SET note = :v WHERE note = :o", v=note, o=changed)
    assert audit(logged).ok


def test_a_consistent_rewrite_is_caught_by_the_signed_checkpoint(logged: Context) -> None:
    """Rewrite an entry AND every hash above it (what an insider would do): the signed root differs."""
    engine = logged.engine
    (body,), = fetch(engine, "SELECT body FROM log_entries WHERE idx = 3")
    forged = bytes(body).replace(b'"n":1', b'"n":7')  # type: ignore[arg-type]
    from absflow.tlog.hashing import leaf_hash
    from absflow.tlog.merkle import STORED_MIN_LEVEL, frontier_append

    raw(engine, "UPDATE log_entries SET body = :b, leaf_hash = :h WHERE idx = 3", b=forged, h=leaf_hash(forged))
    leaves = [bytes(h) for (h,) in fetch(engine, "SELECT leaf_hash FROM log_entries ORDER BY idx")]  # type: ignore[arg-type]
    frontier: list[bytes] = []
    raw(engine, "DELETE FROM log_nodes")
    for i, leaf in enumerate(leaves):
        frontier, completed = frontier_append(frontier, i, leaf)
        for level, idx, value in completed:
            if level >= STORED_MIN_LEVEL:
                raw(engine, "INSERT INTO log_nodes (level, idx, hash) VALUES (:l, :i, :h)", l=level, i=idx, h=value)
    raw(engine, "UPDATE log_heads SET frontier = :f", f=b"".join(frontier))
    report = audit(logged)
    assert not report.ok and "checkpoint" in (report.problem or "")


def test_every_column_of_a_stored_pool_change_item(logged: Context) -> None:
    from absflow.services.pool_changes import log_pool_changes
    from absflow.tlog.itemised import PoolChange

    engine = logged.engine
    code = fetch(engine, "SELECT code FROM plans")[0][0]
    with transaction(engine) as session:
        index = log_pool_changes(session, plan_code=str(code), business_date=date(2026, 3, 4),
                                 recorded_at=datetime(2026, 3, 4, 18, tzinfo=UTC), source="daily.run",
                                 changes=[PoolChange("A1", "added", 1_000, "revolving_purchase"),
                                          PoolChange("A2", "removed", 2_000, "repaid")])
    assert audit(logged).ok
    changes = {"asset_id": "A3", "change": "added", "amount_fen": 2_001, "reason": "repaid2", "plan_code": "X"}
    for column, value in changes.items():
        (original,), = fetch(engine, f"SELECT {column} FROM pool_change_items WHERE log_index = :i AND position = 1",
                             i=index)
        raw(engine, f"UPDATE pool_change_items SET {column} = :v WHERE log_index = :i AND position = 1",
            v=value, i=index)
        report = audit(logged)
        assert not report.ok and report.first_bad_index == index, (column, report)
        raw(engine, f"UPDATE pool_change_items SET {column} = :v WHERE log_index = :i AND position = 1",
            v=original, i=index)
    raw(engine, "DELETE FROM pool_change_items WHERE log_index = :i AND position = 1", i=index)
    assert "does not rebuild the logged root" in str(audit(logged).problem)
    raw(engine, "INSERT INTO pool_change_items (log_index, position, plan_code, asset_id, change, amount_fen, reason) "
                "VALUES (:i, 1, :p, 'A2', 'removed', 2000, 'repaid')", i=index, p=code)
    raw(engine, "INSERT INTO pool_change_items (log_index, position, plan_code, asset_id, change, amount_fen, reason) "
                "VALUES (0, 0, :p, 'A9', 'added', 1, 'x')", p=code)
    assert "not a pool.changed entry" in str(audit(logged).problem)


def test_tape_batch_and_commitment_rows_agree_with_their_entries(logged: Context, tmp_path: Path) -> None:
    from absflow.services import tapes
    from absflow.tape.mapping import default_mapping

    engine = logged.engine
    code = str(fetch(engine, "SELECT code FROM plans")[0][0])
    tape = tmp_path / "t.csv"
    tape.write_text("contract_id,client_id,principal_outstanding,financing_rate,start_date,due_date,status,"
                    "securities_market_value,cash_balance,region\n"
                    "M1,C1,100000.50,0.0835,2026-01-05,2026-07-05,performing,250000,1000,广东\n", encoding="utf-8")
    batch = tapes.import_tape(logged, code, tape, default_mapping("margin_loan"), date(2026, 3, 31)).batch_id
    tlog_service.commit_tape(logged, code, batch)
    assert audit(logged).ok
    changes = [
        ("UPDATE tape_batches SET merkle_root = :v WHERE id = :b", "00" * 32),
        ("UPDATE tape_batches SET log_index = :v WHERE id = :b", 0),
        ("UPDATE tape_commitments SET root_hash = :v WHERE id > :b - 1000", bytes(32)),
        ("UPDATE tape_commitments SET record_count = :v WHERE id > :b - 1000", 2),
        ("UPDATE tape_commitments SET tape_ref = :v WHERE id > :b - 1000", "batch-999"),
    ]
    for sql, value in changes:
        column = sql.split()[3]
        table = sql.split()[1]
        where = "id = :b" if table == "tape_batches" else "id > :b - 1000"
        (original,), = fetch(engine, f"SELECT {column} FROM {table} WHERE {where}", b=batch)
        raw(engine, sql, v=value, b=batch)
        report = audit(logged)
        assert not report.ok and table.rstrip("es").replace("_", " ")[:10] in str(report.problem), (sql, report)
        raw(engine, f"UPDATE {table} SET {column} = :v WHERE {where}", v=original, b=batch)
    assert audit(logged).ok
