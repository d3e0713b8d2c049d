"""Daily operations pages: a calendar of runs with balances, and one day (triggers, purchases,
repurchases, cash accounts, distributions)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response

from absflow.services import dailyview
from absflow.services import plans as plan_service
from absflow.web.i18n import translate
from absflow.web.pages import language, page_context, render

router = APIRouter(include_in_schema=False)


@router.get("/plans/{code}/daily")
def daily_page(request: Request, code: str) -> Response:
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
    return render(request, "daily.html", plan=plan, runs=list(reversed(runs)), months=dailyview.months(runs),
                  chart=chart)


@router.get("/plans/{code}/daily/{business_date}")
def day_page(request: Request, code: str, business_date: date) -> Response:
    ctx = page_context(request)
    plan = plan_service.get_plan(ctx, code)
    return render(request, "daily_day.html", plan=plan, day=dailyview.day(ctx, code, business_date))
