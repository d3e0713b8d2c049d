"""Plan registry: create plans with codes unique for life, list, show, advance the lifecycle."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, selectinload

from absflow.domain.issues import InvalidTransition, Issue, Location, NotFound, ValidationFailed
from absflow.domain.plan import (
    ALLOWED_TRANSITIONS,
    AssetType,
    Party,
    PartyRole,
    Plan,
    PlanStatus,
    can_transition,
    format_plan_code,
)
from absflow.services.access import grant_to_creator
from absflow.services.context import Context
from absflow.services.log import append_event
from absflow.services.users import access_changed
from absflow.store.db import read_transaction, transaction
from absflow.store.plans import PlanCodeCounterRow, PlanPartyRow, PlanRow, PlanStatusChangeRow


def _to_plan(row: PlanRow) -> Plan:
    return Plan(
        code=row.code,
        name=row.name,
        asset_type=AssetType(row.asset_type),
        status=PlanStatus(row.status),
        created_at=row.created_at,
        parties=tuple(Party(PartyRole(p.role), p.name) for p in row.parties),
    )


def parse_asset_type(text: str) -> AssetType:
    try:
        return AssetType(text)
    except ValueError:
        allowed = ", ".join(t.value for t in AssetType)
        raise ValidationFailed(
            [Issue("unknown_asset_type", f"unknown asset type {text!r}; one of: {allowed}",
                   Location(field_path="asset_type"), text)]
        ) from None


def parse_status(text: str) -> PlanStatus:
    for status in PlanStatus:
        if text in (status.value, status.label_zh):
            return status
    allowed = ", ".join(s.value for s in PlanStatus)
    raise ValidationFailed(
        [Issue("unknown_status", f"unknown status {text!r}; one of: {allowed}", Location(field_path="status"), text)]
    )


def _next_code(session: Session, year: int) -> str:
    counter = session.execute(
        select(PlanCodeCounterRow).where(PlanCodeCounterRow.year == year).with_for_update()
    ).scalar_one_or_none()
    if counter is None:
        counter = PlanCodeCounterRow(year=year, last_number=0)
        session.add(counter)
    counter.last_number += 1
    session.flush()
    return format_plan_code(year, counter.last_number)


#: Built once (reads are frequent): SQLAlchemy then reuses its cache key on every call.
_PLAN_BY_CODE = select(PlanRow).where(PlanRow.code == bindparam("code")).options(selectinload(PlanRow.parties))
_PLAN_BY_CODE_FOR_UPDATE = _PLAN_BY_CODE.with_for_update()


def load_plan_row(session: Session, code: str, *, for_update: bool = False) -> PlanRow:
    """The plan row for ``code`` or NotFound."""
    query = _PLAN_BY_CODE_FOR_UPDATE if for_update else _PLAN_BY_CODE
    row = session.execute(query, {"code": code}).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no plan with code {code!r}")
    return row


def create_plan(
    ctx: Context,
    *,
    name: str,
    asset_type: AssetType | str,
    parties: Iterable[Party] = (),
) -> Plan:
    """Initiate (立项) a plan; it gets the next code ``ABS-<year>-<nnnn>``, never reused."""
    ctx.require("create", None)
    issues = []
    if not name.strip():
        issues.append(Issue("required", "a plan needs a name", Location(field_path="name")))
    kind = asset_type if isinstance(asset_type, AssetType) else None
    if kind is None:
        try:
            kind = parse_asset_type(str(asset_type))
        except ValidationFailed as exc:
            issues.extend(exc.issues)
    if issues:
        raise ValidationFailed(issues)
    assert kind is not None
    now = ctx.now()
    party_list = list(parties)
    with transaction(ctx.engine) as session:
        code = _next_code(session, now.year)
        row = PlanRow(
            code=code, name=name.strip(), asset_type=kind.value, status=PlanStatus.INITIATED.value,
            created_at=now, updated_at=now,
        )
        row.parties = [PlanPartyRow(role=p.role.value, name=p.name) for p in party_list]
        row.history = [PlanStatusChangeRow(from_status=None, to_status=row.status, changed_at=now)]
        session.add(row)
        session.flush()
        append_event(
            session, entry_type="plan.created", plan_code=code, recorded_at=now,
            payload={
                "name": row.name, "asset_type": kind.value, "status": row.status,
                "parties": [{"role": p.role.value, "name": p.name} for p in party_list],
            },
        )
        granted = grant_to_creator(session, ctx, code, now)
        plan = _to_plan(row)
    if granted:
        access_changed()
    return plan


#: Plans with their parties in one query, without the ORM: reads are frequent (every page
#: shows the plan), so they are built once and map rows straight to ``Plan``.
_PLANS_WITH_PARTIES = (
    select(PlanRow.code, PlanRow.name, PlanRow.asset_type, PlanRow.status, PlanRow.created_at,
           PlanPartyRow.role.label("party_role"), PlanPartyRow.name.label("party_name"))
    .outerjoin(PlanPartyRow, PlanPartyRow.plan_id == PlanRow.id)
    .order_by(PlanRow.code, PlanPartyRow.id)
)
_PLAN_WITH_PARTIES = _PLANS_WITH_PARTIES.where(PlanRow.code == bindparam("code"))
_HISTORY = (select(PlanStatusChangeRow.from_status, PlanStatusChangeRow.to_status, PlanStatusChangeRow.changed_at)
            .join(PlanRow, PlanRow.id == PlanStatusChangeRow.plan_id).where(PlanRow.code == bindparam("code"))
            .order_by(PlanStatusChangeRow.id))


def _plans_of(rows: Iterable[Any]) -> list[Plan]:
    plans: dict[str, Plan] = {}
    for r in rows:
        plan = plans.get(r.code) or Plan(code=r.code, name=r.name, asset_type=AssetType(r.asset_type),
                                         status=PlanStatus(r.status), created_at=r.created_at, parties=())
        if r.party_role is not None:
            plan = replace(plan, parties=(*plan.parties, Party(PartyRole(r.party_role), r.party_name)))
        plans[r.code] = plan
    return list(plans.values())


def list_plans(ctx: Context) -> list[Plan]:
    """Plans the actor may see, in code order."""
    ctx.require("list", None)
    with read_transaction(ctx.engine) as session:
        plans = _plans_of(session.execute(_PLANS_WITH_PARTIES))
    return [plan for plan in plans if ctx.can("view", plan.code)]


def get_plan(ctx: Context, code: str) -> Plan:
    ctx.require("view", code)
    with read_transaction(ctx.engine) as session:
        found = _plans_of(session.execute(_PLAN_WITH_PARTIES, {"code": code}))
    if not found:
        raise NotFound(f"no plan with code {code!r}")
    return found[0]


def status_history(ctx: Context, code: str) -> list[tuple[str | None, str, str]]:
    """(from, to, ISO time) for each status change of the plan, oldest first."""
    return get_plan_with_history(ctx, code)[1]


def get_plan_with_history(ctx: Context, code: str) -> tuple[Plan, list[tuple[str | None, str, str]]]:
    """The plan and its status history (as ``status_history``), read in one transaction."""
    ctx.require("view", code)
    with read_transaction(ctx.engine) as session:
        found = _plans_of(session.execute(_PLAN_WITH_PARTIES, {"code": code}))
        if not found:
            raise NotFound(f"no plan with code {code!r}")
        history = [(f, t, at.isoformat()) for f, t, at in session.execute(_HISTORY, {"code": code})]
    return found[0], history


def advance_plan(ctx: Context, code: str, to_status: PlanStatus | str) -> Plan:
    """Move a plan to ``to_status`` if the lifecycle allows it; idempotent when already there."""
    target = to_status if isinstance(to_status, PlanStatus) else parse_status(str(to_status))
    ctx.require("edit", code)
    now = ctx.now()
    with transaction(ctx.engine) as session:
        row = load_plan_row(session, code, for_update=True)
        current = PlanStatus(row.status)
        if current == target:
            return _to_plan(row)
        if not can_transition(current, target):
            allowed = ", ".join(s.value for s in sorted(ALLOWED_TRANSITIONS[current])) or "none"
            raise InvalidTransition(
                f"plan {code} is {current.value} ({current.label_zh}); it cannot move to "
                f"{target.value} ({target.label_zh}). Allowed next: {allowed}"
            )
        row.status = target.value
        row.updated_at = now
        row.history.append(PlanStatusChangeRow(from_status=current.value, to_status=target.value, changed_at=now))
        append_event(
            session, entry_type="plan.status_changed", plan_code=code, recorded_at=now,
            payload={"from": current.value, "to": target.value},
        )
        session.flush()
        return _to_plan(row)
