"""`absflow demo`: the main job end to end on the embedded default."""

from __future__ import annotations

from absflow.cli.common import context
from absflow.cli.output import console, table
from absflow.services import demo as demo_service


def demo() -> None:
    """Create the demo plan (modelled on a seed-001 margin-financing deal) and show it."""
    result = demo_service.run_demo(context(), progress=lambda msg: console.print(f"[cyan]›[/] {msg}"))
    for title, columns, rows in result.tables:
        table(title, columns, rows)
    console.print(f"[bold green]demo done[/]: plan {result.plan_code}")
