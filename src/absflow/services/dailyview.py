"""Daily operations for the pages and the API: the calendar of runs and one day in full, with
borrower identity masked for roles that must not see it."""

from __future__ import annotations

import calendar as month_calendar
from dataclasses import dataclass
from datetime import date
from typing import Any

from absflow.access import MASK
from absflow.domain.money import format_yuan
from absflow.services import daily as daily_service
from absflow.services.access import actor_sees_borrower_identity
from absflow.services.context import Context


@dataclass(frozen=True)
class DaySummary:
    business_date: date
    status: str
    purchase_state: str
    pool_balance: str
    cash: str
    available: str
    purchased_count: int
    purchased_principal: str
    log_index: int | None


@dataclass(frozen=True)
class Month:
    year: int
    month: int
    #: weeks of (day or None, run or None), Monday first
    weeks: list[list[tuple[date | None, DaySummary | None]]]


def days(ctx: Context, plan_code: str) -> list[DaySummary]:
    """Every run day of the plan, oldest first (money in yuan, decimal strings)."""
    return [
        DaySummary(r.business_date, r.status, r.purchase_state, format_yuan(r.pool_balance_fen),
                   format_yuan(r.cash_fen), format_yuan(r.available_fen), r.purchased_count,
                   format_yuan(r.purchased_principal_fen), r.log_index)
        for r in daily_service.list_days(ctx, plan_code)
    ]


def months(runs: list[DaySummary]) -> list[Month]:
    """Calendar months covering the runs, newest first."""
    by_day = {r.business_date: r for r in runs}
    keys = sorted({(d.year, d.month) for d in by_day}, reverse=True)
    out = []
    for year, month in keys:
        weeks = [[(d if d.month == month else None, by_day.get(d) if d.month == month else None) for d in week]
                 for week in month_calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)]
        out.append(Month(year, month, weeks))
    return out


def day(ctx: Context, plan_code: str, business_date: date) -> dict[str, Any]:
    """One run day in full (``daily.show_day``); client ids in the delivery list masked when needed."""
    found = daily_service.show_day(ctx, plan_code, business_date)
    if actor_sees_borrower_identity(ctx):
        return found
    delivery = dict(found["delivery_list"])
    delivery["lines"] = [{**line, "client_id": MASK} for line in delivery["lines"]]
    return {**found, "delivery_list": delivery}
