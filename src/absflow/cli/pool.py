"""`absflow pool …`: pool analytics of a plan (summary, strat, concentration, vintage, rolls)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from absflow.cli.common import context
from absflow.cli.lazy import LazyModule, service
from absflow.cli.output import console, print_json, table, user_errors

if TYPE_CHECKING:  # the real modules, for the type checker; at run time imported on first use
    from absflow.reports import pool_tables as tables
    from absflow.services import pool as pool_service
else:
    pool_service = service("pool")
    tables = LazyModule("absflow.reports.pool_tables")

app = typer.Typer(help="Pool analytics: summary, stratifications, concentration, vintage curves, roll rates.",
                  no_args_is_help=True)


def _edges(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [part for part in (p.strip() for p in text.split(",")) if part] or [""]


@app.command("summary")
def summary(
    code: str,
    warning_line: float | None = typer.Option(
        None, "--warning-line", help="Margin warning line, ratio (default: the deal's, else 1.50)"),
    liquidation_line: float | None = typer.Option(
        None, "--liquidation-line", help="Margin liquidation line, ratio (default: the deal's, else 1.30)"),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON (money as strings in yuan)"),
) -> None:
    """Count, balances, weighted averages; margin loans: maintenance ratio and shares below the lines."""
    with user_errors(as_json):
        s = pool_service.summary(context(), code, warning_line=warning_line, liquidation_line=liquidation_line)
    if as_json:
        print_json(s.as_dict())
    else:
        table(f"{code} pool summary", ["figure", "value"], tables.summary_rows(s))


@app.command("strat")
def strat(
    code: str,
    by: str = typer.Option(..., "--by", help="Field, e.g. balance, rate, remaining_term_months, region"),
    edges: str | None = typer.Option(None, "--edges", help="Bucket edges a,b,c (money in yuan, rates as fractions)"),
    as_json: bool = typer.Option(False, "--json", help='Print {"rows": [...], "total": {...}}'),
    xlsx: Path | None = typer.Option(None, "--xlsx", help="Write the table to this xlsx file"),
) -> None:
    """A row per bucket: count, balance, their shares, WA rate and WA remaining term."""
    with user_errors(as_json):
        if xlsx is not None:
            xlsx.write_bytes(pool_service.strat_workbook(context(), code, by, _edges(edges)))
            console.print(f"written {xlsx}")
            return
        s = pool_service.strat(context(), code, by, _edges(edges))
    if as_json:
        print_json(s.as_dict())
    else:
        table(f"{code} stratification by {s.field}", tables.STRAT_COLUMNS, tables.strat_rows(s))


@app.command("concentration")
def concentration(
    code: str,
    top: int = typer.Option(10, "--top", min=1, help="How many obligors (and regions, industries) to list"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Top-N obligors, largest obligor share, HHI; top regions and industries."""
    with user_errors(as_json):
        c = pool_service.concentration(context(), code, top_n=top)
    if as_json:
        print_json(c.as_dict())
        return
    table(f"{code} concentration", ["figure", "value"], [
        ("obligors", f"{c.obligor_count:,}"),
        ("largest obligor share", tables.pct(c.largest_obligor_share, 3)),
        (f"top {c.top_n} obligors share", tables.pct(c.top_obligors_share, 3)),
        ("HHI (obligor balances)", "" if c.hhi is None else f"{c.hhi:.6f}"),
        ("effective number of obligors (1/HHI)", tables.num(c.effective_obligors, 1)),
    ])
    columns = ["rank", "key", "assets", "balance (yuan)", "% balance"]
    table(f"top {c.top_n} obligors", columns,
          [(i, s.key, f"{s.count:,}", tables.yuan(s.balance), tables.pct(s.pct_balance, 3))
           for i, s in enumerate(c.top_obligors, 1)])
    for dim, shares in c.top_by_dimension.items():
        table(f"top {c.top_n} by {dim}", columns,
              [(i, s.key, f"{s.count:,}", tables.yuan(s.balance), tables.pct(s.pct_balance, 3))
               for i, s in enumerate(shares, 1)])


@app.command("vintage")
def vintage(
    code: str,
    as_json: bool = typer.Option(False, "--json"),
    xlsx: Path | None = typer.Option(None, "--xlsx", help="Write the curves to this xlsx file"),
    measure: str = typer.Option("default", "--measure", help="Terminal table: default | prepayment | loss"),
) -> None:
    """Static-pool curves: cumulative default, prepayment, loss by origination month and month on book."""
    with user_errors(as_json):
        if xlsx is not None:
            xlsx.write_bytes(pool_service.vintage_workbook(context(), code))
            console.print(f"written {xlsx}")
            return
        curves = pool_service.vintage(context(), code)
    if as_json:
        print_json(curves.as_dict())
        return
    column = f"cum_{measure}_rate"
    if column not in curves.frame.columns:
        raise typer.BadParameter("measure must be default, prepayment or loss", param_hint="--measure")
    last = curves.last_month_on_book
    rows = []
    for v in curves.vintages:
        values = curves.curve(v, column)
        rows.append((v.isoformat()[:7], *[tables.pct(x) for x in values], *[""] * (last + 1 - len(values))))
    table(f"{code} cumulative {measure} rate by vintage and month on book", ["vintage", *map(str, range(last + 1))],
          rows)


@app.command("rolls")
def rolls(code: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Month-to-month roll rates between delinquency states (by balance; counts in JSON)."""
    with user_errors(as_json):
        r = pool_service.rolls(context(), code)
    if as_json:
        print_json(r.as_dict())
        return
    rates = r.rate_by_balance()
    table(f"{code} roll rates by balance ({r.transitions:,} month-pairs)", ["from \\ to", *r.to_states],
          [(f, *[tables.pct(x) for x in row]) for f, row in zip(r.from_states, rates, strict=True)])
