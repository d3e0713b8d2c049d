"""SSE trading days and Chinese working days, business-day conventions, schedules.

A :class:`Calendar` knows a set of whole years (see :mod:`absflow.calendar.holidays`).
Any question about a day outside them raises :class:`CalendarRangeError` — never a
silent "weekdays are business days" fallback.
"""

from __future__ import annotations

import bisect
import calendar as _stdlib_calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache

from absflow.calendar.holidays import HolidayYear, merge_years, package_holiday_years, shipped_holiday_years
from absflow.domain.issues import AbsflowError


class DayKind(StrEnum):
    """Which business days: SSE trading days or Chinese working days (incl. 调休 weekends)."""

    TRADING = "trading"
    WORKING = "working"


class Convention(StrEnum):
    """Business-day convention for a date that falls on a non-business day."""

    UNADJUSTED = "unadjusted"
    FOLLOWING = "following"
    MODIFIED_FOLLOWING = "modified_following"
    PRECEDING = "preceding"
    MODIFIED_PRECEDING = "modified_preceding"


class CalendarRangeError(AbsflowError):
    """A date outside the years the calendar knows. Add a holiday file (docs/calendar.md)."""

    code = "calendar_out_of_range"
    status = 422


@dataclass(frozen=True, slots=True)
class ScheduleDate:
    """One schedule date before and after applying the business-day convention."""

    unadjusted: date
    adjusted: date


class Calendar:
    """Immutable calendar over the years in ``years`` (need not be contiguous)."""

    def __init__(self, years: Mapping[int, HolidayYear]) -> None:
        if not years:
            raise ValueError("a calendar needs at least one year")
        self._years = dict(sorted(years.items()))
        trading: list[date] = []
        working: list[date] = []
        for year, rules in self._years.items():
            day = date(year, 1, 1)
            while day.year == year:
                if rules.is_trading_day(day):
                    trading.append(day)
                if rules.is_working_day(day):
                    working.append(day)
                day += timedelta(days=1)
        self._days = {DayKind.TRADING: trading, DayKind.WORKING: working}
        self._sets = {DayKind.TRADING: frozenset(trading), DayKind.WORKING: frozenset(working)}

    # --- coverage -----------------------------------------------------------------
    @property
    def years(self) -> tuple[int, ...]:
        return tuple(self._years)

    def year_rules(self, year: int) -> HolidayYear:
        self._check_year(year)
        return self._years[year]

    def projected_years(self) -> tuple[int, ...]:
        """Years whose arrangement is a projection, not yet published."""
        return tuple(y for y, rules in self._years.items() if rules.status == "projection")

    def _check_year(self, year: int) -> None:
        if year not in self._years:
            known = _ranges(self._years)
            raise CalendarRangeError(
                f"the calendar does not know year {year} (known: {known}); add a holiday file for it "
                "(see docs/calendar.md) — absflow never assumes that weekdays are business days"
            )

    def covers(self, day: date) -> bool:
        return day.year in self._years

    def _check(self, day: date) -> None:
        self._check_year(day.year)

    def _check_span(self, first: date, last: date) -> None:
        if last < first:
            first, last = last, first
        for year in range(first.year, last.year + 1):
            self._check_year(year)

    # --- single days ----------------------------------------------------------------
    def is_trading_day(self, day: date) -> bool:
        """True when SSE trades on ``day`` (weekend make-up working days are NOT trading days)."""
        self._check(day)
        return day in self._sets[DayKind.TRADING]

    def is_working_day(self, day: date) -> bool:
        """True on a Chinese working day (weekday not a holiday, or a 调休 weekend working day)."""
        self._check(day)
        return day in self._sets[DayKind.WORKING]

    def is_business_day(self, day: date, kind: DayKind = DayKind.TRADING) -> bool:
        self._check(day)
        return day in self._sets[kind]

    # --- moving -----------------------------------------------------------------------
    def add_business_days(self, day: date, count: int, kind: DayKind = DayKind.TRADING) -> date:
        """The business day ``count`` business days after ``day`` (before it when negative).

        ``count == 0`` returns ``day`` unchanged. ``day`` itself need not be a business day:
        +1 from a Saturday is the next business day, −1 the previous one.
        """
        self._check(day)
        if count == 0:
            return day
        days = self._days[kind]
        if count > 0:
            index = bisect.bisect_right(days, day) + count - 1
        else:
            index = bisect.bisect_left(days, day) + count
        if index < 0 or index >= len(days):
            raise CalendarRangeError(
                f"{abs(count)} {kind.value} days {'after' if count > 0 else 'before'} {day} is outside the known "
                f"years ({_ranges(self._years)}); add a holiday file (see docs/calendar.md)"
            )
        result = days[index]
        self._check_span(day, result)
        return result

    def next_business_day(self, day: date, kind: DayKind = DayKind.TRADING) -> date:
        """The first business day strictly after ``day``."""
        return self.add_business_days(day, 1, kind)

    def previous_business_day(self, day: date, kind: DayKind = DayKind.TRADING) -> date:
        """The last business day strictly before ``day``."""
        return self.add_business_days(day, -1, kind)

    def next_trading_day(self, day: date) -> date:
        return self.add_business_days(day, 1, DayKind.TRADING)

    def previous_trading_day(self, day: date) -> date:
        return self.add_business_days(day, -1, DayKind.TRADING)

    def working_days_before(self, day: date, count: int) -> date:
        """The Chinese working day ``count`` working days before ``day`` (``count`` ≥ 0).

        Example: with ``count=5`` and ``day`` a payment date, the result is the first day of
        a 5-working-day interim amortization window ending the day before ``day``.
        """
        if count < 0:
            raise ValueError("count must be >= 0")
        return self.add_business_days(day, -count, DayKind.WORKING)

    def trading_days_before(self, day: date, count: int) -> date:
        """The SSE trading day ``count`` trading days before ``day`` (``count`` ≥ 0)."""
        if count < 0:
            raise ValueError("count must be >= 0")
        return self.add_business_days(day, -count, DayKind.TRADING)

    # --- ranges -------------------------------------------------------------------------
    def business_days(self, first: date, last: date, kind: DayKind = DayKind.TRADING) -> list[date]:
        """Business days in ``[first, last]`` (both inclusive), ascending."""
        self._check_span(first, last)
        days = self._days[kind]
        return days[bisect.bisect_left(days, first) : bisect.bisect_right(days, last)]

    def trading_days(self, first: date, last: date) -> list[date]:
        return self.business_days(first, last, DayKind.TRADING)

    def working_days(self, first: date, last: date) -> list[date]:
        return self.business_days(first, last, DayKind.WORKING)

    def count_business_days(self, first: date, last: date, kind: DayKind = DayKind.TRADING) -> int:
        """Number of business days in ``(first, last]`` (the usual "days between" count)."""
        self._check_span(first, last)
        days = self._days[kind]
        return bisect.bisect_right(days, last) - bisect.bisect_right(days, first)

    # --- conventions ------------------------------------------------------------------
    def adjust(self, day: date, convention: Convention | str, kind: DayKind = DayKind.TRADING) -> date:
        """Roll ``day`` to a business day by ``convention`` (ISDA meanings).

        following: next business day; modified following: next unless that is in the next
        month, then previous; preceding / modified preceding symmetrically.
        """
        convention = Convention(convention)
        if convention is Convention.UNADJUSTED or self.is_business_day(day, kind):
            return day
        if convention is Convention.FOLLOWING:
            return self.next_business_day(day, kind)
        if convention is Convention.PRECEDING:
            return self.previous_business_day(day, kind)
        if convention is Convention.MODIFIED_FOLLOWING:
            rolled = self.next_business_day(day, kind)
            return rolled if rolled.month == day.month else self.previous_business_day(day, kind)
        rolled = self.previous_business_day(day, kind)
        return rolled if rolled.month == day.month else self.next_business_day(day, kind)

    def schedule(
        self,
        first: date,
        last: date,
        *,
        months: int,
        convention: Convention | str = Convention.FOLLOWING,
        kind: DayKind = DayKind.TRADING,
        roll_day: int | None = None,
    ) -> list[ScheduleDate]:
        """Dates every ``months`` months from ``first`` up to and including ``last``.

        Unadjusted dates fall on ``roll_day`` (default ``first.day``; clipped to the month's
        end, so a 31 rolls to 30 Jun / 28 Feb); ``last`` is always included (a short final
        stub when it is not on the roll). Each date is adjusted by ``convention``.
        """
        if months <= 0:
            raise ValueError("months must be positive")
        if last < first:
            raise ValueError("last must not be before first")
        roll = roll_day or first.day
        unadjusted: list[date] = []
        step = 0
        while True:
            candidate = _add_months(first, months * step, roll)
            if candidate > last:
                break
            unadjusted.append(candidate)
            step += 1
        if unadjusted[-1] != last:
            unadjusted.append(last)
        return [ScheduleDate(d, self.adjust(d, convention, kind)) for d in unadjusted]


def _add_months(start: date, months: int, roll_day: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(roll_day, _stdlib_calendar.monthrange(year, month)[1]))


def _ranges(years: Iterable[int]) -> str:
    """``[2004, 2005, 2006, 2028]`` → ``"2004–2006, 2028"``."""
    spans: list[list[int]] = []
    for year in sorted(years):
        if spans and year == spans[-1][1] + 1:
            spans[-1][1] = year
        else:
            spans.append([year, year])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in spans)


def build_calendar(*extra: Iterable[HolidayYear]) -> Calendar:
    """Packages, then shipped holiday files, then ``extra`` layers (user files), year by year."""
    return Calendar(merge_years(package_holiday_years(), shipped_holiday_years(), *extra))


@lru_cache(maxsize=1)
def default_calendar() -> Calendar:
    """The calendar from the installed packages and the shipped holiday files."""
    return build_calendar()
