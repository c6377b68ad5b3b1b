"""API: a group's recurrence rule, generated meetings, the meeting list and leader assignment."""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.accounts.models import User
from app.api import bp
from app.api.auth import api_auth, current_api_user
from app.errors import DomainError
from app.extensions import db
from app.permissions import get_group_or_403, get_or_404
from app.scheduling import rules
from app.scheduling import services as scheduling
from app.scheduling.models import Meeting
from app.scheduling.services import FIRST_YEAR, LAST_YEAR, to_local

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


class GeneratedSchema(Schema):
    meetings = fields.List(fields.Nested(MeetingSchema))


class AssignLeadersSchema(Schema):
    lead_id = Id(required=True)
    co_lead_id = Id(load_default=None, allow_none=True)


# --- helpers -----------------------------------------------------------------------------------

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
    db.session.commit()
    return {"meetings": generated.created}


@bp.route("/meetings/<int:meeting_id>/leaders", methods=["PUT"])
@api_auth()
@bp.arguments(AssignLeadersSchema)
@bp.response(200, MeetingSchema)
@bp.alt_response(403, description="Not one of the group's leaders or coordinators")
@bp.alt_response(404, description="No such meeting")
@bp.alt_response(409, description="A leader is booked into an overlapping meeting, or the meeting is cancelled")
@bp.alt_response(422, description="A rule of leader eligibility is broken (the detail names it)")
def assign_meeting_leaders(data, meeting_id):
    """Make one person the meeting's lead and another (optionally) its co-lead."""
    meeting = get_or_404(Meeting, meeting_id)
    scheduling.check_can_schedule(current_api_user, meeting.group)
    lead = load_person(data["lead_id"], "lead_id")
    co_lead = load_person(data["co_lead_id"], "co_lead_id")
    scheduling.assign_leaders(current_api_user, meeting, lead, co_lead)
    db.session.commit()
    return meeting
