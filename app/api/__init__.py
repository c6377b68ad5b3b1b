"""The JSON API at /api/v1 over the same services as the pages; described by /api/v1/openapi.json.

How a resource is written (one module per feature, `resources_<feature>.py`, routes on this `bp`):

    from flask.views import MethodView
    from app.api import bp
    from app.api.auth import api_auth, current_api_user
    from app.api.pagination import PageArgsSchema, page_of, paginate

    @bp.route("/groups")
    class Groups(MethodView):
        @api_auth()                                         # 401 without a valid token
        @bp.arguments(PageArgsSchema, location="query")     # ?page=&per_page= (422 naming the field)
        @bp.response(200, page_of(GroupSchema))             # {items, page, per_page, total, pages}
        def get(self, page_args):
            return paginate(select(Group).order_by(Group.id), page_args)

        @api_auth("coordinator")                            # 403 without one of the roles
        @bp.arguments(GroupInSchema)
        @bp.response(201, GroupSchema)
        def post(self, data):
            group = services.create_group(current_api_user, **data)   # DomainError -> 422/403/409
            db.session.commit()                                        # one commit per request
            return group

- Authentication: `Authorization: Bearer <token>`; Flask-Login's request loader signs the request in,
  so `current_user`/`current_api_user` and app.permissions (get_group_or_403, coordinates_org, ...) work
  unchanged. Session cookies are ignored on /api paths.
- Errors: raise the domain errors (app.errors) or `abort(404)`; they become application/problem+json
  (app.api.errors.problem) with a translated `detail`, and a refusal names its `rule`.
  `return problem(409, _("..."))` answers directly.
- Put `@api_auth(...)` above flask-smorest's decorators. Name schemas uniquely across modules: the
  OpenAPI document names components after the schema class.
"""

from flask_smorest import Blueprint

from app.api.auth import limit_api
from app.api.errors import handle_errors

bp = limit_api(Blueprint(
    "api", __name__, url_prefix="/api/v1",
    description="The Balint Groups programme: people, groups, meetings, feedback and trends.",
))
handle_errors(bp)  # every error on /api as problem+json, refusals naming their rule

# The resources register their routes on `bp` when imported.
from app.api import (  # noqa: E402, F401
    resources_accounts,
    resources_board,
    resources_feedback,
    resources_meetings,
    resources_organisations,
    resources_people,
    resources_programme,
    resources_scheduling,
    resources_trends,
)
