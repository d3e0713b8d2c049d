"""`absflow db …`: schema management."""

from __future__ import annotations

import typer

from absflow.cli.lazy import service
from absflow.cli.output import console

admin = service("admin")

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Create or upgrade the schema at ABSFLOW_DATABASE_URL to the newest revision."""
    url = admin.upgrade_database()
    console.print(f"schema up to date: {url}")
