"""Early warnings for coordinators: a subscale fell between a group's last two rounds, participation fell
below the setting, or a group has held no meeting for too long. A fixed number of SQL statements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.disclosure import whole_round_cells
from app.extensions import db
from app.feedback import scoring
from app.feedback.models import FeedbackRound, Instrument, Response, RoundMeeting
from app.meetings.models import Attendance
from app.programme.models import Group
from app.scheduling.models import Meeting

DROP = "drop"
PARTICIPATION = "participation"
NO_MEETING = "no_meeting"
KINDS = (DROP, PARTICIPATION, NO_MEETING)


@dataclass(frozen=True)
class Warning:  # noqa: A001 - the domain's word; never used beside the builtin
    """One early warning about a group; `detail` holds the numbers the message shows."""

    group: Group
    kind: str
    detail: dict = field(default_factory=dict)


def _closed(now: datetime):
    return sa.or_(FeedbackRound.status == "closed", FeedbackRound.closes_at <= now)


def _latest_closed(groups: dict[int, Group], now: datetime) -> sa.Subquery:
    """(group_id, number) of each group's latest closed round."""
    return (
        sa.select(FeedbackRound.group_id, sa.func.max(FeedbackRound.number).label("number"))
        .where(FeedbackRound.group_id.in_(list(groups)), _closed(now))
        .group_by(FeedbackRound.group_id)
        .subquery("latest_closed")
    )


@dataclass(frozen=True)
class _Round:
    """A round as the drop warning reads it: a plain row, not an ORM object (thousands at city scale)."""

    id: int
    group_id: int
    number: int
    status: str
    closes_at: datetime

    def is_open(self, now: datetime) -> bool:
        return FeedbackRound.is_open(self, now)  # the model's own rule


def _subscale_titles(keys: set[str], locale: str) -> dict[str, str]:
    """The title of each subscale key ("<instrument code>/<subscale code>") in the reader's language, from the
    instrument's latest version that has it."""
    codes = {key.partition("/")[0] for key in keys}
    titles: dict[str, str] = {}
    for instrument in db.session.scalars(
        sa.select(Instrument).where(Instrument.code.in_(sorted(codes))).order_by(Instrument.version)
    ):
        definition = scoring.definition_from_dict(instrument.definition)
        for sub in definition.subscales:
            key = scoring.subscale_key(definition.code, sub.code)
            if key in keys:
                titles[key] = scoring.localised(sub.title, locale)
    return titles


def _drops(groups: dict[int, Group], now: datetime, drop: float, k: int, locale: str) -> list[Warning]:
    """A subscale mean that fell by more than `drop` from the round before to the group's latest closed round.

    Only rounds shown at k or more (responses and subscale scores) are compared; a hidden round breaks the pair.
    Each group's last two closed rounds are read as plain rows and their whole-round cells from the stored sums
    (app.disclosure.whole_round_cells): no other round, no answer, whatever the group's history.
    """
    if not groups:
        return []
    latest = _latest_closed(groups, now)
    rows = db.session.execute(
        sa.select(FeedbackRound.id, FeedbackRound.group_id, FeedbackRound.number, FeedbackRound.status,
                  FeedbackRound.closes_at)
        .join(latest, sa.and_(latest.c.group_id == FeedbackRound.group_id,
                              FeedbackRound.number >= latest.c.number - 1))
        .where(_closed(now))
    ).all()
    rounds = [_Round(*row) for row in rows]
    cells = whole_round_cells(rounds, k=k, now=now)
    by_number = {(r.group_id, r.number): r.id for r in rounds}
    last = {}
    for r in rounds:
        last[r.group_id] = max(last.get(r.group_id, 0), r.number)
    falls = []
    for group_id, number in sorted(last.items()):
        after = cells.get(by_number[(group_id, number)], {})
        before = cells.get(by_number.get((group_id, number - 1)), {})
        for key in sorted(set(after) & set(before)):
            if after[key].hidden or before[key].hidden:
                continue
            fall = before[key].mean - after[key].mean
            if fall > drop:
                falls.append((group_id, number, key, before[key].mean, after[key].mean, fall))
    titles = _subscale_titles({key for _g, _n, key, *_rest in falls}, locale) if falls else {}
    return [
        Warning(groups[group_id], DROP, {"subscale": titles.get(key, key), "round": number, "before": before,
                                         "after": after, "fall": fall})
        for group_id, number, key, before, after, fall in falls
    ]


def _participation(groups: dict[int, Group], now: datetime, threshold: float) -> list[Warning]:
    """Responses over eligible members below `threshold` in each group's latest closed round (one statement)."""
    if not groups:
        return []
    latest = _latest_closed(groups, now)
    latest_ids = sa.select(FeedbackRound.id).join(
        latest, sa.and_(latest.c.group_id == FeedbackRound.group_id, latest.c.number == FeedbackRound.number)
    )
    eligible = (
        sa.select(RoundMeeting.round_id, sa.func.count(sa.distinct(Attendance.user_id)).label("n"))
        .join(Attendance, Attendance.meeting_id == RoundMeeting.meeting_id)
        .where(Attendance.status == "present", RoundMeeting.round_id.in_(latest_ids))
        .group_by(RoundMeeting.round_id)
        .subquery("eligible")
    )
    responses = (
        sa.select(Response.round_id, sa.func.count().label("n"))
        .where(Response.round_id.in_(latest_ids))
        .group_by(Response.round_id)
        .subquery("responded")
    )
    found = []
    for group_id, number, n_eligible, n_responses in db.session.execute(
        sa.select(FeedbackRound.group_id, FeedbackRound.number, eligible.c.n, sa.func.coalesce(responses.c.n, 0))
        .join(eligible, eligible.c.round_id == FeedbackRound.id)
        .outerjoin(responses, responses.c.round_id == FeedbackRound.id)
        .where(FeedbackRound.id.in_(latest_ids))
        .order_by(FeedbackRound.group_id)
    ):
        if not n_eligible:
            continue
        rate = n_responses / n_eligible
        if rate < threshold:
            found.append(Warning(groups[group_id], PARTICIPATION, {
                "round": number, "responses": n_responses, "eligible": n_eligible, "participation": rate,
            }))
    return found


def early_warnings(now: datetime, scope_org_id: int | None, drop: float, participation: float, days: int,
                   k: int = 3, locale: str = "en") -> list[Warning]:
    """Every early warning about the active groups a coordinator sees (all, or one organisation's).

    - drop: a subscale mean fell by more than `drop` points between the group's last two closed rounds,
      both shown at k or more;
    - participation: its latest closed round had responses / eligible below `participation`;
    - no_meeting: its last held meeting started `days` or more days before `now` (or, never held, the group
      was created that long ago).
    Paused and closed groups raise none. Sorted by group name, then kind.
    """
    last_held = (
        sa.select(Meeting.group_id, sa.func.max(Meeting.starts_at).label("last"))
        .where(Meeting.status == "held", Meeting.starts_at <= now)
        .group_by(Meeting.group_id)
        .subquery("last_held")
    )
    query = (
        sa.select(Group, last_held.c.last)
        .outerjoin(last_held, last_held.c.group_id == Group.id)
        .where(Group.status == "active")
    )
    if scope_org_id is not None:
        query = query.where(Group.organisation_id == scope_org_id)
    rows = db.session.execute(query).all()
    groups = {group.id: group for group, _last in rows}

    found: list[Warning] = []
    limit = timedelta(days=days)
    for group, last in rows:
        since = last if last is not None else group.created_at
        if now - since >= limit:
            found.append(Warning(group, NO_MEETING, {
                "last_held": last, "days": (now - since).days, "never": last is None,
            }))
    found += _drops(groups, now, drop, k, locale)
    found += _participation(groups, now, participation)
    order = {kind: i for i, kind in enumerate(KINDS)}
    return sorted(found, key=lambda w: (w.group.name, w.group.id, order[w.kind]))
