"""Read-only summaries for the home pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask import current_app
from flask_babel import get_locale

from app.accounts.models import User
from app.extensions import db
from app.feedback.instruments import MissingQuestionnaire, missing_questionnaire
from app.programme.models import Group, GroupLeader, Membership, Organisation
from app.scheduling import queries as scheduling
from app.timeutil import utcnow
from app.trends.warnings import early_warnings


@dataclass
class HomeSummary:
    """What a home page shows: the user's groups by role, and programme counts for coordinators."""

    led_groups: list[Group] = field(default_factory=list)
    member_groups: list[Group] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    # The user's next meetings across groups (as lead, co-lead or member).
    upcoming: list = field(default_factory=list)
    # For coordinators: meetings of the next 60 days with no lead, or a lead no longer eligible.
    highlights: scheduling.Highlights | None = None
    # For coordinators: early warnings (a subscale fell, low participation, no held meeting for long).
    warnings: list = field(default_factory=list)
    # For coordinators, when no questionnaire is active: rounds waiting for one, groups about to open one.
    missing_questionnaire: MissingQuestionnaire | None = None


def home_summary(user: User, today: date | None = None) -> HomeSummary:
    """Groups the user leads and belongs to, their next meetings; counts and highlights for a coordinator."""
    summary = HomeSummary()
    now = utcnow()
    summary.upcoming = scheduling.my_upcoming(user, now)
    summary.led_groups = list(
        db.session.scalars(
            sa.select(Group).join(GroupLeader).where(GroupLeader.user_id == user.id).order_by(Group.name)
        )
    )
    summary.member_groups = list(
        db.session.scalars(
            sa.select(Group)
            .join(Membership)
            .where(Membership.user_id == user.id, Membership.left_on.is_(None))
            .order_by(Group.name)
        )
    )
    if user.has_role("coordinator"):
        scope = user.coordinator_scope
        groups = sa.select(sa.func.count(Group.id)).where(Group.status == "active")
        members = (
            sa.select(sa.func.count(sa.distinct(Membership.user_id)))
            .join(Group)
            .where(Membership.left_on.is_(None), Group.status == "active")
        )
        orgs = sa.select(sa.func.count(Organisation.id)).where(Organisation.active.is_(True))
        if scope is not None:
            groups = groups.where(Group.organisation_id == scope)
            members = members.where(Group.organisation_id == scope)
            orgs = orgs.where(Organisation.id == scope)
        summary.counts = {
            "organisations": db.session.scalar(orgs) or 0,
            "groups": db.session.scalar(groups) or 0,
            "members": db.session.scalar(members) or 0,
        }
        summary.highlights = scheduling.coordinator_highlights(scope, now)
        summary.missing_questionnaire = missing_questionnaire(scope)
        config = current_app.config
        summary.warnings = early_warnings(
            now, scope, drop=config["WARNING_DROP"], participation=config["WARNING_PARTICIPATION"],
            days=config["WARNING_DAYS_WITHOUT_MEETING"], k=config["MIN_RESPONSES"], locale=str(get_locale()),
        )
    return summary
