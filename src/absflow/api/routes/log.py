"""The verifiable log: head, checkpoints, a plan's entries, inclusion and consistency proofs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from absflow.api.deps import ActorCtx, BaseCtx, PrincipalDep
from absflow.services import logview, pool_changes, record_proofs
from absflow.services import tlog as tlog_service
from absflow.services.verify import parse_verifier, verify_bundle_data
from absflow.tlog.bundle import BundleError

router = APIRouter(tags=["log"])


class LogHeadPublic(BaseModel):
    size: int
    root_hash: str


class CheckpointPublic(BaseModel):
    id: int
    size: int
    root_hash: str
    reason: str
    created_at: datetime
    note: str


class LogEntryPublic(BaseModel):
    index: int
    entry_type: str
    business_date: date | None
    recorded_at: datetime
    body: str
    leaf_hash: str


class LogEntriesPublic(BaseModel):
    total: int
    entries: list[LogEntryPublic]


@router.get("/log/head", response_model=LogHeadPublic, summary="Size and root hash of the log now")
def head(ctx: ActorCtx) -> LogHeadPublic:
    found = tlog_service.log_head(ctx)
    return LogHeadPublic(size=found.size, root_hash=found.root_hash.hex())


@router.get("/log/checkpoints", response_model=list[CheckpointPublic], summary="Signed checkpoints (log checkpoints)")
def checkpoints(ctx: ActorCtx) -> list[CheckpointPublic]:
    return [CheckpointPublic(id=c.id, size=c.size, root_hash=c.root_hash.hex(), reason=c.reason,
                             created_at=c.created_at, note=c.note) for c in tlog_service.list_checkpoints(ctx)]


@router.post("/log/checkpoints", response_model=CheckpointPublic, status_code=201,
             summary="Sign a checkpoint now (log checkpoint)")
def make_checkpoint(ctx: ActorCtx) -> CheckpointPublic:
    c = tlog_service.make_checkpoint(ctx, reason="on_demand")
    return CheckpointPublic(id=c.id, size=c.size, root_hash=c.root_hash.hex(), reason=c.reason,
                            created_at=c.created_at, note=c.note)


@router.get("/log/consistency", summary="Consistency bundle between two checkpoints (log consistency)")
def consistency(ctx: ActorCtx, from_size: int = Query(..., alias="from"), to_size: int | None = Query(None, alias="to")
                ) -> dict[str, Any]:
    return tlog_service.consistency_bundle(ctx, from_size, to_size)


@router.get("/plans/{code}/log", response_model=LogEntriesPublic, summary="A plan's log entries, newest first")
def plan_entries(ctx: ActorCtx, code: str, limit: int = 100, before: int | None = None) -> LogEntriesPublic:
    entries, total = logview.plan_entries(ctx, code, limit=limit, before=before)
    return LogEntriesPublic(total=total, entries=[
        LogEntryPublic(index=e.index, entry_type=e.entry_type, business_date=e.business_date,
                       recorded_at=e.recorded_at, body=e.body, leaf_hash=e.leaf_hash_hex) for e in entries])


@router.get("/plans/{code}/log/{index}/proof", summary="Inclusion-proof bundle of one entry (log proof)")
def entry_proof(ctx: ActorCtx, system: BaseCtx, code: str, index: int) -> dict[str, Any]:
    return logview.entry_proof_bundle(ctx, system, code, index)


@router.get("/log/checkpoint-bundle", summary="The newest signed checkpoint as a bundle for `absflow verify` "
            "(log checkpoint)")
def checkpoint_bundle(ctx: ActorCtx) -> dict[str, Any]:
    return tlog_service.checkpoint_bundle(ctx)


@router.get("/log/audit", summary="Recompute every hash from the stored rows (log audit; admin)")
def audit(ctx: ActorCtx, key: list[str] = Query([], description="log verifier keys (vkey text) to check "
                                                     "checkpoint signatures")) -> dict[str, Any]:
    keys = [parse_verifier(k, f"key[{i}]") for i, k in enumerate(key)]
    report = tlog_service.audit_log(ctx, keys)
    return {"ok": report.ok, "size": report.size, "entries_checked": report.entries_checked,
            "nodes_checked": report.nodes_checked, "checkpoints_checked": report.checkpoints_checked,
            "signatures_checked": report.signatures_checked, "problem": report.problem,
            "first_bad_index": report.first_bad_index}


@router.post("/plans/{code}/tapes/{batch}/commitment", status_code=201,
             summary="Commit an imported tape for selective disclosure (log commit-tape)")
def commit_tape(ctx: ActorCtx, code: str, batch: int) -> dict[str, Any]:
    result = tlog_service.commit_tape(ctx, code, batch)
    return {"plan": code, "tape": result.tape_ref, "root": result.root_hash.hex(), "records": result.record_count,
            "log_index": result.log_index}


@router.get("/plans/{code}/tapes/{batch}/disclosure", summary="A disclosure bundle of chosen loans and fields, "
            "with proofs (log disclose)")
def disclose(ctx: ActorCtx, code: str, batch: int, loan: list[str] = Query([]), field: list[str] = Query([])
             ) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"asset_ids": loan or None}
    if field:
        kwargs["fields"] = field
    return tlog_service.tape_disclosure_bundle(ctx, code, batch, **kwargs)


@router.get("/plans/{code}/tapes/{batch}/records/{record}/proof",
            summary="A loan record in its tape's logged records root, with proofs (log record-proof)")
def record_proof(ctx: ActorCtx, code: str, batch: int, record: str) -> dict[str, Any]:
    return record_proofs.record_bundle(ctx, code, batch, record)


@router.get("/plans/{code}/pool/assets/{asset}/log-proof",
            summary="Every logged entry or exit of an asset in the pool, with proofs (log pool-proof)")
def pool_proof(ctx: ActorCtx, code: str, asset: str) -> dict[str, Any]:
    return pool_changes.pool_change_bundle(ctx, code, asset)


class CosignatureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(description="The cosigned checkpoint a witness returned (absflow witness cosign)")
    witness_keys: list[str] = Field(min_length=1, description="The witness's verifier key(s) (vkey text)")


@router.post("/log/checkpoints/cosignatures", response_model=CheckpointPublic,
             summary="Attach a witness's cosignature to the stored checkpoint (log attach-cosignature)")
def attach_cosignature(ctx: ActorCtx, body: CosignatureRequest) -> CheckpointPublic:
    keys = [parse_verifier(k, f"witness_keys[{i}]") for i, k in enumerate(body.witness_keys)]
    c = tlog_service.attach_cosignature(ctx, body.note, keys)
    return CheckpointPublic(id=c.id, size=c.size, root_hash=c.root_hash.hex(), reason=c.reason,
                            created_at=c.created_at, note=c.note)


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bundle: dict[str, Any] = Field(description="A bundle from log proof / checkpoint / consistency / disclose")
    keys: list[str] = Field(description="Verifier keys (vkey text): the log's, and witnesses'")


@router.post("/verify", summary="Verify a bundle's signatures, inclusion, consistency and disclosures (verify)")
def verify(principal: PrincipalDep, body: VerifyRequest) -> dict[str, Any]:
    try:
        report = verify_bundle_data(body.bundle, body.keys)
    except BundleError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "proven": report.proven, "disclosed": report.disclosed}
