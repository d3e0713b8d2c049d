"""Daily runs, simulations and scenario grids as background jobs (the API's and the pages' way
to `absflow daily run`, `absflow simulate` and `absflow cashflow grid`).

Each handler calls the same service function as the CLI command, acting for the user who
submitted the job, and reports progress as it goes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from absflow.domain.issues import Issue, Location, ValidationFailed
from absflow.services import daily as daily_service
from absflow.services import jobs, transfers
from absflow.services.access import grant_to_creator
from absflow.services.context import Context
from absflow.services.users import access_changed
from absflow.store.db import transaction

DAILY_RUN, SIMULATE, GRID = "daily.run", "simulate", "cashflow.grid"
#: The largest simulation and grid a server takes as one job.
MAX_SIMULATION_DAYS = 1000
MAX_GRID_SCENARIOS = 5000


def run_json(run: daily_service.DayRun) -> dict[str, Any]:
    """A day's run as `absflow daily run --json` prints it."""
    return {"business_date": run.business_date.isoformat(), "status": run.status,
            "purchase_state": run.purchase_state, "already_done": run.already_done, "log_index": run.log_index,
            "checkpoint": run.checkpoint, "summary": run.summary, "notes": run.notes}


# ---------------------------------------------------------------- daily run


def submit_daily_run(ctx: Context, plan_code: str, *, business_date: date | None, through: date | None,
                     allow_empty: bool = False) -> jobs.Job:
    """Queue one day's run, or every pending day through a date (needs edit)."""
    ctx.require("edit", plan_code)
    if (business_date is None) == (through is None):
        raise ValidationFailed([Issue("usage", "give either business_date or through", Location(
            field_path="business_date"))])
    return jobs.submit(ctx, DAILY_RUN, plan_code, {
        "plan_code": plan_code, "business_date": business_date.isoformat() if business_date else None,
        "through": through.isoformat() if through else None, "allow_empty": allow_empty})


def _daily_run(ctx: Context, params: Mapping[str, Any], _blob: bytes | None, progress: jobs.Progress
               ) -> Mapping[str, Any]:
    code, allow_empty = params["plan_code"], bool(params.get("allow_empty"))
    if params.get("business_date"):
        progress(5, f"running {params['business_date']}")
        runs = [daily_service.run_day(ctx, code, date.fromisoformat(params["business_date"]), allow_empty=allow_empty)]
    else:
        through = date.fromisoformat(params["through"])
        done = daily_service.list_days(ctx, code)
        start = done[-1].business_date if done else None

        def tick(run: daily_service.DayRun) -> None:
            first = start or run.business_date
            span = max((through - first).days, 1)
            progress(min(99, int(100 * (run.business_date - first).days / span)),
                     f"{run.business_date} {run.status} {run.purchase_state}")

        runs = daily_service.run_through(ctx, code, through, allow_empty=allow_empty, progress=tick)
    return {"plan_code": code, "runs": [run_json(r) for r in runs]}


# ---------------------------------------------------------------- simulate


def submit_simulation(ctx: Context, deal_text: str, *, days: int, seed: int, loans: int | None = None) -> jobs.Job:
    """Queue `absflow simulate` on a deal document (creates a plan: needs create)."""
    ctx.require("create", None)
    issues = []
    if not 1 <= days <= MAX_SIMULATION_DAYS:
        issues.append(Issue("out_of_range", f"days is 1 to {MAX_SIMULATION_DAYS}", Location(field_path="days"),
                            str(days)))
    if loans is not None and not 1 <= loans <= 200_000:
        issues.append(Issue("out_of_range", "loans is 1 to 200,000", Location(field_path="loans"), str(loans)))
    if issues:
        raise ValidationFailed(issues)
    from absflow.deal.document import parse_deal_text

    parse_deal_text(deal_text)  # a bad document is refused now, with every problem, not in the job
    return jobs.submit(ctx, SIMULATE, None, {"days": days, "seed": seed, "loans": loans}, deal_text.encode("utf-8"))


def _simulate(ctx: Context, params: Mapping[str, Any], blob: bytes | None, progress: jobs.Progress
              ) -> Mapping[str, Any]:
    from absflow.services.simulate import simulate

    days = int(params["days"])
    count = [0]

    def tick(run: daily_service.DayRun) -> None:
        count[0] += 1
        progress(min(99, int(100 * count[0] / days)), f"{run.business_date} {run.status} {run.purchase_state}")

    # The submitter may create plans (checked when it submitted and again now); the simulation makes
    # a plan of its own and touches no other, so it runs as the local operator, and the submitter is
    # then granted the new plan as its initiator.
    operator = Context(engine=ctx.engine, clock=ctx.clock)
    report = simulate(operator, (blob or b"").decode("utf-8"), days=days, seed=int(params["seed"]),
                      loans=params.get("loans"), progress=tick)
    with transaction(ctx.engine) as session:
        granted = grant_to_creator(session, ctx, report.plan_code, ctx.now())
    if granted:
        access_changed()
    return report.as_dict()


# ---------------------------------------------------------------- grid


GRID_FIELDS = ("cpr", "psa", "cdr", "sda", "severity", "rate_shift")


def _spec(params: Mapping[str, Any]) -> Any:
    from absflow.distributed.grid import GridSpec, axis

    try:
        return GridSpec(
            prepayment=axis(params.get("psa") or params.get("cpr") or "0"),
            default=axis(params.get("sda") or params.get("cdr") or "0"),
            severity=axis(params.get("severity") or "0"), rate_shift=axis(params.get("rate_shift") or "0"),
            prepayment_kind="psa" if params.get("psa") else "cpr", default_kind="sda" if params.get("sda") else "cdr",
            recovery_lag_periods=int(params.get("lag") or 0))
    except ValueError as exc:
        raise ValidationFailed([Issue("bad_axis", str(exc), Location(field_path="axes"))]) from None


def submit_grid(ctx: Context, params: Mapping[str, Any]) -> jobs.Job:
    """Queue `absflow cashflow grid` (needs view on the plan whose pool it projects, if any)."""
    plan_code = params.get("plan")
    ctx.require("view", plan_code)
    sources = [k for k in ("deal", "plan", "synthetic", "balance") if params.get(k) is not None]
    if len(sources) != 1:
        raise ValidationFailed([Issue("usage", "give exactly one of deal, plan, synthetic, balance",
                                      Location(field_path="plan"))])
    if params.get("deal") is not None:
        transfers.remote_deal(params["deal"])
    size = _spec(params).size
    if size > MAX_GRID_SCENARIOS:
        raise ValidationFailed([Issue("too_large", f"at most {MAX_GRID_SCENARIOS} scenarios per job",
                                      Location(field_path="axes"), str(size))])
    return jobs.submit(ctx, GRID, plan_code, dict(params))


def _grid(ctx: Context, params: Mapping[str, Any], _blob: bytes | None, progress: jobs.Progress
          ) -> Mapping[str, Any]:
    from absflow.services import projection

    spec = _spec(params)

    def tick(done: int, total: int) -> None:
        progress(int(95 * done / max(total, 1)), f"scenario {done}/{total}")

    if params.get("deal") is not None:
        results = transfers.deal_grid(ctx, transfers.remote_deal(params["deal"]), params.get("scenario"), spec,
                                      prices=params.get("prices") or {}, yields=params.get("yields") or {},
                                      progress=tick)
        return {"scenarios": projection.grid_rows(results), jobs.OUTPUT_KEY: ("grid.xlsx", _workbook(results))}
    if params.get("plan") is not None:
        pool = projection.plan_loans(ctx, params["plan"], segment_by=params.get("segment_by"))
    elif params.get("synthetic") is not None:
        pool = projection.synthetic_loans(int(params["synthetic"]))
    else:
        pool = projection.loans_from_repline(balance=float(params["balance"]), rate=float(params.get("rate", 0.06)),
                                             term=int(params.get("term", 360)))
    results = projection.run_grid(
        ctx, pool, spec, discount_rate=float(params.get("discount_rate") or 0.0), sequential=True,
        plan_code=params.get("plan"), progress=tick)
    return {"scenarios": projection.grid_rows(results), jobs.OUTPUT_KEY: ("grid.xlsx", _workbook(results))}


def _workbook(results: Any) -> bytes:
    from absflow.services import projection

    with tempfile.TemporaryDirectory(prefix="absflow-grid-") as folder:
        return projection.write_grid(results, Path(folder) / "grid.xlsx").read_bytes()


def register() -> None:
    """Register the job kinds (called by the server at start)."""
    jobs.register(DAILY_RUN, "edit", _daily_run)
    jobs.register(SIMULATE, "create", _simulate)
    jobs.register(GRID, "view", _grid)
