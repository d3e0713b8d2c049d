"""The pool page: summary, stratifications with charts, concentration, Excel download."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from absflow.api.readcache import CACHED_READ
from absflow.domain.issues import NotFound
from absflow.services import plans as plan_service
from absflow.services import poolview
from absflow.web.i18n import translate
from absflow.web.pages import language, page_context, render

router = APIRouter(include_in_schema=False)


def strat_chart(strat: dict[str, Any], lang: str) -> dict[str, Any]:
    """Bars of the share of pool balance per bucket, percent."""
    return {
        "kind": "bar", "title": f"{translate('by', lang)} {strat['field']}",
        "categories": [r["bucket"] for r in strat["rows"]],
        "series": [{"name": translate("pct_balance", lang),
                    "data": [round(100 * float(r["pct_balance"]), 2) for r in strat["rows"]]}],
    }


@router.get("/plans/{code}/pool", dependencies=[CACHED_READ])
def pool_page(request: Request, code: str, by: list[str] | None = Query(None)) -> Response:
    ctx = page_context(request)
    plan = plan_service.get_plan(ctx, code)
    lang = language(request)
    try:
        found = poolview.overview(ctx, code, by or None)
    except NotFound as exc:
        if exc.code != "empty_pool":
            raise
        return render(request, "pool.html", plan=plan, empty=True, message=exc.message)
    charts = [strat_chart(s, lang) for s in found.strats]
    return render(request, "pool.html", plan=plan, empty=False, overview=found, charts=charts,
                  can_download=ctx.can("download", code))
