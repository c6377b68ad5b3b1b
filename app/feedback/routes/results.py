"""Feedback pages (results): a round's aggregate results, the free-text review, and recording interviews."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.extensions import db
from app.feedback import bp, queries, scoring
from app.feedback.forms import RecordInterviewForm, interview_form
from app.feedback.models import FeedbackRound, Response
from app.feedback.services import interviews, review
from app.feedback.services.responses import InvalidAnswers, problem_message, round_instrument
from app.feedback.services.rounds import eligible_count
from app.feedback.templating import reason_labels
from app.i18n import format_2dp, format_pct
from app.permissions import coordinates_org, get_round_or_403, roles_required
from app.timeutil import utcnow
from app.web import attempt

_number = format_2dp


def _source_labels() -> dict[str, str]:
    return {"all": _("All responses"), "questionnaire": _("Questionnaires"), "interview": _("Interviews")}


@bp.route("/rounds/<int:round_id>/results")
@roles_required("leader", "coordinator")
def round_results(round_id):
    """A round's results for its group's leaders and coordinators; hidden below the anonymity threshold."""
    feedback_round = get_round_or_403(round_id, need="lead")
    coordinator = coordinates_org(current_user, feedback_round.group.organisation_id)
    sources = request.args.get("source", "all")
    if sources not in queries.SOURCES:
        sources = "all"
    results = queries.round_results(
        feedback_round, k=current_app.config["MIN_RESPONSES"], now=utcnow(), include_text=True,
        text_filter="all" if coordinator else "released", sources=sources, locale=str(get_locale()),
        notes_label=_("Interview notes"),
    )
    return render_template(
        "feedback/results.html", round=feedback_round, group=feedback_round.group, results=results,
        coordinator=coordinator, number=_number, percent=format_pct,
        source_labels=_source_labels(), may_interview=feedback_round.mode == "interview",
        reasons=reason_labels(current_app.config["MIN_RESPONSES"]),
    )


@bp.route("/rounds/<int:round_id>/review", methods=["POST"])
@roles_required("coordinator")
def review_text(round_id):
    """A coordinator releases a free-text answer to the group's leaders, withholds it, or releases all pending."""
    feedback_round = get_round_or_403(round_id, need="coordinate")
    action = request.form.get("action")
    back = redirect(url_for("feedback.round_results", round_id=round_id, _anchor="free-text"))
    if action == "release_all":
        outcome = attempt(lambda: review.release_all_pending(current_user, feedback_round))
        if outcome.ok:
            flash(_("%(n)s answers released to the group's leaders.", n=outcome.result), "success")
        return back
    answer = review.find_text(feedback_round, request.form.get("ref", ""))
    if answer is None or action not in ("release", "withhold"):
        flash(_("That free-text answer could not be found; nothing was changed."), "error")
        return back
    change = review.release_text if action == "release" else review.withhold_text
    response_id, item_code = answer.response_id, answer.item_code
    if attempt(lambda: change(current_user, response_id, item_code)).ok:
        flash(_("Answer released to the group's leaders.") if action == "release"
              else _("Answer withheld: the group's leaders will not see it."), "success")
    return back


# --- interviews ------------------------------------------------------------------------------


def _interview_page(feedback_round: FeedbackRound, form: RecordInterviewForm | None, definition, problem: str | None,
                    status: int = 200):
    recorded = db.session.scalar(
        sa.select(sa.func.count(Response.id)).where(Response.round_id == feedback_round.id,
                                                     Response.source == "interview")
    )
    return render_template(
        "feedback/interview.html", round=feedback_round, group=feedback_round.group, form=form,
        definition=definition, problem=problem, recorded=recorded, eligible=eligible_count(feedback_round),
    ), status


@bp.route("/rounds/<int:round_id>/interviews", methods=["GET", "POST"])
@roles_required("leader", "coordinator")
def record_interview(round_id):
    """A leader or coordinator records one interview: the member's ratings and the interviewer's notes."""
    feedback_round = get_round_or_403(round_id, need="lead")
    now = utcnow()
    problem = interviews.interview_problem(feedback_round, now)
    if problem:
        return _interview_page(feedback_round, None, None, problem, 409 if request.method == "POST" else 200)
    definition = scoring.definition_from_dict(round_instrument(feedback_round).definition)
    form = interview_form(definition, str(get_locale()))
    if form.validate_on_submit():
        answers = {item.code: form[f"item-{item.code}"].data for item in definition.items}
        # A refusal naming an item lands beside its question; "notes" always means the interviewer's notes.
        outcome = attempt(
            lambda: interviews.record_interview(current_user, feedback_round, answers, form.notes.data, now),
            form=form, aliases={item.code: f"item-{item.code}" for item in definition.items if item.code != "notes"})
        if outcome.ok:
            flash(_("Interview recorded. Its answers are stored without the interviewee's name."), "success")
            return redirect(url_for("feedback.record_interview", round_id=round_id))
        if isinstance(outcome.error, InvalidAnswers):  # each question says its own problem
            for code, code_problem in outcome.error.problems.items():
                form[f"item-{code}"].errors = [problem_message(code_problem)]
        return _interview_page(feedback_round, form, definition, None, 422)
    return _interview_page(feedback_round, form, definition, None, 422 if form.errors else 200)
