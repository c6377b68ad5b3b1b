"""Contract of /api/v1/groups and /api/v1/groups/{id}/members, per role."""

from __future__ import annotations

from app.extensions import db as _db
from app.programme.models import Membership
from tests.api.conftest import assert_problem
from tests.factories import make_group


def _names(response) -> set[str]:
    assert response.status_code == 200, response.get_json()
    return {g["name"] for g in response.get_json()["items"]}


def test_a_coordinator_lists_every_group_with_totals(api, coordinator, group, org):
    make_group(org, "Nursing group")
    _db.session.commit()
    body = api.as_(coordinator).get("/api/v1/groups").get_json()
    assert body["total"] == 2 and body["page"] == 1
    item = body["items"][0]
    assert {"id", "name", "organisation_id", "capacity", "mode", "location", "duration_minutes",
            "feedback_interval", "feedback_window_days", "calendar_url"} <= set(item)


def test_a_leader_lists_only_the_groups_they_lead(api, leader, group, org):
    make_group(org, "Someone else's group")
    _db.session.commit()
    assert _names(api.as_(leader).get("/api/v1/groups")) == {group.name}


def test_a_member_lists_only_their_groups(api, member, group, org):
    make_group(org, "Not theirs")
    _db.session.commit()
    assert _names(api.as_(member).get("/api/v1/groups")) == {group.name}


def test_an_organisation_coordinator_lists_only_their_organisations_groups(api, org_coordinator, group, other_org):
    make_group(other_org, "Far away")
    _db.session.commit()
    assert _names(api.as_(org_coordinator).get("/api/v1/groups")) == {group.name}


def test_a_member_opens_their_group_with_its_calendar_address(api, member, group):
    body = api.as_(member).get(f"/api/v1/groups/{group.id}").get_json()
    assert body["id"] == group.id and body["calendar_url"].endswith(".ics")


def test_an_outsider_may_not_open_a_group(api, outsider, group):
    assert_problem(api.as_(outsider).get(f"/api/v1/groups/{group.id}"), 403)


def test_a_group_that_does_not_exist_is_a_404(api, coordinator):
    assert_problem(api.as_(coordinator).get("/api/v1/groups/999999"), 404)


def test_a_coordinator_creates_a_group(api, coordinator, org):
    response = api.as_(coordinator).post("/api/v1/groups", json={
        "name": "Surgeons", "organisation_id": org.id, "capacity": 12, "mode": "hybrid", "location": "Room 3",
    })
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["mode"] == "hybrid" and body["capacity"] == 12 and body["feedback_interval"] == 5


def test_a_duplicate_group_name_is_a_conflict(api, coordinator, group, org):
    response = api.as_(coordinator).post("/api/v1/groups", json={"name": group.name, "organisation_id": org.id})
    assert_problem(response, 409, field="name")


def test_an_unknown_mode_is_refused_naming_the_field(api, coordinator, org):
    response = api.as_(coordinator).post("/api/v1/groups", json={"name": "X", "organisation_id": org.id,
                                                                  "mode": "telepathy"})
    assert_problem(response, 422, field="mode")


def test_a_group_without_organisation_names_the_field_as_the_openapi_document_requires_it(
        api, coordinator, org_coordinator, client):
    for person in (coordinator, org_coordinator):
        assert_problem(api.as_(person).post("/api/v1/groups", json={"name": "X"}), 422, field="organisation_id")
    schema = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["GroupIn"]
    assert sorted(schema["required"]) == ["name", "organisation_id"]


def test_an_organisation_coordinator_may_not_create_a_group_elsewhere(api, org_coordinator, other_org):
    response = api.as_(org_coordinator).post("/api/v1/groups", json={"name": "X", "organisation_id": other_org.id})
    assert_problem(response, 403)


def test_leaders_and_members_may_not_create_groups(api, leader, member, org):
    for user in (leader, member):
        assert_problem(api.as_(user).post("/api/v1/groups", json={"name": "X", "organisation_id": org.id}), 403)


def test_a_coordinator_adds_a_member_and_ends_the_membership(api, coordinator, group, outsider):
    api.as_(coordinator)
    response = api.post(f"/api/v1/groups/{group.id}/members", json={"user_id": outsider.id})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["user_id"] == outsider.id and response.get_json()["left_on"] is None

    response = api.delete(f"/api/v1/groups/{group.id}/members/{outsider.id}")
    assert response.status_code == 204
    _db.session.expire_all()
    membership = _db.session.query(Membership).filter_by(group_id=group.id, user_id=outsider.id).one()
    assert membership.left_on is not None


def test_adding_a_current_member_again_is_a_conflict(api, coordinator, group, member):
    response = api.as_(coordinator).post(f"/api/v1/groups/{group.id}/members", json={"user_id": member.id})
    assert_problem(response, 409, field="user_id")


def test_adding_nobody_is_a_404(api, coordinator, group):
    response = api.as_(coordinator).post(f"/api/v1/groups/{group.id}/members", json={"user_id": 999999})
    assert_problem(response, 404)


def test_a_user_id_that_is_not_a_number_is_refused_naming_the_field(api, coordinator, group):
    response = api.as_(coordinator).post(f"/api/v1/groups/{group.id}/members", json={"user_id": "seven"})
    assert_problem(response, 422, field="user_id")


def test_removing_someone_who_is_not_a_member_is_a_404(api, coordinator, group, outsider):
    assert_problem(api.as_(coordinator).delete(f"/api/v1/groups/{group.id}/members/{outsider.id}"), 404)


def test_a_leader_may_not_change_membership(api, leader, group, outsider, member):
    api.as_(leader)
    assert_problem(api.post(f"/api/v1/groups/{group.id}/members", json={"user_id": outsider.id}), 403)
    assert_problem(api.delete(f"/api/v1/groups/{group.id}/members/{member.id}"), 403)


def test_an_organisation_coordinator_may_not_change_another_organisations_group(
    api, org_coordinator, other_org, outsider
):
    far = make_group(other_org, "Far away")
    _db.session.commit()
    response = api.as_(org_coordinator).post(f"/api/v1/groups/{far.id}/members", json={"user_id": outsider.id})
    assert_problem(response, 403)
