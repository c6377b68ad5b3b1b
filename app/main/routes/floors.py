"""Two floor endpoints for `make bench`, registered only when BENCH_ENDPOINTS is true (never by default).

The benchmark compares every page with what the framework costs on its own (`/_floor/framework`: a
constant answer, no database) and with what a signed-in request costs (`/_floor/auth`: the session's
user loaded, nothing else), on the same server in the same run.
"""

from flask_login import current_user

from app.main import floors_bp as bp
from app.permissions import public, roles_required


@bp.route("/framework")
@public
def framework():
    """A constant answer: what the framework costs on its own."""
    return "ok"


@bp.route("/auth")
@roles_required()
def auth():
    """The signed-in user's id: what loading the session's user costs."""
    return str(current_user.id)
