"""Forms of the feedback pages: extending a round, uploading a questionnaire, recording a licence's permission,
a group's feedback settings, and recording an interview."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, RadioField, SelectChoice, SelectField, SubmitField, TextAreaField, TimeField
from wtforms.validators import InputRequired, Length, StopValidation

from app.feedback import scoring
from app.feedback.instrument_files import MAX_FILE_CHARS
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


# --- questionnaires ----------------------------------------------------------------------------


class UploadInstrumentForm(FlaskForm):
    """A questionnaire file, uploaded or pasted."""

    file = FileField(_l("Questionnaire file (YAML or JSON)"))
    source = TextAreaField(_l("…or paste the file's text"), render_kw={"rows": 14, "spellcheck": "false"})
    submit = SubmitField(_l("Check and upload"))

    def text_and_name(self) -> tuple[str, str, str] | None:
        """(text, filename, field) of what was sent, or None after adding an error to the form."""
        upload = self.file.data
        if upload and getattr(upload, "filename", ""):
            raw = upload.read(MAX_FILE_CHARS * 4 + 1)
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                self.file.errors = [*self.file.errors, _("The file is not UTF-8 text.")]
                return None
            return text, upload.filename, "file"
        if self.source.data and self.source.data.strip():
            return self.source.data, "pasted", "source"
        self.file.errors = [*self.file.errors, _("Choose a file or paste its text.")]
        return None


class RecordPermissionForm(FlaskForm):
    """How and from whom permission to use a licensed questionnaire was obtained."""

    note = TextAreaField(
        _l("Permission (who granted it, when, and where the letter is kept)"),
        validators=[InputRequired(message=_l("Say how and from whom permission was obtained.")), Length(max=2000)],
    )
    submit = SubmitField(_l("Record permission"))


class GroupFeedbackForm(FlaskForm):
    """Which questionnaire a group's next rounds use, and whether they are taken by interview."""

    instrument_id = SelectField(_l("Questionnaire"), coerce=int)
    mode = RadioField(_l("Way of giving feedback"), validators=[InputRequired(message=_l("Choose one."))],
                      choices=[SelectChoice("questionnaire", _l("Questionnaire")),
                               SelectChoice("interview", _l("Interview"))])
    submit = SubmitField(_l("Save"))


# --- interviews --------------------------------------------------------------------------------


class RecordInterviewForm(FlaskForm):
    """The interviewee's answers on the round's instrument (fields added per item) and the interviewer's notes."""

    notes = TextAreaField(_l("Interview notes"), description=_l(
        "What the member said, in your words. Leave out names and anything that could identify a person or a patient."
    ))


def interview_form(definition: scoring.Definition, locale: str) -> RecordInterviewForm:
    """A form class with one field per item (named item-<code>), instantiated on the request's data."""

    class Form(RecordInterviewForm):
        pass

    for item in definition.items:
        label = scoring.localised(item.text, locale)
        if item.is_numeric:
            choices = [SelectChoice(str(v), f"{v} · {scoring.localised(item.anchors[v], locale)}"
                                    if v in item.anchors else str(v)) for v in item.values]
            field = RadioField(label, choices=choices, validate_choice=False)
        elif item.type == "choice":
            choices = [SelectChoice(c.value, scoring.localised(c.label, locale)) for c in item.choices]
            field = RadioField(label, choices=choices, validate_choice=False)
        else:
            field = TextAreaField(label)
        setattr(Form, f"item-{item.code}", field)
    return Form()
