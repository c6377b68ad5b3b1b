"""A group's trends round by round, in SQL: subscale statistics, participation, attendance and themes.

Every aggregate is one GROUP BY statement over all the group's rounds (or meetings), so the number of
statements is the same whether the group has 5 rounds or 500.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.feedback import rules as feedback_rules
from app.feedback.models import Answer, FeedbackRound, Instrument, Response, RoundMeeting
from app.feedback.queries import scoring_table
from app.feedback.stats import summary
from app.meetings import queries as meeting_queries
from app.meetings.models import Attendance, Theme, meeting_themes
from app.programme.models import Group
from app.scheduling.models import Meeting
from app.trends import rules

SOURCES = ("all", "questionnaire", "interview")
HELD = "held"
CANCELLED = "cancelled"
PRESENT = "present"


@dataclass(frozen=True)
class SubscalePoint:
    """One subscale in one round; the numbers are None when hidden (fewer than k scores)."""

    key: str  # "<instrument code>:<subscale code>": one line across the instrument's versions
    code: str
    title: str
    n: int
    mean: float | None = None
    sd: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    @property
    def hidden(self) -> bool:
        return self.mean is None


@dataclass(frozen=True)
class ItemPoint:
    """One rated item in one round, on its own scale (reverse-scored items as answered)."""

    code: str
    text: str
    reverse: bool
    n: int
    mean: float | None = None
    sd: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass
class RoundTrend:
    """One round: its instrument, who could and did respond, and (at k or more responses) its numbers."""

    id: int
    number: int
    opens_at: datetime
    mode: str
    instrument_code: str | None
    instrument_version: int | None
    instrument_title: str | None
    source_mix: dict[str, int]
    eligible: int
    n: int
    participation: float | None
    suppressed: bool
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

    @property
    def held_share(self) -> float | None:
        decided = self.held + self.cancelled
        return self.held / decided if decided else None


# --- the SQL ---------------------------------------------------------------------------------

def _rounds(group: Group) -> list[FeedbackRound]:
    return list(db.session.scalars(
        sa.select(FeedbackRound)
        .where(FeedbackRound.group_id == group.id)
        .options(so.selectinload(FeedbackRound.instrument), so.lazyload(FeedbackRound.round_meetings))
        .order_by(FeedbackRound.number)
    ).unique())


def _round_ids(group: Group) -> sa.Select:
    return sa.select(FeedbackRound.id).where(FeedbackRound.group_id == group.id)


def _source_filter(sources: str) -> list:
    return [] if sources == "all" else [Response.source == sources]


def _eligible(group: Group) -> dict[int, int]:
    """Per round: the members present at one or more of its meetings."""
    return dict(db.session.execute(
        sa.select(RoundMeeting.round_id, sa.func.count(sa.distinct(Attendance.user_id)))
        .join(Attendance, Attendance.meeting_id == RoundMeeting.meeting_id)
        .where(RoundMeeting.round_id.in_(_round_ids(group)), Attendance.status == PRESENT)
        .group_by(RoundMeeting.round_id)
    ).all())


def _source_mix(group: Group) -> dict[int, dict[str, int]]:
    mix: dict[int, dict[str, int]] = defaultdict(dict)
    for round_id, source, n in db.session.execute(
        sa.select(Response.round_id, Response.source, sa.func.count())
        .where(Response.round_id.in_(_round_ids(group)))
        .group_by(Response.round_id, Response.source)
    ):
        mix[round_id][source] = n
    return mix


def _round_attendance(group: Group) -> dict[int, tuple[int, int]]:
    """Per round: members present and members expected, summed over its held meetings."""
    present = sa.func.sum(sa.case((Attendance.status == PRESENT, 1), else_=0))
    return {
        round_id: (int(n_present or 0), int(expected or 0))
        for round_id, n_present, expected in db.session.execute(
            sa.select(RoundMeeting.round_id, present, sa.func.count(Attendance.id))
            .join(Meeting, Meeting.id == RoundMeeting.meeting_id)
            .join(Attendance, Attendance.meeting_id == Meeting.id)
            .where(RoundMeeting.round_id.in_(_round_ids(group)), Meeting.status == HELD)
            .group_by(RoundMeeting.round_id)
        )
    }


def _meeting_rounds(group: Group) -> dict[int, int]:
    return dict(db.session.execute(
        sa.select(RoundMeeting.meeting_id, FeedbackRound.number)
        .join(FeedbackRound, FeedbackRound.id == RoundMeeting.round_id)
        .where(FeedbackRound.group_id == group.id)
    ).all())


def _response_instruments(group: Group) -> list[Instrument]:
    """The instrument versions the group's responses were given on."""
    used = sa.select(Response.instrument_id).where(Response.round_id.in_(_round_ids(group))).distinct()
    return list(db.session.scalars(sa.select(Instrument).where(Instrument.id.in_(used))))


def _subscale_sums(group: Group, definitions: dict[int, feedback_rules.Definition],
                   sources: str) -> dict[tuple[int, str], tuple[int, float, float]]:
    """Per round and subscale key: count, sum and sum of squares of the per-response subscale scores.

    Scoring as in app.feedback.queries: reverse items flipped (min + max − answer), a response missing more
    than half a subscale's items has no score for it; each response is scored by the version it answered.
    """
    rows = []
    for instrument_id, definition in definitions.items():
        for sub in definition.subscales:
            for code in sub.items:
                item = definition.item(code)
                if item is not None and item.is_numeric:
                    rows.append((instrument_id, code, f"{definition.code}:{sub.code}", len(sub.items),
                                 1 if item.reverse else 0, item.min + item.max))
    if not rows:
        return {}
    scoring = scoring_table(rows)
    scored = sa.case((scoring.c.flip == 1, scoring.c.min_plus_max - Answer.value), else_=Answer.value)
    per_response = (
        sa.select(
            Response.round_id.label("round_id"),
            scoring.c.subscale.label("subscale"),
            (sa.func.sum(scored) * 1.0 / sa.func.count(Answer.value)).label("score"),
        )
        .select_from(Answer)
        .join(Response, Response.id == Answer.response_id)
        .join(scoring, sa.and_(scoring.c.item_code == Answer.item_code,
                               scoring.c.instrument_id == Response.instrument_id))
        .where(Response.round_id.in_(_round_ids(group)), Answer.value.is_not(None), *_source_filter(sources))
        .group_by(Answer.response_id, Response.round_id, scoring.c.subscale, scoring.c.size)
        .having(sa.func.count(Answer.value) * 2 >= scoring.c.size)
        .subquery()
    )
    score = per_response.c.score
    return {
        (round_id, key): (n, float(total or 0.0), float(total_sq or 0.0))
        for round_id, key, n, total, total_sq in db.session.execute(
            sa.select(per_response.c.round_id, per_response.c.subscale, sa.func.count(score),
                      sa.func.sum(score), sa.func.sum(score * score))
            .group_by(per_response.c.round_id, per_response.c.subscale)
        )
    }


def _item_sums(group: Group, sources: str) -> dict[tuple[int, str], tuple[int, float, float]]:
    """Per round and item: count, sum and sum of squares of the answers given (as answered)."""
    value = Answer.value
    return {
        (round_id, code): (n, float(total or 0), float(total_sq or 0))
        for round_id, code, n, total, total_sq in db.session.execute(
            sa.select(Response.round_id, Answer.item_code, sa.func.count(value), sa.func.sum(value),
                      sa.func.sum(value * value))
            .join(Response, Response.id == Answer.response_id)
            .where(Response.round_id.in_(_round_ids(group)), value.is_not(None), *_source_filter(sources))
            .group_by(Response.round_id, Answer.item_code)
        )
    }


def _themes(group: Group, locale: str) -> list[QuarterThemes]:
    """Theme tags of held meetings per calendar quarter (counted per month in SQL, folded here)."""
    year = sa.extract("year", Meeting.starts_at)
    month = sa.extract("month", Meeting.starts_at)
    counts: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for y, m, name_en, name_zh, n in db.session.execute(
        sa.select(year, month, Theme.name_en, Theme.name_zh, sa.func.count())
        .select_from(meeting_themes)
        .join(Meeting, Meeting.id == meeting_themes.c.meeting_id)
        .join(Theme, Theme.id == meeting_themes.c.theme_id)
        .where(Meeting.group_id == group.id, Meeting.status == HELD)
        .group_by(year, month, Theme.id, Theme.name_en, Theme.name_zh)
    ):
        name = name_zh if str(locale).startswith("zh") else name_en
        counts[(int(y), (int(m) - 1) // 3 + 1)][name] += n
    return [
        QuarterThemes(f"{y} Q{q}", sorted(counts[(y, q)].items(), key=lambda pair: (-pair[1], pair[0])))
        for y, q in sorted(counts)
    ]


# --- putting it together ---------------------------------------------------------------------

def _point(n: int, total: float, total_sq: float, k: int) -> tuple:
    """(mean, sd, ci_low, ci_high), all None below k values: a small cell could point at one person."""
    if n < k:
        return None, None, None, None
    return summary(n, total, total_sq)


def _changes(rounds: list[RoundTrend], series: list[Series]) -> list[Change]:
    """First → latest shown round per subscale (the key fixes the instrument code)."""
    changes = []
    for line in series:
        shown = [(r, r.subscale(line.key)) for r in rounds if not r.suppressed]
        shown = [(r, p) for r, p in shown if p is not None and not p.hidden]
        if len(shown) < 2:
            continue
        (first, a), (latest, b) = shown[0], shown[-1]
        effect = None
        if a.sd is not None and b.sd is not None:
            effect = rules.hedges_g(a.n, a.mean, a.sd, b.n, b.mean, b.sd)
        g, low, high = effect if effect is not None else (None, None, None)
        changes.append(Change(
            key=line.key, title=line.title, first_number=first.number, latest_number=latest.number,
            n1=a.n, mean1=a.mean, sd1=a.sd, n2=b.n, mean2=b.mean, sd2=b.sd,
            difference=rules.mean_difference(a.mean, b.mean), g=g, g_low=low, g_high=high,
        ))
    return changes


def group_trend(group: Group, k: int, sources: str = "all", items: bool = False, locale: str = "en") -> GroupTrend:
    """The group's trends: every round with its subscale statistics (hidden below k), the change from the
    first to the latest round, attendance, presenters, held and cancelled meetings, and themes per quarter.

    `sources` limits the responses counted ("questionnaire" or "interview"); `items` adds the item-level
    breakdown. Raises ValueError on an unknown source.
    """
    if sources not in SOURCES:
        raise ValueError(f"unknown source {sources!r}")
    found = _rounds(group)
    fallback = None
    if any(r.instrument is None for r in found):
        from app.feedback.instruments import instrument_for_group

        fallback = instrument_for_group(group)
    instrument_of = {r.id: r.instrument or fallback for r in found}
    instruments = {i.id: i for i in instrument_of.values() if i is not None}
    if found:
        instruments.update({i.id: i for i in _response_instruments(group)})
    definitions = {i: feedback_rules.definition_from_dict(ins.definition) for i, ins in instruments.items()}

    eligible = _eligible(group) if found else {}
    mix = _source_mix(group) if found else {}
    attendance = _round_attendance(group) if found else {}
    sub_sums = _subscale_sums(group, definitions, sources) if found else {}
    item_sums = _item_sums(group, sources) if found and items else {}

    rounds: list[RoundTrend] = []
    series: dict[str, Series] = {}
    previous = None
    for r in found:
        instrument = instrument_of[r.id]
        definition = definitions.get(instrument.id) if instrument is not None else None
        source_mix = mix.get(r.id, {})
        n = sum(source_mix.values()) if sources == "all" else source_mix.get(sources, 0)
        n_eligible = eligible.get(r.id, 0)
        present, expected = attendance.get(r.id, (0, 0))
        version = (instrument.code, instrument.version) if instrument is not None else None
        trend = RoundTrend(
            id=r.id, number=r.number, opens_at=r.opens_at, mode=r.mode,
            instrument_code=instrument.code if instrument else None,
            instrument_version=instrument.version if instrument else None,
            instrument_title=instrument.title(locale) if instrument else None,
            source_mix=source_mix, eligible=n_eligible, n=n,
            participation=n / n_eligible if n_eligible else None, suppressed=n < k,
            version_changed=previous is not None and version != previous, present=present, expected=expected,
        )
        previous = version
        if definition is not None:
            for sub in definition.subscales:
                key = f"{definition.code}:{sub.code}"
                title = feedback_rules.localised(sub.title, locale)
                series[key] = Series(key, sub.code, title, definition.code)  # the latest title wins
                if trend.suppressed:
                    continue
                count, total, total_sq = sub_sums.get((r.id, key), (0, 0.0, 0.0))
                mean, sd, low, high = _point(count, total, total_sq, k)
                trend.subscales.append(SubscalePoint(key, sub.code, title, count, mean, sd, low, high))
            if items and not trend.suppressed:
                for item in definition.rated_items:
                    count, total, total_sq = item_sums.get((r.id, item.code), (0, 0.0, 0.0))
                    mean, sd, low, high = _point(count, total, total_sq, k)
                    trend.items.append(ItemPoint(item.code, feedback_rules.localised(item.text, locale),
                                                 item.reverse, count, mean, sd, low, high))
        rounds.append(trend)

    stats = meeting_queries.attendance_stats(group)
    round_of = _meeting_rounds(group)
    meetings = [
        MeetingPoint(m.meeting_id, m.started_at, m.present, m.expected, round_of.get(m.meeting_id))
        for m in reversed(stats.meetings)
    ]
    series_list = list(series.values())
    return GroupTrend(
        k=k, sources=sources, rounds=rounds, series=series_list, changes=_changes(rounds, series_list),
        meetings=meetings, held=stats.by_status.get(HELD, 0), cancelled=stats.by_status.get(CANCELLED, 0),
        distinct_presenters=stats.distinct_presenters, themes=_themes(group, locale), items_included=items,
    )


def chart_data(trend: GroupTrend) -> dict:
    """The trend as plain JSON for the chart: hidden rounds carry no numbers, only that they are hidden."""

    def point(p: SubscalePoint | None) -> dict | None:
        if p is None or p.hidden:
            return None
        return {"n": p.n, "mean": p.mean, "sd": p.sd, "ci_low": p.ci_low, "ci_high": p.ci_high}

    data = {
        "k": trend.k,
        "sources": trend.sources,
        "rounds": [
            {
                "number": r.number, "opens_at": r.opens_at.date().isoformat(), "mode": r.mode,
                "instrument": r.instrument_code, "version": r.instrument_version,
                "version_changed": r.version_changed, "suppressed": r.suppressed,
                "n": r.n, "eligible": r.eligible, "participation": r.participation,
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
             "g": c.g, "g_low": c.g_low, "g_high": c.g_high}
            for c in trend.changes
        ],
        "meetings": [
            {"date": m.started_at.date().isoformat(), "present": m.present, "expected": m.expected,
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
