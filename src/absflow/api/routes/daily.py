"""Daily operations of a plan (`daily show`, the run calendar)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from fastapi import APIRouter

from absflow.api.deps import ActorCtx
from absflow.services import dailyview

router = APIRouter(prefix="/plans/{code}/daily", tags=["daily"])


@router.get("", summary="Every run day of the plan with its balances")
def days(ctx: ActorCtx, code: str) -> list[dict[str, Any]]:
    return [asdict(d) for d in dailyview.days(ctx, code)]


@router.get("/{business_date}", summary="One run day: triggers, purchases, repurchases, accounts (daily show)")
def day(ctx: ActorCtx, code: str, business_date: date) -> dict[str, Any]:
    return dailyview.day(ctx, code, business_date)
