"""`absflow report …`: period reports of a plan."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from absflow.cli.common import context
from absflow.cli.output import console, print_json, user_errors
from absflow.domain.issues import Issue, Location, ValidationFailed

app = typer.Typer(help="Reports (报告): the servicer report of a period.", no_args_is_help=True)


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed([Issue("bad_date", f"{name} must be YYYY-MM-DD", Location(field_path=name), text)]) \
            from None


@app.command("servicer")
def servicer(
    code: str = typer.Argument(..., help="Plan code"),
    first: str = typer.Option(..., "--from", help="First business date of the period"),
    last: str = typer.Option(..., "--to", help="Last business date of the period"),
    out: Path = typer.Option(..., "--out", help="FILE.xlsx or FILE.pdf"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Write the servicer report (资产服务报告) for the period as XLSX or PDF."""
    from absflow.reports.servicer import write_servicer_report
    from absflow.services.servicer_report import servicer_report

    with user_errors(as_json):
        if out.suffix.lower() not in (".xlsx", ".pdf"):
            raise ValidationFailed([Issue("bad_format", "--out must end in .xlsx or .pdf", Location(
                field_path="--out"), str(out))])
        report = servicer_report(context(), code, _date(first, "--from"), _date(last, "--to"))
        write_servicer_report(report, out)
    if as_json:
        print_json({"plan_code": code, "out": str(out), "sections": len(report.sections)})
    else:
        console.print(f"{out} ({len(report.sections)} sections)")
