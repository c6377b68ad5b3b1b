"""Feedback pages (rounds): a group's rounds for its leaders and coordinators, and extending one."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import format_date, format_time
from flask_babel import gettext as _
from flask_login import current_user

from app.extensions import db
from app.feedback import bp
from app.feedback.forms import ExtendRoundForm
from app.feedback.models import FeedbackRound
from app.feedback.services import rounds as feedback
from app.meetings import queries
from app.permissions import coordinates_org, get_group_or_403, get_round_or_403, roles_required
from app.programme.models import Group
from app.sqlite import write_intent
from app.timeutil import to_local, to_utc, utcnow
from app.web import attempt


def _round_labels() -> dict[str, dict[str, str]]:
    return {
        "status": {"open": _("open"), "closed": _("closed")},
        "mode": {"questionnaire": _("questionnaire"), "interview": _("interview")},
    }


def _close_due(rounds: list[FeedbackRound]) -> None:
    """Close the rounds whose window has ended, on read, in one short write transaction."""
    now = utcnow()
    if not any(r.status == "open" and now >= r.closes_at for r in rounds):
        return
    # End the read transaction first: on SQLite a write must begin as a writer (BEGIN IMMEDIATE).
    db.session.rollback()
    with write_intent():
        attempt(lambda: [feedback.close_if_due(feedback_round, now) for feedback_round in rounds])


def _extend_form(feedback_round: FeedbackRound, formdata=None) -> ExtendRoundForm:
    """The extend form of one round, pre-filled with its current closing time (local)."""
    if formdata is not None:
        return ExtendRoundForm(prefix=f"extend-{feedback_round.id}")
    closes = to_local(feedback_round.closes_at)
    return ExtendRoundForm(prefix=f"extend-{feedback_round.id}", formdata=None,
                           closes_on=closes.date(), closes_time=closes.time().replace(second=0, microsecond=0))


def _rounds_page(group: Group, sent: dict[int, ExtendRoundForm] | None = None):
    """The group's rounds; a form sent back with errors replaces the fresh one of its round."""
    rounds = queries.group_rounds(group)
    _close_due(rounds)
    can_manage = coordinates_org(current_user, group.organisation_id)
    forms = {}
    if can_manage:
        sent = sent or {}
        forms = {r.id: sent.get(r.id) or _extend_form(r) for r in rounds}
    return render_template(
        "feedback/rounds.html", group=group, summaries=queries.round_summaries(rounds), now=utcnow(),
        can_manage=can_manage, forms=forms, labels=_round_labels(),
    ), 422 if sent else 200


@bp.route("/groups/<int:group_id>/rounds")
@roles_required("leader", "coordinator")
def group_rounds(group_id):
    """A group's feedback rounds: status, window, meetings covered, eligible members, responses, corrections."""
    return _rounds_page(get_group_or_403(group_id, need="lead"))


@bp.route("/rounds/<int:round_id>/extend", methods=["POST"])
@roles_required("coordinator")
def extend_round(round_id):
    """A coordinator moves an open round's closing time later (a closed round is never reopened)."""
    feedback_round = get_round_or_403(round_id, need="coordinate")
    group = feedback_round.group
    form = _extend_form(feedback_round, formdata=True)
    if form.validate_on_submit():
        closes_at = to_utc(form.closes_on.data, form.closes_time.data)
        outcome = attempt(lambda: feedback.extend_round(current_user, feedback_round, closes_at, utcnow()),
                          form=form, field="closes_on", aliases={"closes_at": "closes_on"})
        if outcome.ok:
            when = format_date(closes_at, "medium") + " " + format_time(closes_at, "HH:mm")
            flash(_("Round %(n)s is now open until %(when)s.", n=feedback_round.number, when=when), "success")
            return redirect(url_for("feedback.group_rounds", group_id=group.id, _anchor=f"round-{round_id}"))
        if not feedback_round.is_open(utcnow()):  # a closed round shows no form: say it above the rounds
            flash(outcome.error.message, "error")
    return _rounds_page(group, sent={feedback_round.id: form})
