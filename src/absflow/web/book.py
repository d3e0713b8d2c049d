"""Bookbuilding pages: offerings, book summary (标位汇总) with a chart, bids, allocation, notices."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from absflow.services import bookview
from absflow.services import plans as plan_service
from absflow.web.i18n import translate
from absflow.web.pages import language, page_context, render

router = APIRouter(include_in_schema=False)


def book_chart(summary: Any, lang: str) -> dict[str, Any]:
    """Demand per rate level and cumulative demand (yuan) against the offering size."""
    rates = [f"{level.rate * 100:.2f}%" for level in summary.levels]
    return {
        "kind": "bar", "title": translate("book_summary", lang), "categories": rates,
        "series": [{"name": translate("demand", lang), "data": [float(level.amount_yuan) for level in summary.levels]},
                   {"name": translate("cumulative", lang), "type": "line",
                    "data": [float(level.cumulative_yuan) for level in summary.levels]},
                   {"name": translate("size", lang), "type": "line",
                    "data": [float(summary.size_yuan) for _ in summary.levels]}],
    }


@router.get("/plans/{code}/book")
def book_page(request: Request, code: str) -> Response:
    ctx = page_context(request)
    plan = plan_service.get_plan(ctx, code)
    lang = language(request)
    books = [bookview.offering_book(ctx, code, o.tranche_id) for o in bookview.offerings(ctx, code)]
    return render(request, "book.html", plan=plan, books=books, charts=[book_chart(b.summary, lang) for b in books],
                  issuance=bookview.issuance(ctx, code), sees_bids=bookview.sees_bids(ctx))
