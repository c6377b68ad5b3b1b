"""Questionnaire pages: the instrument list, upload, preview, activation and a group's feedback settings."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import RadioField, SelectChoice, SelectField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length

from app.errors import DomainError
from app.extensions import db
from app.feedback import bp, rules
from app.feedback import instruments as service
from app.feedback.instruments import InstrumentError
from app.feedback.models import Instrument
from app.permissions import get_group_or_403, get_or_404, roles_required

# --- forms (kept beside their only views) ----------------------------------------------------


class UploadInstrumentForm(FlaskForm):
    """A questionnaire file, uploaded or pasted."""

    file = FileField(_l("Questionnaire file (YAML or JSON)"))
    source = TextAreaField(_l("…or paste the file's text"), render_kw={"rows": 14, "spellcheck": "false"})
    submit = SubmitField(_l("Check and upload"))

    def text_and_name(self) -> tuple[str, str, str] | None:
        """(text, filename, field) of what was sent, or None after adding an error to the form."""
        upload = self.file.data
        if upload and getattr(upload, "filename", ""):
            raw = upload.read(service.MAX_FILE_CHARS * 4 + 1)
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


# --- helpers ---------------------------------------------------------------------------------


def _locale() -> str:
    return str(get_locale() or "en")


@bp.app_template_global("in_language")
def _in_language(text: dict | None) -> str:
    """A {en, zh_CN} text from a questionnaire in the reader's language."""
    return rules.localised(text or {}, _locale())


def _programme_coordinator() -> None:
    """Instruments serve the whole programme: only programme-wide coordinators change them."""
    if current_user.coordinator_scope is not None:
        abort(403)


def _type_labels() -> dict[str, str]:
    return {"likert": _("Likert"), "scale": _("Scale"), "choice": _("Single choice"), "text": _("Free text")}


# --- the instrument list, upload and preview -------------------------------------------------


@bp.route("/instruments")
@roles_required("coordinator")
def instruments():
    """Every questionnaire version with its licence, state and the rounds that used it."""
    return render_template("feedback/instruments.html", rows=service.list_instruments(),
                           default=service.default_instrument(), locale=_locale(),
                           can_change=current_user.coordinator_scope is None)


@bp.route("/instruments/upload", methods=["GET", "POST"])
@roles_required("coordinator")
def upload_instrument():
    """Upload a new questionnaire or a new version of one; it is checked and stored inactive."""
    _programme_coordinator()
    form = UploadInstrumentForm()
    status = 200
    if form.validate_on_submit():
        sent = form.text_and_name()
        status = 422
        if sent is not None:
            text, filename, field = sent
            try:
                instrument = service.import_instrument(current_user, text, filename)
            except DomainError as exc:
                db.session.rollback()
                messages = exc.messages if isinstance(exc, InstrumentError) else [exc.message]
                form[field].errors = [*form[field].errors, *messages]
                status = exc.status_code
            else:
                db.session.commit()
                flash(_("Version %(version)s of “%(title)s” was uploaded. Check it, then activate it.",
                        version=instrument.version, title=instrument.title(_locale())), "success")
                return redirect(url_for("feedback.instrument", instrument_id=instrument.id))
    elif form.is_submitted():
        status = 422
    return render_template("feedback/upload.html", form=form), status


def _instrument_page(instrument: Instrument, permission_form: RecordPermissionForm | None = None,
                     status: int = 200, error: str | None = None):
    return render_template(
        "feedback/instrument.html", instrument=instrument, definition=service.definition_of(instrument),
        rounds=service.rounds_using(instrument), types=_type_labels(), error=error,
        permission_form=permission_form or RecordPermissionForm(formdata=None),
        can_change=current_user.coordinator_scope is None,
    ), status


@bp.route("/instruments/<int:instrument_id>")
@roles_required("coordinator")
def instrument(instrument_id):
    """Preview a questionnaire version: every item in the reader's language, subscales, bands, licence."""
    return _instrument_page(get_or_404(Instrument, instrument_id))[0]


@bp.route("/instruments/<int:instrument_id>/activate", methods=["POST"])
@roles_required("coordinator")
def activate_instrument(instrument_id):
    """Offer the questionnaire to groups (refused while a required permission is not recorded)."""
    _programme_coordinator()
    instrument = get_or_404(Instrument, instrument_id)
    try:
        service.activate(current_user, instrument)
    except DomainError as exc:
        db.session.rollback()
        return _instrument_page(instrument, status=exc.status_code, error=exc.message)
    db.session.commit()
    flash(_("“%(title)s” is active.", title=instrument.title(_locale())), "success")
    return redirect(url_for("feedback.instrument", instrument_id=instrument.id))


@bp.route("/instruments/<int:instrument_id>/deactivate", methods=["POST"])
@roles_required("coordinator")
def deactivate_instrument(instrument_id):
    """Stop offering the questionnaire; rounds that used it keep it."""
    _programme_coordinator()
    instrument = get_or_404(Instrument, instrument_id)
    service.deactivate(current_user, instrument)
    db.session.commit()
    flash(_("“%(title)s” is no longer offered.", title=instrument.title(_locale())), "success")
    return redirect(url_for("feedback.instrument", instrument_id=instrument.id))


@bp.route("/instruments/<int:instrument_id>/permission", methods=["POST"])
@roles_required("coordinator")
def record_instrument_permission(instrument_id):
    """Record the permission a questionnaire's licence requires."""
    _programme_coordinator()
    instrument = get_or_404(Instrument, instrument_id)
    form = RecordPermissionForm()
    if not form.validate_on_submit():
        return _instrument_page(instrument, form, 422)
    try:
        service.record_permission(current_user, instrument, form.note.data)
    except DomainError as exc:
        db.session.rollback()
        form.note.errors = [*form.note.errors, exc.message]
        return _instrument_page(instrument, form, exc.status_code)
    db.session.commit()
    flash(_("Permission recorded. The questionnaire can now be activated."), "success")
    return redirect(url_for("feedback.instrument", instrument_id=instrument.id))


# --- a group's feedback settings -------------------------------------------------------------


@bp.route("/groups/<int:group_id>/feedback-settings", methods=["GET", "POST"])
@roles_required("coordinator")
def group_feedback(group_id):
    """Choose the questionnaire a group's next rounds use, and questionnaire or interview."""
    group = get_group_or_403(group_id, need="manage")
    locale = _locale()
    default = service.default_instrument()
    default_label = (_("Programme default (%(title)s, version %(version)s)", title=default.title(locale),
                       version=default.version) if default else _("Programme default (none active)"))
    form = GroupFeedbackForm(data={"instrument_id": group.instrument_id or 0, "mode": group.feedback_mode})
    form.instrument_id.choices = [SelectChoice(0, default_label)] + [
        SelectChoice(i.id, _("%(title)s, version %(version)s", title=i.title(locale), version=i.version))
        for i in service.active_instruments()
    ]
    status = 200
    if form.validate_on_submit():
        try:
            service.set_group_feedback(current_user, group, form.instrument_id.data or None, form.mode.data)
        except DomainError as exc:
            db.session.rollback()
            name = exc.field if exc.field in form else "instrument_id"
            form[name].errors = [*form[name].errors, exc.message]
            status = exc.status_code
        else:
            db.session.commit()
            flash(_("Feedback settings saved; they apply to rounds that open from now on."), "success")
            return redirect(url_for("programme.group", group_id=group.id))
    elif form.is_submitted():
        status = 422
    current = service.instrument_for_group(group)
    return render_template("feedback/group_settings.html", group=group, form=form, current=current), status
