"""One meeting's page (when, where, its leaders, its changes) with its changes for the group's leaders, and my
meetings across groups."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.models import User
from app.extensions import db
from app.pagination import page_number
from app.permissions import can_access_group, get_meeting_or_403, roles_required, signed_in
from app.scheduling import bp, queries, services
from app.scheduling.display import meeting_when
from app.scheduling.forms import AssignLeadersForm, CancelMeetingForm, RescheduleMeetingForm, person_choices
from app.scheduling.models import Meeting
from app.timeutil import to_local, utcnow
from app.web import attempt


def _leaders_form(meeting: Meeting, formdata: bool = True) -> AssignLeadersForm:
    lead, co_lead = meeting.lead, meeting.co_lead
    data = {"lead_id": lead.id if lead else None, "co_lead_id": co_lead.id if co_lead else None}
    form = (AssignLeadersForm(prefix="leaders", data=data) if formdata
            else AssignLeadersForm(prefix="leaders", formdata=None, data=data))
    people = queries.leader_choices(tuple(ml.user_id for ml in meeting.leaders))
    form.lead_id.choices = person_choices(people, _("— choose a lead —"))
    form.co_lead_id.choices = person_choices(people, _("— no co-lead —"))
    return form


def _meeting_values(meeting: Meeting) -> dict:
    local = to_local(meeting.starts_at)
    return {
        "day": local.date(), "at": local.time(), "duration_minutes": meeting.duration_minutes,
        "mode": meeting.mode, "location": meeting.location, "video_link": meeting.video_link,
    }


def _meeting_page(meeting: Meeting, *, leaders_form=None, reschedule_form=None, cancel_form=None,
                  error: str | None = None, status: int = 200):
    """The meeting page; changes are offered to those who lead the group while the meeting is scheduled."""
    group = meeting.group
    can_lead = can_access_group(current_user, group, "lead")
    context = {"meeting": meeting, "group": group, "can_lead": can_lead, "error": error, "suggestions": None,
               "meeting_flags": queries.meeting_flags([meeting]).get(meeting.id)}
    if can_lead and meeting.status == "scheduled":
        now = utcnow()
        context.update(
            leaders_form=leaders_form or _leaders_form(meeting, formdata=False),
            reschedule_form=reschedule_form or RescheduleMeetingForm(
                prefix="reschedule", formdata=None, data=_meeting_values(meeting)),
            cancel_form=cancel_form or CancelMeetingForm(prefix="cancel", formdata=None),
            suggestions={role: services.suggest_leaders(meeting, role, now) for role in ("lead", "co_lead")},
        )
    return render_template("scheduling/meeting.html", **context), status


def _back_to_meeting(meeting: Meeting):
    return redirect(url_for("scheduling.meeting", meeting_id=meeting.id))


@bp.route("/meetings/<int:meeting_id>")
@signed_in
def meeting(meeting_id):
    """One meeting: when and where, its leaders, its changes; leaders of the group change it here."""
    return _meeting_page(get_meeting_or_403(meeting_id, need="view"))


def _change(meeting: Meeting, form, form_name: str, call, *, field: str, done):
    """One change of the meeting from a form of its page: saved, `done()` is flashed and the meeting shown again;
    refused, the page comes back with the form, the refusal beside its field and at the top of the page."""
    status, error = 422, None
    if form.validate_on_submit():
        outcome = attempt(call, form=form, field=field)
        if outcome.ok:
            flash(done(), "success")
            return _back_to_meeting(meeting)
        status, error = outcome.status_code, outcome.error.message
    return _meeting_page(meeting, error=error, status=status, **{form_name: form})


@bp.route("/meetings/<int:meeting_id>/leaders", methods=["POST"])
@roles_required("leader", "coordinator")
def assign_leaders(meeting_id):
    """Set the meeting's lead and optional co-lead; a broken eligibility rule is refused and named."""
    meeting = get_meeting_or_403(meeting_id, need="lead")
    form = _leaders_form(meeting)

    def assign() -> None:
        lead = db.session.get(User, form.lead_id.data)
        co_lead = db.session.get(User, form.co_lead_id.data) if form.co_lead_id.data else None
        services.assign_leaders(current_user, meeting, lead, co_lead)

    return _change(meeting, form, "leaders_form", assign, field="lead_id", done=lambda: _("Leaders saved."))


@bp.route("/meetings/<int:meeting_id>/reschedule", methods=["POST"])
@roles_required("leader", "coordinator")
def reschedule(meeting_id):
    """Move or change one meeting, with a reason its members see."""
    meeting = get_meeting_or_403(meeting_id, need="lead")
    form = RescheduleMeetingForm(prefix="reschedule")
    return _change(meeting, form, "reschedule_form", lambda: services.reschedule_meeting(
        current_user, meeting, day=form.day.data, at=form.at.data, duration_minutes=form.duration_minutes.data,
        reason=form.reason.data, mode=form.mode.data, location=form.location.data or "",
        video_link=form.video_link.data or "",
    ), field="day", done=lambda: _("The meeting is now on %(when)s; members see the reason.",
                                   when=meeting_when(meeting)))


@bp.route("/meetings/<int:meeting_id>/cancel", methods=["POST"])
@roles_required("leader", "coordinator")
def cancel(meeting_id):
    """Cancel one meeting, with a reason its members see."""
    meeting = get_meeting_or_403(meeting_id, need="lead")
    form = CancelMeetingForm(prefix="cancel")
    return _change(meeting, form, "cancel_form",
                   lambda: services.cancel_meeting(current_user, meeting, form.reason.data), field="reason",
                   done=lambda: _("The meeting of %(when)s is cancelled; members see the reason.",
                                  when=meeting_when(meeting)))


@bp.route("/my/meetings")
@signed_in
def my_meetings():
    """The meetings I lead or co-lead and those of my groups, across groups, upcoming first."""
    show = queries.show_of(request.args.get("show"))
    page = queries.my_meetings(current_user, show, utcnow(), page_number())
    return render_template("scheduling/my_meetings.html", page=page, show=show)
