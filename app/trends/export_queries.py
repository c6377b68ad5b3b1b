"""Read-only rows for exports and the quarterly programme report: round aggregates, anonymised ratings,
free text apart, meetings and attendance per group — every number from answers through app.disclosure."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from app import disclosure
from app.disclosure.queries import subscale_key
from app.extensions import db
from app.feedback import scoring
from app.feedback.models import INTERVIEW_NOTES, FeedbackRound, Instrument, RoundMeeting
from app.feedback.queries import SubscaleSummary, subscale_summary
from app.meetings.models import Attendance
from app.programme.models import Group, Organisation
from app.scheduling.models import Meeting
from app.timeutil import local_day_start, local_zone, utcnow

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


def period_filters(scope: int | None, group_id: int | None, since_day: date | None, until_day: date | None) -> Filters:
    """The filters of an export of rounds opened from `since_day` to `until_day` (local days, both included)."""
    zone = local_zone()
    return Filters(
        scope=scope, group_id=group_id,
        since=local_day_start(since_day, zone) if since_day else None,
        before=local_day_start(until_day + timedelta(days=1), zone) if until_day else None,
    )


@dataclass
class AggregateRow:
    """One round with its counts; `subscales` is empty when the round is hidden (`reason` says why)."""

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
    reason: str | None = None  # app.disclosure's reason when suppressed


@dataclass(frozen=True)
class ResponseRow:
    """One rated answer of an anonymised response; `row` is a random per-export number shared by a response's
    ratings (never by its free text, which is exported apart)."""

    row: int
    group: str
    organisation: str
    round_number: int
    instrument_code: str | None
    instrument_version: int | None
    source: str  # the round's mode: a response carries nothing of its own beyond its answers
    item_code: str
    item_text: str
    value: int


@dataclass(frozen=True)
class TextRow:
    """One released free-text answer, exported apart from the ratings (no row number, shuffled per export)."""

    group: str
    organisation: str
    round_number: int
    instrument_code: str | None
    instrument_version: int | None
    item_code: str
    item_text: str
    text: str


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


def round_ids(filters: Filters) -> sa.Select:
    """The ids of the rounds the filters cover (for the programme queries' `rounds_among`)."""
    return _round_query(filters).with_only_columns(FeedbackRound.id).order_by(None)


def _rounds(filters: Filters) -> list[FeedbackRound]:
    return list(db.session.scalars(_round_query(filters).options(
        so.joinedload(FeedbackRound.group).joinedload(Group.organisation),
        # selectin: each instrument (and its large JSON definition) is read once, not once per round
        so.selectinload(FeedbackRound.instrument),
        so.lazyload(FeedbackRound.round_meetings),
    )))


def rounds_of(filters: Filters) -> list[FeedbackRound]:
    """The rounds the filters cover, by organisation, group and number, with their groups and instruments loaded."""
    return _rounds(filters)


def _instrument(feedback_round: FeedbackRound) -> Instrument | None:
    from app.feedback.services.responses import round_instrument

    return round_instrument(feedback_round)


def subscale_ranges(definition: scoring.Definition) -> dict[str, tuple[int, int]]:
    """Each subscale's lowest possible and highest possible score, from its numeric items' scales."""
    ranges = {}
    for sub in definition.subscales:
        items = [definition.item(code) for code in sub.items]
        numeric = [i for i in items if i is not None and i.is_numeric]
        if numeric:
            ranges[sub.code] = (min(i.min for i in numeric), max(i.max for i in numeric))
    return ranges


def _eligible(round_ids: list[int]) -> dict[int, int]:
    if not round_ids:
        return {}
    return dict(db.session.execute(
        sa.select(RoundMeeting.round_id, sa.func.count(sa.distinct(Attendance.user_id)))
        .join(Attendance, Attendance.meeting_id == RoundMeeting.meeting_id)
        .where(RoundMeeting.round_id.in_(round_ids), Attendance.status == "present")
        .group_by(RoundMeeting.round_id)
    ).all())


def _aggregate_rows(rounds: list[FeedbackRound], k: int, locale: str, now: datetime) -> list[AggregateRow]:
    """One row per round, in the given order, from one app.disclosure release (a fixed number of statements)."""
    if not rounds:
        return []
    release = disclosure.Release(rounds, k=k, now=now)
    eligible = _eligible([r.id for r in rounds])
    rows = []
    for feedback_round in rounds:
        instrument = _instrument(feedback_round)
        definition = scoring.definition_from_dict(instrument.definition) if instrument is not None else None
        cell = release.stat(feedback_round.id, disclosure.RESPONSES)
        subscales = []
        if cell.shown and definition is not None:
            subscales = [
                subscale_summary(sub.code, scoring.localised(sub.title, locale), release.stat(
                    feedback_round.id, disclosure.subscale_measure(subscale_key(definition.code, sub.code))))
                for sub in definition.subscales
            ]
        n_eligible = eligible.get(feedback_round.id, 0)
        group = feedback_round.group
        rows.append(AggregateRow(
            group_id=group.id, group=group.name, organisation=group.organisation.name,
            round_number=feedback_round.number, opened=feedback_round.opens_at, closed=feedback_round.closed_at,
            instrument_code=instrument.code if instrument else None,
            instrument_version=instrument.version if instrument else None,
            source="all", suppressed=cell.hidden, reason=cell.reason,
            eligible=None if cell.hidden else n_eligible,
            responses=None if cell.hidden else cell.n,
            participation=None if cell.hidden or not n_eligible else cell.n / n_eligible,
            subscales=subscales, ranges=subscale_ranges(definition) if definition else {},
        ))
    return rows


def aggregate_row(feedback_round: FeedbackRound, k: int, locale: str, now: datetime | None = None) -> AggregateRow:
    """The round's counts and subscale summaries once closed at k responses or more; otherwise no number."""
    return _aggregate_rows([feedback_round], k, locale, now or utcnow())[0]


def aggregate_rows(filters: Filters, k: int, locale: str = "en", now: datetime | None = None) -> list[AggregateRow]:
    """One row per round the filters cover, as aggregate_row gives it — in a fixed number of statements."""
    return _aggregate_rows(_rounds(filters), k, locale, now or utcnow())


def _item_labels(definitions: dict[int, scoring.Definition], locale: str) -> dict[tuple[int, str], str]:
    return {(iid, item.code): scoring.localised(item.text, locale)
            for iid, definition in definitions.items() for item in definition.items}


def response_rows(filters: Filters, k: int, locale: str = "en", now: datetime | None = None) -> list[ResponseRow]:
    """The rated answers of closed rounds with at least k responses, anonymised.

    Responses come in random order and carry a random per-export number instead of their id; no user, no
    time, no profession, and no free text (that is exported apart, so a recognisable sentence cannot be set
    beside the ratings of the same response).
    """
    rounds = _rounds(filters)
    per_round = disclosure.anonymised_rows(rounds, k=k, now=now or utcnow())
    if not per_round:
        return []
    # Random per-export numbers: 1..N dealt at random, so neither the number nor the order follows the ids.
    numbers = list(range(1, sum(len(v) for v in per_round.values()) + 1))
    _random.shuffle(numbers)
    rows: list[ResponseRow] = []
    for feedback_round in rounds:
        if feedback_round.id not in per_round:
            continue
        instrument = _instrument(feedback_round)
        definition = scoring.definition_from_dict(instrument.definition) if instrument is not None else None
        order = {i.code: n for n, i in enumerate(definition.items)} if definition else {}
        group = feedback_round.group
        dealt = sorted((numbers.pop(), answers) for answers in per_round[feedback_round.id])
        for number, answers in dealt:
            for code, value in sorted(answers, key=lambda a: (order.get(a[0], 10**6), a[0])):
                item = definition.item(code) if definition else None
                rows.append(ResponseRow(
                    row=number, group=group.name, organisation=group.organisation.name,
                    round_number=feedback_round.number,
                    instrument_code=instrument.code if instrument else None,
                    instrument_version=instrument.version if instrument else None,
                    source=feedback_round.mode, item_code=code,
                    item_text=scoring.localised(item.text, locale) if item else code, value=value,
                ))
    return rows


def text_rows(filters: Filters, k: int, locale: str = "en", notes_label: str = "Interview notes",
              now: datetime | None = None) -> list[TextRow]:
    """The released free-text answers of closed rounds with at least k responses, shuffled across the export.

    No row number, response id or rating goes with them: nothing links a text to the ratings beside which
    it was given.
    """
    rounds = _rounds(filters)
    instruments = {r.id: _instrument(r) for r in rounds}
    definitions = {r.id: scoring.definition_from_dict(i.definition) for r, i in
                   ((r, instruments[r.id]) for r in rounds) if i is not None}
    codes = {i.code for d in definitions.values() for i in d.text_items} | {INTERVIEW_NOTES}
    per_round = disclosure.anonymised_texts(rounds, codes, k=k, now=now or utcnow())
    rows = []
    for feedback_round in rounds:
        instrument = instruments[feedback_round.id]
        definition = definitions.get(feedback_round.id)
        group = feedback_round.group
        for t in per_round.get(feedback_round.id, ()):
            item = definition.item(t.item_code) if definition else None
            label = scoring.localised(item.text, locale) if item else (
                notes_label if t.item_code == INTERVIEW_NOTES else t.item_code)
            rows.append(TextRow(group.name, group.organisation.name, feedback_round.number,
                                instrument.code if instrument else None,
                                instrument.version if instrument else None, t.item_code, label, t.text))
    _random.shuffle(rows)
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


def last_moment_before(before: datetime, now: datetime | None = None) -> datetime:
    """The last moment of a period that ends (exclusive) at `before` — a quarter's board is drawn then — or `now`
    (default: the current time) while the period is still running."""
    return min(before - timedelta(microseconds=1), now or utcnow())


def closed_in(since: datetime, before: datetime) -> sa.Select:
    """The ids of the rounds the quarterly report covers: closed in [since, before), naive UTC."""
    return sa.select(FeedbackRound.id).where(FeedbackRound.status == "closed", FeedbackRound.closed_at >= since,
                                             FeedbackRound.closed_at < before)


def local_day_start_utc(day: date, zone) -> datetime:
    """Midnight of a local day as naive UTC, the form the database stores."""
    return local_day_start(day, zone)


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
    closed = list(closed)
    for row, feedback_round in zip(_aggregate_rows(closed, k, locale, utcnow()), closed, strict=True):
        groups[feedback_round.group_id].rounds.append(row)
    return list(groups.values())
