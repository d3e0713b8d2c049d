"""Pool analytics as rows for people (terminal tables, the demo): percentages, yuan with
thousands separators. The JSON and xlsx forms keep full precision; these are for reading."""

from __future__ import annotations

from decimal import Decimal

from absflow.pool import PoolSummary, Stratification

STRAT_COLUMNS = ["bucket", "count", "% count", "balance (yuan)", "% balance", "wa_rate", "wa_rem_term (m)"]


def pct(value: float | None, digits: int = 2) -> str:
    """0.0525 → "5.25%"; None → ""."""
    return "" if value is None else f"{value * 100:.{digits}f}%"


def num(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def yuan(value: Decimal | None) -> str:
    """Decimal yuan with thousands separators, exact to the fen."""
    return "" if value is None else f"{value:,}"


def summary_rows(s: PoolSummary) -> list[tuple[str, str]]:
    """(figure, value) rows of a pool summary."""
    rows = [
        ("count", f"{s.count:,}"),
        ("total_balance (yuan)", yuan(s.total_balance)),
        ("wa_rate", pct(s.wa_rate, 4)),
        ("wa_remaining_term_months", num(s.wa_remaining_term_months)),
        ("wa_seasoning_months", num(s.wa_seasoning_months)),
        ("min_balance (yuan)", yuan(s.min_balance)),
        ("max_balance (yuan)", yuan(s.max_balance)),
        ("avg_balance (yuan)", yuan(s.avg_balance)),
    ]
    if s.margin is not None:
        m = s.margin
        rows += [
            ("wa_maintenance_ratio", pct(m.wa_maintenance_ratio)),
            (f"below warning line {pct(m.warning_line, 0)}: balance / count",
             f"{pct(m.pct_balance_below_warning)} / {pct(m.pct_count_below_warning)}"),
            (f"below liquidation line {pct(m.liquidation_line, 0)}: balance / count",
             f"{pct(m.pct_balance_below_liquidation)} / {pct(m.pct_count_below_liquidation)}"),
        ]
    return rows


def strat_rows(s: Stratification) -> list[tuple[str, ...]]:
    """Rows of a stratification (columns STRAT_COLUMNS), the total row last."""
    return [
        (r.bucket, f"{r.count:,}", pct(r.pct_count), yuan(r.balance), pct(r.pct_balance), pct(r.wa_rate, 3),
         num(r.wa_remaining_term_months))
        for r in (*s.rows, s.total)
    ]
