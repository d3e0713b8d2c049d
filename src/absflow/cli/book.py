"""`absflow book …`: issuance bookbuilding (发行簿记). Thin: parse → call → print."""

from __future__ import annotations

from pathlib import Path

import typer

from absflow.bookbuilding.allocation import Allocation
from absflow.bookbuilding.files import allocate_files, allocation_document, multiple_text, wan_text
from absflow.bookbuilding.model import percent_text
from absflow.cli.output import console, print_json, table, user_errors
from absflow.domain.issues import Issue, Location, ValidationFailed

app = typer.Typer(help="Issuance bookbuilding (发行簿记): investors, offerings, bids, allocation, notices.",
                  no_args_is_help=True)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed([Issue("unreadable_file", f"cannot read the {what} file {str(path)!r}: {exc}",
                                      Location(field_path=what))]) from None


def print_allocation(result: Allocation, title: str = "Book 标位汇总") -> None:
    """Book summary and allocation tables for people (amounts in 万元, rates in percent)."""
    s = result.summary
    table(title, ["rate %", "amount 万元", "cumulative 万元", "bids"],
          [(percent_text(lv.rate), wan_text(lv.amount_yuan), wan_text(lv.cumulative_yuan), lv.bid_count)
           for lv in s.levels])
    stats = [
        ("size 万元", wan_text(s.size_yuan)),
        ("valid bids", s.valid_bid_count),
        ("investors", s.investor_count),
        ("total demand 万元", wan_text(s.total_demand_yuan)),
        ("highest / lowest rate %", f"{percent_text(s.highest_rate) if s.highest_rate is not None else '-'} / "
                                    f"{percent_text(s.lowest_rate) if s.lowest_rate is not None else '-'}"),
        ("total multiple 全场倍数", multiple_text(s.total_multiple)),
        ("marginal rate 边际利率 %", percent_text(result.marginal_rate) if result.marginal_rate is not None else "-"),
        ("marginal multiple 边际倍数", multiple_text(s.marginal_multiple) if s.marginal_multiple is not None else "-"),
        ("allocated 万元", wan_text(result.allocated_total_yuan)),
        ("holders", f"{result.holder_count} (limit {result.holder_limit})"),
    ]
    if result.undersubscribed:
        stats.append(("undersubscribed: shortfall 万元", wan_text(result.shortfall_yuan)))
    table("Statistics", ["", ""], stats)
    table("Allocation 中标分配", ["investor", "bid 万元", "allocated 万元"],
          [(a.investor, wan_text(a.bid_yuan), wan_text(a.allocated_yuan)) for a in result.by_investor])
    for flag in result.flags():
        console.print(f"[bold yellow]warning:[/] {flag.message}")


@app.command("allocate")
def allocate(
    offering: Path = typer.Option(..., "--offering", help="OFFERING.yaml: size, lot (万元), rate_min, rate_max (%), "
                                  "convention"),
    bids: Path = typer.Option(..., "--bids", help="BIDS.csv: investor,rate,amount[,time] (rate %, amount 万元)"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON (the stable contract)"),
) -> None:
    """Allocate a book given as files (no database): marginal rate, multiples, allocations.

    Invalid input exits 2 and lists every error with its CSV line (header = line 1).
    """
    with user_errors(as_json):
        result = allocate_files(_read_text(offering, "offering"), _read_text(bids, "bids"))
    if as_json:
        print_json(allocation_document(result))
    else:
        print_allocation(result)
