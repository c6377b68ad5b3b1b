"""Forms for organisations, groups, memberships and group leaders."""

from __future__ import annotations

import re
import unicodedata

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from app.programme.models import GROUP_STATUSES, MODES, ORG_KINDS
from app.programme.services import GROUP_FIELDS
from app.timeutil import local_today

# Something that looks like the start of an HTML tag or comment: "<b", "</", "<!".
_TAG = re.compile(r"<\s*[/!?a-zA-Z]")
# Zero-width joiners and variation selectors only occur here as parts of emoji.
_EMOJI_PARTS = {"\u200d", "\ufe0e", "\ufe0f"}


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _optional_int(value) -> int | None:
    """Coerce a select's value to int, with the empty placeholder as None (ValueError otherwise)."""
    if value in (None, ""):
        return None
    return int(value)


class PlainText:
    """Refuse markup and control characters in free text shown on pages and in exports (emoji are fine)."""

    def __init__(self, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, form, field):
        text = field.data or ""
        if _TAG.search(text):
            raise ValidationError(_l("Remove the HTML (text between < and >)."))
        allowed_controls = {"\n", "\r", "\t"} if self.multiline else set()
        for char in text:
            category = unicodedata.category(char)
            if char in allowed_controls:
                continue
            if category in ("Cc", "Cs", "Co", "Cn") or (category == "Cf" and char not in _EMOJI_PARTS):
                raise ValidationError(_l("Remove the invisible or control characters."))


def _stop_if_unreadable(form, field):
    """After a value could not be read as a number or date, skip further checks (one message is enough)."""
    if field.process_errors:
        raise StopValidation()


def kind_choices():
    names = {"hospital": _l("Hospital"), "department": _l("Department"), "other": _l("Other")}
    return [(k, names[k]) for k in ORG_KINDS]


def mode_choices():
    names = {"onsite": _l("On site"), "online": _l("Online"), "hybrid": _l("Hybrid")}
    return [(m, names[m]) for m in MODES]


def status_choices():
    names = {"active": _l("Active"), "paused": _l("Paused"), "closed": _l("Closed")}
    return [(s, names[s]) for s in GROUP_STATUSES]


def _number(label, low, high, default, description=None):
    return IntegerField(
        label,
        default=default,
        description=description,
        validators=[
            InputRequired(message=_l("Enter a number.")),
            _stop_if_unreadable,
            NumberRange(min=low, max=high, message=_l("Enter a whole number from %(min)s to %(max)s.")),
        ],
    )


class CreateOrganisationForm(FlaskForm):
    name = StringField(
        _l("Name"), filters=[_strip],
        validators=[DataRequired(message=_l("Enter a name.")), Length(max=200), PlainText()],
    )
    kind = SelectField(_l("Kind"), choices=kind_choices, validators=[InputRequired()])
    submit = SubmitField(_l("Create organisation"))


class EditOrganisationForm(CreateOrganisationForm):
    submit = SubmitField(_l("Save"))


def active_choices():
    return [(1, _l("Active")), (0, _l("Inactive"))]


class SetOrganisationActiveForm(FlaskForm):
    active = SelectField(_l("Active"), coerce=_optional_int, choices=active_choices, validators=[InputRequired()])


class CreateGroupForm(FlaskForm):
    """All a group's settings; the route fills `organisation_id.choices` with the coordinator's scope."""

    name = StringField(
        _l("Name"), filters=[_strip],
        validators=[DataRequired(message=_l("Enter a name.")), Length(max=200), PlainText()],
    )
    organisation_id = SelectField(
        _l("Organisation"), coerce=_optional_int,
        validators=[DataRequired(message=_l("Choose an organisation."))],
    )
    description = TextAreaField(
        _l("Description"), filters=[_strip], validators=[Optional(), Length(max=5000), PlainText(multiline=True)],
    )
    capacity = _number(
        _l("Capacity"), 1, 100, 10, description=_l("Members at most. A Balint group works best with 6–12."),
    )
    mode = SelectField(_l("Meeting mode"), choices=mode_choices, default="onsite", validators=[InputRequired()])
    location = StringField(
        _l("Location"), filters=[_strip], validators=[Optional(), Length(max=300), PlainText()],
        description=_l("Room and building, for meetings on site."),
    )
    video_link = StringField(
        _l("Video link"), filters=[_strip], validators=[Optional(), Length(max=500)],
        description=_l("For online meetings: an address starting with https://"),
    )
    duration_minutes = _number(_l("Duration (minutes)"), 15, 480, 60)
    feedback_interval = _number(
        _l("Feedback after every … held meetings"), 1, 50, 5,
        description=_l("A feedback round opens after this many held meetings (usually 5)."),
    )
    feedback_window_days = _number(
        _l("Feedback window (days)"), 1, 120, 14, description=_l("How long a feedback round stays open."),
    )
    status = SelectField(_l("Status"), choices=status_choices, default="active", validators=[InputRequired()])
    submit = SubmitField(_l("Create group"))

    def validate_video_link(self, field):
        link = field.data or ""
        if not re.fullmatch(r"https?://[^\s<>\"']+\.[^\s<>\"']+", link, flags=re.IGNORECASE):
            raise ValidationError(_l("Enter a web address starting with https://"))

    def values(self) -> dict:
        """The submitted settings, keyed as the services expect."""
        return {key: getattr(self, key).data for key in GROUP_FIELDS}


class EditGroupForm(CreateGroupForm):
    submit = SubmitField(_l("Save"))


class AddMemberForm(FlaskForm):
    """The route fills `user_id.choices` with the people who may join."""

    user_id = SelectField(
        _l("Person"), coerce=_optional_int, validators=[DataRequired(message=_l("Choose a person."))],
    )
    joined_on = DateField(
        _l("Joined on"), default=local_today,
        validators=[InputRequired(message=_l("Enter a date.")), _stop_if_unreadable],
    )
    submit = SubmitField(_l("Add member"))


class EndMembershipForm(FlaskForm):
    left_on = DateField(
        _l("Left on"), default=local_today,
        validators=[InputRequired(message=_l("Enter a date.")), _stop_if_unreadable],
    )
    submit = SubmitField(_l("End membership"))


class AddLeaderForm(FlaskForm):
    """The route fills `user_id.choices` with the people holding the leader role."""

    user_id = SelectField(
        _l("Leader"), coerce=_optional_int, validators=[DataRequired(message=_l("Choose a leader."))],
    )
    submit = SubmitField(_l("Add leader"))


class SetGroupRobotForm(FlaskForm):
    """A group's chat robot: the platform, its webhook address and (DingTalk) signing secret. Both are secrets: the
    fields start empty and the page shows only the saved values' masks."""

    platform = SelectField(
        _l("Platform"), choices=lambda: [("wecom", _l("WeCom (企业微信)")), ("dingtalk", _l("DingTalk (钉钉)"))],
        invalid_choice_message=_l("Choose WeCom or DingTalk."),
    )
    webhook = StringField(
        _l("Webhook address"), filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[DataRequired(message=_l("Paste the robot's webhook address.")), Length(max=500)],
        description=_l("From the group chat's robot settings: it carries the robot's key, so keep it secret."),
    )
    secret = StringField(
        _l("Signing secret"), filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[Optional(), Length(max=200)],
        description=_l("DingTalk robots with 加签: the secret that starts with SEC. Not used by WeCom."),
    )
    submit = SubmitField(_l("Save"))
