"""Excel's bond functions and generic flow analytics against published values."""

from __future__ import annotations

from datetime import date

import pytest

from absflow.cashflow.pricing import (
    BreakevenStatus,
    DatedFlow,
    analyze,
    bond_duration,
    bond_mduration,
    bond_price,
    bond_yield,
    breakeven,
    convexity,
    irr,
    macaulay_duration,
    modified_duration,
    price_from_yield,
    principal_window,
    wal_years,
    xirr,
    yield_from_price,
)
from absflow.domain.daycount import year_fraction


def test_excel_price_documented_example() -> None:
    """PRICE(2008-02-15, 2017-11-15, 5.75%, 6.5%, 100, 2, 0) = 94.63436 (Excel help; tolerance 5e-6)."""
    assert bond_price(date(2008, 2, 15), date(2017, 11, 15), 0.0575, 0.065, 100, 2, 0) == pytest.approx(
        94.63436, abs=5e-6
    )


def test_excel_duration_documented_example() -> None:
    """DURATION(2018-07-01, 2048-01-01, 8%, 9%, 2, 1) = 10.9191453 (Excel help; tolerance 5e-8)."""
    assert bond_duration(date(2018, 7, 1), date(2048, 1, 1), 0.08, 0.09, 2, 1) == pytest.approx(10.9191453, abs=5e-8)


def test_excel_mduration_documented_example() -> None:
    """MDURATION(2008-01-01, 2016-01-01, 8%, 9%, 2, 1) = 5.73567 (Excel help; tolerance 5e-6)."""
    assert bond_mduration(date(2008, 1, 1), date(2016, 1, 1), 0.08, 0.09, 2, 1) == pytest.approx(5.73567, abs=5e-6)


def test_excel_yield_documented_example() -> None:
    """YIELD(2008-02-15, 2016-11-15, 5.75%, 95.04287, 100, 2, 0) = 6.5% (Excel help; tolerance 5e-7)."""
    assert bond_yield(date(2008, 2, 15), date(2016, 11, 15), 0.0575, 95.04287, 100, 2, 0) == pytest.approx(
        0.065, abs=5e-7
    )


@pytest.mark.parametrize("basis", [0, 1, 2, 3, 4])
def test_yield_inverts_price_for_every_basis(basis: int) -> None:
    settle, maturity = date(2021, 3, 31), date(2030, 8, 31)
    price = bond_price(settle, maturity, 0.035, 0.041, 100, 2, basis)
    assert bond_yield(settle, maturity, 0.035, price, 100, 2, basis) == pytest.approx(0.041, abs=1e-10)


def test_last_coupon_period_closed_form_and_par() -> None:
    """Inside the last period Excel uses simple interest; priced at its coupon on a coupon date a bond is at par."""
    settle, maturity = date(2024, 9, 1), date(2024, 12, 31)
    price = bond_price(settle, maturity, 0.05, 0.06, 100, 2, 1)
    assert bond_yield(settle, maturity, 0.05, price, 100, 2, 1) == pytest.approx(0.06, abs=1e-12)
    assert bond_price(date(2020, 6, 30), date(2030, 6, 30), 0.04, 0.04, 100, 2, 1) == pytest.approx(100.0, abs=1e-9)


def test_xirr_and_irr_documented_examples() -> None:
    """Excel help: XIRR example = 0.373362535; IRR(−70000, 12000, 15000, 18000, 21000, 26000) = 8.66%."""
    dates = [date(2008, 1, 1), date(2008, 3, 1), date(2008, 10, 30), date(2009, 2, 15), date(2009, 4, 1)]
    assert xirr(dates, [-10000, 2750, 4250, 3250, 2750]) == pytest.approx(0.373362535, abs=5e-9)
    assert irr([-70000, 12000, 15000, 18000, 21000, 26000]) == pytest.approx(0.086631, abs=5e-7)


def flows_bullet() -> list[DatedFlow]:
    """100 face, 5% annual coupon, 3 years, bullet, settled on an anniversary (ACT/365F, 365-day years)."""
    return [
        DatedFlow(date(2022, 1, 1), interest=5.0),
        DatedFlow(date(2023, 1, 1), interest=5.0),
        DatedFlow(date(2024, 1, 1), interest=5.0, principal=100.0),
    ]


def test_dated_flow_analytics_match_closed_forms() -> None:
    settle = date(2021, 1, 1)
    flows = flows_bullet()
    t = [year_fraction(settle, f.on) for f in flows]
    v = [f.amount / 1.05 ** ti for f, ti in zip(flows, t, strict=True)]
    assert price_from_yield(flows, settle, 0.05, 100.0) == pytest.approx(sum(v), rel=1e-13)
    mac = sum(ti * vi for ti, vi in zip(t, v, strict=True)) / sum(v)
    assert macaulay_duration(flows, settle, 0.05) == pytest.approx(mac, rel=1e-13)
    assert modified_duration(flows, settle, 0.05) == pytest.approx(mac / 1.05, rel=1e-13)
    conv = sum(vi * ti * (ti + 1) for ti, vi in zip(t, v, strict=True)) / (sum(v) * 1.05**2)
    assert convexity(flows, settle, 0.05) == pytest.approx(conv, rel=1e-13)
    assert wal_years(flows, settle) == pytest.approx(t[2])
    assert principal_window(flows) == (date(2024, 1, 1), date(2024, 1, 1))
    price = price_from_yield(flows, settle, 0.0437, 100.0)
    assert yield_from_price(flows, settle, price, 100.0) == pytest.approx(0.0437, abs=1e-12)
    result = analyze(flows, settle, 100.0, price=price)
    assert result.yield_rate == pytest.approx(0.0437, abs=1e-12)
    # a numerical check that modified duration is −(1/P) dP/dy
    h = 1e-6
    up, down = (price_from_yield(flows, settle, 0.05 + d, 100.0) for d in (h, -h))
    p0 = price_from_yield(flows, settle, 0.05, 100.0)
    assert -(up - down) / (2 * h) / p0 == pytest.approx(modified_duration(flows, settle, 0.05), rel=1e-6)
    assert (up + down - 2 * p0) / h**2 / p0 == pytest.approx(convexity(flows, settle, 0.05), rel=1e-3)


def test_breakeven_finds_the_edge_of_zero_loss() -> None:
    """Loss = max(0, 1000·(x − 2.5)): the largest x with no loss is 2.5 (to 1e-6)."""

    def loss(x: float) -> float:
        return max(0.0, 1000.0 * (x - 2.5))

    found = breakeven(loss, 0.0, 10.0)
    assert found.status is BreakevenStatus.FOUND
    assert found.value == pytest.approx(2.5, abs=1e-5)
    assert loss(found.value) <= 0.005
    assert breakeven(loss, 0.0, 2.0).status is BreakevenStatus.NEVER_BREAKS
    assert breakeven(loss, 3.0, 4.0).status is BreakevenStatus.ALREADY_BROKEN
