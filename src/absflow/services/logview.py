"""Reading the verifiable log for people: a plan's entries, and proofs for the log explorer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from absflow.services import tlog as tlog_service
from absflow.services import users
from absflow.services.context import Context
from absflow.store.db import read_transaction
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
    #: user names behind the pseudonymous ids in the body, only for those who may administer users
    names: dict[str, str] = field(default_factory=dict)


def plan_entries(ctx: Context, plan_code: str, *, limit: int = 100, before: int | None = None
                 ) -> tuple[list[LogEntry], int]:
    """The plan's log entries, newest first (at most ``limit``, indexes below ``before``), and their total."""
    ctx.require("view", plan_code)
    with read_transaction(ctx.engine) as session:
        query = select(LogEntryRow).where(LogEntryRow.plan_code == plan_code)
        if before is not None:
            query = query.where(LogEntryRow.idx < before)
        rows = session.execute(query.order_by(LogEntryRow.idx.desc()).limit(max(1, min(limit, 1000)))).scalars()
        entries = [LogEntry(r.idx, r.entry_type, r.plan_code, r.business_date, r.recorded_at,
                            r.body.decode("utf-8"), r.leaf_hash.hex()) for r in rows]
        total = int(session.execute(
            select(func.count()).select_from(LogEntryRow).where(LogEntryRow.plan_code == plan_code)
        ).scalar_one())
    return _with_names(ctx, entries), total


def _with_names(ctx: Context, entries: list[LogEntry]) -> list[LogEntry]:
    """Entries about users name them by pseudonymous id; resolve those for administrators only."""
    refs = {}
    for i, entry in enumerate(entries):
        user = json.loads(entry.body).get("payload", {}).get("user")
        if isinstance(user, str):
            refs[i] = user
    names = users.subject_names(ctx, set(refs.values())) if refs else {}
    if not names:
        return entries
    return [replace(e, names={refs[i]: names[refs[i]]}) if refs.get(i) in names else e
            for i, e in enumerate(entries)]


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
