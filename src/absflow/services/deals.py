"""Deal documents of plans: attach a new version (validated, stored, logged), read the current one."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from absflow.deal import parse_document
from absflow.deal.document import load_text
from absflow.deal.model import Deal
from absflow.domain.issues import Issue, Location, NotFound, ValidationFailed
from absflow.services.context import Context
from absflow.services.log import append_event
from absflow.services.plans import load_plan_row
from absflow.store.db import read_transaction, transaction
from absflow.store.deals import DealVersionRow


@dataclass(frozen=True, slots=True)
class DealVersion:
    """One attached version of a plan's deal document."""

    plan_code: str
    version: int
    name: str
    sha256: str
    attached_at: datetime
    deal: Deal
    document: dict[str, Any]


def read_deal_file(path: str | Path) -> str:
    """The text of a deal document file; a missing or unreadable file is a ValidationFailed."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            [Issue("unreadable_file", f"cannot read deal document: {exc}", Location(field_path=str(path)))]
        ) from None


def load_deal_file(path: str | Path) -> Deal:
    """Parse and validate a deal document file (YAML or JSON) without storing it."""
    return parse_document(load_text(read_deal_file(path)))[0]


def _canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def deal_version_of(plan_code: str, row: DealVersionRow) -> DealVersion:
    """The parsed deal document of a stored version ``row`` (for services that already hold a session)."""
    document = json.loads(row.document_json)
    deal = parse_document(document, stored=True)[0]
    return DealVersion(plan_code, row.version, row.name, row.sha256, row.attached_at, deal, document)


def attach_deal(ctx: Context, plan_code: str, text: str) -> DealVersion:
    """Validate ``text`` and attach it to the plan as its next version; log ``deal.attached``.

    Attaching a document identical (same normalized JSON) to the current version changes
    nothing and returns the current version (idempotent).
    """
    ctx.require("edit", plan_code)
    deal, document = parse_document(load_text(text))
    canonical = _canonical(document)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    now = ctx.now()
    with transaction(ctx.engine) as session:
        plan = load_plan_row(session, plan_code, for_update=True)
        current = current_deal_row(session, plan.id)
        if current is not None and current.sha256 == digest:
            return deal_version_of(plan_code, current)
        number = (current.version if current else 0) + 1
        row = DealVersionRow(
            plan_id=plan.id, version=number, name=deal.name, source_text=text, document_json=canonical,
            sha256=digest, attached_at=now,
        )
        session.add(row)
        session.flush()
        append_event(
            session, entry_type="deal.attached", plan_code=plan_code, recorded_at=now,
            payload={
                "version": number, "name": deal.name, "sha256": digest,
                "tranches": [{"id": t.id, "size": str(t.size)} for t in deal.tranches],
            },
        )
        return DealVersion(plan_code, number, deal.name, digest, now, deal, document)


def current_deal_row(session: Session, plan_id: int) -> DealVersionRow | None:
    """The plan's latest deal version row inside ``session``'s transaction, or None if none is attached."""
    latest = select(func.max(DealVersionRow.version)).where(DealVersionRow.plan_id == plan_id).scalar_subquery()
    return session.execute(
        select(DealVersionRow).where(DealVersionRow.plan_id == plan_id, DealVersionRow.version == latest)
    ).scalar_one_or_none()


def current_deal_version(ctx: Context, plan_code: str) -> DealVersion:
    """The latest attached version of the plan's deal document, or NotFound."""
    ctx.require("view", plan_code)
    with read_transaction(ctx.engine) as session:
        plan = load_plan_row(session, plan_code)
        row = current_deal_row(session, plan.id)
        if row is None:
            raise NotFound(f"plan {plan_code} has no deal document; attach one with `absflow deal attach`")
        return deal_version_of(plan_code, row)


def current_deal(ctx: Context, plan_code: str) -> Deal:
    """The plan's current deal (for other services: daily operations, cash flows, reports)."""
    return current_deal_version(ctx, plan_code).deal


def deal_versions(ctx: Context, plan_code: str) -> list[tuple[int, str, str, datetime]]:
    """(version, name, sha256, attached_at) of every attached version, oldest first."""
    ctx.require("view", plan_code)
    with read_transaction(ctx.engine) as session:
        plan = load_plan_row(session, plan_code)
        rows = session.execute(
            select(DealVersionRow).where(DealVersionRow.plan_id == plan.id).order_by(DealVersionRow.version)
        ).scalars().all()
        return [(r.version, r.name, r.sha256, r.attached_at) for r in rows]
