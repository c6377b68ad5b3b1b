"""The live facilitation view (check-in, presenter, the Balint phases as a timer, saved from the page) and the
group's phase lengths."""

from __future__ import annotations

from types import SimpleNamespace

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.meetings import bp, rules, services
from app.meetings.display import phase_hints, phase_names
from app.meetings.forms import GroupMessages, SavePhasesForm
from app.permissions import get_group_or_403, get_meeting_or_403, roles_required
from app.programme.models import Group
from app.timeutil import utcnow
from app.web import attempt


@bp.route("/meetings/<int:meeting_id>/live")
@roles_required("leader", "coordinator")
def live(meeting_id):
    """The leader's screen during the meeting: check-in, presenter, the phases as a timer."""
    meeting = get_meeting_or_403(meeting_id, need="lead")
    view = services.live_view(meeting)
    data = {
        "phases": list(rules.PHASES), "plan": view.plan, "saved": view.state,
        "members": [u.id for u in view.members], "storage_key": f"balint-live-{meeting.id}",
    }
    return render_template(
        "meetings/live.html", meeting=meeting, group=meeting.group, view=view, data=data,
        phases=list(zip(rules.PHASES, view.plan, strict=True)), phase_names=phase_names(), phase_hints=phase_hints(),
        record_url=url_for("meetings.record", meeting_id=meeting.id),
    )


@bp.route("/meetings/<int:meeting_id>/live", methods=["POST"])
@roles_required("leader", "coordinator")
def save_live(meeting_id):
    """Keep the live page's state (JSON) so that a dropped network loses nothing and the record is pre-filled."""
    meeting = get_meeting_or_403(meeting_id, need="lead")
    state = request.get_json(silent=True)
    if state is None:
        return jsonify(status=400, detail=_("The live state could not be read.")), 400
    # The refusal is answered here as JSON: `attempt` leaves it on this stand-in for a form instead of flashing it.
    outcome = attempt(lambda: services.sync_live_state(meeting, state, now=utcnow()),
                      form=SimpleNamespace(state=GroupMessages()), field="state")
    if not outcome.ok:
        exc = outcome.error
        return jsonify(status=exc.status_code, detail=exc.message, field=exc.field), exc.status_code
    return jsonify(saved_at=outcome.result.state["saved_at"])


@bp.route("/groups/<int:group_id>/phases", methods=["GET", "POST"])
@roles_required("leader", "coordinator")
def phases(group_id):
    """Set how the group's meeting divides into the five Balint phases."""
    group: Group = get_group_or_403(group_id, need="lead")
    plan = services.phase_plan(group)
    form = SavePhasesForm(data=dict(zip(("case", "questions", "discussion", "back", "closing"), plan, strict=True)))
    status = 422 if request.method == "POST" else 200
    if form.validate_on_submit():
        outcome = attempt(lambda: services.save_phase_plan(current_user, group, [f.data for f in form.phase_fields()]),
                          form=form, field="plan", aliases={"phases": "plan"})
        if outcome.ok:
            flash(_("The phases are saved."), "success")
            return redirect(url_for("meetings.phases", group_id=group.id))
    hints = [phase_hints()[code] for code in rules.PHASES]
    return render_template("meetings/phases.html", group=group, form=form, hints=hints), status
