"""Trends: group and programme trends, early warnings, exports and the printable programme report."""

from flask import Blueprint

bp = Blueprint("trends", __name__)

from app.trends import exports, group_routes, programme_routes  # noqa: E402,F401
