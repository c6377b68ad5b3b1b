"""Forms for log-in, links, profile, user administration and the people import."""

import unicodedata

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    Optional,
    StopValidation,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

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


class DirectoryLoginForm(FlaskForm):
    """Sign in with the hospital directory's user name and password (LDAP / Active Directory)."""

    username = StringField(_l("User name"), validators=[InputRequired(), Length(max=256)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=200)])
    submit = SubmitField(_l("Sign in with the hospital directory"))


class LinkIdentityForm(FlaskForm):
    """A coordinator links a directory or single sign-on identity to a person."""

    provider = SelectField(_l("Sign-in method"),
                           choices=lambda: [("ldap", _l("Hospital directory")), ("oidc", _l("Single sign-on"))])
    subject = StringField(_l("Id at the provider"), validators=[InputRequired(), Length(max=255)])
    submit = SubmitField(_l("Link"))


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
    # strip_whitespace=False: a value of blanks is not "empty" but an invalid choice (Optional() would
    # clear that error, and a locale of " " saved here breaks every e-mail to the person).
    profession = SelectField(
        _l("Profession"), choices=profession_choices, validators=[Optional(strip_whitespace=False)]
    )
    department = StringField(_l("Department"), validators=[Optional(), Length(max=120)])
    locale = SelectField(_l("Language"), choices=language_choices, validators=[Optional(strip_whitespace=False)])
    email_reminders = BooleanField(_l("E-mail me a reminder before each of my meetings"))
    submit = SubmitField(_l("Save"))


def printable(form, field):
    """Validator: no control characters (PostgreSQL refuses NUL in text; others are never typed)."""
    if isinstance(field.data, str) and any(
        unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in field.data
    ):
        raise ValidationError(_l("Remove the control characters."))


def strip(value):
    """WTForms filter: surrounding blanks removed, so a name of spaces counts as empty."""
    return value.strip() if isinstance(value, str) else value


class MultiCheckboxField(SelectMultipleField):
    """Several choices shown as checkboxes (easier than a multiple select on a phone)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def at_least_one(form, field):
    """Validator for a group of checkboxes (no `required` flag, which would demand every box)."""
    if not field.data:
        raise StopValidation(_l("Choose at least one role."))


class _UserFields(FlaskForm):
    """Fields a coordinator sets for a person; the views fill the organisation choices."""

    name = StringField(
        _l("Name"), filters=[strip], validators=[DataRequired(message=_l("Enter a name.")), Length(max=120), printable]
    )
    roles = MultiCheckboxField(
        _l("Roles"), choices=role_choices,
        validators=[at_least_one], invalid_choice_message=_l("Choose roles from the list."),
    )
    organisation_id = SelectField(
        _l("Organisation"), coerce=int, default=0, invalid_choice_message=_l("Choose an organisation from the list.")
    )
    coordinator_org_id = SelectField(
        _l("Coordinates"), coerce=int, default=0,
        description=_l("For coordinators: the whole programme, or one organisation only."),
        invalid_choice_message=_l("Choose from the list."),
    )
    profession = SelectField(
        _l("Profession"), choices=profession_choices, default="",
        invalid_choice_message=_l("Choose a profession from the list."),
    )
    department = StringField(_l("Department"), filters=[strip], validators=[Optional(), Length(max=120), printable])


class InviteUserForm(_UserFields):
    email = StringField(
        _l("E-mail"), filters=[strip],
        validators=[InputRequired(), Email(message=_l("Enter a valid e-mail address.")), Length(max=254)],
    )
    locale = SelectField(
        _l("Language"), default="",
        choices=lambda: [("", _l("Programme default")), ("en", "English"), ("zh_CN", "简体中文")],
        description=_l("Of the invitation and of their pages; they can change it in their profile."),
        invalid_choice_message=_l("Choose a language from the list."),
    )
    submit = SubmitField(_l("Invite"))


class EditUserForm(_UserFields):
    submit = SubmitField(_l("Save"))


def channel_names() -> dict[str, str]:
    """Every message channel by its code, named in the reader's language."""
    return {"email": _l("E-mail"), "wecom": _l("WeCom (企业微信)"), "dingtalk": _l("DingTalk (钉钉)")}


class EditChannelsForm(FlaskForm):
    """Where a person gets their messages: their WeCom and DingTalk user ids and the channels they want; the view
    offers the channels the programme has on."""

    wecom_userid = StringField(
        _l("WeCom user id"), filters=[strip], validators=[Optional(), Length(max=64)],
        description=_l("The person's UserID in the hospital's WeCom (企业微信) address book."),
    )
    dingtalk_userid = StringField(
        _l("DingTalk user id"), filters=[strip], validators=[Optional(), Length(max=64)],
        description=_l("The person's userid in the hospital's DingTalk (钉钉) organisation."),
    )
    follow_default = BooleanField(_l("Use the programme's default channels"))
    channels = MultiCheckboxField(
        _l("Channels"), choices=[], invalid_choice_message=_l("Choose at least one channel from the list."),
        description=_l("Invitations and password links always go by e-mail."),
    )
    submit = SubmitField(_l("Save"))


class UserFilterForm(FlaskForm):
    """The search and filters above the list of people (sent by GET, so no CSRF token)."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), filters=[strip], validators=[Optional(), Length(max=200), printable])
    role = SelectField(
        _l("Role"), choices=lambda: [("", _l("Any role"))] + role_choices(), default="",
        invalid_choice_message=_l("Choose a role from the list."),
    )
    active = SelectField(
        _l("State"),
        choices=lambda: [("", _l("Active and deactivated")), ("1", _l("Active")), ("0", _l("Deactivated"))],
        default="", invalid_choice_message=_l("Choose a state from the list."),
    )


class LeadersOnForm(FlaskForm):
    """The date for the list of who may lead (sent by GET, so no CSRF token)."""

    class Meta:
        csrf = False

    on = DateField(_l("On"), validators=[Optional()])


class TrainingRecordForm(FlaskForm):
    kind = StringField(
        _l("Kind of training"), filters=[strip],
        validators=[DataRequired(message=_l("Enter the kind of training.")), Length(max=200), printable],
    )
    level = SelectField(
        _l("Level"), choices=level_choices, validators=[InputRequired()],
        invalid_choice_message=_l("Choose a level from the list."),
    )
    issuer = StringField(
        _l("Issuing body"), filters=[strip],
        validators=[DataRequired(message=_l("Enter who issued it.")), Length(max=200), printable],
    )
    completed_on = DateField(_l("Completed on"), validators=[InputRequired(message=_l("Enter a date."))])
    valid_until = DateField(_l("Valid until"), validators=[Optional()])
    verified = BooleanField(_l("I have checked the certificate (verified)"))
    note = TextAreaField(_l("Note"), filters=[strip], validators=[Optional(), Length(max=2000), printable])
    submit = SubmitField(_l("Save"))

    def validate_valid_until(self, field):
        if field.data and self.completed_on.data and field.data < self.completed_on.data:
            raise ValidationError(_l("'Valid until' must not be before 'completed on'."))


class ConfirmForm(FlaskForm):
    """An empty form: a button that posts with a CSRF token."""

    submit = SubmitField(_l("Confirm"))


class ImportPeopleForm(FlaskForm):
    """An HR spreadsheet to preview."""

    file = FileField(_l("Spreadsheet (XLSX or CSV)"))
    submit = SubmitField(_l("Preview the import"))


class ConfirmImportForm(FlaskForm):
    """The confirmation of a preview: its signed token."""

    token = HiddenField()
    submit = SubmitField(_l("Import these people"))
