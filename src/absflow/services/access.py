"""The authorizer behind ``Context.require`` for signed-in users, and the record of denials.

A plan the user may not view answers exactly like a plan that does not exist (NotFound
with the same message), so nothing about other plans leaks through status codes or text.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from absflow.access import (
    ALL_PLANS_ROLES,
    ROLE_PLAN_CAPABILITIES,
    Principal,
    Verdict,
    decide,
    may,
    sees_borrower_identity,
)
from absflow.domain.issues import NotFound, PermissionDenied
from absflow.services.context import Context
from absflow.services.log import append_event
from absflow.services.readcache import note_check
from absflow.store.db import transaction
from absflow.store.users import PlanGrantRow, SecurityEventRow

security_log = logging.getLogger("absflow.security")

LOGIN_FAILED = "login_failed"
PERMISSION_DENIED = "permission_denied"
#: A state-changing request whose CSRF token was missing or wrong (recorded, then refused).
CSRF_FAILED = "csrf_failed"


def record_security_event(
    ctx: Context,
    kind: str,
    detail: str,
    *,
    username: str | None = None,
    remote_addr: str | None = None,
    action: str | None = None,
    plan_code: str | None = None,
    log_entry: tuple[str, Mapping[str, Any]] | None = None,
) -> None:
    """Write one security event (own transaction, so it survives the refused operation) and log it.

    ``log_entry`` (type, payload): also append it to the verifiable log in that transaction."""
    security_log.warning(
        "%s user=%s addr=%s action=%s plan=%s: %s", kind, username, remote_addr, action, plan_code, detail
    )
    with transaction(ctx.engine) as session:
        session.add(SecurityEventRow(
            kind=kind, username=(username or "")[:64] or None, remote_addr=remote_addr, action=action,
            plan_code=(plan_code or "")[:32] or None, detail=detail[:500], occurred_at=ctx.now(),
        ))
        if log_entry is not None:
            append_event(session, entry_type=log_entry[0], plan_code=None, recorded_at=ctx.now(), payload=log_entry[1])


def count_recent_failures(ctx: Context, *, username: str | None = None, remote_addr: str | None = None,
                          window: timedelta) -> int:
    """Failed logins for ``username`` (or else from ``remote_addr``) within ``window`` before now."""
    since = ctx.now() - window
    who = SecurityEventRow.username == username if username is not None else SecurityEventRow.remote_addr == remote_addr
    with transaction(ctx.engine) as session:
        return int(session.execute(
            select(func.count()).select_from(SecurityEventRow).where(
                SecurityEventRow.kind == LOGIN_FAILED, SecurityEventRow.occurred_at >= since, who
            )
        ).scalar_one())


def _principal(ctx: Context) -> Principal:
    actor = ctx.actor
    if not isinstance(actor, Principal):
        raise PermissionDenied("unknown kind of actor")
    return actor


class PrincipalAuthorizer:
    """``Context.require`` for a ``Principal`` actor: allow, or record the denial and raise. Every check
    is also noted for the read cache (``services/readcache.py``), which replays them on each hit."""

    def __call__(self, ctx: Context, action: str, plan_code: str | None) -> None:
        principal = _principal(ctx)
        decision = decide(principal, action, plan_code)
        note_check(principal, "require", action, plan_code, decision.allowed)
        if decision.allowed:
            return
        record_security_event(
            ctx, PERMISSION_DENIED, decision.reason, username=principal.username,
            remote_addr=ctx.extras.get("remote_addr"), action=action, plan_code=plan_code,
        )
        if decision.verdict is Verdict.HIDE:
            raise NotFound(f"no plan with code {plan_code!r}")
        raise PermissionDenied(f"you may not {action} {'plan ' + plan_code if plan_code else 'here'}")

    def allows(self, ctx: Context, action: str, plan_code: str | None) -> bool:
        principal = _principal(ctx)
        allowed = may(principal, action, plan_code)
        note_check(principal, "can", action, plan_code, allowed)
        return allowed


AUTHORIZER = PrincipalAuthorizer()


def as_principal(ctx: Context, principal: Principal, *, remote_addr: str | None = None) -> Context:
    """A context acting for ``principal``: every service call is checked against its grants."""
    extras = ctx.extras if remote_addr is None else {**ctx.extras, "remote_addr": remote_addr}
    return Context(engine=ctx.engine, clock=ctx.clock, actor=principal, authorizer=AUTHORIZER, extras=extras)


def subject_ref(user_id: int) -> str:
    """The pseudonymous id that stands for a user in log entries (never a name; docs/TLOG.md)."""
    return f"user-{user_id}"


def actor_sees_borrower_identity(ctx: Context) -> bool:
    """False when borrower identity fields must be masked for this context's actor."""
    actor = ctx.actor
    return sees_borrower_identity(actor if isinstance(actor, Principal) else None)


def grant_to_creator(session: Session, ctx: Context, plan_code: str, now: datetime) -> bool:
    """In the caller's transaction: the user who initiates a plan may act on it as its role allows
    (without this a plan manager could create a plan and then not see it). Regulators and admins
    already reach every plan; the local operator needs no grant. True when a grant was added (the
    caller then calls ``users.access_changed()`` after the commit)."""
    actor = ctx.actor
    if not isinstance(actor, Principal) or actor.role in ALL_PLANS_ROLES:
        return False
    actions = ",".join(sorted(a.value for a in ROLE_PLAN_CAPABILITIES[actor.role]))
    session.add(PlanGrantRow(user_id=actor.user_id, plan_code=plan_code, actions=actions, granted_at=now))
    append_event(session, entry_type="access.granted", plan_code=plan_code, recorded_at=now,
                 payload={"user": subject_ref(actor.user_id), "role": actor.role.value, "actions": actions.split(",")})
    return True
