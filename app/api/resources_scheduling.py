"""API: a group's recurrence rule, generated meetings, the meeting list and leader assignment."""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.accounts import rules as eligibility
from app.accounts.models import User
from app.api import bp
from app.api.auth import api_auth, current_api_user
from app.errors import DomainError
from app.extensions import db
from app.permissions import get_group_or_403, get_meeting_or_403
from app.scheduling import rules
from app.scheduling import services as scheduling
from app.scheduling.services import FIRST_YEAR, LAST_YEAR
from app.timeutil import to_local

MAX_ID = 2_147_483_647

FIRST_DAY, LAST_DAY = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)


# --- fields and schemas ------------------------------------------------------------------------

def Id(**kw) -> fields.Integer:  # noqa: N802  (reads like a field class)
    """An id a database column can hold."""
    return fields.Integer(strict=True, validate=validate.Range(1, MAX_ID), **kw)


def Day(**kw) -> fields.Date:  # noqa: N802
    """A calendar date within the years the scheduling services accept."""
    return fields.Date(validate=validate.Range(FIRST_DAY, LAST_DAY), **kw)


class LocalDateTime(fields.DateTime):
    """A stored naive-UTC moment, written with the deployment's offset (ISO 8601)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(to_local(value) if value is not None else None, attr, obj, **kwargs)


class RuleSchema(Schema):
    """How the meetings repeat."""

    kind = fields.String(required=True, validate=validate.OneOf(rules.RULE_KINDS))
    weekday = fields.Integer(strict=True, required=True, validate=validate.Range(0, 6),
                             metadata={"description": "Monday=0 … Sunday=6"})
    weeks = fields.List(fields.Integer(strict=True, validate=validate.Range(-1, 5)), validate=validate.Length(max=6),
                        load_default=list, metadata={"description": "Weeks of the month (1–4, -1 for the last)"})
    start = Day(load_default=None, metadata={"description": "The first date of a biweekly series"})


class ScheduleSchema(Schema):
    """A recurrence rule and the period to generate meetings for."""

    rule = fields.Nested(RuleSchema, required=True)
    time = fields.Time(required=True, metadata={"description": "Local start time, HH:MM"})
    from_ = Day(required=True, data_key="from")
    until = Day(required=True)
    holidays = fields.String(load_default=rules.MOVE, validate=validate.OneOf(rules.HOLIDAY_POLICIES))

    @validates_schema
    def _period(self, data, **kwargs):
        if data["until"] < data["from_"]:
            raise ValidationError(_("The end of the period must not be before its start."), "until")
        if (data["until"] - data["from_"]).days > scheduling.MAX_PERIOD_DAYS:
            raise ValidationError(_("Generate at most three years at a time."), "until")


class LeaderSchema(Schema):
    user_id = fields.Integer()
    role = fields.String(metadata={"enum": ["lead", "co_lead"]})


PROBLEM_CODES = [
    rules.NO_LEAD, rules.HELD_WITHOUT_LEAD, rules.TOO_MANY_LEADS, rules.TOO_MANY_CO_LEADS, rules.SAME_PERSON_TWICE,
    rules.NO_LEADER_ROLE, eligibility.INACTIVE, eligibility.NO_VERIFIED_TRAINING,
    eligibility.TRAINING_NOT_YET_COMPLETED, eligibility.TRAINING_EXPIRED, eligibility.LEVEL_TOO_LOW,
    eligibility.TRAINEE_NEEDS_QUALIFIED_LEAD, eligibility.MEMBER_OF_GROUP, eligibility.OVERLAPPING_MEETING,
]


class MeetingProblemSchema(Schema):
    """One rule a scheduled or held meeting breaks, e.g. its lead's training expired before its date."""

    code = fields.String(required=True, metadata={"enum": PROBLEM_CODES, "description": (
        "no_lead: a scheduled meeting without a lead yet; held_without_lead; too_many_leads; too_many_co_leads; "
        "same_person_twice; for the leader named: inactive, no_verified_training, training_not_yet_completed, "
        "training_expired, level_too_low (not eligible on the meeting's local date), no_leader_role, "
        "trainee_needs_qualified_lead, member_of_group, overlapping_meeting")})
    role = fields.String(required=True, allow_none=True, metadata={
        "enum": ["lead", "co_lead", None], "description": "The role of the leader concerned (null: the meeting)"})
    user_id = fields.Integer(required=True, allow_none=True, metadata={"description": "The leader concerned"})
    message = fields.String(required=True, metadata={"description": "The problem in the reader's language"})


class MeetingSchema(Schema):
    """One meeting as the API shows it (never the leaders' private notes)."""

    id = fields.Integer()
    group_id = fields.Integer()
    starts_at = LocalDateTime()
    ends_at = LocalDateTime()
    status = fields.String(metadata={"enum": ["scheduled", "held", "cancelled"]})
    mode = fields.String()
    location = fields.String(allow_none=True)
    leaders = fields.List(fields.Nested(LeaderSchema))
    problems = fields.List(fields.Nested(MeetingProblemSchema), metadata={"description": (
        "The rules this meeting breaks now (empty: none; always empty when cancelled). A scheduled meeting may "
        "lack a lead (no_lead); changes to people (training records, roles, deactivation) are kept and flag the "
        "meetings they affect here instead of being refused.")})


class GeneratedSchema(Schema):
    meetings = fields.List(fields.Nested(MeetingSchema))


class AssignLeadersSchema(Schema):
    lead_id = Id(required=True)
    co_lead_id = Id(load_default=None, allow_none=True)


# --- helpers -----------------------------------------------------------------------------------

def meetings_out(meetings) -> list[dict]:
    """The meetings as MeetingSchema reads them, each with its problems (computed for all in a few queries)."""
    found = scheduling.problems_for(list(meetings))
    return [
        {
            "id": m.id, "group_id": m.group_id, "starts_at": m.starts_at, "ends_at": m.ends_at, "status": m.status,
            "mode": m.mode, "location": m.location,
            "leaders": [{"user_id": ml.user_id, "role": ml.role} for ml in m.leaders],
            "problems": [
                {"code": p.code, "role": p.role, "user_id": p.user_id, "message": text}
                for p, text in zip(found[m.id], scheduling.problem_messages(m, found[m.id]), strict=True)
            ],
        }
        for m in meetings
    ]


def load_person(user_id: int | None, field: str) -> User | None:
    """The user with this id (None for none); a DomainError on the field when there is no such person."""
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    if user is None:
        raise DomainError(_("Choose a person."), field=field)
    return user


# --- the resources -----------------------------------------------------------------------------

@bp.route("/groups/<int:group_id>/schedule", methods=["POST"])
@api_auth()
@bp.arguments(ScheduleSchema)
@bp.response(201, GeneratedSchema)
@bp.alt_response(403, description="Not one of the group's leaders or coordinators")
@bp.alt_response(404, description="No such group")
@bp.alt_response(422, description="The rule or the period is invalid")
def schedule_group(data, group_id):
    """Set the group's recurrence rule and generate its meetings for the period."""
    group = get_group_or_403(group_id, need="lead")
    rule = data["rule"]
    scheduling.save_schedule(
        current_api_user, group, kind=rule["kind"], weekday=rule["weekday"], weeks=rule["weeks"],
        start_on=rule["start"], start_time=data["time"].replace(second=0, microsecond=0, tzinfo=None),
        holiday_policy=data["holidays"],
    )
    generated = scheduling.generate_meetings(current_api_user, group, data["from_"], data["until"])
    out = {"meetings": meetings_out(generated.created)}
    db.session.commit()
    return out


@bp.route("/meetings/<int:meeting_id>/leaders", methods=["PUT"])
@api_auth()
@bp.arguments(AssignLeadersSchema)
@bp.response(200, MeetingSchema)
@bp.alt_response(403, description="Not one of the group's leaders or coordinators")
@bp.alt_response(404, description="No such meeting")
@bp.alt_response(409, description="A leader is booked into an overlapping meeting (rule overlapping_meeting), or "
                                   "the meeting is cancelled")
@bp.alt_response(422, description="A rule of leader eligibility is broken: the detail says which and `rule` names it "
                                   "(e.g. training_expired, member_of_group, trainee_needs_qualified_lead)")
def assign_meeting_leaders(data, meeting_id):
    """Make one person the meeting's lead and another (optionally) its co-lead."""
    meeting = get_meeting_or_403(meeting_id, need="lead")
    lead = load_person(data["lead_id"], "lead_id")
    co_lead = load_person(data["co_lead_id"], "co_lead_id")
    scheduling.assign_leaders(current_api_user, meeting, lead, co_lead)
    (out,) = meetings_out([meeting])
    db.session.commit()
    return out
