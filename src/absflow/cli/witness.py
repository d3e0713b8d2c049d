"""`absflow witness cosign`: a witness cosigns on its own machine from a bundle file (no database)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from absflow.cli.lazy import service
from absflow.cli.output import err_console
from absflow.domain.issues import AbsflowError

if TYPE_CHECKING:  # the real modules, for the type checker; at run time imported on first use
    from absflow.services import witness as witness_service
else:
    witness_service = service("witness")

app = typer.Typer(help="Witness side: cosign a log checkpoint from an exported bundle, offline.",
                  no_args_is_help=True)


@app.command("cosign")
def cosign(
    bundle: Path = typer.Argument(..., help="Bundle from `absflow log consistency --from N` (or `log checkpoint`)"),
    log_key: list[Path] = typer.Option(..., "--log-key", help="The log's public key file(s)"),
    key: Path = typer.Option(..., "--key", help="This witness's private key (keys generate --witness)"),
    state: Path = typer.Option(..., "--state", help="This witness's state file (created on the first cosignature)"),
    out: Path | None = typer.Option(None, "--out", help="Write the cosigned checkpoint here (default: stdout)"),
) -> None:
    """Check the log's signature and consistency with the last cosigned checkpoint; cosign or refuse (exit 1)."""
    try:
        result = witness_service.cosign_bundle(bundle, log_keys=log_key, witness_key=key, state_path=state,
                                               timestamp=int(time.time()))
    except AbsflowError as exc:
        typer.echo(f"witness: {exc}", err=True)
        raise typer.Exit(1) from None
    if out is None:
        typer.echo(result.note, nl=False)
    else:
        out.write_text(result.note, encoding="utf-8")
    since = "first cosignature" if result.previous_size is None else f"consistent with size {result.previous_size}"
    err_console.print(f"cosigned {result.checkpoint.origin} size {result.checkpoint.size} ({since}); state {state} "
                  "updated; hand the note to the log operator (`absflow log attach-cosignature`)",
                      highlight=False)
