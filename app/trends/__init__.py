"""Trends: group and programme trends, early warnings, exports and the printable programme report.

Views in routes/, read-only aggregates in group_queries.py, programme_queries.py and export_queries.py (and the
early warnings in warnings.py), pure statistics in rules.py, export files in files.py, charts in charts.py.
"""

from flask import Blueprint

bp = Blueprint("trends", __name__)

from app.trends.routes import board, exports, group, programme, report  # noqa: E402,F401
