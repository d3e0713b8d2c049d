"""Running deals: a deal document (file or a plan's current version) + scenario → a DealRun, written out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from absflow.calendar import DayKind, default_calendar
from absflow.cashflow.periods import BusinessCalendar
from absflow.cashflow.projection import LoanArrays
from absflow.cashflow.runner import DealRun, Scenario, parse_scenario, run_deal
from absflow.deal import model as m
from absflow.deal.document import load_text
from absflow.distributed.grid import DealPayload, GridSpec, ScenarioResult, deal_metrics, run_dask, run_sequential
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


def deal_loans(ctx: Context, deal: m.Deal, *, folder: Path | None = None,
               plan_code: str | None = None) -> LoanArrays | None:
    """The deal's pool as loan arrays: a plan's imported tape (``pool.source: plan``), a tape file checked
    by the tape checker (``tape_file``, paths relative to ``folder``), or None for rep lines."""
    pool = deal.pool
    if pool.source is m.PoolSource.PLAN:
        from absflow.services.projection import plan_loans

        return plan_loans(ctx, pool.plan_code or plan_code or "")
    if pool.source is m.PoolSource.TAPE_FILE:
        return tape_file_loans(deal, folder)
    return None


def tape_file_loans(deal: m.Deal, folder: Path | None = None) -> LoanArrays:
    """``pool.tape_file`` read with ``pool.tape_mapping`` as of the deal's cut-off; every problem at once."""
    from absflow.services.projection import loans_from_frame
    from absflow.services.tapes import tape_pool_frame
    from absflow.tape.mapping import default_mapping, load_mapping
    from absflow.tape.schema import ASSET_KINDS

    def resolve(name: str) -> Path:
        path = Path(name)
        return path if path.is_absolute() or folder is None else folder / path

    tape, mapping_name = deal.pool.tape_file or "", deal.pool.tape_mapping or ""
    issues = []
    if not resolve(tape).is_file():
        issues.append(Issue("tape_not_found", f"no tape file at {resolve(tape)}", Location(field_path="pool.tape_file"),
                            tape))
    kinds = {k.value: k for k in ASSET_KINDS}
    if mapping_name not in kinds and not resolve(mapping_name).is_file():
        issues.append(Issue("mapping_not_found", f"tape_mapping is a mapping file or one of {', '.join(kinds)}; no "
                            f"file at {resolve(mapping_name)}", Location(field_path="pool.tape_mapping"), mapping_name))
    if issues:
        raise ValidationFailed(issues)
    try:
        mapping = default_mapping(kinds[mapping_name]) if mapping_name in kinds else load_mapping(
            resolve(mapping_name))
    except ValidationFailed as exc:
        raise ValidationFailed([Issue(i.code, i.message, Location(i.location.row, i.location.column,
                                                                  f"pool.tape_mapping: {i.location.field_path}"),
                                      i.value) for i in exc.issues]) from None
    frame = tape_pool_frame(resolve(tape), mapping, deal.dates.cutoff, where="pool.tape_file")
    return loans_from_frame(frame)


def _deal_and_loans(ctx: Context, deal_path: str | Path) -> tuple[m.Deal, LoanArrays | None]:
    deal = load_deal_file(deal_path)
    return deal, deal_loans(ctx, deal, folder=Path(deal_path).resolve().parent)


def run_deal_file(ctx: Context, deal_path: str | Path, scenario_path: str | Path | None = None, *,
                  scenario: Scenario | None = None,
                  progress: Callable[[int, int], None] | None = None) -> DealRun:
    """Validate and run a deal document file (nothing is stored); its pool per ``pool.source``."""
    ctx.require("view", None)
    deal, loans = _deal_and_loans(ctx, deal_path)
    scenario = scenario or load_scenario_file(scenario_path)
    return run_deal(deal, deal_calendar(deal), scenario, loans=loans, progress=progress)


def run_plan_deal(ctx: Context, plan_code: str, scenario_path: str | Path | None = None, *,
                  progress: Callable[[int, int], None] | None = None) -> DealRun:
    """Run the plan's current deal document; a ``pool.source: plan`` pool is the plan's imported tape."""
    ctx.require("view", plan_code)
    deal = current_deal(ctx, plan_code)
    loans = deal_loans(ctx, deal, plan_code=plan_code)
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
    _check_tranches(deal, {**(prices or {}), **(yields or {})})
    scenario = load_scenario_file(scenario_path)
    loans = deal_loans(ctx, deal, folder=Path(deal_path).resolve().parent)
    run = run_deal(deal, deal_calendar(deal), scenario, loans=loans)
    return run, [x.as_dict() for x in deal_metrics(run, settlement=settlement, prices=prices, yields=yields)]


def breakeven_deal_file(ctx: Context, deal_path: str | Path, tranche_id: str, scenario_path: str | Path | None = None,
                        *, variable: str = "default_multiple", high: float | None = None,
                        progress: Callable[[int], None] | None = None) -> dict[str, Any]:
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
                                  variable=kind, high=high, progress=progress,
                                  loans=deal_loans(ctx, deal, folder=Path(deal_path).resolve().parent))
    return breakeven_json(found)


def breakeven_json(found: Any) -> dict[str, Any]:
    """The breakeven answer as JSON: ``value`` is null unless a breakeven was found inside the searched range.

    ``status``: ``found`` (the tranche loses nothing up to ``value`` and loses above it),
    ``never_breaks`` (no loss anywhere in [low, high], e.g. severity 0 or no defaults: no
    breakeven exists in the range), ``already_broken`` (it loses even at ``low``);
    ``message`` says which in words.
    """
    from absflow.cashflow.pricing import BreakevenStatus

    over, low, high = found.variable.value, found.low, found.high
    if found.status is BreakevenStatus.FOUND:
        message = (f"tranche {found.tranche_id} loses nothing up to {over} = {found.value:.6g} "
                   f"and loses above it")
    elif found.status is BreakevenStatus.NEVER_BREAKS:
        message = (f"tranche {found.tranche_id} loses nothing anywhere in {over} [{low:g}, {high:g}]: no breakeven "
                   f"in that range (no loss ever occurs, e.g. with severity 0 or no defaults)")
    else:
        message = f"tranche {found.tranche_id} already loses at {over} = {low:g}: no loss-free value"
    return {"tranche": found.tranche_id, "over": over, "status": found.status.value,
            "value": round(found.value, 6) if found.status is BreakevenStatus.FOUND else None,
            "low": low, "high": high, "loss_at_value": round(found.loss_at_value_yuan, 2), "runs": found.runs,
            "message": message}


def _check_tranches(deal: m.Deal, named: dict[str, float]) -> None:
    unknown = [t for t in named if t not in {x.id for x in deal.tranches}]
    if unknown:
        raise ValidationFailed([
            Issue("unknown_tranche", f"no tranche {t!r} in the deal", Location(field_path="tranche"), t)
            for t in unknown])


def run_deal_grid(ctx: Context, deal_path: str | Path, spec: GridSpec, scenario_path: str | Path | None = None, *,
                  settlement: date | None = None, prices: dict[str, float] | None = None,
                  yields: dict[str, float] | None = None, scheduler: str | None = None, workers: int | None = None,
                  sequential: bool = False,
                  progress: Callable[[int, int], None] | None = None) -> list[ScenarioResult]:
    """Every scenario of ``spec`` run through the deal's waterfall and priced per tranche, on Dask unless
    ``sequential`` (a local cluster, or the scheduler at ``scheduler``); results in scenario order."""
    ctx.require("view", None)
    deal, loans = _deal_and_loans(ctx, deal_path)
    _check_tranches(deal, {**(prices or {}), **(yields or {})})
    payload = DealPayload(deal=deal, calendar=deal_calendar(deal), loans=loans, base=load_scenario_file(scenario_path),
                          settlement=settlement, prices=dict(prices or {}), yields=dict(yields or {})).with_periods()
    scenarios = spec.scenarios()
    if sequential:
        return run_sequential(payload, scenarios, deal_metrics, progress)
    return run_dask(payload, scenarios, deal_metrics, scheduler=scheduler, workers=workers, progress=progress)


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
