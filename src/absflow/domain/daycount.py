"""Day counts: the one place where absflow turns two dates into a year fraction.

Names follow market usage: ``ACT/365F`` (the default in Chinese exchange ABS), ``ACT/360``,
``30/360`` (US/NASD as Excel's basis 0), ``30E/360`` (Eurobond, Excel's basis 4) and
``ACT/ACT`` (ISDA: days in each calendar year over that year's length). The deal
document, the waterfall's accruals and the pricing functions all use this enum and
these functions.

``30/360`` is Excel's basis 0 exactly as YEARFRAC and the coupon functions compute it
(D. A. Wheeler, "YEARFRAC incompatibilities between Excel 2007 and OOXML", 2008), in
this order:

1. start day 30 or 31 → 30, and then an end day 31 → 30;
2. otherwise, start on the last day of February → 30, and then an end on the last
   day of February → 30.

So 28 Feb 2025 → 31 Mar 2025 is 31 days (the end day stays 31 because the start day
was not 30 or 31 before the February rule), 31 Jan → 28 Feb is 28 days (an end on the
last of February alone is not moved), and the last of February to the last of February
a year later is 360 days.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal
from enum import StrEnum


class DayCount(StrEnum):
    """Accrual and discounting conventions."""

    ACT_365F = "ACT/365F"
    ACT_360 = "ACT/360"
    THIRTY_360 = "30/360"
    THIRTY_E_360 = "30E/360"
    ACT_ACT = "ACT/ACT"


def is_last_of_february(d: date) -> bool:
    return d.month == 2 and d.day == calendar.monthrange(d.year, 2)[1]


def _thirty(start: date, end: date, d1: int, d2: int) -> int:
    return (end.year - start.year) * 360 + (end.month - start.month) * 30 + (d2 - d1)


def days_30_360(start: date, end: date) -> int:
    """Days from ``start`` to ``end`` under 30/360 US (NASD), Excel's basis 0 (rules in the module doc)."""
    d1, d2 = start.day, end.day
    if d1 >= 30:
        d1 = 30
        if d2 == 31:
            d2 = 30
    elif is_last_of_february(start):
        d1 = 30
        if is_last_of_february(end):
            d2 = 30
    return _thirty(start, end, d1, d2)


def days_30e_360(start: date, end: date) -> int:
    """Days from ``start`` to ``end`` under 30E/360 (Eurobond, Excel's basis 4): day 31 → 30 on both ends."""
    return _thirty(start, end, min(start.day, 30), min(end.day, 30))


def _year_length(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def _parts(start: date, end: date, day_count: DayCount) -> list[tuple[int, int]]:
    """(days, days in a year) pieces whose quotients add up to the year fraction; ``start <= end``."""
    if day_count is DayCount.ACT_365F:
        return [((end - start).days, 365)]
    if day_count is DayCount.ACT_360:
        return [((end - start).days, 360)]
    if day_count is DayCount.THIRTY_360:
        return [(days_30_360(start, end), 360)]
    if day_count is DayCount.THIRTY_E_360:
        return [(days_30e_360(start, end), 360)]
    if start.year == end.year:  # ACT/ACT ISDA
        return [((end - start).days, _year_length(start.year))]
    return [
        ((date(start.year + 1, 1, 1) - start).days, _year_length(start.year)),
        (end.year - start.year - 1, 1),
        ((end - date(end.year, 1, 1)).days, _year_length(end.year)),
    ]


def year_fraction(start: date, end: date, day_count: DayCount | str = DayCount.ACT_365F) -> float:
    """Years from ``start`` to ``end`` (negative when ``end`` is earlier) under ``day_count``, as a float."""
    dc = day_count if isinstance(day_count, DayCount) else DayCount(day_count)
    if end < start:
        return -year_fraction(end, start, dc)
    if dc is DayCount.ACT_365F:
        return (end - start).days / 365.0
    return sum(days / basis for days, basis in _parts(start, end, dc))


def accrual_fraction(start: date, end: date, day_count: DayCount | str = DayCount.ACT_365F) -> Decimal:
    """The same year fraction as an exact Decimal (unrounded), for accruing money; ``start <= end``."""
    dc = DayCount(day_count)
    if end < start:
        raise ValueError(f"accrual from {start} to an earlier date {end}")
    return sum((Decimal(days) / Decimal(basis) for days, basis in _parts(start, end, dc)), Decimal(0))
