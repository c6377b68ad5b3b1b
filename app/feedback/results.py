"""Feedback pages (results): a round's aggregate results, the free-text review, and recording interviews."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice

from app.errors import DomainError, NotAllowed
from app.extensions import db
from app.feedback import bp, interviews, queries, review, rules, services
from app.feedback.models import FeedbackRound, Response
from app.feedback.responses import InvalidAnswers, problem_message, round_instrument
from app.i18n import format_2dp, format_pct
from app.permissions import coordinates_org, get_or_404, leads_group, roles_required
from app.timeutil import utcnow


def _round_or_403(round_id: int) -> tuple[FeedbackRound, bool]:
    """The round, if the current user coordinates its organisation or leads its group; and whether they coordinate."""
    feedback_round = get_or_404(FeedbackRound, round_id)
    group = feedback_round.group
    coordinator = coordinates_org(current_user, group.organisation_id)
    if not coordinator and not leads_group(current_user, group):
        abort(403)
    return feedback_round, coordinator


_number = format_2dp


def reason_labels(k: int) -> dict[str, str]:
    """Why a number is hidden, in the reader's language (one sentence per app.disclosure reason)."""
    from app import disclosure

    return {
        disclosure.OPEN: _("Results appear once the round has closed: until then only participation is shown, "
                           "so that no one can compare results before and after one more answer."),
        disclosure.BELOW_K: _("Fewer than %(k)s responses: hidden to protect anonymity.", k=k),
        disclosure.COMPLEMENT: _("Another group of respondents in this round gave fewer than %(k)s responses: "
                                 "hidden so they cannot be worked out.", k=k),
        disclosure.FEW_SCORES: _("Fewer than %(k)s responses answered this: hidden to protect anonymity.", k=k),
        disclosure.PARTIAL: _("Someone answered only part of this subscale: its questions are hidden so that "
                              "their answers cannot be worked out from the subscale's figures."),
    }


def _source_labels() -> dict[str, str]:
    return {"all": _("All responses"), "questionnaire": _("Questionnaires"), "interview": _("Interviews")}


@bp.route("/rounds/<int:round_id>/results")
@roles_required("leader", "coordinator")
def round_results(round_id):
    """A round's results for its group's leaders and coordinators; hidden below the anonymity threshold."""
    feedback_round, coordinator = _round_or_403(round_id)
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
    feedback_round = get_or_404(FeedbackRound, round_id)
    if not coordinates_org(current_user, feedback_round.group.organisation_id):
        abort(403)
    action = request.form.get("action")
    back = redirect(url_for("feedback.round_results", round_id=round_id, _anchor="free-text"))
    if action == "release_all":
        count = review.release_all_pending(current_user, feedback_round)
        db.session.commit()
        flash(_("%(n)s answers released to the group's leaders.", n=count), "success")
        return back
    answer = review.find_text(feedback_round, request.form.get("ref", ""))
    if answer is None or action not in ("release", "withhold"):
        flash(_("That free-text answer could not be found; nothing was changed."), "error")
        return back
    change = review.release_text if action == "release" else review.withhold_text
    change(current_user, answer.response_id, answer.item_code)
    db.session.commit()
    flash(_("Answer released to the group's leaders.") if action == "release"
          else _("Answer withheld: the group's leaders will not see it."), "success")
    return back


# --- interviews ------------------------------------------------------------------------------


class RecordInterviewForm(FlaskForm):
    """The interviewee's answers on the round's instrument (fields added per item) and the interviewer's notes."""

    notes = TextAreaField(_l("Interview notes"), description=_l(
        "What the member said, in your words. Leave out names and anything that could identify a person or a patient."
    ))


def _interview_form(definition: rules.Definition, locale: str) -> RecordInterviewForm:
    """A form class with one field per item (named item-<code>), instantiated on the request's data."""

    class Form(RecordInterviewForm):
        pass

    for item in definition.items:
        label = rules.localised(item.text, locale)
        if item.is_numeric:
            choices = [SelectChoice(str(v), f"{v} · {rules.localised(item.anchors[v], locale)}"
                                    if v in item.anchors else str(v)) for v in item.values]
            field = RadioField(label, choices=choices, validate_choice=False)
        elif item.type == "choice":
            choices = [SelectChoice(c.value, rules.localised(c.label, locale)) for c in item.choices]
            field = RadioField(label, choices=choices, validate_choice=False)
        else:
            field = TextAreaField(label)
        setattr(Form, f"item-{item.code}", field)
    return Form()


def _interview_page(feedback_round: FeedbackRound, form: RecordInterviewForm | None, definition, problem: str | None,
                    status: int = 200):
    recorded = db.session.scalar(
        sa.select(sa.func.count(Response.id)).where(Response.round_id == feedback_round.id,
                                                     Response.source == "interview")
    )
    return render_template(
        "feedback/interview.html", round=feedback_round, group=feedback_round.group, form=form,
        definition=definition, problem=problem, recorded=recorded, eligible=services.eligible_count(feedback_round),
    ), status


@bp.route("/rounds/<int:round_id>/interviews", methods=["GET", "POST"])
@roles_required("leader", "coordinator")
def record_interview(round_id):
    """A leader or coordinator records one interview: the member's ratings and the interviewer's notes."""
    feedback_round, _coordinator = _round_or_403(round_id)
    now = utcnow()
    problem = interviews.interview_problem(feedback_round, now)
    if problem:
        return _interview_page(feedback_round, None, None, problem, 409 if request.method == "POST" else 200)
    definition = rules.definition_from_dict(round_instrument(feedback_round).definition)
    form = _interview_form(definition, str(get_locale()))
    if form.validate_on_submit():
        answers = {item.code: form[f"item-{item.code}"].data for item in definition.items}
        try:
            interviews.record_interview(current_user, feedback_round, answers, form.notes.data, now)
        except NotAllowed:
            raise
        except InvalidAnswers as exc:
            db.session.rollback()
            for code, code_problem in exc.problems.items():
                form[f"item-{code}"].errors = [problem_message(code_problem)]
        except DomainError as exc:
            db.session.rollback()
            target = form["notes"] if exc.field == "notes" else form._fields.get(f"item-{exc.field}")
            if target is not None:
                target.errors = [*target.errors, exc.message]
            else:
                flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("Interview recorded. Its answers are stored without the interviewee's name."), "success")
            return redirect(url_for("feedback.record_interview", round_id=round_id))
        return _interview_page(feedback_round, form, definition, None, 422)
    return _interview_page(feedback_round, form, definition, None, 422 if form.errors else 200)
