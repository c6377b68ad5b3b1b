"""API authentication: a bearer token signs the request in as its user, with that user's roles and nothing more.

`load_user_from_bearer` is Flask-Login's request loader, so `flask_login.current_user` (and with it every
helper of app.permissions) works unchanged inside API views. API requests ignore session cookies.
`api_auth(*roles)` guards a resource and marks its OpenAPI operation with the bearer security scheme.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from copy import deepcopy
from functools import wraps

from flask import abort, current_app, request
from flask_limiter.util import get_remote_address
from flask_login import current_user

from app.extensions import db, limiter

API_PREFIX = "/api/"
SECURITY = [{"bearerAuth": []}]

#: The signed-in user of an API request (Flask-Login's current_user, loaded from the bearer token).
current_api_user = current_user


def is_api_request() -> bool:
    """True for requests to the JSON API: they authenticate by bearer token only."""
    return request.path.startswith(API_PREFIX)


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def load_user_from_bearer(req):
    """Flask-Login request loader: the token's active user on /api paths, else nobody.

    The use is noted (at most once a minute) in a short transaction of its own, committed here, so that
    a request that only reads still records it.
    """
    from app.api.services import user_for_token
    from app.sqlite import write_intent

    if not is_api_request():
        return None
    token = bearer_token()
    if token is None:
        return None
    with write_intent():
        user = user_for_token(token)
        db.session.commit()
    return user


def api_auth(*roles: str) -> Callable[[Callable], Callable]:
    """Let in only requests with a valid token (401) whose user holds one of the roles (403); any user when none.

    Put it above flask-smorest's decorators, so authentication comes before input validation:

        @bp.route("/groups")
        class Groups(MethodView):
            @api_auth("coordinator")
            @bp.arguments(GroupInSchema)
            @bp.response(201, GroupSchema)
            def post(self, data): ...

    The OpenAPI operation gets the bearer security requirement and the 401 (and, with roles, 403) answers.
    Object-level checks stay with app.permissions (get_group_or_403(...)), which read current_user.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                abort(401)
            if roles and not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.api_roles = frozenset(roles)
        wrapped._apidoc = deepcopy(getattr(view, "_apidoc", {}))
        wrapped._apidoc.setdefault("manual_doc", {})["security"] = SECURITY
        responses = wrapped._apidoc.setdefault("response", {}).setdefault("responses", {})
        responses.setdefault(401, []).append("UNAUTHORIZED")
        responses.setdefault(403, []).append("FORBIDDEN")  # object-level refusals too, so always documented
        responses.setdefault(429, []).append("TOO_MANY_REQUESTS")  # limit_api
        return wrapped

    return decorator


def _token_or_address_key() -> str:
    """Requests are counted per token (its hash, never the token), or per address when none is sent."""
    token = bearer_token()
    if token is None:
        return "api-address:" + get_remote_address()
    return "api-token:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def _bad_token_key() -> str:
    return "api-bad-token:" + get_remote_address()


def _refused_token(response) -> bool:
    return response.status_code == 401


def limit_api(blueprint):
    """Rate limits on every API route: API_LIMIT_PER_TOKEN per token, API_BAD_TOKEN_LIMIT refused tokens per address.

    Over a limit the answer is 429 (problem+json with Retry-After); an address that keeps sending unknown
    tokens is refused even with a good one until its window passes.
    """
    limiter.limit(lambda: current_app.config["API_LIMIT_PER_TOKEN"], key_func=_token_or_address_key)(blueprint)
    limiter.limit(lambda: current_app.config["API_BAD_TOKEN_LIMIT"], key_func=_bad_token_key,
                  deduct_when=_refused_token)(blueprint)
    return blueprint
