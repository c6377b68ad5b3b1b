"""Meeting pages: the record form, the leaders' private notes and the theme list."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from app.errors import DomainError, NotAllowed
from app.extensions import db
from app.meetings import bp, services
from app.meetings.forms import (
    ATTENDANCE_PREFIX,
    AddLeaderNoteForm,
    AddThemeForm,
    SetThemeActiveForm,
    attendance_choices,
    note_kind_choices,
    record_form_class,
)
from app.meetings.models import Theme
from app.permissions import get_or_404, roles_required
from app.scheduling import rules
from app.scheduling.models import Meeting
from app.scheduling.services import local_date, problem_messages, problems_for, to_local
from app.timeutil import utcnow

# --- template helpers ------------------------------------------------------------------------


@bp.app_template_global("can_record_meeting")
def _can_record_meeting(meeting: Meeting) -> bool:
    """Whether the current user may record this meeting or correct its record."""
    if not current_user.is_authenticated or not current_user.has_role("leader", "coordinator"):
        return False
    try:
        services.check_can_record(current_user, meeting)
    except NotAllowed:
        return False
    return True


@bp.app_template_global("can_read_leader_notes")
def _can_read_leader_notes(meeting: Meeting) -> bool:
    """Whether the current user is one of the leaders of this meeting's group (coordinators are not)."""
    return (current_user.is_authenticated and current_user.has_role("leader")
            and services.is_meeting_leader(current_user, meeting))


@bp.app_template_global("theme_name")
def _theme_name(theme: Theme) -> str:
    """A theme's name in the reader's language."""
    return theme.name(_locale())


@bp.app_template_global("attendance_label")
def _attendance_label(status: str) -> str:
    """An attendance status (present, absent, excused) in the reader's language."""
    return str(dict(attendance_choices()).get(status, status))


@bp.context_processor
def _names() -> dict:
    """Translated names of the kinds of leader note for the meeting pages."""
    return {"note_kind_names": dict(note_kind_choices())}


# --- helpers ---------------------------------------------------------------------------------


def _locale() -> str:
    return str(get_locale() or "en")


def _refusal_to_field(form, exc: DomainError, default: str) -> int:
    """Show a service's refusal beside its field (nothing is saved); returns the status to answer with.

    An action outside the user's scope stays a 403.
    """
    if isinstance(exc, NotAllowed):
        raise exc
    db.session.rollback()
    if exc.field == "attendance" and hasattr(form, "attendance_errors"):
        form.attendance_errors.append(exc.message)
        return exc.status_code
    name = exc.field if exc.field and exc.field in form else default
    form[name].errors = [*form[name].errors, exc.message]
    return exc.status_code


def _ensure_themes() -> None:
    """Create the shipped theme list the first time anyone needs it (a one-off: later requests only read)."""
    if db.session.query(Theme.id).first() is not None:
        return
    try:
        services.ensure_default_themes()
        db.session.commit()
    except IntegrityError:  # another request seeded them at the same moment
        db.session.rollback()


def _meeting_to_record(meeting_id: int) -> Meeting:
    """Load a meeting the current user may record (404, then 403)."""
    meeting = get_or_404(Meeting, meeting_id)
    services.check_can_record(current_user, meeting)  # NotAllowed: the error handler answers 403
    return meeting


def _meeting_for_leaders(meeting_id: int) -> Meeting:
    """Load a meeting whose group the current user leads (404, then 403); coordinators are not let in."""
    meeting = get_or_404(Meeting, meeting_id)
    if not services.is_meeting_leader(current_user, meeting):
        raise NotAllowed(_("Only the group's leaders keep notes on its meetings."))
    return meeting


def _initial_record(meeting: Meeting, members: list) -> dict:
    """What the record form shows first: the saved record, else the schedule and the live view's check-in."""
    record, ids = meeting.record, [m.id for m in members]
    data = {"status": "cancelled" if meeting.status == "cancelled" else "held",
            "cancel_reason": meeting.cancel_reason or ""}
    if record is not None:
        saved = {a.user_id: a.status for a in meeting.attendances}
        start = to_local(record.started_at)
        data.update(duration_minutes=record.duration_minutes, mode=record.mode, guest_count=record.guest_count,
                    presenter_id=record.presenter_id, summary=record.summary or "",
                    theme_ids=[t.id for t in meeting.themes])
        attendance = {uid: saved.get(uid, "present") for uid in ids}
    else:
        live = services.live_state(meeting)
        checked_in = live.get("present") if isinstance(live.get("present"), list) else None
        present = [uid for uid in ids if checked_in is None or uid in checked_in]
        # Only a presenter named in the live view is chosen for the leader; otherwise the list suggests.
        presenter = live.get("presenter_id") if live.get("presenter_id") in present else None
        start = to_local(meeting.starts_at)
        data.update(duration_minutes=meeting.duration_minutes, mode=meeting.mode, guest_count=0,
                    presenter_id=presenter, summary="", theme_ids=[])
        attendance = {uid: "present" if uid in present else "absent" for uid in ids}
    data.update(started_on=start.date(), started_at=start.time().replace(second=0, microsecond=0))
    data.update({f"{ATTENDANCE_PREFIX}{uid}": state for uid, state in attendance.items()})
    return data


def _record_form(meeting: Meeting, members: list):
    """The record form for this meeting: pre-filled on GET, the submitted values on POST."""
    form_class = record_form_class(members)
    if request.method == "GET":
        form = form_class(data=_initial_record(meeting, members), scheduled_start=meeting.starts_at)
    else:
        form = form_class(scheduled_start=meeting.starts_at)
    last = services.last_presented(meeting.group_id, [m.id for m in members])
    choices = [("", _("— no case presented —"))]
    for person in services.suggested_presenters(meeting):
        when = last.get(person.id)
        hint = _("last presented %(date)s", date=format_date(when, "medium")) if when else _("has not presented yet")
        choices.append((person.id, f"{person.name} · {hint}"))
    form.presenter_id.choices = choices
    chosen = [t.id for t in meeting.themes]
    locale = _locale()
    form.theme_ids.choices = [(t.id, t.name(locale)) for t in services.list_themes(active_only=True, also=chosen)]
    return form


# --- the record ------------------------------------------------------------------------------


@bp.route("/meetings/<int:meeting_id>/record", methods=["GET", "POST"])
@roles_required("leader", "coordinator")
def record(meeting_id):
    """Record a meeting as held (attendance, presenter, themes, summary) or cancelled, or correct its record."""
    meeting = _meeting_to_record(meeting_id)
    _ensure_themes()
    members = services.current_members(meeting.group_id, local_date(meeting.starts_at))
    form = _record_form(meeting, members)
    status = 200 if request.method == "GET" else 422
    if form.validate_on_submit():
        try:
            result = services.record_meeting(current_user, meeting, now=utcnow(), **form.values())
        except DomainError as exc:
            status = _refusal_to_field(form, exc, "status")
        else:
            db.session.commit()
            flash(_("The record was corrected.") if result.corrected else _("Meeting recorded."), "success")
            for opened in result.opened_rounds:
                flash(_("Feedback round %(number)s is now open for this group.", number=opened.number), "success")
            return redirect(url_for("scheduling.meeting", meeting_id=meeting.id))
    started = meeting.starts_at <= utcnow()
    return render_template("meetings/record.html", meeting=meeting, group=meeting.group, form=form,
                           started=started, held_problems=_held_problems(meeting)), status


def _held_problems(meeting: Meeting) -> list[str]:
    """What stops the meeting being recorded as held now (no lead, a leader not eligible that day...), as sentences.

    A cancelled meeting is bound by no invariant: it is judged when a correction back to held is sent.
    """
    if meeting.status == "cancelled":
        return []
    problems = problems_for([meeting])[meeting.id]
    shown = [rules.Problem(rules.HELD_WITHOUT_LEAD) if p.code == rules.NO_LEAD else p for p in problems]
    return problem_messages(meeting, shown)


# --- leaders' private notes ------------------------------------------------------------------


@bp.route("/meetings/<int:meeting_id>/notes", methods=["GET", "POST"])
@roles_required("leader")
def notes(meeting_id):
    """The group's leaders' private notes on a meeting: reflection, debrief, points for supervision."""
    meeting = _meeting_for_leaders(meeting_id)
    form = AddLeaderNoteForm()
    status = 200 if request.method == "GET" else 422
    if form.validate_on_submit():
        try:
            services.add_leader_note(current_user, meeting, form.kind.data, form.text.data)
        except DomainError as exc:
            status = _refusal_to_field(form, exc, "text")
        else:
            db.session.commit()
            flash(_("Note saved. Only the group's leaders can read it."), "success")
            return redirect(url_for("meetings.notes", meeting_id=meeting.id))
    page = render_template("meetings/notes.html", meeting=meeting, group=meeting.group, form=form,
                           notes=services.leader_notes(meeting))
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"  # private notes stay out of shared and browser caches
    return response


# --- the theme list --------------------------------------------------------------------------


def _themes_page(form: AddThemeForm, status: int = 200, error: str | None = None):
    return render_template("meetings/themes.html", form=form, themes=services.list_themes(), error=error), status


@bp.route("/themes", methods=["GET", "POST"])
@roles_required("coordinator")
def themes():
    """The controlled list of meeting themes in both languages; coordinators add to it."""
    _ensure_themes()
    form = AddThemeForm()
    status = 200 if request.method == "GET" else 422
    if form.validate_on_submit():
        try:
            theme = services.add_theme(current_user, code=form.code.data, name_en=form.name_en.data,
                                       name_zh=form.name_zh.data)
        except DomainError as exc:
            status = _refusal_to_field(form, exc, "code")
        else:
            db.session.commit()
            flash(_("Theme “%(name)s” added.", name=theme.name(_locale())), "success")
            return redirect(url_for("meetings.themes"))
    return _themes_page(form, status)


@bp.route("/themes/<int:theme_id>/active", methods=["POST"])
@roles_required("coordinator")
def set_theme_active(theme_id):
    """Stop offering a theme on the record form, or offer it again; meetings keep the themes they had."""
    theme = get_or_404(Theme, theme_id)
    form = SetThemeActiveForm()
    if not form.validate_on_submit():
        return _themes_page(AddThemeForm(formdata=None), 422, _("Choose whether the theme is in use."))
    active = form.active.data == "1"
    services.set_theme_active(current_user, theme, active)
    db.session.commit()
    name = theme.name(_locale())
    flash(_("“%(name)s” is offered again.", name=name) if active
          else _("“%(name)s” is no longer offered; meetings keep it.", name=name), "success")
    return redirect(url_for("meetings.themes"))
