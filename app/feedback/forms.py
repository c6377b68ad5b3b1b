"""Forms for feedback rounds: a coordinator extends a round's window."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SubmitField, TimeField
from wtforms.validators import InputRequired, StopValidation

from app.scheduling.services import FIRST_YEAR, LAST_YEAR


def _stop_if_unreadable(form, field):
    """After a value could not be read as a date or time, skip further checks (one message is enough)."""
    if field.process_errors:
        raise StopValidation()


def _sane_date(form, field):
    if field.data is not None and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
        raise StopValidation(_l("Enter a date from %(first)s to %(last)s.", first=FIRST_YEAR, last=LAST_YEAR))


class ExtendRoundForm(FlaskForm):
    """The new closing date and time (local); the route makes it naive UTC and the service checks it."""

    closes_on = DateField(
        _l("New closing date"),
        validators=[InputRequired(message=_l("Enter a date.")), _stop_if_unreadable, _sane_date],
    )
    closes_time = TimeField(
        _l("Closing time"),
        validators=[InputRequired(message=_l("Enter a time, e.g. 14:00.")), _stop_if_unreadable],
    )
    submit = SubmitField(_l("Extend"))
