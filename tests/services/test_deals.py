"""Deal documents attached to plans: versions, the log, current_deal (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from absflow.domain.issues import NotFound, ValidationFailed
from absflow.services.context import Context
from absflow.services.deals import attach_deal, current_deal, current_deal_version, deal_versions
from absflow.services.plans import create_plan
from absflow.store.db import transaction
from absflow.store.log import LogEntryRow

DEAL_TEXT = (Path(__file__).resolve().parents[2] / "examples" / "deals" / "03_qilu_dfzq_1.yaml").read_text("utf-8")


def test_attach_stores_versions_and_logs(ctx: Context) -> None:
    code = create_plan(ctx, name="齐鲁-东方1号", asset_type="margin_loan").code
    with pytest.raises(NotFound):
        current_deal(ctx, code)
    v1 = attach_deal(ctx, code, DEAL_TEXT)
    assert v1.version == 1
    assert attach_deal(ctx, code, DEAL_TEXT).version == 1  # idempotent
    v2 = attach_deal(ctx, code, DEAL_TEXT.replace('rate: "0.0335"', 'rate: "0.0340"'))
    assert v2.version == 2
    assert current_deal(ctx, code).tranches[0].coupon.rate == Decimal("0.0340")
    assert current_deal_version(ctx, code).sha256 == v2.sha256
    assert [v for v, *_ in deal_versions(ctx, code)] == [1, 2]
    with transaction(ctx.engine) as session:
        entries = session.execute(
            select(LogEntryRow).where(LogEntryRow.entry_type == "deal.attached").order_by(LogEntryRow.idx)
        ).scalars().all()
        bodies = [json.loads(e.body) for e in entries]
    assert [b["payload"]["version"] for b in bodies] == [1, 2]
    assert bodies[0]["payload"]["tranches"][0] == {"id": "A", "size": "950000000.00"}


def test_invalid_document_changes_nothing(ctx: Context) -> None:
    code = create_plan(ctx, name="x", asset_type="margin_loan").code
    with pytest.raises(ValidationFailed) as info:
        attach_deal(ctx, code, DEAL_TEXT.replace('size: "950000000.00"', 'size: "-950000000.00"'))
    assert info.value.issues[0].location.field_path == "tranches[0].size"
    assert deal_versions(ctx, code) == []


def test_unknown_plan_is_not_found(ctx: Context) -> None:
    with pytest.raises(NotFound):
        attach_deal(ctx, "ABS-2026-9999", DEAL_TEXT)
