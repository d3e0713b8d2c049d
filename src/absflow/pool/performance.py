"""Static-pool (vintage) curves and dynamic-pool roll rates from performance histories.

The performance frame (``absflow.services.tapes.load_performance_frame``) has one row
per loan per reporting month:

| column | type | meaning |
|---|---|---|
| ``loan_id`` | String | the loan |
| ``period`` | Date | the reporting month (any day in it; only the month counts) |
| ``origination_date`` | Date | the loan's origination; its month is the vintage |
| ``original_principal_fen`` | Int64 | principal at origination (vintage denominator) |
| ``end_balance_fen`` | Int64 | principal outstanding at the end of the month |
| ``days_past_due`` | Int | days past due at the end of the month (null = 0) |
| ``status`` | String | performing, delinquent, defaulted, prepaid, repaid |
| ``defaulted_amount_fen`` | Int64 | principal that defaulted in the month |
| ``prepaid_principal_fen`` | Int64 | principal prepaid in the month |
| ``recovery_fen`` | Int64 | recoveries on defaulted principal in the month |

Loss = defaulted amount − recoveries, cumulated (net loss; it can fall as recoveries
come in).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from absflow.domain.money import fen_to_yuan

LOAN = "loan_id"
PERIOD = "period"
ORIGINATION = "origination_date"
ORIGINAL_BALANCE = "original_principal_fen"
END_BALANCE = "end_balance_fen"
DAYS_PAST_DUE = "days_past_due"
STATUS = "status"
DEFAULT = "defaulted_amount_fen"
PREPAYMENT = "prepaid_principal_fen"
RECOVERY = "recovery_fen"

#: Delinquency states of the roll-rate matrix, in order, and the exit state for loans paid off.
CURRENT, DPD_1_30, DPD_31_60, DPD_61_90, DPD_90_PLUS, DEFAULTED = (
    "current", "1-30", "31-60", "61-90", "90+", "default")
DELINQUENCY_STATES = (CURRENT, DPD_1_30, DPD_31_60, DPD_61_90, DPD_90_PLUS, DEFAULTED)
PAID_OFF = "paid_off"
ROLL_TO_STATES = (*DELINQUENCY_STATES, PAID_OFF)
DEFAULT_STATUSES = frozenset({"defaulted"})
PAID_STATUSES = frozenset({"prepaid", "repaid"})


def _require(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} needs performance columns {', '.join(missing)}")


def _month_index(column: str) -> pl.Expr:
    return pl.col(column).dt.year().cast(pl.Int32) * 12 + pl.col(column).dt.month().cast(pl.Int32) - 1


# ---------------------------------------------------------------- static pool


@dataclass(frozen=True, slots=True)
class VintageCurves:
    """Cumulative default, prepayment and loss per vintage (origination month) and month
    on book (0 = the origination month), as fractions of the vintage's original balance.

    ``frame`` columns: vintage (Date, 1st of month), months_on_book, original_balance_fen,
    cum_default_fen, cum_prepayment_fen, cum_loss_fen, cum_default_rate,
    cum_prepayment_rate, cum_loss_rate. Each vintage runs from month 0 to its last
    observed month; months with no report carry the cumulative figures forward.
    """

    frame: pl.DataFrame

    @property
    def vintages(self) -> list[date]:
        return list(self.frame.get_column("vintage").unique(maintain_order=True))

    @property
    def last_month_on_book(self) -> int:
        """The longest month on book observed in any vintage (0 when there are none)."""
        last = self.frame.get_column("months_on_book").max() if self.frame.height else None
        return int(last) if isinstance(last, int) else 0

    def curve(self, vintage: date, measure: str = "cum_default_rate") -> list[float]:
        """One vintage's curve of ``measure`` by month on book."""
        return list(self.frame.filter(pl.col("vintage") == vintage).get_column(measure))

    def as_dict(self) -> dict[str, Any]:
        out: list[dict[str, Any]] = []
        for vintage, part in self.frame.group_by("vintage", maintain_order=True):
            out.append({
                "vintage": vintage[0].isoformat(),
                "original_balance": str(fen_to_yuan(int(part.get_column("original_balance_fen")[0]))),
                "months_on_book": list(part.get_column("months_on_book")),
                "cum_default_rate": list(part.get_column("cum_default_rate")),
                "cum_prepayment_rate": list(part.get_column("cum_prepayment_rate")),
                "cum_loss_rate": list(part.get_column("cum_loss_rate")),
                "cum_default": [str(fen_to_yuan(v)) for v in part.get_column("cum_default_fen")],
                "cum_prepayment": [str(fen_to_yuan(v)) for v in part.get_column("cum_prepayment_fen")],
                "cum_loss": [str(fen_to_yuan(v)) for v in part.get_column("cum_loss_fen")],
            })
        return {"vintages": out}


def vintage_curves(performance: pl.DataFrame) -> VintageCurves:
    """Static-pool curves from the performance frame (see the module docstring).

    Each asset counts once in its vintage's original balance (its first row's
    ``original_principal_fen``). Rows dated before their origination month are ignored.
    """
    _require(performance, (LOAN, PERIOD, ORIGINATION, ORIGINAL_BALANCE, DEFAULT, PREPAYMENT, RECOVERY),
             "vintage curves")
    loss = pl.col(DEFAULT).fill_null(0) - pl.col(RECOVERY).fill_null(0)
    rows = performance.select(
        pl.col(LOAN),
        pl.col(ORIGINATION).dt.truncate("1mo").alias("vintage"),
        (_month_index(PERIOD) - _month_index(ORIGINATION)).alias("months_on_book"),
        pl.col(ORIGINAL_BALANCE),
        pl.col(DEFAULT).fill_null(0).alias("default_fen"),
        pl.col(PREPAYMENT).fill_null(0).alias("prepayment_fen"),
        loss.fill_null(0).alias("loss_fen"),
    ).filter(pl.col("months_on_book") >= 0)
    originals = (
        rows.group_by(LOAN).agg(pl.col("vintage").first(), pl.col(ORIGINAL_BALANCE).first())
        .group_by("vintage").agg(pl.col(ORIGINAL_BALANCE).sum().alias("original_balance_fen"))
    )
    flows = rows.group_by("vintage", "months_on_book").agg(
        pl.col("default_fen").sum(), pl.col("prepayment_fen").sum(), pl.col("loss_fen").sum()
    )
    grid = (
        rows.group_by("vintage").agg(pl.col("months_on_book").max().alias("last"))
        .with_columns(pl.int_ranges(0, pl.col("last") + 1, dtype=pl.Int32).alias("months_on_book"))
        .explode("months_on_book").drop("last")
    )
    curves = (
        grid.join(flows, on=["vintage", "months_on_book"], how="left")
        .join(originals, on="vintage", how="left")
        .sort("vintage", "months_on_book")
        .with_columns(pl.col("default_fen", "prepayment_fen", "loss_fen").fill_null(0))
        .with_columns(
            pl.col("default_fen").cum_sum().over("vintage").alias("cum_default_fen"),
            pl.col("prepayment_fen").cum_sum().over("vintage").alias("cum_prepayment_fen"),
            pl.col("loss_fen").cum_sum().over("vintage").alias("cum_loss_fen"),
        )
    )
    original = pl.col("original_balance_fen").cast(pl.Float64)
    result = curves.select(
        "vintage", "months_on_book", "original_balance_fen",
        "cum_default_fen", "cum_prepayment_fen", "cum_loss_fen",
        *[
            pl.when(original > 0).then(pl.col(f"cum_{m}_fen").cast(pl.Float64) / original).otherwise(None)
            .alias(f"cum_{m}_rate")
            for m in ("default", "prepayment", "loss")
        ],
    )
    return VintageCurves(result)


# ---------------------------------------------------------------- dynamic pool


def delinquency_state() -> pl.Expr:
    """State per performance row: default (status defaulted); paid_off (status prepaid or
    repaid, or nothing left outstanding at month end); else by days past due."""
    dpd = pl.col(DAYS_PAST_DUE).fill_null(0)
    status = pl.col(STATUS).cast(pl.String)
    return (
        pl.when(status.is_in(sorted(DEFAULT_STATUSES))).then(pl.lit(DEFAULTED))
        .when(status.is_in(sorted(PAID_STATUSES)) | (pl.col(END_BALANCE).fill_null(1) <= 0)).then(pl.lit(PAID_OFF))
        .when(dpd <= 0).then(pl.lit(CURRENT))
        .when(dpd <= 30).then(pl.lit(DPD_1_30))
        .when(dpd <= 60).then(pl.lit(DPD_31_60))
        .when(dpd <= 90).then(pl.lit(DPD_61_90))
        .otherwise(pl.lit(DPD_90_PLUS))
    )


@dataclass(frozen=True, slots=True)
class RollRates:
    """Month-to-month transitions between delinquency states, pooled over all consecutive
    month pairs of each asset. Rows: from-state (DELINQUENCY_STATES); columns: to-state
    (ROLL_TO_STATES, incl. paid_off). ``count[i][j]`` assets, ``balance_fen[i][j]`` their
    balance in the from-month; rates are row shares (each row sums to 1, or is all None
    when no asset started in that state)."""

    from_states: tuple[str, ...]
    to_states: tuple[str, ...]
    count: tuple[tuple[int, ...], ...]
    balance_fen: tuple[tuple[int, ...], ...]
    transitions: int

    def rate_by_count(self) -> list[list[float | None]]:
        return [_row_shares(r) for r in self.count]

    def rate_by_balance(self) -> list[list[float | None]]:
        return [_row_shares(r) for r in self.balance_fen]

    def as_dict(self) -> dict[str, Any]:
        return {
            "from_states": list(self.from_states),
            "to_states": list(self.to_states),
            "transitions": self.transitions,
            "count": [list(r) for r in self.count],
            "balance": [[str(fen_to_yuan(v)) for v in r] for r in self.balance_fen],
            "rate_by_count": self.rate_by_count(),
            "rate_by_balance": self.rate_by_balance(),
        }


def _row_shares(row: Sequence[int]) -> list[float | None]:
    total = sum(row)
    return [v / total if total else None for v in row]


def roll_rates(performance: pl.DataFrame) -> RollRates:
    """Roll-rate matrix from the performance frame (needs loan_id, period, status,
    days_past_due, end_balance_fen). A transition is a loan's state in month t and in
    month t + 1 when both are reported, weighed by its end balance in month t; loans
    already paid off are not followed further."""
    _require(performance, (LOAN, PERIOD, STATUS, DAYS_PAST_DUE, END_BALANCE), "roll rates")
    states = (
        performance.select(
            pl.col(LOAN),
            _month_index(PERIOD).alias("month"),
            delinquency_state().alias("from_state"),
            pl.col(END_BALANCE).fill_null(0).alias("balance_fen"),
        )
        .sort(LOAN, "month")
        .with_columns(
            pl.col("from_state").shift(-1).over(LOAN).alias("to_state"),
            pl.col("month").shift(-1).over(LOAN).alias("next_month"),
        )
        .filter((pl.col("next_month") == pl.col("month") + 1) & (pl.col("from_state") != PAID_OFF))
    )
    grouped = states.group_by("from_state", "to_state").agg(pl.len().alias("n"), pl.col("balance_fen").sum().alias("b"))
    cells = {(r["from_state"], r["to_state"]): (int(r["n"]), int(r["b"] or 0)) for r in grouped.iter_rows(named=True)}
    count = tuple(tuple(cells.get((f, t), (0, 0))[0] for t in ROLL_TO_STATES) for f in DELINQUENCY_STATES)
    balance = tuple(tuple(cells.get((f, t), (0, 0))[1] for t in ROLL_TO_STATES) for f in DELINQUENCY_STATES)
    return RollRates(DELINQUENCY_STATES, ROLL_TO_STATES, count, balance, states.height)
