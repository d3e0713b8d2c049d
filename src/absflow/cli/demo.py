"""`absflow demo`: the main job end to end on the embedded default."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from absflow.cli.common import context
from absflow.cli.lazy import service
from absflow.cli.output import console, table

if TYPE_CHECKING:  # the real modules, for the type checker; at run time imported on first use
    from absflow.services import demo as demo_service
else:
    demo_service = service("demo")


def demo(
    serve: bool = typer.Option(False, "--serve/--no-serve", help="Then serve the web app (make demo does)"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
) -> None:
    """Create the demo plan (modelled on a seed-001 margin-financing deal) and show it."""
    result = demo_service.run_demo(context(), progress=lambda msg: console.print(f"[cyan]›[/] {msg}"))
    for title, columns, rows in result.tables:
        table(title, columns, rows)
    console.print(f"[bold green]demo done[/]: plan {result.plan_code}")
    if serve:
        from absflow.cli.serve import serve as serve_app

        console.print(f"sign in at http://{host}:{port}/login with a demo user above")
        serve_app(host=host, port=port, workers=1)  # every option given: called as a function, not by typer
