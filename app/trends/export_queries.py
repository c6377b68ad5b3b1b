"""Read-only rows for exports and the quarterly programme report: round aggregates, anonymised responses,
meetings and attendance per group — every number behind the anonymity threshold k."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.feedback import rules
from app.feedback.models import Answer, FeedbackRound, Instrument, Response, RoundMeeting
from app.feedback.queries import (
    INTERVIEW_NOTES,
    SubscaleSummary,
    round_results,
    subscale_summaries,
    subscale_sums_by_round,
)
from app.meetings.models import Attendance
from app.programme.models import Group, Organisation
from app.scheduling.models import Meeting

_random = random.SystemRandom()


@dataclass(frozen=True)
class Filters:
    """What an export covers: the coordinator's scope, optionally one group and a period of rounds opened.

    `since` and `before` are naive UTC bounds on the round's opening time ([since, before)).
    """

    scope: int | None = None  # organisation id, None for programme-wide
    group_id: int | None = None
    since: datetime | None = None
    before: datetime | None = None


@dataclass
class AggregateRow:
    """One round with its counts; `subscales` is empty when the round is below k (suppressed)."""

    group_id: int
    group: str
    organisation: str
    round_number: int
    opened: datetime
    closed: datetime | None
    instrument_code: str | None
    instrument_version: int | None
    source: str
    eligible: int | None  # None, like every number, when suppressed
    responses: int | None
    participation: float | None
    suppressed: bool
    subscales: list[SubscaleSummary] = field(default_factory=list)
    # Each subscale's possible range (lowest item minimum, highest item maximum), for charts.
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class ResponseRow:
    """One answer of an anonymised response; `row` is a random per-export number shared by a response's answers."""

    row: int
    group: str
    organisation: str
    round_number: int
    instrument_code: str | None
    instrument_version: int | None
    source: str
    item_code: str
    item_text: str
    value: int | None
    text: str | None


def _round_query(filters: Filters) -> sa.Select:
    """The rounds the filters cover, by organisation, group and number."""
    query = (
        sa.select(FeedbackRound)
        .join(Group, Group.id == FeedbackRound.group_id)
        .join(Organisation, Organisation.id == Group.organisation_id)
        .order_by(Organisation.name, Group.name, FeedbackRound.number)
    )
    if filters.scope is not None:
        query = query.where(Group.organisation_id == filters.scope)
    if filters.group_id is not None:
        query = query.where(Group.id == filters.group_id)
    if filters.since is not None:
        query = query.where(FeedbackRound.opens_at >= filters.since)
    if filters.before is not None:
        query = query.where(FeedbackRound.opens_at < filters.before)
    return query


def _rounds(filters: Filters) -> list[FeedbackRound]:
    return list(db.session.scalars(_round_query(filters).options(
        so.joinedload(FeedbackRound.group).joinedload(Group.organisation),
        # selectin: each instrument (and its large JSON definition) is read once, not once per round
        so.selectinload(FeedbackRound.instrument),
    )))


def _instrument(feedback_round: FeedbackRound) -> Instrument | None:
    from app.feedback.responses import round_instrument

    return round_instrument(feedback_round)


def subscale_ranges(definition: rules.Definition) -> dict[str, tuple[int, int]]:
    """Each subscale's lowest possible and highest possible score, from its numeric items' scales."""
    ranges = {}
    for sub in definition.subscales:
        items = [definition.item(code) for code in sub.items]
        numeric = [i for i in items if i is not None and i.is_numeric]
        if numeric:
            ranges[sub.code] = (min(i.min for i in numeric), max(i.max for i in numeric))
    return ranges


def aggregate_row(feedback_round: FeedbackRound, k: int, locale: str) -> AggregateRow:
    """The round's counts and subscale summaries at k responses or more; below k no number, never free text."""
    results = round_results(feedback_round, k=k, include_text=False, locale=locale)
    instrument = _instrument(feedback_round)
    return _row(feedback_round, instrument, results.sources, results.suppressed, results.eligible, results.responses,
                [] if results.suppressed else list(results.subscales),
                rules.definition_from_dict(instrument.definition) if instrument else None)


def aggregate_rows(filters: Filters, k: int, locale: str = "en") -> list[AggregateRow]:
    """One row per round the filters cover, as aggregate_row gives it — in a fixed number of statements.

    Rounds, eligible members per round, responses per round, then per instrument version the subscale
    sums of every covered round at once (a round without a fixed version is read on its own).
    """
    rounds = _rounds(filters)
    if not rounds:
        return []
    round_ids = _round_query(filters).with_only_columns(FeedbackRound.id).order_by(None)
    eligible = dict(db.session.execute(
        sa.select(RoundMeeting.round_id, sa.func.count(sa.distinct(Attendance.user_id)))
        .join(Attendance, Attendance.meeting_id == RoundMeeting.meeting_id)
        .where(RoundMeeting.round_id.in_(round_ids), Attendance.status == "present")
        .group_by(RoundMeeting.round_id)
    ).all())
    responses = dict(db.session.execute(
        sa.select(Response.round_id, sa.func.count()).where(Response.round_id.in_(round_ids))
        .group_by(Response.round_id)
    ).all())
    sums: dict[int, dict[str, tuple]] = defaultdict(dict)
    for instrument in {r.instrument for r in rounds if r.instrument is not None}:
        for (round_id, code), value in subscale_sums_by_round(
            rules.definition_from_dict(instrument.definition),
            sa.select(Response.id).join(FeedbackRound, FeedbackRound.id == Response.round_id)
            .where(FeedbackRound.id.in_(round_ids), FeedbackRound.instrument_id == instrument.id),
        ).items():
            sums[round_id][code] = value
    rows = []
    for feedback_round in rounds:
        if feedback_round.instrument is None:  # no version fixed: read as the results page reads it
            rows.append(aggregate_row(feedback_round, k, locale))
            continue
        definition = rules.definition_from_dict(feedback_round.instrument.definition)
        n_eligible, n_responses = eligible.get(feedback_round.id, 0), responses.get(feedback_round.id, 0)
        suppressed = n_responses < k
        rows.append(_row(feedback_round, feedback_round.instrument, "all", suppressed, n_eligible, n_responses,
                         [] if suppressed else subscale_summaries(definition, sums[feedback_round.id], locale),
                         definition))
    return rows


def _row(feedback_round: FeedbackRound, instrument: Instrument | None, source: str, suppressed: bool, eligible: int,
         responses: int, subscales: list[SubscaleSummary], definition: rules.Definition | None) -> AggregateRow:
    group = feedback_round.group
    return AggregateRow(
        group_id=group.id, group=group.name, organisation=group.organisation.name,
        round_number=feedback_round.number, opened=feedback_round.opens_at, closed=feedback_round.closed_at,
        instrument_code=instrument.code if instrument else None,
        instrument_version=instrument.version if instrument else None,
        source=source, suppressed=suppressed,
        eligible=None if suppressed else eligible,
        responses=None if suppressed else responses,
        participation=None if suppressed or not eligible else responses / eligible,
        subscales=subscales, ranges=subscale_ranges(definition) if definition else {},
    )


def response_rows(filters: Filters, k: int, locale: str = "en", notes_label: str = "Interview notes"
                  ) -> list[ResponseRow]:
    """The answers of rounds with at least k responses, anonymised.

    Responses come in random order within each round and carry a random per-export number instead of their
    id; no user, no time. Free text is included only when a coordinator released it.
    """
    rounds = _rounds(filters)
    if not rounds:
        return []
    counts = dict(db.session.execute(
        sa.select(Response.round_id, sa.func.count()).where(Response.round_id.in_([r.id for r in rounds]))
        .group_by(Response.round_id)
    ).all())
    kept = [r for r in rounds if counts.get(r.id, 0) >= k]
    if not kept:
        return []
    answers: dict[str, list[tuple[str, int | None, str | None, str]]] = {}
    by_round: dict[int, list[str]] = {}
    for round_id, response_id, code, value, text, review in db.session.execute(
        sa.select(Response.round_id, Response.id, Answer.item_code, Answer.value, Answer.text, Answer.review)
        .join(Answer, Answer.response_id == Response.id)
        .where(Response.round_id.in_([r.id for r in kept]))
    ):
        if response_id not in answers:
            by_round.setdefault(round_id, []).append(response_id)
        answers.setdefault(response_id, []).append((code, value, text, review))
    sources = dict(db.session.execute(
        sa.select(Response.id, Response.source).where(Response.round_id.in_([r.id for r in kept]))
    ).all())
    # Random per-export numbers: 1..N dealt at random, so neither the number nor the order follows the ids.
    total = sum(len(ids) for ids in by_round.values())
    numbers = list(range(1, total + 1))
    _random.shuffle(numbers)
    rows: list[ResponseRow] = []
    for feedback_round in kept:
        instrument = _instrument(feedback_round)
        definition = rules.definition_from_dict(instrument.definition) if instrument is not None else None
        order = {i.code: n for n, i in enumerate(definition.items)} if definition else {}
        group = feedback_round.group
        ids = by_round.get(feedback_round.id, [])
        dealt = sorted((numbers.pop(), response_id) for response_id in ids)
        for number, response_id in dealt:
            for code, value, text, review in sorted(answers[response_id], key=lambda a: (order.get(a[0], 10**6), a[0])):
                item = definition.item(code) if definition else None
                free = text if text and review == "released" else None
                if value is None and free is None:
                    continue  # unanswered, or free text not released
                label = rules.localised(item.text, locale) if item else (notes_label if code == INTERVIEW_NOTES
                                                                          else code)
                rows.append(ResponseRow(
                    row=number, group=group.name, organisation=group.organisation.name,
                    round_number=feedback_round.number,
                    instrument_code=instrument.code if instrument else None,
                    instrument_version=instrument.version if instrument else None,
                    source=sources.get(response_id, ""), item_code=code, item_text=label,
                    value=value, text=free,
                ))
    return rows


def instruments_of(filters: Filters) -> list[Instrument]:
    """The instrument versions the filtered rounds asked, by code and version."""
    seen: dict[int, Instrument] = {}
    for feedback_round in _rounds(filters):
        instrument = _instrument(feedback_round)
        if instrument is not None:
            seen[instrument.id] = instrument
    return sorted(seen.values(), key=lambda i: (i.code, i.version))


# --- the quarterly programme report ------------------------------------------------------------

def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    """The first day of the quarter and the first day after it.

    Raises ValueError for a quarter outside 1..4 or a year outside 2000..9998.
    """
    if not 1 <= quarter <= 4 or not 2000 <= year <= 9998:
        raise ValueError("quarter out of range")
    start = date(year, 3 * quarter - 2, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return start, end


def last_complete_quarter(today: date) -> tuple[int, int]:
    """The year and number of the last quarter that ended before today."""
    current = (today.month - 1) // 3 + 1
    return (today.year - 1, 4) if current == 1 else (today.year, current - 1)


def local_day_start_utc(day: date, zone) -> datetime:
    """Midnight of a local day as naive UTC, the form the database stores."""
    from datetime import UTC

    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


@dataclass
class GroupQuarter:
    """A group's quarter: meetings held and cancelled, attendance over held meetings, rounds closed."""

    group_id: int
    group: str
    organisation: str
    held: int = 0
    cancelled: int = 0
    present: int = 0
    expected: int = 0
    rounds: list[AggregateRow] = field(default_factory=list)

    @property
    def attendance_rate(self) -> float | None:
        return self.present / self.expected if self.expected else None

    @property
    def responses(self) -> int:
        """Responses of the rounds shown (suppressed rounds count for nothing)."""
        return sum(r.responses or 0 for r in self.rounds)

    @property
    def suppressed(self) -> int:
        return sum(1 for r in self.rounds if r.suppressed)


def quarter_report(scope: int | None, since: datetime, before: datetime, k: int, locale: str) -> list[GroupQuarter]:
    """Per group in scope, by organisation and name: the quarter's meetings, attendance and closed rounds.

    `since` and `before` are naive UTC; meetings count by their start, rounds by their closing time.
    """
    query = (
        sa.select(Group.id, Group.name, Organisation.name)
        .join(Organisation, Organisation.id == Group.organisation_id)
        .order_by(Organisation.name, Group.name)
    )
    if scope is not None:
        query = query.where(Group.organisation_id == scope)
    groups = {gid: GroupQuarter(gid, name, org) for gid, name, org in db.session.execute(query)}
    if not groups:
        return []
    in_quarter = (Meeting.group_id.in_(list(groups)), Meeting.starts_at >= since, Meeting.starts_at < before)
    for gid, status, n in db.session.execute(
        sa.select(Meeting.group_id, Meeting.status, sa.func.count()).where(*in_quarter)
        .group_by(Meeting.group_id, Meeting.status)
    ):
        if status == "held":
            groups[gid].held = n
        elif status == "cancelled":
            groups[gid].cancelled = n
    for gid, present, expected in db.session.execute(
        sa.select(Meeting.group_id, sa.func.sum(sa.case((Attendance.status == "present", 1), else_=0)),
                  sa.func.count(Attendance.id))
        .join(Attendance, Attendance.meeting_id == Meeting.id)
        .where(*in_quarter, Meeting.status == "held")
        .group_by(Meeting.group_id)
    ):
        groups[gid].present, groups[gid].expected = int(present or 0), int(expected or 0)
    closed = db.session.scalars(
        sa.select(FeedbackRound)
        .where(FeedbackRound.group_id.in_(list(groups)), FeedbackRound.status == "closed",
               FeedbackRound.closed_at >= since, FeedbackRound.closed_at < before)
        .order_by(FeedbackRound.group_id, FeedbackRound.number)
    )
    for feedback_round in closed:
        groups[feedback_round.group_id].rounds.append(aggregate_row(feedback_round, k, locale))
    return list(groups.values())
