"""Programme trends in SQL: every group's subscale results by round or by calendar quarter, and heat maps.

A page costs the same four statements whatever the number of groups and rounds: the rounds in view, the
instrument versions their responses answered, response counts per round, and per-round subscale sums (each
response's subscale score computed in SQL with reverse scoring, as app.feedback.queries does for one round).
Quarters combine the per-round sums (n, sum, sum of squares add up exactly) of rounds that are shown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import sqlalchemy as sa

from app.extensions import db
from app.feedback import rules
from app.feedback.models import Answer, FeedbackRound, Instrument, Response
from app.feedback.queries import scoring_table
from app.feedback.stats import summary
from app.programme.models import Group, Organisation

BY = ("round", "quarter")

# Why a cell shows no numbers (the template turns each code into a sentence).
BELOW_K = "below_k"  # fewer than k responses in the round (after the profession filter)
COMPLEMENT = "complement"  # the other professions' responses would be fewer than k: they could be worked out
FEW_SCORES = "few_scores"  # k responses, but fewer than k of them score this subscale
REASONS = (BELOW_K, COMPLEMENT, FEW_SCORES)


@dataclass(frozen=True)
class SubscaleInfo:
    """A subscale as trends show it: one instrument code's subscale, whatever the version."""

    key: str
    title: str
    scale_min: int | None
    scale_max: int | None


@dataclass(frozen=True)
class GroupRow:
    """A group with at least one round in view."""

    id: int
    name: str
    organisation: str


@dataclass(frozen=True)
class Cell:
    """One group x column (round number or quarter) x subscale; numbers are None when `suppressed`."""

    group_id: int
    column: int | str
    subscale: str
    responses: int
    n: int
    mean: float | None
    sd: float | None
    ci_low: float | None
    ci_high: float | None
    suppressed: bool
    reason: str | None = None
    rounds: tuple[int, ...] = ()  # the round numbers the cell combines
    left_out: int = 0  # rounds of a quarter left out because they are hidden themselves


@dataclass(frozen=True)
class Heatmap:
    """One subscale's matrix: rows are groups, columns rounds or quarters; None where nothing is shown."""

    subscale: str
    x: list
    y: list[str]
    z: list[list[float | None]]
    n: list[list[int | None]]
    reason: list[list[str | None]]


@dataclass
class ProgrammeTrend:
    """What the programme trends page draws and tabulates."""

    by: str
    k: int
    subscales: list[SubscaleInfo] = field(default_factory=list)
    groups: list[GroupRow] = field(default_factory=list)
    columns: list = field(default_factory=list)
    cells: dict[tuple[int, int | str, str], Cell] = field(default_factory=dict)

    def cell(self, group_id: int, column: int | str, subscale: str) -> Cell | None:
        """The cell, or None when the group has no round (or no such subscale) in that column."""
        return self.cells.get((group_id, column, subscale))

    def heatmap(self, subscale: str) -> Heatmap:
        """The groups x columns matrix of one subscale's means (suppressed and empty cells are None)."""
        z, n, reason = [], [], []
        for g in self.groups:
            row = [self.cell(g.id, c, subscale) for c in self.columns]
            z.append([None if c is None or c.suppressed else c.mean for c in row])
            n.append([None if c is None or c.suppressed else c.n for c in row])
            reason.append([c.reason if c is not None and c.suppressed else None for c in row])
        return Heatmap(subscale, list(self.columns), [g.name for g in self.groups], z, n, reason)

    @property
    def suppressed_count(self) -> int:
        """How many cells are hidden to protect anonymity."""
        return sum(1 for c in self.cells.values() if c.suppressed)


def quarter_of(moment: datetime, zone: tzinfo) -> str:
    """The calendar quarter ("2026-Q1") of a naive-UTC moment, as the deployment's timezone sees it."""
    local = moment.replace(tzinfo=UTC).astimezone(zone)
    return f"{local.year}-Q{(local.month - 1) // 3 + 1}"


def _utc_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def _round_filter(scope_org_id: int | None, organisation_id: int | None, start: date | None, end: date | None,
                  zone: tzinfo, closed_by: datetime | None, group_ids: list[int] | None) -> list:
    where = []
    if scope_org_id is not None:
        where.append(Group.organisation_id == scope_org_id)
    if organisation_id is not None:
        where.append(Group.organisation_id == organisation_id)
    if start is not None:
        where.append(FeedbackRound.opens_at >= _utc_midnight(start, zone))
    if end is not None:
        where.append(FeedbackRound.opens_at < _utc_midnight(end + timedelta(days=1), zone))
    if closed_by is not None:
        where.append(sa.or_(FeedbackRound.status == "closed", FeedbackRound.closes_at <= closed_by))
    if group_ids is not None:
        where.append(FeedbackRound.group_id.in_(group_ids))
    return where


def groups_in_view(scope_org_id: int | None, organisation_id: int | None = None, start: date | None = None,
                   end: date | None = None, zone: tzinfo = UTC) -> sa.Select:
    """The ids of the groups with a round under the filters, by name: the programme page shows them a page at a time."""
    where = _round_filter(scope_org_id, organisation_id, start, end, zone, None, None)
    return (
        sa.select(Group.id).join(FeedbackRound, FeedbackRound.group_id == Group.id).where(*where)
        .group_by(Group.id, Group.name).order_by(Group.name, Group.id)
    )


def _subscale_table(definitions: dict[int, tuple[str, rules.Definition]]) -> tuple[list[tuple], dict]:
    """Scoring rows (instrument id, item, subscale key, size, flip, min + max) and each subscale's info."""
    rows, info = [], {}
    for instrument_id, (code, definition) in sorted(definitions.items()):
        for sub in definition.subscales:
            key = f"{code}/{sub.code}"
            items = [definition.item(c) for c in sub.items]
            numeric = [i for i in items if i is not None and i.is_numeric]
            lows = [i.min for i in numeric if i.min is not None]
            highs = [i.max for i in numeric if i.max is not None]
            # The latest version's title wins (definitions are visited in id order).
            info[key] = (rules.localised(sub.title, "en"), sub, min(lows, default=None), max(highs, default=None))
            for item in numeric:
                rows.append((instrument_id, item.code, key, len(sub.items), 1 if item.reverse else 0,
                             item.min + item.max))
    return rows, info


def _subscale_sums(round_ids: list[int], rows: list[tuple], profession: str | None) -> dict[tuple[int, str], tuple]:
    """{(round id, subscale key): (n, sum, sum of squares)} of per-response subscale scores, in one statement."""
    scoring = scoring_table(rows)
    # The answers of the rounds in view first (responses by round, then answers by response: both indexed),
    # materialised so that PostgreSQL does not start from the scoring table and scan every answer per item.
    picked = (
        sa.select(Response.round_id, Response.instrument_id, Response.profession, Answer.response_id,
                  Answer.item_code, Answer.value)
        .join(Answer, Answer.response_id == Response.id)
        .where(Response.round_id.in_(round_ids), Answer.value.is_not(None))
    )
    if profession is not None:
        picked = picked.where(Response.profession == profession)
    picked = picked.cte("picked").prefix_with("MATERIALIZED", dialect="postgresql")
    # DOMAIN.md: a reverse-scored item on a min..max scale scores min + max - answer.
    scored = sa.case((scoring.c.flip == 1, scoring.c.min_plus_max - picked.c.value), else_=picked.c.value)
    per_response = (
        sa.select(
            picked.c.round_id.label("round_id"),
            scoring.c.subscale.label("subscale"),
            (sa.func.sum(scored) * 1.0 / sa.func.count(picked.c.value)).label("score"),
        )
        .select_from(picked)
        .join(scoring, sa.and_(scoring.c.instrument_id == picked.c.instrument_id,
                               scoring.c.item_code == picked.c.item_code))
        .group_by(picked.c.round_id, picked.c.response_id, scoring.c.subscale, scoring.c.size)
        # A response missing more than half a subscale's items has no score for it.
        .having(sa.func.count(picked.c.value) * 2 >= scoring.c.size)
    )
    per_response = per_response.subquery("per_response")
    score = per_response.c.score
    return {
        (round_id, key): (int(n), float(total or 0.0), float(total_sq or 0.0))
        for round_id, key, n, total, total_sq in db.session.execute(
            sa.select(per_response.c.round_id, per_response.c.subscale, sa.func.count(score), sa.func.sum(score),
                      sa.func.sum(score * score))
            .group_by(per_response.c.round_id, per_response.c.subscale)
        )
    }


def _cell(group_id: int, column: int | str, key: str, responses: int, sums: tuple, k: int,
          reason: str | None, rounds: tuple[int, ...], left_out: int = 0) -> Cell:
    n, total, total_sq = sums
    if reason is None and n < k:
        reason = FEW_SCORES
    if reason is not None:
        return Cell(group_id, column, key, responses, 0, None, None, None, None, True, reason, rounds, left_out)
    mean, sd, low, high = summary(n, total, total_sq)
    return Cell(group_id, column, key, responses, n, mean, sd, low, high, False, None, rounds, left_out)


def programme_trend(
    scope_org_id: int | None, organisation_id: int | None = None, profession: str | None = None,
    start: date | None = None, end: date | None = None, by: str = "round", k: int = 3,
    zone: tzinfo = UTC, locale: str = "en", closed_by: datetime | None = None,
    group_ids: list[int] | None = None, rounds_among: sa.Select | None = None,
) -> ProgrammeTrend:
    """Every group's subscale n, mean, SD and 95% CI per round (or calendar quarter of opens_at).

    `scope_org_id` is the coordinator's own limit (None: programme-wide); `organisation_id`, `profession`,
    `start` and `end` (local dates, inclusive, on opens_at) are the page's filters. A round is shown only
    with k or more responses under the filter, and — when filtering by profession — only if the other
    professions' responses are none or k or more (else subtracting from the unfiltered view gives them away);
    a subscale only with k or more scores. A quarter combines the rounds shown, never a hidden one.
    `closed_by` keeps only rounds closed at that time (early warnings); `group_ids` limits the groups and
    `rounds_among` (a select of round ids) the rounds.
    Raises ValueError on an unknown `by`.
    """
    if by not in BY:
        raise ValueError(f"unknown grouping {by!r}")
    trend = ProgrammeTrend(by=by, k=k)
    where = _round_filter(scope_org_id, organisation_id, start, end, zone, closed_by, group_ids)
    if rounds_among is not None:
        where.append(FeedbackRound.id.in_(rounds_among))
    round_ids = sa.select(FeedbackRound.id).join(Group, Group.id == FeedbackRound.group_id).where(*where)

    # 1. The rounds in view, with their group.
    rounds = db.session.execute(
        sa.select(FeedbackRound.id, FeedbackRound.group_id, FeedbackRound.number, FeedbackRound.opens_at,
                  FeedbackRound.instrument_id, Group.name, Organisation.name)
        .join(Group, Group.id == FeedbackRound.group_id)
        .join(Organisation, Organisation.id == Group.organisation_id)
        .where(*where)
        .order_by(Group.name, Group.id, FeedbackRound.number)
    ).all()
    if not rounds:
        return trend
    # From here on the rounds are named by id: the planner then knows how few they are and reads their
    # responses and answers through the indexes instead of scanning every answer of the programme.
    round_ids = [r.id for r in rounds]
    # 2. The instrument versions the rounds asked and the responses answered.
    asked = {r.instrument_id for r in rounds if r.instrument_id is not None}
    definitions = {
        instrument_id: (code, rules.definition_from_dict(definition))
        for instrument_id, code, definition in db.session.execute(
            sa.select(Instrument.id, Instrument.code, Instrument.definition).where(sa.or_(
                Instrument.id.in_(asked),
                Instrument.id.in_(sa.select(Response.instrument_id).where(Response.round_id.in_(round_ids))),
            ))
        )
    }
    # 3. Responses per round: all, and those of the profession asked for.
    matching = sa.func.count() if profession is None else sa.func.sum(
        sa.case((Response.profession == profession, 1), else_=0))
    counts = {
        round_id: (int(total), int(filtered or 0))
        for round_id, total, filtered in db.session.execute(
            sa.select(Response.round_id, sa.func.count(), matching)
            .where(Response.round_id.in_(round_ids))
            .group_by(Response.round_id)
        )
    }
    # 4. Per round and subscale: n, sum and sum of squares of the response scores.
    rows, info = _subscale_table(definitions)
    keys_of = {iid: [f"{code}/{sub.code}" for sub in d.subscales] for iid, (code, d) in definitions.items()}
    sums = _subscale_sums(round_ids, rows, profession) if rows else {}

    for key, (title_en, sub, low, high) in sorted(info.items()):
        trend.subscales.append(SubscaleInfo(key, rules.localised(sub.title, locale) or title_en, low, high))
    scored_keys: dict[int, set[str]] = defaultdict(set)
    for rid, key in sums:
        scored_keys[rid].add(key)
    seen_groups: dict[int, GroupRow] = {}
    round_cells: list[tuple[Cell, datetime, tuple]] = []
    for round_id, group_id, number, opens_at, instrument_id, group_name, org_name in rounds:
        seen_groups.setdefault(group_id, GroupRow(group_id, group_name, org_name))
        total, filtered = counts.get(round_id, (0, 0))
        reason = None
        if filtered < k:
            reason = BELOW_K
        elif profession is not None and 0 < total - filtered < k:
            reason = COMPLEMENT
        # The subscales the round asked, and any its responses scored (a version changed mid-round).
        keys = set(keys_of.get(instrument_id, ())) | scored_keys.get(round_id, set())
        for key in sorted(keys):
            cell_sums = sums.get((round_id, key), (0, 0.0, 0.0))
            cell = _cell(group_id, number, key, filtered, cell_sums, k, reason, (number,))
            round_cells.append((cell, opens_at, cell_sums))
    trend.groups = list(seen_groups.values())

    if by == "round":
        trend.columns = sorted({c.column for c, _, _ in round_cells})
        trend.cells = {(c.group_id, c.column, c.subscale): c for c, _, _ in round_cells}
    else:
        buckets: dict[tuple[int, str, str], list[tuple[Cell, tuple]]] = defaultdict(list)
        for c, opens_at, cell_sums in round_cells:
            buckets[(c.group_id, quarter_of(opens_at, zone), c.subscale)].append((c, cell_sums))
        for (group_id, quarter, key), members in buckets.items():
            # Only rounds shown on their own are combined: a hidden round must not be recoverable by subtraction.
            shown = [(c, s) for c, s in members if not c.suppressed]
            combined = tuple(sum(s[i] for _, s in shown) for i in range(3)) if shown else (0, 0.0, 0.0)
            reason = None if shown else members[0][0].reason
            trend.cells[(group_id, quarter, key)] = _cell(
                group_id, quarter, key, sum(c.responses for c, _ in shown), combined, k, reason,
                tuple(sorted(c.rounds[0] for c, _ in members)), left_out=len(members) - len(shown),
            )
        trend.columns = sorted({q for _, q, _ in trend.cells})
    return trend
