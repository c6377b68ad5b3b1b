"""Coordinators review free-text answers before leaders see them: release or withhold, audited. Flush, never commit."""

from __future__ import annotations

import hashlib
import hmac

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.accounts.models import User
from app.audit.services import record_action
from app.errors import DomainError, NotAllowed
from app.extensions import db
from app.feedback.models import Answer, FeedbackRound, Response
from app.permissions import coordinates_org

RELEASED = "released"
WITHHELD = "withheld"
PENDING = "pending"


def text_ref(response_id: str, item_code: str) -> str:
    """An opaque reference to one free-text answer for the review buttons.

    Pages never carry response ids: two texts of one response must not be recognisable as such.
    """
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"free-text:{response_id}:{item_code}".encode(), hashlib.sha256).hexdigest()[:32]


def _text_answers(feedback_round: FeedbackRound) -> list[Answer]:
    return list(db.session.scalars(
        sa.select(Answer).join(Response, Response.id == Answer.response_id)
        .where(Response.round_id == feedback_round.id, Answer.text.is_not(None), Answer.text != "")
    ))


def find_text(feedback_round: FeedbackRound, ref: str) -> Answer | None:
    """The round's free-text answer behind a reference made by `text_ref`, or None."""
    if not isinstance(ref, str) or not ref.isascii():  # compare_digest refuses other text (a TypeError)
        return None
    for answer in _text_answers(feedback_round):
        if hmac.compare_digest(text_ref(answer.response_id, answer.item_code), ref):
            return answer
    return None


def _check_reviewer(actor: User, feedback_round: FeedbackRound) -> None:
    if not coordinates_org(actor, feedback_round.group.organisation_id):
        raise NotAllowed(_("Only a coordinator of this group's organisation reviews free-text answers."))


def _set_review(actor: User, response_id: str, item_code: str, review: str) -> Answer:
    answer = db.session.get(Answer, (response_id, item_code))
    if answer is None or not answer.text:
        raise DomainError(_("That free-text answer no longer exists."))
    feedback_round = db.session.get(FeedbackRound, answer.response.round_id)
    _check_reviewer(actor, feedback_round)
    before = answer.review
    answer.review = review
    db.session.flush()
    # The audit names the round and item, not the response: reviews must not link texts together.
    record_action(actor, f"free_text_{review}", feedback_round, item_code=item_code, before=before, after=review)
    return answer


def release_text(actor: User, response_id: str, item_code: str) -> Answer:
    """Release one free-text answer to the group's leaders.

    Raises NotAllowed unless the actor coordinates the group's organisation, DomainError when the
    answer does not exist or holds no text.
    """
    return _set_review(actor, response_id, item_code, RELEASED)


def withhold_text(actor: User, response_id: str, item_code: str) -> Answer:
    """Withhold one free-text answer (it could identify someone): leaders never see it.

    Raises NotAllowed unless the actor coordinates the group's organisation, DomainError when the
    answer does not exist or holds no text.
    """
    return _set_review(actor, response_id, item_code, WITHHELD)


def release_all_pending(actor: User, feedback_round: FeedbackRound) -> int:
    """Release every still-pending free-text answer of the round; returns how many. One audit entry.

    Raises NotAllowed unless the actor coordinates the group's organisation.
    """
    _check_reviewer(actor, feedback_round)
    pending = [a for a in _text_answers(feedback_round) if a.review == PENDING]
    for answer in pending:
        answer.review = RELEASED
    db.session.flush()
    record_action(actor, "free_text_released_all", feedback_round, count=len(pending),
                  item_codes=sorted({a.item_code for a in pending}))
    return len(pending)
