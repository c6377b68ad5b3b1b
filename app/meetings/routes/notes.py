"""The leaders' private notes on a meeting: reflection, debrief, points for supervision."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.meetings import bp, services
from app.meetings.forms import AddLeaderNoteForm
from app.permissions import get_meeting_or_403, roles_required
from app.web import attempt


@bp.route("/meetings/<int:meeting_id>/notes", methods=["GET", "POST"])
@roles_required("leader")
def notes(meeting_id):
    """The group's leaders' private notes on a meeting: reflection, debrief, points for supervision."""
    meeting = get_meeting_or_403(meeting_id, need="notes")
    form = AddLeaderNoteForm()
    status = 200 if request.method == "GET" else 422
    if form.validate_on_submit():
        outcome = attempt(lambda: services.add_leader_note(current_user, meeting, form.kind.data, form.text.data),
                          form=form, field="text")
        if outcome.ok:
            flash(_("Note saved. Only the group's leaders can read it."), "success")
            return redirect(url_for("meetings.notes", meeting_id=meeting.id))
        status = outcome.status_code
    page = render_template("meetings/notes.html", meeting=meeting, group=meeting.group, form=form,
                           notes=services.leader_notes(meeting))
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"  # private notes stay out of shared and browser caches
    return response
