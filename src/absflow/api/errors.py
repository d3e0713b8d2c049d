"""Errors as RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from absflow.domain.issues import AbsflowError, ValidationFailed

PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "Bad request", 401: "Sign-in required", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
    409: "Conflict", 413: "Upload too large", 415: "Unsupported file type", 422: "Invalid input",
    429: "Too many attempts", 500: "Internal error",
}


def problem(status: int, code: str, detail: str, *, instance: str | None = None,
            errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:absflow:problem:{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_from_error(exc: AbsflowError, instance: str | None = None) -> JSONResponse:
    errors = [i.as_dict() for i in exc.issues] if isinstance(exc, ValidationFailed) else None
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem(exc.status, exc.code, exc.message, instance=instance, errors=errors, headers=headers)


def request_validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's own input checks, reported like ValidationFailed: every problem with its location."""
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        errors.append({"row": None, "column": None, "field": ".".join(loc[1:]) or ".".join(loc),
                       "value": None, "code": str(err.get("type", "invalid")), "message": str(err.get("msg"))})
    return problem(422, "validation_failed", f"{len(errors)} problem(s) found; nothing was changed",
                   instance=request.url.path, errors=errors)


HTTP_CODES = {401: "authentication_required", 403: "permission_denied", 404: "not_found",
              405: "method_not_allowed", 413: "too_large", 415: "unsupported_type", 429: "too_many_attempts"}


def http_problem(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return problem(exc.status_code, HTTP_CODES.get(exc.status_code, "error"), str(exc.detail),
                   instance=request.url.path, headers=getattr(exc, "headers", None))
