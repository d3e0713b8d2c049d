"""Tapes: validate and import uploads as background jobs; the plan's imported batches."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, File, Form, Request, UploadFile, status

from absflow.api.deps import ActorCtx, SettingsDep
from absflow.api.routes.jobs import JobPublic
from absflow.services import tapejobs
from absflow.services import tapes as tape_service

router = APIRouter(prefix="/plans/{code}/tapes", tags=["tapes"])


async def read_upload(upload: UploadFile, max_bytes: int) -> bytes:
    """At most ``max_bytes`` + 1 bytes of the upload (so an oversized file is reported, not read whole)."""
    return await upload.read(max_bytes + 1)


@router.get("", summary="Imported tape batches of the plan")
def batches(ctx: ActorCtx, code: str) -> list[dict[str, Any]]:
    return tape_service.list_batches(ctx, code)


def _submit(ctx: ActorCtx, code: str, import_: bool, name: str, data: bytes, mapping: str | None,
            cutoff: date | None, max_bytes: int) -> JobPublic:
    job = tapejobs.submit_tape_job(ctx, code, import_=import_, file_name=name, data=data, mapping_text=mapping,
                                   cutoff=cutoff, max_bytes=max_bytes)
    return JobPublic.of(job)


@router.post("/validate", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED,
             summary="Check every row of an uploaded tape (tape validate); poll the job for the report")
async def validate(request: Request, ctx: ActorCtx, settings: SettingsDep, code: str, file: UploadFile = File(...),
                   mapping: str | None = Form(None, description="YAML column mapping; default: canonical headers"),
                   cutoff: date | None = Form(None)) -> JobPublic:
    data = await read_upload(file, settings.max_upload_bytes)
    return _submit(ctx, code, False, file.filename or "", data, mapping, cutoff, settings.max_upload_bytes)


@router.post("/import", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED,
             summary="Import an uploaded tape into the plan, all or nothing (tape import)")
async def import_(request: Request, ctx: ActorCtx, settings: SettingsDep, code: str, file: UploadFile = File(...),
                  mapping: str | None = Form(None), cutoff: date = Form(...)) -> JobPublic:
    data = await read_upload(file, settings.max_upload_bytes)
    return _submit(ctx, code, True, file.filename or "", data, mapping, cutoff, settings.max_upload_bytes)
