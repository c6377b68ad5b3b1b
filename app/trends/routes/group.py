"""Trends pages (group): a group's feedback, participation and attendance round by round."""

from __future__ import annotations

import json

import plotly
from flask import Response, current_app, jsonify, render_template, request
from flask_babel import get_locale, gettext

from app.feedback.templating import reason_labels
from app.i18n import format_2dp, format_day, format_pct
from app.permissions import get_group_or_403, public, roles_required
from app.timeutil import local_date
from app.trends import bp, charts, fragments, group_queries

# Plotly.js changes only with the installed wheel: the URL carries its version, so it can be cached for a year.
PLOTLY_CACHE = "public, max-age=31536000, immutable"

_number = format_2dp


_percent = format_pct


#: Without `period=all`, the page and its chart data show the group's last DEFAULT_ROUNDS rounds.
DEFAULT_ROUNDS = 10
ALL = "all"


def _period() -> str | None:
    """`all`, or None for the default (the last DEFAULT_ROUNDS rounds); any other value is the default."""
    return ALL if request.args.get("period") == ALL else None


def _trend(group):
    source = request.args.get("source", "all")
    if source not in group_queries.SOURCES:
        source = "all"
    return group_queries.group_trend(
        group, k=current_app.config["MIN_RESPONSES"], sources=source,
        items=request.args.get("items") == "1", locale=str(get_locale()),
        last=None if _period() == ALL else DEFAULT_ROUNDS,
    )


def _row_texts(trend) -> tuple[dict, list]:
    """Each round's and held meeting's printed figures, formatted once (every subscale table repeats them)."""
    of_eligible = gettext("%(n)s of %(eligible)s")
    of_expected = gettext("%(present)s of %(expected)s")
    rounds = {
        r.number: {
            "opened": format_day(local_date(r.opens_at)),
            "responses": of_eligible % {"n": r.responses, "eligible": r.eligible},
            "participation": format_pct(r.participation),
            "present": of_expected % {"present": r.present, "expected": r.expected},
            "attendance_rate": format_pct(r.attendance_rate),
        }
        for r in trend.rounds
    }
    meetings = [
        (format_day(local_date(m.started_at)), m.round_number or "—",
         of_expected % {"present": m.present, "expected": m.expected}, format_pct(m.rate))
        for m in trend.meetings
    ]
    return rounds, meetings


@bp.route("/groups/<int:group_id>/trends", endpoint="group")
@roles_required("leader", "coordinator")
def group_trends(group_id):
    """A group's trends for its leaders and coordinators: chart and table of every round."""
    group = get_group_or_403(group_id, need="lead")
    trend = _trend(group)
    round_texts, meeting_rows = _row_texts(trend)
    return render_template("trends/group.html", group=group, trend=trend, round_texts=round_texts,
                           meeting_rows=meeting_rows, reasons=reason_labels(trend.k), period=_period(),
                           default_rounds=DEFAULT_ROUNDS,
                           chart_json=json.dumps(group_queries.chart_data(trend)),
                           plotly_version=plotly.__version__, number=_number, percent=_percent,
                           figure_cells=fragments.figure_cells)


@bp.route("/groups/<int:group_id>/trends.json", endpoint="group_data")
@roles_required("leader", "coordinator")
def group_trends_data(group_id):
    """The same trends as JSON, for the chart."""
    group = get_group_or_403(group_id, need="lead")
    return jsonify(group_queries.chart_data(_trend(group)))


@bp.route("/vendor/plotly.min.js", endpoint="plotly_js")
@public
def plotly_js():
    """plotly.js served by the app itself (no CDN: the page works with no internet)."""
    response = Response(charts.plotly_js(), mimetype="application/javascript")
    response.headers["Cache-Control"] = PLOTLY_CACHE
    return response
