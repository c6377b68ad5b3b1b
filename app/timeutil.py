"""Time helpers: the database stores naive UTC; pages show, and group by, the deployment's timezone.

A stored time's date is never `.date()` of the stored value, nor SQL `date(...)`/`extract(...)` of the
column: 00:30 on 1 April in Beijing is 16:30 UTC on 31 March. Convert first (`local_date`), or turn the
local days into UTC bounds (`local_day_start`, `local_period_bounds`) and compare the stored column.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo


def utcnow() -> datetime:
    """The current time as naive UTC, the form every timestamp column stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def local_zone():
    """The deployment's timezone (APP_TIMEZONE, default Asia/Shanghai)."""
    from zoneinfo import ZoneInfo

    from flask import current_app

    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def local_today():
    """Today in the deployment's timezone: what a coordinator in the hospital means by 'today'."""
    return datetime.now(local_zone()).date()


def to_local(moment: datetime, zone: tzinfo | None = None) -> datetime:
    """A stored time (naive UTC; an aware one is taken as it is) as an aware time in the deployment's zone."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(zone or local_zone())


def local_date(moment: datetime, zone: tzinfo | None = None) -> date:
    """The date a stored time (naive UTC) falls on in the deployment's zone: 16:30 UTC on 31 March is 1 April."""
    return to_local(moment, zone).date()


def to_utc(day: date, at: time, zone: tzinfo | None = None) -> datetime:
    """A local date and wall-clock time (deployment zone) as naive UTC, the form the database stores."""
    return datetime.combine(day, at, tzinfo=zone or local_zone()).astimezone(UTC).replace(tzinfo=None)


def local_day_start(day: date, zone: tzinfo | None = None) -> datetime:
    """Local midnight at the start of `day` as naive UTC."""
    return to_utc(day, time.min, zone)


def local_period_bounds(since: date | None, until: date | None,
                        zone: tzinfo | None = None) -> tuple[datetime | None, datetime | None]:
    """Local days `since`..`until` (both included, either open) as naive-UTC bounds [start, end).

    Compare a stored column with `column >= start` and `column < end`: a meeting at 00:30 on the first
    day and one at 23:30 on the last are in, those on the days around are out, on SQLite and PostgreSQL.
    """
    start = local_day_start(since, zone) if since is not None else None
    end = local_day_start(until + timedelta(days=1), zone) if until is not None else None
    return start, end


def quarter_of(day: date) -> tuple[int, int]:
    """(year, quarter 1..4) of a local date; use quarter_of(local_date(stored_time)) for a stored time."""
    return day.year, (day.month - 1) // 3 + 1
