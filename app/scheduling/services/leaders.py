"""Leaders of meetings: assigning a lead and co-lead, a person to a whole series, suggesting who is free and
eligible. They flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _

from app.accounts import rules as eligibility
from app.accounts.models import TrainingRecord, User
from app.audit.services import record_action
from app.errors import Conflict, DomainError
from app.extensions import db
from app.programme.models import Group, Membership
from app.programme.queries import membership_on
from app.scheduling import rules
from app.scheduling.models import Meeting, MeetingLeader
from app.scheduling.services.invariants import keeping_invariants
from app.timeutil import local_date


def assign_leaders(actor: User | None, meeting: Meeting, lead: User | None, co_lead: User | None = None) -> None:
    """Make `lead` the meeting's lead and `co_lead` its co-lead (None removes the co-lead).

    Every invariant of the meeting is checked on the result (keeping_invariants). Raises EligibilityError (a rule
    of DOMAIN.md, 422) or ClashError (overlapping meeting, 409), naming the rule; Conflict for a cancelled meeting.
    """
    if meeting.status == "cancelled":
        raise Conflict(_("A cancelled meeting takes no leaders."))
    if lead is None:
        raise DomainError(_("Every meeting has exactly one lead: choose one."), field="lead_id")
    if co_lead is not None and co_lead.id == lead.id:
        raise DomainError(_("The lead and the co-lead must be two different people."), field="co_lead_id")
    before = {ml.role: ml.user_id for ml in meeting.leaders}
    wanted = {eligibility.LEAD: lead, eligibility.CO_LEAD: co_lead}
    with keeping_invariants(meeting, field="lead_id", context="assign", people=[lead.id, getattr(co_lead, "id", None)]):
        for ml in list(meeting.leaders):
            if wanted.get(ml.role) is None or wanted[ml.role].id != ml.user_id:
                meeting.leaders.remove(ml)
        db.session.flush()
        have = {ml.role for ml in meeting.leaders}
        for role, user in wanted.items():
            if user is not None and role not in have:
                meeting.leaders.append(MeetingLeader(user_id=user.id, role=role, user=user))
        after = {role: (user.id if user else None) for role, user in wanted.items()}
        if before != {k: v for k, v in after.items() if v is not None}:
            meeting.sequence += 1
    record_action(actor, "leaders_assigned", meeting, lead_id=lead.id, co_lead_id=co_lead.id if co_lead else None)


@dataclass
class SeriesAssignment:
    """The outcome of assigning one person to a whole series."""

    assigned: list[Meeting] = field(default_factory=list)
    refused: list[tuple[Meeting, str]] = field(default_factory=list)


def assign_series(actor: User | None, group: Group, user: User, role: str, since: datetime) -> SeriesAssignment:
    """Assign the user as lead or co-lead to every scheduled meeting of the group from `since` on.

    Each meeting that cannot take them is listed with the reason (the rule it would break); the others are
    assigned, each through assign_leaders.
    """
    if role not in eligibility.ASSIGNMENT_ROLES:
        raise DomainError(_("Choose lead or co-lead."), field="role")
    result = SeriesAssignment()
    meetings = db.session.scalars(
        sa.select(Meeting)
        .where(Meeting.group_id == group.id, Meeting.status == "scheduled", Meeting.starts_at >= since)
        .order_by(Meeting.starts_at)
    ).all()
    for meeting in meetings:
        lead = user if role == eligibility.LEAD else meeting.lead
        co_lead = user if role == eligibility.CO_LEAD else meeting.co_lead
        if co_lead is not None and lead is not None and co_lead.id == lead.id:
            co_lead = None if role == eligibility.LEAD else co_lead
        if lead is None:
            result.refused.append((meeting, _("It has no lead yet: assign a lead first.")))
            continue
        try:
            assign_leaders(actor, meeting, lead, co_lead)  # each in a savepoint of its own
        except DomainError as exc:
            result.refused.append((meeting, exc.message))
        else:
            result.assigned.append(meeting)
    return result


@dataclass
class Suggestion:
    """An eligible, free leader for a meeting and how many meetings they led in the last 90 days."""

    user: User
    led_recently: int


def suggest_leaders(meeting: Meeting, as_role: str, now: datetime) -> list[Suggestion]:
    """Eligible leaders free at the meeting's time, fairest first (fewest meetings led in the last 90 days).

    Judged by the same rule as assigning (rules.meeting_problems), in a fixed number of statements.
    """
    candidates = db.session.scalars(
        sa.select(User)
        .join(TrainingRecord, TrainingRecord.user_id == User.id)
        .where(User.active.is_(True), TrainingRecord.verified_at.is_not(None))
        .options(so.selectinload(User.training_records))
        .distinct()
    ).all()
    counts = dict(
        db.session.execute(
            sa.select(MeetingLeader.user_id, sa.func.count(MeetingLeader.id))
            .join(Meeting, Meeting.id == MeetingLeader.meeting_id)
            .where(
                MeetingLeader.role == eligibility.LEAD,
                Meeting.status != "cancelled",
                Meeting.starts_at >= now - timedelta(days=90),
                Meeting.starts_at <= now,
            )
            .group_by(MeetingLeader.user_id)
        ).all()
    )
    day = local_date(meeting.starts_at)
    members = set(db.session.scalars(
        sa.select(Membership.user_id).where(Membership.group_id == meeting.group_id, membership_on(day))
    ))
    busy = set(db.session.scalars(
        sa.select(MeetingLeader.user_id).join(Meeting, Meeting.id == MeetingLeader.meeting_id).where(
            Meeting.id != meeting.id, Meeting.status != "cancelled",
            Meeting.starts_at < meeting.ends_at, Meeting.ends_at > meeting.starts_at,
        )
    ))
    lead = meeting.lead

    def facts(user: User, role: str) -> rules.LeaderFacts:
        return rules.LeaderFacts(
            user_id=user.id, role=role, active=user.active, records=tuple(user.training_records),
            holds_leader_role=user.has_role("leader"), member_of_group=user.id in members,
            overlapping=user.id in busy,
        )

    found = []
    for user in candidates:
        if as_role == eligibility.LEAD:
            leaders = [facts(user, eligibility.LEAD)]
        elif lead is None:  # judged alone: a leader in training needs a qualified lead first
            leaders = [facts(user, eligibility.CO_LEAD)]
        elif user.id == lead.id:
            continue
        else:
            leaders = [facts(lead, eligibility.LEAD), facts(user, eligibility.CO_LEAD)]
        if not any(p.user_id == user.id for p in rules.meeting_problems("scheduled", day, leaders)):
            found.append(Suggestion(user, counts.get(user.id, 0)))
    return sorted(found, key=lambda s: rules.fairness_key(s.led_recently, s.user.name))
