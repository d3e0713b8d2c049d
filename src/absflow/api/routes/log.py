"""The verifiable log: head, checkpoints, a plan's entries, inclusion and consistency proofs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from absflow.api.deps import ActorCtx, BaseCtx
from absflow.services import logview
from absflow.services import tlog as tlog_service

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
