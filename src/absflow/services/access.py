"""The authorizer behind ``Context.require`` for signed-in users, and the record of denials.

A plan the user may not view answers exactly like a plan that does not exist (NotFound
with the same message), so nothing about other plans leaks through status codes or text.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select

from absflow.access import Principal, Verdict, decide, may, sees_borrower_identity
from absflow.domain.issues import NotFound, PermissionDenied
from absflow.services.context import Context
from absflow.store.db import transaction
from absflow.store.users import SecurityEventRow

security_log = logging.getLogger("absflow.security")

LOGIN_FAILED = "login_failed"
PERMISSION_DENIED = "permission_denied"


def record_security_event(
    ctx: Context,
    kind: str,
    detail: str,
    *,
    username: str | None = None,
    remote_addr: str | None = None,
    action: str | None = None,
    plan_code: str | None = None,
) -> None:
    """Write one security event (own transaction, so it survives the refused operation) and log it."""
    security_log.warning(
        "%s user=%s addr=%s action=%s plan=%s: %s", kind, username, remote_addr, action, plan_code, detail
    )
    with transaction(ctx.engine) as session:
        session.add(SecurityEventRow(
            kind=kind, username=(username or "")[:64] or None, remote_addr=remote_addr, action=action,
            plan_code=(plan_code or "")[:32] or None, detail=detail[:500], occurred_at=ctx.now(),
        ))


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
    """``Context.require`` for a ``Principal`` actor: allow, or record the denial and raise."""

    def __call__(self, ctx: Context, action: str, plan_code: str | None) -> None:
        principal = _principal(ctx)
        decision = decide(principal, action, plan_code)
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
        return may(_principal(ctx), action, plan_code)


AUTHORIZER = PrincipalAuthorizer()


def as_principal(ctx: Context, principal: Principal, *, remote_addr: str | None = None) -> Context:
    """A context acting for ``principal``: every service call is checked against its grants."""
    acting = ctx.as_actor(principal, AUTHORIZER)
    if remote_addr is not None:
        acting = Context(engine=acting.engine, clock=acting.clock, actor=principal, authorizer=AUTHORIZER,
                         extras={**ctx.extras, "remote_addr": remote_addr})
    return acting


def actor_sees_borrower_identity(ctx: Context) -> bool:
    """False when borrower identity fields must be masked for this context's actor."""
    actor = ctx.actor
    return sees_borrower_identity(actor if isinstance(actor, Principal) else None)
