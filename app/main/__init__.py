"""Main: home pages per role, the language switch, health check and error pages."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from app.main import routes, system  # noqa: E402,F401
