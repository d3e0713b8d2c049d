"""The calendar the services use: packages + shipped holiday files + an optional user file."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from absflow.calendar import Calendar, build_calendar, default_calendar, parse_holiday_yaml

#: Environment variable naming an extra holiday file (format: docs/calendar.md).
CALENDAR_FILE_ENV = "ABSFLOW_CALENDAR_FILE"


@lru_cache(maxsize=8)
def _calendar_with_file(path: str, mtime_ns: int) -> Calendar:
    text = Path(path).read_text(encoding="utf-8")
    return build_calendar(parse_holiday_yaml(text, source_name=path))


def service_calendar(user_file: str | None = None) -> Calendar:
    """``default_calendar()`` extended/overridden by ``user_file`` or ``$ABSFLOW_CALENDAR_FILE``."""
    path = user_file or os.environ.get(CALENDAR_FILE_ENV)
    if not path:
        return default_calendar()
    return _calendar_with_file(path, Path(path).stat().st_mtime_ns)
