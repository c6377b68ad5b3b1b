"""API: feedback trends round by round, for one group and across the programme (anonymity threshold kept)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict

from flask import abort, current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app import disclosure
from app.api import bp
from app.api.auth import api_auth, current_api_user
from app.api.resources_scheduling import Day
from app.audit.services import record_action
from app.extensions import db
from app.pagination import MAX_ID
from app.permissions import coordinates_org, get_group_or_403
from app.programme.models import Group
from app.sqlite import write_after_read
from app.timeutil import utcnow
from app.trends import evaluator, group_queries, programme_queries
from app.trends import export_queries as eq

EMPTY = {"mean": None, "sd": None, "ci_low": None, "ci_high": None}
NO_ALPHA = {"alpha": None, "alpha_low": None, "alpha_high": None, "alpha_flagged": None}


class PointSchema(Schema):
    """One subscale's statistics; all null when hidden (fewer than min_n scores)."""

    n = fields.Integer(allow_none=True)
    mean = fields.Float(allow_none=True)
    sd = fields.Float(allow_none=True)
    ci_low = fields.Float(allow_none=True)
    ci_high = fields.Float(allow_none=True)


class GroupPointSchema(PointSchema):
    """One subscale of one round of a group, with its reliability (null when hidden or not computable)."""

    alpha = fields.Float(allow_none=True, metadata={
        "description": "Cronbach's alpha of the subscale in this round; null when the round or a question of the "
                       "subscale is hidden, or alpha is undefined (one question, no variation)"})
    alpha_low = fields.Float(allow_none=True, metadata={"description": "95% CI of alpha, Feldt's method"})
    alpha_high = fields.Float(allow_none=True)
    alpha_flagged = fields.Boolean(allow_none=True, metadata={"description": "alpha below 0.7"})


class PooledAlphaSchema(Schema):
    """Cronbach's alpha of a subscale over the responses of every round whose own alpha is shown."""

    subscale = fields.String()
    rounds = fields.List(fields.Integer(), metadata={"description": "The numbers of the rounds pooled"})
    n = fields.Integer()
    alpha = fields.Float(allow_none=True)
    alpha_low = fields.Float(allow_none=True)
    alpha_high = fields.Float(allow_none=True)
    alpha_flagged = fields.Boolean(allow_none=True)


class BandSchema(PointSchema):
    band = fields.String(metadata={"description": "Meetings of the round attended: 1-2, 3-4 or 5 (5 or more)"})


class DoseResponseSchema(Schema):
    """A subscale by attendance band, pooled over the rounds whose band figures are shown, and the slope."""

    subscale = fields.String()
    rounds = fields.List(fields.Integer())
    bands = fields.List(fields.Nested(BandSchema))
    slope = fields.Float(allow_none=True, metadata={"description": "Least-squares change in score per band"})
    slope_low = fields.Float(allow_none=True)
    slope_high = fields.Float(allow_none=True)


class TrendRoundSchema(Schema):
    number = fields.Integer()
    n = fields.Integer(allow_none=True, metadata={"description": "Responses so far (participation)"})
    reason = fields.String(allow_none=True, metadata={
        "description": "Why the round's numbers are null: open (results only once closed), below_k, complement"})
    eligible = fields.Integer(allow_none=True)
    participation = fields.Float(allow_none=True)
    suppressed = fields.Boolean()
    subscales = fields.Dict(keys=fields.String(), values=fields.Nested(PointSchema))


class GroupTrendRoundSchema(TrendRoundSchema):
    """A group's round: each subscale also with its Cronbach's alpha."""

    subscales = fields.Dict(keys=fields.String(), values=fields.Nested(GroupPointSchema))


class GroupTrendSchema(Schema):
    group_id = fields.Integer()
    min_n = fields.Integer()
    rounds = fields.List(fields.Nested(GroupTrendRoundSchema))
    reliability = fields.List(fields.Nested(PooledAlphaSchema), metadata={
        "description": "Per subscale, Cronbach's alpha pooled over the rounds whose own alpha is shown"})
    by_attendance = fields.List(fields.Nested(DoseResponseSchema), metadata={
        "description": "Per subscale, the means by attendance band (only with the standard attendance question)"})


class GroupCellSchema(Schema):
    group_id = fields.Integer()
    name = fields.String()
    organisation = fields.String()
    n = fields.Integer(allow_none=True)
    suppressed = fields.Boolean()
    subscales = fields.Dict(keys=fields.String(), values=fields.Nested(PointSchema))


class ProgrammeRoundSchema(TrendRoundSchema):
    groups = fields.List(fields.Nested(GroupCellSchema))


class ProgrammeTrendSchema(Schema):
    min_n = fields.Integer()
    organisation_id = fields.Integer(allow_none=True, metadata={"description": "The caller's scope; null: all"})
    rounds = fields.List(fields.Nested(ProgrammeRoundSchema))


class EvaluatorArgsSchema(Schema):
    """Which rounds the evaluator export covers: one group, rounds opened between two local dates (both included)."""

    group = fields.Integer(load_default=None, validate=validate.Range(1, MAX_ID),
                           metadata={"description": "One group of the caller's scope; empty: all"})
    from_ = Day(data_key="from", load_default=None)
    until = Day(load_default=None)

    @validates_schema
    def _period(self, data, **_kw):
        if data["from_"] is not None and data["until"] is not None and data["until"] < data["from_"]:
            raise ValidationError(_("The end date must not be before the start date."), field_name="until")


class EvaluatorRowSchema(Schema):
    """One response's score of one subscale (the columns of the CSV/Excel file)."""

    organisation = fields.String()
    group = fields.String()
    round = fields.Integer()
    round_opened = fields.Date(metadata={"description": "Local date the round opened"})
    instrument = fields.String()
    instrument_version = fields.Integer()
    response = fields.Integer(metadata={
        "description": "Number of the response within its round in this answer, dealt afresh each time"})
    profession = fields.String(metadata={"description": "physician, nurse, psychologist, other, unknown or not_shown"})
    subscale = fields.String()
    score = fields.Float(allow_none=True)
    missing = fields.String(allow_none=True, metadata={"description": "null (scored), not_scored or withheld"})
    code = fields.String(allow_none=True, metadata={
        "description": "Self-generated code re-keyed with the server's export key; null where not shown"})


class DictionaryEntrySchema(Schema):
    name = fields.String()
    type = fields.String()
    meaning_en = fields.String()
    meaning_zh = fields.String()
    allowed_en = fields.String()
    allowed_zh = fields.String()
    missing_en = fields.String()
    missing_zh = fields.String()


class EvaluatorExportSchema(Schema):
    min_n = fields.Integer()
    with_code = fields.Boolean(metadata={"description": "Whether any round covered asks for self-generated codes"})
    rows = fields.List(fields.Nested(EvaluatorRowSchema))
    dictionary = fields.List(fields.Nested(DictionaryEntrySchema), metadata={
        "description": "Every column (and subscale code) with its meaning, allowed and missing values"})


_DICTIONARY_FIELDS = ("name", "type", "meaning_en", "meaning_zh", "allowed_en", "allowed_zh", "missing_en",
                      "missing_zh")


def evaluator_export_data(args: dict, k: int) -> dict:
    """The evaluator export as JSON, audited like the files. Aborts 404/403 for a group missing or out of scope."""
    group_id = args["group"]
    if group_id is not None:
        group = db.session.get(Group, group_id)
        if group is None:
            abort(404)
        if not coordinates_org(current_api_user, group.organisation_id):
            abort(403)
    filters = eq.period_filters(current_api_user.coordinator_scope, group_id, args["from_"], args["until"])
    found = evaluator.evaluator_file(filters, k, key=evaluator.export_key(), now=utcnow())
    rows = [asdict(row) for row in found.rows]
    dictionary = [dict(zip(_DICTIONARY_FIELDS, entry, strict=True)) for entry in evaluator.dictionary_rows(found)]
    with write_after_read():
        record_action(current_api_user, "export", None, kind="evaluator", format="json", rows=len(rows),
                      filters={"scope": filters.scope, "group": group_id, "from": args["from_"],
                               "until": args["until"]})
    return {"min_n": k, "with_code": found.with_code, "rows": rows, "dictionary": dictionary}


def _point(stat) -> dict:
    """A published cell as JSON: all null when it is hidden."""
    if stat is None or stat.hidden or stat.mean is None:
        return {"n": None, **EMPTY}
    return {"n": stat.n, "mean": stat.mean, "sd": stat.sd, "ci_low": stat.ci_low, "ci_high": stat.ci_high}


def group_trend_data(group, k: int) -> dict:
    """The group's rounds with their subscale statistics (null while open and below k)."""
    trend = group_queries.group_trend(group, k=k, locale=str(get_locale()))
    codes_of = defaultdict(list)
    for series in trend.series:
        codes_of[series.instrument_code].append(series.code)
    rounds = []
    for r in trend.rounds:
        subscales = {code: {"n": None, **EMPTY, **NO_ALPHA} for code in codes_of.get(r.instrument_code, [])}
        if not r.suppressed:
            subscales.update({s.code: {**_point(s), **(NO_ALPHA if s.hidden else group_queries.alpha_json(s))}
                              for s in r.subscales})
        rounds.append({"number": r.number, "n": r.responses, "eligible": r.eligible,
                       "participation": r.participation, "suppressed": r.suppressed, "reason": r.reason,
                       "subscales": subscales})
    reliability = [{"subscale": a.key.partition("/")[2], "rounds": list(a.rounds), "n": a.alpha.n,
                    "alpha": a.alpha.alpha, "alpha_low": a.alpha.low, "alpha_high": a.alpha.high,
                    "alpha_flagged": a.alpha.flagged if a.alpha.computable else None} for a in trend.reliability]
    by_attendance = [{"subscale": d.key.partition("/")[2], "rounds": list(d.rounds),
                      "bands": [{"band": b.band, "n": b.n, "mean": b.mean, "sd": b.sd, "ci_low": b.ci_low,
                                 "ci_high": b.ci_high} for b in d.bands],
                      "slope": d.slope.slope, "slope_low": d.slope.low, "slope_high": d.slope.high}
                     for d in trend.by_attendance]
    return {"group_id": group.id, "min_n": k, "rounds": rounds, "reliability": reliability,
            "by_attendance": by_attendance}


def programme_trend_data(scope: int | None, k: int) -> dict:
    """Every group's rounds by round number, each number also pooled over the groups it shows.

    A pool adds up only the groups' published cells (app.disclosure.combine): a hidden one never enters.
    """
    trend = programme_queries.programme_trend(scope, k=k, locale=str(get_locale()))
    by_group_round: dict[tuple[int, int], list] = defaultdict(list)
    for (group_id, number, _key), cell in trend.cells.items():
        by_group_round[(group_id, number)].append(cell)
    rounds = []
    for number in trend.columns:
        groups, shown = [], defaultdict(list)
        for g in trend.groups:
            cells = by_group_round.get((g.id, number))
            if not cells:
                continue
            suppressed = all(c.suppressed for c in cells)
            subscales = {}
            for c in cells:
                subscales[c.subscale] = _point(c.stat)
                if not c.suppressed:
                    shown[c.subscale].append(c.stat)
            responses = next((c.responses for c in cells if c.responses is not None), None)
            groups.append({"group_id": g.id, "name": g.name, "organisation": g.organisation,
                           "n": None if suppressed else responses, "suppressed": suppressed,
                           "subscales": subscales})
        rounds.append({
            "number": number, "n": sum(g["n"] or 0 for g in groups if not g["suppressed"]),
            "eligible": None, "participation": None,
            "suppressed": all(g["suppressed"] for g in groups),
            "subscales": {key: _point(disclosure.combine(stats)) for key, stats in sorted(shown.items())},
            "groups": groups,
        })
    return {"min_n": k, "organisation_id": scope, "rounds": rounds}


@bp.route("/groups/<int:group_id>/trends", methods=["GET"])
@api_auth()
@bp.response(200, GroupTrendSchema)
@bp.alt_response(403, description="Not one of the group's leaders or coordinators")
@bp.alt_response(404, description="No such group")
def group_trends(group_id):
    """The group's feedback round by round (numbers null while a round is open and below the anonymity threshold)."""
    group = get_group_or_403(group_id, need="lead")
    return group_trend_data(group, current_app.config["MIN_RESPONSES"])


@bp.route("/trends", methods=["GET"])
@api_auth("coordinator")
@bp.response(200, ProgrammeTrendSchema)
@bp.alt_response(403, description="Not a coordinator")
def programme_trends():
    """Every group's feedback by round number (a scoped coordinator's organisation only)."""
    return programme_trend_data(current_api_user.coordinator_scope, current_app.config["MIN_RESPONSES"])


@bp.route("/trends/evaluator-export", methods=["GET"])
@api_auth("coordinator")
@bp.arguments(EvaluatorArgsSchema, location="query")
@bp.response(200, EvaluatorExportSchema)
@bp.alt_response(403, description="Not a coordinator, or the group is outside the caller's organisation")
@bp.alt_response(404, description="No such group")
def evaluator_export(args):
    """One row per response and subscale of closed rounds with at least min_n responses (the evaluator export).

    Professions and re-keyed self-generated codes only where the anonymity rules allow; no response id or time.
    """
    return evaluator_export_data(args, current_app.config["MIN_RESPONSES"])
