"""absflow.calendar: SSE trading days, Chinese working days, business-day conventions, schedules.

Pure: the packages' tables and the shipped holiday files are data; user holiday files come
in as text (:func:`parse_holiday_yaml`). Dates outside the known years raise
:class:`CalendarRangeError`. See docs/calendar.md.
"""

from absflow.calendar.core import (
    Calendar,
    CalendarRangeError,
    Convention,
    DayKind,
    ScheduleDate,
    build_calendar,
    default_calendar,
)
from absflow.calendar.holidays import (
    HolidayYear,
    package_holiday_years,
    parse_holiday_document,
    parse_holiday_yaml,
    shipped_holiday_years,
)

__all__ = [
    "Calendar",
    "CalendarRangeError",
    "Convention",
    "DayKind",
    "HolidayYear",
    "ScheduleDate",
    "build_calendar",
    "default_calendar",
    "package_holiday_years",
    "parse_holiday_document",
    "parse_holiday_yaml",
    "shipped_holiday_years",
]
