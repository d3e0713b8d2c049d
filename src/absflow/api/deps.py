"""Request dependencies: the base context, who is asking, and a context acting for them.

Use the aliases in route signatures: ``ctx: ActorCtx`` gives a ``Context`` whose every
service call is authorized for the signed-in user (bearer API key, or the browser session
cookie — unsafe methods with a cookie also need the ``X-CSRF-Token`` header).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from absflow.access import Principal
from absflow.api.settings import Settings
from absflow.services import users as user_service
from absflow.services.access import as_principal
from absflow.services.context import Context

SESSION_COOKIE = "absflow_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def base_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


BaseCtx = Annotated[Context, Depends(base_context)]
SettingsDep = Annotated[Settings, Depends(settings)]


def remote_addr(request: Request) -> str | None:
    return request.client.host if request.client else None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def session_of(request: Request, ctx: Context) -> user_service.WebSession | None:
    """The browser session named by the cookie, cached on the request."""
    if hasattr(request.state, "web_session"):
        cached: user_service.WebSession | None = request.state.web_session
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    found = user_service.resolve_session(ctx, token) if token else None
    request.state.web_session = found
    return found


def current_principal(request: Request, ctx: BaseCtx) -> Principal:
    """The API caller: a bearer API key, or the session cookie (+ CSRF header on unsafe methods)."""
    token = _bearer(request)
    if token is not None:
        principal = user_service.resolve_api_key(ctx, token)
        if principal is None:
            raise HTTPException(401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
        return principal
    web_session = session_of(request, ctx)
    if web_session is None:
        raise HTTPException(401, "sign in or send an API key (Authorization: Bearer …)",
                            headers={"WWW-Authenticate": "Bearer"})
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(sent, web_session.csrf_token):
            raise HTTPException(403, "missing or wrong X-CSRF-Token header")
    return web_session.principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def actor_context(request: Request, ctx: BaseCtx, principal: PrincipalDep) -> Context:
    """A context acting for the caller: the service layer checks every call against its grants."""
    return as_principal(ctx, principal, remote_addr=remote_addr(request))


ActorCtx = Annotated[Context, Depends(actor_context)]
