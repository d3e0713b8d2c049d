"""Reading the verifiable log for people: a plan's entries, and proofs for the log explorer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from absflow.services import tlog as tlog_service
from absflow.services.context import Context
from absflow.store.db import transaction
from absflow.store.log import LogEntryRow


@dataclass(frozen=True)
class LogEntry:
    index: int
    entry_type: str
    plan_code: str | None
    business_date: date | None
    recorded_at: datetime
    body: str
    leaf_hash_hex: str


def plan_entries(ctx: Context, plan_code: str, *, limit: int = 100, before: int | None = None
                 ) -> tuple[list[LogEntry], int]:
    """The plan's log entries, newest first (at most ``limit``, indexes below ``before``), and their total."""
    ctx.require("view", plan_code)
    with transaction(ctx.engine) as session:
        query = select(LogEntryRow).where(LogEntryRow.plan_code == plan_code)
        if before is not None:
            query = query.where(LogEntryRow.idx < before)
        rows = session.execute(query.order_by(LogEntryRow.idx.desc()).limit(max(1, min(limit, 1000)))).scalars()
        entries = [LogEntry(r.idx, r.entry_type, r.plan_code, r.business_date, r.recorded_at,
                            r.body.decode("utf-8"), r.leaf_hash.hex()) for r in rows]
        total = int(session.execute(
            select(func.count()).select_from(LogEntryRow).where(LogEntryRow.plan_code == plan_code)
        ).scalar_one())
    return entries, total


def entry_proof_bundle(ctx: Context, system: Context, plan_code: str, index: int) -> dict[str, Any]:
    """The inclusion-proof bundle of one entry for the actor of ``ctx`` (needs download on the plan).

    When no signed checkpoint covers the entry yet, the server (``system``, the operator's
    context) signs one first: checkpoints are log-wide facts, not the user's action.
    """
    ctx.require("download", plan_code)
    latest = tlog_service.latest_checkpoint(system)
    if latest is None or latest.size <= index:
        tlog_service.make_checkpoint(system, reason="export")
    return tlog_service.entry_bundle(ctx, plan_code, index)
