"""A deal's payment periods: payment dates on the business-day calendar, interim amortization
windows and which tranches' interest is payable (accrual fractions: ``absflow.domain.daycount``).

Pure: the calendar comes in as an argument (``absflow.calendar.Calendar`` or anything with
``adjust`` and ``working_days_before``).
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from absflow.calendar import CalendarRangeError
from absflow.deal import model as m


class BusinessCalendar(Protocol):
    """What the schedule needs from a calendar (``absflow.calendar.Calendar`` fits)."""

    def adjust(self, day: date, convention: str) -> date: ...

    def working_days_before(self, day: date, count: int) -> date: ...


@dataclass(frozen=True, slots=True)
class Period:
    """One payment period ``(start, end]``; ``end`` is the adjusted payment date.

    ``is_final``: principal is due in full (the expected maturity, and every extension
    period after it while anything is unpaid, monthly up to the legal maturity).

    ``window_start``: first day of the interim amortization window (collections from it
    on are kept for the payment), or None. ``revolving_until``: purchases may happen on
    days before this date (None: no revolving in the period).
    """

    index: int  # 1-based
    start: date
    end: date
    unadjusted_end: date
    window_start: date | None
    revolving_until: date | None
    is_final: bool
    interest_payable: frozenset[str]  # tranche ids whose interest falls due on ``end``
    in_revolving_period: bool
    is_extension: bool = False  # after the expected maturity, up to the legal maturity

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def _add_months(start: date, months: int, day: int) -> date:
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(day, _stdlib_calendar.monthrange(year, month)[1]))


def unadjusted_payment_dates(dates: m.DealDates) -> list[date]:
    """Payment dates from the first payment up to the expected (else legal) maturity, inclusive."""
    last = dates.expected_maturity or dates.legal_maturity
    freq = dates.payment_frequency
    if freq is m.Frequency.AT_MATURITY:
        return [last]
    out: list[date] = []
    step = 0
    day = dates.payment_day or dates.first_payment.day
    while True:
        if freq.months is not None:
            candidate = dates.first_payment if step == 0 else _add_months(dates.first_payment, freq.months * step, day)
        else:
            candidate = dates.first_payment + timedelta(weeks=(freq.weeks or 1) * step)
        if candidate >= last:
            break
        out.append(candidate)
        step += 1
    out.append(last)
    return out


def _months_between(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + (b.month - a.month)


def _interest_payable(deal: m.Deal, unadjusted: date, is_final: bool, revolving: bool) -> frozenset[str]:
    payable = set()
    for t in deal.tranches:
        if t.coupon.kind is m.CouponKind.NONE:
            continue
        if is_final:
            payable.add(t.id)
            continue
        if revolving and not t.interest.during_revolving:
            continue
        freq = t.interest.frequency
        if freq is None:
            payable.add(t.id)
        elif freq is m.Frequency.AT_MATURITY:
            continue
        elif freq.months is not None:
            if _months_between(deal.dates.establishment, unadjusted) % freq.months == 0:
                payable.add(t.id)
        else:
            payable.add(t.id)
    return frozenset(payable)


def build_periods(deal: m.Deal, calendar: BusinessCalendar, *, extend: bool = True) -> list[Period]:
    """The deal's payment periods, first starting on the establishment date.

    With ``extend`` and an expected maturity before the legal maturity, monthly extension
    periods follow the expected maturity up to the legal maturity (a runner stops once
    everything is paid), or up to the last year the calendar knows.
    """
    convention = deal.dates.business_day_convention.value
    unadjusted = unadjusted_payment_dates(deal.dates)
    revolving = deal.periods.revolving
    periods: list[Period] = []
    start = deal.dates.establishment
    adjusted = [calendar.adjust(raw, convention) for raw in unadjusted]
    for i, raw in enumerate(unadjusted):
        end = adjusted[i]
        is_final = i == len(unadjusted) - 1
        if not is_final and (end <= start or end >= adjusted[-1]):
            continue  # rolled onto the next payment date (e.g. over a holiday): one payment
        in_revolving = revolving is not None and deal.periods.initial_status is m.DealStatus.REVOLVING \
            and start < revolving.end
        window_start: date | None = None
        revolving_until: date | None = None
        if in_revolving and revolving is not None:
            n = revolving.interim_amortization_working_days
            window_start = calendar.working_days_before(end, n) if n > 0 else end
            window_start = max(window_start, start)
            revolving_until = min(window_start, revolving.end + timedelta(days=1))
        periods.append(Period(
            index=len(periods) + 1, start=start, end=end, unadjusted_end=raw, window_start=window_start,
            revolving_until=revolving_until, is_final=is_final,
            interest_payable=_interest_payable(deal, raw, is_final, in_revolving),
            in_revolving_period=in_revolving,
        ))
        start = end
    expected = deal.dates.expected_maturity
    if extend and expected is not None and expected < deal.dates.legal_maturity:
        day = expected.day
        k = 1
        while True:
            raw = _add_months(expected, k, day)
            raw = min(raw, deal.dates.legal_maturity)
            try:
                end = calendar.adjust(raw, convention)
            except CalendarRangeError:
                break  # extension periods stop where the calendar's known years end

            if end > start:
                periods.append(Period(
                    index=len(periods) + 1, start=start, end=end, unadjusted_end=raw, window_start=None,
                    revolving_until=None, is_final=True,
                    interest_payable=_interest_payable(deal, raw, True, False), in_revolving_period=False,
                    is_extension=True,
                ))
                start = end
            if raw >= deal.dates.legal_maturity:
                break
            k += 1
    return periods
