"""Pool analytics of a plan (`pool summary`, `pool strat`, `pool concentration`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from absflow.api.deps import ActorCtx
from absflow.api.readcache import CACHED_READ
from absflow.services import pool as pool_service
from absflow.services import poolview

router = APIRouter(prefix="/plans/{code}/pool", tags=["pool"])

JSON = "application/json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# The analytics are stored as JSON once per plan state and answered as those bytes.


@router.get("/summary", summary="Pool summary (pool summary); computed once per plan state",
            response_model=dict[str, Any], dependencies=[CACHED_READ])
def summary(ctx: ActorCtx, code: str) -> Response:
    return Response(poolview.summary_json(ctx, code), media_type=JSON)


@router.get("/strats", summary="Stratifications by each `by` field (pool strat); computed once per plan state",
            response_model=list[dict[str, Any]], dependencies=[CACHED_READ])
def strats(ctx: ActorCtx, code: str, by: list[str] = Query(..., description="field names, e.g. balance, region")
           ) -> Response:
    return Response(poolview.strats_json(ctx, code, by), media_type=JSON)


@router.get("/concentration", summary="Top obligors, HHI (pool concentration); obligor ids masked for investors",
            response_model=dict[str, Any], dependencies=[CACHED_READ])
def concentration(ctx: ActorCtx, code: str) -> Response:
    return Response(poolview.concentration_json(ctx, code), media_type=JSON)


@router.get("/strat.xlsx", summary="Stratification workbook (pool strat --out FILE.xlsx)", response_class=Response)
def strat_workbook(ctx: ActorCtx, code: str, by: str) -> Response:
    data = pool_service.strat_workbook(ctx, code, by)
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{code}-{by}.xlsx"'})


@router.get("/vintage", summary="Static-pool curves by origination month and month on book (pool vintage)")
def vintage(ctx: ActorCtx, code: str) -> dict[str, Any]:
    curves: dict[str, Any] = pool_service.vintage(ctx, code).as_dict()
    return curves


@router.get("/vintage.xlsx", summary="Vintage curves workbook (pool vintage --xlsx FILE)", response_class=Response)
def vintage_workbook(ctx: ActorCtx, code: str) -> Response:
    data = pool_service.vintage_workbook(ctx, code)
    return Response(data, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{code}-vintage.xlsx"'})


@router.get("/rolls", summary="Month-to-month roll rates between delinquency states (pool rolls)")
def rolls(ctx: ActorCtx, code: str) -> dict[str, Any]:
    rates: dict[str, Any] = pool_service.rolls(ctx, code).as_dict()
    return rates
