"""The scheduling API: setting a group's rule and generating its meetings, and assigning a meeting's leaders."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from app.extensions import db as _db
from app.programme import services as programme
from app.scheduling import services as scheduling
from tests.factories import make_group, make_meeting, make_scoped_coordinator, make_user

PROBLEM = "application/problem+json"
WEEKLY = {"rule": {"kind": "nth_weekday", "weekday": 2, "weeks": [1, 3]}, "time": "14:00",
          "from": "2027-01-01", "until": "2027-01-31", "holidays": "move"}


@pytest.fixture
def meeting(db, group):
    """A scheduled meeting of the persona group a fortnight from now."""
    found = make_meeting(group, days_ahead=14, location=None)
    _db.session.commit()
    return found


def schedule(client, headers, group_id, **changes):
    return client.post(f"/api/v1/groups/{group_id}/schedule", json={**WEEKLY, **changes}, headers=headers)


# --- POST /groups/{id}/schedule ----------------------------------------------------------------

def test_a_leader_schedules_the_group_and_gets_the_meetings_it_generated(client, group, leader, bearer):
    response = schedule(client, bearer(leader), group.id)

    assert response.status_code == 201
    meetings = response.get_json()["meetings"]
    assert [m["starts_at"] for m in meetings] == ["2027-01-06T14:00:00+08:00", "2027-01-20T14:00:00+08:00"]
    assert {m["status"] for m in meetings} == {"scheduled"}
    assert all(m["group_id"] == group.id and m["leaders"] == [] for m in meetings)
    assert group.schedule.kind == "nth_weekday" and group.schedule.week_list == (1, 3)


def test_a_fortnightly_rule_starts_on_its_first_date(client, group, coordinator, bearer):
    rule = {"kind": "biweekly", "weekday": 0, "start": "2027-01-04"}
    response = schedule(client, bearer(coordinator), group.id, rule=rule, time="09:30")

    assert response.status_code == 201
    assert [m["starts_at"][:16] for m in response.get_json()["meetings"]] == [
        "2027-01-04T09:30", "2027-01-18T09:30"]


def test_scheduling_twice_creates_no_duplicate_meetings(client, group, leader, bearer):
    headers = bearer(leader)
    schedule(client, headers, group.id)
    again = schedule(client, headers, group.id)

    assert again.status_code == 201
    assert again.get_json() == {"meetings": []}


@pytest.mark.parametrize("persona", ["member", "outsider"])
def test_members_and_outsiders_may_not_schedule_a_group(client, group, request, bearer, persona):
    response = schedule(client, bearer(request.getfixturevalue(persona)), group.id)

    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert group.schedule is None


def test_a_coordinator_of_another_organisation_may_not_schedule_the_group(client, group, other_org, bearer):
    elsewhere = make_scoped_coordinator(other_org, email="else@example.org", name="Else")
    assert schedule(client, bearer(elsewhere), group.id).status_code == 403


def test_scheduling_without_a_token_is_unauthorised(client, group):
    response = schedule(client, {}, group.id)

    assert response.status_code == 401
    assert response.mimetype == PROBLEM


@pytest.mark.parametrize("group_id", [999_999, 2_147_483_647, 2_147_483_648])
def test_scheduling_an_unknown_group_is_not_found(client, group, leader, bearer, group_id):
    response = schedule(client, bearer(leader), group_id)

    assert response.status_code == 404
    assert response.mimetype == PROBLEM


@pytest.mark.parametrize("changes", [
    {"rule": {"kind": "nth_weekday", "weekday": 7, "weeks": [1]}},
    {"rule": {"kind": "nth_weekday", "weekday": "Wednesday", "weeks": [1]}},
    {"rule": {"kind": "nth_weekday", "weekday": 2, "weeks": [9]}},
    {"rule": {"kind": "nth_weekday", "weekday": 2, "weeks": []}},
    {"rule": {"kind": "monthly", "weekday": 2}},
    {"rule": {"kind": "biweekly", "weekday": 2}},
    {"rule": "every Wednesday"},
    {"time": "25:00"},
    {"time": 1400},
    {"from": "2027-02-30"},
    {"from": "9999-01-01"},
    {"until": "2026-12-31"},
    {"until": "2031-01-01"},
    {"holidays": "maybe"},
    {"rule": None},
])
def test_a_schedule_that_cannot_be_read_is_refused_with_the_field_named(client, group, leader, bearer, changes):
    response = schedule(client, bearer(leader), group.id, **changes)

    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert response.get_json()["detail"]
    assert group.schedule is None


def test_a_body_that_is_not_an_object_is_refused(client, group, leader, bearer):
    response = client.post(f"/api/v1/groups/{group.id}/schedule", json=[1, 2], headers=bearer(leader))

    assert response.status_code == 422


# --- PUT /meetings/{id}/leaders ----------------------------------------------------------------

def put_leaders(client, headers, meeting_id, body):
    return client.put(f"/api/v1/meetings/{meeting_id}/leaders", json=body, headers=headers)


def test_a_coordinator_assigns_an_eligible_lead_and_co_lead(client, meeting, coordinator, leader, trainee_leader,
                                                           bearer):
    response = put_leaders(client, bearer(coordinator), meeting.id,
                           {"lead_id": leader.id, "co_lead_id": trainee_leader.id})

    assert response.status_code == 200
    assert sorted((x["user_id"], x["role"]) for x in response.get_json()["leaders"]) == sorted(
        [(leader.id, "lead"), (trainee_leader.id, "co_lead")])


def test_the_groups_leader_assigns_the_lead_without_a_co_lead(client, meeting, leader, bearer):
    response = put_leaders(client, bearer(leader), meeting.id, {"lead_id": leader.id, "co_lead_id": None})

    assert response.status_code == 200
    assert response.get_json()["leaders"] == [{"user_id": leader.id, "role": "lead"}]


def test_a_leader_in_training_may_not_lead_and_the_refusal_names_the_rule(client, meeting, coordinator,
                                                                           trainee_leader, bearer):
    response = put_leaders(client, bearer(coordinator), meeting.id, {"lead_id": trainee_leader.id})

    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert "Trainee Tang" in response.get_json()["detail"]
    assert meeting.leaders == []


def test_a_leader_booked_into_an_overlapping_meeting_is_a_conflict(client, org, meeting, coordinator, leader,
                                                                    bearer, today):
    other = make_group(org, "Surgery Balint group")
    clash = scheduling.add_extra_meeting(None, other, day=today + timedelta(days=14), at=time(14, 30))
    scheduling.assign_leaders(None, clash, leader)
    _db.session.commit()

    response = put_leaders(client, bearer(coordinator), meeting.id, {"lead_id": leader.id})

    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    assert "Leader Li" in response.get_json()["detail"]


def test_a_cancelled_meeting_takes_no_leaders(client, meeting, coordinator, leader, bearer):
    scheduling.cancel_meeting(None, meeting, "Ward closed")
    _db.session.commit()

    assert put_leaders(client, bearer(coordinator), meeting.id, {"lead_id": leader.id}).status_code == 409


@pytest.mark.parametrize("body", [
    {}, {"lead_id": None}, {"lead_id": 0}, {"lead_id": -3}, {"lead_id": 2_147_483_648}, {"lead_id": "1"},
    {"lead_id": 999_999}, {"lead_id": 1, "co_lead_id": 99_999_999_999_999_999_999},
])
def test_leaders_that_cannot_be_read_or_found_are_refused(client, meeting, coordinator, bearer, body):
    response = put_leaders(client, bearer(coordinator), meeting.id, body)

    assert response.status_code == 422
    assert response.mimetype == PROBLEM


def test_the_same_person_cannot_be_lead_and_co_lead(client, meeting, coordinator, leader, bearer):
    response = put_leaders(client, bearer(coordinator), meeting.id, {"lead_id": leader.id, "co_lead_id": leader.id})

    assert response.status_code == 422


@pytest.mark.parametrize("persona", ["member", "outsider"])
def test_members_and_outsiders_may_not_assign_leaders(client, meeting, leader, request, bearer, persona):
    response = put_leaders(client, bearer(request.getfixturevalue(persona)), meeting.id, {"lead_id": leader.id})

    assert response.status_code == 403
    assert meeting.leaders == []


def test_a_leader_of_another_group_may_not_assign_leaders(client, org, meeting, bearer):
    stranger = make_user("stranger@example.org", roles=["leader"], organisation_id=org.id)
    other = make_group(org, "Surgery Balint group")
    programme.add_group_leader(None, other, stranger)
    response = put_leaders(client, bearer(stranger), meeting.id, {"lead_id": stranger.id})

    assert response.status_code == 403


def test_assigning_leaders_needs_a_token(client, meeting, leader):
    assert put_leaders(client, {}, meeting.id, {"lead_id": leader.id}).status_code == 401


def test_assigning_leaders_to_an_unknown_meeting_is_not_found(client, meeting, coordinator, leader, bearer):
    response = put_leaders(client, bearer(coordinator), 987_654, {"lead_id": leader.id})

    assert response.status_code == 404
    assert response.mimetype == PROBLEM
