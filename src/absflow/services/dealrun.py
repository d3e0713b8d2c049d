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
from absflow.domain.issues import AbsflowError, Issue, Location, ValidationFailed
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
    """Run the plan's current deal document; a ``pool.source: plan`` pool is the plan's imported tape."""
    ctx.require("view", plan_code)
    deal = current_deal(ctx, plan_code)
    loans = None
    if deal.pool.source is m.PoolSource.PLAN:
        from absflow.services.projection import plan_loans

        loans = plan_loans(ctx, deal.pool.plan_code or plan_code)
    return run_deal(deal, deal_calendar(deal), load_scenario_file(scenario_path), loans=loans, progress=progress)


def write_deal_run(ctx: Context, run: DealRun, out: str | Path, metrics: list[dict[str, Any]] | None = None) -> Path:
    """Write the run to ``out`` (.xlsx, .csv or .json)."""
    ctx.require("download", None)
    target = Path(out)
    if target.suffix.lower() not in (".xlsx", ".csv", ".json"):
        raise ValidationFailed([Issue("unknown_format", "--out must end in .xlsx, .csv or .json",
                                      Location(field_path="out"), str(out))])
    write_run(run, target, metrics or [])
    return target


def _require_pricing() -> None:
    if not _pricing_available():
        raise AbsflowError("the pricing functions (absflow.cashflow.pricing) are not installed", code="unavailable")


def price_deal_file(ctx: Context, deal_path: str | Path, scenario_path: str | Path | None = None, *,
                    settlement: date | None = None, prices: dict[str, float] | None = None,
                    yields: dict[str, float] | None = None) -> tuple[DealRun, list[dict[str, Any]]]:
    """Run a deal and price its tranches (at the issue price unless prices or yields are given)."""
    ctx.require("view", None)
    _require_pricing()
    from absflow.cashflow.deal_pricing import deal_metrics

    deal = load_deal_file(deal_path)
    unknown = [t for t in {**(prices or {}), **(yields or {})} if t not in {x.id for x in deal.tranches}]
    if unknown:
        raise ValidationFailed([
            Issue("unknown_tranche", f"no tranche {t!r} in the deal", Location(field_path="tranche"), t)
            for t in unknown])
    run = run_deal(deal, deal_calendar(deal), load_scenario_file(scenario_path))
    return run, [x.as_dict() for x in deal_metrics(run, settlement=settlement, prices=prices, yields=yields)]


def breakeven_deal_file(ctx: Context, deal_path: str | Path, tranche_id: str, scenario_path: str | Path | None = None,
                        *, variable: str = "default_multiple", high: float | None = None) -> dict[str, Any]:
    """The largest default multiple (or CDR, or severity) at which ``tranche_id`` loses nothing."""
    ctx.require("view", None)
    _require_pricing()
    from absflow.cashflow.deal_pricing import BreakevenVariable, breakeven_for_tranche

    deal = load_deal_file(deal_path)
    issues = []
    if tranche_id not in {t.id for t in deal.tranches}:
        issues.append(Issue("unknown_tranche", f"no tranche {tranche_id!r} in the deal",
                            Location(field_path="tranche"), tranche_id))
    try:
        kind = BreakevenVariable(variable)
    except ValueError:
        issues.append(Issue("unknown_variable", "over is one of default_multiple, cdr, severity",
                            Location(field_path="over"), variable))
    if issues:
        raise ValidationFailed(issues)
    found = breakeven_for_tranche(deal, deal_calendar(deal), tranche_id, scenario=load_scenario_file(scenario_path),
                                  variable=kind, high=high)
    return {"tranche": found.tranche_id, "over": found.variable.value, "value": round(found.value, 6),
            "status": found.status.value, "loss_at_value": round(found.loss_at_value_yuan, 2), "runs": found.runs}


def _pricing_available() -> bool:
    """The generic pricing functions (``absflow.cashflow.pricing``) are installed."""
    import importlib.util

    return importlib.util.find_spec("absflow.cashflow.pricing") is not None


def run_metrics(ctx: Context, run: DealRun) -> list[dict[str, Any]]:
    """Per-tranche metrics of a run at the issue prices (for the workbook's summary); [] without pricing."""
    ctx.require("view", None)
    if not _pricing_available():
        return []
    from absflow.cashflow.deal_pricing import deal_metrics

    return [x.as_dict() for x in deal_metrics(run)]
