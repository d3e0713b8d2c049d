"""A seed-001 deal's interim amortization window (齐鲁资管-东方证券1号: 4 working days), on the SSE calendar.

Period 1 runs 2016-06-01 → 2016-12-01 (183 days, ACT/365F). Revolving stops on 2016-11-25,
the 4th working day before the payment date (25, 28, 29, 30 November); what is collected
from then on pays the coupon. Every number below is computed by hand.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from absflow.calendar import default_calendar
from absflow.cashflow.periods import build_periods
from absflow.cashflow.waterfall import PoolPeriod, WaterfallEngine
from absflow.deal import parse_deal_text
from absflow.deal.model import DealStatus

DEAL = parse_deal_text(
    (Path(__file__).resolve().parents[2] / "examples" / "deals" / "03_qilu_dfzq_1.yaml").read_text("utf-8"))


def test_payment_dates_and_windows_on_the_sse_calendar() -> None:
    periods = build_periods(DEAL, default_calendar())
    assert [p.end for p in periods[:3]] == [date(2016, 12, 1), date(2017, 6, 1), date(2017, 12, 1)]
    # after the expected maturity: monthly extension periods up to the legal maturity 2019-12-01 (a Sunday → 2nd)
    assert periods[3].is_extension and periods[3].end == date(2018, 1, 2)
    assert periods[-1].end == date(2019, 12, 2) and len(periods) == 3 + 24
    assert periods[0].window_start == date(2016, 11, 25)
    assert periods[0].revolving_until == date(2016, 11, 25)
    assert periods[1].window_start == date(2017, 5, 25)  # 31, 27 (make-up Saturday), 26, 25 May
    assert periods[2].revolving_until == date(2017, 11, 10)  # revolving ends 2017-11-09
    assert periods[2].is_final and not periods[1].is_final and not periods[2].is_extension


def _period_one(window_interest_fen: int, window_principal_fen: int) -> tuple[PoolPeriod, WaterfallEngine]:
    engine = WaterfallEngine(DEAL, build_periods(DEAL, default_calendar()))
    assert engine.revolving_allowed(engine.periods[0])
    # before the window: 1,500,000,000.00 principal + (42,000,000.00 − window interest) collected and all
    # reinvested (本息买本: principal and interest buy principal)
    pre_interest = 4_200_000_000 - window_interest_fen
    pre_principal = 150_000_000_000
    pool = PoolPeriod(
        begin_balance_fen=100_000_000_000, interest_fen=4_200_000_000,
        principal_fen=pre_principal + window_principal_fen, end_balance_fen=100_000_000_000,
        purchases_fen=pre_principal + pre_interest, originator_rating="AAA",
    )
    return pool, engine


@pytest.mark.parametrize("window", [(200_000_000, 3_000_000_000)])
def test_window_collections_pay_the_coupon_and_the_rest_is_reinvested(window: tuple[int, int]) -> None:
    pool, engine = _period_one(*window)
    r = engine.step(pool)
    assert r.status is DealStatus.REVOLVING
    # kept for the payment date: 2,000,000.00 interest + 30,000,000.00 principal = 32,000,000.00
    assert r.accounts_begin_fen["collection"] == 0
    assert r.tax_paid_fen == 136_920_000  # 3.26% × 42,000,000.00
    assert {f: x.paid_fen for f, x in r.fees.items()} == {
        "custodian": 5_013_699, "manager": 50_136_986, "rating": 5_013_699}  # 0.01%, 0.1% of 1e9; 100,000/yr
    assert r.tranches["A"].interest_paid_fen == 1_595_609_589  # 950,000,000 × 3.35% × 183/365
    assert r.liquidity_drawn_fen == {}
    assert r.tranches["B"].residual_paid_fen == 250_684_932  # 10% p.a. × 50,000,000 × 183/365
    assert r.purchases_fen == 154_000_000_000 + 1_156_621_095  # 1,540,000,000.00 before the window + 11,566,210.95
    assert r.accounts_end_fen == {"collection": 0}


def test_a_short_window_draws_liquidity_support() -> None:
    pool, engine = _period_one(100_000_000, 500_000_000)  # 6,000,000.00 kept
    r = engine.step(pool)
    # 6,000,000.00 − 1,369,200.00 tax − 601,643.84 fees = 4,029,156.16 for a 15,956,095.89 coupon
    assert r.liquidity_drawn_fen == {"liquidity_support": 1_192_693_973}
    assert r.tranches["A"].interest_paid_fen == 1_595_609_589
    assert r.tranches["B"].residual_paid_fen == 0
    assert r.liquidity_outstanding_fen == {"liquidity_support": 1_192_693_973}
    assert r.accounts_end_fen == {"collection": 0}
