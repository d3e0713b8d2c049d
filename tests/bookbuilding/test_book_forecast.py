"""Forecast backtest figures quoted in docs/bookbuilding.md; forecast behaviour; credit-code checksum."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from absflow.bookbuilding import Bid, Offering, check_book
from absflow.bookbuilding.comparables import MARGIN_LOAN_DEALS
from absflow.bookbuilding.forecast import forecast_marginal_rate, leave_one_out
from absflow.bookbuilding.investor import credit_code_check_char, credit_code_issues


def test_the_appendix_table_is_complete() -> None:
    assert len(MARGIN_LOAN_DEALS) == 14
    assert sum(d.size_yuan for d in MARGIN_LOAN_DEALS) == Decimal(190) * 10**8  # 190亿 in all (appendix 二)
    assert min(d.coupon for d in MARGIN_LOAN_DEALS) == Decimal("0.0335")
    assert max(d.coupon for d in MARGIN_LOAN_DEALS) == Decimal("0.0545")


def test_leave_one_out_backtest_matches_the_docs() -> None:
    everything = leave_one_out(MARGIN_LOAN_DEALS)
    assert everything.mean_absolute_error == Decimal("0.00255")
    assert everything.root_mean_square_error == Decimal("0.00348")
    assert everything.coverage == 1
    dated = leave_one_out([d for d in MARGIN_LOAN_DEALS if d.value_date is not None])
    assert dated.mean_absolute_error == Decimal("0.00185") and dated.coverage == Decimal("0.923")


def test_forecast_tracks_the_book_and_respects_the_covered_bound() -> None:
    off = Offering(size_yuan=Decimal(10**9), rate_min=Decimal("0.03"), rate_max=Decimal("0.06"))
    bids = [Bid(f"I{n}", Decimal(450 + 5 * n) / 10000, Decimal(2 * 10**8), seq=n) for n in range(10)]
    levels = check_book(off, bids)  # 5 × 2亿 reach the size at 4.70%
    kw = {"comparables": MARGIN_LOAN_DEALS, "issue_date": date(2017, 12, 1), "term_months": 18}
    prior_only = forecast_marginal_rate(off, [], **kw)
    assert prior_only.book_rate is None and prior_only.rate == prior_only.prior_rate
    half = forecast_marginal_rate(off, levels, progress=Decimal("0.5"), **kw)
    assert half.covered_now and half.current_marginal_rate == Decimal("0.0470")
    assert half.book_rate == Decimal("0.0460")  # half the size is reached at 4.60%
    assert half.high <= Decimal("0.0470") and half.low <= half.rate <= half.high
    closed = forecast_marginal_rate(off, levels, progress=Decimal(1), **kw)
    assert closed.rate == closed.low == closed.high == Decimal("0.0470")


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000100010433L"])
def test_published_credit_codes_pass(code: str) -> None:
    assert credit_code_issues(code) == []


def test_credit_code_errors() -> None:
    assert [i.code for i in credit_code_issues("9135010")] == ["credit_code_length"]
    assert [i.code for i in credit_code_issues("91350100M000100YI3")] == ["credit_code_characters"]
    assert [i.code for i in credit_code_issues("91350100M000100Y44")] == ["credit_code_checksum"]
    assert credit_code_check_char("91350100M000100Y4") == "3"
