"""Invariants over random pools: strat rows add up to the totals, shares sum to 1, HHI in [1/n, 1]."""

import math
from datetime import date
from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from absflow.pool import concentration, roll_rates, stratify, summarize, vintage_curves

REGIONS = ["上海", "北京", "广东", "江苏", None]

loans = st.tuples(
    st.integers(min_value=0, max_value=10**12),          # balance in fen
    st.floats(min_value=0.0, max_value=0.36, allow_nan=False),
    st.integers(min_value=0, max_value=360),
    st.sampled_from(REGIONS),
    st.integers(min_value=0, max_value=30),               # obligor number
    st.one_of(st.none(), st.floats(min_value=0.5, max_value=9.0, allow_nan=False)),
)


def frame_of(rows: list[tuple]) -> pl.DataFrame:
    cols = list(zip(*rows, strict=True))
    return pl.DataFrame({
        "asset_id": [f"A{i}" for i in range(len(rows))],
        "obligor_id": [f"C{o}" for o in cols[4]],
        "balance_fen": pl.Series(cols[0], dtype=pl.Int64),
        "rate": pl.Series(cols[1], dtype=pl.Float64),
        "remaining_term_months": pl.Series(cols[2], dtype=pl.Int32),
        "seasoning_months": pl.Series([0] * len(rows), dtype=pl.Int32),
        "region": pl.Series(cols[3], dtype=pl.String),
        "maintenance_ratio": pl.Series(cols[5], dtype=pl.Float64),
    })


edges = st.lists(st.decimals(min_value=0, max_value=10**10, places=2, allow_nan=False, allow_infinity=False),
                 min_size=1, max_size=6, unique=True).map(sorted)


def check_adds_up(frame: pl.DataFrame, by: str, edge_list: list[Decimal] | None = None) -> None:
    s = stratify(frame, by, edge_list)
    total_fen = int(frame["balance_fen"].sum())
    assert sum(r.count for r in s.rows) == frame.height == s.total.count
    assert sum(r.balance_fen for r in s.rows) == total_fen == s.total.balance_fen
    assert sum((r.balance for r in s.rows), Decimal(0)) == s.total.balance
    assert math.isclose(sum(r.pct_count for r in s.rows), 1.0, abs_tol=1e-9)
    if total_fen > 0:
        assert math.isclose(sum(r.pct_balance for r in s.rows), 1.0, abs_tol=1e-9)
        for r in s.rows:
            if r.wa_rate is not None:
                assert -1e-12 <= r.wa_rate <= 0.36 + 1e-12


@settings(max_examples=60, deadline=None)
@given(st.lists(loans, min_size=1, max_size=40), edges)
def test_strat_rows_add_up_to_the_totals(rows: list[tuple], edge_list: list[Decimal]) -> None:
    frame = frame_of(rows)
    for by in ("balance", "rate", "remaining_term_months", "region", "maintenance_ratio"):
        check_adds_up(frame, by)
    check_adds_up(frame, "balance", edge_list)
    summary = summarize(frame)
    assert summary.count == frame.height
    assert summary.total_balance_fen == int(frame["balance_fen"].sum())


@settings(max_examples=60, deadline=None)
@given(st.lists(loans, min_size=1, max_size=40))
def test_hhi_between_one_over_n_and_one(rows: list[tuple]) -> None:
    frame = frame_of(rows)
    c = concentration(frame, top_n=3)
    if c.total_balance_fen == 0:
        assert c.hhi is None
        return
    assert c.hhi is not None
    assert 1 / c.obligor_count - 1e-12 <= c.hhi <= 1 + 1e-12
    assert c.largest_obligor_share ** 2 <= c.hhi + 1e-12  # the largest share alone is part of the sum
    shares = [s.pct_balance for s in c.top_obligors]
    assert shares == sorted(shares, reverse=True)
    assert math.isclose(c.top_obligors_share, sum(shares), rel_tol=1e-12, abs_tol=1e-15)


month_rows = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=5),                          # loan number
        st.integers(min_value=0, max_value=11),                         # reporting month of 2025
        st.integers(min_value=0, max_value=200),                        # days past due
        st.sampled_from(["performing", "delinquent", "defaulted", "prepaid"]),
        st.integers(min_value=0, max_value=10**9),                      # end balance, fen
        st.integers(min_value=0, max_value=10**6),                      # defaulted amount
        st.integers(min_value=0, max_value=10**6),                      # prepaid principal
    ),
    min_size=1, max_size=40, unique_by=lambda r: (r[0], r[1]),
)


def history_of(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame({
        "loan_id": [f"L{r[0]}" for r in rows],
        "period": [date(2025, r[1] + 1, 1) for r in rows],
        "origination_date": [date(2024, 1 + r[0], 10) for r in rows],
        "original_principal_fen": pl.Series([10**9] * len(rows), dtype=pl.Int64),
        "days_past_due": pl.Series([r[2] for r in rows], dtype=pl.Int64),
        "status": [r[3] for r in rows],
        "end_balance_fen": pl.Series([r[4] for r in rows], dtype=pl.Int64),
        "defaulted_amount_fen": pl.Series([r[5] for r in rows], dtype=pl.Int64),
        "prepaid_principal_fen": pl.Series([r[6] for r in rows], dtype=pl.Int64),
        "recovery_fen": pl.Series([0] * len(rows), dtype=pl.Int64),
    })


@settings(max_examples=60, deadline=None)
@given(month_rows)
def test_roll_rate_rows_are_shares_and_vintage_curves_only_grow(rows: list[tuple]) -> None:
    history = history_of(rows)
    r = roll_rates(history)
    assert sum(sum(row) for row in r.count) == r.transitions
    for by_count, by_balance in zip(r.rate_by_count(), r.rate_by_balance(), strict=True):
        if by_count[0] is not None:
            assert math.isclose(sum(by_count), 1.0, abs_tol=1e-9)
        if by_balance[0] is not None:
            assert math.isclose(sum(by_balance), 1.0, abs_tol=1e-9)
    curves = vintage_curves(history)
    for vintage in curves.vintages:
        for measure in ("cum_default_fen", "cum_prepayment_fen"):
            values = curves.curve(vintage, measure)
            assert values == sorted(values)
    assert int(curves.frame.group_by("vintage").agg(pl.col("cum_default_fen").last())["cum_default_fen"].sum()) == \
        int(history["defaulted_amount_fen"].sum())
