"""The SQL twins of app.permissions list exactly what its Python predicates admit, whatever the data.

Hypothesis builds small worlds straight in the tables — organisations, groups, people with any roles, coordinator
scopes, active or not, memberships (none, current, ended, rejoined, starting later) and standing leaderships,
including states the services refuse (a leader who is also a member) — and compares, for every person,
`visible_groups(user)` with `can_access_group(user, g, "view")` over every group, and `visible_organisations(user)`
with `coordinates_org(user, o.id)` over every organisation. Each world is rolled back after its check.
"""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.accounts.models import ROLES, RoleAssignment, User
from app.extensions import login_manager
from app.permissions import can_access_group, coordinates_org, visible_groups, visible_organisations
from app.programme.models import Group, GroupLeader, Membership, Organisation

ORGANISATIONS = 3
MEMBERSHIPS = ("none", "current", "ended", "rejoined", "starts_later")
PAST, LEFT, RECENT, LATER = date(2024, 1, 1), date(2024, 6, 30), date(2025, 1, 1), date(2099, 1, 1)


@st.composite
def worlds(draw):
    """Groups (each in one of three organisations) and people related to them in every way the tables allow."""
    group_orgs = draw(st.lists(st.integers(0, ORGANISATIONS - 1), min_size=1, max_size=4))
    people = draw(st.lists(st.fixed_dictionaries({
        "roles": st.sets(st.sampled_from(ROLES)),
        "scope": st.none() | st.integers(0, ORGANISATIONS - 1),
        "active": st.booleans(),
        "memberships": st.lists(st.sampled_from(MEMBERSHIPS), min_size=len(group_orgs), max_size=len(group_orgs)),
        "leads": st.lists(st.booleans(), min_size=len(group_orgs), max_size=len(group_orgs)),
    }), min_size=1, max_size=4))
    return group_orgs, people


def _build(db, group_orgs, people):
    """Write the world to the tables; (organisations, groups, users), reloaded from the database."""
    orgs = [Organisation(name=f"Organisation {i}") for i in range(ORGANISATIONS)]
    db.session.add_all(orgs)
    db.session.flush()
    groups = [Group(organisation_id=orgs[o].id, name=f"Group {i}") for i, o in enumerate(group_orgs)]
    db.session.add_all(groups)
    users = []
    for i, spec in enumerate(people):
        user = User(email=f"person{i}@example.org", name=f"Person {i}", active=spec["active"])
        for role in sorted(spec["roles"]):
            scope = orgs[spec["scope"]].id if role == "coordinator" and spec["scope"] is not None else None
            user.role_assignments.append(RoleAssignment(role=role, organisation_id=scope))
        users.append(user)
    db.session.add_all(users)
    db.session.flush()
    for user, spec in zip(users, people, strict=True):
        for group, state, leads in zip(groups, spec["memberships"], spec["leads"], strict=True):
            if state in ("ended", "rejoined"):
                db.session.add(Membership(group_id=group.id, user_id=user.id, joined_on=PAST, left_on=LEFT))
            if state in ("current", "rejoined"):
                db.session.add(Membership(group_id=group.id, user_id=user.id, joined_on=RECENT))
            if state == "starts_later":
                db.session.add(Membership(group_id=group.id, user_id=user.id, joined_on=LATER))
            if leads:
                db.session.add(GroupLeader(group_id=group.id, user_id=user.id))
    db.session.flush()
    db.session.expire_all()  # the predicates read the relationships as the database now has them
    return orgs, groups, users


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=worlds())
def test_the_sql_twin_lists_exactly_the_groups_the_python_predicate_admits(db, world):
    try:
        _orgs, groups, users = _build(db, *world)
        for user in users:
            admitted = {g.id for g in groups if can_access_group(user, g, "view")}
            listed = [g.id for g in db.session.scalars(visible_groups(user))]
            assert sorted(listed) == sorted(admitted), (user.email, sorted(user.roles), user.coordinator_scope)
            assert len(listed) == len(set(listed))  # each group once
    finally:
        db.session.rollback()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=worlds())
def test_the_sql_twin_lists_exactly_the_organisations_the_python_predicate_admits(db, world):
    try:
        orgs, _groups, users = _build(db, *world)
        for user in users:
            admitted = {o.id for o in orgs if coordinates_org(user, o.id)}
            listed = [o.id for o in db.session.scalars(visible_organisations(user))]
            assert sorted(listed) == sorted(admitted), (user.email, sorted(user.roles), user.coordinator_scope)
    finally:
        db.session.rollback()


def test_somebody_signed_out_is_listed_no_group_and_no_organisation(db, group, org):
    anonymous = login_manager.anonymous_user()
    assert not can_access_group(anonymous, group, "view") and not coordinates_org(anonymous, org.id)
    assert db.session.scalars(visible_groups(anonymous)).all() == []
    assert db.session.scalars(visible_organisations(anonymous)).all() == []
