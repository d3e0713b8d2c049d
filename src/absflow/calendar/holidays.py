"""Holiday years: which days of one calendar year are holidays, make-up working days, closures.

Three sources, in increasing priority for the same year:

1. the installed packages — ``chinesecalendar`` (State Council holidays and adjusted working
   days) and ``exchange-calendars`` XSHG (Shanghai Stock Exchange sessions); they stop
   around 2026;
2. the holiday files shipped in ``absflow/calendar/data/cn_YYYY.yaml`` (published or
   projected arrangements for the years after the packages stop);
3. user documents (same format), e.g. to replace a projection by the published notice.

Everything here is pure: documents come in as text or mappings; the shipped files are
package data read through :mod:`importlib.resources`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from absflow.domain.issues import Issue, Location, ValidationFailed

#: Status of a year's arrangement: taken from the packages, published by the State
#: Council (transcribed into a holiday file), or projected from earlier years' pattern.
STATUSES = ("package", "published", "projection")


@dataclass(frozen=True, slots=True)
class HolidayYear:
    """The day rules of one calendar year.

    ``holidays``: every day off of the official arrangement (weekend days inside a block
    included). ``adjusted_working_days``: weekend days that are working days (调休上班); the
    exchanges do not trade on them. ``exchange_closures``: weekdays that are working days
    but on which SSE does not trade (e.g. 2024-02-09, New Year's Eve before it was statutory).
    """

    year: int
    holidays: frozenset[date]
    adjusted_working_days: frozenset[date]
    exchange_closures: frozenset[date]
    status: str
    source: str

    def is_working_day(self, day: date) -> bool:
        """Chinese working day: a weekday that is no holiday, or an adjusted working day."""
        if day in self.adjusted_working_days:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def is_trading_day(self, day: date) -> bool:
        """SSE trading day: a weekday that is neither a holiday nor an exchange closure."""
        return day.weekday() < 5 and day not in self.holidays and day not in self.exchange_closures


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _date_list(value: Any, path: str, issues: list[Issue]) -> list[date]:
    if value is None:
        return []
    if not isinstance(value, list):
        issues.append(Issue("calendar.not_a_list", "expected a list of dates", Location(field_path=path), repr(value)))
        return []
    days: list[date] = []
    for number, item in enumerate(value):
        parsed = _as_date(item)
        if parsed is None:
            issues.append(
                Issue(
                    "calendar.bad_date",
                    "expected a date YYYY-MM-DD",
                    Location(field_path=f"{path}[{number}]"),
                    str(item),
                )
            )
        else:
            days.append(parsed)
    return days


def parse_holiday_year(
    document: Mapping[str, Any], *, source_name: str = "holiday file", prefix: str = ""
) -> HolidayYear:
    """Validate one year's mapping (format of ``data/cn_YYYY.yaml``); all problems at once."""
    issues: list[Issue] = []
    year = document.get("year")
    if not isinstance(year, int) or not 1990 <= year <= 2200:
        issues.append(
            Issue("calendar.bad_year", "year must be an integer", Location(field_path=f"{prefix}year"), str(year))
        )
        year = 0
    status = str(document.get("status", "published"))
    if status not in ("published", "projection"):
        issues.append(
            Issue(
                "calendar.bad_status",
                "status must be 'published' or 'projection'",
                Location(field_path=f"{prefix}status"),
                status,
            )
        )
    holidays: set[date] = set()
    blocks = document.get("holidays") or []
    if not isinstance(blocks, list):
        issues.append(Issue("calendar.not_a_list", "holidays must be a list", Location(field_path=f"{prefix}holidays")))
        blocks = []
    for number, block in enumerate(blocks):
        path = f"{prefix}holidays[{number}]"
        if not isinstance(block, Mapping):
            issues.append(
                Issue("calendar.bad_block", "expected {name, from, to}", Location(field_path=path), repr(block))
            )
            continue
        first, last = _as_date(block.get("from")), _as_date(block.get("to", block.get("from")))
        if first is None or last is None:
            issues.append(Issue("calendar.bad_date", "from/to must be dates YYYY-MM-DD", Location(field_path=path)))
            continue
        if last < first or (last - first).days > 15:
            issues.append(
                Issue(
                    "calendar.bad_block",
                    "to must be on or after from, at most 15 days later",
                    Location(field_path=path),
                )
            )
            continue
        day = first
        while day <= last:
            holidays.add(day)
            day += timedelta(days=1)
    adjusted = _date_list(document.get("adjusted_working_days"), f"{prefix}adjusted_working_days", issues)
    closures = _date_list(document.get("exchange_closures"), f"{prefix}exchange_closures", issues)
    for field_name, days in (
        ("holidays", sorted(holidays)),
        ("adjusted_working_days", adjusted),
        ("exchange_closures", closures),
    ):
        for day in days:
            if year and day.year != year:
                issues.append(
                    Issue(
                        "calendar.wrong_year",
                        f"date is not in year {year}",
                        Location(field_path=f"{prefix}{field_name}"),
                        day.isoformat(),
                    )
                )
    for day in adjusted:
        if day.weekday() < 5:
            issues.append(
                Issue(
                    "calendar.adjusted_not_weekend",
                    "an adjusted working day must be a Saturday or Sunday",
                    Location(field_path=f"{prefix}adjusted_working_days"),
                    day.isoformat(),
                )
            )
        if day in holidays:
            issues.append(
                Issue(
                    "calendar.adjusted_is_holiday",
                    "a day cannot be both a holiday and an adjusted working day",
                    Location(field_path=f"{prefix}adjusted_working_days"),
                    day.isoformat(),
                )
            )
    for day in closures:
        if day.weekday() >= 5:
            issues.append(
                Issue(
                    "calendar.closure_not_weekday",
                    "an exchange closure must be a weekday (weekends are closed anyway)",
                    Location(field_path=f"{prefix}exchange_closures"),
                    day.isoformat(),
                )
            )
    if issues:
        raise ValidationFailed(issues, f"{source_name}: {len(issues)} problem(s) in the holiday calendar")
    return HolidayYear(
        year=int(year),
        holidays=frozenset(holidays),
        adjusted_working_days=frozenset(adjusted),
        exchange_closures=frozenset(closures),
        status=status,
        source=str(document.get("source", source_name)),
    )


def parse_holiday_document(document: Any, *, source_name: str = "holiday file") -> list[HolidayYear]:
    """One year (a mapping with ``year``), a list of years, or ``{years: [...]}``."""
    if isinstance(document, Mapping) and "years" in document:
        document = document["years"]
    if isinstance(document, Mapping):
        return [parse_holiday_year(document, source_name=source_name)]
    if not isinstance(document, list):
        raise ValidationFailed(
            [
                Issue(
                    "calendar.bad_document",
                    "expected a year mapping or a list of them",
                    Location(),
                    repr(document)[:80],
                )
            ],
            f"{source_name}: not a holiday calendar",
        )
    years: list[HolidayYear] = []
    issues: list[Issue] = []
    for number, item in enumerate(document):
        if not isinstance(item, Mapping):
            issues.append(Issue("calendar.bad_document", "expected a year mapping", Location(field_path=f"[{number}]")))
            continue
        try:
            years.append(parse_holiday_year(item, source_name=source_name, prefix=f"[{number}]."))
        except ValidationFailed as failed:
            issues.extend(failed.issues)
    if issues:
        raise ValidationFailed(issues, f"{source_name}: {len(issues)} problem(s) in the holiday calendar")
    return years


class _DatesAsTextLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so a bad date is an issue, not a crash."""


_DatesAsTextLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_holiday_yaml(text: str, *, source_name: str = "holiday file") -> list[HolidayYear]:
    """Parse a holiday file's YAML text (see docs/calendar.md for the format)."""
    try:
        document = yaml.load(text, Loader=_DatesAsTextLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ValidationFailed(
            [Issue("calendar.bad_yaml", f"not valid YAML: {error}", Location())], f"{source_name}: not valid YAML"
        ) from error
    return parse_holiday_document(document, source_name=source_name)


@lru_cache(maxsize=1)
def shipped_holiday_years() -> tuple[HolidayYear, ...]:
    """The holiday files shipped with absflow (``absflow/calendar/data/*.yaml``)."""
    years: list[HolidayYear] = []
    for entry in sorted(resources.files("absflow.calendar").joinpath("data").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            years.extend(parse_holiday_yaml(entry.read_text(encoding="utf-8"), source_name=entry.name))
    return tuple(years)


def _xshg_closed_weekdays() -> tuple[set[date], int, int]:
    """Weekdays SSE is closed per exchange-calendars, and the first/last year it lists."""
    from exchange_calendars.exchange_calendar_xshg import precomputed_shanghai_holidays

    closed = {stamp.date() for stamp in precomputed_shanghai_holidays}
    closed = {day for day in closed if day.weekday() < 5}
    return closed, min(day.year for day in closed), max(day.year for day in closed)


def _chinese_calendar_tables() -> tuple[set[date], set[date], int, int]:
    import chinese_calendar.constants as constants

    holidays = set(constants.holidays)
    workdays = {day for day in constants.workdays if day.weekday() >= 5}
    return holidays, workdays, min(day.year for day in holidays), max(day.year for day in holidays)


@lru_cache(maxsize=1)
def package_holiday_years() -> tuple[HolidayYear, ...]:
    """Years covered by BOTH installed packages (chinesecalendar and exchange-calendars XSHG).

    Working days come from chinesecalendar; trading days from XSHG, so weekday closures
    that were not statutory holidays (e.g. 2024-02-09) are kept as ``exchange_closures``.
    A year is only taken when both packages list holidays in it.
    """
    holidays, workdays, cn_first, cn_last = _chinese_calendar_tables()
    closed, sse_first, sse_last = _xshg_closed_weekdays()
    years: list[HolidayYear] = []
    for year in range(max(cn_first, sse_first), min(cn_last, sse_last) + 1):
        year_holidays = frozenset(day for day in holidays if day.year == year)
        years.append(
            HolidayYear(
                year=year,
                holidays=year_holidays,
                adjusted_working_days=frozenset(day for day in workdays if day.year == year),
                exchange_closures=frozenset(day for day in closed if day.year == year and day not in year_holidays),
                status="package",
                source="chinesecalendar + exchange-calendars XSHG",
            )
        )
    return tuple(years)


def merge_years(*layers: Iterable[HolidayYear]) -> dict[int, HolidayYear]:
    """Later layers replace earlier ones year by year."""
    merged: dict[int, HolidayYear] = {}
    for layer in layers:
        for holiday_year in layer:
            merged[holiday_year.year] = holiday_year
    return merged


def describe_years(years: Sequence[HolidayYear]) -> list[dict[str, str]]:
    """Coverage summary for people: year, status, source."""
    return [{"year": str(y.year), "status": y.status, "source": y.source} for y in sorted(years, key=lambda y: y.year)]
