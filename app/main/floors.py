"""Two floor endpoints for `make bench`, registered only when BENCH_ENDPOINTS is true (never by default).

The benchmark compares every page with what the framework costs on its own (`/_floor/framework`: a
constant answer, no database) and with what a signed-in request costs (`/_floor/auth`: the session's
user loaded, nothing else), on the same server in the same run.
"""

from flask import Blueprint
from flask_login import current_user

from app.permissions import public, roles_required

bp = Blueprint("floors", __name__, url_prefix="/_floor")


@bp.route("/framework")
@public
def framework():
    return "ok"


@bp.route("/auth")
@roles_required()
def auth():
    return str(current_user.id)
