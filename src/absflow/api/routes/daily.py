"""Daily operations of a plan: load a day's files, run days as jobs, the run calendar, one day,
the servicer report (`daily load`, `daily run`, `revolve show`, `report servicer`)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from absflow.api.deps import ActorCtx, SettingsDep
from absflow.api.routes.jobs import JobPublic
from absflow.api.routes.tapes import read_upload
from absflow.services import dailyview, opsjobs, transfers

router = APIRouter(prefix="/plans/{code}", tags=["daily"])


class DailyRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    business_date: date | None = Field(None, description="Run this one day (idempotent) …")
    through: date | None = Field(None, description="… or every pending trading day up to this date")
    allow_empty: bool = Field(False, description="Run days that have no loaded files")


def attachment(name: str, data: bytes, media_type: str) -> Response:
    return Response(data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/daily", summary="Every run day of the plan with its balances")
def days(ctx: ActorCtx, code: str) -> list[dict[str, Any]]:
    return [asdict(d) for d in dailyview.days(ctx, code)]


@router.get("/daily/{business_date}", summary="One run day: triggers, purchases, repurchases, accounts, delivery "
            "list (revolve show; client ids masked for investors and agencies)")
def day(ctx: ActorCtx, code: str, business_date: date) -> dict[str, Any]:
    return dailyview.day(ctx, code, business_date)


@router.post("/daily/{business_date}/files", status_code=status.HTTP_201_CREATED,
             summary="Validate a day's servicer files together and store them (daily load); every problem at once")
async def load(ctx: ActorCtx, settings: SettingsDep, code: str, business_date: date,
               files: list[UploadFile] = File(..., description="collections*.csv, candidates*.csv, positions*.csv, "
                                              "… (the kind comes from the file name's start)"),
               mapping: str | None = Form(None, description="YAML column mapping of the candidates file")
               ) -> dict[str, Any]:
    uploads = [(f.filename or "", await read_upload(f, settings.max_upload_bytes)) for f in files]
    result = transfers.load_daily_files(ctx, code, business_date, uploads, mapping_text=mapping,
                                        max_bytes=settings.max_upload_bytes)
    return {"plan_code": code, "business_date": business_date.isoformat(), "files": result.files,
            "log_index": result.log_index}


@router.post("/daily/runs", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED,
             summary="Run one business day, or every pending day through a date, as a job (daily run)")
def run(ctx: ActorCtx, code: str, body: DailyRunCreate) -> JobPublic:
    return JobPublic.of(opsjobs.submit_daily_run(ctx, code, business_date=body.business_date, through=body.through,
                                                 allow_empty=body.allow_empty))


@router.get("/reports/servicer", response_class=Response,
            summary="The servicer report of a period as XLSX or PDF (report servicer)")
def servicer_report(ctx: ActorCtx, code: str, first: date = Query(..., alias="from"),
                    last: date = Query(..., alias="to"), fmt: str = Query("xlsx", alias="format")) -> Response:
    name, data = transfers.servicer_report_file(ctx, code, first, last, fmt)
    return attachment(name, data, transfers.SERVICER_FORMATS[fmt])
