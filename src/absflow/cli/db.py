"""`absflow db …`: schema management."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from absflow.cli.lazy import service
from absflow.cli.output import console

if TYPE_CHECKING:  # the real modules, for the type checker; at run time imported on first use
    from absflow.services import admin
else:
    admin = service("admin")

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Create or upgrade the schema at ABSFLOW_DATABASE_URL to the newest revision."""
    url = admin.upgrade_database()
    console.print(f"schema up to date: {url}")
