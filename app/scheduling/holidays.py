"""China's statutory holidays and make-up working days: the `holidays` library plus the exception table."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays as holidays_lib
import sqlalchemy as sa

from app.extensions import db
from app.scheduling.models import HolidayException, HolidayYear


@lru_cache(maxsize=64)
def _library_year(year: int) -> tuple[dict[date, str], frozenset[date]]:
    """The library's holidays and make-up working days for one year (cached: the data is static)."""
    calendar = holidays_lib.China(years=year, language="en_US")
    days = {d: name for d, name in calendar.items() if d.year == year}
    workdays = frozenset(d for d in calendar.weekend_workdays if d.year == year)
    return days, workdays


def library_knows_year(year: int) -> bool:
    """True when the library holds the official schedule of a year.

    Every official schedule of recent years has make-up working days (调休); for a year not yet
    published the library only estimates the fixed holidays and lists none.
    """
    return bool(_library_year(year)[1])


class ChinaCalendar:
    """Holidays and working days from the library, overridden by the coordinators' exception days.

    Build one per operation (it reads the exception table once for the years asked).
    """

    def __init__(self, exceptions: dict[date, tuple[str, str]] | None = None, confirmed_years: set[int] | None = None):
        self.exceptions = exceptions or {}
        self.confirmed_years = confirmed_years or set()

    @classmethod
    def load(cls, start: date, end: date) -> ChinaCalendar:
        rows = db.session.execute(
            sa.select(HolidayException.day, HolidayException.kind, HolidayException.name).where(
                HolidayException.day.between(start - timedelta(days=31), end + timedelta(days=31))
            )
        ).all()
        years = set(db.session.scalars(sa.select(HolidayYear.year)))
        return cls({r.day: (r.kind, r.name) for r in rows}, years)

    def holiday_name(self, day: date) -> str | None:
        if day in self.exceptions:
            kind, name = self.exceptions[day]
            return name if kind == "holiday" else None
        return _library_year(day.year)[0].get(day)

    def is_working_day(self, day: date) -> bool:
        if day in self.exceptions:
            return self.exceptions[day][0] == "workday"
        days, workdays = _library_year(day.year)
        if day in workdays:
            return True
        return day.weekday() < 5 and day not in days

    def has_official_schedule(self, year: int) -> bool:
        """True when the app holds the official schedule for the year (library or confirmed by a coordinator)."""
        return year in self.confirmed_years or library_knows_year(year)

    def years_without_schedule(self, start: date, end: date) -> list[int]:
        return [y for y in range(start.year, end.year + 1) if not self.has_official_schedule(y)]
