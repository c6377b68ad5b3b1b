"""The live facilitation view: check-in, presenter, the Balint phases as a timer, saved from the page."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange

from app.errors import DomainError
from app.extensions import db
from app.meetings import bp, rules, services
from app.permissions import get_group_or_403, roles_required
from app.programme.models import Group
from app.scheduling.access import get_meeting_or_403
from app.scheduling.models import Meeting
from app.timeutil import utcnow


def phase_names() -> dict[str, str]:
    """The Balint phases in the reader's language, keyed by the codes of rules.PHASES."""
    return {
        "case": _("Case told"),
        "questions": _("Questions of fact"),
        "discussion": _("Group discussion, presenter pushed back"),
        "return": _("Presenter returns"),
        "closing": _("Closing"),
    }


def phase_hints() -> dict[str, str]:
    """One line on what happens in each phase, for the leader's screen."""
    return {
        "case": _("The presenter tells the case briefly, from memory."),
        "questions": _("The group asks questions of fact only."),
        "discussion": _("The presenter sits back and only listens; the group explores the relationship, "
                        "not solutions."),
        "return": _("The presenter rejoins and says what struck them."),
        "closing": _("The leader closes the meeting."),
    }


def _minutes(label):
    return IntegerField(label, validators=[
        InputRequired(message=_l("Enter a number.")),
        NumberRange(min=1, max=480, message=_l("Enter a whole number from %(min)s to %(max)s.")),
    ])


class SavePhasesForm(FlaskForm):
    """The group's five phase lengths in minutes (they must add up to the group's meeting length)."""

    case = _minutes(_l("Case told"))
    questions = _minutes(_l("Questions of fact"))
    discussion = _minutes(_l("Group discussion, presenter pushed back"))
    back = _minutes(_l("Presenter returns"))  # the phase `return` (a Python keyword)
    closing = _minutes(_l("Closing"))

    def phase_fields(self) -> list:
        """The fields in the order of rules.PHASES."""
        return [self.case, self.questions, self.discussion, self.back, self.closing]


def _meeting_to_facilitate(meeting_id: int) -> Meeting:
    """Load a meeting its group's leaders or a coordinator may facilitate (404, then 403)."""
    meeting = get_meeting_or_403(meeting_id, need="lead")
    services.check_can_record(current_user, meeting)  # NotAllowed answers 403
    return meeting


@bp.route("/meetings/<int:meeting_id>/live")
@roles_required("leader", "coordinator")
def live(meeting_id):
    """The leader's screen during the meeting: check-in, presenter, the phases as a timer."""
    meeting = _meeting_to_facilitate(meeting_id)
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
    meeting = _meeting_to_facilitate(meeting_id)
    state = request.get_json(silent=True)
    if state is None:
        return jsonify(status=400, detail=_("The live state could not be read.")), 400
    try:
        live = services.sync_live_state(meeting, state, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        return jsonify(status=exc.status_code, detail=exc.message, field=exc.field), exc.status_code
    db.session.commit()
    return jsonify(saved_at=live.state["saved_at"])


@bp.route("/groups/<int:group_id>/phases", methods=["GET", "POST"])
@roles_required("leader", "coordinator")
def phases(group_id):
    """Set how the group's meeting divides into the five Balint phases."""
    group: Group = get_group_or_403(group_id, need="lead")
    plan = services.phase_plan(group)
    form = SavePhasesForm(data=dict(zip(("case", "questions", "discussion", "back", "closing"), plan, strict=True)))
    status = 422 if request.method == "POST" else 200
    error = None
    if form.validate_on_submit():
        try:
            services.save_phase_plan(current_user, group, [f.data for f in form.phase_fields()])
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(_("The phases are saved."), "success")
            return redirect(url_for("meetings.phases", group_id=group.id))
    hints = [phase_hints()[code] for code in rules.PHASES]
    return render_template("meetings/phases.html", group=group, form=form, error=error, hints=hints), status
