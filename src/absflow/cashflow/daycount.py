"""Day counts for accrual and discounting: year fractions between two dates.

Names follow market usage: ``ACT/365F`` (the default in Chinese exchange ABS), ``ACT/360``,
``30/360`` (US, NASD rules as Excel's basis 0), ``30E/360`` (Excel's basis 4) and
``ACT/ACT`` (ISDA: days in each calendar year over that year's length).
"""

from __future__ import annotations

import calendar
from datetime import date
from enum import StrEnum


class DayCount(StrEnum):
    ACT_365F = "ACT/365F"
    ACT_360 = "ACT/360"
    THIRTY_360 = "30/360"
    THIRTY_E_360 = "30E/360"
    ACT_ACT = "ACT/ACT"


def _is_last_of_february(d: date) -> bool:
    return d.month == 2 and d.day == calendar.monthrange(d.year, 2)[1]


def days_30_360_us(start: date, end: date) -> int:
    """Days between dates under 30/360 US (NASD), as Excel's basis 0 in the coupon functions."""
    d1, d2 = start.day, end.day
    if _is_last_of_february(start):
        if _is_last_of_february(end):
            d2 = 30
        d1 = 30
    if d2 == 31 and d1 >= 30:
        d2 = 30
    if d1 == 31:
        d1 = 30
    return (end.year - start.year) * 360 + (end.month - start.month) * 30 + (d2 - d1)


def days_30e_360(start: date, end: date) -> int:
    """Days between dates under 30E/360 (Eurobond, Excel's basis 4)."""
    d1 = min(start.day, 30)
    d2 = min(end.day, 30)
    return (end.year - start.year) * 360 + (end.month - start.month) * 30 + (d2 - d1)


def year_fraction(start: date, end: date, day_count: DayCount | str = DayCount.ACT_365F) -> float:
    """Years from ``start`` to ``end`` (negative when ``end`` is earlier) under ``day_count``."""
    dc = DayCount(day_count)
    if end < start:
        return -year_fraction(end, start, dc)
    if dc is DayCount.ACT_365F:
        return (end - start).days / 365.0
    if dc is DayCount.ACT_360:
        return (end - start).days / 360.0
    if dc is DayCount.THIRTY_360:
        return days_30_360_us(start, end) / 360.0
    if dc is DayCount.THIRTY_E_360:
        return days_30e_360(start, end) / 360.0
    # ACT/ACT ISDA
    if start.year == end.year:
        return (end - start).days / (366.0 if calendar.isleap(start.year) else 365.0)
    first = (date(start.year + 1, 1, 1) - start).days / (366.0 if calendar.isleap(start.year) else 365.0)
    last = (end - date(end.year, 1, 1)).days / (366.0 if calendar.isleap(end.year) else 365.0)
    return first + (end.year - start.year - 1) + last
