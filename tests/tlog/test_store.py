"""The log in the database: appends keep subtree hashes, proofs from the store match the RFC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from absflow.services import tlog as tlog_service
from absflow.services.context import Context
from absflow.services.log import Event, append_event, append_events
from absflow.store.db import transaction
from absflow.store.log import LogEntryRow, LogNodeRow
from absflow.tlog import consistency_proof, inclusion_proof, root, verify_consistency, verify_inclusion
from absflow.tlog.merkle import EMPTY_ROOT, STORED_MIN_LEVEL

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def event(i: int) -> Event:
    return Event("test.event", f"ABS-2026-{i % 3:04d}", {"n": i, "amount": Decimal("1.50") * i},
                 T0 + timedelta(seconds=i), date(2026, 3, 2) if i % 2 else None)


def leaves(ctx: Context) -> list[bytes]:
    with transaction(ctx.engine) as session:
        return [h for (h,) in session.execute(select(LogEntryRow.leaf_hash).order_by(LogEntryRow.idx))]


def test_single_and_bulk_appends_build_the_same_tree(ctx: Context) -> None:
    with transaction(ctx.engine) as session:
        for i in range(5):
            e = event(i)
            assert append_event(session, entry_type=e.entry_type, plan_code=e.plan_code, payload=e.payload,
                                recorded_at=e.recorded_at, business_date=e.business_date) == i
    odd = Event("test.odd\\name\t", "P\\1\t2\n3", {"text": "tab\there\\"}, T0, None)
    with transaction(ctx.engine) as session:
        assert append_events(session, [event(i) for i in range(5, 36)] + [odd]) == 5
    with transaction(ctx.engine) as session:
        append_event(session, entry_type="test.event", plan_code=None, payload={}, recorded_at=T0)
    hashes = leaves(ctx)
    assert len(hashes) == 38
    head = tlog_service.log_head(ctx)
    assert head.size == 38 and head.root_hash == root(hashes)
    with transaction(ctx.engine) as session:
        nodes = session.execute(select(func.count()).select_from(LogNodeRow)).scalar_one()
        stored = session.get(LogEntryRow, 36)
        assert stored is not None and (stored.entry_type, stored.plan_code) == (odd.entry_type, odd.plan_code)
    assert nodes == sum(38 >> level for level in range(STORED_MIN_LEVEL, 6))
    assert tlog_service.audit_log(ctx).ok


def test_proofs_from_the_store_equal_the_in_memory_proofs(ctx: Context) -> None:
    with transaction(ctx.engine) as session:
        append_events(session, [event(i) for i in range(45)])
    hashes = leaves(ctx)
    for size in (1, 2, 7, 8, 31, 45):
        r = tlog_service.root_at(ctx, size)
        assert r == root(hashes[:size])
        for index in {0, size // 2, size - 1}:
            proof = tlog_service.inclusion_proof(ctx, index, size)
            assert proof == inclusion_proof(index, hashes[:size])
            assert verify_inclusion(hashes[index], index, size, proof, r)
        for old in {1, size // 3 or 1, size}:
            proof = tlog_service.consistency_proof(ctx, old, size)
            assert proof == consistency_proof(old, hashes[:size])
            assert verify_consistency(old, size, proof, root(hashes[:old]), r)
    assert tlog_service.root_at(ctx, 0) == EMPTY_ROOT


def test_a_rolled_back_transaction_leaves_no_entry(ctx: Context) -> None:
    with pytest.raises(RuntimeError), transaction(ctx.engine) as session:
        append_event(session, entry_type="test.event", plan_code=None, payload={}, recorded_at=T0)
        raise RuntimeError("state change failed")
    assert tlog_service.log_head(ctx).size == 0
    assert tlog_service.audit_log(ctx).ok
