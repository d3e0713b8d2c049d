"""`absflow serve`: the web application and REST API."""

from __future__ import annotations

import typer

from absflow.cli.output import console


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int = typer.Option(8000, "--port", help="TCP port"),
) -> None:
    """Serve the pages and /api/v1 on ABSFLOW_DATABASE_URL (default ./absflow.db)."""
    import uvicorn

    from absflow.api.app import create_app
    from absflow.cli.common import context

    app = create_app(context())
    console.print(f"absflow serving on http://{host}:{port}/  (API: /api/v1, schema: /openapi.json)")
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
