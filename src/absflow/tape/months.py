"""Month arithmetic on polars date expressions (vectorized; no Python loop per row).

Conventions (documented in docs/TAPE.md):
- ``add_months(d, n)``: same day n months later, clamped to the month's last day
  (2024-01-31 + 1 month = 2024-02-29).
- ``months_remaining(as_of, end)``: monthly payment dates falling in (as_of, end], with
  payments on ``end``'s day of month: whole months between plus one when ``end``'s day
  is after ``as_of``'s day; never negative.
- ``months_elapsed(start, as_of)``: whole months from ``start`` to ``as_of`` (seasoning);
  never negative.
"""

from __future__ import annotations

from datetime import date

import polars as pl


def _month_index(expr: pl.Expr) -> pl.Expr:
    return expr.dt.year().cast(pl.Int64) * 12 + expr.dt.month().cast(pl.Int64)


def add_months(start: pl.Expr, months: pl.Expr) -> pl.Expr:
    """``start`` plus ``months`` calendar months, the day clamped to the month end."""
    index = _month_index(start) - 1 + months.cast(pl.Int64)
    year = index // 12
    month = index % 12 + 1
    first = pl.date(year, month, 1)
    last_day = first.dt.month_end().dt.day()
    day = pl.min_horizontal(start.dt.day(), last_day)
    return pl.date(year, month, day)


def _as_expr(value: pl.Expr | date) -> pl.Expr:
    return value if isinstance(value, pl.Expr) else pl.lit(value, dtype=pl.Date)


def months_remaining(as_of: pl.Expr | date, end: pl.Expr) -> pl.Expr:
    """Monthly payment dates in (as_of, end] (payments on ``end``'s day); 0 when ``end <= as_of``."""
    start = _as_expr(as_of)
    months = _month_index(end) - _month_index(start) + (end.dt.day() > start.dt.day()).cast(pl.Int64)
    return pl.when(end <= start).then(0).otherwise(months).cast(pl.Int64)


def months_elapsed(start: pl.Expr, as_of: pl.Expr | date) -> pl.Expr:
    """Whole months from ``start`` to ``as_of`` (seasoning); 0 when ``as_of <= start``."""
    end = _as_expr(as_of)
    months = _month_index(end) - _month_index(start) - (end.dt.day() < start.dt.day()).cast(pl.Int64)
    return pl.when(end <= start).then(0).otherwise(months).cast(pl.Int64)
