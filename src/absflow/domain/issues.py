"""Errors users can act on: every problem is an ``Issue`` with a code and a location."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Location:
    """Where a problem is: a source row (1-based, header = 1), a column header, a field path."""

    row: int | None = None
    column: str | None = None
    field_path: str | None = None

    def describe(self) -> str:
        parts = []
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        if self.field_path is not None:
            parts.append(self.field_path)
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in user input: a stable ``code``, a sentence, where, and the value."""

    code: str
    message: str
    location: Location = field(default_factory=Location)
    value: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.location.row,
            "column": self.location.column,
            "field": self.location.field_path,
            "value": self.value,
            "code": self.code,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = self.location.describe()
        return f"{where}: {self.message} [{self.code}]" if where else f"{self.message} [{self.code}]"


class AbsflowError(Exception):
    """Base of all errors absflow reports to a user. ``code`` is stable and documented."""

    code = "error"
    #: HTTP status the API answers with.
    status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class ValidationFailed(AbsflowError):
    """Input had one or more problems; nothing was changed. Carries every issue found."""

    code = "validation_failed"
    status = 422

    def __init__(self, issues: Iterable[Issue], message: str | None = None) -> None:
        self.issues: list[Issue] = list(issues)
        super().__init__(message or f"{len(self.issues)} problem(s) found; nothing was changed")


class NotFound(AbsflowError):
    code = "not_found"
    status = 404


class Conflict(AbsflowError):
    """The operation clashes with the current state (already done, running, out of order)."""

    code = "conflict"
    status = 409


class InvalidTransition(AbsflowError):
    code = "invalid_transition"
    status = 409


class PermissionDenied(AbsflowError):
    code = "permission_denied"
    status = 403
