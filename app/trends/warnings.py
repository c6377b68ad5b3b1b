"""Early warnings for coordinators: a subscale fell between a group's last two rounds, participation fell
below the setting, or a group has held no meeting for too long. A fixed number of SQL statements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.feedback.models import FeedbackRound, Response, RoundMeeting
from app.meetings.models import Attendance
from app.programme.models import Group
from app.scheduling.models import Meeting
from app.trends.programme_queries import programme_trend

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


def _drops(groups: dict[int, Group], now: datetime, drop: float, k: int, locale: str) -> list[Warning]:
    """A subscale mean that fell by more than `drop` from the round before to the group's latest closed round.

    Only rounds shown at k or more (responses and subscale scores) are compared; a hidden round breaks the pair.
    """
    if not groups:
        return []
    # Only each group's last two closed rounds are compared: read no others.
    latest = _latest_closed(groups, now)
    last_two = sa.select(FeedbackRound.id).join(
        latest, sa.and_(latest.c.group_id == FeedbackRound.group_id, FeedbackRound.number >= latest.c.number - 1)
    )
    trend = programme_trend(None, k=k, closed_by=now, group_ids=list(groups), locale=locale, rounds_among=last_two,
                            now=now)
    titles = {s.key: s.title for s in trend.subscales}
    latest: dict[int, int] = {}
    for group_id, number, _key in trend.cells:
        latest[group_id] = max(latest.get(group_id, 0), number)
    found = []
    for group_id, last in sorted(latest.items()):
        for key in sorted(titles):
            after, before = trend.cell(group_id, last, key), trend.cell(group_id, last - 1, key)
            if after is None or before is None or after.suppressed or before.suppressed:
                continue
            fall = before.mean - after.mean
            if fall > drop:
                found.append(Warning(groups[group_id], DROP, {
                    "subscale": titles[key], "round": last, "before": before.mean, "after": after.mean,
                    "fall": fall,
                }))
    return found


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
