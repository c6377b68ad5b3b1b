"""Time helpers: the database stores naive UTC; pages show the deployment's timezone."""

from datetime import UTC, datetime


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
