"""Background jobs: progress and result of long work (imports, grids, simulations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from absflow.api.deps import ActorCtx
from absflow.services import jobs as job_service

router = APIRouter(prefix="/jobs", tags=["jobs"])


class JobPublic(BaseModel):
    id: int
    kind: str
    plan_code: str | None
    status: str
    progress: int
    message: str
    result: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: job_service.Job) -> JobPublic:
        return cls(id=job.id, kind=job.kind, plan_code=job.plan_code, status=job.status, progress=job.progress,
                   message=job.message, result=job.result, created_at=job.created_at, started_at=job.started_at,
                   finished_at=job.finished_at)


@router.get("/{job_id}", response_model=JobPublic, summary="A job's status, progress and result")
def show_job(ctx: ActorCtx, job_id: int) -> JobPublic:
    return JobPublic.of(job_service.get_job(ctx, job_id))
