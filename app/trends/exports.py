"""Trends pages (exports): CSV and Excel exports of round aggregates and anonymised responses, and the
printable quarterly programme report — coordinators only, within their scope, every export audited."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.audit.services import record_action
from app.csvutil import csv_text, safe_cell
from app.extensions import db
from app.feedback import rules
from app.i18n import format_2dp, format_pct
from app.permissions import coordinates_org, roles_required
from app.programme.models import Group
from app.sqlite import write_after_read
from app.timeutil import local_today, local_zone
from app.trends import bp
from app.trends import export_queries as eq

FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Characters an XLSX cell may not hold (XML 1.0 control characters); tab, LF and CR are allowed.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class BadFilter(ValueError):
    """A filter in the query string that cannot be understood."""


# --- filters, cells and files ------------------------------------------------------------------

def _date_arg(name: str) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadFilter(_("Dates are written as YYYY-MM-DD, for example 2024-03-31.")) from None


def _filters() -> tuple[eq.Filters, dict]:
    """The export's filters from the query string, within the coordinator's scope, and a record of them for the audit.

    Raises BadFilter for an unreadable group or date; aborts 404/403 for a group that is missing or out of scope.
    """
    group_id = None
    raw_group = request.args.get("group", "").strip()
    if raw_group:
        if not raw_group.isdigit():
            raise BadFilter(_("Choose a group from the list."))
        group = db.session.get(Group, int(raw_group))
        if group is None:
            abort(404)
        if not coordinates_org(current_user, group.organisation_id):
            abort(403)
        group_id = group.id
    since_day, until_day = _date_arg("from"), _date_arg("until")
    if since_day and until_day and until_day < since_day:
        raise BadFilter(_("The end date must not be before the start date."))
    zone = local_zone()
    filters = eq.Filters(
        scope=current_user.coordinator_scope, group_id=group_id,
        since=eq.local_day_start_utc(since_day, zone) if since_day else None,
        # "until" is the last day included.
        before=eq.local_day_start_utc(until_day + timedelta(days=1), zone) if until_day else None,
    )
    record = {"scope": filters.scope, "group": group_id, "from": since_day, "until": until_day}
    return filters, record


def _local(value: datetime | None) -> str | None:
    """A naive-UTC time as the deployment's local time, minutes precision."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(local_zone()).strftime("%Y-%m-%d %H:%M")


def _rounded(value: float | None, places: int = 4) -> float | None:
    return None if value is None else round(value, places)


def xlsx_cell(value):
    """A value as an XLSX cell: the same formula guard as CSV, and no characters XML cannot hold."""
    cell = safe_cell(value)
    return _ILLEGAL_XML.sub("", cell) if isinstance(cell, str) else cell


def _xlsx_bytes(sheets: list[tuple[str, list, list]]) -> bytes:
    """A workbook with one sheet per (title, header, rows); headers bold and frozen."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    bold = Font(bold=True)
    for title, header, rows in sheets:
        # Sheet titles: at most 31 characters, none of []:*?/\ .
        sheet = workbook.create_sheet(re.sub(r"[\[\]:*?/\\]", " ", title)[:31])
        sheet.append([xlsx_cell(h) for h in header])
        for cell in sheet[1]:
            cell.font = bold
        for row in rows:
            sheet.append([xlsx_cell(v) for v in row])
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _download(kind: str, fmt: str, header: list, rows: list, items_sheet: tuple[str, list, list],
              sheet_title: str, extra_sheets: list[tuple[str, list, list]] = ()) -> Response:
    name = f"balint-{kind}-{local_today().isoformat()}.{fmt}"
    if fmt == "csv":
        body, mimetype = csv_text(header, rows).encode("utf-8"), "text/csv; charset=utf-8"
    else:
        body, mimetype = _xlsx_bytes([(sheet_title, header, rows), *extra_sheets, items_sheet]), XLSX_TYPE
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _items_sheet(filters: eq.Filters) -> tuple[str, list, list]:
    """The second sheet: every item of the instrument versions the export covers, in both languages."""
    header = [_("Instrument"), _("Version"), _("Item"), _("Text (English)"), _("Text (Chinese)"), _("Type"),
              _("Subscale"), _("Reverse-scored")]
    rows = []
    for instrument in eq.instruments_of(filters):
        definition = rules.definition_from_dict(instrument.definition)
        subscale_of = {code: sub.code for sub in definition.subscales for code in sub.items}
        for item in definition.items:
            rows.append([instrument.code, instrument.version, item.code, rules.localised(item.text, "en"),
                         rules.localised(item.text, "zh_CN"), item.type,
                         item.subscale or subscale_of.get(item.code), _("yes") if item.reverse else _("no")])
    return _("Items"), header, rows


def _audit_and_commit(kind: str, fmt: str, record: dict, count: int) -> None:
    with write_after_read():  # an export is a GET that writes its audit entry
        record_action(current_user, "export", None, kind=kind, format=fmt, filters=record, rows=count)


def _refuse(message: str):
    flash(message, "error")
    return redirect(url_for("trends.report"))


# --- the exports -------------------------------------------------------------------------------

# One rule per format (not a <fmt> variable), so every URL is a fixed path the authorisation matrix can open.
@bp.route("/exports/aggregates.csv", defaults={"fmt": "csv"})
@bp.route("/exports/aggregates.xlsx", defaults={"fmt": "xlsx"})
@roles_required("coordinator")
def export_aggregates(fmt):
    """Round aggregates (counts and subscale n/mean/SD/CI) as CSV or XLSX; rounds below k say suppressed."""
    if fmt not in FORMATS:
        abort(404)
    try:
        filters, record = _filters()
    except BadFilter as problem:
        return _refuse(str(problem))
    k = current_app.config["MIN_RESPONSES"]
    header = [_("Group"), _("Organisation"), _("Round"), _("Opened"), _("Closed"), _("Instrument"), _("Version"),
              _("Source"), _("Eligible"), _("Responses"), _("Participation"), _("Subscale"), _("Subscale title"),
              _("n"), _("Mean"), _("SD"), _("95% CI low"), _("95% CI high"), _("Suppressed")]
    rows = []
    for agg in eq.aggregate_rows(filters, k, locale=str(get_locale())):
        start = [agg.group, agg.organisation, agg.round_number, _local(agg.opened), _local(agg.closed),
                 agg.instrument_code, agg.instrument_version, agg.source]
        if agg.suppressed:
            rows.append([*start, None, None, None, None, None, None, None, None, None, None,
                         _suppressed_text(agg.reason, k)])
            continue
        counts = [agg.eligible, agg.responses, _rounded(agg.participation)]
        for sub in agg.subscales or [None]:
            if sub is not None and sub.hidden:
                rows.append([*start, *counts, sub.code, sub.title, None, None, None, None, None,
                             _suppressed_text(sub.reason, k)])
                continue
            numbers = [None] * 7 if sub is None else [
                sub.code, sub.title, sub.n, _rounded(sub.mean), _rounded(sub.sd), _rounded(sub.ci_low),
                _rounded(sub.ci_high)]
            rows.append([*start, *counts, *numbers, _("no")])
    _audit_and_commit("aggregates", fmt, record, len(rows))
    return _download("round-aggregates", fmt, header, rows, _items_sheet(filters), _("Round aggregates"))


def _suppressed_text(reason: str | None, k: int) -> str:
    """The "Suppressed" cell of an export: yes, and why."""
    from app import disclosure

    if reason == disclosure.OPEN:
        return _("yes: the round is still open")
    if reason == disclosure.FEW_SCORES:
        return _("yes: fewer than %(k)s responses scored this subscale", k=k)
    return _("yes: fewer than %(k)s responses", k=k)


def _text_sheet(filters: eq.Filters, k: int) -> tuple[str, list, list]:
    """Released free text, shuffled, with no row number: nothing ties it to the ratings of its response."""
    header = [_("Group"), _("Organisation"), _("Round"), _("Instrument"), _("Version"), _("Item"), _("Item text"),
              _("Free text")]
    rows = [[t.group, t.organisation, t.round_number, t.instrument_code, t.instrument_version, t.item_code,
             t.item_text, t.text]
            for t in eq.text_rows(filters, k, locale=str(get_locale()), notes_label=_("Interview notes"))]
    return _("Free text"), header, rows


# One rule per format (not a <fmt> variable), so every URL is a fixed path the authorisation matrix can open.
@bp.route("/exports/responses.csv", defaults={"fmt": "csv"})
@bp.route("/exports/responses.xlsx", defaults={"fmt": "xlsx"})
@roles_required("coordinator")
def export_responses(fmt):
    """Anonymised ratings of closed rounds with at least k responses: random order and row numbers. The Excel
    file has the released free text on a sheet of its own; as CSV it is a file of its own (export_free_text)."""
    if fmt not in FORMATS:
        abort(404)
    try:
        filters, record = _filters()
    except BadFilter as problem:
        return _refuse(str(problem))
    k = current_app.config["MIN_RESPONSES"]
    header = [_("Row"), _("Group"), _("Organisation"), _("Round"), _("Instrument"), _("Version"), _("Source"),
              _("Item"), _("Item text"), _("Answer")]
    rows = [
        [r.row, r.group, r.organisation, r.round_number, r.instrument_code, r.instrument_version, r.source,
         r.item_code, r.item_text, r.value]
        for r in eq.response_rows(filters, k, locale=str(get_locale()))
    ]
    extra = [_text_sheet(filters, k)] if fmt == "xlsx" else []
    _audit_and_commit("responses", fmt, record, len(rows))
    return _download("responses", fmt, header, rows, _items_sheet(filters), _("Responses"), extra)


@bp.route("/exports/free-text.csv", defaults={"fmt": "csv"})
@roles_required("coordinator")
def export_free_text(fmt):
    """Released free-text answers of closed rounds with at least k responses, shuffled, apart from any rating."""
    try:
        filters, record = _filters()
    except BadFilter as problem:
        return _refuse(str(problem))
    title, header, rows = _text_sheet(filters, current_app.config["MIN_RESPONSES"])
    _audit_and_commit("free_text", fmt, record, len(rows))
    return _download("free-text", fmt, header, rows, _items_sheet(filters), title)


# --- the quarterly report ----------------------------------------------------------------------

@dataclass(frozen=True)
class Bar:
    """One bar of a server-drawn horizontal bar chart (coordinates in SVG user units)."""

    label: str
    text: str
    y: int
    width: float
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart: bars start at `x0` and are at most `span` wide."""

    title: str
    bars: list[Bar]
    axis_low: str
    axis_high: str
    x0: int = 200
    span: int = 360
    row: int = 24

    @property
    def height(self) -> int:
        return self.row * len(self.bars) + 30

    @property
    def axis_y(self) -> int:
        return self.row * len(self.bars) + 4


def bar_chart(title: str, values: list[tuple[str, float | None, str, float | None, float | None]],
              low: float, high: float, axis_low: str, axis_high: str) -> Chart:
    """A chart of (label, value, shown text, CI low, CI high) on the scale low..high; no value draws no bar."""
    span = Chart.span

    def x(value: float | None) -> float | None:
        if value is None or high <= low:
            return None
        return round(span * min(max((value - low) / (high - low), 0.0), 1.0), 1)

    bars = [Bar(label, text, i * Chart.row, x(value) or 0.0, x(ci_low), x(ci_high))
            for i, (label, value, text, ci_low, ci_high) in enumerate(values)]
    return Chart(title, bars, axis_low, axis_high)


_number = format_2dp


_percent = format_pct


def _charts(groups: list[eq.GroupQuarter]) -> tuple[list[Chart], dict[int, list[Chart]]]:
    """The overview charts (attendance, meetings held) and per group one chart per round shown."""
    overview = []
    if groups:
        overview.append(bar_chart(
            _("Attendance rate"), [(g.group, g.attendance_rate, _percent(g.attendance_rate), None, None)
                                   for g in groups], 0, 1, "0%", "100%"))
        most = max([g.held for g in groups] + [1])
        overview.append(bar_chart(
            _("Meetings held"), [(g.group, g.held, str(g.held), None, None) for g in groups], 0, most, "0",
            str(most)))
    per_group: dict[int, list[Chart]] = {}
    for g in groups:
        for agg in g.rounds:
            if agg.suppressed or not agg.subscales:
                continue
            ranges = [agg.ranges[s.code] for s in agg.subscales if s.code in agg.ranges]
            low = min((r[0] for r in ranges), default=0)
            high = max((r[1] for r in ranges), default=1)
            per_group.setdefault(g.group_id, []).append(bar_chart(
                _("Round %(number)s: subscale means with 95%% CI", number=agg.round_number),
                [(s.title, s.mean, _number(s.mean) if s.shown else "–", s.ci_low, s.ci_high)
                 for s in agg.subscales],
                low, high, str(low), str(high)))
    return overview, per_group


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
    groups = eq.quarter_report(current_user.coordinator_scope, eq.local_day_start_utc(start, zone),
                               eq.local_day_start_utc(end, zone), k, str(get_locale()))
    overview, per_group = _charts(groups)
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
        number=_number, percent=_percent, years=range(max(2000, local_today().year - 5), local_today().year + 1),
        group_choices=in_scope, generated=local_today(),
    ), (400 if problem else 200)
