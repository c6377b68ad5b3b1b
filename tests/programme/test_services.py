"""Programme services without HTTP: organisations, groups, memberships, leaders and coordinators' scope."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import RoleAssignment
from app.audit.models import AuditEntry
from app.errors import Conflict, DomainError, NotAllowed
from app.programme import services
from app.programme.models import Group, GroupLeader, Membership, Organisation
from tests.factories import make_group, make_user

# --- organisations ---------------------------------------------------------------------------


def test_an_organisation_name_is_refused_when_taken_whatever_the_case(db, org):
    with pytest.raises(Conflict) as caught:
        services.create_organisation(None, name="  test HOSPITAL ")
    assert caught.value.field == "name"
    assert db.session.scalar(sa.select(sa.func.count(Organisation.id))) == 1


def test_renaming_an_organisation_to_another_ones_name_is_refused(db, org, other_org):
    with pytest.raises(Conflict):
        services.update_organisation(None, other_org, name=org.name, kind="hospital")


def test_renaming_an_organisation_to_its_own_name_in_new_case_is_allowed(db, org):
    services.update_organisation(None, org, name="TEST hospital", kind="department")
    assert (org.name, org.kind) == ("TEST hospital", "department")


def test_an_empty_or_overlong_organisation_name_is_refused_on_the_name_field(db):
    for name in ("   ", "x" * 201):
        with pytest.raises(DomainError) as caught:
            services.create_organisation(None, name=name)
        assert caught.value.field == "name"


def test_an_unknown_kind_of_organisation_is_refused(db):
    with pytest.raises(DomainError) as caught:
        services.create_organisation(None, name="Clinic", kind="spaceship")
    assert caught.value.field == "kind"


def test_deactivating_an_organisation_keeps_it_and_is_audited_once(db, org):
    services.set_organisation_active(None, org, False)
    services.set_organisation_active(None, org, False)
    assert db.session.get(Organisation, org.id).active is False
    actions = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_type == "Organisation"))
    assert list(actions).count("organisation_deactivated") == 1


def test_services_flush_but_leave_the_commit_to_the_caller(db):
    services.create_organisation(None, name="Uncommitted Clinic")
    db.session.rollback()
    assert db.session.scalar(sa.select(Organisation).where(Organisation.name == "Uncommitted Clinic")) is None


# --- groups ----------------------------------------------------------------------------------


def test_a_new_group_gets_the_programmes_defaults(db, org):
    group = make_group(org)
    assert (group.duration_minutes, group.feedback_interval, group.feedback_window_days) == (60, 5, 14)
    assert (group.mode, group.status, group.capacity) == ("onsite", "active", 10)


def test_a_group_name_is_refused_twice_in_one_organisation_but_allowed_in_another(db, org, other_org):
    make_group(org, "Nurses")
    with pytest.raises(Conflict) as caught:
        make_group(org, "NURSES")
    assert caught.value.field == "name"
    assert make_group(other_org, "Nurses").organisation_id == other_org.id


def test_a_group_in_an_unknown_organisation_is_refused(db):
    with pytest.raises(DomainError) as caught:
        services.create_group(None, name="Nowhere", organisation_id=999)
    assert caught.value.field == "organisation_id"


@pytest.mark.parametrize(
    ("field", "value"),
    [("capacity", 0), ("capacity", 101), ("duration_minutes", 10), ("feedback_interval", 0),
     ("feedback_window_days", 121), ("mode", "telepathy"), ("status", "archived")],
)
def test_a_group_setting_out_of_range_is_refused_on_its_field(db, org, field, value):
    with pytest.raises(DomainError) as caught:
        make_group(org, **{field: value})
    assert caught.value.field == field


def test_updating_a_group_changes_only_what_is_given_and_audits_it(db, org):
    group = make_group(org, capacity=8)
    services.update_group(None, group, capacity=14, location="Room 3")
    assert (group.capacity, group.location, group.name) == (14, "Room 3", "Group A")
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "group_updated")).one()
    assert entry.detail == {"capacity": 14, "location": "Room 3"}


# --- memberships -----------------------------------------------------------------------------


def test_a_full_group_refuses_one_more_member(db, org, today):
    group = make_group(org, capacity=2)
    for n in range(2):
        services.add_member(None, group, make_user(f"m{n}@example.org"), today)
    with pytest.raises(DomainError) as caught:
        services.add_member(None, group, make_user("third@example.org"), today)
    assert caught.value.field == "user_id"
    assert services.current_member_count(group) == 2


def test_a_current_member_cannot_be_added_twice(db, group, member, today):
    with pytest.raises(Conflict):
        services.add_member(None, group, member, today)


def test_rejoining_after_leaving_adds_a_new_membership_and_keeps_the_old_one(db, group, member, today):
    first = services.open_membership(group, member)
    services.end_membership(None, first, today - timedelta(days=10))
    services.add_member(None, group, member, today - timedelta(days=2))
    rows = db.session.scalars(
        sa.select(Membership).where(Membership.user_id == member.id).order_by(Membership.joined_on)
    ).all()
    assert [(m.joined_on, m.left_on) for m in rows] == [
        (today - timedelta(days=30), today - timedelta(days=10)),
        (today - timedelta(days=2), None),
    ]


def test_a_rejoin_may_not_start_on_or_before_the_day_the_last_membership_ended(db, group, member, today):
    services.end_membership(None, services.open_membership(group, member), today - timedelta(days=5))
    with pytest.raises(DomainError) as caught:
        services.add_member(None, group, member, today - timedelta(days=5))
    assert caught.value.field == "joined_on"


def test_a_membership_cannot_end_before_it_began(db, group, member):
    membership = services.open_membership(group, member)
    with pytest.raises(DomainError) as caught:
        services.end_membership(None, membership, membership.joined_on - timedelta(days=1))
    assert caught.value.field == "left_on"
    assert membership.left_on is None


def test_a_membership_ends_only_once(db, group, member, today):
    membership = services.open_membership(group, member)
    services.end_membership(None, membership, today)
    with pytest.raises(Conflict):
        services.end_membership(None, membership, today)


def test_a_deactivated_person_cannot_join(db, org, today):
    group = make_group(org)
    person = make_user("gone@example.org")
    person.active = False
    with pytest.raises(DomainError):
        services.add_member(None, group, person, today)


def test_joining_a_group_gives_the_member_role(db, org, today):
    group = make_group(org)
    person = make_user("coord2@example.org", roles=["coordinator"])
    services.add_member(None, group, person, today)
    assert person.has_role("member")


# --- leaders ---------------------------------------------------------------------------------


def test_a_member_cannot_be_made_a_leader_of_the_same_group(db, group, member):
    member.role_assignments.append(RoleAssignment(role="leader"))
    with pytest.raises(Conflict) as caught:
        services.add_group_leader(None, group, member)
    assert caught.value.field == "user_id"
    assert not services.is_group_leader(group, member)


def test_a_leader_of_a_group_cannot_join_it_as_a_member(db, group, leader, today):
    with pytest.raises(Conflict) as caught:
        services.add_member(None, group, leader, today)
    assert caught.value.field == "user_id"
    assert services.open_membership(group, leader) is None


def test_a_leader_may_be_a_member_of_another_group(db, org, group, leader, today):
    other = make_group(org, "Surgeons")
    services.add_member(None, other, leader, today)
    assert services.open_membership(other, leader) is not None


def test_only_people_with_the_leader_role_can_lead(db, org, outsider):
    with pytest.raises(DomainError) as caught:
        services.add_group_leader(None, make_group(org, "B"), outsider)
    assert caught.value.field == "user_id"


def test_a_leader_is_added_once_and_can_be_removed(db, org, leader):
    group = make_group(org, "B")
    standing = services.add_group_leader(None, group, leader)
    with pytest.raises(Conflict):
        services.add_group_leader(None, group, leader)
    services.remove_group_leader(None, standing)
    assert db.session.scalars(sa.select(GroupLeader).where(GroupLeader.group_id == group.id)).all() == []


# --- scope -----------------------------------------------------------------------------------


def test_a_scoped_coordinator_cannot_create_organisations(db, org_coordinator):
    with pytest.raises(NotAllowed):
        services.create_organisation(org_coordinator, name="New Clinic")


def test_a_scoped_coordinator_manages_groups_of_their_organisation(db, org, org_coordinator, member, today):
    group = services.create_group(org_coordinator, name="Own group", organisation_id=org.id)
    services.update_group(org_coordinator, group, capacity=9)
    services.add_member(org_coordinator, group, member, today)
    services.update_organisation(org_coordinator, org, name="Renamed Hospital", kind="hospital")
    assert (group.capacity, services.current_member_count(group), org.name) == (9, 1, "Renamed Hospital")


def test_a_scoped_coordinator_cannot_touch_another_organisation(db, org_coordinator, other_org, outsider, leader,
                                                                today):
    foreign = make_group(other_org, "Foreign")
    with pytest.raises(NotAllowed):
        services.create_group(org_coordinator, name="Sneaky", organisation_id=other_org.id)
    with pytest.raises(NotAllowed):
        services.update_group(org_coordinator, foreign, capacity=9)
    with pytest.raises(NotAllowed):
        services.add_member(org_coordinator, foreign, outsider, today)
    with pytest.raises(NotAllowed):
        services.add_group_leader(org_coordinator, foreign, leader)
    with pytest.raises(NotAllowed):
        services.set_organisation_active(org_coordinator, other_org, False)
    assert foreign.capacity == 10 and other_org.active
    assert db.session.scalar(sa.select(sa.func.count(Group.id)).where(Group.name == "Sneaky")) == 0


def test_a_scoped_coordinator_cannot_move_a_group_to_another_organisation(db, org, other_org, org_coordinator):
    group = make_group(org)
    with pytest.raises(NotAllowed):
        services.update_group(org_coordinator, group, organisation_id=other_org.id)
    assert group.organisation_id == org.id


def test_a_programme_coordinator_may_act_in_every_organisation(db, coordinator, other_org):
    group = services.create_group(coordinator, name="Anywhere", organisation_id=other_org.id)
    assert group.organisation_id == other_org.id


def test_someone_who_is_not_a_coordinator_may_not_run_the_programme(db, org, member):
    with pytest.raises(NotAllowed):
        services.create_group(member, name="Mine", organisation_id=org.id)
