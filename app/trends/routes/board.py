"""Trends pages (board): the programme board — every group red, amber or green with the reasons — and its export."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.audit.services import record_action
from app.extensions import db
from app.i18n import format_2dp, format_pct
from app.pagination import parse_id
from app.permissions import roles_required
from app.programme.models import Organisation
from app.sqlite import write_after_read
from app.timeutil import local_zone
from app.trends import bp
from app.trends import export_queries as eq
from app.trends.board_queries import Board, board_for
from app.trends.files import FORMATS, Sheet, download
from app.trends.templating import reason_text, status_label


def _organisations() -> list[Organisation]:
    scope = current_user.coordinator_scope
    query = sa.select(Organisation).order_by(Organisation.name)
    if scope is not None:
        query = query.where(Organisation.id == scope)
    return list(db.session.scalars(query))


def _chosen_organisation(organisations: list[Organisation]) -> tuple[int | None, str | None]:
    """The organisation filter from the query string; an unknown one is dropped with a message, never a 500."""
    raw = request.args.get("organisation", "").strip()
    if not raw:
        return None, None
    number = parse_id(raw)
    if number in {o.id for o in organisations}:
        return number, None
    return None, _("That organisation is not one you can see; showing all you can.")


@bp.route("/board")
@roles_required("coordinator")
def board():
    """The programme board: one row per active group with its status (red, amber, green) and the reasons."""
    organisations = _organisations()
    chosen, problem = _chosen_organisation(organisations)
    result = board_for(current_user.coordinator_scope, chosen)
    return render_template("trends/board.html", board=result, organisations=organisations, chosen=chosen,
                           scoped=current_user.coordinator_scope is not None, problem=problem)


def board_sheet(result: Board) -> Sheet:
    """The board as a sheet: group, organisation, status, then one row per reason (a green group has one row)."""
    header = [_("Group"), _("Organisation"), _("Status"), _("Rule status"), _("Reason")]
    rows = []
    for row in result.rows:
        start = [row.group, row.organisation, status_label(row.status)]
        if not row.findings:
            rows.append([*start, None, None])
        for finding in row.findings:
            rows.append([*start, status_label(finding.status), reason_text(finding)])
    return _("Programme board"), header, rows


def thresholds_sheet(result: Board) -> Sheet:
    """The thresholds the board was drawn with, one rule a row."""
    t = result.thresholds
    header = [_("Rule"), _("Amber"), _("Red")]
    rows = [
        [_("Sustained decline: slope over the last %(n)s closed rounds", n=t.decline_rounds),
         _("95% CI below 0"), _("95%% CI below 0 and %(fall)s points a round or steeper",
                                  fall=format_2dp(t.decline_slope_red))],
        [_("Decline since the first shown round (Hedges' g, 95% CI below 0)"),
         format_2dp(t.decline_g_amber), format_2dp(t.decline_g_red)],
        [_("Responses in a concern band"), format_pct(t.concern_amber), format_pct(t.concern_red)],
        [_("Participation below"), format_pct(t.participation_amber), format_pct(t.participation_red)],
        [_("Days without a held meeting"), t.days_amber, t.days_red],
        [_("Meetings without an eligible lead within (days)"), t.lead_days_amber, t.lead_days_red],
    ]
    return _("Board rules"), header, rows


def _quarter() -> tuple[int, int] | None:
    """The quarter whose end the export is drawn at (the quarterly report's `year` and `quarter`), or None: now.

    Raises ValueError for a year or quarter that is not one.
    """
    year, quarter = request.args.get("year", "").strip(), request.args.get("quarter", "").strip()
    if not year and not quarter:
        return None
    eq.quarter_bounds(int(year), int(quarter))  # raises ValueError for a quarter outside 1-4 or a year before 2000
    return int(year), int(quarter)


# One rule per format (not a <fmt> variable), so every URL is a fixed path the authorisation matrix can open.
@bp.route("/exports/board.csv", defaults={"fmt": "csv"})
@bp.route("/exports/board.xlsx", defaults={"fmt": "xlsx"})
@roles_required("coordinator")
def export_board(fmt):
    """The programme board as CSV or XLSX (with the thresholds on a second sheet), audited; with `year` and
    `quarter` (the quarterly report's), as it stood at that quarter's end."""
    if fmt not in FORMATS:
        abort(404)
    organisations = _organisations()
    chosen, _problem = _chosen_organisation(organisations)
    try:
        quarter = _quarter()
    except ValueError:
        flash(_("Choose a year from 2000 and a quarter from 1 to 4."), "error")
        return redirect(url_for("trends.report"))
    as_of = None
    if quarter is not None:
        _start, end = eq.quarter_bounds(*quarter)
        as_of = eq.last_moment_before(eq.local_day_start_utc(end, local_zone()))
    result = board_for(current_user.coordinator_scope, chosen, now=as_of)
    sheet = board_sheet(result)
    with write_after_read():
        record_action(current_user, "export", None, kind="board", format=fmt,
                      filters={"scope": current_user.coordinator_scope, "organisation": chosen,
                               "quarter": f"{quarter[0]}-Q{quarter[1]}" if quarter else None}, rows=len(sheet[2]))
    return download("board", fmt, sheet, thresholds_sheet(result))
