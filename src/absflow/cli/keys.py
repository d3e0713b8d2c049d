"""`absflow keys …`: Ed25519 keys for the log and its witnesses, in files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from absflow.cli.lazy import service
from absflow.cli.output import console, print_json, user_errors

if TYPE_CHECKING:  # the real modules, for the type checker; at run time imported on first use
    from absflow.services import tlog as tlog_service
else:
    tlog_service = service("tlog")

app = typer.Typer(help="Signing keys (C2SP signed-note Ed25519): generate, show.", no_args_is_help=True)


@app.command("generate")
def generate(
    name: str = typer.Option(..., "--name", help="Key name, a schema-less URL, e.g. absflow.example/log"),
    out: Path = typer.Option(..., "--out", help="File prefix: writes PREFIX.key (private, 0600) and PREFIX.pub"),
    witness: bool = typer.Option(False, "--witness", help="A witness (cosignature/v1) key instead of a log key"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Generate a key pair; the .pub file is the vkey to hand to verifiers."""
    with user_errors(as_json):
        key = tlog_service.generate_key(name, witness=witness)
        private, public = tlog_service.write_key_files(key, out)
    if as_json:
        print_json({"private": str(private), "public": str(public), "vkey": key.verifier().encode()})
        return
    console.print(f"private key: {private} (keep secret)\npublic key:  {public}\n{key.verifier().encode()}",
                  highlight=False)


@app.command("show")
def show(path: Path = typer.Argument(..., help="A .key or .pub file")) -> None:
    """Print the public verifier key (vkey) of a key file."""
    with user_errors():
        text = path.read_text(encoding="ascii") if path.exists() else ""
        if text.startswith("PRIVATE+KEY+"):
            console.print(tlog_service.read_signer(path).verifier().encode(), highlight=False)
        else:
            console.print(tlog_service.read_verifier(path).encode(), highlight=False)
