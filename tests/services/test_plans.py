from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from absflow.domain.issues import InvalidTransition, NotFound, ValidationFailed
from absflow.domain.plan import Party, PartyRole, PlanStatus
from absflow.services import plans
from absflow.services.context import Context
from absflow.store.db import transaction
from absflow.store.log import LogEntryRow


def test_codes_are_sequential_per_year_and_never_reused(ctx: Context, clock) -> None:
    a = plans.create_plan(ctx, name="甲", asset_type="margin_loan")
    b = plans.create_plan(ctx, name="乙", asset_type="consumer_loan")
    assert (a.code, b.code) == ("ABS-2026-0001", "ABS-2026-0002")
    plans.advance_plan(ctx, a.code, PlanStatus.TERMINATED)
    c = plans.create_plan(ctx, name="丙", asset_type="lease")
    assert c.code == "ABS-2026-0003"
    clock.now = datetime(2027, 1, 4, tzinfo=UTC)
    assert plans.create_plan(ctx, name="丁", asset_type="receivable").code == "ABS-2027-0001"


def test_lifecycle_allows_only_listed_moves(ctx: Context) -> None:
    plan = plans.create_plan(ctx, name="甲", asset_type="margin_loan",
                             parties=[Party(PartyRole.ORIGINATOR, "某证券")])
    with pytest.raises(InvalidTransition, match="cannot move to revolving"):
        plans.advance_plan(ctx, plan.code, "revolving")
    for step in ("filed", "approved", "issuing", "revolving", "amortizing", "terminated"):
        plan = plans.advance_plan(ctx, plan.code, step)
    assert plan.status is PlanStatus.TERMINATED
    with pytest.raises(InvalidTransition):
        plans.advance_plan(ctx, plan.code, "revolving")
    history = plans.status_history(ctx, plan.code)
    assert [h[1] for h in history] == ["initiated", "filed", "approved", "issuing", "revolving",
                                       "amortizing", "terminated"]


def test_chinese_status_label_accepted_and_repeat_is_idempotent(ctx: Context) -> None:
    plan = plans.create_plan(ctx, name="甲", asset_type="margin_loan")
    plans.advance_plan(ctx, plan.code, "申报")
    again = plans.advance_plan(ctx, plan.code, "filed")
    assert again.status is PlanStatus.FILED
    assert len(plans.status_history(ctx, plan.code)) == 2


def test_bad_input_changes_nothing(ctx: Context) -> None:
    with pytest.raises(ValidationFailed) as info:
        plans.create_plan(ctx, name=" ", asset_type="bonds")
    assert {i.code for i in info.value.issues} == {"required", "unknown_asset_type"}
    assert plans.list_plans(ctx) == []
    with pytest.raises(NotFound):
        plans.get_plan(ctx, "ABS-2026-9999")


def test_every_change_is_logged_in_order(ctx: Context) -> None:
    plan = plans.create_plan(ctx, name="甲", asset_type="margin_loan")
    plans.advance_plan(ctx, plan.code, "filed")
    with transaction(ctx.engine) as session:
        entries = session.execute(select(LogEntryRow).order_by(LogEntryRow.idx)).scalars().all()
        assert [(e.idx, e.entry_type) for e in entries] == [(0, "plan.created"), (1, "plan.status_changed")]
        assert b'"to":"filed"' in entries[1].body
