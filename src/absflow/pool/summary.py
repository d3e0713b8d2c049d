"""Pool summary: count, balances (exact, from integer fen), balance-weighted averages.

Weighted averages weight each asset by ``balance_fen``; an asset whose value is missing
(null) is left out of that average (numerator and weight). A weighted average over zero
weight is ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import polars as pl

from absflow.domain.money import FEN, fen_to_yuan
from absflow.pool.fields import BALANCE, MAINTENANCE_RATIO, RATE, REMAINING_TERM, SEASONING

#: Common margin-financing lines (DOMAIN.md): warning 150 %, liquidation 130 %.
DEFAULT_WARNING_LINE = 1.50
DEFAULT_LIQUIDATION_LINE = 1.30


def wa_exprs(column: str, name: str) -> list[pl.Expr]:
    """Aggregations giving the balance-weighted sum of ``column`` (``{name}__num``) and the
    weight behind it (``{name}__den``: balance of rows where the value is present)."""
    value = pl.col(column)
    balance = pl.col(BALANCE)
    return [
        (balance.cast(pl.Float64) * value.cast(pl.Float64)).sum().alias(f"{name}__num"),
        balance.filter(value.is_not_null()).sum().alias(f"{name}__den"),
    ]


def wa_value(row: dict[str, Any], name: str) -> float | None:
    """Weighted average from the two aggregates ``wa_exprs`` made; None over zero weight."""
    den = row.get(f"{name}__den")
    if not den:
        return None
    return float(row[f"{name}__num"]) / float(den)


def money_or_none(fen: int | None) -> Decimal | None:
    return None if fen is None else fen_to_yuan(int(fen))


def average_yuan(total_fen: int, count: int) -> Decimal | None:
    """Exact average balance in yuan, rounded half-even to the fen."""
    if count == 0:
        return None
    return (Decimal(total_fen) / Decimal(count) / 100).quantize(FEN, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class MarginSummary:
    """Margin-loan figures: WA maintenance ratio and the shares strictly below each line."""

    warning_line: float
    liquidation_line: float
    wa_maintenance_ratio: float | None
    pct_balance_below_warning: float
    pct_count_below_warning: float
    pct_balance_below_liquidation: float
    pct_count_below_liquidation: float


@dataclass(frozen=True, slots=True)
class PoolSummary:
    """Summary of a pool. Money in Decimal yuan; rates fractions; terms in months."""

    count: int
    total_balance_fen: int
    wa_rate: float | None
    wa_remaining_term_months: float | None
    wa_seasoning_months: float | None
    min_balance_fen: int | None
    max_balance_fen: int | None
    margin: MarginSummary | None = None

    @property
    def total_balance(self) -> Decimal:
        return fen_to_yuan(self.total_balance_fen)

    @property
    def min_balance(self) -> Decimal | None:
        return money_or_none(self.min_balance_fen)

    @property
    def max_balance(self) -> Decimal | None:
        return money_or_none(self.max_balance_fen)

    @property
    def avg_balance(self) -> Decimal | None:
        return average_yuan(self.total_balance_fen, self.count)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape: exactly these keys; money as decimal strings in yuan."""
        body: dict[str, Any] = {
            "count": self.count,
            "total_balance": str(self.total_balance),
            "wa_rate": self.wa_rate,
            "wa_remaining_term_months": self.wa_remaining_term_months,
            "wa_seasoning_months": self.wa_seasoning_months,
            "min_balance": None if self.min_balance is None else str(self.min_balance),
            "max_balance": None if self.max_balance is None else str(self.max_balance),
            "avg_balance": None if self.avg_balance is None else str(self.avg_balance),
        }
        if self.margin is not None:
            m = self.margin
            body.update(
                warning_line=m.warning_line,
                liquidation_line=m.liquidation_line,
                wa_maintenance_ratio=m.wa_maintenance_ratio,
                pct_balance_below_warning=m.pct_balance_below_warning,
                pct_count_below_warning=m.pct_count_below_warning,
                pct_balance_below_liquidation=m.pct_balance_below_liquidation,
                pct_count_below_liquidation=m.pct_count_below_liquidation,
            )
        return body


#: (summary attribute, frame column) of the weighted averages every summary carries.
WEIGHTED = (("wa_rate", RATE), ("wa_remaining_term_months", REMAINING_TERM), ("wa_seasoning_months", SEASONING))


def _null_safe(frame: pl.DataFrame, column: str) -> pl.Expr:
    return pl.col(column) if column in frame.columns else pl.lit(None, dtype=pl.Float64).alias(column)


def summarize(
    frame: pl.DataFrame,
    *,
    warning_line: float = DEFAULT_WARNING_LINE,
    liquidation_line: float = DEFAULT_LIQUIDATION_LINE,
) -> PoolSummary:
    """Summary of the pool ``frame`` (one row per asset, ``balance_fen`` required).

    When the frame has a ``maintenance_ratio`` column with any value (margin loans) the summary also
    carries the WA maintenance ratio and the shares, by balance and by count, of assets
    strictly below ``warning_line`` and ``liquidation_line`` (ratios, 1.50 = 150 %).
    Assets with no maintenance ratio count as not below either line.
    """
    if BALANCE not in frame.columns:
        raise ValueError(f"pool frame lacks {BALANCE!r}")
    work = frame.select(
        pl.col(BALANCE), *[_null_safe(frame, c) for _, c in WEIGHTED],
        *([pl.col(MAINTENANCE_RATIO)] if MAINTENANCE_RATIO in frame.columns else []),
    )
    balance = pl.col(BALANCE)
    aggs: list[pl.Expr] = [
        pl.len().alias("count"),
        balance.sum().alias("total_fen"),
        balance.min().alias("min_fen"),
        balance.max().alias("max_fen"),
    ]
    for name, column in WEIGHTED:
        aggs.extend(wa_exprs(column, name))
    margin = MAINTENANCE_RATIO in frame.columns and frame.get_column(MAINTENANCE_RATIO).null_count() < frame.height
    if margin:
        ratio = pl.col(MAINTENANCE_RATIO)
        aggs.extend(wa_exprs(MAINTENANCE_RATIO, "wa_maintenance_ratio"))
        for line_name, line in (("warning", warning_line), ("liquidation", liquidation_line)):
            below = ratio < line
            aggs.append(balance.filter(below).sum().alias(f"below_{line_name}_fen"))
            aggs.append(below.sum().alias(f"below_{line_name}_count"))
    row = work.select(aggs).row(0, named=True)
    count = int(row["count"])
    total_fen = int(row["total_fen"] or 0)
    margin_summary = None
    if margin:
        def share(part: Any, whole: int) -> float:
            return float(part or 0) / whole if whole else 0.0

        margin_summary = MarginSummary(
            warning_line=warning_line,
            liquidation_line=liquidation_line,
            wa_maintenance_ratio=wa_value(row, "wa_maintenance_ratio"),
            pct_balance_below_warning=share(row["below_warning_fen"], total_fen),
            pct_count_below_warning=share(row["below_warning_count"], count),
            pct_balance_below_liquidation=share(row["below_liquidation_fen"], total_fen),
            pct_count_below_liquidation=share(row["below_liquidation_count"], count),
        )
    return PoolSummary(
        count=count,
        total_balance_fen=total_fen,
        wa_rate=wa_value(row, "wa_rate"),
        wa_remaining_term_months=wa_value(row, "wa_remaining_term_months"),
        wa_seasoning_months=wa_value(row, "wa_seasoning_months"),
        min_balance_fen=None if row["min_fen"] is None else int(row["min_fen"]),
        max_balance_fen=None if row["max_fen"] is None else int(row["max_fen"]),
        margin=margin_summary,
    )
