"""Trends pages (programme): every group's feedback by round or quarter, for coordinators."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import current_app, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.routing import BuildError

from app.accounts.forms import profession_choices
from app.accounts.models import PROFESSIONS
from app.extensions import db
from app.i18n import format_2dp
from app.pagination import paginate, parse_id
from app.permissions import roles_required
from app.programme.models import Organisation
from app.timeutil import local_today, local_zone
from app.trends import bp, charts
from app.trends import programme_queries as queries
from app.trends.templating import quarter_label

#: Without dates in the address, the page shows the rounds opened in the last DEFAULT_YEARS years.
DEFAULT_YEARS = 2


def _filters(args, scope: int | None, organisations: list[Organisation]) -> tuple[dict, list[str]]:
    """The page's filters from the query string; a bad value is dropped with a message, never a 500."""
    problems: list[str] = []
    chosen: dict = {"organisation": scope, "profession": None, "start": None, "end": None, "by": "round",
                    "recent_only": False}
    org = args.get("organisation", "").strip()
    if org:
        known = {o.id for o in organisations}
        number = parse_id(org)
        if number not in known:
            problems.append(_("That organisation is not one you can see; showing all you can."))
        else:
            chosen["organisation"] = number
    profession = args.get("profession", "").strip()
    if profession:
        if profession in PROFESSIONS:
            chosen["profession"] = profession
        else:
            problems.append(_("Unknown profession; showing every profession."))
    for name, key in (("from", "start"), ("until", "end")):
        value = args.get(name, "").strip()
        if value:
            try:
                chosen[key] = date.fromisoformat(value)
            except ValueError:
                problems.append(_("“%(value)s” is not a date (use YYYY-MM-DD); that limit is ignored.", value=value))
    if "from" not in args and "until" not in args:
        # A first visit shows the recent years; the form carries the date, and clearing it shows every round.
        today = local_today()
        chosen["start"] = today.replace(year=today.year - DEFAULT_YEARS, day=min(today.day, 28))
        chosen["recent_only"] = True
    if chosen["start"] and chosen["end"] and chosen["start"] > chosen["end"]:
        problems.append(_("The period ends before it starts; showing the whole period."))
        chosen["start"] = chosen["end"] = None
    by = args.get("by", "round")
    if by in queries.BY:
        chosen["by"] = by
    else:
        problems.append(_("Results can be shown by round or by quarter; showing them by round."))
    return chosen, problems


def _plotly_url() -> str | None:
    try:
        return url_for("trends.plotly_js")
    except BuildError:  # the vendored chart library is served by routes.group once it is there
        return None


def _reason_labels(k: int) -> dict[str, str]:
    return {
        queries.OPEN: _("Still open: results appear once the round has closed."),
        queries.PARTIAL: _("Hidden to protect anonymity."),
        queries.BELOW_K: _("Fewer than %(k)s responses: hidden to protect anonymity.", k=k),
        queries.COMPLEMENT: _("Another profession of this round gave fewer than %(k)s responses: every "
                              "profession of the round is hidden so that it cannot be worked out.", k=k),
        queries.FEW_SCORES: _("Fewer than %(k)s responses scored this subscale: hidden to protect anonymity.", k=k),
    }


_number = format_2dp


@bp.route("/trends")
@roles_required("coordinator")
def programme():
    """Every group's subscale results by round or quarter, as heat maps and tables (k applies everywhere)."""
    scope = current_user.coordinator_scope
    org_query = sa.select(Organisation).order_by(Organisation.name)
    if scope is not None:
        org_query = org_query.where(Organisation.id == scope)
    organisations = list(db.session.scalars(org_query))
    chosen, problems = _filters(request.args, scope, organisations)
    k = current_app.config["MIN_RESPONSES"]
    # A page of groups at a time (by name): the tables and heat maps stay readable, and the page costs the
    # same whether the programme has ten groups or a thousand.
    groups_page = paginate(queries.groups_in_view(scope, chosen["organisation"], chosen["start"], chosen["end"],
                                                  local_zone()))
    trend = queries.programme_trend(
        scope, organisation_id=chosen["organisation"], profession=chosen["profession"], start=chosen["start"],
        end=chosen["end"], by=chosen["by"], k=k, zone=local_zone(), locale=str(get_locale()),
        group_ids=list(groups_page.items),
    )
    # Alpha pools every round in view (every group under the filters, not only this page's groups): it reads
    # every question's sums of those rounds, so it is computed when asked for (?reliability=1), and the page of
    # groups stays as cheap as before.
    reliability = None
    if request.args.get("reliability") == "1":
        reliability = queries.programme_reliability(
            scope, organisation_id=chosen["organisation"], profession=chosen["profession"], start=chosen["start"],
            end=chosen["end"], k=k, zone=local_zone(), locale=str(get_locale()),
        )
    reliability_url = url_for("trends.programme", **{**request.args.to_dict(), "reliability": "1"},
                              _anchor="programme-reliability")
    column_labels = {
        c: (_("Round %(n)s", n=c) if trend.by == "round" else quarter_label(c)) for c in trend.columns
    }
    professions = [("", _("All professions"))] + [(v, str(label)) for v, label in profession_choices() if v]
    # The full history, one click away: the same filters with an empty From (every round or quarter).
    show_all_url = url_for("trends.programme", **{**request.args.to_dict(), "from": "", "page": None})
    return render_template(
        "trends/programme.html", trend=trend, chosen=chosen, problems=problems, organisations=organisations,
        scoped=scope is not None, professions=professions, column_labels=column_labels,
        reasons=_reason_labels(k), number=_number, chart=charts.heatmap_data(trend, column_labels),
        plotly_url=_plotly_url(), groups_page=groups_page, show_all_url=show_all_url, reliability=reliability,
        reliability_url=reliability_url,
    )
