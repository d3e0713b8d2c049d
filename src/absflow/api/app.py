"""The FastAPI application: REST API under ``/api/v1``, server-rendered pages, static assets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from absflow.api import errors
from absflow.api.middleware import EdgeMiddleware
from absflow.api.readcache import ReadCacheMiddleware
from absflow.api.routes import analytics, book, cashflows, daily, jobs, log, offerings, plans, pool, tapes, users
from absflow.api.settings import Settings, settings_from_env
from absflow.domain.issues import AbsflowError
from absflow.services import cashflowjobs, opsjobs, tapejobs
from absflow.services import jobs as job_service
from absflow.services.context import Context, open_context

API_PREFIX = "/api/v1"

#: Scripts and styles only from this server; no inline script, no CDN, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class _PrefixRouter(APIRouter):
    """An APIRouter that declines a path outside its prefix at once. FastAPI (0.137+) keeps included
    routers as a tree and tries every route of every subtree in turn (twice per request: to match,
    then to handle); without this, each page request first tried all ~80 API routes (~0.5 ms)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path: str = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        if not path.startswith(self.prefix):
            return Match.NONE, {}
        return super().matches(scope)


def api_router() -> APIRouter:
    router = _PrefixRouter(prefix=API_PREFIX)
    router.include_router(plans.router)
    router.include_router(users.router)
    router.include_router(jobs.router)
    router.include_router(log.router)
    router.include_router(tapes.router)
    router.include_router(cashflows.router)
    router.include_router(pool.router)
    router.include_router(daily.router)
    router.include_router(offerings.router)
    router.include_router(book.router)
    router.include_router(analytics.router)
    return router


def create_app(ctx: Context | None = None, settings: Settings | None = None) -> FastAPI:
    """The app on ``ctx`` (default: ``ABSFLOW_DATABASE_URL``, schema upgraded)."""
    from absflow.web import book as book_pages
    from absflow.web import cashflows as cashflow_pages
    from absflow.web import daily as daily_pages
    from absflow.web import pages, tapes  # the pages depend on the API's deps; imported here to avoid a cycle
    from absflow.web import pool as pool_pages

    tapejobs.register()
    cashflowjobs.register()
    opsjobs.register()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = None
        if app.state.settings.run_worker:
            worker = job_service.Worker(app.state.ctx)
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="absflow",
        version="1",
        summary="Exchange ABS plans: registry, pool, cash flows, daily operations, bookbuilding, verifiable log.",
        docs_url=None,  # the interactive docs pull scripts from a CDN; the schema is at /openapi.json
        redoc_url=None,
        # absflow exports no OpenTelemetry; left on, FastAPI asks the global providers (and the
        # environment) on every request whether to trace it.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.ctx = ctx or open_context()
    app.state.settings = settings or settings_from_env()

    def body_limit() -> int:
        return int(app.state.settings.max_upload_bytes) + 1024 * 1024  # the file plus the other form fields

    def too_large(limit: int, path: str) -> Response:
        return errors.problem(413, "too_large", f"requests are limited to {limit // (1024 * 1024)} MiB", instance=path)

    app.add_middleware(EdgeMiddleware, headers=SECURITY_HEADERS, limit=body_limit, too_large=too_large)
    # Outside the edge: kept answers carry the security headers they were sent with.
    app.add_middleware(ReadCacheMiddleware)

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"

    @app.exception_handler(AbsflowError)
    async def absflow_error(request: Request, exc: AbsflowError) -> Response:
        if is_api(request):
            return errors.problem_from_error(exc, request.url.path)
        return pages.error_page(request, exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_api(request):
            return errors.http_problem(request, exc)
        return pages.error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> Response:
        return errors.request_validation_problem(request, exc)

    app.include_router(api_router())
    pages.install(app, [tapes.router, cashflow_pages.router, pool_pages.router, daily_pages.router,
                       book_pages.router])
    return app


def app_from_env() -> FastAPI:
    """The app on ``ABSFLOW_DATABASE_URL`` without migrating (``absflow serve --workers N`` migrates first)."""
    return create_app(open_context(migrate=False))
