"""Pages for the deal document and cash-flow runs (per tranche, charts, Excel download)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from absflow.domain.issues import ValidationFailed
from absflow.services import cashflowjobs, deals, transfers
from absflow.services import jobs as job_service
from absflow.services import plans as plan_service
from absflow.web.pages import check_csrf, page_context, render

router = APIRouter(include_in_schema=False)


def _page(request: Request, code: str, errors: list | None = None, status_code: int = 200) -> Response:  # type: ignore[type-arg]
    ctx = page_context(request)
    plan = plan_service.get_plan(ctx, code)
    version = cashflowjobs.current_deal_or_none(ctx, code)
    runs = [j for j in job_service.list_jobs(ctx, code, limit=50) if j.kind == cashflowjobs.RUN][:10]
    return render(request, "cashflows.html", status_code=status_code, plan=plan, version=version, runs=runs,
                  can_edit=ctx.can("edit", code), form_errors=errors or [])


@router.get("/plans/{code}/cashflows")
def cashflows_page(request: Request, code: str) -> Response:
    return _page(request, code)


@router.post("/plans/{code}/deal")
async def attach(request: Request, code: str, document: UploadFile = File(...), csrf_token: str = Form("")
                 ) -> Response:
    ctx = page_context(request)
    check_csrf(request, csrf_token)
    text = (await document.read(2 * 1024 * 1024)).decode("utf-8", errors="replace")
    try:
        deals.attach_deal(ctx, code, transfers.remote_deal(text))
    except ValidationFailed as exc:
        return _page(request, code, exc.issues, 422)
    return RedirectResponse(f"/plans/{quote(code)}/cashflows", status_code=303)


@router.post("/plans/{code}/cashflows")
async def run(request: Request, code: str, scenario: str = Form(""), csrf_token: str = Form("")) -> Response:
    ctx = page_context(request)
    check_csrf(request, csrf_token)
    job = cashflowjobs.submit_run(ctx, code, scenario or None)
    return RedirectResponse(f"/plans/{quote(code)}/jobs/{job.id}", status_code=303)
