"""What every service call carries: the database, the clock, and who is asking."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine

from absflow.store.db import make_engine
from absflow.store.migrate import upgrade


def utc_now() -> datetime:
    return datetime.now(UTC)


class Authorizer(Protocol):
    """Decides whether ``actor`` may do ``action`` on ``plan_code``; raises PermissionDenied/NotFound."""

    def __call__(self, ctx: Context, action: str, plan_code: str | None) -> None: ...


@dataclass(frozen=True)
class Context:
    """Service context. ``actor`` None means the local operator (CLI), who may do everything."""

    engine: Engine
    clock: Callable[[], datetime] = utc_now
    actor: Any | None = None
    authorizer: Authorizer | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock()

    def require(self, action: str, plan_code: str | None = None) -> None:
        """Check the actor may do ``action`` (view, edit, download, approve, admin) on the plan."""
        if self.actor is None or self.authorizer is None:
            return
        self.authorizer(self, action, plan_code)

    def can(self, action: str, plan_code: str | None = None) -> bool:
        """Whether ``require`` would pass, without recording a denial (for filtering lists)."""
        if self.actor is None or self.authorizer is None:
            return True
        allows = getattr(self.authorizer, "allows", None)
        if allows is not None:
            return bool(allows(self, action, plan_code))
        try:
            self.authorizer(self, action, plan_code)
        except Exception:
            return False
        return True

    def as_actor(self, actor: Any, authorizer: Authorizer) -> Context:
        return replace(self, actor=actor, authorizer=authorizer)


def open_context(database_url: str | None = None, *, migrate: bool = True) -> Context:
    """Engine for ``database_url`` (default ``ABSFLOW_DATABASE_URL``), schema upgraded to head."""
    engine = make_engine(database_url)
    if migrate:
        upgrade(engine)
    return Context(engine=engine)
