"""Running deals: a deal document (file or a plan's current version) + scenario → a DealRun, written out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from absflow.calendar import DayKind, default_calendar
from absflow.cashflow.periods import BusinessCalendar
from absflow.cashflow.runner import DealRun, Scenario, parse_scenario, run_deal
from absflow.deal import model as m
from absflow.deal.document import load_text
from absflow.domain.issues import Issue, Location, ValidationFailed
from absflow.reports.deal_run import write_run
from absflow.services.context import Context
from absflow.services.deals import current_deal, load_deal_file, read_deal_file


class _KindCalendar:
    """The shared calendar seen through one day kind (Chinese working days for ``calendar: CN``)."""

    def __init__(self, kind: DayKind) -> None:
        self.calendar = default_calendar()
        self.kind = kind

    def adjust(self, day: date, convention: str) -> date:
        return self.calendar.adjust(day, convention, self.kind)

    def working_days_before(self, day: date, count: int) -> date:
        return self.calendar.working_days_before(day, count)


def deal_calendar(deal: m.Deal) -> BusinessCalendar:
    """SSE/SZSE: trading days; CN and weekdays: Chinese working days. Interim windows count working days."""
    if deal.dates.calendar in ("SSE", "SZSE"):
        return default_calendar()
    return _KindCalendar(DayKind.WORKING)


def load_scenario_file(path: str | Path | None) -> Scenario:
    if path is None:
        return Scenario()
    return parse_scenario(load_text(read_deal_file(path)))


def run_deal_file(ctx: Context, deal_path: str | Path, scenario_path: str | Path | None = None, *,
                  scenario: Scenario | None = None,
                  progress: Callable[[int, int], None] | None = None) -> DealRun:
    """Validate and run a deal document file (nothing is stored)."""
    ctx.require("view", None)
    deal = load_deal_file(deal_path)
    return run_deal(deal, deal_calendar(deal), scenario or load_scenario_file(scenario_path), progress=progress)


def run_plan_deal(ctx: Context, plan_code: str, scenario_path: str | Path | None = None, *,
                  progress: Callable[[int, int], None] | None = None) -> DealRun:
    """Run the plan's current deal document."""
    ctx.require("view", plan_code)
    deal = current_deal(ctx, plan_code)
    return run_deal(deal, deal_calendar(deal), load_scenario_file(scenario_path), progress=progress)


def write_deal_run(ctx: Context, run: DealRun, out: str | Path, metrics: list[dict[str, Any]] | None = None) -> Path:
    """Write the run to ``out`` (.xlsx, .csv or .json)."""
    ctx.require("download", None)
    target = Path(out)
    if target.suffix.lower() not in (".xlsx", ".csv", ".json"):
        raise ValidationFailed([Issue("unknown_format", "--out must end in .xlsx, .csv or .json",
                                      Location(field_path="out"), str(out))])
    write_run(run, target, metrics or [])
    return target
