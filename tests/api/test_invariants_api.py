"""The meeting invariants through the API: refusals are problem+json naming the rule (`rule`), and each meeting
of a group's list carries the rules it breaks now (`problems`), documented in the OpenAPI document."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.programme.models import Membership
from app.scheduling import services as scheduling
from app.scheduling.models import MeetingLeader
from app.timeutil import local_today
from tests.api.conftest import assert_problem
from tests.factories import give_training, make_user
from tests.querylog import recorded_statements


@pytest.fixture
def eve(db, org, today):
    person = make_user("eve@example.org", roles=["leader"], name="Expiring Eve", organisation_id=org.id)
    give_training(person, "leader", completed_on=date(2020, 1, 1), valid_until=today + timedelta(days=10))
    return person


def meeting_in(group, days: int, at=time(14, 0)):
    return scheduling.add_extra_meeting(None, group, day=local_today() + timedelta(days=days), at=at)


def test_each_meeting_of_the_list_names_the_rules_it_breaks_now(api, coordinator, group, eve, leader, today):
    soon, later, unled = meeting_in(group, 5), meeting_in(group, 20), meeting_in(group, 30)
    scheduling.assign_leaders(None, soon, eve)
    scheduling.assign_leaders(None, later, leader)
    eve.training_records[0].valid_until = today + timedelta(days=1)  # her record was shortened since
    later.leaders[0].user.training_records[0].valid_until = None
    response = api.as_(coordinator).get(f"/api/v1/groups/{group.id}/meetings")
    assert response.status_code == 200
    items = {item["id"]: item for item in response.get_json()["items"]}
    assert items[soon.id]["problems"] == [{
        "code": "training_expired", "role": "lead", "user_id": eve.id,
        "message": "Lead no longer eligible on this date: Expiring Eve. The training is no longer valid on this date.",
    }]
    assert items[later.id]["problems"] == []
    assert items[unled.id]["problems"] == [{"code": "no_lead", "role": None, "user_id": None,
                                             "message": "No lead yet."}]


def test_an_ineligible_lead_is_a_422_naming_the_rule(api, coordinator, group, eve):
    meeting = meeting_in(group, 20)
    response = api.as_(coordinator).put(f"/api/v1/meetings/{meeting.id}/leaders", json={"lead_id": eve.id})
    body = assert_problem(response, 422, field="lead_id")
    assert body["rule"] == "training_expired"
    assert (
        body["detail"]) == "Expiring Eve cannot be lead of this meeting: The training is no longer valid on this date."
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(MeetingLeader)) == 0


def test_a_double_booking_stays_a_409_and_names_its_rule(api, coordinator, org, group, leader):
    from tests.factories import make_group

    other = meeting_in(make_group(org, "Surgeons"), 7, at=time(14, 30))
    scheduling.assign_leaders(None, other, leader)
    meeting = meeting_in(group, 7)
    response = api.as_(coordinator).put(f"/api/v1/meetings/{meeting.id}/leaders", json={"lead_id": leader.id})
    assert assert_problem(response, 409, field="lead_id")["rule"] == "overlapping_meeting"


def test_recording_a_meeting_as_held_without_a_lead_is_a_422_naming_the_rule(api, coordinator, group, member):
    meeting = meeting_in(group, -3)
    response = api.as_(coordinator).post(f"/api/v1/meetings/{meeting.id}/record", json={
        "status": "held", "attendance": [{"user_id": member.id, "status": "present"}]})
    body = assert_problem(response, 422, field="status")
    assert body["rule"] == "held_without_lead"
    assert body["detail"] == "Recording a meeting as held requires an eligible lead on that date."


@pytest.mark.parametrize("reason", ["患者住院号123456 电话13812345678", "12床患儿 出生日期：2019-05-01"])
def test_a_cancel_reason_holding_patient_identifiers_is_refused(api, coordinator, group, reason):
    meeting = meeting_in(group, -3)
    response = api.as_(coordinator).post(f"/api/v1/meetings/{meeting.id}/record",
                                         json={"status": "cancelled", "cancel_reason": reason})
    body = assert_problem(response, 422, field="cancel_reason")
    assert "Records hold no patient identifiers" in body["detail"]


def test_a_person_leading_the_groups_meeting_cannot_be_added_as_its_member(api, coordinator, group, leader, eve, today):
    meeting = meeting_in(group, 5)
    scheduling.assign_leaders(None, meeting, eve)
    response = api.as_(coordinator).post(f"/api/v1/groups/{group.id}/members",
                                         json={"user_id": eve.id, "joined_on": today.isoformat()})
    body = assert_problem(response, 422, field="user_id")
    assert body["rule"] == "member_of_group" and "Expiring Eve leads this group's meeting of" in body["detail"]
    assert _db.session.scalar(sa.select(Membership.id).where(Membership.user_id == eve.id)) is None
    response = api.as_(coordinator).post(f"/api/v1/groups/{group.id}/members", json={"user_id": leader.id})
    assert assert_problem(response, 409, field="user_id")["rule"] == "standing_leader_of_group"


def test_the_problems_of_a_meeting_are_described_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    problems = schemas["Meeting"]["properties"]["problems"]
    assert problems["items"]["$ref"].endswith("/MeetingProblem")
    assert {"training_expired", "no_lead", "held_without_lead", "member_of_group"} <= set(
        schemas["MeetingProblem"]["properties"]["code"]["enum"])


def test_the_list_needs_the_same_number_of_queries_for_a_full_page(api, client, coordinator, group, eve, leader, today):
    from app.accounts.models import TrainingRecord

    api.as_(coordinator)
    group_id = group.id
    for days in (3, 4):
        scheduling.assign_leaders(None, meeting_in(group, days), eve)
    _db.session.commit()

    def statements() -> int:
        _db.session.expunge_all()  # as a fresh request starts
        with recorded_statements(_db.engine) as seen:
            response = api.get(f"/api/v1/groups/{group_id}/meetings?per_page=100")
        seen = [s for s in seen if not s.startswith("BEGIN")]
        assert response.status_code == 200
        return len(seen), sum(bool(item["problems"]) for item in response.get_json()["items"])

    statements()  # the token's first use is recorded once
    few, _flagged = statements()
    for days in range(5, 25):
        person = make_user(f"l{days}@example.org", roles=["leader"])
        give_training(person, "leader", completed_on=date(2020, 1, 1))
        scheduling.assign_leaders(None, meeting_in(_db.session.merge(group), days, at=time(9, 0)), person, None)
    _db.session.execute(sa.update(TrainingRecord).values(valid_until=today + timedelta(days=1)))
    _db.session.commit()
    assert statements() == (few, 22)
