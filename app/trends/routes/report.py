"""Trends pages (report): the printable quarterly programme report, in the reader's language."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.i18n import format_2dp, format_pct
from app.permissions import roles_required
from app.timeutil import local_today, local_zone
from app.trends import bp, programme_queries
from app.trends import export_queries as eq
from app.trends.board_queries import board_for
from app.trends.charts import quarter_charts


@bp.route("/reports/quarter")
@roles_required("coordinator")
def report():
    """The printable programme report for a quarter (default: the last complete one), in the user's language."""
    default_year, default_quarter = eq.last_complete_quarter(local_today())
    problem = None
    try:
        year = int(request.args.get("year", default_year))
        quarter = int(request.args.get("quarter", default_quarter))
        start, end = eq.quarter_bounds(year, quarter)
    except ValueError:
        problem = _("Choose a year from 2000 and a quarter from 1 to 4; showing the last complete quarter.")
        year, quarter = default_year, default_quarter
        start, end = eq.quarter_bounds(year, quarter)
    zone = local_zone()
    k = current_app.config["MIN_RESPONSES"]
    since, before = eq.local_day_start_utc(start, zone), eq.local_day_start_utc(end, zone)
    groups = eq.quarter_report(current_user.coordinator_scope, since, before, k, str(get_locale()))
    overview, per_group = quarter_charts(groups)
    totals = {
        "held": sum(g.held for g in groups), "cancelled": sum(g.cancelled for g in groups),
        "rate": (sum(g.present for g in groups) / sum(g.expected for g in groups)
                 if sum(g.expected for g in groups) else None),
        "rounds": sum(len(g.rounds) for g in groups), "responses": sum(g.responses for g in groups),
        "suppressed": sum(g.suppressed for g in groups),
    }
    in_scope = sorted(((g.group_id, g.group) for g in groups), key=lambda pair: pair[1])
    return render_template(
        "trends/report.html", year=year, quarter=quarter, start=start, last_day=end - timedelta(days=1),
        groups=groups, totals=totals, overview=overview, per_group=per_group, k=k, problem=problem,
        number=format_2dp, percent=format_pct,
        years=range(max(2000, local_today().year - 5), local_today().year + 1),
        group_choices=in_scope, generated=local_today(), quarter_over=end <= local_today(),
        # The board as it stood when the quarter ended: the rounds closed and meetings held by then.
        board=board_for(current_user.coordinator_scope, now=eq.last_moment_before(before)),
        reliability=programme_queries.programme_reliability(
            current_user.coordinator_scope, k=k, locale=str(get_locale()), rounds_among=eq.closed_in(since, before)),
    ), (400 if problem else 200)
