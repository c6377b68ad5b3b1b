"""Account operations without HTTP: passwords, one-time links, roles, training and eligible leaders."""

import time
from datetime import timedelta

import pytest
import time_machine

from app.accounts import services
from app.accounts.models import User
from app.errors import Conflict, DomainError
from tests.factories import PASSWORD, give_training, make_user


def test_emails_are_unique_whatever_their_case(db):
    make_user("Ann@Example.org")
    with pytest.raises(Conflict):
        make_user("ann@example.ORG")


def test_a_password_is_stored_as_an_argon2id_hash(db):
    user = make_user("a@example.org")
    assert user.password_hash.startswith("$argon2id$")
    assert services.verify_password(user, PASSWORD)
    assert not services.verify_password(user, "wrong password")


def test_a_short_password_is_refused(db):
    user = make_user("a@example.org")
    with pytest.raises(DomainError):
        services.set_password(user, "short")


def test_changing_the_password_raises_the_session_version(db):
    user = make_user("a@example.org")
    before = user.get_id()
    services.change_password(user, PASSWORD, "another long password")
    assert user.get_id() != before
    assert services.load_user_from_session(before) is None
    assert services.load_user_from_session(user.get_id()) is user


def test_a_deactivated_user_cannot_authenticate(db):
    user = make_user("a@example.org")
    services.set_active(None, user, False)
    assert services.authenticate("a@example.org", PASSWORD) is None


def test_an_invitation_link_works_once(db):
    user = make_user("new@example.org", password=None)
    token = services.make_link_token(user, services.INVITE)
    assert services.user_for_token(token, services.INVITE) is user
    services.use_link_token(token, services.INVITE, "a fine long password")
    with pytest.raises(DomainError):
        services.user_for_token(token, services.INVITE)


def test_a_reset_link_is_not_an_invitation_link(db):
    user = make_user("a@example.org")
    token = services.make_link_token(user, services.RESET)
    with pytest.raises(DomainError):
        services.user_for_token(token, services.INVITE)


def test_a_reset_link_expires(app, db):
    user = make_user("a@example.org")
    token = services.make_link_token(user, services.RESET)
    later = app.config["RESET_MAX_AGE"] + timedelta(minutes=1)
    with time_machine.travel(later.total_seconds() + time.time(), tick=False), pytest.raises(DomainError):
        services.user_for_token(token, services.RESET)


def test_a_tampered_link_is_refused(db):
    user = make_user("a@example.org")
    token = services.make_link_token(user, services.RESET)
    with pytest.raises(DomainError):
        services.user_for_token(token[:-2] + "xx", services.RESET)


def test_set_roles_makes_the_roles_exactly_those(db):
    user = make_user("a@example.org", roles=["member", "leader"])
    services.set_roles(None, user, ["coordinator"])
    assert user.roles == {"coordinator"}


def test_unknown_roles_are_refused(db):
    with pytest.raises(DomainError):
        make_user("a@example.org", roles=["admin"])


def test_a_coordinator_cannot_drop_their_own_coordinator_role(db, coordinator):
    with pytest.raises(DomainError):
        services.set_roles(coordinator, coordinator, ["member"])


def test_a_scoped_coordinator_knows_their_organisation(db, org_coordinator, org):
    assert org_coordinator.coordinator_scope == org.id
    assert not org_coordinator.is_programme_coordinator


def test_training_records_verified_by_a_coordinator_make_a_leader_eligible(db, coordinator, today):
    user = make_user("l@example.org", roles=["leader"])
    record = services.add_training_record(
        coordinator, user, kind="Leader training", level="leader", issuer="Society",
        completed_on=today - timedelta(days=10),
    )
    assert user not in services.eligible_leaders(today)
    services.verify_training_record(coordinator, record)
    assert user in services.eligible_leaders(today)
    assert record.verified_by is coordinator


def test_only_a_coordinator_verifies_training(db, leader, today):
    other = make_user("o@example.org", roles=["leader"])
    record = services.add_training_record(
        leader, other, kind="x", level="leader", issuer="y", completed_on=today,
    )
    with pytest.raises(DomainError):
        services.verify_training_record(leader, record)


def test_editing_a_verified_record_withdraws_the_verification(db, coordinator, today):
    user = make_user("l@example.org", roles=["leader"])
    record = services.add_training_record(
        coordinator, user, kind="x", level="leader", issuer="y", completed_on=today, verified=True,
    )
    services.update_training_record(coordinator, record, valid_until=today + timedelta(days=30))
    assert not record.verified


def test_valid_until_before_completion_is_refused(db, coordinator, member, today):
    with pytest.raises(DomainError):
        services.add_training_record(
            coordinator, member, kind="x", level="leader", issuer="y", completed_on=today,
            valid_until=today - timedelta(days=1),
        )


def test_eligible_leaders_leave_out_expired_trainees_and_group_members(db, group, leader, member, trainee_leader,
                                                                       today):
    give_training(member, "leader")
    expired = make_user("exp@example.org", roles=["leader"])
    give_training(expired, "leader", completed_on=today - timedelta(days=900), valid_until=today - timedelta(days=1))

    leads = services.eligible_leaders(today)
    assert leader in leads and member in leads
    assert trainee_leader not in leads and expired not in leads
    assert trainee_leader in services.eligible_leaders(today, "co_lead")
    assert member not in services.eligible_leaders(today, group=group)


def test_every_change_is_in_the_audit_log(db, coordinator):
    from app.audit.models import AuditEntry

    user = services.create_user(coordinator, email="x@example.org", name="X", roles=["member"])
    services.set_active(coordinator, user, False)
    actions = [e.action for e in db.session.query(AuditEntry).filter_by(object_type="User", object_id=user.id)]
    assert actions == ["user_created", "user_deactivated"]
    assert isinstance(db.session.get(User, user.id), User)
