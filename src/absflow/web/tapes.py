"""Pages for tapes (upload, validation report row by row, imported batches) and job progress."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from absflow.domain.issues import Issue, Location, ValidationFailed
from absflow.services import jobs as job_service
from absflow.services import plans as plan_service
from absflow.services import tapejobs
from absflow.services import tapes as tape_service
from absflow.web.i18n import translate
from absflow.web.pages import check_csrf, language, page_context, render

router = APIRouter(include_in_schema=False)

#: Cap on issues shown on the page (the job keeps them all; the API returns them all).
ISSUES_SHOWN = 1000


def _tape_page(request: Request, code: str, errors: list[Issue] | None = None, status_code: int = 200) -> Response:
    ctx = page_context(request)
    plan = plan_service.get_plan(ctx, code)
    return render(request, "tape.html", status_code=status_code, plan=plan,
                  batches=tape_service.list_batches(ctx, code), jobs=job_service.list_jobs(ctx, code, limit=10),
                  can_edit=ctx.can("edit", code), form_errors=errors or [],
                  max_mib=request.app.state.settings.max_upload_bytes // (1024 * 1024))


@router.get("/plans/{code}/tape")
def tape_page(request: Request, code: str) -> Response:
    return _tape_page(request, code)


@router.post("/plans/{code}/tape")
async def tape_upload(request: Request, code: str, file: UploadFile = File(...),
                      mapping: UploadFile | None = File(None), cutoff: str = Form(""),
                      mode: str = Form("validate"), csrf_token: str = Form("")) -> Response:
    ctx = page_context(request)
    check_csrf(request, csrf_token)
    max_bytes = request.app.state.settings.max_upload_bytes
    data = await file.read(max_bytes + 1)
    mapping_text = None
    if mapping is not None and mapping.filename:
        mapping_text = (await mapping.read(1024 * 1024)).decode("utf-8", errors="replace")
    try:
        as_of = date.fromisoformat(cutoff) if cutoff else None
    except ValueError:
        return _tape_page(request, code, [Issue("bad_date", "the cut-off date is YYYY-MM-DD",
                                                Location(field_path="cutoff"), cutoff)], 422)
    try:
        job = tapejobs.submit_tape_job(ctx, code, import_=(mode == "import"), file_name=file.filename or "",
                                       data=data, mapping_text=mapping_text, cutoff=as_of, max_bytes=max_bytes)
    except ValidationFailed as exc:
        return _tape_page(request, code, exc.issues, 422)
    return RedirectResponse(f"/plans/{quote(code)}/jobs/{job.id}", status_code=303)


@router.get("/plans/{code}/jobs/{job_id}")
def job_page(request: Request, code: str, job_id: int) -> Response:
    ctx = page_context(request)
    plan = plan_service.get_plan(ctx, code)
    job = job_service.get_job(ctx, job_id)
    if job.plan_code != code:
        return render(request, "error.html", status_code=404, title="not_found", message=f"no job {job_id}",
                      status=404)
    result = job.result or {}
    errors = result.get("errors") or []
    return render(request, "job.html", plan=plan, job=job, result=result, errors=errors[:ISSUES_SHOWN],
                  errors_total=len(errors), charts=_tranche_charts(result, language(request)))


def _tranche_charts(result: dict[str, Any], lang: str) -> dict[str, dict[str, Any]]:
    """Per tranche: stacked bars of interest and principal paid per payment date, yuan."""
    charts = {}
    for tid, rows in (result.get("tranches") or {}).items():
        charts[tid] = {
            "kind": "bar", "title": f"{translate('tranche', lang)} {tid}",
            "categories": [r["payment_date"] for r in rows],
            "series": [{"name": translate(key, lang), "stack": "paid", "data": [float(r[key]) for r in rows]}
                       for key in ("interest_paid", "principal_paid", "residual_paid")]
            + [{"name": translate("end_balance", lang), "type": "line",
                "data": [float(r["end_balance"]) for r in rows]}],
        }
    return charts
