"""Forms for log-in, links, profile and user administration."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import Email, EqualTo, InputRequired, Length, Optional, ValidationError

from app.accounts.models import LEVELS, PROFESSIONS, ROLES


def profession_choices():
    names = {
        "physician": _l("Physician"),
        "nurse": _l("Nurse"),
        "psychologist": _l("Psychologist"),
        "other": _l("Other"),
    }
    return [("", _l("— not given —"))] + [(p, names[p]) for p in PROFESSIONS]


def role_choices():
    names = {"coordinator": _l("Coordinator"), "leader": _l("Leader"), "member": _l("Member")}
    return [(r, names[r]) for r in ROLES]


def level_choices():
    names = {
        "leader_in_training": _l("Leader in training"),
        "leader": _l("Leader"),
        "training_leader": _l("Training leader"),
    }
    return [(lv, names[lv]) for lv in LEVELS]


def language_choices():
    return [("", _l("As my browser")), ("en", "English"), ("zh_CN", "简体中文")]


class LoginForm(FlaskForm):
    email = StringField(_l("E-mail"), validators=[InputRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=200)])
    remember = BooleanField(_l("Keep me signed in"))
    submit = SubmitField(_l("Log in"))


class RequestResetForm(FlaskForm):
    email = StringField(_l("E-mail"), validators=[InputRequired(), Email(), Length(max=254)])
    submit = SubmitField(_l("Send me a link"))


class SetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[InputRequired(), Length(min=10, max=200)])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[InputRequired(), EqualTo("password", message=_l("The two passwords differ."))],
    )
    submit = SubmitField(_l("Set password"))


class ChangePasswordForm(SetPasswordForm):
    current_password = PasswordField(_l("Current password"), validators=[InputRequired(), Length(max=200)])
    submit = SubmitField(_l("Change password"))


class EditProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=120)])
    profession = SelectField(_l("Profession"), choices=profession_choices, validators=[Optional()])
    department = StringField(_l("Department"), validators=[Optional(), Length(max=120)])
    locale = SelectField(_l("Language"), choices=language_choices, validators=[Optional()])
    submit = SubmitField(_l("Save"))


class InviteUserForm(FlaskForm):
    email = StringField(_l("E-mail"), validators=[InputRequired(), Email(), Length(max=254)])
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=120)])
    roles = SelectMultipleField(_l("Roles"), choices=role_choices, validators=[InputRequired()])
    organisation_id = SelectField(_l("Organisation"), coerce=int, validators=[Optional()])
    coordinator_org_id = SelectField(
        _l("Coordinates"), coerce=int, validators=[Optional()],
        description=_l("For coordinators: the whole programme, or one organisation only."),
    )
    profession = SelectField(_l("Profession"), choices=profession_choices, validators=[Optional()])
    department = StringField(_l("Department"), validators=[Optional(), Length(max=120)])
    submit = SubmitField(_l("Invite"))


class EditUserForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=120)])
    roles = SelectMultipleField(_l("Roles"), choices=role_choices, validators=[InputRequired()])
    organisation_id = SelectField(_l("Organisation"), coerce=int, validators=[Optional()])
    coordinator_org_id = SelectField(
        _l("Coordinates"), coerce=int, validators=[Optional()],
        description=_l("For coordinators: the whole programme, or one organisation only."),
    )
    profession = SelectField(_l("Profession"), choices=profession_choices, validators=[Optional()])
    department = StringField(_l("Department"), validators=[Optional(), Length(max=120)])
    submit = SubmitField(_l("Save"))


class TrainingRecordForm(FlaskForm):
    kind = StringField(_l("Kind of training"), validators=[InputRequired(), Length(max=200)])
    level = SelectField(_l("Level"), choices=level_choices, validators=[InputRequired()])
    issuer = StringField(_l("Issuing body"), validators=[InputRequired(), Length(max=200)])
    completed_on = DateField(_l("Completed on"), validators=[InputRequired(message=_l("Enter a date."))])
    valid_until = DateField(_l("Valid until"), validators=[Optional()])
    verified = BooleanField(_l("I have checked the certificate (verified)"))
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
    submit = SubmitField(_l("Save"))

    def validate_valid_until(self, field):
        if field.data and self.completed_on.data and field.data < self.completed_on.data:
            raise ValidationError(_l("'Valid until' must not be before 'completed on'."))


class ConfirmForm(FlaskForm):
    """An empty form: a button that posts with a CSRF token."""

    submit = SubmitField(_l("Confirm"))
