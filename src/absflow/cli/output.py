"""Printing for the CLI: JSON for machines, Rich tables for people, issues with locations."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from absflow.domain.issues import AbsflowError, ValidationFailed

console = Console()
err_console = Console(stderr=True)

#: Exit codes: 0 done, 1 a check failed (verification), 2 bad input or refused operation.
EXIT_INVALID = 2


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def print_json(data: Any) -> None:
    """JSON on stdout (money stays a string)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_default) + "\n")


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title, show_lines=False)
    for column in columns:
        t.add_column(column, overflow="fold")  # never cut a figure short
    for row in rows:
        t.add_row(*["" if v is None else str(v) for v in row])
    console.print(t)


def fail(error: AbsflowError, *, as_json: bool = False) -> NoReturn:
    """Report ``error`` (every issue, with its location) and exit 2."""
    if as_json:
        body: dict[str, Any] = {"error": error.code, "message": error.message}
        if isinstance(error, ValidationFailed):
            body["errors"] = [i.as_dict() for i in error.issues]
        print_json(body)
    else:
        err_console.print(f"[bold red]error:[/] {error.message}")
        if isinstance(error, ValidationFailed):
            for issue in error.issues:
                err_console.print(f"  - {issue}", markup=False, highlight=False)
    raise typer.Exit(EXIT_INVALID)


@contextmanager
def user_errors(as_json: bool = False) -> Iterator[None]:
    """Turn absflow errors into a clear message and exit code 2, never a traceback."""
    try:
        yield
    except AbsflowError as exc:
        fail(exc, as_json=as_json)
