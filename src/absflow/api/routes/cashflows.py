"""Deal documents and cash-flow runs of a plan (`deal attach`, `deal document`, `cashflow run`)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Body, status
from fastapi.responses import Response
from pydantic import BaseModel

from absflow.api.deps import ActorCtx
from absflow.api.routes.jobs import JobPublic
from absflow.services import cashflowjobs, deals, transfers
from absflow.services import jobs as job_service

router = APIRouter(tags=["cash flows"])


class DealVersionPublic(BaseModel):
    plan_code: str
    version: int
    name: str
    sha256: str
    attached_at: datetime
    tranches: list[dict[str, str]]

    @classmethod
    def of(cls, v: deals.DealVersion) -> DealVersionPublic:
        return cls(plan_code=v.plan_code, version=v.version, name=v.name, sha256=v.sha256, attached_at=v.attached_at,
                   tranches=[{"id": t.id, "class": t.tranche_class.value, "size": str(t.size)}
                             for t in v.deal.tranches])


class RunCreate(BaseModel):
    scenario: str | None = None


@router.get("/plans/{code}/deal", response_model=DealVersionPublic, summary="The plan's current deal document")
def current_deal(ctx: ActorCtx, code: str) -> DealVersionPublic:
    return DealVersionPublic.of(deals.current_deal_version(ctx, code))


@router.put("/plans/{code}/deal", response_model=DealVersionPublic,
            summary="Attach a deal document (YAML or JSON text) as the next version (deal attach)")
def attach_deal(ctx: ActorCtx, code: str, text: str = Body(..., media_type="text/plain")) -> DealVersionPublic:
    return DealVersionPublic.of(deals.attach_deal(ctx, code, transfers.remote_deal(text)))


@router.post("/plans/{code}/cashflow-runs", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED,
             summary="Run the plan's deal waterfall as a job (cashflow run); the job result has per-tranche flows")
def run(ctx: ActorCtx, code: str, body: RunCreate | None = None) -> JobPublic:
    return JobPublic.of(cashflowjobs.submit_run(ctx, code, body.scenario if body else None))


@router.get("/jobs/{job_id}/output", summary="The file a job produced (e.g. the cash-flow workbook)",
            response_class=Response)
def job_output(ctx: ActorCtx, job_id: int) -> Response:
    name, data = job_service.job_output(ctx, job_id)
    media = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if name.endswith(".xlsx")
             else "application/octet-stream")
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
