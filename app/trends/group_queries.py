"""A group's trends round by round: subscale statistics, participation, attendance and themes.

The answers' statistics come from app.disclosure (closed rounds, k or more responses); attendance and
themes are read here. A fixed number of statements whether the group has 5 rounds or 500.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app import disclosure
from app.accounts.models import User
from app.disclosure import paired as paired_queries
from app.disclosure.queries import subscale_key
from app.extensions import db
from app.feedback import scoring
from app.feedback.models import FeedbackRound, RoundMeeting
from app.feedback.stats import ATTENDANCE_BANDS, Reliability, Slope, band_position, linear_trend
from app.meetings.models import Attendance, MeetingRecord, Theme, meeting_themes
from app.programme.models import Group
from app.scheduling.models import Meeting
from app.timeutil import local_date, local_zone, quarter_of, utcnow
from app.trends import rules

SOURCES = ("all", "questionnaire", "interview")
HELD = "held"
CANCELLED = "cancelled"
PRESENT = "present"


@dataclass(frozen=True)
class SubscalePoint:
    """One subscale in one round; the numbers (n included) are None when `reason` hides them."""

    key: str  # "<instrument code>/<subscale code>": one line across the instrument's versions
    code: str
    title: str
    n: int | None
    mean: float | None = None
    sd: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    reason: str | None = None
    # Cronbach's alpha of the subscale in this round (None when hidden with the point, or `alpha_reason`).
    alpha: Reliability | None = None
    alpha_reason: str | None = None  # an app.disclosure reason when a question of the subscale is hidden

    @property
    def hidden(self) -> bool:
        return self.reason is not None


@dataclass(frozen=True)
class PooledAlpha:
    """Cronbach's alpha of a subscale over the responses of every round of the period whose own alpha is shown."""

    key: str
    title: str
    rounds: tuple[int, ...]  # the numbers of the rounds pooled
    alpha: Reliability


@dataclass(frozen=True)
class BandPoint:
    """A subscale's scores of the respondents of one attendance band, over the rounds of the period that show it."""

    band: str  # "1-2", "3-4", "5" (app.feedback.stats.ATTENDANCE_BANDS)
    n: int | None
    mean: float | None = None
    sd: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    sums: tuple[int, float, float] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class DoseResponse:
    """A subscale by attendance band (meetings of the round attended) and the least-squares slope across bands."""

    key: str
    title: str
    bands: list[BandPoint]
    rounds: tuple[int, ...]  # the numbers of the rounds whose band cells are pooled
    slope: Slope


@dataclass(frozen=True)
class ItemPoint:
    """One rated item in one round, on its own scale (reverse-scored items as answered)."""

    code: str
    text: str
    reverse: bool
    n: int | None
    mean: float | None = None
    sd: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    reason: str | None = None

    @property
    def hidden(self) -> bool:
        return self.reason is not None


@dataclass
class RoundTrend:
    """One round: its instrument, who could and did respond, and (once closed, at k or more) its numbers."""

    id: int
    number: int
    opens_at: datetime
    mode: str
    instrument_code: str | None
    instrument_version: int | None
    instrument_title: str | None
    responses: int  # everyone who answered (participation: shown while open and below k)
    eligible: int
    n: int | None  # responses of the chosen source; None when that count is hidden
    participation: float | None
    suppressed: bool
    reason: str | None = None  # why the round's results are hidden (app.disclosure reasons)
    version_changed: bool = False
    present: int = 0
    expected: int = 0
    subscales: list[SubscalePoint] = field(default_factory=list)
    items: list[ItemPoint] = field(default_factory=list)

    @property
    def attendance_rate(self) -> float | None:
        return self.present / self.expected if self.expected else None

    def subscale(self, key: str) -> SubscalePoint | None:
        return next((s for s in self.subscales if s.key == key), None)


@dataclass(frozen=True)
class Series:
    """A subscale followed across rounds (one chart)."""

    key: str
    code: str
    title: str
    instrument_code: str


@dataclass(frozen=True)
class Change:
    """The change of one subscale from its first to its latest shown round (same instrument code)."""

    key: str
    title: str
    first_number: int
    latest_number: int
    n1: int
    mean1: float
    sd1: float | None
    n2: int
    mean2: float
    sd2: float | None
    difference: float
    g: float | None
    g_low: float | None
    g_high: float | None
    g_reason: str | None = None  # why g is None: rules.NO_VARIATION or rules.TOO_FEW


@dataclass(frozen=True)
class MeetingPoint:
    """Attendance at one held meeting."""

    meeting_id: int
    started_at: datetime
    present: int
    expected: int
    round_number: int | None

    @property
    def rate(self) -> float | None:
        return self.present / self.expected if self.expected else None


@dataclass(frozen=True)
class QuarterThemes:
    """The theme tags of the held meetings of one calendar quarter, most used first."""

    label: str  # e.g. "2026 Q1"
    themes: list[tuple[str, int]]


@dataclass
class GroupTrend:
    """Everything the group's trends page and its chart show."""

    k: int
    sources: str
    rounds: list[RoundTrend]
    series: list[Series]
    changes: list[Change]
    meetings: list[MeetingPoint]
    held: int
    cancelled: int
    distinct_presenters: int
    themes: list[QuarterThemes]
    items_included: bool = False
    total_rounds: int = 0  # every round of the group; `rounds` holds the period shown
    pairs: list = field(default_factory=list)  # paired_queries.RoundPair of consecutive rounds asking for codes
    reliability: list[PooledAlpha] = field(default_factory=list)
    attendance_asked: bool = False  # whether a round of the period asked the standard attendance question
    by_attendance: list[DoseResponse] = field(default_factory=list)
    attendance_hidden: list[tuple[int, str]] = field(default_factory=list)  # (round number, reason) left out

    @property
    def limited(self) -> bool:
        """Whether older rounds are left out of the period shown."""
        return len(self.rounds) < self.total_rounds

    @property
    def held_share(self) -> float | None:
        decided = self.held + self.cancelled
        return self.held / decided if decided else None


# --- the SQL (none of it reads answers: those come from app.disclosure) ----------------------

def _rounds(group: Group, last: int | None) -> tuple[list[FeedbackRound], int]:
    """The group's rounds by number — all, or the `last` most recent — and how many it has in all (one statement:
    the count is a window over every round, taken before the limit)."""
    query = (
        sa.select(FeedbackRound, sa.func.count().over().label("total"))
        .where(FeedbackRound.group_id == group.id)
        .options(so.selectinload(FeedbackRound.instrument), so.lazyload(FeedbackRound.round_meetings))
        .order_by(FeedbackRound.number.desc())
    )
    if last is not None:
        query = query.limit(last)
    rows = db.session.execute(query).unique().all()
    return [r for r, _total in reversed(rows)], (rows[0][1] if rows else 0)


def _round_attendance(round_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """Per round: the members present at one or more of its meetings (eligible to respond), and members present
    and members expected summed over its held meetings. One statement."""
    is_present = Attendance.status == PRESENT
    is_held = Meeting.status == HELD
    return {
        round_id: (int(eligible or 0), int(n_present or 0), int(expected or 0))
        for round_id, eligible, n_present, expected in db.session.execute(
            sa.select(RoundMeeting.round_id,
                      sa.func.count(sa.distinct(sa.case((is_present, Attendance.user_id)))),
                      sa.func.sum(sa.case((sa.and_(is_held, is_present), 1), else_=0)),
                      sa.func.sum(sa.case((is_held, 1), else_=0)))
            .join(Meeting, Meeting.id == RoundMeeting.meeting_id)
            .join(Attendance, Attendance.meeting_id == Meeting.id)
            .where(RoundMeeting.round_id.in_(round_ids))
            .group_by(RoundMeeting.round_id)
        )
    }


def _attendance(group: Group, first_round: int | None) -> tuple[dict[str, int], list[MeetingPoint], int]:
    """The group's meetings by status; attendance at each held meeting (oldest first) with the number of the
    group's round that covers it — every held meeting, or, with `first_round`, the first held meeting of that
    round or a later one and every meeting after it; and how many people presented at its held meetings (the
    whole history). Three statements (what app.meetings.queries.attendance_stats gives, without the totals and
    the presenters' names this page does not show, and attendance counted only for the meetings shown)."""
    by_status = dict(db.session.execute(
        sa.select(Meeting.status, sa.func.count()).where(Meeting.group_id == group.id).group_by(Meeting.status)
    ).all())
    held = db.session.execute(
        sa.select(Meeting.id, MeetingRecord.started_at, FeedbackRound.number, User.id)
        .join(MeetingRecord, MeetingRecord.meeting_id == Meeting.id)
        .outerjoin(User, User.id == MeetingRecord.presenter_id)
        # A meeting is covered by one round at most (round_meetings.meeting_id is unique).
        .outerjoin(RoundMeeting, RoundMeeting.meeting_id == Meeting.id)
        .outerjoin(FeedbackRound, sa.and_(FeedbackRound.id == RoundMeeting.round_id,
                                          FeedbackRound.group_id == group.id))
        .where(Meeting.group_id == group.id, Meeting.status == HELD)
        .order_by(MeetingRecord.started_at, Meeting.id)
    ).all()
    presenters = len({presenter for *_rest, presenter in held if presenter is not None})
    if first_round is not None:
        # The period starts with the first shown round: its meetings and every later one.
        start = next((i for i, row in enumerate(held) if row[2] is not None and row[2] >= first_round), len(held))
        held = held[start:]
    counts: dict[int, tuple[int, int]] = {}
    if held:
        present = sa.func.sum(sa.case((Attendance.status == PRESENT, 1), else_=0))
        counts = {
            meeting_id: (int(n_present or 0), int(expected or 0))
            for meeting_id, n_present, expected in db.session.execute(
                sa.select(Attendance.meeting_id, present, sa.func.count(Attendance.id))
                .where(Attendance.meeting_id.in_([row[0] for row in held]))
                .group_by(Attendance.meeting_id)
            )
        }
    meetings = [MeetingPoint(meeting_id, started_at, *counts.get(meeting_id, (0, 0)), number)
                for meeting_id, started_at, number, _presenter in held]
    return by_status, meetings, presenters


def _themes(group: Group, locale: str) -> list[QuarterThemes]:
    """Theme tags of held meetings per calendar quarter of the meeting's local date.

    The group's tagged meetings are few (two a month), so their (start, theme) pairs are read and put in
    quarters here, in the deployment's timezone: SQL on the stored UTC times would put a meeting at 00:30 on
    1 April into the first quarter.
    """
    counts: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    zone = local_zone()
    chinese = str(locale).startswith("zh")
    for starts_at, name_en, name_zh in db.session.execute(
        sa.select(Meeting.starts_at, Theme.name_en, Theme.name_zh)
        .select_from(meeting_themes)
        .join(Meeting, Meeting.id == meeting_themes.c.meeting_id)
        .join(Theme, Theme.id == meeting_themes.c.theme_id)
        .where(Meeting.group_id == group.id, Meeting.status == HELD)
    ):
        counts[quarter_of(local_date(starts_at, zone))][name_zh if chinese else name_en] += 1
    return [
        QuarterThemes(f"{y} Q{q}", sorted(counts[(y, q)].items(), key=lambda pair: (-pair[1], pair[0])))
        for y, q in sorted(counts)
    ]


# --- putting it together ---------------------------------------------------------------------

def _point(key: str, code: str, title: str, stat: disclosure.Stat, item_stats: list[disclosure.Stat]
           ) -> SubscalePoint:
    alpha, alpha_reason = (None, None) if stat.hidden else disclosure.alpha_of(stat, item_stats)
    return SubscalePoint(key, code, title, stat.n, stat.mean, stat.sd, stat.ci_low, stat.ci_high, stat.reason,
                         alpha, alpha_reason)


def _by_attendance(rounds: list[RoundTrend], series: list[Series], cells: dict[int, disclosure.AttendanceCells],
                   asking: set[int]) -> tuple[list[DoseResponse], list[tuple[int, str]]]:
    """Per subscale, its band cells summed over the rounds that publish them (only shown cells add up), the slope
    across bands; and the rounds that asked the question (ids in `asking`) but publish no band, with the reason."""
    hidden = [(r.number, cells[r.id].reason) for r in rounds
              if r.id in asking and r.id in cells and cells[r.id].reason]
    out = []
    for line in series:
        bands, numbers = [], set()
        for band, _low, _high in ATTENDANCE_BANDS:
            stats = []
            for r in rounds:
                stat = cells[r.id].cells.get((band, line.key)) if r.id in cells else None
                if stat is not None and stat.shown:
                    stats.append(stat)
                    numbers.add(r.number)
            pooled = disclosure.combine(stats) if stats else None
            if pooled is None or pooled.hidden:
                bands.append(BandPoint(band, None))
            else:
                bands.append(BandPoint(band, pooled.n, pooled.mean, pooled.sd, pooled.ci_low, pooled.ci_high,
                                       pooled.sums))
        if not numbers:
            continue
        slope = linear_trend([(band_position(b.band), b.sums) for b in bands if b.sums is not None])
        out.append(DoseResponse(line.key, line.title, bands, tuple(sorted(numbers)), slope))
    return out, hidden


def _pooled(series: list[Series], cells: dict[str, list[tuple[int, tuple[str, ...], disclosure.Stat,
                                                                  list[disclosure.Stat]]]]) -> list[PooledAlpha]:
    """Per subscale, alpha over the rounds of the period asking the latest version's questions, where shown."""
    out = []
    for line in series:
        found = cells.get(line.key, [])
        if not found:
            continue
        codes = found[-1][1]
        kept = [(number, score, items) for number, its, score, items in found
                if its == codes and score.shown and all(i.shown for i in items)]
        if not kept:
            continue
        alpha = disclosure.pooled_alpha((score, items) for _n, score, items in kept)
        out.append(PooledAlpha(line.key, line.title, tuple(n for n, _s, _i in kept), alpha))
    return out


def _changes(rounds: list[RoundTrend], series: list[Series]) -> list[Change]:
    """First → latest shown round per subscale (the key fixes the instrument code), from published cells only."""
    changes = []
    for line in series:
        shown = [(r, p) for r in rounds if not r.suppressed
                 for p in [r.subscale(line.key)] if p is not None and not p.hidden]
        if len(shown) < 2:
            continue
        (first, a), (latest, b) = shown[0], shown[-1]
        effect = rules.effect_size(a.n, a.mean, a.sd, b.n, b.mean, b.sd)
        changes.append(Change(
            key=line.key, title=line.title, first_number=first.number, latest_number=latest.number,
            n1=a.n, mean1=a.mean, sd1=a.sd, n2=b.n, mean2=b.mean, sd2=b.sd,
            difference=rules.mean_difference(a.mean, b.mean), g=effect.g, g_low=effect.low, g_high=effect.high,
            g_reason=effect.reason,
        ))
    return changes


def group_trend(group: Group, k: int, sources: str = "all", items: bool = False, locale: str = "en",
                now: datetime | None = None, last: int | None = None) -> GroupTrend:
    """The group's trends: every round with its subscale statistics (as far as app.disclosure publishes them),
    the change from the first to the latest shown round, attendance, presenters, held and cancelled meetings,
    and themes per quarter.

    Rounds still open at `now` (default: the current time) show participation only. `sources` limits the
    responses counted ("questionnaire" or "interview"); `items` adds the item-level breakdown; `last` keeps
    only the most recent rounds (None: every round) — the rounds' table, chart, change and attendance per
    meeting then all cover those rounds (meetings from the first shown round's on). Raises ValueError on an
    unknown source or a `last` below 1.
    """
    if sources not in SOURCES:
        raise ValueError(f"unknown source {sources!r}")
    if last is not None and last < 1:
        raise ValueError(f"last must be 1 or more, not {last!r}")
    now = now or utcnow()
    found, total_rounds = _rounds(group, last)
    fallback = None
    if any(r.instrument is None for r in found):
        from app.feedback.services.instruments import instrument_for_group

        fallback = instrument_for_group(group)
    instrument_of = {r.id: r.instrument or fallback for r in found}
    dimension, category = (None, None) if sources == "all" else (disclosure.SOURCE, sources)
    # Question sums are read always: a subscale's alpha is made of its questions' spreads.
    release = disclosure.Release(found, k=k, now=now, split=dimension is not None, items=True)
    instruments = {i.id: i for i in instrument_of.values() if i is not None}
    instruments.update(release.instruments)
    # The release has parsed the versions its rounds' responses answered; the others (rounds nobody answered) here.
    definitions = {i: release.definitions.get(i) or scoring.definition_from_dict(ins.definition)
                   for i, ins in instruments.items()}

    round_ids = [r.id for r in found]
    attendance = _round_attendance(round_ids) if found else {}

    rounds: list[RoundTrend] = []
    series: dict[str, Series] = {}
    alpha_cells: dict[str, list] = defaultdict(list)
    previous = None
    for r in found:
        instrument = instrument_of[r.id]
        definition = definitions.get(instrument.id) if instrument is not None else None
        responses = release.participation(r.id)
        cell = release.stat(r.id, disclosure.RESPONSES, dimension, category)
        n_eligible, present, expected = attendance.get(r.id, (0, 0, 0))
        version = (instrument.code, instrument.version) if instrument is not None else None
        trend = RoundTrend(
            id=r.id, number=r.number, opens_at=r.opens_at, mode=r.mode,
            instrument_code=instrument.code if instrument else None,
            instrument_version=instrument.version if instrument else None,
            instrument_title=instrument.title(locale) if instrument else None,
            responses=responses, eligible=n_eligible, n=cell.n,
            participation=responses / n_eligible if n_eligible else None, suppressed=cell.hidden,
            reason=cell.reason, version_changed=previous is not None and version != previous, present=present,
            expected=expected,
        )
        previous = version
        if definition is not None:
            for sub in definition.subscales:
                key = subscale_key(definition.code, sub.code)
                title = scoring.localised(sub.title, locale)
                series[key] = Series(key, sub.code, title, definition.code)  # the latest title wins
                if trend.suppressed:
                    continue
                stat = release.stat(r.id, disclosure.subscale_measure(key), dimension, category)
                item_stats = [] if stat.hidden else [
                    release.stat(r.id, disclosure.item_measure(code), dimension, category) for code in sub.items]
                trend.subscales.append(_point(key, sub.code, title, stat, item_stats))
                if stat.shown:
                    alpha_cells[key].append((r.number, tuple(sub.items), stat, item_stats))
            if items and not trend.suppressed:
                for item in definition.rated_items:
                    stat = release.stat(r.id, disclosure.item_measure(item.code), dimension, category)
                    trend.items.append(ItemPoint(item.code, scoring.localised(item.text, locale),
                                                 item.reverse, stat.n, stat.mean, stat.sd, stat.ci_low,
                                                 stat.ci_high, stat.reason))
        rounds.append(trend)

    by_status, meetings, presenters = _attendance(
        group, rounds[0].number if rounds and len(rounds) < total_rounds else None)
    series_list = list(series.values())
    attendance_codes = sorted({d.attendance_item.code for d in definitions.values() if d.attendance_item})
    by_attendance, attendance_hidden = [], []
    if attendance_codes:
        asking = {r.id for r in found if instrument_of[r.id] is not None
                  and definitions[instrument_of[r.id].id].attendance_item is not None}
        by_attendance, attendance_hidden = _by_attendance(
            rounds, series_list, disclosure.attendance_cells(release, attendance_codes), asking)
    return GroupTrend(
        k=k, sources=sources, rounds=rounds, series=series_list, changes=_changes(rounds, series_list),
        meetings=meetings, held=by_status.get(HELD, 0), cancelled=by_status.get(CANCELLED, 0),
        distinct_presenters=presenters, themes=_themes(group, locale), items_included=items,
        total_rounds=total_rounds,
        pairs=paired_queries.group_pairs(
            found, {r.id: definitions[instrument_of[r.id].id] for r in found if instrument_of[r.id] is not None},
            k=k, now=now, locale=locale),
        reliability=_pooled(series_list, alpha_cells),
        attendance_asked=bool(attendance_codes), by_attendance=by_attendance, attendance_hidden=attendance_hidden,
    )


def alpha_json(point: SubscalePoint) -> dict:
    """A shown point's alpha as JSON: alpha, its Feldt 95% CI and whether it is below 0.7 (all null without one)."""
    a = point.alpha
    if a is None or a.alpha is None:
        return {"alpha": None, "alpha_low": None, "alpha_high": None, "alpha_flagged": None}
    return {"alpha": a.alpha, "alpha_low": a.low, "alpha_high": a.high, "alpha_flagged": a.flagged}


def chart_data(trend: GroupTrend) -> dict:
    """The trend as plain JSON for the chart: hidden rounds carry no numbers, only that they are hidden."""

    def point(p: SubscalePoint | None) -> dict | None:
        if p is None or p.hidden:
            return None
        return {"n": p.n, "mean": p.mean, "sd": p.sd, "ci_low": p.ci_low, "ci_high": p.ci_high, **alpha_json(p)}

    data = {
        "k": trend.k,
        "sources": trend.sources,
        "total_rounds": trend.total_rounds,
        "rounds": [
            {
                "number": r.number, "opens_at": local_date(r.opens_at).isoformat(), "mode": r.mode,
                "instrument": r.instrument_code, "version": r.instrument_version,
                "version_changed": r.version_changed, "suppressed": r.suppressed, "reason": r.reason,
                "responses": r.responses, "n": r.n, "eligible": r.eligible, "participation": r.participation,
                "attendance_rate": r.attendance_rate,
            }
            for r in trend.rounds
        ],
        "series": [
            {"key": s.key, "title": s.title,
             "points": [None if r.suppressed else point(r.subscale(s.key)) for r in trend.rounds]}
            for s in trend.series
        ],
        "changes": [
            {"key": c.key, "first": c.first_number, "latest": c.latest_number, "difference": c.difference,
             "g": c.g, "g_low": c.g_low, "g_high": c.g_high, "g_reason": c.g_reason}
            for c in trend.changes
        ],
        "reliability": [
            {"key": a.key, "rounds": list(a.rounds), "n": a.alpha.n, "alpha": a.alpha.alpha, "alpha_low": a.alpha.low,
             "alpha_high": a.alpha.high, "alpha_flagged": a.alpha.flagged if a.alpha.computable else None}
            for a in trend.reliability
        ],
        "by_attendance": [
            {"key": d.key, "rounds": list(d.rounds),
             "bands": [{"band": b.band, "n": b.n, "mean": b.mean, "sd": b.sd, "ci_low": b.ci_low,
                        "ci_high": b.ci_high} for b in d.bands],
             "slope": d.slope.slope, "slope_low": d.slope.low, "slope_high": d.slope.high}
            for d in trend.by_attendance
        ],
        "meetings": [
            {"date": local_date(m.started_at).isoformat(), "present": m.present, "expected": m.expected,
             "rate": m.rate, "round": m.round_number}
            for m in trend.meetings
        ],
    }
    if trend.items_included:
        data["items"] = [
            None if r.suppressed else [
                {"code": i.code, "n": i.n, "mean": i.mean, "sd": i.sd, "ci_low": i.ci_low, "ci_high": i.ci_high}
                for i in r.items
            ]
            for r in trend.rounds
        ]
    return data
