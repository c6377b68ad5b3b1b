"""API: a group's meetings, and recording a meeting as held or cancelled."""

from __future__ import annotations

from datetime import time, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.api import bp
from app.api.auth import api_auth, current_api_user
from app.api.pagination import PageArgsSchema, page_of, paginate
from app.api.resources_scheduling import Day, Id, MeetingSchema, meetings_out
from app.errors import DomainError
from app.extensions import db
from app.meetings import services
from app.meetings.models import ATTENDANCE, Theme
from app.permissions import get_group_or_403, get_meeting_or_403
from app.scheduling.models import Meeting
from app.timeutil import to_utc, utcnow

MODES = ("onsite", "online", "hybrid")
_MIDNIGHT = time(0, 0)


class MeetingQuerySchema(PageArgsSchema):
    """Local dates (both included) and the page."""

    from_ = Day(data_key="from", load_default=None)
    until = Day(load_default=None)


class AttendanceSchema(Schema):
    user_id = Id(required=True)
    status = fields.String(required=True, validate=validate.OneOf(ATTENDANCE))


class RecordSchema(Schema):
    """What happened at a meeting."""

    status = fields.String(required=True, validate=validate.OneOf(("held", "cancelled")))
    attendance = fields.List(fields.Nested(AttendanceSchema), load_default=list, validate=validate.Length(max=500))
    presenter_id = Id(load_default=None, allow_none=True)
    mode = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(MODES))
    duration_minutes = fields.Integer(strict=True, load_default=None, allow_none=True,
                                      validate=validate.Range(5, 600))
    themes = fields.List(fields.String(validate=validate.Length(1, 40)), load_default=list,
                         validate=validate.Length(max=50), metadata={"description": "Theme codes"})
    summary = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=services.SUMMARY_MAX))
    cancel_reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))

    @validates_schema
    def _each_person_once(self, data, **kwargs):
        ids = [a["user_id"] for a in data.get("attendance", [])]
        if len(ids) != len(set(ids)):
            raise ValidationError("Give each person's attendance once.", "attendance")


class OpenedRoundSchema(Schema):
    id = fields.Integer()
    number = fields.Integer()


class RecordedSchema(Schema):
    meeting = fields.Nested(MeetingSchema)
    opened_round = fields.Nested(OpenedRoundSchema, allow_none=True)


def _theme_ids(codes: list[str]) -> list[int]:
    """The ids of the theme codes; 422 naming the unknown ones."""
    if not codes:
        return []
    if db.session.query(Theme.id).first() is None:
        services.ensure_default_themes()
    found = dict(db.session.execute(sa.select(Theme.code, Theme.id).where(Theme.code.in_(set(codes)))).all())
    unknown = sorted(set(codes) - set(found))
    if unknown:
        raise DomainError(_("Choose themes from the list: %(codes)s is not on it.", codes=", ".join(unknown)),
                          field="themes")
    return [found[c] for c in dict.fromkeys(codes)]


@bp.route("/groups/<int:group_id>/meetings", methods=["GET"])
@api_auth()
@bp.arguments(MeetingQuerySchema, location="query")
@bp.response(200, page_of(MeetingSchema))
@bp.alt_response(403, description="Not a member, leader or coordinator of the group")
@bp.alt_response(404, description="No such group")
def list_meetings(args, group_id):
    """The group's meetings in time order, optionally between two local dates.

    Each meeting carries `problems`: the rules it breaks now, e.g. a lead whose training expired before its
    date after the training record changed (flagged, not refused), or no lead yet.
    """
    group = get_group_or_403(group_id, need="view")
    query = sa.select(Meeting).where(Meeting.group_id == group.id).order_by(Meeting.starts_at, Meeting.id)
    if args["from_"] is not None:
        query = query.where(Meeting.starts_at >= to_utc(args["from_"], _MIDNIGHT))
    if args["until"] is not None:
        query = query.where(Meeting.starts_at < to_utc(args["until"] + timedelta(days=1), _MIDNIGHT))
    page = paginate(query, args)
    page["items"] = meetings_out(page["items"])
    return page


@bp.route("/meetings/<int:meeting_id>/record", methods=["POST"])
@api_auth()
@bp.arguments(RecordSchema)
@bp.response(200, RecordedSchema)
@bp.alt_response(403, description="Not a leader of the meeting or a coordinator")
@bp.alt_response(404, description="No such meeting")
@bp.alt_response(409, description="Recorded as held before its start time, or a leader is booked into another "
                                   "meeting at that time (rule overlapping_meeting)")
@bp.alt_response(422, description="Invalid record, e.g. a summary or cancel reason holding patient identifiers, or "
                                   "held without an eligible lead on its date (`rule`: held_without_lead, "
                                   "training_expired, ...)")
def record_meeting(data, meeting_id):
    """Record a meeting as held (attendance, presenter, themes, summary) or cancelled, or correct its record."""
    meeting = get_meeting_or_403(meeting_id, need="lead")
    result = services.record_meeting(
        current_api_user, meeting, status=data["status"], now=utcnow(),
        attendance={a["user_id"]: a["status"] for a in data["attendance"]}, presenter_id=data["presenter_id"],
        mode=data["mode"], duration_minutes=data["duration_minutes"], theme_ids=_theme_ids(data["themes"]),
        summary=data["summary"], cancel_reason=data["cancel_reason"],
    )
    opened = result.opened_rounds[0] if result.opened_rounds else None
    out = {"meeting": meetings_out([meeting])[0],
           "opened_round": {"id": opened.id, "number": opened.number} if opened else None}
    db.session.commit()
    return out
