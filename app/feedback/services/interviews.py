"""Interview rounds: a leader or coordinator records each interview on the round's instrument. Flush, never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.accounts.models import User
from app.audit.services import record_action
from app.errors import Conflict, DomainError, NotAllowed
from app.extensions import db
from app.feedback import scoring
from app.feedback.models import INTERVIEW_NOTES, Answer, FeedbackRound, Response
from app.feedback.services import rounds
from app.feedback.services.responses import InvalidAnswers, answer_rows, round_instrument
from app.permissions import coordinates_org, leads_group

NOTES_MAX_LENGTH = 5000


def may_record_interviews(user: User, feedback_round: FeedbackRound) -> bool:
    """Whether the user leads the round's group or coordinates its organisation."""
    group = feedback_round.group
    return leads_group(user, group) or coordinates_org(user, group.organisation_id)


def interview_problem(feedback_round: FeedbackRound, now: datetime) -> str | None:
    """Why no interview can be recorded for the round now (a translated message), or None."""
    if feedback_round.mode != "interview":
        return _("This round is taken by questionnaire; members answer it themselves.")
    if not feedback_round.is_open(now):
        return _("This round is closed; no more interviews can be recorded.")
    if round_instrument(feedback_round) is None:
        return _("This round has no questionnaire to record interviews on.")
    return None


def record_interview(actor: User, feedback_round: FeedbackRound, answers: dict[str, Any], notes: str | None,
                     now: datetime) -> Response:
    """Store one interview as an anonymous response with source 'interview' (who was interviewed is not stored),
    with its subscale scores (stored by the flush from its answers, as for a questionnaire).

    The interviewer's notes become a free-text answer under the reserved item code "_interview_notes",
    pending a coordinator's review like any free text. Raises NotAllowed unless the actor leads the group
    or coordinates its organisation; Conflict when the round is not an open interview round or already
    has as many responses as eligible members; DomainError (field = item code) when an answer is invalid, or
    (field notes) when the notes hold a patient identifier.
    """
    if not may_record_interviews(actor, feedback_round):
        raise NotAllowed(_("Only the group's leaders or a coordinator record its interviews."))
    problem = interview_problem(feedback_round, now)
    if problem:
        raise Conflict(problem)
    instrument = round_instrument(feedback_round)
    definition = scoring.definition_from_dict(instrument.definition)
    problems = scoring.answer_problems(definition, answers)
    if problems:
        raise InvalidAnswers(_("Some answers need your attention."), problems)
    notes = (notes or "").strip()
    if len(notes) > NOTES_MAX_LENGTH:
        raise DomainError(_("Keep the notes under %(n)s characters.", n=NOTES_MAX_LENGTH), field="notes")
    # Released notes reach the group's leaders: no patient identifiers (the one guard of meetings.services,
    # imported here when used, since meetings imports feedback).
    from app.meetings.services import check_deidentified

    check_deidentified(notes, "notes")
    recorded = db.session.scalar(
        sa.select(sa.func.count(Response.id)).where(Response.round_id == feedback_round.id)
    )
    if recorded >= rounds.eligible_count(feedback_round):
        raise Conflict(_("Every eligible member has already given feedback in this round."))
    rows = answer_rows(definition, answers)
    if notes:
        rows.append(Answer(item_code=INTERVIEW_NOTES, text=notes))
    response = Response(round_id=feedback_round.id, instrument_id=instrument.id,
                        source="interview", answers=rows)
    db.session.add(response)
    db.session.flush()
    # The audit says that an interview was recorded, by whom — never the response or the interviewee.
    record_action(actor, "interview_recorded", feedback_round, group_id=feedback_round.group_id)
    return response
