"""Daily operations pages: load a day's servicer files, run a day or every day through a date as a
background job, a calendar of runs with balances, and one day (triggers, purchases, repurchases,
cash accounts, distributions)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from absflow.domain.issues import Issue, Location, ValidationFailed
from absflow.services import dailyview, opsjobs, transfers
from absflow.services import jobs as job_service
from absflow.services import plans as plan_service
from absflow.web.i18n import translate
from absflow.web.pages import check_csrf, language, page_context, render

router = APIRouter(include_in_schema=False)


def _daily_page(request: Request, code: str, *, loaded: Any = None, errors: list[Issue] | None = None,
                status_code: int = 200) -> Response:
    ctx = page_context(request)
    plan = plan_service.get_plan(ctx, code)
    runs = dailyview.days(ctx, code)
    lang = language(request)
    chart = {
        "kind": "line", "title": translate("daily_balances", lang),
        "categories": [r.business_date.isoformat() for r in runs],
        "series": [{"name": translate("pool_balance", lang), "type": "line",
                    "data": [float(r.pool_balance) for r in runs]},
                   {"name": translate("cash", lang), "type": "line", "data": [float(r.cash) for r in runs]}],
    }
    can_edit = ctx.can("edit", code)
    jobs = [j for j in job_service.list_jobs(ctx, code, limit=30) if j.kind == opsjobs.DAILY_RUN][:10] \
        if can_edit else []
    return render(request, "daily.html", status_code=status_code, plan=plan, runs=list(reversed(runs)),
                  months=dailyview.months(runs), chart=chart, can_edit=can_edit, jobs=jobs, loaded=loaded,
                  form_errors=errors or [], max_mib=request.app.state.settings.max_upload_bytes // (1024 * 1024))


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed([Issue("bad_date", "a date is YYYY-MM-DD", Location(field_path=field), text)]) \
            from None


@router.get("/plans/{code}/daily")
def daily_page(request: Request, code: str) -> Response:
    return _daily_page(request, code)


@router.post("/plans/{code}/daily/files")
async def daily_load(request: Request, code: str, business_date: str = Form(""),
                     files: list[UploadFile] = File(...), mapping: UploadFile | None = File(None),
                     csrf_token: str = Form("")) -> Response:
    ctx = page_context(request)
    check_csrf(request, csrf_token)
    max_bytes = request.app.state.settings.max_upload_bytes
    uploads = [(f.filename or "", await f.read(max_bytes + 1)) for f in files if f.filename]
    mapping_text = None
    if mapping is not None and mapping.filename:
        mapping_text = (await mapping.read(1024 * 1024)).decode("utf-8", errors="replace")
    try:
        loaded = transfers.load_daily_files(ctx, code, _day(business_date, "business_date"), uploads,
                                            mapping_text=mapping_text, max_bytes=max_bytes)
    except ValidationFailed as exc:
        return _daily_page(request, code, errors=exc.issues, status_code=422)
    return _daily_page(request, code, loaded=loaded, status_code=201)


@router.post("/plans/{code}/daily/run")
def daily_run(request: Request, code: str, business_date: str = Form(""), mode: str = Form("day"),
              allow_empty: str = Form(""), csrf_token: str = Form("")) -> Response:
    ctx = page_context(request)
    check_csrf(request, csrf_token)
    try:
        day = _day(business_date, "business_date")
        job = opsjobs.submit_daily_run(ctx, code, business_date=None if mode == "through" else day,
                                       through=day if mode == "through" else None, allow_empty=bool(allow_empty))
    except ValidationFailed as exc:
        return _daily_page(request, code, errors=exc.issues, status_code=422)
    return RedirectResponse(f"/plans/{quote(code)}/jobs/{job.id}", status_code=303)


@router.get("/plans/{code}/daily/{business_date}")
def day_page(request: Request, code: str, business_date: date) -> Response:
    ctx = page_context(request)
    plan = plan_service.get_plan(ctx, code)
    return render(request, "daily_day.html", plan=plan, day=dailyview.day(ctx, code, business_date))
