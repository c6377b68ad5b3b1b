"""Trends pages (exports): CSV and Excel exports of round aggregates, anonymised responses and released free text —
coordinators only, within their scope, every export audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.audit.services import record_action
from app.extensions import db
from app.feedback import scoring
from app.pagination import parse_id
from app.permissions import coordinates_org, roles_required
from app.programme.models import Group
from app.sqlite import write_after_read
from app.timeutil import local_zone, utcnow
from app.trends import bp, programme_queries
from app.trends import export_queries as eq
from app.trends.evaluator import dictionary_header, dictionary_rows, evaluator_file, export_key
from app.trends.files import FORMATS, Sheet, download, download_with_dictionary


class BadFilter(ValueError):
    """A filter in the query string that cannot be understood."""


# --- filters and cells -------------------------------------------------------------------------

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
        number = parse_id(raw_group)
        if number is None:
            raise BadFilter(_("Choose a group from the list."))
        group = db.session.get(Group, number)
        if group is None:
            abort(404)
        if not coordinates_org(current_user, group.organisation_id):
            abort(403)
        group_id = group.id
    since_day, until_day = _date_arg("from"), _date_arg("until")
    if since_day and until_day and until_day < since_day:
        raise BadFilter(_("The end date must not be before the start date."))
    filters = eq.period_filters(current_user.coordinator_scope, group_id, since_day, until_day)
    record = {"scope": filters.scope, "group": group_id, "from": since_day, "until": until_day}
    return filters, record


def _local(value: datetime | None) -> str | None:
    """A naive-UTC time as the deployment's local time, minutes precision."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(local_zone()).strftime("%Y-%m-%d %H:%M")


def _rounded(value: float | None, places: int = 4) -> float | None:
    return None if value is None else round(value, places)


def _suppressed_text(reason: str | None, k: int) -> str:
    """The "Suppressed" cell of an export: yes, and why."""
    from app import disclosure

    if reason == disclosure.OPEN:
        return _("yes: the round is still open")
    if reason == disclosure.FEW_SCORES:
        return _("yes: fewer than %(k)s responses scored this subscale", k=k)
    return _("yes: fewer than %(k)s responses", k=k)


# --- the sheets --------------------------------------------------------------------------------

def _items_sheet(filters: eq.Filters) -> Sheet:
    """The last sheet: every item of the instrument versions the export covers, in both languages."""
    header = [_("Instrument"), _("Version"), _("Item"), _("Text (English)"), _("Text (Chinese)"), _("Type"),
              _("Subscale"), _("Reverse-scored")]
    rows = []
    for instrument in eq.instruments_of(filters):
        definition = scoring.definition_from_dict(instrument.definition)
        subscale_of = {code: sub.code for sub in definition.subscales for code in sub.items}
        for item in definition.items:
            rows.append([instrument.code, instrument.version, item.code, scoring.localised(item.text, "en"),
                         scoring.localised(item.text, "zh_CN"), item.type,
                         item.subscale or subscale_of.get(item.code), _("yes") if item.reverse else _("no")])
    return _("Items"), header, rows


def _aggregates_sheet(filters: eq.Filters, k: int) -> Sheet:
    """Round aggregates: counts and subscale n/mean/SD/CI; a hidden round or subscale says why."""
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
    return _("Round aggregates"), header, rows


def _responses_sheet(filters: eq.Filters, k: int) -> Sheet:
    """Anonymised ratings in random order, with row numbers."""
    header = [_("Row"), _("Group"), _("Organisation"), _("Round"), _("Instrument"), _("Version"), _("Source"),
              _("Item"), _("Item text"), _("Answer")]
    rows = [
        [r.row, r.group, r.organisation, r.round_number, r.instrument_code, r.instrument_version, r.source,
         r.item_code, r.item_text, r.value]
        for r in eq.response_rows(filters, k, locale=str(get_locale()))
    ]
    return _("Responses"), header, rows


def _text_sheet(filters: eq.Filters, k: int) -> Sheet:
    """Released free text, shuffled, with no row number: nothing ties it to the ratings of its response."""
    header = [_("Group"), _("Organisation"), _("Round"), _("Instrument"), _("Version"), _("Item"), _("Item text"),
              _("Free text")]
    rows = [[t.group, t.organisation, t.round_number, t.instrument_code, t.instrument_version, t.item_code,
             t.item_text, t.text]
            for t in eq.text_rows(filters, k, locale=str(get_locale()), notes_label=_("Interview notes"))]
    return _("Free text"), header, rows


def _with_items(kind: str, fmt: str, sheet: Sheet, filters: eq.Filters, extra_sheets: list[Sheet]):
    """The file of most exports: the main sheet, the extra ones and (Excel) the items sheet."""
    return download(kind, fmt, sheet, _items_sheet(filters), extra_sheets)


def _reliability_sheet(filters: eq.Filters, k: int) -> Sheet:
    """Cronbach's alpha per subscale pooled over the export's rounds whose own alpha is shown (as on the pages)."""
    header = [_("Subscale"), _("Subscale title"), _("Rounds pooled"), _("Groups"), _("Rounds left out"), _("n"),
              _("Cronbach's alpha"), _("95% CI low"), _("95% CI high"), _("Below 0.7")]
    rows = []
    for a in programme_queries.programme_reliability(filters.scope, k=k, locale=str(get_locale()),
                                                     rounds_among=eq.round_ids(filters)):
        computable = a.alpha.alpha is not None
        rows.append([a.key, a.title, a.rounds, a.groups, a.left_out, a.alpha.n, _rounded(a.alpha.alpha),
                     _rounded(a.alpha.low), _rounded(a.alpha.high),
                     (_("yes") if a.flagged else _("no")) if computable else None])
    return _("Reliability"), header, rows


def _board_sheet(filters: eq.Filters, k: int) -> Sheet:
    """The programme board (statuses and reasons, figures as the board page shows them), as it stood at the end
    of the export's period (its "until" day), or now; one group's rows when the export is for one group."""
    from app.trends.board_queries import board_for
    from app.trends.routes.board import board_sheet

    # One group's export draws that group's row alone (the whole board takes seconds at city scale).
    return board_sheet(board_for(filters.scope, now=eq.last_moment_before(filters.before) if filters.before else None,
                                 group_id=filters.group_id))


def _export(fmt: str, kind: str, audited_as: str, main: Callable[[eq.Filters, int], Sheet],
            extra: list[Callable[[eq.Filters, int], Sheet]] = (), finish: Callable = _with_items):
    """One export: the filters from the query string (a bad one is refused above the report's form), the sheets,
    the audit entry (its own transaction: an export is a GET), then the file (`finish`)."""
    if fmt not in FORMATS:
        abort(404)
    try:
        filters, record = _filters()
    except BadFilter as problem:
        flash(str(problem), "error")
        return redirect(url_for("trends.report"))
    k = current_app.config["MIN_RESPONSES"]
    sheet = main(filters, k)
    extra_sheets = [build(filters, k) for build in extra]
    with write_after_read():
        record_action(current_user, "export", None, kind=audited_as, format=fmt, filters=record, rows=len(sheet[2]))
    return finish(kind, fmt, sheet, filters, extra_sheets)


def _evaluator_export(fmt: str):
    """The evaluator file and its data dictionary (read once: the dictionary lists the file's own columns)."""
    found = {}

    def main(filters: eq.Filters, k: int) -> Sheet:
        found["file"] = evaluator_file(filters, k, key=export_key(), now=utcnow())
        the_file = found["file"]
        return _("Data"), the_file.header, [row.values(the_file.with_code) for row in the_file.rows]

    def finish(kind: str, fmt: str, sheet: Sheet, _filters: eq.Filters, _extra: list[Sheet]):
        dictionary = (_("Data dictionary"), dictionary_header(), dictionary_rows(found["file"]))
        return download_with_dictionary(kind, fmt, sheet, dictionary)

    return _export(fmt, "evaluator", "evaluator", main, finish=finish)


# --- the exports -------------------------------------------------------------------------------

# One rule per format (not a <fmt> variable), so every URL is a fixed path the authorisation matrix can open.
@bp.route("/exports/aggregates.csv", defaults={"fmt": "csv"})
@bp.route("/exports/aggregates.xlsx", defaults={"fmt": "xlsx"})
@roles_required("coordinator")
def export_aggregates(fmt):
    """Round aggregates (counts and subscale n/mean/SD/CI) as CSV or XLSX; rounds below k say suppressed. The Excel
    file adds the subscales' pooled reliability and the programme board on sheets of their own (as CSV, the board
    is its own file: export_board)."""
    return _export(fmt, "round-aggregates", "aggregates", _aggregates_sheet,
                   [_reliability_sheet, _board_sheet] if fmt == "xlsx" else [])


# One rule per format (not a <fmt> variable), so every URL is a fixed path the authorisation matrix can open.
@bp.route("/exports/responses.csv", defaults={"fmt": "csv"})
@bp.route("/exports/responses.xlsx", defaults={"fmt": "xlsx"})
@roles_required("coordinator")
def export_responses(fmt):
    """Anonymised ratings of closed rounds with at least k responses: random order and row numbers. The Excel
    file has the released free text on a sheet of its own; as CSV it is a file of its own (export_free_text)."""
    return _export(fmt, "responses", "responses", _responses_sheet, [_text_sheet] if fmt == "xlsx" else [])


@bp.route("/exports/free-text.csv", defaults={"fmt": "csv"})
@roles_required("coordinator")
def export_free_text(fmt):
    """Released free-text answers of closed rounds with at least k responses, shuffled, apart from any rating."""
    return _export(fmt, "free-text", "free_text", _text_sheet)


# CSV comes as a ZIP archive: the data file and its data dictionary, two CSV files.
@bp.route("/exports/evaluator.zip", defaults={"fmt": "csv"})
@bp.route("/exports/evaluator.xlsx", defaults={"fmt": "xlsx"})
@roles_required("coordinator")
def export_evaluator(fmt):
    """The evaluator export: one row per response and subscale of closed rounds with at least k responses, with its
    data dictionary in English and Chinese (a second sheet, or a second CSV file in the ZIP archive)."""
    return _evaluator_export(fmt)
