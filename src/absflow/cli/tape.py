"""`absflow tape …`: validate a loan tape (no database) or import it into a plan."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from absflow.cli.common import context
from absflow.cli.lazy import service
from absflow.cli.output import EXIT_INVALID, console, err_console, print_json, table, user_errors
from absflow.domain.issues import AbsflowError, Issue, Location, ValidationFailed
from absflow.domain.money import format_yuan

if TYPE_CHECKING:  # the real modules, for the type checker; at run time imported on first use
    from absflow.services import tapes as tape_service
else:
    tape_service = service("tapes")

app = typer.Typer(help="Loan tapes: validate against a column mapping, import into a plan's pool.",
                  no_args_is_help=True)


def _print_issues(issues: list[Issue], rows: int) -> None:
    err_console.print(f"[bold red]invalid tape[/]: {len(issues)} problem(s) in {rows} row(s); nothing was changed")
    for issue in issues:
        where = ", ".join(part for part in (
            f"row {issue.location.row}" if issue.location.row is not None else "",
            f"column {issue.location.column!r}" if issue.location.column is not None else "",
        ) if part)
        text = f"{where}: {issue.message} [{issue.code}]" if where else f"{issue.message} [{issue.code}]"
        err_console.print(f"  - {text}", markup=False, highlight=False)


def _fail_json(error: AbsflowError) -> None:
    issues = error.issues if isinstance(error, ValidationFailed) else [Issue(error.code, error.message, Location())]
    rows = getattr(error, "rows", 0)
    print_json({"valid": False, "rows": rows, "errors": [tape_service.issue_json(i) for i in issues]})
    raise typer.Exit(EXIT_INVALID)


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {text!r}") from None


@app.command("validate")
def validate(
    file: Path = typer.Argument(..., help="CSV (UTF-8 or as the mapping's encoding), XLSX or Parquet"),
    mapping: Path = typer.Option(..., "--mapping", help="YAML column mapping (see docs/TAPE.md)"),
    cutoff: str | None = typer.Option(None, "--cutoff", help="cut-off date YYYY-MM-DD (enables cut-off checks)"),
    as_json: bool = typer.Option(False, "--json", help='Print {"valid", "rows", "errors": [...]}'),
) -> None:
    """Check every row of a tape; exit 0 when valid, 2 when not (every problem listed)."""
    as_of = _parse_date(cutoff) if cutoff else None
    try:
        report = tape_service.validate_tape(file, mapping, cutoff=as_of)
    except AbsflowError as exc:
        if as_json:
            _fail_json(exc)
        with user_errors(False):
            raise
        return
    if as_json:
        print_json(report.as_json())
    elif report.valid:
        console.print(f"[bold green]valid[/]: {report.rows} row(s) of {report.kind.value}")
        table("Totals", ["field", "yuan"],
              [(k.removesuffix("_fen"), format_yuan(v)) for k, v in sorted(report.totals_fen.items())])
    else:
        _print_issues(report.issues, report.rows)
    if not report.valid:
        raise typer.Exit(EXIT_INVALID)


@app.command("import")
def import_(
    code: str = typer.Argument(..., help="plan code, e.g. ABS-2026-0001"),
    file: Path = typer.Argument(..., help="CSV, XLSX or Parquet tape"),
    mapping: Path = typer.Option(..., "--mapping", help="YAML column mapping (see docs/TAPE.md)"),
    cutoff: str = typer.Option(..., "--cutoff", help="cut-off date YYYY-MM-DD: balances are as of this date"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON"),
) -> None:
    """Import a tape into the plan, all or nothing; the same file twice imports nothing new."""
    as_of = _parse_date(cutoff)
    show_progress = not as_json and file.is_file() and file.stat().st_size > 8 * 1024 * 1024
    try:
        if show_progress:
            with Progress(TextColumn("importing"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                          console=err_console) as bar:
                task = bar.add_task("import", total=file.stat().st_size)
                result = tape_service.import_tape(
                    context(), code, file, mapping, as_of,
                    progress=lambda done, total: bar.update(task, completed=done, total=total))
        else:
            result = tape_service.import_tape(context(), code, file, mapping, as_of)
    except AbsflowError as exc:
        if as_json:
            _fail_json(exc)
        if isinstance(exc, ValidationFailed) and exc.issues and exc.issues[0].location.row is not None:
            _print_issues(exc.issues, getattr(exc, "rows", 0))
            raise typer.Exit(EXIT_INVALID) from None
        with user_errors(False):
            raise
        return
    if as_json:
        print_json(result.as_json())
        return
    verb = "already imported (nothing written)" if result.already_imported else "imported"
    console.print(f"[bold green]{verb}[/]: {result.rows} row(s) of {result.kind.value} into {result.plan_code}, "
                  f"batch {result.batch_id}, cut-off {result.cutoff}")
    table("Import", ["field", "value"], [
        ("sha256", result.sha256), ("file", result.file_name), ("log entry", result.log_index),
        *[(f"total {k.removesuffix('_fen')}", format_yuan(v)) for k, v in sorted(result.totals_fen.items())],
    ])
