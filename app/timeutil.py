"""Time helpers: the database stores naive UTC; pages show the deployment's timezone."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time as naive UTC, the form every timestamp column stores."""
    return datetime.now(UTC).replace(tzinfo=None)
