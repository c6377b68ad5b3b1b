"""Main: home pages per role, the language switch, health check, the System page and error pages.

Views in routes/ (one module per page family), read-only summaries in queries.py, the error handlers of every
page (and what every error surface shares) in errors.py.
"""

from flask import Blueprint

bp = Blueprint("main", __name__)
#: The benchmark's floor endpoints (/_floor/...), registered on the app only when BENCH_ENDPOINTS is true.
floors_bp = Blueprint("floors", __name__, url_prefix="/_floor")

from app.main.routes import deliveries, floors, home, system  # noqa: E402,F401
