"""`absflow cashflow repline | grid`: pool projections (registered on the cashflow group)."""

from __future__ import annotations

from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from absflow.cli.common import context
from absflow.cli.output import console, print_json, table, user_errors

_REPLINE_COLUMNS = ("begin", "sched. principal", "prepayment", "default", "loss", "recovery", "interest",
                    "net interest", "end")


def repline(
    balance: float = typer.Option(..., "--balance", help="balance in yuan"),
    rate: float = typer.Option(..., "--rate", help="gross annual rate, fraction (0.095)"),
    term: int = typer.Option(..., "--term", help="remaining term in months"),
    net_rate: float | None = typer.Option(None, "--net-rate", help="net annual rate after servicing, fraction"),
    cpr: float | None = typer.Option(None, "--cpr", help="constant prepayment rate, annual fraction (0.06)"),
    psa: float | None = typer.Option(None, "--psa", help="PSA speed, percent of the curve (150)"),
    cdr: float | None = typer.Option(None, "--cdr", help="constant default rate, annual fraction (0.02)"),
    sda: float | None = typer.Option(None, "--sda", help="SDA speed, percent of the curve (100)"),
    severity: float = typer.Option(0.0, "--severity", help="loss severity, fraction of the defaulted balance"),
    lag: int = typer.Option(0, "--lag", help="recovery lag, months from default to liquidation"),
    kind: str = typer.Option("level_payment", "--kind",
                             help="level_payment | equal_principal | interest_only | single_payment | lease"),
    age: int = typer.Option(0, "--age", help="months since origination (PSA/SDA ramp)"),
    as_json: bool = typer.Option(False, "--json", help="print the projection as JSON"),
) -> None:
    """Project one representative line month by month (money to the fen)."""
    from absflow.services import projection

    with user_errors(as_json):
        result = projection.repline(
            context(), balance=balance, rate=rate, term=term, net_rate=net_rate, cpr=cpr, psa=psa, cdr=cdr,
            sda=sda, severity=severity, lag=lag, kind=kind, age=age,
        )
    body = projection.repline_json(result)
    if as_json:
        print_json(body)
        return
    rows = [[p["period"], *(f"{p[k]:,.2f}" for k in projection.REPLINE_PERIOD_KEYS[1:])] for p in body["periods"]]
    a = result.assumptions
    title = (f"{balance:,.2f} at {rate:.4%}, {term} months — {a.prepayment.describe()}, {a.default.describe()}, "
             f"severity {severity:.0%}, lag {lag}")
    table(title, ["period", *_REPLINE_COLUMNS], rows)
    console.print(f"WAL {body['wal_years']:.4f} years · cumulative default {body['cumulative_default']:.4%} · "
                  f"cumulative loss {body['cumulative_loss']:.4%}")


def grid(
    deal: str | None = typer.Argument(None, help="deal document (YAML/JSON): run its waterfall per scenario and "
                                      "report per-tranche metrics"),
    cpr: str = typer.Option("0", "--cpr", help="CPR axis, fractions: '0,0.05,0.1' or '0:0.2:0.05'"),
    psa: str | None = typer.Option(None, "--psa", help="PSA axis instead of CPR, percent: '100,200'"),
    cdr: str = typer.Option("0", "--cdr", help="CDR axis, fractions"),
    sda: str | None = typer.Option(None, "--sda", help="SDA axis instead of CDR, percent"),
    severity: str = typer.Option("0", "--severity", help="severity axis, fractions"),
    rate_shift: str = typer.Option("0", "--rate-shift", help="loan rate shift axis, fractions (0.01 = +100 bp)"),
    lag: int = typer.Option(0, "--lag", help="recovery lag in months"),
    plan: str | None = typer.Option(None, "--plan", help="use this plan's imported pool"),
    segment_by: str | None = typer.Option(None, "--segment-by", help="pool column defining segments"),
    loans: int | None = typer.Option(None, "--synthetic", help="use a synthetic pool of this many loans"),
    balance: float | None = typer.Option(None, "--balance", help="or a rep line: balance in yuan"),
    rate: float = typer.Option(0.06, "--rate", help="rep line gross rate, fraction"),
    term: int = typer.Option(360, "--term", help="rep line term in months"),
    discount_rate: float = typer.Option(0.0, "--discount-rate", help="annual rate for the pool value, fraction"),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Dask scheduler, e.g. tcp://host:8786"),
    workers: int | None = typer.Option(None, "--workers", help="local cluster workers (default: CPU count)"),
    sequential: bool = typer.Option(False, "--sequential", help="run in this process, without Dask"),
    scenario: str | None = typer.Option(None, "--scenario", help="deal: base scenario file the grid varies"),
    price_: list[str] = typer.Option([], "--price", help="deal: TRANCHE=PRICE per 100 (repeatable); default issue"),
    yield_: list[str] = typer.Option([], "--yield", help="deal: TRANCHE=YIELD fraction (repeatable)"),
    out: str | None = typer.Option(None, "--out", help="FILE.csv | FILE.json | FILE.xlsx"),
    as_json: bool = typer.Option(False, "--json", help="print every scenario as JSON"),
) -> None:
    """Run a scenario grid (CPR × CDR × severity × rate shift) on Dask.

    With a deal document: the deal's waterfall per scenario and, per tranche, price or yield, WAL,
    modified duration, loss and principal window, and the subordinate's IRR. Without: pool-level
    metrics of --plan, --synthetic N or a --balance rep line.
    """
    from absflow.cli.cashflow_deal import _pairs
    from absflow.distributed.grid import GridSpec, axis
    from absflow.services import dealrun, projection

    with user_errors(as_json):
        try:
            spec = GridSpec(
                prepayment=axis(psa if psa is not None else cpr),
                default=axis(sda if sda is not None else cdr),
                severity=axis(severity),
                rate_shift=axis(rate_shift),
                prepayment_kind="psa" if psa is not None else "cpr",
                default_kind="sda" if sda is not None else "cdr",
                recovery_lag_periods=lag,
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        if deal is not None and (plan is not None or loans is not None or balance is not None):
            raise typer.BadParameter("a deal document brings its own pool (pool.source): drop --plan, --synthetic "
                                     "and --balance")
        if deal is not None:
            prices, yields = _pairs(price_, "--price"), _pairs(yield_, "--yield")
            results = _with_progress(as_json, lambda tick: dealrun.run_deal_grid(
                context(), deal, spec, scenario, prices=prices, yields=yields, scheduler=scheduler, workers=workers,
                sequential=sequential, progress=tick), spec.size)
            if out:
                projection.write_grid(results, out)
            _print_deal_grid(projection.grid_rows(results), out, as_json)
            return
        if plan is not None:
            pool = projection.plan_loans(context(), plan, segment_by=segment_by)
        elif loans is not None:
            pool = projection.synthetic_loans(loans)
        elif balance is not None:
            pool = projection.loans_from_repline(balance=balance, rate=rate, term=term)
        else:
            raise typer.BadParameter("give --plan, --synthetic N or --balance")
        results = _with_progress(
            as_json,
            lambda tick: projection.run_grid(
                context(), pool, spec, discount_rate=discount_rate, scheduler=scheduler, workers=workers,
                sequential=sequential, plan_code=plan, progress=tick,
            ),
            spec.size,
        )
        if out:
            projection.write_grid(results, out)
    rows = projection.grid_rows(results)
    if as_json:
        print_json({"scenarios": rows, "out": out})
        return
    columns = ["#", "prepay", "default", "severity", "shift", "WAL", "cum. default", "cum. loss", "value", "yield"]
    table(f"{len(rows)} scenarios", columns, [
        [r["index"], r["prepayment"], r["default"], r["severity"], r["rate_shift"], f"{r['wal_years']:.3f}",
         f"{r['cumulative_default']:.4%}", f"{r['cumulative_loss']:.4%}", f"{r['pool_value']:.6f}",
         f"{r['pool_yield']:.4%}"] for r in rows[:200]
    ])
    if len(rows) > 200:
        console.print(f"… {len(rows) - 200} more (use --out)")
    if out:
        console.print(f"written: {out}")


def _print_deal_grid(rows: list[dict[str, Any]], out: str | None, as_json: bool) -> None:
    if as_json:
        print_json({"scenarios": rows, "out": out})
        return
    tranches = list(dict.fromkeys(k.split(".")[0] for k in (rows[0] if rows else {}) if k.endswith(".wal_years")))
    columns = ["#", "prepay", "default", "sev.", "shift"]
    for t in tranches:
        columns += [f"{t} yield", f"{t} WAL", f"{t} loss"]
    columns += [f"{k.split('.')[0]} IRR" for k in (rows[0] if rows else {}) if k.endswith(".irr")]

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value:.3%}"

    body = []
    for r in rows[:200]:
        line = [r["index"], r["prepayment"], r["default"], r["severity"], r["rate_shift"]]
        for t in tranches:
            line += [pct(r[t + ".yield"]), f"{r[t + '.wal_years']:.2f}", f"{r[t + '.loss']:,.0f}"]
        line += [pct(r[k]) for k in r if k.endswith(".irr")]
        body.append(line)
    table(f"{len(rows)} scenarios (durations and principal windows: --json or --out)", columns, body)
    if len(rows) > 200:
        console.print(f"… {len(rows) - 200} more (use --out)")
    if out:
        console.print(f"written: {out}")


def _with_progress(quiet: bool, job: Any, total: int) -> Any:
    if quiet:
        return job(None)
    columns = (TextColumn("scenarios"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("grid", total=total)
        return job(lambda done, _total: bar.update(task, completed=done))


def register(app: typer.Typer) -> None:
    app.command("repline")(repline)
    app.command("grid")(grid)
