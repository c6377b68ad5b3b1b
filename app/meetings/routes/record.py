"""Recording a meeting: held (attendance, presenter, themes, summary) or cancelled, and correcting its record."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user

from app.meetings import bp, services
from app.meetings.display import reader_locale
from app.meetings.forms import ATTENDANCE_PREFIX, record_form_class
from app.meetings.routes.themes import ensure_themes
from app.permissions import get_meeting_or_403, roles_required
from app.scheduling import rules
from app.scheduling.models import Meeting
from app.scheduling.services import problem_messages, problems_for
from app.timeutil import local_date, to_local, utcnow
from app.web import attempt


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


def _offered_themes(meeting: Meeting) -> list:
    """The themes the form offers: the active ones and those the record has (the shipped list made on first use)."""
    chosen = [t.id for t in meeting.themes]
    themes = services.list_themes(active_only=True, also=chosen)
    if not themes:  # none offered: perhaps no list yet (otherwise every theme is out of use)
        ensure_themes()
        themes = services.list_themes(active_only=True, also=chosen)
    return themes


def _record_form(meeting: Meeting, members: list, themes: list):
    """The record form for this meeting: pre-filled on GET, the submitted values on POST.

    The presenter's choices are filled only when the page is drawn (_offer_presenters): the field checks its
    value against the members, not the list, so a record that saves never reads when each member last presented.
    """
    form_class = record_form_class(members)
    if request.method == "GET":
        form = form_class(data=_initial_record(meeting, members), scheduled_start=meeting.starts_at)
    else:
        form = form_class(scheduled_start=meeting.starts_at)
    locale = reader_locale()
    form.theme_ids.choices = [(t.id, t.name(locale)) for t in themes]
    form.presenter_id.choices = []
    return form


def _offer_presenters(form, meeting: Meeting, members: list) -> None:
    """The presenter list: who presented least recently first, each with when they last did."""
    last = services.last_presented(meeting.group_id, [m.id for m in members])
    choices = [("", _("— no case presented —"))]
    for person in services.suggested_presenters(meeting, members=members, last=last):
        when = last.get(person.id)
        hint = _("last presented %(date)s", date=format_date(when, "medium")) if when else _("has not presented yet")
        choices.append((person.id, f"{person.name} · {hint}"))
    form.presenter_id.choices = choices


def _held_problems(meeting: Meeting) -> list[str]:
    """What stops the meeting being recorded as held now (no lead, a leader not eligible that day...), as sentences.

    A cancelled meeting is bound by no invariant: it is judged when a correction back to held is sent.
    """
    if meeting.status == "cancelled":
        return []
    problems = problems_for([meeting])[meeting.id]
    shown = [rules.Problem(rules.HELD_WITHOUT_LEAD) if p.code == rules.NO_LEAD else p for p in problems]
    return problem_messages(meeting, shown)


@bp.route("/meetings/<int:meeting_id>/record", methods=["GET", "POST"])
@roles_required("leader", "coordinator")
def record(meeting_id):
    """Record a meeting as held (attendance, presenter, themes, summary) or cancelled, or correct its record."""
    meeting = get_meeting_or_403(meeting_id, need="lead")
    themes = _offered_themes(meeting)  # first: making the shipped list commits (and expires what was loaded)
    members = services.members_on(meeting.group_id, local_date(meeting.starts_at))
    form = _record_form(meeting, members, themes)
    status = 200 if request.method == "GET" else 422
    if form.validate_on_submit():
        outcome = attempt(lambda: services.record_meeting(current_user, meeting, now=utcnow(), **form.values()),
                          form=form, field="status", aliases={"attendance": "attendance_list"})
        if outcome.ok:
            result = outcome.result
            flash(_("The record was corrected.") if result.corrected else _("Meeting recorded."), "success")
            for opened in result.opened_rounds:
                flash(_("Feedback round %(number)s is now open for this group.", number=opened.number), "success")
            # The route's own id: the committed (expired) meeting would be loaded again just for its id.
            return redirect(url_for("scheduling.meeting", meeting_id=meeting_id))
        status = outcome.status_code
    _offer_presenters(form, meeting, members)
    started = meeting.starts_at <= utcnow()
    return render_template("meetings/record.html", meeting=meeting, group=meeting.group, form=form,
                           started=started, held_problems=_held_problems(meeting)), status
