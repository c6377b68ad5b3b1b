"""API: the programme board — every active group red, amber or green with the reasons and the figures behind them
(the same board as the /board page, through the same anonymity rules), for coordinators within their scope."""

from __future__ import annotations

from dataclasses import asdict

from flask_babel import gettext as _
from marshmallow import Schema, fields

from app.api import bp
from app.api.auth import api_auth, current_api_user
from app.api.errors import problem
from app.pagination import parse_id
from app.permissions import get_organisation_or_403
from app.trends import rules
from app.trends.board_queries import Board, board_for
from app.trends.templating import reason_text


class BoardQuerySchema(Schema):
    """The board's filters (read as text and checked by the view, which says what is wrong with a 400)."""

    organisation = fields.String(load_default=None, metadata={
        "description": "Only this organisation's groups (an organisation id within the caller's scope; another "
                       "organisation's id gives 403, an unknown one 404)"})
    status = fields.String(load_default=None, metadata={
        "description": "Only the groups with this status", "enum": list(rules.STATUSES)})


class BoardReasonSchema(Schema):
    """One rule that raised the group: its key, its status, the sentence the page shows and its figures."""

    rule = fields.String(metadata={"description": "The rule's key", "enum": list(rules.RULES)})
    status = fields.String(metadata={"enum": [rules.AMBER, rules.RED]})
    text = fields.String(metadata={"description": "The reason in the caller's language (Accept-Language)"})
    figures = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), metadata={
        "description": "The figures behind the reason, by rule: decline_slope (subscale, key, slope, low, high, "
                       "rounds, first_round, last_round, first_mean, last_mean), decline_change (subscale, key, "
                       "first_round, last_round, first_mean, last_mean, g, low, high), concern (subscale, key, "
                       "round, in_band, n, share), participation (round, responses, eligible, rate), no_meeting "
                       "(days, never), no_eligible_lead (count, soonest: days ahead). Only figures of rounds and "
                       "subscales the anonymity rules publish"})


class BoardGroupSchema(Schema):
    group_id = fields.Integer()
    name = fields.String()
    organisation_id = fields.Integer()
    organisation = fields.String()
    status = fields.String(metadata={"description": "The worst status of its reasons; green without any",
                                     "enum": list(rules.STATUSES)})
    reasons = fields.List(fields.Nested(BoardReasonSchema), metadata={"description": "Worst first"})


class BoardThresholdsSchema(Schema):
    """The thresholds the board was drawn with (settings BOARD_*; README "Programme board")."""

    decline_rounds = fields.Integer()
    decline_slope_red = fields.Float()
    decline_g_amber = fields.Float()
    decline_g_red = fields.Float()
    concern_amber = fields.Float()
    concern_red = fields.Float()
    participation_amber = fields.Float()
    participation_red = fields.Float()
    days_amber = fields.Integer()
    days_red = fields.Integer()
    lead_days_amber = fields.Integer()
    lead_days_red = fields.Integer()


class BoardSchema(Schema):
    scope = fields.Integer(allow_none=True, metadata={"description": "The caller's organisation; null: all"})
    organisation_id = fields.Integer(allow_none=True, metadata={"description": "The organisation filter, if any"})
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "How many groups of the board (before the status filter) are red, amber and green"})
    thresholds = fields.Nested(BoardThresholdsSchema)
    groups = fields.List(fields.Nested(BoardGroupSchema), metadata={"description": "Red first, then by name"})


def board_data(result: Board, scope: int | None, organisation_id: int | None, status: str | None) -> dict:
    """The board as JSON: each group's status and reasons (key, status, translated text, figures)."""
    rows = [row for row in result.rows if status is None or row.status == status]
    return {
        "scope": scope, "organisation_id": organisation_id, "counts": result.counts,
        "thresholds": asdict(result.thresholds),
        "groups": [{
            "group_id": row.group_id, "name": row.group, "organisation_id": row.organisation_id,
            "organisation": row.organisation, "status": row.status,
            "reasons": [{"rule": f.rule, "status": f.status, "text": reason_text(f), "figures": dict(f.detail)}
                        for f in row.findings],
        } for row in rows],
    }


@bp.route("/board", methods=["GET"])
@api_auth("coordinator")
@bp.arguments(BoardQuerySchema, location="query")
@bp.response(200, BoardSchema)
@bp.alt_response(400, description="An organisation or status that cannot be read")
@bp.alt_response(403, description="Not a coordinator, or another organisation than the caller's")
@bp.alt_response(404, description="No such organisation")
def programme_board(args):
    """The programme board: every active group in the caller's scope with its status (red, amber, green) and the
    reasons, as the /board page shows them now."""
    raw_org, status = (args.get("organisation") or "").strip(), (args.get("status") or "").strip()
    organisation_id = None
    if raw_org:
        number = parse_id(raw_org)
        if number is None:
            return problem(400, _("The organisation is given by its number, for example organisation=3."),
                           errors={"query": {"organisation": [_("Not an organisation number.")]}})
        organisation_id = get_organisation_or_403(number).id
    if status and status not in rules.STATUSES:
        return problem(400, _("The status is one of red, amber or green."),
                       errors={"query": {"status": [_("Not a status.")]}})
    scope = current_api_user.coordinator_scope
    return board_data(board_for(scope, organisation_id), scope, organisation_id, status or None)
