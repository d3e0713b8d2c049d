"""`absflow verify BUNDLE.json --key K.pub`: check a proof bundle offline (no database, no server)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from absflow.cli.lazy import service
from absflow.cli.output import console, print_json

if TYPE_CHECKING:  # the real modules, for the type checker; at run time imported on first use
    from absflow.services import verify as verify_service
else:
    verify_service = service("verify")


def verify(
    bundle: Path = typer.Argument(..., help="Bundle JSON from `absflow log proof|checkpoint|consistency|disclose`"),
    key: list[Path] = typer.Option([], "--key", help="Public key file (vkey): the log's, and witnesses' (repeatable)"),
    as_json: bool = typer.Option(False, "--json", help='Print {"ok": …, "proven": […]} or {"ok": false, "error": …}'),
) -> None:
    """Verify checkpoint signatures, entry inclusion, consistency and disclosures. Exit 0 if all hold, else 1."""
    from absflow.tlog.bundle import BundleError

    try:
        report = verify_service.verify_bundle_file(bundle, key)
    except BundleError as exc:
        if as_json:
            print_json({"ok": False, "error": str(exc)})
        else:
            typer.echo(f"verification failed: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        print_json({"ok": True, "proven": report.proven, "disclosed": report.disclosed})
        return
    for line in report.proven:
        typer.echo(f"✓ {line}")
    console.print(f"[bold green]verified[/]: {len(report.proven)} statement(s) proven")
