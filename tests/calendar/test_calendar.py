"""Calendar facts from published SSE/State Council notices, conventions, schedules, range errors."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from absflow.calendar import (
    CalendarRangeError,
    Convention,
    DayKind,
    build_calendar,
    default_calendar,
    parse_holiday_yaml,
    shipped_holiday_years,
)
from absflow.domain.issues import ValidationFailed

CAL = default_calendar()


def d(text: str) -> date:
    return date.fromisoformat(text)


# --- published facts (SSE 休市安排 notices) ---------------------------------------------------
@pytest.mark.parametrize(
    "closed",
    [
        # 2024 Spring Festival: SSE closed 9–17 Feb (9 Feb, New Year's Eve, was not statutory).
        "2024-02-09",
        "2024-02-12",
        "2024-02-16",
        # 2024 National Day: 1–7 Oct.
        "2024-10-01",
        "2024-10-04",
        "2024-10-07",
        # 2025 Spring Festival 28 Jan – 4 Feb; Labour Day 1–5 May; National Day 1–8 Oct.
        "2025-01-28",
        "2025-02-04",
        "2025-05-05",
        "2025-10-08",
        # 2026 Spring Festival 15–23 Feb; National Day 1–7 Oct.
        "2026-02-16",
        "2026-02-20",
        "2026-02-23",
        "2026-10-07",
    ],
)
def test_published_closures_are_not_trading_days(closed: str) -> None:
    assert d(closed).weekday() < 5
    assert not CAL.is_trading_day(d(closed))


@pytest.mark.parametrize(
    "makeup",
    ["2024-02-04", "2024-02-18", "2024-10-12", "2025-01-26", "2025-02-08", "2025-09-28", "2026-02-14", "2026-02-28"],
)
def test_weekend_makeup_days_are_working_days_but_not_trading_days(makeup: str) -> None:
    assert d(makeup).weekday() >= 5
    assert CAL.is_working_day(d(makeup))
    assert not CAL.is_trading_day(d(makeup))


def test_new_years_eve_2024_closed_for_trading_yet_a_working_day() -> None:
    assert CAL.is_working_day(d("2024-02-09"))
    assert not CAL.is_trading_day(d("2024-02-09"))
    assert CAL.next_trading_day(d("2024-02-08")) == d("2024-02-19")


def test_trading_day_counts_per_year() -> None:
    # SSE published: 242 trading days in 2024, 243 in 2025.
    assert len(CAL.trading_days(d("2024-01-01"), d("2024-12-31"))) == 242
    assert len(CAL.trading_days(d("2025-01-01"), d("2025-12-31"))) == 243


def test_agrees_with_exchange_calendars_xshg_sessions_2024_2026() -> None:
    import exchange_calendars as xcals

    sessions = xcals.get_calendar("XSHG", start="2024-01-01", end="2026-12-31").sessions
    expected = [s.date() for s in sessions]
    assert CAL.trading_days(d("2024-01-01"), d("2026-12-31")) == expected


def test_agrees_with_chinesecalendar_working_days_2024_2026() -> None:
    import chinese_calendar

    day = d("2024-01-01")
    while day <= d("2026-12-31"):
        assert CAL.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


# --- shipped holiday files beyond the packages ------------------------------------------------
def test_shipped_years_cover_2027_and_are_marked_projection() -> None:
    years = {y.year: y for y in shipped_holiday_years()}
    assert 2027 in years
    assert years[2027].status == "projection"
    assert 2027 in CAL.projected_years()
    # Spring Festival 2027 (New Year's Day of the lunar calendar is 6 Feb 2027).
    assert not CAL.is_trading_day(d("2027-02-08"))
    assert not CAL.is_trading_day(d("2027-10-01"))
    # A weekend make-up day in the projection: working, not trading.
    assert CAL.is_working_day(d("2027-02-20")) and not CAL.is_trading_day(d("2027-02-20"))
    assert CAL.is_trading_day(d("2027-03-01"))


def test_outside_the_known_range_is_a_loud_error_never_a_weekday_fallback() -> None:
    last = max(CAL.years)
    outside = date(last + 1, 3, 1)  # a Monday-or-not: the point is no guessing
    with pytest.raises(CalendarRangeError, match="does not know year"):
        CAL.is_trading_day(outside)
    with pytest.raises(CalendarRangeError):
        CAL.is_working_day(date(1980, 1, 2))
    with pytest.raises(CalendarRangeError):
        CAL.next_trading_day(date(last, 12, 31))
    with pytest.raises(CalendarRangeError):
        CAL.trading_days(date(last, 12, 1), date(last + 1, 1, 31))
    with pytest.raises(CalendarRangeError):
        CAL.schedule(date(last, 6, 30), date(last + 2, 6, 30), months=6)


def test_user_file_extends_and_overrides() -> None:
    text = """
years:
  - year: 2029
    status: projection
    holidays:
      - {name: 元旦, from: 2029-01-01, to: 2029-01-01}
      - {name: 春节, from: 2029-02-12, to: 2029-02-19}
    adjusted_working_days: [2029-02-10]
  - year: 2027
    status: published
    source: test notice
    holidays: [{name: 元旦, from: 2027-01-01, to: 2027-01-03}]
    adjusted_working_days: []
    exchange_closures: [2027-01-04]
"""
    calendar = build_calendar(parse_holiday_yaml(text, source_name="user.yaml"))
    assert not calendar.is_trading_day(d("2029-02-12"))
    assert calendar.is_working_day(d("2029-02-10")) and not calendar.is_trading_day(d("2029-02-10"))
    # 2028 is still known; 2027 replaced by the user's version.
    assert calendar.is_trading_day(d("2027-02-08"))
    assert not calendar.is_trading_day(d("2027-01-04")) and calendar.is_working_day(d("2027-01-04"))
    assert calendar.year_rules(2027).source == "test notice"


def test_bad_user_file_reports_every_problem() -> None:
    text = """
year: 2030
status: maybe
holidays:
  - {name: x, from: 2030-13-01, to: 2030-01-02}
  - {name: y, from: 2031-01-05, to: 2031-01-06}
adjusted_working_days: [2030-01-07, notadate]
exchange_closures: [2030-01-05]
"""
    with pytest.raises(ValidationFailed) as failed:
        parse_holiday_yaml(text)
    codes = sorted(issue.code for issue in failed.value.issues)
    assert codes == sorted(
        [
            "calendar.bad_status",
            "calendar.bad_date",
            "calendar.wrong_year",
            "calendar.wrong_year",
            "calendar.bad_date",
            "calendar.adjusted_not_weekend",
            "calendar.closure_not_weekday",
        ]
    )


# --- conventions and counting -------------------------------------------------------------------
def test_conventions_around_national_day_2025() -> None:
    saturday = d("2025-10-04")
    assert CAL.adjust(saturday, Convention.FOLLOWING) == d("2025-10-09")
    assert CAL.adjust(saturday, Convention.PRECEDING) == d("2025-09-30")
    assert CAL.adjust(saturday, Convention.UNADJUSTED) == saturday
    # Modified following stays in the month: 31 May 2025 (Sat) → Mon 2 Jun is next month → Fri 30 May.
    assert CAL.adjust(d("2025-05-31"), Convention.MODIFIED_FOLLOWING) == d("2025-05-30")
    # Modified preceding: 1 Feb 2025 (Sat; 4 Feb holiday) → preceding 27 Jan is prior month → following 5 Feb.
    assert CAL.adjust(d("2025-02-01"), Convention.MODIFIED_PRECEDING) == d("2025-02-05")
    # Working-day kind: 28 Sep 2025 (Sun) is a make-up working day, so it stays.
    assert CAL.adjust(d("2025-09-28"), Convention.FOLLOWING, DayKind.WORKING) == d("2025-09-28")
    assert CAL.adjust(d("2025-09-28"), Convention.FOLLOWING, DayKind.TRADING) == d("2025-09-29")


def test_working_days_before_counts_makeup_saturdays() -> None:
    # Before Thu 9 Oct 2025: working days 30 Sep (Tue), 29 Sep (Mon), 28 Sep (Sun, make-up), 26 Sep (Fri).
    assert CAL.working_days_before(d("2025-10-09"), 1) == d("2025-09-30")
    assert CAL.working_days_before(d("2025-10-09"), 3) == d("2025-09-28")
    assert CAL.working_days_before(d("2025-10-09"), 4) == d("2025-09-26")
    assert CAL.trading_days_before(d("2025-10-09"), 3) == d("2025-09-26")
    assert CAL.working_days_before(d("2025-10-09"), 0) == d("2025-10-09")


def test_semiannual_payment_schedule_rolls_following() -> None:
    dates = CAL.schedule(d("2025-04-26"), d("2026-10-26"), months=6, convention="following")
    assert [s.unadjusted for s in dates] == [d("2025-04-26"), d("2025-10-26"), d("2026-04-26"), d("2026-10-26")]
    # 26 Apr 2025 is Sat → Mon 28 Apr; 26 Oct 2025 Sun → Mon 27 Oct; 26 Apr 2026 Sun → 27 Apr.
    assert [s.adjusted for s in dates] == [d("2025-04-28"), d("2025-10-27"), d("2026-04-27"), d("2026-10-26")]


def test_month_end_roll_and_stub() -> None:
    dates = CAL.schedule(d("2025-01-31"), d("2025-05-15"), months=1, convention="unadjusted")
    assert [s.unadjusted for s in dates] == [
        d("2025-01-31"),
        d("2025-02-28"),
        d("2025-03-31"),
        d("2025-04-30"),
        d("2025-05-15"),
    ]


@given(
    st.dates(min_value=date(2005, 1, 1), max_value=date(2028, 10, 31)),
    st.sampled_from(list(DayKind)),
    st.integers(min_value=1, max_value=30),
)
def test_add_then_count_roundtrip(start: date, kind: DayKind, n: int) -> None:
    target = CAL.add_business_days(start, n, kind)
    assert CAL.is_business_day(target, kind)
    assert CAL.count_business_days(start, target, kind) == n
    back = CAL.add_business_days(target, -n, kind)
    # Going back lands on start when start is a business day, else on the last one before it.
    expected = start if CAL.is_business_day(start, kind) else CAL.previous_business_day(start, kind)
    assert back == expected


@given(st.dates(min_value=date(2005, 1, 1), max_value=date(2028, 10, 31)), st.sampled_from(list(Convention)))
def test_adjusted_dates_are_business_days(day: date, convention: Convention) -> None:
    adjusted = CAL.adjust(day, convention)
    if convention is Convention.UNADJUSTED:
        assert adjusted == day
    else:
        assert CAL.is_trading_day(adjusted)
        assert abs((adjusted - day).days) <= 12
    if convention in (Convention.MODIFIED_FOLLOWING, Convention.MODIFIED_PRECEDING):
        assert adjusted.month == day.month or not any(CAL.is_trading_day(x) for x in _month_days(day))


def _month_days(day: date) -> list[date]:
    first = day.replace(day=1)
    out = []
    while first.month == day.month:
        out.append(first)
        first += timedelta(days=1)
    return out


def test_service_calendar_reads_user_file(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from absflow.services.calendar import CALENDAR_FILE_ENV, service_calendar

    path = tmp_path / "cal.yaml"
    path.write_text("year: 2031\nstatus: projection\nholidays: [{name: x, from: 2031-01-01, to: 2031-01-01}]\n")
    monkeypatch.setenv(CALENDAR_FILE_ENV, str(path))
    calendar = service_calendar()
    assert not calendar.is_trading_day(date(2031, 1, 1))
    assert calendar.is_trading_day(date(2031, 1, 2))
    with pytest.raises(CalendarRangeError):
        calendar.is_trading_day(date(2030, 1, 2))  # 2029–2030 still unknown
