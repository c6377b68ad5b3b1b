"""API: the signed-in user (/me), people (/users) and their leader-training records (/credentials)."""

from __future__ import annotations

from flask.views import MethodView
from flask_babel import gettext as _

from app.accounts import services
from app.api import bp
from app.api.auth import api_auth, current_api_user
from app.api.pagination import PageArgsSchema, page_of, paginate
from app.api.schemas import CredentialInSchema, CredentialSchema, MeSchema, UserInSchema, UserSchema
from app.errors import DomainError
from app.extensions import db
from app.permissions import get_user_or_403
from app.programme.models import Organisation
from app.sqlite import write_intent


@bp.route("/me")
class Me(MethodView):
    """The token's user."""

    @api_auth()
    @bp.response(200, MeSchema)
    def get(self):
        """Who the token belongs to, their roles and their private calendar address."""
        from app.scheduling.services.feeds import feed_url, personal_feed

        with write_intent():  # the feed is made on first use
            user = current_api_user._get_current_object()
            url = feed_url(personal_feed(user))
            db.session.commit()
        return {"id": user.id, "email": user.email, "name": user.name, "roles": sorted(user.roles),
                "calendar_url": url}


@bp.route("/users")
class Users(MethodView):
    """People, for coordinators (within their organisation when they coordinate one)."""

    @api_auth("coordinator")
    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, page_of(UserSchema))
    def get(self, page_args):
        """Everyone the coordinator may see, by name."""
        return paginate(services.people_query(scope_org_id=current_api_user.coordinator_scope), page_args)

    @api_auth("coordinator")
    @bp.arguments(UserInSchema)
    @bp.response(201, UserSchema)
    def post(self, data):
        """Create a person (no e-mail is sent: an invitation is sent from their page or they reset their password)."""
        scope = current_api_user.coordinator_scope
        organisation_id = scope if scope is not None else data["organisation_id"]
        if organisation_id is not None and db.session.get(Organisation, organisation_id) is None:
            raise DomainError(_("Choose an organisation."), field="organisation_id")
        user = services.create_user(
            current_api_user, email=data["email"], name=data["name"], roles=data["roles"],
            profession=data["profession"], department=data["department"], organisation_id=organisation_id,
            coordinator_org_id=scope,
        )
        db.session.commit()
        return user


@bp.route("/users/<int:user_id>/credentials")
class Credentials(MethodView):
    """A person's leader-training records."""

    @api_auth("coordinator")
    @bp.arguments(CredentialInSchema)
    @bp.response(201, CredentialSchema)
    def post(self, data, user_id):
        """Add a leader-training record, verified at once when `verified` is true."""
        person = get_user_or_403(user_id, need="manage")  # as on the people pages (404, then 403)
        record = services.add_training_record(current_api_user, person, **data)
        db.session.commit()
        return record

