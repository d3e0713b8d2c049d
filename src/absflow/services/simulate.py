"""``absflow simulate``: drive a revolving margin-loan plan through its life on synthetic days.

A new plan is created for the deal, its initial pool (synthetic margin loans summing to the
deal's initial balance) is imported through the tape importer, and then every trading day
the synthetic servicer's files are stored (``store_inputs``) and the day is run with the
real daily service — the same code path as production, on the configured database.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from absflow.calendar import Calendar
from absflow.deal import Deal, parse_deal_text
from absflow.domain.issues import Issue, Location, ValidationFailed
from absflow.domain.money import format_yuan
from absflow.domain.plan import AssetType
from absflow.revolving.daily import DayContext
from absflow.revolving.synthetic import MarketConfig, SyntheticMarket
from absflow.services import plans as plan_service
from absflow.services.calendar import service_calendar
from absflow.services.context import Context
from absflow.services.daily import DayRun, batch_gc, first_day, run_day, store_inputs
from absflow.services.deals import attach_deal
from absflow.services.plans import load_plan_row
from absflow.services.tapes import import_tape
from absflow.store.daily import DailyPlanStateRow
from absflow.store.db import read_transaction

TAPE_COLUMNS = {
    "contract_id": "contract_id", "client_id": "client_id", "principal_outstanding": "principal_outstanding_fen",
    "financing_rate": "financing_rate", "start_date": "start_date", "due_date": "due_date", "status": "status",
    "extension_count": "extension_count", "securities_market_value": None, "region": "region",
    "industry": "industry", "branch": "branch",
}


@dataclass
class SimulationReport:
    plan_code: str
    seed: int
    days_run: int
    first_day: date | None
    last_day: date | None
    final_status: str
    utilization_mean: str
    purchased_total: str
    purchase_states: dict[str, int]
    trigger_hits: list[str]
    distributions: list[dict[str, str]]
    repurchases: int
    seconds: float = 0.0
    runs: list[DayRun] = field(default_factory=list)
    #: Wall and CPU seconds by phase: ``setup`` (plan, deal, initial pool tape import),
    #: ``synthetic`` (the synthetic servicer making each day's files: the harness, not the
    #: system), ``load`` (storing the day's files: ``store_inputs``), ``run`` (``run_day``).
    timings: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan_code": self.plan_code, "seed": self.seed, "days_run": self.days_run,
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "final_status": self.final_status, "fund_utilization_mean": self.utilization_mean,
            "purchased_total": self.purchased_total, "purchase_states": self.purchase_states,
            "trigger_hits": self.trigger_hits, "distributions": self.distributions,
            "repurchase_instructions": self.repurchases, "seconds": round(self.seconds, 2),
        }


def _initial_tape(market: SyntheticMarket, day: date, total_fen: int, loans: int, directory: Path,
                  cap_fen: int | None) -> Path:
    """A margin-loan tape of ``loans`` contracts summing exactly to ``total_fen``, none above ``cap_fen``."""
    frame = market.loans(loans, day)
    weights = frame.get_column("principal_outstanding_fen").cast(pl.Float64)
    limit = min(cap_fen or total_fen, max(total_fen // loans * 3, total_fen // loans + 1))
    scaled = (weights / weights.sum() * total_fen).floor().clip(upper_bound=limit).cast(pl.Int64)
    for _ in range(20):  # spread what clipping removed over the loans below the limit
        short = total_fen - int(scaled.sum())
        room = (limit - scaled).clip(lower_bound=0)
        if short <= 0 or int(room.sum()) == 0:
            break
        add = (room.cast(pl.Float64) / float(room.sum()) * short).floor().cast(pl.Int64)
        scaled = scaled + add.clip(upper_bound=room)
    short = total_fen - int(scaled.sum())
    position = int((limit - scaled).arg_max() or 0)
    scaled = scaled.scatter(position, int(scaled[position]) + short)
    frame = frame.with_columns(scaled.alias("principal_outstanding_fen"))
    tape = frame.select(
        "contract_id", "client_id",
        (pl.col("principal_outstanding_fen") / 100).alias("principal_outstanding"),
        "financing_rate", "start_date", "due_date", "status", "extension_count",
        (pl.col("principal_outstanding_fen") / 100 * pl.col("maintenance_ratio")).round(2)
        .alias("securities_market_value"),
        "region", "industry", "branch",
    )
    path = directory / "initial_pool.csv"
    tape.write_csv(path)
    return path


#: Contract numbers of one simulated plan's block (its initial pool and every day's candidates:
#: a 370-day life at 200,000 loans and 20,000 candidates a day draws ≈ 7.5 million).
CONTRACTS_PER_PLAN = 10_000_000


def simulate(
    ctx: Context,
    deal_text: str,
    *,
    days: int,
    seed: int,
    loans: int | None = None,
    candidates_per_day: int | None = None,
    clients: int | None = None,
    plan_code: str | None = None,
    progress: Callable[[DayRun], None] | None = None,
    checkpoint: bool = False,
    market: Mapping[str, float | int | str] | None = None,
) -> SimulationReport:
    """Create a plan for the deal (unless ``plan_code`` is given), import a synthetic initial
    pool, and run ``days`` trading days of synthetic servicer data. Deterministic per seed.
    ``market``: parameters of the synthetic market to change (``MarketConfig`` fields, e.g.
    ``volatility_annual``, ``jump_intensity_annual``, ``full_repay_prob``) — a stressed life."""
    import time

    started = time.perf_counter()
    timings: dict[str, dict[str, float]] = {k: {"wall": 0.0, "cpu": 0.0} for k in ("setup", "synthetic", "load", "run")}
    mark = [time.perf_counter(), time.process_time()]

    def lap(phase: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        timings[phase]["wall"] += wall - mark[0]
        timings[phase]["cpu"] += cpu - mark[1]
        mark[:] = [wall, cpu]

    deal = parse_deal_text(deal_text)
    calendar = service_calendar()
    initial_fen = int((deal.pool.initial_balance or sum((t.size for t in deal.tranches), Decimal(0))) * 100)
    mean_yuan = 300_000.0
    count = loans or max(50, min(200_000, initial_fen // int(mean_yuan * 100)))
    cap = _loan_cap(deal)
    if cap:  # enough contracts that none needs to exceed the single-loan cap
        count = max(count, -(-initial_fen * 3 // (cap * 2)))
    config = market_config(market or {}, clients=clients or max(500, count // 2),
                           candidates_per_day=candidates_per_day or max(100, count // 20),
                           mean_loan_yuan=initial_fen / 100 / count)
    created = plan_code is None
    if plan_code is None:
        plan_code = plan_service.create_plan(ctx, name=deal.name, asset_type=AssetType.MARGIN_LOAN).code
        attach_deal(ctx, plan_code, deal_text)
    with read_transaction(ctx.engine) as session:
        plan_id = load_plan_row(session, plan_code).id
    # The plan's contracts are numbered from its own block: simulated plans in one database never
    # share an asset (an asset is in one plan's pool at a time; a second run would be refused).
    synthetic = SyntheticMarket(config, seed=seed, next_contract=plan_id * CONTRACTS_PER_PLAN + 1)
    if created:
        with tempfile.TemporaryDirectory() as tmp:
            tape = _initial_tape(synthetic, deal.dates.establishment, initial_fen, count, Path(tmp), _loan_cap(deal))
            import_tape(ctx, plan_code, tape, _margin_mapping(),
                        deal.dates.establishment)
    lap("setup")
    schedule = life_days(deal, calendar)[:days]
    runs: list[DayRun] = []
    cache: dict[str, Any] = {}
    from absflow.services.daily import (  # the day's pool and open instructions, shared with the run
        cached_open_repurchases,
        cached_pool,
        pool_version,
    )

    with batch_gc():  # days back to back: the cyclic collector's passes put off
        for index, day in enumerate(schedule):
            with read_transaction(ctx.engine) as session:
                plan_row = load_plan_row(session, plan_code)
                state_row = session.get(DailyPlanStateRow, plan_row.id)
                version = pool_version(session, plan_row.id, state_row)
                pool = cached_pool(session, plan_row.id, version, cache)
                due = [(item.asset_id, item.amount_fen - item.received_fen)
                       for item in cached_open_repurchases(session, plan_row.id, version, cache) if item.due_on <= day]
            lap("load")  # the pool and the repurchases due, read from the store (the first day: the whole pool)
            next_day = schedule[index + 1] if index + 1 < len(schedule) else calendar.next_trading_day(day)
            frames = synthetic.day_inputs(day, pool, next_day, sorted(due))
            frames = {k: v for k, v in frames.items() if v.height}
            lap("synthetic")
            store_inputs(ctx, plan_code, day, frames, cache=cache)
            lap("load")
            run = run_day(ctx, plan_code, day, allow_empty=True, checkpoint=False, cache=cache)
            lap("run")
            runs.append(run)
            if progress is not None:
                progress(run)
            if run.status == "ended":
                break
    if checkpoint and runs:
        from absflow.services.daily import daily_checkpoint

        runs[-1].checkpoint = daily_checkpoint(ctx, plan_code)
    report = _report(plan_code, seed, runs, time.perf_counter() - started)
    report.timings = timings
    return report


def life_days(deal: Deal, calendar: Calendar) -> list[date]:
    """The trading days of the plan's life: from the first after establishment through the last
    payment date (the expected maturity rolled to a business day), so the final distribution is
    part of it."""
    first = first_day(calendar, deal)
    payments = DayContext.build("", deal, calendar).payment_dates
    maturity = deal.dates.expected_maturity or deal.dates.legal_maturity
    return calendar.trading_days(first, max([maturity, *(p for p in payments if p <= deal.dates.legal_maturity)]))


def market_config(changes: Mapping[str, float | int | str], **sizes: Any) -> MarketConfig:
    """The synthetic market's parameters: the defaults, ``sizes`` (from the plan), then ``changes``
    (numbers, or their text as given on the command line). Unknown names and values that are not
    numbers are refused, each with its field path (``market.<name>``)."""
    fields = {f.name: f for f in dataclass_fields(MarketConfig)}
    values: dict[str, Any] = dict(sizes)
    issues = []
    for name, raw in changes.items():
        where = Location(field_path=f"market.{name}")
        kind = fields[name].type if name in fields else None
        if kind is None:
            issues.append(Issue("unknown_field", f"no market parameter {name!r}; one of: {', '.join(fields)}",
                                where, name))
            continue
        try:
            value = int(raw) if kind in (int, "int") else float(raw)
        except (TypeError, ValueError):
            issues.append(Issue("not_a_number", f"market.{name} must be a number", where, str(raw)))
            continue
        values[name] = value
    if issues:
        raise ValidationFailed(issues)
    return MarketConfig(**values)


def _loan_cap(deal: Any) -> int | None:
    for criterion in deal.revolving.eligibility if deal.revolving else ():
        if criterion.rule.value == "max_single_loan_principal":
            return int(Decimal(str(criterion.value)) * 100)
    return None


def _margin_mapping() -> Any:
    from absflow.tape.mapping import default_mapping

    return default_mapping("margin_loan")


def _report(plan_code: str, seed: int, runs: list[DayRun], seconds: float) -> SimulationReport:
    states: dict[str, int] = {}
    hits: list[str] = []
    distributions: list[dict[str, str]] = []
    utilization: list[Decimal] = []
    purchased = 0
    repurchases = 0
    for run in runs:
        states[run.purchase_state] = states.get(run.purchase_state, 0) + 1
        for note in run.notes:
            hit = f"{run.business_date}: {note}"
            if note.startswith(("paused", "revolving stopped", "status ")) and hit not in hits:
                hits.append(hit)
        metrics = run.summary.get("metrics", {})
        if run.purchase_state in ("purchased", "nothing_eligible") and metrics.get("fund_utilization"):
            utilization.append(Decimal(metrics["fund_utilization"]))
        purchased += int(Decimal(run.summary["purchased"]["price"]) * 100)
        repurchases += int(run.summary.get("repurchases_instructed", 0))
        for item in run.summary.get("distributions", []):
            distributions.append({"date": run.business_date.isoformat(), **item})
    mean = (sum(utilization, Decimal(0)) / len(utilization)).quantize(Decimal("0.0001")) if utilization else Decimal(0)
    return SimulationReport(
        plan_code=plan_code, seed=seed, days_run=len(runs),
        first_day=runs[0].business_date if runs else None, last_day=runs[-1].business_date if runs else None,
        final_status=runs[-1].status if runs else "not run", utilization_mean=str(mean),
        purchased_total=format_yuan(purchased), purchase_states=states, trigger_hits=hits[:50],
        distributions=distributions, repurchases=repurchases, seconds=seconds, runs=runs,
    )
