"""Feedback pages (instruments): the questionnaire list, upload, preview, activation and a group's feedback
settings."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from app.feedback import bp
from app.feedback.forms import GroupFeedbackForm, RecordPermissionForm, UploadInstrumentForm
from app.feedback.instrument_files import InstrumentError
from app.feedback.models import Instrument
from app.feedback.services import instruments as service
from app.permissions import get_group_or_403, get_or_404, roles_required
from app.web import attempt


def _locale() -> str:
    return str(get_locale() or "en")


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
            # Every refusal lands beside what was sent (the file or the pasted text).
            outcome = attempt(lambda: service.import_instrument(current_user, text, filename),
                              form=form, field=field, aliases={"source": field})
            if outcome.ok:
                instrument = outcome.result
                flash(_("Version %(version)s of “%(title)s” was uploaded. Check it, then activate it.",
                        version=instrument.version, title=instrument.title(_locale())), "success")
                return redirect(url_for("feedback.instrument", instrument_id=instrument.id))
            if isinstance(outcome.error, InstrumentError):  # the first message is there already
                form[field].errors = [*form[field].errors, *outcome.error.messages[1:]]
            status = outcome.status_code
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


def _changed(instrument: Instrument, change, message: str):
    """Activate or deactivate a questionnaire (`change`, a service) and show it again, saying what changed (or,
    flashed by attempt, why not)."""
    if attempt(lambda: change(current_user, instrument)).ok:
        flash(message % {"title": instrument.title(_locale())}, "success")
    return redirect(url_for("feedback.instrument", instrument_id=instrument.id))


@bp.route("/instruments/<int:instrument_id>/activate", methods=["POST"])
@roles_required("coordinator")
def activate_instrument(instrument_id):
    """Offer the questionnaire to groups (refused while a required permission is not recorded)."""
    _programme_coordinator()
    instrument = get_or_404(Instrument, instrument_id)
    refusal = service.activation_refusal(instrument)
    if refusal:  # shown on the questionnaire's page, beside the form that records the permission
        return _instrument_page(instrument, status=403, error=refusal)
    return _changed(instrument, service.activate, _("“%(title)s” is active."))


@bp.route("/instruments/<int:instrument_id>/deactivate", methods=["POST"])
@roles_required("coordinator")
def deactivate_instrument(instrument_id):
    """Stop offering the questionnaire; rounds that used it keep it."""
    _programme_coordinator()
    return _changed(get_or_404(Instrument, instrument_id), service.deactivate, _("“%(title)s” is no longer offered."))


@bp.route("/instruments/<int:instrument_id>/permission", methods=["POST"])
@roles_required("coordinator")
def record_instrument_permission(instrument_id):
    """Record the permission a questionnaire's licence requires."""
    _programme_coordinator()
    instrument = get_or_404(Instrument, instrument_id)
    form = RecordPermissionForm()
    if not form.validate_on_submit():
        return _instrument_page(instrument, form, 422)
    outcome = attempt(lambda: service.record_permission(current_user, instrument, form.note.data),
                      form=form, field="note")
    if not outcome.ok:
        return _instrument_page(instrument, form, outcome.status_code)
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
        outcome = attempt(lambda: service.set_group_feedback(current_user, group, form.instrument_id.data or None,
                                                             form.mode.data), form=form, field="instrument_id")
        if outcome.ok:
            flash(_("Feedback settings saved; they apply to rounds that open from now on."), "success")
            return redirect(url_for("programme.group", group_id=group.id))
        status = outcome.status_code
    elif form.is_submitted():
        status = 422
    current = service.instrument_for_group(group)
    return render_template("feedback/group_settings.html", group=group, form=form, current=current), status

