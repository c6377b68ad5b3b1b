"""Read-only queries for the programme pages: lists with their counts in SQL, a group's people."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_sqlalchemy.pagination import Pagination

from app.accounts import rules as account_rules
from app.accounts.models import RoleAssignment, User
from app.extensions import db
from app.pagination import paginate
from app.programme.models import GROUP_STATUSES, Group, GroupLeader, Membership, Organisation

SEARCH_MAX = 200


@dataclass
class ListPage:
    """One page of a list: the paginator (for the pager) and the rows to show."""

    pagination: Pagination
    rows: list


@dataclass
class OrganisationRow:
    organisation: Organisation
    group_count: int


@dataclass
class GroupRow:
    group: Group
    member_count: int


@dataclass
class LeaderRow:
    """A person who leads or may lead, with the best training level in force on the day (None: none)."""

    user: User
    level: str | None
    leader: GroupLeader | None = None


@dataclass
class GroupPeople:
    """Who is in a group: current and past memberships, standing leaders."""

    current: list[Membership] = field(default_factory=list)
    past: list[Membership] = field(default_factory=list)
    leaders: list[LeaderRow] = field(default_factory=list)


def clean_search(text: str | None) -> str:
    """A search term trimmed to a sensible length ('' for none)."""
    return (text or "").strip()[:SEARCH_MAX]


def _paginate(query) -> Pagination:
    return paginate(query)


def organisation_page(scope: int | None, search: str = "") -> ListPage:
    """Organisations by name (only the scope's for a limited coordinator), each with its number of groups."""
    query = sa.select(Organisation).order_by(Organisation.name, Organisation.id)
    if scope is not None:
        query = query.where(Organisation.id == scope)
    if search:
        query = query.where(Organisation.name.icontains(search, autoescape=True))
    pagination = _paginate(query)
    ids = [org.id for org in pagination.items]
    counts = dict(
        db.session.execute(
            sa.select(Group.organisation_id, sa.func.count(Group.id))
            .where(Group.organisation_id.in_(ids))
            .group_by(Group.organisation_id)
        ).all()
    ) if ids else {}
    return ListPage(pagination, [OrganisationRow(org, counts.get(org.id, 0)) for org in pagination.items])


def group_page(scope: int | None, search: str = "", organisation_id: int | None = None,
               status: str | None = None) -> ListPage:
    """Groups by organisation and name, filtered, each with its number of current members."""
    query = (
        sa.select(Group)
        .join(Group.organisation)
        .options(
            so.selectinload(Group.organisation),
            so.selectinload(Group.leaders).selectinload(GroupLeader.user),
        )
        .order_by(Organisation.name, Group.name, Group.id)
    )
    if scope is not None:
        query = query.where(Group.organisation_id == scope)
    if organisation_id is not None:
        query = query.where(Group.organisation_id == organisation_id)
    if status in GROUP_STATUSES:
        query = query.where(Group.status == status)
    if search:
        query = query.where(
            sa.or_(Group.name.icontains(search, autoescape=True), Organisation.name.icontains(search, autoescape=True))
        )
    pagination = _paginate(query)
    ids = [g.id for g in pagination.items]
    counts = dict(
        db.session.execute(
            sa.select(Membership.group_id, sa.func.count(Membership.id))
            .where(Membership.group_id.in_(ids), Membership.left_on.is_(None))
            .group_by(Membership.group_id)
        ).all()
    ) if ids else {}
    return ListPage(pagination, [GroupRow(g, counts.get(g.id, 0)) for g in pagination.items])


def organisation_choices(
    scope: int | None, include_id: int | None = None, active_only: bool = True
) -> list[tuple[int, str]]:
    """(id, name) of the organisations in the scope: the active ones, plus `include_id` (a group's own)."""
    query = sa.select(Organisation.id, Organisation.name).order_by(Organisation.name)
    if active_only:
        condition = Organisation.active.is_(True)
        if include_id is not None:
            condition = sa.or_(condition, Organisation.id == include_id)
        query = query.where(condition)
    if scope is not None:
        query = query.where(Organisation.id == scope)
    return [(row.id, row.name) for row in db.session.execute(query)]


def _current_member_ids(group: Group):
    return sa.select(Membership.user_id).where(Membership.group_id == group.id, Membership.left_on.is_(None))


def _leader_ids(group: Group):
    return sa.select(GroupLeader.user_id).where(GroupLeader.group_id == group.id)


def member_candidates(group: Group, scope: int | None) -> list[User]:
    """Active people who may be added to the group: not current members, not its leaders.

    A coordinator limited to one organisation chooses among that organisation's people only.
    """
    query = (
        sa.select(User)
        .where(
            User.active.is_(True),
            User.id.not_in(_current_member_ids(group)),
            User.id.not_in(_leader_ids(group)),
        )
        .order_by(User.name, User.id)
    )
    if scope is not None:
        query = query.where(User.organisation_id == scope)
    return list(db.session.scalars(query))


def leader_candidates(group: Group, on: date) -> list[LeaderRow]:
    """Active people with the leader role who do not lead the group yet and are not its members."""
    users = db.session.scalars(
        sa.select(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(
            RoleAssignment.role == "leader",
            User.active.is_(True),
            User.id.not_in(_current_member_ids(group)),
            User.id.not_in(_leader_ids(group)),
        )
        .options(so.selectinload(User.training_records))
        .order_by(User.name, User.id)
    )
    return [LeaderRow(u, account_rules.best_level_on(u.training_records, on)) for u in users]


def group_people(group: Group, on: date) -> GroupPeople:
    """The group's memberships (current, then past) and leaders with their training in force on the day."""
    people = GroupPeople()
    memberships = db.session.scalars(
        sa.select(Membership)
        .where(Membership.group_id == group.id)
        .options(so.joinedload(Membership.user))
        .order_by(Membership.joined_on, Membership.id)
    )
    for m in memberships:
        (people.current if m.left_on is None else people.past).append(m)
    people.current.sort(key=lambda m: (m.user.name.lower(), m.id))
    people.past.sort(key=lambda m: (m.left_on, m.id), reverse=True)
    leaders = db.session.scalars(
        sa.select(GroupLeader)
        .where(GroupLeader.group_id == group.id)
        .options(so.joinedload(GroupLeader.user).selectinload(User.training_records))
        .order_by(GroupLeader.created_at, GroupLeader.id)
    )
    people.leaders = [
        LeaderRow(gl.user, account_rules.best_level_on(gl.user.training_records, on), gl) for gl in leaders
    ]
    return people


def membership_on(day: date):
    """The SQL condition "this membership covers the local date `day`" (joined on or before it, not left before
    it): the one statement of "member of a group on a date" for every query that needs it (Membership.is_current
    and scheduling.rules.membership_covers say the same in Python). Combine it with the group and the person."""
    return sa.and_(Membership.joined_on <= day, sa.or_(Membership.left_on.is_(None), Membership.left_on >= day))
