"""Day counts against Excel's documented values (DAYS360 / YEARFRAC basis 0) and the end-of-February rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from absflow.deal import model as m
from absflow.domain.daycount import DayCount, accrual_fraction, days_30_360, days_30e_360, year_fraction


@pytest.mark.parametrize(("start", "end", "days"), [
    # Microsoft's DAYS360 help (US method): 30-Jan-11 → 1-Feb-11 = 1; 1-Jan-11 → 31-Dec-11 = 360; → 1-Feb-11 = 30
    (date(2011, 1, 30), date(2011, 2, 1), 1),
    (date(2011, 1, 1), date(2011, 12, 31), 360),
    (date(2011, 1, 1), date(2011, 2, 1), 30),
    # Microsoft's YEARFRAC help: YEARFRAC(1-Jan-2012, 30-Jul-2012) = 0.58055556 = 209/360
    (date(2012, 1, 1), date(2012, 7, 30), 209),
    # Excel 2007 YEARFRAC basis 0 as measured by D. A. Wheeler (2008): 1-Jan-2000 → 31-Jan-2000 = 30/360,
    # 1-Jan-2000 → 28-Feb-2000 = 57/360 (an end on the last of February alone is not moved)
    (date(2000, 1, 1), date(2000, 1, 31), 30),
    (date(2000, 1, 1), date(2000, 2, 28), 57),
    # start day 30/31 → 30, then end day 31 → 30
    (date(2024, 1, 31), date(2024, 3, 31), 60),
    (date(2024, 1, 30), date(2024, 3, 31), 60),
    (date(2024, 1, 29), date(2024, 3, 31), 62),
    # start on the last of February → 30; end on the last of February too → 30
    (date(2007, 2, 28), date(2008, 2, 29), 360),
    (date(2008, 2, 29), date(2009, 2, 28), 360),
    # start on the last of February, end on a 31st: the end day stays 31 (Excel, unlike 30U/360 "EOM")
    (date(2025, 2, 28), date(2025, 3, 31), 31),
    (date(2023, 2, 28), date(2023, 8, 31), 181),
    # 28 Feb of a leap year is not the last of February
    (date(2024, 2, 28), date(2024, 3, 31), 33),
])
def test_30_360_is_excel_basis_0(start: date, end: date, days: int) -> None:
    assert days_30_360(start, end) == days
    assert year_fraction(start, end, DayCount.THIRTY_360) == pytest.approx(days / 360, abs=1e-15)
    assert accrual_fraction(start, end, DayCount.THIRTY_360) == Decimal(days) / Decimal(360)


def test_yearfrac_documented_value() -> None:
    assert year_fraction(date(2012, 1, 1), date(2012, 7, 30), "30/360") == pytest.approx(0.58055556, abs=5e-9)


def test_30e_360_moves_every_31st() -> None:
    assert days_30e_360(date(2024, 1, 29), date(2024, 3, 31)) == 61
    assert days_30e_360(date(2025, 2, 28), date(2025, 3, 31)) == 32


def test_other_day_counts() -> None:
    assert year_fraction(date(2024, 1, 1), date(2025, 1, 1)) == pytest.approx(366 / 365)
    assert year_fraction(date(2024, 1, 1), date(2025, 1, 1), DayCount.ACT_360) == pytest.approx(366 / 360)
    assert year_fraction(date(2024, 1, 1), date(2025, 1, 1), DayCount.ACT_ACT) == pytest.approx(1.0)
    # ISDA: 184 days of 2023 over 365, the whole of 2024, 59 days of 2025 over 365
    assert year_fraction(date(2023, 7, 1), date(2025, 3, 1), DayCount.ACT_ACT) == pytest.approx(
        184 / 365 + 1 + 59 / 365, abs=1e-15)
    assert year_fraction(date(2025, 1, 1), date(2024, 1, 1)) == pytest.approx(-366 / 365)
    assert accrual_fraction(date(2025, 1, 1), date(2025, 4, 1)) == Decimal(90) / Decimal(365)


def test_the_deal_model_names_the_same_day_counts() -> None:
    assert m.DayCount is DayCount


@given(st.dates(date(1990, 1, 1), date(2100, 12, 31)), st.dates(date(1990, 1, 1), date(2100, 12, 31)),
       st.sampled_from(list(DayCount)))
def test_float_and_exact_fractions_agree(a: date, b: date, dc: DayCount) -> None:
    start, end = min(a, b), max(a, b)
    assert year_fraction(start, end, dc) == pytest.approx(float(accrual_fraction(start, end, dc)), rel=1e-12,
                                                          abs=1e-15)
    assert year_fraction(end, start, dc) == -year_fraction(start, end, dc)
