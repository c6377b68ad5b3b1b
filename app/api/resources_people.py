"""API: the people import as a batch (/people/import): the rows of an HR spreadsheet as JSON, with a dry run.

The same service as the coordinators' page and `flask people import`: each row is applied on its own (a refused
row never blocks the others), people are matched by e-mail address, and sending the same rows again changes
nothing. A malformed body is refused whole (422); a row the rules refuse is an outcome in the 200 answer.
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from app.accounts.people_import import rules
from app.accounts.people_import import services as imports
from app.api import bp
from app.api.auth import api_auth, current_api_user
from app.extensions import db
from app.notifications.rules import CHANNELS
from app.permissions import get_user_or_403

_TEXT = {"allow_none": True, "load_default": ""}


class PeopleImportRowSchema(Schema):
    """One person as an HR spreadsheet row gives them. Only `name` and `email` are required; a field left out,
    null or empty leaves what is saved as it is."""

    name = fields.String(required=True, validate=validate.Length(max=rules.MAX_LENGTHS["name"]),
                         metadata={"description": "Full name; needed (not empty) for a new person."})
    email = fields.String(required=True, validate=validate.Length(max=rules.MAX_LENGTHS["email"]),
                          metadata={"description": "E-mail address: how the import recognises a person. A row "
                                                   "with an invalid address is refused, not the request."})
    staff_number = fields.String(**_TEXT, validate=validate.Length(max=rules.MAX_LENGTHS["staff_number"]),
                                 metadata={"description": "Staff number (工号) in the person's organisation."})
    organisation = fields.String(**_TEXT, validate=validate.Length(max=rules.MAX_LENGTHS["organisation"]),
                                 metadata={"description": "The organisation's name as the app lists it."})
    department = fields.String(**_TEXT, validate=validate.Length(max=rules.MAX_LENGTHS["department"]))
    profession = fields.String(**_TEXT, validate=validate.Length(max=rules.MAX_LENGTHS["profession"]),
                               metadata={"description": "physician, nurse, psychologist or other, or a word for "
                                                        "them in English or Chinese (医生, 护士, 心理治疗师, 其他)."})
    roles = fields.List(fields.String(validate=validate.Length(max=rules.MAX_LENGTHS["roles"])), allow_none=True,
                        load_default=list, validate=validate.Length(max=rules.MAX_LIST_ITEMS),
                        metadata={"description": "Roles to add: member, leader (成员, 组长). Never removed."})
    groups = fields.List(fields.String(validate=validate.Length(max=rules.MAX_LENGTHS["groups"])), allow_none=True,
                         load_default=list, validate=validate.Length(max=rules.MAX_LIST_ITEMS),
                         metadata={"description": "Names of groups to join (in the person's organisation)."})
    joined_on = fields.Date(allow_none=True, load_default=None,
                            metadata={"description": "The day they join the groups; today when left out."})
    wecom_userid = fields.String(**_TEXT, validate=validate.Length(max=rules.MAX_LENGTHS["wecom_userid"]),
                                 metadata={"description": "The person's WeCom (企业微信) userid; lets them choose "
                                                          "WeCom messages. One person per id."})
    dingtalk_userid = fields.String(**_TEXT, validate=validate.Length(max=rules.MAX_LENGTHS["dingtalk_userid"]),
                                    metadata={"description": "The person's DingTalk (钉钉) userid; lets them "
                                                             "choose DingTalk messages. One person per id."})


class PeopleImportSchema(Schema):
    """A batch of people to import; `dry_run: true` says what would happen and saves nothing."""

    rows = fields.List(fields.Nested(PeopleImportRowSchema), required=True,
                       validate=validate.Length(min=1, max=rules.MAX_ROWS))
    dry_run = fields.Boolean(load_default=False)


class PeopleImportRowResultSchema(Schema):
    """What happened to one row (numbered from 1 in the order sent)."""

    row = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    organisation = fields.String(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(imports.OUTCOMES))
    details = fields.List(fields.String(), required=True,
                          metadata={"description": "The changes made, or the reasons for a refusal, translated."})
    user_id = fields.Integer(allow_none=True, required=True)


class PeopleImportResultSchema(Schema):
    """Every row's outcome and the totals; with dry_run nothing was saved."""

    dry_run = fields.Boolean(required=True)
    new = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    refused = fields.Integer(required=True)
    memberships = fields.Integer(required=True)
    invitations = fields.Integer(required=True)
    rows = fields.List(fields.Nested(PeopleImportRowResultSchema), required=True)


def _source_row(line: int, item: dict) -> imports.SourceRow:
    joined_on = item.get("joined_on")
    return imports.SourceRow(
        line=line, name=item.get("name") or "", email=item.get("email") or "",
        staff_number=item.get("staff_number") or "", organisation=item.get("organisation") or "",
        department=item.get("department") or "", profession=item.get("profession") or "",
        roles=list(item.get("roles") or []), groups=list(item.get("groups") or []),
        joined_on=joined_on.isoformat() if joined_on else "",
        wecom_userid=item.get("wecom_userid") or "", dingtalk_userid=item.get("dingtalk_userid") or "",
    )


@bp.route("/people/import")
class PeopleImport(MethodView):
    """Import people and their group memberships in one batch."""

    @api_auth("coordinator")
    @bp.arguments(PeopleImportSchema)
    @bp.response(200, PeopleImportResultSchema)
    def post(self, data):
        """Import people (new, updated, unchanged or refused, row by row); a coordinator of one organisation
        imports into it only. New people are sent an invitation by the notification outbox."""
        rows = [_source_row(number, item) for number, item in enumerate(data["rows"], start=1)]
        result = imports.import_people(current_api_user._get_current_object(), rows, dry_run=data["dry_run"],
                                       source={"via": "api"})
        if data["dry_run"]:
            db.session.rollback()
        else:
            db.session.commit()
        return {
            "dry_run": result.dry_run, **result.counts, "memberships": result.memberships,
            "invitations": result.invitations,
            "rows": [{"row": r.line, "email": r.email, "name": r.name, "organisation": r.organisation,
                      "outcome": r.outcome, "details": r.details, "user_id": r.user_id} for r in result.rows],
        }


class ChannelsSchema(Schema):
    """Where a person gets messages: platform user ids, their chosen channels (null: the programme's default),
    and the channels a meeting reminder goes to now (read only)."""

    wecom_userid = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=64))
    dingtalk_userid = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=64))
    channels = fields.List(fields.String(validate=validate.OneOf(CHANNELS)), allow_none=True, load_default=None,
                           validate=validate.Length(min=1, max=len(CHANNELS)))
    effective = fields.List(fields.String(), dump_only=True)


def _channels(person) -> dict:
    from app.notifications.services import channels_of

    return {"wecom_userid": person.wecom_userid, "dingtalk_userid": person.dingtalk_userid,
            "channels": person.channels.split(",") if person.channels is not None else None,
            "effective": list(channels_of(person, "meeting_reminder"))}


@bp.route("/people/<int:user_id>/channels")
class PersonChannels(MethodView):
    """A person's message channels: e-mail, WeCom app messages, DingTalk work notifications."""

    @api_auth("coordinator")
    @bp.response(200, ChannelsSchema)
    def get(self, user_id):
        """The person's platform user ids, chosen channels and the channels a reminder goes to now."""
        return _channels(get_user_or_403(user_id))

    @api_auth("coordinator")
    @bp.arguments(ChannelsSchema)
    @bp.response(200, ChannelsSchema)
    def put(self, data, user_id):
        """Set the ids and channels (all three fields; `channels: null` follows the programme's default). A chat
        channel needs the person's id on it and must be on in the programme (422 otherwise)."""
        from app.notifications.services import set_channels

        person = get_user_or_403(user_id, need="manage")
        set_channels(current_api_user._get_current_object(), person, data["wecom_userid"], data["dingtalk_userid"],
                     data["channels"])
        db.session.commit()
        return _channels(person)
