"""`absflow cashflow run | price | breakeven`: deal-level cash flows (registered on the cashflow group)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress

from absflow.cli.common import context
from absflow.cli.output import console, print_json, table, user_errors


def _progress_run(deal_path: str, scenario: str | None, quiet: bool):  # type: ignore[no-untyped-def]
    from absflow.services import dealrun

    if quiet:
        return dealrun.run_deal_file(context(), deal_path, scenario)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("periods", total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return dealrun.run_deal_file(context(), deal_path, scenario, progress=tick)


def run(
    deal: str = typer.Argument(..., help="deal document (YAML/JSON)"),
    scenario: str | None = typer.Option(None, "--scenario", help="scenario file (YAML/JSON)"),
    out: str | None = typer.Option(None, "--out", help="FILE.xlsx | FILE.csv | FILE.json"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Run a deal's waterfall period by period; write the workbook a structurer opens first."""
    from absflow.reports.deal_run import run_json, summary_rows
    from absflow.services import dealrun

    with user_errors(as_json):
        result = _progress_run(deal, scenario, as_json)
        if out:
            dealrun.write_deal_run(context(), result, out)
    if as_json:
        body = run_json(result)
        print_json({"deal": body["deal"], "scenario": body["scenario"], "summary": body["summary"],
                    "periods": len(result.periods), "out": out})
        return
    table(f"{result.deal.name} — {result.scenario.name}",
          ["tranche", "class", "size", "interest", "principal", "residual", "unpaid at end"],
          [(r["tranche"], r["class"], r["size"], r["interest_paid"], r["principal_paid"], r["residual_paid"],
            r["unpaid_at_end"]) for r in summary_rows(result)])
    if out:
        console.print(f"written: {Path(out)}")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
