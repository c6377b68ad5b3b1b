"""Marshmallow schemas of the accounts and programme resources (dates ISO 8601)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.accounts.models import LEVELS, PROFESSIONS, ROLES
from app.pagination import MAX_ID
from app.programme.models import MODES

ID = validate.Range(min=1, max=MAX_ID)


def _id(**kwargs) -> fields.Integer:
    return fields.Integer(strict=True, validate=ID, **kwargs)


class MeSchema(Schema):
    """The user the token belongs to, with the address of their private calendar feed."""

    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True)
    calendar_url = fields.String(required=True, metadata={"description": "The private iCalendar feed"})


class UserSchema(Schema):
    """A person as coordinators see them."""

    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    roles = fields.Method("_roles", required=True, metadata={"type": "array", "items": {"type": "string"}})
    profession = fields.String(allow_none=True, required=True)
    organisation_id = fields.Integer(allow_none=True, required=True)
    active = fields.Boolean(required=True)

    def _roles(self, user) -> list[str]:
        return sorted(user.roles)


class UserInSchema(Schema):
    """A new person: e-mail, name, roles; a programme-wide coordinator may choose the organisation."""

    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), load_default=list,
                        validate=validate.Length(max=len(ROLES)))
    profession = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(PROFESSIONS))
    department = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=200))
    organisation_id = _id(allow_none=True, load_default=None)


class CredentialSchema(Schema):
    """A leader-training record."""

    id = fields.Integer(required=True)
    user_id = fields.Integer(required=True)
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    kind = fields.String(required=True)
    issuer = fields.String(required=True)
    completed_on = fields.Date(required=True)
    valid_until = fields.Date(allow_none=True, required=True)
    verified = fields.Boolean(required=True)


class CredentialInSchema(Schema):
    """A new leader-training record; `verified: true` records that the coordinator has seen the certificate."""

    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    completed_on = fields.Date(required=True)
    valid_until = fields.Date(allow_none=True, load_default=None)
    issuer = fields.String(required=True, validate=validate.Length(min=1, max=200))
    verified = fields.Boolean(load_default=False)
    kind = fields.String(load_default="Balint-group leader training", validate=validate.Length(min=1, max=200))
    note = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=2000))


class GroupSchema(Schema):
    """A Balint group and the address of its calendar feed."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    organisation_id = fields.Integer(required=True)
    capacity = fields.Integer(required=True)
    mode = fields.String(required=True, validate=validate.OneOf(MODES))
    location = fields.String(allow_none=True, required=True)
    duration_minutes = fields.Integer(required=True)
    feedback_interval = fields.Integer(required=True)
    feedback_window_days = fields.Integer(required=True)
    status = fields.String(required=True)
    calendar_url = fields.String(required=True, metadata={"description": "The group's private iCalendar feed"})


class GroupInSchema(Schema):
    """A new group in an organisation (a coordinator of one organisation names theirs); left-out settings take
    the programme's defaults."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    organisation_id = _id(required=True)
    capacity = fields.Integer(strict=True, validate=validate.Range(min=1, max=100))
    mode = fields.String(validate=validate.OneOf(MODES))
    location = fields.String(allow_none=True, validate=validate.Length(max=300))
    duration_minutes = fields.Integer(strict=True, validate=validate.Range(min=15, max=480))
    feedback_interval = fields.Integer(strict=True, validate=validate.Range(min=1, max=50))
    feedback_window_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=120))
    description = fields.String(allow_none=True, validate=validate.Length(max=5000))


class MemberInSchema(Schema):
    """A person joining a group, from a date (today when left out)."""

    user_id = _id(required=True)
    joined_on = fields.Date(load_default=None, allow_none=True)


class MembershipSchema(Schema):
    """A membership of a group."""

    id = fields.Integer(required=True)
    group_id = fields.Integer(required=True)
    user_id = fields.Integer(required=True)
    joined_on = fields.Date(required=True)
    left_on = fields.Date(allow_none=True, required=True)
