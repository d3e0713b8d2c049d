"""Pool analytics for the pages and the API, cached per plan state, masked per role.

Summary, stratifications and concentration of a large pool cost seconds to compute (the
whole pool is loaded). Their results only change when something is appended to the plan's
log (a tape import, a revolving purchase, …), so they are cached in this process keyed by
(database, plan, the plan's newest log index). Permission is checked on every call before
anything is served from the cache. Obligor ids in the concentration table are masked for
roles that must not see borrower identity (investors, rating agencies).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select

from absflow import pool
from absflow.access import MASK
from absflow.services import pool as pool_service
from absflow.services.access import actor_sees_borrower_identity
from absflow.services.context import Context
from absflow.store.db import transaction
from absflow.store.log import LogEntryRow

T = TypeVar("T")
CACHE_SIZE = 128
#: Fields stratified on the pool page when present, in this order.
DEFAULT_STRAT_FIELDS = ("balance", "rate", "remaining_term_months", "maintenance_ratio", "region", "industry",
                        "status", "seasoning_months")

_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_lock = threading.Lock()


def plan_state(ctx: Context, plan_code: str) -> int:
    """The plan's newest log index (-1 when none): any change to the pool appends an entry."""
    with transaction(ctx.engine) as session:
        found = session.execute(
            select(LogEntryRow.idx).where(LogEntryRow.plan_code == plan_code).order_by(LogEntryRow.idx.desc()).limit(1)
        ).scalar_one_or_none()
    return -1 if found is None else int(found)


def _cached(ctx: Context, plan_code: str, name: tuple[Any, ...], compute: Callable[[], T]) -> T:
    ctx.require("view", plan_code)
    key = (str(ctx.engine.url), plan_code, plan_state(ctx, plan_code), *name)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]  # type: ignore[no-any-return]
    value = compute()
    with _lock:
        _cache[key] = value
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def clear_cache() -> None:
    with _lock:
        _cache.clear()


@dataclass(frozen=True)
class PoolOverview:
    """Everything the pool page shows, from one load of the pool (money as decimal strings in yuan)."""

    summary: dict[str, Any]
    fields: list[str]
    strats: list[dict[str, Any]]
    concentration: dict[str, Any]


def _compute(ctx: Context, plan_code: str, fields: tuple[str, ...] | None) -> PoolOverview:
    frame = pool_service.pool_frame(ctx, plan_code)
    available = [f.name for f in pool.pool_fields(frame.schema)]
    wanted = [f for f in DEFAULT_STRAT_FIELDS if f in available][:4] if fields is None else list(fields)
    warning_line, liquidation_line = pool_service.maintenance_lines(ctx, plan_code)
    return PoolOverview(
        summary=pool.summarize(frame, warning_line=warning_line, liquidation_line=liquidation_line).as_dict(),
        fields=available,
        strats=[pool.stratify(frame, by).as_dict() for by in wanted],
        concentration=pool.concentration(frame, top_n=10).as_dict(),
    )


def overview(ctx: Context, plan_code: str, fields: Sequence[str] | None = None) -> PoolOverview:
    """Summary, stratifications (``fields``, default: up to four usual ones), concentration; cached.

    Obligor ids are masked for investors and rating agencies.
    """
    wanted = None if fields is None else tuple(fields)
    found = _cached(ctx, plan_code, ("overview", wanted), lambda: _compute(ctx, plan_code, wanted))
    if actor_sees_borrower_identity(ctx):
        return found
    masked = dict(found.concentration)
    masked["top_obligors"] = [{**row, "key": MASK} for row in found.concentration["top_obligors"]]
    return PoolOverview(found.summary, found.fields, found.strats, masked)
