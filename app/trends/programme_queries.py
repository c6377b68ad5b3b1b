"""Programme trends: every group's subscale results by round or by calendar quarter, and heat maps.

A page costs the same few statements whatever the number of groups and rounds: the rounds in view, then
app.disclosure's (instrument versions, response counts, per-round subscale sums). Quarters add up the
per-round sums (n, sum, sum of squares add up exactly) of rounds that are shown, through app.disclosure.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import sqlalchemy as sa
import sqlalchemy.orm as so

from app import disclosure
from app.disclosure.queries import subscale_key
from app.extensions import db
from app.feedback import scoring
from app.feedback.models import FeedbackRound
from app.feedback.stats import Reliability
from app.programme.models import Group, Organisation
from app.timeutil import local_zone, utcnow

BY = ("round", "quarter")

# Why a cell shows no numbers (the template turns each code into a sentence): app.disclosure's reasons.
BELOW_K = disclosure.BELOW_K  # fewer than k responses in the round (after the profession filter)
COMPLEMENT = disclosure.COMPLEMENT  # another profession of the round gave fewer than k: it could be worked out
FEW_SCORES = disclosure.FEW_SCORES  # k responses, but fewer than k of them score this subscale
OPEN = disclosure.OPEN  # the round is still open
PARTIAL = disclosure.PARTIAL  # (questions only) someone answered part of their subscale
REASONS = disclosure.REASONS


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
    responses: int | None
    n: int | None
    mean: float | None
    sd: float | None
    ci_low: float | None
    ci_high: float | None
    suppressed: bool
    reason: str | None = None
    rounds: tuple[int, ...] = ()  # the round numbers the cell combines
    left_out: int = 0  # rounds of a quarter left out because they are hidden themselves
    # The published cells behind the numbers (app.disclosure), for sums over several cells.
    stat: disclosure.Stat | None = field(default=None, repr=False, compare=False)
    responses_stat: disclosure.Stat | None = field(default=None, repr=False, compare=False)


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
                   end: date | None = None, zone: tzinfo | None = None) -> sa.Select:
    """The ids of the groups with a round under the filters, by name: the programme page shows them a page at a time."""
    zone = zone or local_zone()
    where = _round_filter(scope_org_id, organisation_id, start, end, zone, None, None)
    return (
        sa.select(Group.id).join(FeedbackRound, FeedbackRound.group_id == Group.id).where(*where)
        .group_by(Group.id, Group.name).order_by(Group.name, Group.id)
    )


def _subscale_infos(definitions: dict[int, scoring.Definition], locale: str) -> list[SubscaleInfo]:
    """Each subscale key of these instrument versions with its title (the latest version's) and range."""
    info: dict[str, SubscaleInfo] = {}
    for _instrument_id, definition in sorted(definitions.items()):
        for sub in definition.subscales:
            items = [definition.item(c) for c in sub.items]
            numeric = [i for i in items if i is not None and i.is_numeric]
            lows = [i.min for i in numeric if i.min is not None]
            highs = [i.max for i in numeric if i.max is not None]
            key = subscale_key(definition.code, sub.code)
            title = scoring.localised(sub.title, locale) or scoring.localised(sub.title, "en")
            info[key] = SubscaleInfo(key, title, min(lows, default=None), max(highs, default=None))
    return [info[key] for key in sorted(info)]


def _cell(group_id: int, column: int | str, key: str, responses: disclosure.Stat, stat: disclosure.Stat,
          rounds: tuple[int, ...], left_out: int = 0) -> Cell:
    """A table cell from a published cell of the subscale (and of the count of responses under the filter)."""
    reason = responses.reason or stat.reason
    if reason is not None:
        return Cell(group_id, column, key, None, None, None, None, None, None, True, reason, rounds, left_out,
                    stat=stat)
    return Cell(group_id, column, key, responses.n, stat.n, stat.mean, stat.sd, stat.ci_low, stat.ci_high, False,
                None, rounds, left_out, stat=stat, responses_stat=responses)


def programme_trend(
    scope_org_id: int | None, organisation_id: int | None = None, profession: str | None = None,
    start: date | None = None, end: date | None = None, by: str = "round", k: int = 3,
    zone: tzinfo | None = None, locale: str = "en", closed_by: datetime | None = None,
    group_ids: list[int] | None = None, rounds_among: sa.Select | None = None, now: datetime | None = None,
) -> ProgrammeTrend:
    """Every group's subscale n, mean, SD and 95% CI per round (or calendar quarter of opens_at, local time).

    `scope_org_id` is the coordinator's own limit (None: programme-wide); `organisation_id`, `profession`,
    `start` and `end` (local dates, inclusive, on opens_at) are the page's filters. What is shown is decided by
    app.disclosure: a round once closed, with k or more responses under the filter, a profession only when
    that round publishes its split by profession (every profession of it k or more), a subscale only with k
    or more scores. A quarter adds up the rounds shown, never a hidden one. `closed_by` keeps only rounds
    closed at that time (early warnings); `group_ids` limits the groups and `rounds_among` (a select of round
    ids) the rounds; rounds open at `now` (default: the current time) show no numbers. Quarters are the
    deployment's (`zone`, default APP_TIMEZONE), never UTC's.
    Raises ValueError on an unknown `by`.
    """
    if by not in BY:
        raise ValueError(f"unknown grouping {by!r}")
    now = now or utcnow()
    zone = zone or local_zone()
    trend = ProgrammeTrend(by=by, k=k)
    where = _round_filter(scope_org_id, organisation_id, start, end, zone, closed_by, group_ids)
    if rounds_among is not None:
        where.append(FeedbackRound.id.in_(rounds_among))
    # 1. The rounds in view, with their group.
    found = db.session.execute(
        sa.select(FeedbackRound, Group.name, Organisation.name)
        .join(Group, Group.id == FeedbackRound.group_id)
        .join(Organisation, Organisation.id == Group.organisation_id)
        .where(*where)
        .options(so.lazyload(FeedbackRound.round_meetings), so.raiseload(FeedbackRound.group))
        .order_by(Group.name, Group.id, FeedbackRound.number)
    ).all()
    if not found:
        return trend
    rounds = [r for r, _g, _o in found]
    # 2. Every published cell of these rounds (app.disclosure: instruments, counts, subscale sums).
    dimension = disclosure.PROFESSION if profession is not None else None
    release = disclosure.Release(rounds, k=k, now=now, split=dimension is not None)
    trend.subscales = _subscale_infos(release.definitions, locale)
    keys_of = {iid: [subscale_key(d.code, sub.code) for sub in d.subscales]
               for iid, d in release.definitions.items()}
    answered = release.subscale_keys()

    seen_groups: dict[int, GroupRow] = {}
    round_cells: list[tuple[Cell, datetime]] = []
    for r, group_name, org_name in found:
        seen_groups.setdefault(r.group_id, GroupRow(r.group_id, group_name, org_name))
        responses = release.stat(r.id, disclosure.RESPONSES, dimension, profession)
        # The subscales the round asked, and any its responses scored (a version changed mid-round).
        keys = set(keys_of.get(r.instrument_id, ())) | answered.get(r.id, set())
        for key in sorted(keys):
            stat = release.stat(r.id, disclosure.subscale_measure(key), dimension, profession)
            round_cells.append((_cell(r.group_id, r.number, key, responses, stat, (r.number,)), r.opens_at))
    trend.groups = list(seen_groups.values())

    if by == "round":
        trend.columns = sorted({c.column for c, _ in round_cells})
        trend.cells = {(c.group_id, c.column, c.subscale): c for c, _ in round_cells}
    else:
        buckets: dict[tuple[int, str, str], list[Cell]] = defaultdict(list)
        for c, opens_at in round_cells:
            buckets[(c.group_id, quarter_of(opens_at, zone), c.subscale)].append(c)
        for (group_id, quarter, key), members in buckets.items():
            # Only cells shown on their own are added up: a hidden one must not be recoverable by subtraction.
            shown = [c for c in members if not c.suppressed]
            stat = release.combine([c.stat for c in members])
            responses = release.combine([c.responses_stat for c in shown]) if shown else stat
            trend.cells[(group_id, quarter, key)] = _cell(
                group_id, quarter, key, responses, stat, tuple(sorted(c.rounds[0] for c in members)),
                left_out=len(members) - len(shown),
            )
        trend.columns = sorted({q for _, q, _ in trend.cells})
    return trend


@dataclass(frozen=True)
class ProgrammeAlpha:
    """Cronbach's alpha of one subscale pooled over the responses of the rounds in view whose own alpha is shown,
    with its 95% CI (Feldt); `left_out` rounds asked the subscale but show no alpha of their own."""

    key: str
    title: str
    rounds: int
    groups: int
    left_out: int
    alpha: Reliability

    @property
    def flagged(self) -> bool:
        """Alpha below 0.7 (app.feedback.stats.ALPHA_FLAG)."""
        return self.alpha.flagged


def programme_reliability(
    scope_org_id: int | None, organisation_id: int | None = None, profession: str | None = None,
    start: date | None = None, end: date | None = None, k: int = 3, zone: tzinfo | None = None,
    locale: str = "en", closed_by: datetime | None = None, group_ids: list[int] | None = None,
    rounds_among: sa.Select | None = None, now: datetime | None = None,
) -> list[ProgrammeAlpha]:
    """Per subscale, Cronbach's alpha over every round in view (the same filters as `programme_trend`), by key.

    A round enters only where app.disclosure shows its alpha on its own — its subscale cell and every question of
    the subscale shown under the filter (`disclosure.pooled_alpha`, the group trends' policy) — and only rounds
    asking the same questions as the latest such round. A subscale no round shows is left out. The rounds, then
    app.disclosure's few statements, whatever the number of groups and rounds.
    """
    now = now or utcnow()
    zone = zone or local_zone()
    where = _round_filter(scope_org_id, organisation_id, start, end, zone, closed_by, group_ids)
    if rounds_among is not None:
        where.append(FeedbackRound.id.in_(rounds_among))
    rounds = list(db.session.scalars(
        sa.select(FeedbackRound)
        .join(Group, Group.id == FeedbackRound.group_id)
        .where(*where)
        .options(so.lazyload(FeedbackRound.round_meetings))
        .order_by(FeedbackRound.opens_at, FeedbackRound.id)
    ))
    if not rounds:
        return []
    dimension = disclosure.PROFESSION if profession is not None else None
    release = disclosure.Release(rounds, k=k, now=now, split=dimension is not None, items=True)
    titles = {info.key: info.title for info in _subscale_infos(release.definitions, locale)}
    asked: dict[str, int] = defaultdict(int)
    cells: dict[str, list[tuple[int, tuple[str, ...], disclosure.Stat, list[disclosure.Stat]]]] = defaultdict(list)
    for r in rounds:
        definition = release.definitions.get(r.instrument_id)
        if definition is None:
            continue
        for sub in definition.subscales:
            key = subscale_key(definition.code, sub.code)
            asked[key] += 1
            score = release.stat(r.id, disclosure.subscale_measure(key), dimension, profession)
            if score.hidden:
                continue
            items = [release.stat(r.id, disclosure.item_measure(code), dimension, profession) for code in sub.items]
            if all(item.shown for item in items):
                cells[key].append((r.group_id, tuple(sub.items), score, items))
    out = []
    for key in sorted(cells):
        codes = cells[key][-1][1]
        kept = [(gid, score, items) for gid, its, score, items in cells[key] if its == codes]
        alpha = disclosure.pooled_alpha((score, items) for _gid, score, items in kept)
        if alpha is None:
            continue
        out.append(ProgrammeAlpha(key, titles.get(key, key), len(kept), len({gid for gid, _s, _i in kept}),
                                  asked[key] - len(kept), alpha))
    return out
