"""API: a group's feedback rounds, a round's questionnaire, and a member's anonymous response."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from flask_babel import get_locale
from marshmallow import Schema, fields, validate

from app.api import bp
from app.api.auth import api_auth, current_api_user
from app.api.errors import problem
from app.api.resources_scheduling import LocalDateTime
from app.extensions import db
from app.feedback import rules as feedback_rules
from app.feedback import scoring
from app.feedback.models import Completion, FeedbackRound
from app.feedback.services import responses
from app.feedback.services import rounds as feedback
from app.permissions import get_group_or_403, get_round_or_403
from app.timeutil import utcnow

MAX_ANSWERS = 200


class RoundSchema(Schema):
    """A feedback round as its group's leaders and coordinators see it."""

    id = fields.Integer()
    number = fields.Integer()
    status = fields.String(metadata={"enum": ["open", "closed"]})
    mode = fields.String()
    opens_at = LocalDateTime()
    closes_at = LocalDateTime()
    meeting_ids = fields.List(fields.Integer())
    eligible_count = fields.Integer()
    response_count = fields.Integer()


class ChoiceSchema(Schema):
    value = fields.String()
    label = fields.String()


class ItemSchema(Schema):
    code = fields.String()
    type = fields.String()
    text = fields.String()
    required = fields.Boolean()
    min = fields.Integer(allow_none=True)
    max = fields.Integer(allow_none=True)
    subscale = fields.String(allow_none=True)
    reverse = fields.Boolean()
    choices = fields.List(fields.Nested(ChoiceSchema))


class SubscaleSchema(Schema):
    code = fields.String()
    title = fields.String()
    items = fields.List(fields.String())


class InstrumentSchema(Schema):
    code = fields.String()
    version = fields.Integer()
    title = fields.String()
    items = fields.List(fields.Nested(ItemSchema))
    subscales = fields.List(fields.Nested(SubscaleSchema))
    self_generated_code = fields.Boolean(metadata={
        "description": "Whether this version asks for a self-generated code (see `code` when submitting)"})
    code_key = fields.String(allow_none=True, metadata={
        "description": "The programme key a client builds the code with: hex HMAC-SHA256(key, facts joined by "
                       "U+001F), each fact NFKC-normalised, spaces removed, lower-cased (the day as a number)"})


class RoundDetailSchema(RoundSchema):
    instrument = fields.Nested(InstrumentSchema, allow_none=True)
    responded = fields.Boolean(metadata={"description": "Whether the caller has submitted this round"})


class AnswersSchema(Schema):
    answers = fields.Dict(keys=fields.String(validate=validate.Length(1, 60)), values=fields.Raw(allow_none=True),
                          required=True, validate=validate.Length(max=MAX_ANSWERS))
    code = fields.String(allow_none=True, load_default=None, validate=validate.Regexp(r"^[0-9a-fA-F]{64}$"),
                         metadata={"description": "The respondent's self-generated code (64 hex digits), stored "
                                                  "with the answers when the instrument version asks for one"})


class SubmittedSchema(Schema):
    round_id = fields.Integer()
    submitted = fields.Boolean()
    concerns = fields.List(fields.String(), metadata={"description": "Concern bands, for the respondent alone"})


# --- helpers -----------------------------------------------------------------------------------

def round_data(feedback_round: FeedbackRound, now) -> dict:
    """The fields RoundSchema writes (the status as of now, even before the stored one catches up)."""
    completions = db.session.scalar(
        sa.select(sa.func.count()).select_from(Completion).where(Completion.round_id == feedback_round.id)
    )
    return {
        "id": feedback_round.id, "number": feedback_round.number, "mode": feedback_round.mode,
        "status": "open" if feedback_round.is_open(now) else "closed",
        "opens_at": feedback_round.opens_at, "closes_at": feedback_round.closes_at,
        "meeting_ids": feedback_round.meeting_ids, "eligible_count": feedback.eligible_count(feedback_round),
        "response_count": completions,
    }


def instrument_data(feedback_round: FeedbackRound) -> dict | None:
    """The round's questionnaire in the reader's language, or None (an interview round, or none set up)."""
    instrument = responses.round_instrument(feedback_round)
    if feedback_round.mode != "questionnaire" or instrument is None:
        return None
    definition = scoring.definition_from_dict(instrument.definition)
    locale = str(get_locale())
    return {
        "code": definition.code, "version": definition.version,
        "title": scoring.localised(definition.title, locale),
        "items": [
            {"code": i.code, "type": i.type, "text": scoring.localised(i.text, locale), "required": i.required,
             "min": i.min, "max": i.max, "subscale": i.subscale, "reverse": i.reverse,
             "choices": [{"value": c.value, "label": scoring.localised(c.label, locale)} for c in i.choices]}
            for i in definition.items
        ],
        "subscales": [
            {"code": s.code, "title": scoring.localised(s.title, locale), "items": list(s.items)}
            for s in definition.subscales
        ],
        "self_generated_code": definition.self_generated_code,
        "code_key": feedback_rules.code_key(current_app.config.get("RESPONSE_CODE_KEY"),
                                            current_app.config["SECRET_KEY"])
        if definition.self_generated_code else None,
    }


@bp.errorhandler(responses.InvalidAnswers)
def invalid_answers(exc: responses.InvalidAnswers):
    """An answer set that cannot be submitted: 422, each item named with its problem (nothing is kept)."""
    db.session.rollback()
    return problem(422, exc.message, errors={"json": {"answers": {
        code: [responses.problem_message(p)] for code, p in exc.problems.items()}}})


# --- the resources -----------------------------------------------------------------------------

@bp.route("/groups/<int:group_id>/feedback-rounds", methods=["GET"])
@api_auth()
@bp.response(200, RoundSchema(many=True))
@bp.alt_response(403, description="Not one of the group's leaders or coordinators")
@bp.alt_response(404, description="No such group")
def list_rounds(group_id):
    """The group's feedback rounds, latest first (its leaders and coordinators)."""
    group = get_group_or_403(group_id, need="lead")
    now = utcnow()
    found = db.session.scalars(
        sa.select(FeedbackRound).where(FeedbackRound.group_id == group.id).order_by(FeedbackRound.number.desc())
    )
    return [round_data(r, now) for r in found]


@bp.route("/feedback-rounds/<int:round_id>", methods=["GET"])
@api_auth()
@bp.response(200, RoundDetailSchema)
@bp.alt_response(403, description="Neither an eligible member nor a leader or coordinator of the group")
@bp.alt_response(404, description="No such round")
def get_round(round_id):
    """One round with the questionnaire it asks."""
    feedback_round = get_round_or_403(round_id, need="view")
    user = current_api_user
    data = round_data(feedback_round, utcnow())
    data["instrument"] = instrument_data(feedback_round)
    data["responded"] = feedback.has_responded(feedback_round, user)
    return data


@bp.route("/feedback-rounds/<int:round_id>/responses", methods=["POST"])
@api_auth()
@bp.arguments(AnswersSchema)
@bp.response(201, SubmittedSchema)
@bp.alt_response(403, description="Not an eligible member of the round")
@bp.alt_response(404, description="No such round")
@bp.alt_response(409, description="Already submitted, or the round is closed")
@bp.alt_response(422, description="The answers are incomplete or invalid (each item's problem named)")
def submit_response(data, round_id):
    """Submit the caller's answers, once; stored with no link to who answered."""
    feedback_round = get_round_or_403(round_id, need="answer")
    # Refusals answer as problem+json: invalid answers by invalid_answers above, the others by the API's handler.
    submitted = responses.submit_response(current_api_user, feedback_round, data["answers"], utcnow(),
                                          code=data.get("code"))
    db.session.commit()
    locale = str(get_locale())
    return {"round_id": feedback_round.id, "submitted": True,
            "concerns": [scoring.localised(band.label, locale) for band in submitted.concerns]}
