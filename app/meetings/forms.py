"""Forms for meeting records, leaders' private notes, the theme list, phase plans and supervision."""

from __future__ import annotations

import re
from datetime import datetime

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from app.meetings.models import ATTENDANCE, NOTE_KINDS
from app.meetings.services import SUMMARY_MAX, identifier_message
from app.programme.forms import PlainText, mode_choices
from app.programme.models import MODES
from app.scheduling.forms import MultiCheckboxField
from app.scheduling.services import FIRST_YEAR, LAST_YEAR
from app.timeutil import local_today, to_utc, utcnow

ATTENDANCE_PREFIX = "attendance-"
NOTE_MAX = 10000
_CODE = re.compile(r"[a-z0-9_]{2,40}")


# --- small helpers ---------------------------------------------------------------------------


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _optional_int(value) -> int | None:
    """A select's value as int, the empty placeholder as None (ValueError for anything else)."""
    if value in (None, ""):
        return None
    return int(value)


def _unreadable(message):
    """After a value could not be read (a number, date, time or id), show one clear message and stop."""

    def check(form, field):
        if field.process_errors:
            field.errors[:] = [message]
            raise StopValidation()

    return check


def _only_when(status: str):
    """Check the field only when the record's status is `status` (a cancelled meeting has no attendance)."""

    def check(form, field):
        if form.status.data != status:
            field.errors[:] = []
            raise StopValidation()

    return check


def _one_of(values, message):
    def check(form, field):
        if field.data not in values:
            raise StopValidation(message)

    return check


def _sane_date(form, field):
    if field.data is not None and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
        raise StopValidation(_l("Enter a date from %(first)s to %(last)s.", first=FIRST_YEAR, last=LAST_YEAR))


def _deidentified(form, field):
    """The confidentiality guard on the form too, so every field's problem shows after one submit."""
    message = identifier_message(field.data)
    if message:
        raise ValidationError(message)


def _stop_if_unreadable(form, field):
    """After a value could not be read as a number or date, skip further checks (one message is enough)."""
    if field.process_errors:
        raise StopValidation()


class GroupMessages:
    """Messages about several fields at once (the attendance selects, the five phases), shown above them.

    app.web.attempt puts a service's refusal here when the view maps the service's field to it (`aliases`).
    """

    def __init__(self) -> None:
        self.errors: list[str] = []


class _RequiredWhenCancelled(DataRequired):
    """Required only for a cancelled meeting: no HTML `required` flag, which would say always."""

    field_flags: dict = {}


def status_choices():
    return [("held", _l("Held")), ("cancelled", _l("Cancelled"))]


def attendance_choices():
    return [("present", _l("Present")), ("absent", _l("Absent")), ("excused", _l("Excused"))]


def note_kind_choices():
    names = {"reflection": _l("Reflection"), "debrief": _l("Debrief of lead and co-lead"),
             "supervision": _l("Points for supervision")}
    return [(k, names[k]) for k in NOTE_KINDS]


# --- the record ------------------------------------------------------------------------------

_held = _only_when("held")


class RecordMeetingForm(FlaskForm):
    """A meeting held or cancelled; `record_form_class(members)` adds one `attendance-<user id>` select per member.

    The route fills `presenter_id.choices` and `theme_ids.choices`. Fields of a held meeting are ignored
    for a cancelled one, and the reason is ignored for a held one.
    """

    _members: tuple = ()

    status = RadioField(
        _l("The meeting was"), choices=status_choices, validate_choice=False,
        validators=[InputRequired(message=_l("Choose held or cancelled.")),
                    _one_of(("held", "cancelled"), _l("Choose held or cancelled."))],
    )
    cancel_reason = TextAreaField(
        _l("Reason, if it was cancelled"), filters=[_strip],
        description=_l("Members see it with the meeting. No patient details."),
        validators=[_only_when("cancelled"),
                    _RequiredWhenCancelled(message=_l("Give the reason the meeting did not take place.")),
                    Length(max=500, message=_l("Use at most %(max)d characters.")),
                    PlainText(multiline=True), _deidentified],
    )
    started_on = DateField(
        _l("Date"),
        validators=[_held, InputRequired(message=_l("Enter a date.")),
                    _unreadable(_l("Enter a date.")), _sane_date],
    )
    started_at = TimeField(
        _l("Start time"), format=["%H:%M", "%H:%M:%S"],
        validators=[_held, InputRequired(message=_l("Enter a time, e.g. 14:00.")),
                    _unreadable(_l("Enter a time, e.g. 14:00."))],
    )
    duration_minutes = IntegerField(
        _l("Duration (minutes)"),
        validators=[_held, InputRequired(message=_l("Enter a number.")), _unreadable(_l("Enter a number.")),
                    NumberRange(min=5, max=600, message=_l("Duration must be between 5 and 600 minutes."))],
    )
    mode = SelectField(
        _l("Meeting mode"), choices=mode_choices, validate_choice=False,
        validators=[_held, _one_of(MODES, _l("Choose on site, online or hybrid."))],
    )
    guest_count = IntegerField(
        _l("Guests"), default=0, description=_l("People present who are not members, e.g. visiting trainees."),
        validators=[_held, Optional(), _unreadable(_l("Enter a number.")),
                    NumberRange(min=0, max=50, message=_l("Guests must be between 0 and 50."))],
    )
    presenter_id = SelectField(
        _l("Presenter of the case"), coerce=_optional_int, validate_choice=False,
        description=_l("Those who presented least recently are listed first; choose someone present."),
        validators=[_held, _unreadable(_l("Choose the presenter from the list."))],
    )
    theme_ids = MultiCheckboxField(
        _l("Themes"), coerce=int, validate_choice=True,
        invalid_value_message=_l("Choose themes from the list."),
        invalid_choice_message=_l("Choose themes from the list."),
        validators=[_held],
    )
    summary = TextAreaField(
        _l("Short summary"), filters=[_strip],
        description=_l("De-identified: no names, ID, phone, record or bed numbers, no dates of birth."),
        validators=[_held, Optional(),
                    Length(max=SUMMARY_MAX, message=_l("Use at most %(max)d characters.")),
                    PlainText(multiline=True), _deidentified],
    )
    submit = SubmitField(_l("Save record"))

    def __init__(self, *args, scheduled_start: datetime | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.attendance_list = GroupMessages()  # about the attendance selects together
        self.scheduled_start = scheduled_start  # naive UTC: the meeting's start in the schedule

    def attendance_fields(self) -> list[tuple]:
        """(member, field) for each member, in the order of the member list."""
        return [(member, self[f"{ATTENDANCE_PREFIX}{member.id}"]) for member in self._members]

    def attendance_options(self) -> list[tuple[str, str]]:
        """(value, translated label) of the attendance states, in order: what each member's select offers."""
        return [(value, str(label)) for value, label in attendance_choices()]

    def attendance(self) -> dict[int, str]:
        return {member.id: field.data for member, field in self.attendance_fields()}

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        self.attendance_list.errors = []
        if self.status.data != "held":
            return ok
        known = {f"{ATTENDANCE_PREFIX}{member.id}" for member in self._members}
        # A multipart part without a name arrives under the key None.
        if any(isinstance(key, str) and key.startswith(ATTENDANCE_PREFIX) and key not in known
               for key in request.form):
            self.attendance_list.errors.append(
                _l("Attendance can be recorded only for members of the group on the meeting's date."))
        self._check_presenter()
        self._check_start()
        return (ok and not self.attendance_list.errors and not self.presenter_id.errors
                and not self.started_at.errors)

    def _check_presenter(self) -> None:
        presenter = self.presenter_id.data
        if self.presenter_id.errors or presenter is None:
            return
        if presenter not in {member.id for member in self._members}:
            self.presenter_id.errors.append(_l("Choose the presenter from the list."))
        elif self[f"{ATTENDANCE_PREFIX}{presenter}"].data != "present":
            self.presenter_id.errors.append(_l("The presenter must be one of the members present."))

    def _check_start(self) -> None:
        if self.started_on.errors or self.started_at.errors or not self.started_on.data or not self.started_at.data:
            return
        if self.scheduled_start is not None and self.scheduled_start > utcnow():
            return  # the service refuses the whole record with the rule's own words (409)
        if to_utc(self.started_on.data, self.started_at.data) > utcnow():
            self.started_at.errors.append(_l("The actual start cannot be in the future."))

    def values(self) -> dict:
        """The record as services.record_meeting() takes it (without actor, meeting and now)."""
        if self.status.data == "cancelled":
            return {"status": "cancelled", "cancel_reason": self.cancel_reason.data}
        return {
            "status": "held", "started_on": self.started_on.data, "started_at": self.started_at.data,
            "duration_minutes": self.duration_minutes.data, "mode": self.mode.data,
            "attendance": self.attendance(), "guest_count": self.guest_count.data or 0,
            "presenter_id": self.presenter_id.data, "theme_ids": list(self.theme_ids.data or []),
            "summary": self.summary.data or None,
        }


def record_form_class(members) -> type[RecordMeetingForm]:
    """The record form for these members: one attendance select (present, absent, excused) named for each."""
    fields = {
        f"{ATTENDANCE_PREFIX}{member.id}": SelectField(
            member.name, choices=attendance_choices, validate_choice=False,
            validators=[_held, _one_of(ATTENDANCE, _l("Attendance is present, absent or excused."))],
        )
        for member in members
    }
    return type("RecordMeetingForm", (RecordMeetingForm,), {"_members": tuple(members), **fields})


# --- leaders' notes --------------------------------------------------------------------------


class AddLeaderNoteForm(FlaskForm):
    kind = RadioField(
        _l("Kind of note"), choices=note_kind_choices, default="reflection", validate_choice=False,
        validators=[InputRequired(message=_l("Choose the kind of note.")),
                    _one_of(NOTE_KINDS, _l("Choose the kind of note."))],
    )
    text = TextAreaField(
        _l("Note"), filters=[_strip],
        description=_l("Only the group's leaders can read it; it is never exported. No patient details."),
        validators=[DataRequired(message=_l("Write the note.")),
                    Length(max=NOTE_MAX, message=_l("Use at most %(max)d characters.")),
                    PlainText(multiline=True), _deidentified],
    )
    submit = SubmitField(_l("Save note"))


# --- the theme list --------------------------------------------------------------------------


def _theme_code(value):
    return value.strip().lower().replace(" ", "_").replace("-", "_") if isinstance(value, str) else value


class AddThemeForm(FlaskForm):
    code = StringField(
        _l("Code"), filters=[_theme_code],
        description=_l("A short identifier in English letters, e.g. night_shifts. It cannot be changed later."),
        validators=[DataRequired(message=_l("Enter a code.")),
                    Length(max=40, message=_l("Use at most %(max)d characters."))],
    )
    name_en = StringField(
        _l("English name"), filters=[_strip],
        validators=[DataRequired(message=_l("Enter a name.")),
                    Length(max=120, message=_l("Use at most %(max)d characters.")), PlainText()],
    )
    name_zh = StringField(
        _l("Chinese name"), filters=[_strip],
        validators=[DataRequired(message=_l("Enter a name.")),
                    Length(max=120, message=_l("Use at most %(max)d characters.")), PlainText()],
    )
    submit = SubmitField(_l("Add theme"))

    def validate_code(self, field):
        if not _CODE.fullmatch(field.data or ""):
            raise ValidationError(_l("Use 2 to 40 lower-case English letters, digits or underscores."))


class SetThemeActiveForm(FlaskForm):
    """A button: `active` is 1 to offer the theme again, 0 to stop offering it."""

    active = StringField(
        validators=[InputRequired(message=_l("Choose whether the theme is in use.")),
                    _one_of(("1", "0"), _l("Choose whether the theme is in use."))],
    )


# --- the phases of a group's meetings --------------------------------------------------------


def _minutes(label):
    return IntegerField(label, validators=[
        InputRequired(message=_l("Enter a number.")),
        NumberRange(min=1, max=480, message=_l("Enter a whole number from %(min)s to %(max)s.")),
    ])


class SavePhasesForm(FlaskForm):
    """The group's five phase lengths in minutes (they must add up to the group's meeting length)."""

    case = _minutes(_l("Case told"))
    questions = _minutes(_l("Questions of fact"))
    discussion = _minutes(_l("Group discussion, presenter pushed back"))
    back = _minutes(_l("Presenter returns"))  # the phase `return` (a Python keyword)
    closing = _minutes(_l("Closing"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = GroupMessages()  # about the five lengths together (they must add up)

    def phase_fields(self) -> list:
        """The fields in the order of rules.PHASES."""
        return [self.case, self.questions, self.discussion, self.back, self.closing]


# --- supervision a leader received -----------------------------------------------------------


def _past_or_today(form, field):
    _sane_date(form, field)
    if field.data is not None and field.data > local_today():
        raise ValidationError(_l("Supervision is recorded once it has taken place: choose today or earlier."))


class AddSupervisionForm(FlaskForm):
    """Supervision a leader received, added from the leader's portfolio."""

    held_on = DateField(
        _l("Date"), default=local_today,
        validators=[InputRequired(message=_l("Enter a date.")), _stop_if_unreadable, _past_or_today],
    )
    supervisor = StringField(
        _l("Supervisor"),
        validators=[InputRequired(message=_l("Name the supervisor.")), Length(max=200), PlainText()],
    )
    minutes = IntegerField(
        _l("Length (minutes)"),
        validators=[
            InputRequired(message=_l("Enter a number.")), _stop_if_unreadable,
            NumberRange(min=5, max=1440, message=_l("Enter a whole number from %(min)s to %(max)s.")),
        ],
    )
    submit = SubmitField(_l("Add supervision"))
