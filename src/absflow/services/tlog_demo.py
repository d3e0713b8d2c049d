"""The verifiable-log part of the demo: commit the tape, checkpoint, witness, disclose, verify, audit."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from absflow.services import tlog as tlog_service
from absflow.services.context import Context
from absflow.services.verify import verify_bundle_file

Table = tuple[str, Sequence[str], Sequence[Sequence[Any]]]


def log_demo_table(ctx: Context, plan_code: str, batch_id: int,
                   progress: Callable[[str], None] = lambda _m: None) -> Table:
    """Commit the imported tape, sign a checkpoint, have a custodian witness cosign it, disclose
    three loans to an investor and verify that bundle offline, then audit the whole log."""
    progress("verifiable log: committing the tape (salted per-field hashes) and signing a checkpoint")
    commitment = tlog_service.commit_tape(ctx, plan_code, batch_id)
    checkpoint = tlog_service.make_checkpoint(ctx, reason="demo", plan_code=plan_code)
    log_key = tlog_service.log_signer(ctx).verifier()
    with tempfile.TemporaryDirectory(prefix="absflow-demo-log-") as folder:
        work = Path(folder)
        witness = tlog_service.generate_key("custodian.example/witness", witness=True)
        tlog_service.write_key_files(witness, work / "custodian")
        (work / "log.pub").write_text(log_key.encode() + "\n", encoding="ascii")
        progress("a custodian witness checks consistency and cosigns the checkpoint")
        tlog_service.witness_cosign_latest(ctx, witness=witness, state_path=work / "custodian-state.json",
                                           log_keys=[log_key])
        progress("disclosing three loans (balance, rate, region, status) to an investor; verifying offline")
        chosen = tlog_service.tape_asset_ids(ctx, plan_code, batch_id, limit=3)
        bundle = tlog_service.tape_disclosure_bundle(ctx, plan_code, batch_id, asset_ids=chosen)
        (work / "disclosure.json").write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
        report = verify_bundle_file(work / "disclosure.json", [work / "log.pub", work / "custodian.pub"])
    progress("auditing the whole log (every hash recomputed)")
    audit = tlog_service.audit_log(ctx, [log_key])
    return (
        "Verifiable log 可验证日志",
        ["figure", "value"],
        [("log size (entries)", checkpoint.size),
         ("checkpoint root", checkpoint.root_hash.hex()[:32] + "…"),
         ("log key", log_key.encode()[:48] + "…"),
         ("tape commitment", f"{commitment.record_count:,} loans, root {commitment.root_hash.hex()[:16]}…, "
                             f"entry {commitment.log_index}"),
         ("investor disclosure", f"{len(report.disclosed)} loans verified offline ({len(report.proven)} statements)"),
         ("witness", "custodian.example/witness cosigned after a consistency check"),
         ("audit", "intact" if audit.ok else f"TAMPERING: {audit.problem}")],
    )

