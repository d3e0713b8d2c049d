"""Stratification of a pool by any field.

Buckets
- Numeric fields are cut at ``edges``: a bucket holds ``lower <= value < upper``. Every
  bucket between two edges is listed, empty ones included; the open-ended buckets
  ``< first`` and ``>= last`` are listed only when they hold assets. Money edges are in
  yuan (the frame holds fen).
- Default edges when none are given:
  * ``maintenance_ratio``: 1.30, 1.50, 1.80, 2.00, 2.50, 3.00, 4.00 (the common
    liquidation and warning lines first);
  * money (``*_fen``): the 1-2-5 series in yuan (10,000 / 20,000 / 50,000 / 100,000 …)
    from the largest value at or below the smallest positive amount to the first above
    the largest; decades (1 / 10 / 100 …) when that would exceed 12 buckets;
  * month fields (``*_months``): the smallest step of 1, 2, 3, 6, 12, 24, 36, 60, 120 or
    240 months that is at least (max − min) / 8, edges on multiples of the step;
  * other numbers (rates, ratios, days): the smallest step of 1, 2, 2.5 or 5 × 10^k that
    is at least (max − min) / 8 (whole steps for integer columns), edges on multiples of
    the step — about 8 buckets, never more than 9.
  Default edges span the data, so no open-ended bucket appears.
- Dates: one bucket per calendar year by default; with ``edges`` (ISO dates) cut like numbers.
- Categorical fields (strings, booleans): one row per value, largest balance first.
- Missing values form a last bucket ``(missing)``.
Each row carries count, share of count, balance (exact, from integer fen), share of
balance, and balance-weighted rate and remaining term. The total row is computed over
the whole pool with the same formulas as the summary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

import numpy as np
import polars as pl

from absflow.domain.issues import Issue, Location, ValidationFailed
from absflow.domain.money import fen_to_yuan
from absflow.pool.fields import BALANCE, RATE, REMAINING_TERM, FieldKind, PoolField, resolve_field
from absflow.pool.summary import wa_exprs, wa_value

MISSING = "(missing)"
TOTAL = "total"

#: Field-specific default edges (see the module docstring).
DEFAULT_EDGES: dict[str, tuple[Decimal, ...]] = {
    "maintenance_ratio": tuple(Decimal(x) for x in ("1.30", "1.50", "1.80", "2.00", "2.50", "3.00", "4.00")),
}
TARGET_BUCKETS = 8
MAX_MONEY_BUCKETS = 12
MONTH_STEPS = (1, 2, 3, 6, 12, 24, 36, 60, 120, 240)

EdgeValue = str | int | float | Decimal | date


@dataclass(frozen=True, slots=True)
class StratRow:
    """One bucket. Shares are fractions of the pool total; WA values are balance-weighted."""

    bucket: str
    count: int
    balance_fen: int
    pct_count: float
    pct_balance: float
    wa_rate: float | None
    wa_remaining_term_months: float | None

    @property
    def balance(self) -> Decimal:
        return fen_to_yuan(self.balance_fen)

    def as_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "count": self.count,
            "pct_count": self.pct_count,
            "balance": str(self.balance),
            "pct_balance": self.pct_balance,
            "wa_rate": self.wa_rate,
            "wa_remaining_term_months": self.wa_remaining_term_months,
        }


@dataclass(frozen=True, slots=True)
class Stratification:
    """Rows in display order plus the total row; ``edges`` are those used (None if categorical)."""

    field: str
    kind: FieldKind
    rows: tuple[StratRow, ...]
    total: StratRow
    edges: tuple[Decimal, ...] | tuple[date, ...] | None

    def as_dict(self) -> dict[str, Any]:
        edges = None if self.edges is None else [str(e) if isinstance(e, Decimal) else e.isoformat()
                                                 for e in self.edges]
        return {
            "field": self.field,
            "kind": self.kind.value,
            "edges": edges,
            "rows": [r.as_dict() for r in self.rows],
            "total": self.total.as_dict(),
        }


# ---------------------------------------------------------------- edges


def _fmt(value: Decimal) -> str:
    text = format(value, "f")
    return "0" if text in ("-0", "0") else text


def _bad_edges(issues: list[Issue]) -> ValidationFailed:
    return ValidationFailed(issues, message="; ".join(i.message for i in issues))


def parse_edges(values: Sequence[EdgeValue], kind: FieldKind) -> tuple[Decimal, ...] | tuple[date, ...]:
    """Edges as Decimals (numbers; money in yuan) or dates; strictly increasing, at least one.

    Raises ValidationFailed (codes ``bad_edge``, ``edges_not_increasing``, ``no_edges``)
    naming every bad value at once.
    """
    issues: list[Issue] = []
    if not values:
        raise _bad_edges([Issue("no_edges", "give at least one bucket edge", Location(field_path="edges"))])
    if kind is FieldKind.CATEGORY:
        raise _bad_edges([Issue("edges_for_category", "edges apply only to numeric and date fields; "
                                "categorical fields get one row per value", Location(field_path="edges"))])
    parsed: list[Any] = []
    for i, raw in enumerate(values):
        where = Location(field_path=f"edges[{i}]")
        try:
            if kind is FieldKind.DATE:
                value: Any = raw if isinstance(raw, date) else date.fromisoformat(str(raw).strip())
            else:
                if isinstance(raw, date):
                    raise InvalidOperation
                value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw).strip())
                if not value.is_finite():
                    raise InvalidOperation
        except (ValueError, InvalidOperation):
            expected = "an ISO date (YYYY-MM-DD)" if kind is FieldKind.DATE else "a number"
            issues.append(Issue("bad_edge", f"bucket edge {str(raw)!r} is not {expected}", where, str(raw)))
            continue
        parsed.append(value)
    if not issues:
        for i in range(1, len(parsed)):
            if parsed[i] <= parsed[i - 1]:
                issues.append(Issue("edges_not_increasing",
                                    f"bucket edges must increase: {parsed[i - 1]} then {parsed[i]}",
                                    Location(field_path=f"edges[{i}]"), str(parsed[i])))
    if issues:
        raise _bad_edges(issues)
    return tuple(parsed)


def _nice_step(raw: float, *, integer: bool) -> Decimal:
    if raw <= 0:
        return Decimal(1)
    exponent = math.floor(math.log10(raw))
    for e in (exponent, exponent + 1):
        for mantissa in ("1", "2", "2.5", "5"):
            step = Decimal(mantissa).scaleb(e)
            if integer and (step < 1 or step != step.to_integral_value()):
                continue
            if step >= Decimal(repr(raw)):
                return step
    return Decimal(1).scaleb(exponent + 2)


def linear_edges(lo: float, hi: float, *, integer: bool = False, months: bool = False) -> tuple[Decimal, ...]:
    """Evenly stepped edges on multiples of a nice step covering [lo, hi]: about TARGET_BUCKETS buckets."""
    raw = (hi - lo) / TARGET_BUCKETS
    if months:
        step = Decimal(next((s for s in MONTH_STEPS if s >= raw), MONTH_STEPS[-1]))
    elif raw > 0:
        step = _nice_step(raw, integer=integer)
    else:  # one distinct value: one bucket around it
        step = Decimal(1) if integer or lo == 0 else Decimal(1).scaleb(math.floor(math.log10(abs(lo))) - 1)
    lo_d, hi_d = Decimal(repr(float(lo))), Decimal(repr(float(hi)))
    start = (lo_d / step).to_integral_value(ROUND_FLOOR) * step
    count = int(((hi_d - start) / step).to_integral_value(ROUND_FLOOR)) + 1
    return tuple(start + i * step for i in range(count + 1))


def money_edges_yuan(lo_positive_yuan: float, hi_yuan: float) -> tuple[Decimal, ...]:
    """1-2-5 series (or decades, when that gives more than MAX_MONEY_BUCKETS buckets) in yuan
    from the largest value <= ``lo_positive_yuan`` to the first value > ``hi_yuan``."""
    for mantissas in (("1", "2", "5"), ("1",)):
        e = math.floor(math.log10(lo_positive_yuan)) - 1  # one decade early: log10 may round up
        series: list[Decimal] = []
        lo_d = Decimal(repr(lo_positive_yuan))
        hi_d = Decimal(repr(hi_yuan))
        while not series or series[-1] <= hi_d:
            for m in mantissas:
                v = Decimal(m).scaleb(e)
                if v <= lo_d:
                    series = [v]
                elif series and series[-1] <= hi_d:
                    series.append(v)
            e += 1
        if len(series) - 1 <= MAX_MONEY_BUCKETS:
            return tuple(series)
    return tuple(series)


def default_edges(column: pl.Series, field: PoolField) -> tuple[Decimal, ...]:
    """The documented default edges for ``field`` over the values in ``column``."""
    if field.name in DEFAULT_EDGES:
        return DEFAULT_EDGES[field.name]
    present = column.drop_nulls()
    if present.is_empty():
        return ()
    if present.dtype.is_float():
        present = present.filter(present.is_finite())
        if present.is_empty():
            return ()
    lo, hi = float(present.min()), float(present.max())  # type: ignore[arg-type]
    if field.kind is FieldKind.MONEY:
        positive = present.filter(present > 0)
        if positive.is_empty():
            return linear_edges(lo / 100, hi / 100)
        return money_edges_yuan(float(positive.min()) / 100, hi / 100)  # type: ignore[arg-type]
    return linear_edges(lo, hi, integer=present.dtype.is_integer(), months=field.column.endswith("_months"))


def _label(edges: Sequence[Decimal] | Sequence[date], index: int) -> str:
    """Label of bucket ``index`` (0 = below the first edge, len(edges) = at or above the last)."""
    text = [_fmt(e) if isinstance(e, Decimal) else e.isoformat() for e in edges]
    if not text:
        return "all"
    if index == 0:
        return f"< {text[0]}"
    if index == len(edges):
        return f">= {text[-1]}"
    return f"[{text[index - 1]}, {text[index]})"


# ---------------------------------------------------------------- stratify


def _aggregations() -> list[pl.Expr]:
    return [
        pl.len().alias("count"),
        pl.col(BALANCE).sum().alias("balance_fen"),
        *wa_exprs(RATE, "wa_rate"),
        *wa_exprs(REMAINING_TERM, "wa_remaining_term_months"),
    ]


def _row(label: str, agg: dict[str, Any] | None, total_count: int, total_fen: int) -> StratRow:
    if agg is None:
        return StratRow(label, 0, 0, 0.0, 0.0, None, None)
    count = int(agg["count"])
    balance_fen = int(agg["balance_fen"] or 0)
    return StratRow(
        bucket=label,
        count=count,
        balance_fen=balance_fen,
        pct_count=count / total_count if total_count else 0.0,
        pct_balance=balance_fen / total_fen if total_fen else 0.0,
        wa_rate=wa_value(agg, "wa_rate"),
        wa_remaining_term_months=wa_value(agg, "wa_remaining_term_months"),
    )


def _base(frame: pl.DataFrame) -> list[pl.Expr]:
    exprs = [pl.col(BALANCE)]
    for column in (RATE, REMAINING_TERM):
        exprs.append(pl.col(column) if column in frame.columns else pl.lit(None, dtype=pl.Float64).alias(column))
    return exprs


def _bucket_index(values: pl.Series, cut: Sequence[float]) -> np.ndarray[Any, np.dtype[np.int32]]:
    """Bucket number per value (0 below the first edge … len(cut) at or above the last; -1 missing)."""
    as_float = values.cast(pl.Float64).to_numpy()
    index = np.searchsorted(np.asarray(cut, dtype=np.float64), as_float, side="right").astype(np.int32)
    missing = np.isnan(as_float)
    if missing.any():
        index[missing] = -1
    return index


def stratify(
    frame: pl.DataFrame,
    by: str,
    edges: Sequence[EdgeValue] | None = None,
) -> Stratification:
    """Stratify the pool ``frame`` by field ``by`` (see the module docstring for buckets).

    ``edges`` override the default buckets of numeric and date fields (money in yuan,
    dates ISO). Unknown fields and bad edges raise ValidationFailed.
    """
    field = resolve_field(frame.schema, by)
    used_edges: tuple[Decimal, ...] | tuple[date, ...] | None = None
    if edges is not None:
        used_edges = parse_edges(edges, field.kind)
    column = frame.get_column(field.column)
    base = frame.select(_base(frame))
    total_agg = base.select(_aggregations()).row(0, named=True)
    total_count = int(total_agg["count"])
    total_fen = int(total_agg["balance_fen"] or 0)
    total = _row(TOTAL, total_agg, total_count, total_fen)

    if field.kind is FieldKind.CATEGORY or (field.kind is FieldKind.DATE and used_edges is None):
        if field.kind is FieldKind.DATE:
            key = column.dt.year().cast(pl.String)
        else:
            key = column.cast(pl.String)
        grouped = base.with_columns(key.fill_null(MISSING).alias("__key")).group_by("__key").agg(_aggregations())
        aggs = {str(r["__key"]): r for r in grouped.iter_rows(named=True)}
        if field.kind is FieldKind.DATE:
            order = sorted(aggs, key=lambda k: (k == MISSING, k))
        else:
            order = sorted(aggs, key=lambda k: (k == MISSING, -int(aggs[k]["balance_fen"] or 0), k))
        rows = tuple(_row(k, aggs[k], total_count, total_fen) for k in order)
        return Stratification(field.name, field.kind, rows, total, None)

    if field.kind is FieldKind.DATE:
        assert used_edges is not None
        epoch = date(1970, 1, 1)
        cut = [float((d - epoch).days) for d in used_edges if isinstance(d, date)]
        values = column.cast(pl.Date).cast(pl.Int32)
    else:
        if used_edges is None:
            used_edges = default_edges(column, field)
        scale = 100 if field.kind is FieldKind.MONEY else 1
        cut = [float(e * scale) for e in used_edges if isinstance(e, Decimal)]
        values = column
    index = _bucket_index(values, cut)
    grouped = base.with_columns(pl.Series("__key", index)).group_by("__key").agg(_aggregations())
    aggs_by_index = {int(r["__key"]): r for r in grouped.iter_rows(named=True)}
    ordered: list[StratRow] = []
    n_edges = len(cut)
    for i in range(n_edges + 1):
        inner = 0 < i < n_edges
        if inner or i in aggs_by_index:
            ordered.append(_row(_label(used_edges, i), aggs_by_index.get(i), total_count, total_fen))
    if -1 in aggs_by_index:
        ordered.append(_row(MISSING, aggs_by_index[-1], total_count, total_fen))
    return Stratification(field.name, field.kind, tuple(ordered), total, used_edges)
