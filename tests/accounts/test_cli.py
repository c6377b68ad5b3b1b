"""Operator commands: flask users create | list | set-role | deactivate."""

from __future__ import annotations

import pytest

from app.accounts import services
from app.accounts.models import User
from tests.factories import make_user


@pytest.fixture
def runner(app, db):
    return app.test_cli_runner()


def user(db, email) -> User:
    db.session.expire_all()
    return services.find_user_by_email(email)


def test_create_makes_a_user_with_every_role_given(runner, db):
    result = runner.invoke(args=[
        "users", "create", "--email", "Chief@Example.org", "--name", "Chief Zhao",
        "--role", "coordinator", "--role", "leader", "--password", "a long enough password",
    ])
    assert result.exit_code == 0, result.output
    assert "Created chief@example.org with roles coordinator, leader." in result.output
    person = user(db, "chief@example.org")
    assert person.roles == {"coordinator", "leader"} and person.is_programme_coordinator
    assert services.authenticate("chief@example.org", "a long enough password") == person


def test_create_without_a_password_says_how_to_get_one(runner, db):
    result = runner.invoke(args=["users", "create", "--email", "m@example.org", "--name", "M", "--role", "member"])
    assert result.exit_code == 0, result.output
    assert "No password set" in result.output
    assert not user(db, "m@example.org").has_password


def test_create_limits_a_coordinator_to_a_named_organisation(runner, db, org):
    db.session.commit()
    result = runner.invoke(args=[
        "users", "create", "--email", "oc@example.org", "--name", "OC", "--role", "coordinator",
        "--organisation", "Test Hospital",
    ])
    assert result.exit_code == 0, result.output
    person = user(db, "oc@example.org")
    assert person.coordinator_scope == org.id and person.organisation_id == org.id


@pytest.mark.parametrize("args, message", [
    (["--role", "member", "--organisation", "Nowhere"], "No organisation named 'Nowhere'."),
    (["--role", "member", "--password", "short"], "Use at least 10 characters."),
    (["--role", "admin"], "Invalid value for '--role'"),
])
def test_create_refuses_bad_values_and_saves_nothing(runner, db, args, message):
    result = runner.invoke(args=["users", "create", "--email", "x@example.org", "--name", "X", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert user(db, "x@example.org") is None


def test_create_refuses_an_address_already_taken(runner, db, member):
    db.session.commit()
    result = runner.invoke(args=["users", "create", "--email", "member@example.org", "--name", "X", "--role", "leader"])
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert user(db, "member@example.org").roles == {"member"}


def test_list_shows_every_user_with_roles_and_state(runner, db, coordinator, member):
    member.active = False
    db.session.commit()
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert lines == [
        "coordinator@example.org\tCoordinator Chen\tcoordinator\tactive",
        "member@example.org\tMember Ma\tmember\tinactive",
    ]


def test_set_role_makes_the_roles_exactly_those_given(runner, db):
    make_user("p@example.org", roles=["coordinator", "member"])
    db.session.commit()
    result = runner.invoke(args=["users", "set-role", "P@example.org", "leader", "member"])
    assert result.exit_code == 0, result.output
    assert "p@example.org now has roles leader, member." in result.output
    assert user(db, "p@example.org").roles == {"leader", "member"}


def test_set_role_can_limit_a_coordinator_to_an_organisation(runner, db, org):
    make_user("p@example.org", roles=["member"])
    db.session.commit()
    result = runner.invoke(args=["users", "set-role", "p@example.org", "coordinator", "--organisation", org.name])
    assert result.exit_code == 0, result.output
    assert user(db, "p@example.org").coordinator_scope == org.id


@pytest.mark.parametrize("args, message", [
    (["nobody@example.org", "member"], "No user with e-mail 'nobody@example.org'."),
    (["member@example.org", "admin"], "Invalid value for"),
    (["member@example.org"], "Missing argument"),
])
def test_set_role_refuses_unknown_people_and_roles(runner, db, member, args, message):
    db.session.commit()
    result = runner.invoke(args=["users", "set-role", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert user(db, "member@example.org").roles == {"member"}


def test_deactivate_signs_the_user_out_and_stops_log_in(runner, db, member):
    db.session.commit()
    version = member.session_version
    result = runner.invoke(args=["users", "deactivate", "member@example.org"])
    assert result.exit_code == 0, result.output
    assert "member@example.org is deactivated." in result.output
    person = user(db, "member@example.org")
    assert not person.active and person.session_version == version + 1
    assert services.load_user_from_session(f"{person.id}:{version}") is None
    assert services.authenticate("member@example.org", "correct horse battery") is None


def test_deactivate_refuses_an_unknown_address(runner, db):
    result = runner.invoke(args=["users", "deactivate", "nobody@example.org"])
    assert result.exit_code == 1
    assert "No user with e-mail 'nobody@example.org'." in result.output
