"""`absflow cashflow …`: cash flows of pools and deals."""

from __future__ import annotations

import typer

from absflow.cli import cashflow_deal, cashflow_pool

app = typer.Typer(help="Cash flows: rep-line projections, scenario grids, deal waterfall runs, pricing, breakeven.",
                  no_args_is_help=True)
cashflow_deal.register(app)
cashflow_pool.register(app)
