"""Request dependencies: the base context, who is asking, and a context acting for them.

Use the aliases in route signatures: ``ctx: ActorCtx`` gives a ``Context`` whose every
service call is authorized for the signed-in user (bearer API key, or the browser session
cookie — unsafe methods with a cookie also need the ``X-CSRF-Token`` header).

The dependencies are ``async``: FastAPI runs a sync dependency in a worker thread, one hop
each per request. They do no I/O except when the caller's principal is not in the
process's short-lived cache; that lookup runs in a worker thread.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from absflow.access import Principal
from absflow.api.settings import Settings
from absflow.services import users as user_service
from absflow.services.access import CSRF_FAILED, LOGIN_FAILED, as_principal, record_security_event
from absflow.services.context import Context

SESSION_COOKIE = "absflow_session"
#: The page language (read by the pages; part of the read cache's key).
LANG_COOKIE = "absflow_lang"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def base_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


BaseCtx = Annotated[Context, Depends(base_context)]
SettingsDep = Annotated[Settings, Depends(settings)]


def remote_addr(request: Request) -> str | None:
    return request.client.host if request.client else None


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value (None: another scheme, or none)."""
    scheme, _, token = authorization.partition(" ")
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


async def current_principal(request: Request, ctx: BaseCtx) -> Principal:
    """The API caller: a bearer API key, or the session cookie (+ CSRF header on unsafe methods)."""
    token = bearer_token(request.headers.get("authorization", ""))
    if token is not None:
        principal = user_service.cached_api_key(ctx, token)
        if principal is None:
            principal = await run_in_threadpool(user_service.resolve_api_key, ctx, token)
        if principal is None:
            # a failed sign-in like a wrong password (the token itself is never recorded)
            await run_in_threadpool(record_security_event, ctx, LOGIN_FAILED, "unknown or revoked API key",
                                    remote_addr=remote_addr(request))
            raise HTTPException(401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    web_session = user_service.cached_session(ctx, cookie) if cookie else None
    if web_session is not None:
        request.state.web_session = web_session
    else:
        web_session = await run_in_threadpool(session_of, request, ctx)
    if web_session is None:
        raise HTTPException(401, "sign in or send an API key (Authorization: Bearer …)",
                            headers={"WWW-Authenticate": "Bearer"})
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(sent, web_session.csrf_token):
            await run_in_threadpool(record_security_event, ctx, CSRF_FAILED,
                                    f"missing or wrong X-CSRF-Token header on {request.method} {request.url.path}",
                                    username=web_session.principal.username, remote_addr=remote_addr(request))
            raise HTTPException(403, "missing or wrong X-CSRF-Token header")
    return web_session.principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def actor_context(request: Request, ctx: BaseCtx, principal: PrincipalDep) -> Context:
    """A context acting for the caller: the service layer checks every call against its grants."""
    return as_principal(ctx, principal, remote_addr=remote_addr(request))


ActorCtx = Annotated[Context, Depends(actor_context)]
