"""Pool analytics of a plan: load the imported tape, then the pure ``absflow.pool`` core.

Read-only: nothing here changes state, so nothing is appended to the log. Errors users
can act on: unknown plan (NotFound ``not_found``), a plan with no imported assets
(NotFound ``empty_pool``), no performance history (NotFound ``no_performance_history``),
unknown field or bad edges (ValidationFailed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from absflow import pool
from absflow.domain.issues import NotFound
from absflow.pool.strat import EdgeValue
from absflow.reports.pool_xlsx import strat_xlsx, vintage_xlsx
from absflow.services import deals as deal_service
from absflow.services import plans as plan_service
from absflow.services import tapes
from absflow.services.context import Context

FrameLoader = Callable[[Context, str], pl.DataFrame]


#: Where frames come from: the tape import's loaders. Tests may swap them.
LOADERS: dict[str, FrameLoader] = {
    "pool": lambda ctx, code: tapes.load_pool_frame(ctx, code),
    "performance": tapes.load_performance_frame,
}


def pool_frame(ctx: Context, code: str) -> pl.DataFrame:
    """The plan's current pool, one row per asset; NotFound when the plan has no assets."""
    ctx.require("view", code)
    plan_service.get_plan(ctx, code)
    frame = LOADERS["pool"](ctx, code)
    if frame.height == 0:
        raise NotFound(
            f"plan {code} has no assets yet; import a loan tape first "
            f"(absflow tape import {code} FILE --mapping M.yaml --cutoff YYYY-MM-DD)",
            code="empty_pool",
        )
    return frame


def performance_frame(ctx: Context, code: str) -> pl.DataFrame:
    """The plan's monthly performance history; NotFound when none was imported."""
    ctx.require("view", code)
    plan_service.get_plan(ctx, code)
    frame = LOADERS["performance"](ctx, code)
    if frame.height == 0:
        raise NotFound(f"plan {code} has no performance history imported", code="no_performance_history")
    return frame


def maintenance_lines(ctx: Context, code: str) -> tuple[float, float]:
    """(warning, liquidation) lines of the plan: its deal document's ``revolving.maintenance_lines``
    where set, else the common 1.50 / 1.30."""
    ctx.require("view", code)
    warning, liquidation = pool.DEFAULT_WARNING_LINE, pool.DEFAULT_LIQUIDATION_LINE
    try:
        deal = deal_service.current_deal(ctx, code)
    except NotFound:
        return warning, liquidation
    lines = deal.revolving.maintenance_lines if deal.revolving is not None else None
    if lines is not None and lines.warning is not None:
        warning = float(lines.warning)
    if lines is not None and lines.liquidation is not None:
        liquidation = float(lines.liquidation)
    return warning, liquidation


def summary(
    ctx: Context,
    code: str,
    *,
    warning_line: float | None = None,
    liquidation_line: float | None = None,
) -> pool.PoolSummary:
    """Pool summary; margin-loan pools also get the shares below the two lines (ratios,
    1.50 = 150 %). A line not given comes from the plan's deal (see ``maintenance_lines``)."""
    ctx.require("view", code)
    frame = pool_frame(ctx, code)
    if warning_line is None or liquidation_line is None:
        deal_warning, deal_liquidation = maintenance_lines(ctx, code)
        warning_line = deal_warning if warning_line is None else warning_line
        liquidation_line = deal_liquidation if liquidation_line is None else liquidation_line
    return pool.summarize(frame, warning_line=warning_line, liquidation_line=liquidation_line)


def strat(ctx: Context, code: str, by: str, edges: Sequence[EdgeValue] | None = None) -> pool.Stratification:
    """Stratify the plan's pool by field ``by`` (money edges in yuan)."""
    ctx.require("view", code)
    return pool.stratify(pool_frame(ctx, code), by, edges)


def strats(ctx: Context, code: str, fields: Sequence[str]) -> list[pool.Stratification]:
    """Several stratifications over one load of the pool (default edges)."""
    ctx.require("view", code)
    frame = pool_frame(ctx, code)
    return [pool.stratify(frame, by) for by in fields]


def fields(ctx: Context, code: str) -> list[pool.PoolField]:
    """Fields the plan's pool can be stratified by."""
    ctx.require("view", code)
    return pool.pool_fields(pool_frame(ctx, code).schema)


def concentration(ctx: Context, code: str, *, top_n: int = 10) -> pool.Concentration:
    """Top obligors, largest obligor share, HHI, top regions and industries."""
    ctx.require("view", code)
    return pool.concentration(pool_frame(ctx, code), top_n=top_n)


def vintage(ctx: Context, code: str) -> pool.VintageCurves:
    """Static-pool curves by origination month from the performance history."""
    ctx.require("view", code)
    return pool.vintage_curves(performance_frame(ctx, code))


def rolls(ctx: Context, code: str) -> pool.RollRates:
    """Roll-rate matrix between delinquency states from the performance history."""
    ctx.require("view", code)
    return pool.roll_rates(performance_frame(ctx, code))


def strat_workbook(ctx: Context, code: str, by: str, edges: Sequence[EdgeValue] | None = None) -> bytes:
    """The stratification as an xlsx workbook (bytes)."""
    ctx.require("download", code)
    return strat_xlsx([strat(ctx, code, by, edges)], title=code)


def vintage_workbook(ctx: Context, code: str) -> bytes:
    """Vintage curves as an xlsx workbook (bytes)."""
    ctx.require("download", code)
    return vintage_xlsx(vintage(ctx, code), title=code)
