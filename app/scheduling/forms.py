"""Forms for schedule rules, generating meetings, single meetings, leaders and holiday exceptions."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, StopValidation, ValidationError
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from app.programme.forms import PlainText, mode_choices
from app.scheduling.services import EXCEPTION_KINDS, FIRST_YEAR, LAST_YEAR, default_period
from app.timeutil import local_today

# --- small helpers ---------------------------------------------------------------------------


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _optional_int(value) -> int | None:
    """A select's value as int, the empty placeholder as None (ValueError for anything else)."""
    if value in (None, ""):
        return None
    return int(value)


def _stop_if_unreadable(form, field):
    """After a value could not be read as a number, date or time, skip further checks (one message is enough)."""
    if field.process_errors:
        raise StopValidation()


def _sane_date(form, field):
    """Dates the calendar handles: years FIRST_YEAR..LAST_YEAR (history from paper included)."""
    if field.data is not None and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
        raise StopValidation(_l("Enter a date from %(first)s to %(last)s.", first=FIRST_YEAR, last=LAST_YEAR))


def _required_date(label, default=None, description=None):
    return DateField(
        label, default=default, description=description,
        validators=[InputRequired(message=_l("Enter a date.")), _stop_if_unreadable, _sane_date],
    )


def _required_time(label, default=None):
    return TimeField(
        label, default=default,
        validators=[InputRequired(message=_l("Enter a time, e.g. 14:00.")), _stop_if_unreadable],
    )


def _duration(label=None):
    return IntegerField(
        label or _l("Duration (minutes)"),
        validators=[
            InputRequired(message=_l("Enter a number.")), _stop_if_unreadable,
            NumberRange(min=15, max=480, message=_l("Enter a whole number from %(min)s to %(max)s.")),
        ],
    )


def _check_video_link(form, field):
    if not re.fullmatch(r"https?://[^\s<>\"']+\.[^\s<>\"']+", field.data or "", flags=re.IGNORECASE):
        raise ValidationError(_l("Enter a web address starting with https://"))


def _reason(label, description):
    return TextAreaField(
        label, filters=[_strip], description=description,
        validators=[
            InputRequired(message=_l("Give a reason: members will see it.")),
            Length(max=500, message=_l("Use at most %(max)d characters.")),
            PlainText(multiline=True),
        ],
    )


class MultiCheckboxField(SelectMultipleField):
    """Several choices shown as checkboxes (easier than a multiple select on a phone)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# --- choices ---------------------------------------------------------------------------------


def weekday_choices():
    names = [_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"), _l("Saturday"),
             _l("Sunday")]
    return list(enumerate(names))


def week_choices():
    return [(1, _l("1st")), (2, _l("2nd")), (3, _l("3rd")), (4, _l("4th")), (-1, _l("last"))]


def kind_choices():
    return [
        ("nth_weekday", _l("On certain weeks of each month (e.g. the 1st and 3rd Wednesday)")),
        ("biweekly", _l("Every two weeks, from a first date")),
    ]


def policy_choices():
    return [
        ("move", _l("Move the meeting to the next working day (recommended)")),
        ("skip", _l("Skip the meeting")),
        ("keep", _l("Meet anyway")),
    ]


def role_choices():
    return [("lead", _l("Lead")), ("co_lead", _l("Co-lead"))]


def exception_kind_choices():
    names = {"holiday": _l("Day off (holiday)"), "workday": _l("Working day (make-up day, 调休)")}
    return [(k, names[k]) for k in EXCEPTION_KINDS]


def person_choices(people, placeholder: str) -> list:
    """A person select's choices: the placeholder first, then each person by name, a deactivated one marked."""
    return [("", placeholder)] + [(u.id, u.name if u.active else _("%(name)s (deactivated)", name=u.name))
                                  for u in people]


# --- the series ------------------------------------------------------------------------------


class SaveScheduleForm(FlaskForm):
    """The group's recurrence rule; the weeks apply to the monthly kind, the first date to the fortnightly one."""

    kind = RadioField(
        _l("How the meetings repeat"), choices=kind_choices, default="nth_weekday",
        validators=[InputRequired(message=_l("Choose how the meetings repeat."))],
    )
    weekday = SelectField(
        _l("Weekday"), coerce=_optional_int,
        choices=lambda: [("", _l("— choose a weekday —"))] + weekday_choices(),
        validators=[InputRequired(message=_l("Choose a weekday."))],
    )
    weeks = MultiCheckboxField(
        _l("Weeks of the month"), coerce=int, choices=week_choices, default=[1, 3],
        description=_l("For meetings on certain weeks of each month: twice a month is usually the 1st and 3rd."),
        validate_choice=True,
    )
    start_on = DateField(
        _l("First meeting date"), validators=[Optional(), _sane_date],
        description=_l("For meetings every two weeks: the date of the first one."),
    )
    start_time = _required_time(_l("Start time"))
    holiday_policy = RadioField(
        _l("When a meeting falls on a statutory holiday"), choices=policy_choices, default="move",
        validators=[InputRequired(message=_l("Choose what happens on holidays."))],
    )
    submit = SubmitField(_l("Save the rule"))

    def validate_weeks(self, field):
        if self.kind.data == "nth_weekday" and not field.data:
            raise ValidationError(_l("Choose one or more weeks of the month."))

    def validate_start_on(self, field):
        if self.kind.data == "biweekly" and field.data is None and not field.errors:
            raise ValidationError(_l("A fortnightly series needs a first date."))

    def values(self) -> dict:
        """The rule as save_schedule() takes it."""
        return {
            "kind": self.kind.data, "weekday": self.weekday.data, "weeks": list(self.weeks.data or []),
            "start_on": self.start_on.data, "start_time": self.start_time.data,
            "holiday_policy": self.holiday_policy.data,
        }


def _period_start():
    return default_period(local_today())[0]


def _period_until():
    return default_period(local_today())[1]


class GenerateMeetingsForm(FlaskForm):
    start_on = _required_date(_l("From"), default=_period_start)
    until = _required_date(
        _l("Until"), default=_period_until, description=_l("At most three years at a time; past periods are allowed."),
    )
    submit = SubmitField(_l("Generate meetings"))


class ExtendScheduleForm(FlaskForm):
    months = IntegerField(
        _l("Months"), default=6,
        validators=[
            InputRequired(message=_l("Enter a number.")), _stop_if_unreadable,
            NumberRange(min=1, max=24, message=_l("Enter a whole number from %(min)s to %(max)s.")),
        ],
    )
    submit = SubmitField(_l("Extend"))


# --- single meetings -------------------------------------------------------------------------


class _MeetingFields(FlaskForm):
    """When and where one meeting takes place; the route fills the group's or the meeting's values."""

    day = _required_date(_l("Date"))
    at = _required_time(_l("Start time"))
    duration_minutes = _duration()
    mode = SelectField(_l("Meeting mode"), choices=mode_choices, validators=[InputRequired()])
    location = StringField(
        _l("Location"), filters=[_strip], validators=[Optional(), Length(max=300), PlainText()],
        description=_l("Room and building, for meetings on site."),
    )
    video_link = StringField(
        _l("Video link"), filters=[_strip], validators=[Optional(), Length(max=500), _check_video_link],
        description=_l("For online meetings: an address starting with https://"),
    )


class AddMeetingForm(_MeetingFields):
    submit = SubmitField(_l("Add meeting"))


class RescheduleMeetingForm(_MeetingFields):
    reason = _reason(_l("Reason for the change"), _l("Members see it with the meeting."))
    submit = SubmitField(_l("Reschedule"))


class CancelMeetingForm(FlaskForm):
    reason = _reason(_l("Reason for cancelling"), _l("Members see it with the meeting."))
    submit = SubmitField(_l("Cancel this meeting"))


# --- leaders ---------------------------------------------------------------------------------


class AssignLeadersForm(FlaskForm):
    """The route fills both selects with the people who may be offered; eligibility is checked on saving."""

    lead_id = SelectField(
        _l("Lead"), coerce=_optional_int,
        validators=[InputRequired(message=_l("Choose a lead.")), _stop_if_unreadable],
    )
    co_lead_id = SelectField(_l("Co-lead (optional)"), coerce=_optional_int, validators=[Optional()])
    submit = SubmitField(_l("Save leaders"))

    def validate_lead_id(self, field):
        if field.data is None:
            raise ValidationError(_l("Choose a lead."))


class AssignSeriesForm(FlaskForm):
    """The route fills `user_id.choices`."""

    user_id = SelectField(
        _l("Person"), coerce=_optional_int,
        validators=[InputRequired(message=_l("Choose a person.")), _stop_if_unreadable],
    )
    role = RadioField(_l("As"), choices=role_choices, default="lead",
                      validators=[InputRequired(message=_l("Choose lead or co-lead."))])
    since = _required_date(_l("For the scheduled meetings from"), default=local_today)
    submit = SubmitField(_l("Assign to the series"))

    def validate_user_id(self, field):
        if field.data is None:
            raise ValidationError(_l("Choose a person."))


# --- holiday exceptions ----------------------------------------------------------------------


class AddHolidayExceptionForm(FlaskForm):
    day = _required_date(_l("Date"))
    kind = SelectField(_l("Kind"), choices=exception_kind_choices, validators=[InputRequired()])
    name = StringField(
        _l("Name"), filters=[_strip],
        description=_l("E.g. “National Day” or “调休 for the Spring Festival”."),
        validators=[InputRequired(message=_l("Enter a name.")), Length(max=200), PlainText()],
    )
    submit = SubmitField(_l("Add day"))


class DeleteHolidayExceptionForm(FlaskForm):
    """A delete button: the exception's id travels in a hidden field."""

    exception_id = IntegerField(widget=HiddenInput(), validators=[InputRequired(), NumberRange(1, 2_147_483_647)])


class ConfirmYearForm(FlaskForm):
    """A confirm button: the year travels in a hidden field."""

    year = IntegerField(widget=HiddenInput(), validators=[InputRequired(), NumberRange(FIRST_YEAR, LAST_YEAR)])
