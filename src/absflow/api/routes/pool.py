"""Pool analytics of a plan (`pool summary`, `pool strat`, `pool concentration`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from absflow.api.deps import ActorCtx
from absflow.services import pool as pool_service
from absflow.services import poolview

router = APIRouter(prefix="/plans/{code}/pool", tags=["pool"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/summary", summary="Pool summary (pool summary); cached per plan state")
def summary(ctx: ActorCtx, code: str) -> dict[str, Any]:
    return poolview.overview(ctx, code, ()).summary


@router.get("/strats", summary="Stratifications by each `by` field (pool strat); cached per plan state")
def strats(ctx: ActorCtx, code: str, by: list[str] = Query(..., description="field names, e.g. balance, region")
           ) -> list[dict[str, Any]]:
    return poolview.overview(ctx, code, by).strats


@router.get("/concentration", summary="Top obligors, HHI (pool concentration); obligor ids masked for investors")
def concentration(ctx: ActorCtx, code: str) -> dict[str, Any]:
    return poolview.overview(ctx, code, ()).concentration


@router.get("/strat.xlsx", summary="Stratification workbook (pool strat --out FILE.xlsx)", response_class=Response)
def strat_workbook(ctx: ActorCtx, code: str, by: str) -> Response:
    data = pool_service.strat_workbook(ctx, code, by)
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{code}-{by}.xlsx"'})
