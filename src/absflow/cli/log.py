"""`absflow log …`: the verifiable log — checkpoints, proofs, audit, witnesses, tape commitments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from absflow.cli.common import context
from absflow.cli.lazy import service
from absflow.cli.output import console, err_console, print_json, table, user_errors

if TYPE_CHECKING:  # the real modules, for the type checker; at run time imported on first use
    from absflow.services import pool_changes, record_proofs
    from absflow.services import tlog as tlog_service
else:
    pool_changes = service("pool_changes")
    record_proofs = service("record_proofs")
    tlog_service = service("tlog")

app = typer.Typer(help="Verifiable log: checkpoints, proofs, consistency, audit, witnesses.", no_args_is_help=True)

KEY_HELP = "Log signing key file (default $ABSFLOW_LOG_KEY or ./absflow-log.key, created on first use)"


def _emit(bundle: dict[str, Any], out: Path | None) -> None:
    text = json.dumps(bundle, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        err_console.print(f"bundle written to {out}")


def _with_signer(key: Path | None) -> None:
    if key is not None:
        context().extras["log_signer"] = tlog_service.read_signer(key)


@app.command("checkpoint")
def checkpoint(
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
    out: Path | None = typer.Option(None, "--out", help="Write the bundle here instead of stdout"),
) -> None:
    """Sign a checkpoint of the log now and export it as a bundle (C2SP signed note inside)."""
    with user_errors():
        _with_signer(key)
        tlog_service.make_checkpoint(context(), reason="on_demand")
        bundle = tlog_service.checkpoint_bundle(context())
    _emit(bundle, out)


@app.command("proof")
def proof(
    code: str = typer.Argument(..., help="Plan code, e.g. ABS-2026-0001"),
    entry: int = typer.Option(..., "--entry", help="Log entry index"),
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
    out: Path | None = typer.Option(None, "--out"),
) -> None:
    """Export an inclusion proof of one entry of a plan, against a signed checkpoint."""
    with user_errors():
        _with_signer(key)
        bundle = tlog_service.entry_bundle(context(), code, entry)
    _emit(bundle, out)


@app.command("record-proof")
def record_proof(
    code: str = typer.Argument(..., help="Plan code"),
    batch: int = typer.Option(..., "--batch", help="Tape batch id (see `absflow tape list`)"),
    record: str = typer.Option(..., "--record", help="Asset id (loan id for a performance tape)"),
    tape: Path | None = typer.Option(None, "--tape", help="The imported file (needed once its rows have changed)"),
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
    out: Path | None = typer.Option(None, "--out"),
) -> None:
    """Export a proof that a loan record is in its tape's logged records root, for `absflow verify`."""
    with user_errors():
        _with_signer(key)
        bundle = record_proofs.record_bundle(context(), code, batch, record, tape)
    _emit(bundle, out)


@app.command("pool-proof")
def pool_proof(
    code: str = typer.Argument(..., help="Plan code"),
    asset: str = typer.Option(..., "--asset", help="Asset id"),
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
    out: Path | None = typer.Option(None, "--out"),
) -> None:
    """Export proofs of every day an asset entered or left the plan's pool, for `absflow verify`."""
    with user_errors():
        _with_signer(key)
        bundle = pool_changes.pool_change_bundle(context(), code, asset)
    _emit(bundle, out)


@app.command("consistency")
def consistency(
    from_size: int = typer.Option(..., "--from", help="Size of the older checkpoint"),
    to_size: int | None = typer.Option(None, "--to", help="Size of the newer checkpoint (default: newest)"),
    out: Path | None = typer.Option(None, "--out"),
) -> None:
    """Export two checkpoints and the proof that the newer log extends the older one."""
    with user_errors():
        bundle = tlog_service.consistency_bundle(context(), from_size, to_size)
    _emit(bundle, out)


@app.command("checkpoints")
def checkpoints(as_json: bool = typer.Option(False, "--json")) -> None:
    """Signed checkpoints, oldest first."""
    with user_errors(as_json):
        rows = tlog_service.list_checkpoints(context())
    if as_json:
        print_json({"checkpoints": [{"id": c.id, "size": c.size, "root": c.root_hash.hex(), "reason": c.reason,
                                     "created_at": c.created_at, "note": c.note} for c in rows]})
        return
    table("Checkpoints", ["id", "size", "root", "reason", "created"],
          [(c.id, c.size, c.root_hash.hex()[:16] + "…", c.reason, c.created_at.isoformat()) for c in rows])


@app.command("audit")
def audit(
    key: list[Path] = typer.Option([], "--key", help="Log public key file(s) to check checkpoint signatures"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Recompute every hash from the stored rows; report the first entry that disagrees (exit 1)."""
    with user_errors(as_json):
        keys = [tlog_service.read_verifier(k) for k in key]
        report = tlog_service.audit_log(context(), keys)
    if as_json:
        print_json({"ok": report.ok, "size": report.size, "entries_checked": report.entries_checked,
                    "nodes_checked": report.nodes_checked, "checkpoints_checked": report.checkpoints_checked,
                    "signatures_checked": report.signatures_checked, "problem": report.problem,
                    "first_bad_index": report.first_bad_index})
    elif report.ok:
        console.print(f"[bold green]log intact[/]: {report.entries_checked} entries, {report.nodes_checked} subtree "
                      f"hashes, {report.checkpoints_checked} checkpoints ({report.signatures_checked} signatures) "
                      "recomputed and matching")
    else:
        where = f" (first bad entry: {report.first_bad_index})" if report.first_bad_index is not None else ""
        err_console.print(f"[bold red]TAMPERING DETECTED[/]: {report.problem}{where}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command("cosign")
def cosign(
    witness_key: Path = typer.Option(..., "--witness-key", help="The witness's private key (keys generate --witness)"),
    state: Path = typer.Option(..., "--state", help="The witness's state file (last cosigned checkpoint)"),
    log_key: list[Path] = typer.Option(..., "--log-key", help="The log's public key file(s)"),
) -> None:
    """As a witness (custodian, rating agency, regulator): cosign the newest checkpoint if consistent."""
    with user_errors():
        witness = tlog_service.read_signer(witness_key)
        keys = [tlog_service.read_verifier(k) for k in log_key]
        info = tlog_service.witness_cosign_latest(context(), witness=witness, state_path=state, log_keys=keys)
    console.print(f"cosigned checkpoint {info.id} at size {info.size} as {witness.name}", highlight=False)


@app.command("attach-cosignature")
def attach_cosignature(
    note: Path = typer.Argument(..., help="The cosigned checkpoint a witness returned (`absflow witness cosign`)"),
    witness: list[Path] = typer.Option(..., "--witness", help="The witness's public key file(s)"),
) -> None:
    """Add a witness's cosignature to the stored checkpoint it signed (checked against its public key)."""
    with user_errors():
        keys = [tlog_service.read_verifier(k) for k in witness]
        try:
            text = note.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise tlog_service.LogKeyError(f"cannot read {note}: {exc}") from None
        info = tlog_service.attach_cosignature(context(), text, keys)
    console.print(f"checkpoint {info.id} (size {info.size}) now carries the cosignature", highlight=False)


@app.command("commit-tape")
def commit_tape(
    code: str = typer.Argument(..., help="Plan code"),
    batch: int = typer.Option(..., "--batch", help="Tape batch id (see `absflow tape list`)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Commit an imported tape for selective disclosure: salted per-field hashes, root in the log."""
    with user_errors(as_json):
        result = tlog_service.commit_tape(context(), code, batch)
    if as_json:
        print_json({"plan": code, "tape": result.tape_ref, "root": result.root_hash.hex(),
                    "records": result.record_count, "log_index": result.log_index})
        return
    console.print(f"committed {result.record_count:,} records of {result.tape_ref}: root "
                  f"{result.root_hash.hex()[:16]}…, log entry {result.log_index}", highlight=False)


@app.command("disclose")
def disclose(
    code: str = typer.Argument(..., help="Plan code"),
    batch: int = typer.Option(..., "--batch", help="Committed tape batch id"),
    loan: list[str] = typer.Option([], "--loan", help="Asset id to disclose (repeatable; default: all = masked tape)"),
    field: list[str] = typer.Option([], "--field", help="Field to reveal (default: balance, rate, region, status)"),
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
    out: Path | None = typer.Option(None, "--out"),
) -> None:
    """Export an investor disclosure (or the whole masked tape) with proofs, for `absflow verify`."""
    with user_errors():
        _with_signer(key)
        kwargs: dict[str, Any] = {"asset_ids": loan or None}
        if field:
            kwargs["fields"] = field
        bundle = tlog_service.tape_disclosure_bundle(context(), code, batch, **kwargs)
    _emit(bundle, out)
