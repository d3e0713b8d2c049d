"""`absflow cashflow run | price | breakeven`: deal-level cash flows (registered on the cashflow group)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn

from absflow.cli.common import context
from absflow.cli.output import console, print_json, table, user_errors


def _progress_run(deal_path: str | None, plan: str | None, scenario: str | None, quiet: bool):  # type: ignore[no-untyped-def]
    from absflow.services import dealrun

    def go(progress: Callable[[int, int], None] | None) -> Any:
        if plan:
            return dealrun.run_plan_deal(context(), plan, scenario, progress=progress)
        if not deal_path:
            raise typer.BadParameter("give a deal document or --plan CODE")
        return dealrun.run_deal_file(context(), deal_path, scenario, progress=progress)

    if quiet:
        return go(None)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("periods", total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return go(tick)


def run(
    deal: str | None = typer.Argument(None, help="deal document (YAML/JSON)"),
    plan: str | None = typer.Option(None, "--plan", help="run this plan's current deal document instead"),
    scenario: str | None = typer.Option(None, "--scenario", help="scenario file (YAML/JSON)"),
    out: str | None = typer.Option(None, "--out", help="FILE.xlsx | FILE.csv | FILE.json"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Run a deal's waterfall period by period; write the workbook a structurer opens first."""
    from absflow.reports.deal_run import run_json, summary_rows
    from absflow.services import dealrun

    with user_errors(as_json):
        result = _progress_run(deal, plan, scenario, as_json)
        metrics = dealrun.run_metrics(context(), result)
        if out:
            dealrun.write_deal_run(context(), result, out, metrics)
    if as_json:
        body = run_json(result, metrics)
        print_json({"deal": body["deal"], "scenario": body["scenario"], "summary": body["summary"],
                    "periods": len(result.periods), "out": out})
        return
    table(f"{result.deal.name} — {result.scenario.name}",
          ["tranche", "class", "size", "interest", "principal", "residual", "unpaid at end", "yield @ issue",
           "WAL"],
          [(r["tranche"], r["class"], r["size"], r["interest_paid"], r["principal_paid"], r["residual_paid"],
            r["unpaid_at_end"], r.get("yield"), r.get("wal_years")) for r in summary_rows(result, metrics)])
    if out:
        console.print(f"written: {Path(out)}")


def _pairs(values: list[str], option: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for text in values:
        tranche, sep, number = text.partition("=")
        try:
            out[tranche.strip()] = float(number)
        except ValueError:
            raise typer.BadParameter(f"{option} takes TRANCHE=NUMBER, got {text!r}") from None
        if not sep:
            raise typer.BadParameter(f"{option} takes TRANCHE=NUMBER, got {text!r}")
    return out


def price(
    deal: str = typer.Argument(..., help="deal document (YAML/JSON)"),
    scenario: str | None = typer.Option(None, "--scenario", help="scenario file (YAML/JSON)"),
    price_: list[str] = typer.Option([], "--price", help="TRANCHE=PRICE per 100 (repeatable); default issue price"),
    yield_: list[str] = typer.Option([], "--yield", help="TRANCHE=YIELD as a fraction (repeatable)"),
    settlement: str | None = typer.Option(None, "--settlement", help="YYYY-MM-DD; default establishment date"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Per-tranche yield ↔ price, WAL, Macaulay/modified duration, convexity, principal window, loss, XIRR."""
    from datetime import date

    from absflow.services import dealrun

    prices, yields = _pairs(price_, "--price"), _pairs(yield_, "--yield")
    try:
        settle = date.fromisoformat(settlement) if settlement else None
    except ValueError:
        raise typer.BadParameter(f"--settlement is YYYY-MM-DD, got {settlement!r}") from None
    with user_errors(as_json):
        result, metrics = dealrun.price_deal_file(context(), deal, scenario, settlement=settle, prices=prices,
                                                  yields=yields)
    if as_json:
        print_json({"deal": result.deal.name, "scenario": result.scenario.name, "tranches": metrics})
        return
    table(f"{result.deal.name} — {result.scenario.name}",
          ["tranche", "price", "yield", "WAL", "Macaulay", "modified", "convexity", "principal window", "loss",
           "XIRR"],
          [(x["tranche"], _fmt(x["price"], 4), _fmt(x["yield"], 6), _fmt(x["wal_years"], 4),
            _fmt(x["macaulay_duration"], 4), _fmt(x["modified_duration"], 4), _fmt(x["convexity"], 4),
            " → ".join(x["principal_window"] or []), f"{x['loss']:.2f}",
            "" if x["xirr"] is None else f"{x['xirr']:.6f}") for x in metrics])


def _fmt(value: float | None, places: int) -> str:
    return "—" if value is None else f"{value:.{places}f}"


def breakeven(
    deal: str = typer.Argument(..., help="deal document (YAML/JSON)"),
    tranche: str = typer.Option(..., "--tranche", help="tranche id, e.g. A"),
    over: str = typer.Option("default_multiple", "--over", help="default_multiple | cdr | severity"),
    high: float | None = typer.Option(None, "--high", help="upper end of the search"),
    scenario: str | None = typer.Option(None, "--scenario", help="scenario file (YAML/JSON)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The largest default multiple (or CDR, or severity) at which the tranche loses nothing."""
    from absflow.services import dealrun

    with user_errors(as_json):
        if as_json:
            found = dealrun.breakeven_deal_file(context(), deal, tranche, scenario, variable=over, high=high)
        else:
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True) as bar:
                task = bar.add_task("searching: 0 runs of the deal", total=None)
                found = dealrun.breakeven_deal_file(
                    context(), deal, tranche, scenario, variable=over, high=high,
                    progress=lambda runs: bar.update(task, description=f"searching: {runs} runs of the deal"))
    if as_json:
        print_json(found)
        return
    console.print(f"{found['message']} ({found['status']}; loss at {found['over']} = "
                  f"{found['value'] if found['value'] is not None else found['high']}: {found['loss_at_value']} yuan; "
                  f"{found['runs']} runs)")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("price")(price)
    app.command("breakeven")(breakeven)
