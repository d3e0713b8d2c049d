"""`absflow serve`: the web application and REST API."""

from __future__ import annotations

import typer

from absflow.cli.output import console

WORKER_HEALTHCHECK_SECONDS = 120


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int = typer.Option(8000, "--port", help="TCP port"),
    workers: int = typer.Option(1, "--workers", min=1,
                                help="Server processes (about one per CPU core; each also runs jobs)"),
) -> None:
    """Serve the pages and /api/v1 on ABSFLOW_DATABASE_URL (default ./absflow.db)."""
    import uvicorn

    from absflow.api.app import create_app
    from absflow.cli.common import context

    ctx = context()  # the schema is upgraded here, once, before any worker starts
    console.print(f"absflow serving on http://{host}:{port}/  (API: /api/v1, schema: /openapi.json)"
                  + (f", {workers} worker processes" if workers > 1 else ""))
    if workers == 1:
        uvicorn.run(create_app(ctx), host=host, port=port, log_level="info", access_log=False)
        return
    ctx.engine.dispose()
    # A worker answers the supervisor's health check only once its imports are done, which takes
    # well over uvicorn's default 5 s on a busy machine; it would be killed and restarted forever.
    uvicorn.run("absflow.api.app:app_from_env", factory=True, workers=workers, host=host, port=port,
                log_level="info", access_log=False, timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS)
