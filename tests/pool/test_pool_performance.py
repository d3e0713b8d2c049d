"""Static-pool curves and roll rates on small histories worked out by hand."""

from datetime import date

import polars as pl
import pytest

from absflow.pool import roll_rates, vintage_curves
from absflow.pool.performance import DELINQUENCY_STATES, ROLL_TO_STATES


def perf(rows: list[dict]) -> pl.DataFrame:
    defaults = {"defaulted_amount_fen": 0, "prepaid_principal_fen": 0, "recovery_fen": 0, "days_past_due": 0,
                "status": "performing", "end_balance_fen": 0}
    return pl.DataFrame([{**defaults, **r} for r in rows], schema_overrides={
        "defaulted_amount_fen": pl.Int64, "prepaid_principal_fen": pl.Int64, "recovery_fen": pl.Int64,
        "end_balance_fen": pl.Int64,         "original_principal_fen": pl.Int64, "days_past_due": pl.Int32})


def vintage_history() -> pl.DataFrame:
    a = {"loan_id": "A", "origination_date": date(2025, 1, 15), "original_principal_fen": 100_000}
    b = {"loan_id": "B", "origination_date": date(2025, 1, 20), "original_principal_fen": 300_000}
    c = {"loan_id": "C", "origination_date": date(2025, 2, 3), "original_principal_fen": 200_000}
    return perf([
        {**a, "period": date(2025, 1, 31)},
        {**a, "period": date(2025, 2, 28), "prepaid_principal_fen": 10_000},
        {**a, "period": date(2025, 3, 31), "defaulted_amount_fen": 50_000},
        {**a, "period": date(2025, 4, 30), "recovery_fen": 20_000},
        {**b, "period": date(2025, 1, 31)},
        {**b, "period": date(2025, 2, 28)},
        {**b, "period": date(2025, 3, 31), "prepaid_principal_fen": 30_000},
        # B has no April report: the grid still runs to the vintage's last month (from A)
        {**c, "period": date(2025, 2, 28)},
        {**c, "period": date(2025, 3, 31), "defaulted_amount_fen": 100_000, "recovery_fen": 25_000},
    ])


def test_vintage_curves_by_hand() -> None:
    curves = vintage_curves(vintage_history())
    assert curves.vintages == [date(2025, 1, 1), date(2025, 2, 1)]
    jan, feb = date(2025, 1, 1), date(2025, 2, 1)
    # January vintage: A 1,000 + B 3,000 = 4,000 yuan original
    assert curves.curve(jan, "months_on_book") == [0, 1, 2, 3]
    assert curves.curve(jan, "original_balance_fen") == [400_000] * 4
    # default 500 / 4,000; prepayment 100, then +300; loss 500, then −200 recovered
    assert curves.curve(jan, "cum_default_rate") == pytest.approx([0.0, 0.0, 0.125, 0.125], rel=1e-12)
    assert curves.curve(jan, "cum_prepayment_rate") == pytest.approx([0.0, 0.025, 0.1, 0.1], rel=1e-12)
    assert curves.curve(jan, "cum_loss_rate") == pytest.approx([0.0, 0.0, 0.125, 0.075], rel=1e-12)
    # February vintage: C 2,000 yuan; 1,000 defaults in month 1, 250 recovered the same month
    assert curves.curve(feb, "cum_default_rate") == pytest.approx([0.0, 0.5], rel=1e-12)
    assert curves.curve(feb, "cum_loss_rate") == pytest.approx([0.0, 0.375], rel=1e-12)
    assert curves.curve(feb, "cum_loss_fen") == [0, 75_000]
    body = curves.as_dict()
    assert body["vintages"][0]["vintage"] == "2025-01-01"
    assert body["vintages"][0]["original_balance"] == "4000.00"
    assert body["vintages"][0]["cum_loss"] == ["0.00", "0.00", "500.00", "300.00"]


def test_vintage_needs_the_flow_columns() -> None:
    with pytest.raises(ValueError, match="defaulted_amount_fen"):
        vintage_curves(vintage_history().drop("defaulted_amount_fen"))


def roll_history() -> pl.DataFrame:
    rows = []
    def month(m: int) -> date:
        return date(2025, m, 28)
    # A: current → 1-30 → 31-60 → current
    for m, dpd in zip((1, 2, 3, 4), (0, 15, 45, 0), strict=True):
        rows.append({"loan_id": "A", "period": month(m), "days_past_due": dpd, "end_balance_fen": 100_000})
    # B: current → current → prepaid (then stays prepaid: not followed further)
    for m, status, bal in ((1, "performing", 200_000), (2, "performing", 200_000), (3, "prepaid", 0),
                           (4, "prepaid", 0)):
        rows.append({"loan_id": "B", "period": month(m), "status": status, "end_balance_fen": bal})
    # C: 61-90 → 90+ → default → default
    for m, dpd, status in ((1, 75, "delinquent"), (2, 100, "delinquent"), (3, 130, "defaulted"),
                           (4, 160, "defaulted")):
        rows.append({"loan_id": "C", "period": month(m), "days_past_due": dpd, "status": status,
                     "end_balance_fen": 50_000})
    # D: reported in months 1 and 3 only → no consecutive pair, no transition
    rows.append({"loan_id": "D", "period": month(1), "end_balance_fen": 80_000})
    rows.append({"loan_id": "D", "period": month(3), "days_past_due": 10, "end_balance_fen": 80_000})
    return perf(rows).drop("origination_date", strict=False)


def test_roll_rates_by_hand() -> None:
    r = roll_rates(roll_history())
    assert r.from_states == DELINQUENCY_STATES
    assert r.to_states == ROLL_TO_STATES == ("current", "1-30", "31-60", "61-90", "90+", "default", "paid_off")
    assert r.transitions == 8
    assert [list(row) for row in r.count] == [
        [1, 1, 0, 0, 0, 0, 1],  # current: B stays, A rolls to 1-30, B pays off
        [0, 0, 1, 0, 0, 0, 0],  # 1-30 → 31-60 (A)
        [1, 0, 0, 0, 0, 0, 0],  # 31-60 → current (A cures)
        [0, 0, 0, 0, 1, 0, 0],  # 61-90 → 90+ (C)
        [0, 0, 0, 0, 0, 1, 0],  # 90+ → default (C)
        [0, 0, 0, 0, 0, 1, 0],  # default stays default (C)
    ]
    by_count = r.rate_by_count()
    assert by_count[0] == pytest.approx([1 / 3, 1 / 3, 0, 0, 0, 0, 1 / 3])
    # by from-month balance: B 2,000 + A 1,000 + B 2,000 = 5,000 yuan left current
    assert r.rate_by_balance()[0] == [0.4, 0.2, 0.0, 0.0, 0.0, 0.0, 0.4]
    assert r.balance_fen[0] == (200_000, 100_000, 0, 0, 0, 0, 200_000)
    body = r.as_dict()
    assert body["balance"][3] == ["0.00", "0.00", "0.00", "0.00", "500.00", "0.00", "0.00"]


def test_nothing_left_outstanding_counts_as_paid_off() -> None:
    frame = perf([
        {"loan_id": "E", "period": date(2025, 1, 31), "end_balance_fen": 5_000},
        {"loan_id": "E", "period": date(2025, 2, 28), "end_balance_fen": 0},  # last instalment, still "performing"
    ])
    r = roll_rates(frame)
    assert r.count[0] == (0, 0, 0, 0, 0, 0, 1) and r.balance_fen[0][6] == 5_000


def test_roll_rates_row_with_no_assets_is_none() -> None:
    only_a = roll_history().filter(pl.col("loan_id") == "A")
    rates = roll_rates(only_a).rate_by_count()
    assert rates[0] == [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert rates[5] == [None] * 7  # nothing ever started in default
