"""API: organisations (/organisations), so the union programme's system can provision a programme by itself."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from app.api import bp
from app.api.auth import api_auth, current_api_user
from app.api.pagination import PageArgsSchema, page_of, paginate
from app.extensions import db
from app.permissions import get_organisation_or_403, visible_organisations
from app.programme import services
from app.programme.models import ORG_KINDS

_KIND = {"description": "hospital, department or other", "enum": list(ORG_KINDS)}


class OrganisationSchema(Schema):
    """An organisation taking part in the programme."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ORG_KINDS), metadata=_KIND)
    active = fields.Boolean(required=True)


class OrganisationInSchema(Schema):
    """A new organisation: only `name` is required (`kind` defaults to hospital)."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(load_default="hospital", validate=validate.OneOf(ORG_KINDS), metadata=_KIND)


class OrganisationPatchSchema(Schema):
    """Changes to an organisation; every field is optional and left-out fields keep their value."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    kind = fields.String(validate=validate.OneOf(ORG_KINDS), metadata=_KIND)
    active = fields.Boolean()


@bp.route("/organisations")
class Organisations(MethodView):
    """The programme's organisations."""

    @api_auth("coordinator")
    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, page_of(OrganisationSchema))
    @bp.alt_response(403, description="Not a coordinator")
    def get(self, page_args):
        """Programme-wide coordinators: every organisation; a coordinator of one organisation: that one."""
        return paginate(visible_organisations(current_api_user), page_args)

    @api_auth("coordinator")
    @bp.arguments(OrganisationInSchema)
    @bp.response(201, OrganisationSchema)
    @bp.alt_response(403, description="A coordinator of one organisation creates none")
    @bp.alt_response(409, description="An organisation with this name exists")
    def post(self, data):
        """Create an organisation (programme-wide coordinators)."""
        organisation = services.create_organisation(current_api_user, name=data["name"], kind=data["kind"])
        db.session.commit()
        return organisation


@bp.route("/organisations/<int:organisation_id>")
class OrganisationItem(MethodView):
    """One organisation."""

    @api_auth("coordinator")
    @bp.response(200, OrganisationSchema)
    @bp.alt_response(403, description="Outside the coordinator's organisation")
    @bp.alt_response(404, description="No such organisation")
    def get(self, organisation_id):
        """An organisation the coordinator coordinates."""
        return get_organisation_or_403(organisation_id)

    @api_auth("coordinator")
    @bp.arguments(OrganisationPatchSchema)
    @bp.response(200, OrganisationSchema)
    @bp.alt_response(403, description="Outside the coordinator's organisation, or (de)activating as a scoped one")
    @bp.alt_response(404, description="No such organisation")
    @bp.alt_response(409, description="Another organisation has this name")
    def patch(self, data, organisation_id):
        """Rename, re-kind, deactivate or reactivate an organisation."""
        organisation = get_organisation_or_403(organisation_id)
        if "name" in data or "kind" in data:
            services.update_organisation(current_api_user, organisation, name=data.get("name", organisation.name),
                                         kind=data.get("kind", organisation.kind))
        if "active" in data:
            services.set_organisation_active(current_api_user, organisation, data["active"])
        db.session.commit()
        return organisation
