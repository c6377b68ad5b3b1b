"""Feedback pages: rounds for members, leaders and coordinators."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import format_date, format_time
from flask_babel import gettext as _
from flask_login import current_user

from app.errors import DomainError, NotAllowed
from app.extensions import db
from app.feedback import bp
from app.feedback import services as feedback
from app.feedback.forms import ExtendRoundForm
from app.feedback.models import FeedbackRound
from app.meetings import queries
from app.permissions import coordinates_org, get_group_or_403, get_or_404, roles_required
from app.programme.models import Group
from app.scheduling.services import to_local, to_utc
from app.sqlite import write_intent
from app.timeutil import utcnow

# --- template helpers ------------------------------------------------------------------------


@bp.app_template_global("member_open_rounds")
def member_open_rounds() -> list[FeedbackRound]:
    """Open rounds the signed-in member is eligible for and has not answered (the home page's banner)."""
    if not current_user.is_authenticated:
        return []
    return [r for r in feedback.open_rounds_for_member(current_user, utcnow())
            if not feedback.has_responded(r, current_user)]


def _round_labels() -> dict[str, dict[str, str]]:
    return {
        "status": {"open": _("open"), "closed": _("closed")},
        "mode": {"questionnaire": _("questionnaire"), "interview": _("interview")},
    }


# --- helpers ---------------------------------------------------------------------------------


def _close_due(rounds: list[FeedbackRound]) -> None:
    """Close the rounds whose window has ended, on read, in one short write transaction."""
    now = utcnow()
    if not any(r.status == "open" and now >= r.closes_at for r in rounds):
        return
    # End the read transaction first: on SQLite a write must begin as a writer (BEGIN IMMEDIATE).
    db.session.rollback()
    with write_intent():
        for feedback_round in rounds:
            feedback.close_if_due(feedback_round, now)
        db.session.commit()


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


# --- pages -----------------------------------------------------------------------------------


@bp.route("/groups/<int:group_id>/rounds")
@roles_required("leader", "coordinator")
def group_rounds(group_id):
    """A group's feedback rounds: status, window, meetings covered, eligible members, responses, corrections."""
    return _rounds_page(get_group_or_403(group_id, need="lead"))


@bp.route("/rounds/<int:round_id>/extend", methods=["POST"])
@roles_required("coordinator")
def extend_round(round_id):
    """A coordinator moves an open round's closing time later (a closed round is never reopened)."""
    feedback_round = get_or_404(FeedbackRound, round_id)
    group = feedback_round.group
    if not coordinates_org(current_user, group.organisation_id):
        abort(403)
    form = _extend_form(feedback_round, formdata=True)
    if form.validate_on_submit():
        closes_at = to_utc(form.closes_on.data, form.closes_time.data)
        try:
            feedback.extend_round(current_user, feedback_round, closes_at, utcnow())
        except NotAllowed:
            raise
        except DomainError as exc:
            db.session.rollback()
            if not feedback_round.is_open(utcnow()):  # a closed round shows no form: say it above the rounds
                flash(exc.message, "error")
            form.closes_on.errors = [*form.closes_on.errors, exc.message]
        else:
            db.session.commit()
            when = format_date(closes_at, "medium") + " " + format_time(closes_at, "HH:mm")
            flash(_("Round %(n)s is now open until %(when)s.", n=feedback_round.number, when=when), "success")
            return redirect(url_for("feedback.group_rounds", group_id=group.id, _anchor=f"round-{round_id}"))
    return _rounds_page(group, sent={feedback_round.id: form})
