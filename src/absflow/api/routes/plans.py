"""Plans: the same service functions as `absflow deal create/list/show/advance`."""

from __future__ import annotations

from fastapi import APIRouter, status

from absflow.api.deps import ActorCtx
from absflow.api.readcache import CACHED_READ
from absflow.api.schemas import PlanCreate, PlanPublic, PlansPublic, PlanUpdate
from absflow.domain.plan import Party
from absflow.services import plans as plan_service

router = APIRouter(prefix="/plans", tags=["plans"])


@router.get("", response_model=PlansPublic, summary="Plans the caller may see (deal list)",
            dependencies=[CACHED_READ])
def list_plans(ctx: ActorCtx) -> PlansPublic:
    return PlansPublic(plans=[PlanPublic.of(p) for p in plan_service.list_plans(ctx)])


@router.post("", response_model=PlanPublic, status_code=status.HTTP_201_CREATED, summary="Initiate a plan")
def create_plan(ctx: ActorCtx, body: PlanCreate) -> PlanPublic:
    parties = [Party(p.role, p.name) for p in body.parties]
    plan = plan_service.create_plan(ctx, name=body.name, asset_type=body.asset_type, parties=parties)
    return PlanPublic.of(plan)


@router.get("/{code}", response_model=PlanPublic, summary="One plan with its status history (deal show)",
            dependencies=[CACHED_READ])
def show_plan(ctx: ActorCtx, code: str) -> PlanPublic:
    return PlanPublic.of(*plan_service.get_plan_with_history(ctx, code))


@router.patch("/{code}", response_model=PlanPublic, summary="Advance the lifecycle (deal advance)")
def advance_plan(ctx: ActorCtx, code: str, body: PlanUpdate) -> PlanPublic:
    plan = plan_service.advance_plan(ctx, code, body.status)
    return PlanPublic.of(plan, plan_service.status_history(ctx, code))
