"""Server-rendered pages (Jinja2, autoescaped). Thin: parse the form → call a service → render.

Browser sessions live in an HttpOnly, SameSite=Lax cookie; every form carries the
session's CSRF token (the sign-in form a token signed with the server secret and bound to
a cookie). Pages call the same service functions as the API and the CLI, with a context
acting for the signed-in user, so the service layer enforces every permission.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader

from absflow.access import Principal
from absflow.api.deps import LANG_COOKIE, SESSION_COOKIE, remote_addr, session_of
from absflow.api.readcache import CACHED_READ
from absflow.domain.issues import AbsflowError
from absflow.domain.plan import ALLOWED_TRANSITIONS, PlanStatus
from absflow.services import logview
from absflow.services import plans as plan_service
from absflow.services import tlog as tlog_service
from absflow.services import users as user_service
from absflow.services.access import CSRF_FAILED, as_principal, record_security_event
from absflow.services.context import Context
from absflow.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate

LOGIN_CSRF_COOKIE = "absflow_login_nonce"
STATIC_DIR = Path(__file__).with_name("static")

templates = Environment(loader=PackageLoader("absflow.web", "templates"), autoescape=True, auto_reload=False)

router = APIRouter(include_in_schema=False)

#: Extra entries for the plan page's navigation: (label key, path suffix). Areas add theirs.
PLAN_SECTIONS: list[tuple[str, str]] = [("tape", "tape"), ("pool", "pool"), ("cashflows", "cashflows"),
                                         ("daily", "daily"), ("book", "book"), ("log", "log")]


class SignInRequired(Exception):
    """Raised by ``page_context`` when there is no live session; answered with a redirect."""


def language(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def base_ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    lang = language(request)
    web_session = getattr(request.state, "web_session", None)
    page = templates.get_template(template).render(
        _=lambda key: translate(key, lang), lang=lang, request=request, path=request.url.path,
        principal=web_session.principal if web_session else None,
        csrf_token=web_session.csrf_token if web_session else "",
        plan_sections=PLAN_SECTIONS, **values,
    )
    return HTMLResponse(page, status_code=status_code)


def error_page(request: Request, status_code: int, message: str) -> Response:
    if status_code == 401:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    title = "not_found" if status_code == 404 else "error"
    return render(request, "error.html", status_code=status_code, title=title, message=message,
                  status=status_code)


def page_context(request: Request) -> Context:
    """A context acting for the signed-in user; raises SignInRequired when there is none."""
    ctx = base_ctx(request)
    web_session = session_of(request, ctx)
    if web_session is None:
        raise SignInRequired
    return as_principal(ctx, web_session.principal, remote_addr=remote_addr(request))


def check_csrf(request: Request, sent: str) -> None:
    """Refuse a form whose CSRF token is not the session's; the refusal is recorded as a security event."""
    web_session = getattr(request.state, "web_session", None)
    if web_session is None or not hmac.compare_digest(sent or "", web_session.csrf_token):
        record_security_event(base_ctx(request), CSRF_FAILED,
                              f"missing or wrong form token on {request.method} {request.url.path}",
                              username=web_session.principal.username if web_session else None,
                              remote_addr=remote_addr(request))
        raise AbsflowError(translate("csrf", language(request)), code="csrf_failed")


def _login_token(secret: str, nonce: str) -> str:
    return hmac.new(secret.encode(), f"login:{nonce}".encode(), hashlib.sha256).hexdigest()


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", path="/",
                        secure=request.app.state.settings.cookie_secure)


@router.get("/login")
def login_form(request: Request, next: str = "/", error: str | None = None) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = render(request, "login.html", next=_safe_next(next), error=error,
                      login_token=_login_token(request.app.state.settings.secret_key, nonce))
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, nonce, max_age=3600)
    return response


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""), login_token: str = Form(""),
          next: str = Form("/")) -> Response:
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    expected = _login_token(request.app.state.settings.secret_key, nonce)
    target = _safe_next(next)
    if not nonce or not hmac.compare_digest(login_token, expected):
        record_security_event(base_ctx(request), CSRF_FAILED, "sign-in form without a valid form token",
                              username=username.strip() or None, remote_addr=remote_addr(request))
        return RedirectResponse(f"/login?error=csrf&next={quote(target)}", status_code=303)
    ctx = base_ctx(request)
    try:
        principal = user_service.authenticate(ctx, username.strip(), password,
                                              remote_addr=remote_addr(request))
    except user_service.TooManyAttempts:
        return RedirectResponse(f"/login?error=throttled&next={quote(target)}", status_code=303)
    except user_service.AuthenticationFailed:
        return RedirectResponse(f"/login?error=wrong_login&next={quote(target)}", status_code=303)
    token, _session = user_service.start_session(ctx, principal)
    response = RedirectResponse(target, status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, token, max_age=int(user_service.SESSION_LIFETIME.total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("")) -> Response:
    page_context(request)
    check_csrf(request, csrf_token)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        user_service.end_session(base_ctx(request), token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{lang}")
def switch_language(request: Request, lang: str, next: str = "/") -> Response:
    response = RedirectResponse(_safe_next(next), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/",
                            secure=request.app.state.settings.cookie_secure)
    return response


@router.get("/", dependencies=[CACHED_READ])
def plan_list(request: Request) -> Response:
    ctx = page_context(request)
    return render(request, "plans.html", plans=plan_service.list_plans(ctx))


def _days_in_status(history: list[tuple[str | None, str, str]], now: datetime) -> list[tuple[str, float]]:
    """(status, days spent) for each step of the history, the last one up to ``now``."""
    out = []
    for i, (_from, to, at) in enumerate(history):
        start = datetime.fromisoformat(at)
        end = datetime.fromisoformat(history[i + 1][2]) if i + 1 < len(history) else now
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        out.append((to, round(max((end - start).total_seconds(), 0) / 86400, 2)))
    return out


@router.get("/plans/{code}", dependencies=[CACHED_READ])
def plan_detail(request: Request, code: str) -> Response:
    ctx = page_context(request)
    plan, history = plan_service.get_plan_with_history(ctx, code)
    lang = language(request)
    durations = _days_in_status(history, ctx.now())
    chart = {
        "kind": "bar",
        "title": translate("activity", lang),
        "categories": [PlanStatus(s).label_zh if lang == "zh" else s for s, _ in durations],
        "series": [{"name": translate("days", lang), "data": [d for _, d in durations]}],
    }
    next_statuses = sorted(ALLOWED_TRANSITIONS[plan.status], key=lambda s: list(PlanStatus).index(s))
    return render(request, "plan.html", plan=plan, history=history, chart=chart,
                  can_edit=ctx.can("edit", code), next_statuses=next_statuses, all_statuses=list(PlanStatus))


@router.post("/plans/{code}/advance")
def plan_advance(request: Request, code: str, to_status: str = Form(...), csrf_token: str = Form("")) -> Response:
    ctx = page_context(request)
    check_csrf(request, csrf_token)
    plan_service.advance_plan(ctx, code, to_status)
    return RedirectResponse(f"/plans/{quote(code)}", status_code=303)


@router.get("/plans/{code}/log")
def plan_log(request: Request, code: str, before: int | None = None) -> Response:
    ctx = page_context(request)
    plan = plan_service.get_plan(ctx, code)
    entries, total = logview.plan_entries(ctx, code, limit=200, before=before)
    return render(request, "log.html", plan=plan, entries=entries, total=total,
                  checkpoints=list(reversed(tlog_service.list_checkpoints(ctx)))[:20],
                  can_download=ctx.can("download", code))


@router.get("/plans/{code}/log/{index}")
def plan_log_entry(request: Request, code: str, index: int) -> Response:
    ctx = page_context(request)
    plan = plan_service.get_plan(ctx, code)
    ctx.require("download", code)
    return render(request, "log_entry.html", plan=plan, index=index)


def install(app: FastAPI, extra_routers: list[APIRouter] | None = None) -> None:
    """Mount the pages and /static on ``app``."""

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _exc: SignInRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    app.include_router(router)
    for extra in extra_routers or []:
        app.include_router(extra)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


def principal_of_request(request: Request) -> Principal | None:
    web_session = getattr(request.state, "web_session", None)
    return web_session.principal if web_session else None


PageHandler = Callable[..., Response]
