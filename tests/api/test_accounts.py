"""Contract of /api/v1/me, /api/v1/users and /api/v1/users/{id}/credentials."""

from __future__ import annotations

from app.accounts.models import TrainingRecord
from app.extensions import db as _db
from tests.api.conftest import assert_problem


def test_me_answers_who_the_token_belongs_to_with_a_calendar_address(api, leader):
    body = api.as_(leader).get("/api/v1/me").get_json()
    assert body["id"] == leader.id and body["name"] == leader.name and body["roles"] == ["leader"]
    assert "/calendar/" in body["calendar_url"] and body["calendar_url"].endswith(".ics")
    assert body["calendar_url"].startswith("http")


def test_me_gives_the_same_calendar_address_every_time(api, member):
    api.as_(member)
    assert api.get("/api/v1/me").get_json()["calendar_url"] == api.get("/api/v1/me").get_json()["calendar_url"]


def test_a_coordinator_lists_people_a_page_at_a_time(api, coordinator, member, leader):
    body = api.as_(coordinator).get("/api/v1/users?per_page=2").get_json()
    assert body["total"] == 3 and body["per_page"] == 2 and body["pages"] == 2 and len(body["items"]) == 2
    assert {"id", "email", "name", "roles", "profession"} <= set(body["items"][0])


def test_per_page_above_the_cap_is_refused_naming_the_field(api, coordinator):
    assert_problem(api.as_(coordinator).get("/api/v1/users?per_page=1000"), 422, field="per_page")


def test_an_organisation_coordinator_sees_only_their_organisation(api, org_coordinator, other_org, member):
    from tests.factories import make_user

    make_user("far@example.org", organisation_id=other_org.id)
    _db.session.commit()
    emails = {u["email"] for u in api.as_(org_coordinator).get("/api/v1/users").get_json()["items"]}
    assert member.email in emails and "far@example.org" not in emails


def test_leaders_and_members_may_not_list_people(api, leader, member):
    assert_problem(api.as_(leader).get("/api/v1/users"), 403)
    assert_problem(api.as_(member).get("/api/v1/users"), 403)


def test_a_coordinator_creates_a_person(api, coordinator):
    response = api.as_(coordinator).post("/api/v1/users", json={
        "email": "New.Person@Example.org", "name": "New Person", "roles": ["member"], "profession": "nurse",
    })
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["email"] == "new.person@example.org" and body["roles"] == ["member"] and body["profession"] == "nurse"


def test_a_taken_email_is_a_conflict(api, coordinator, member):
    response = api.as_(coordinator).post("/api/v1/users", json={"email": member.email, "name": "Again"})
    assert_problem(response, 409, field="email")


def test_an_unknown_role_is_refused_naming_the_field(api, coordinator):
    response = api.as_(coordinator).post("/api/v1/users", json={"email": "a@example.org", "name": "A",
                                                                 "roles": ["admin"]})
    assert_problem(response, 422, field="roles")


def test_a_missing_email_is_refused_naming_the_field(api, coordinator):
    body = assert_problem(api.as_(coordinator).post("/api/v1/users", json={"name": "A"}), 422, field="email")
    assert "email" in body["detail"]


def test_a_body_that_is_not_json_is_a_problem_not_an_error(api, coordinator):
    response = api.as_(coordinator).open("POST", "/api/v1/users", data="{not json",
                                         headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422) and response.mimetype == "application/problem+json"


def test_a_member_may_not_create_people(api, member):
    assert_problem(api.as_(member).post("/api/v1/users", json={"email": "a@example.org", "name": "A"}), 403)


def test_a_coordinator_records_verified_leader_training(api, coordinator, outsider):
    response = api.as_(coordinator).post(f"/api/v1/users/{outsider.id}/credentials", json={
        "level": "leader", "completed_on": "2025-03-01", "valid_until": "2030-03-01",
        "issuer": "Balint Society", "verified": True,
    })
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["verified"] is True and body["completed_on"] == "2025-03-01" and body["user_id"] == outsider.id
    record = _db.session.get(TrainingRecord, body["id"])
    assert record.verified_by_id == coordinator.id


def test_training_valid_before_it_was_completed_is_refused_naming_the_field(api, coordinator, outsider):
    response = api.as_(coordinator).post(f"/api/v1/users/{outsider.id}/credentials", json={
        "level": "leader", "completed_on": "2025-03-01", "valid_until": "2024-03-01", "issuer": "X",
    })
    assert_problem(response, 422, field="valid_until")


def test_an_unknown_level_is_refused_naming_the_field(api, coordinator, outsider):
    response = api.as_(coordinator).post(f"/api/v1/users/{outsider.id}/credentials", json={
        "level": "guru", "completed_on": "2025-03-01", "issuer": "X",
    })
    assert_problem(response, 422, field="level")


def test_credentials_of_nobody_are_a_404(api, coordinator):
    response = api.as_(coordinator).post("/api/v1/users/999999/credentials", json={
        "level": "leader", "completed_on": "2025-03-01", "issuer": "X",
    })
    assert_problem(response, 404)


def test_a_leader_may_not_record_training(api, leader, outsider):
    response = api.as_(leader).post(f"/api/v1/users/{outsider.id}/credentials", json={
        "level": "leader", "completed_on": "2025-03-01", "issuer": "X", "verified": True,
    })
    assert_problem(response, 403)


def test_an_organisation_coordinator_may_not_record_training_outside_it(api, org_coordinator, other_org):
    from tests.factories import make_user

    far = make_user("far@example.org", organisation_id=other_org.id)
    _db.session.commit()
    response = api.as_(org_coordinator).post(f"/api/v1/users/{far.id}/credentials", json={
        "level": "leader", "completed_on": "2025-03-01", "issuer": "X",
    })
    assert_problem(response, 403)
