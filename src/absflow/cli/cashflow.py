"""`absflow cashflow …`: cash flows of pools and deals."""

from __future__ import annotations

import typer

from absflow.cli import cashflow_deal

app = typer.Typer(help="Cash flows: deal waterfall runs, pricing, breakeven.", no_args_is_help=True)
cashflow_deal.register(app)
