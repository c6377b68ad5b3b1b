"""Holiday exceptions: days coordinators set by hand over the holidays library, and years whose official
schedule is entered. They flush, never commit."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.audit.services import record_action
from app.errors import Conflict, DomainError
from app.extensions import db
from app.scheduling.models import HolidayException, HolidayYear

EXCEPTION_KINDS = ("holiday", "workday")
FIRST_YEAR, LAST_YEAR = 2000, 2100  # the years the calendar pages and services accept


def _check_year(year: int, field_name: str) -> None:
    if not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise DomainError(_("Choose a year from %(first)s to %(last)s.", first=FIRST_YEAR, last=LAST_YEAR),
                          field=field_name)


def add_exception(actor: User | None, *, day: date, kind: str, name: str) -> HolidayException:
    """Record a day set by hand: an extra day off (holiday) or a make-up working day (workday, 调休).

    It overrides the holidays library for that day in every later generation; meetings already
    generated stay as they are. Raises DomainError for a bad kind or name, Conflict when the day
    already has an exception.
    """
    _check_year(day.year, "day")
    if kind not in EXCEPTION_KINDS:
        raise DomainError(_("Choose a day off or a working day."), field="kind")
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Give the day a name, e.g. “National Day” or “调休”."), field="name")
    if len(name) > 200:
        raise DomainError(_("Use at most 200 characters."), field="name")
    if db.session.scalar(sa.select(HolidayException.id).where(HolidayException.day == day)) is not None:
        raise Conflict(_("This day already has an exception; delete it first to change it."), field="day")
    exception = HolidayException(day=day, kind=kind, name=name, created_by_id=getattr(actor, "id", None))
    try:
        with db.session.begin_nested():
            db.session.add(exception)
            db.session.flush()
    except IntegrityError:  # another coordinator added the same day at the same moment
        raise Conflict(_("This day already has an exception; delete it first to change it."), field="day") from None
    record_action(actor, "holiday_exception_added", exception, day=day, kind=kind, name=name)
    return exception


def delete_exception(actor: User | None, exception: HolidayException) -> None:
    """Remove a day set by hand; the library's answer for that day applies again to later generations."""
    detail = {"day": exception.day, "kind": exception.kind, "name": exception.name}
    record_action(actor, "holiday_exception_deleted", exception, **detail)
    db.session.delete(exception)
    db.session.flush()


def confirm_year(actor: User | None, year: int) -> HolidayYear:
    """Mark a year's official holiday schedule as entered (its exception days are complete).

    Generating into the year no longer warns. Confirming a confirmed year changes nothing.
    Raises DomainError for a year outside the supported range.
    """
    _check_year(year, "year")
    existing = db.session.get(HolidayYear, year)
    if existing is not None:
        return existing
    confirmed = HolidayYear(year=year, confirmed_by_id=getattr(actor, "id", None))
    try:
        with db.session.begin_nested():
            db.session.add(confirmed)
            db.session.flush()
    except IntegrityError:  # confirmed by someone else at the same moment: the same outcome
        return db.session.get(HolidayYear, year)
    record_action(actor, "holiday_year_confirmed", confirmed, year=year)
    return confirmed
