"""The meetings API: a group's meeting list, and recording a meeting as held or cancelled."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.feedback.models import FeedbackRound
from app.scheduling import services as scheduling
from app.scheduling.models import Meeting
from app.timeutil import local_date
from tests.factories import make_scoped_coordinator

PROBLEM = "application/problem+json"


@pytest.fixture
def meetings(past_meetings):
    _db.session.commit()
    return past_meetings


def everyone(crew, status="present") -> list[dict]:
    return [{"user_id": person.id, "status": status} for person in crew]


def record(client, headers, meeting_id, **body):
    return client.post(f"/api/v1/meetings/{meeting_id}/record", json=body, headers=headers)


def held(crew, **more) -> dict:
    return {"status": "held", "attendance": everyone(crew), **more}


# --- GET /groups/{id}/meetings -----------------------------------------------------------------

def test_a_member_lists_the_groups_meetings_a_page_at_a_time(client, group, member, meetings, bearer):
    response = client.get(f"/api/v1/groups/{group.id}/meetings?per_page=5&page=2", headers=bearer(member))

    assert response.status_code == 200
    body = response.get_json()
    total = _db.session.scalar(sa.select(sa.func.count()).select_from(Meeting).where(Meeting.group_id == group.id))
    assert total > 10
    assert (body["total"], body["page"], body["per_page"], body["pages"]) == (total, 2, 5, -(-total // 5))
    assert [m["id"] for m in body["items"]] == [m.id for m in meetings[5:10]]
    first = body["items"][0]
    assert set(first) >= {"id", "group_id", "starts_at", "ends_at", "status", "mode", "leaders"}
    assert "notes" not in first
    assert first["starts_at"].endswith("+08:00")
    assert first["leaders"] == [{"user_id": meetings[5].leaders[0].user_id, "role": "lead"}]


def test_the_list_keeps_to_the_local_dates_asked_for(client, group, leader, meetings, bearer):
    day = local_date(meetings[3].starts_at).isoformat()
    response = client.get(f"/api/v1/groups/{group.id}/meetings?from={day}&until={day}", headers=bearer(leader))

    assert response.status_code == 200
    assert [m["id"] for m in response.get_json()["items"]] == [meetings[3].id]


def test_a_page_past_the_end_is_empty(client, group, coordinator, meetings, bearer):
    response = client.get(f"/api/v1/groups/{group.id}/meetings?page=99", headers=bearer(coordinator))

    assert response.status_code == 200
    assert response.get_json()["items"] == []


def test_an_outsider_may_not_list_the_groups_meetings(client, group, outsider, meetings, bearer):
    response = client.get(f"/api/v1/groups/{group.id}/meetings", headers=bearer(outsider))

    assert response.status_code == 403
    assert response.mimetype == PROBLEM


def test_listing_meetings_needs_a_token(client, group):
    assert client.get(f"/api/v1/groups/{group.id}/meetings").status_code == 401


def test_listing_the_meetings_of_an_unknown_group_is_not_found(client, group, member, bearer):
    assert client.get("/api/v1/groups/424242/meetings", headers=bearer(member)).status_code == 404


@pytest.mark.parametrize("query", ["from=2027-13-01", "until=yesterday", "from=0001-01-01", "page=0", "page=x",
                                   "per_page=1000", "page=99999999999999999999"])
def test_list_arguments_that_cannot_be_read_are_refused(client, group, member, bearer, query):
    response = client.get(f"/api/v1/groups/{group.id}/meetings?{query}", headers=bearer(member))

    assert response.status_code == 422
    assert response.mimetype == PROBLEM


# --- POST /meetings/{id}/record ----------------------------------------------------------------

def test_the_leader_records_a_held_meeting_with_attendance_presenter_and_themes(client, crew, meetings, leader,
                                                                             member, bearer):
    meeting = meetings[0]
    response = record(client, bearer(leader), meeting.id, **held(
        crew, presenter_id=member.id, mode="online", duration_minutes=90, themes=["boundaries", "aggression"],
        summary="A case about a family that would not accept the diagnosis."))

    assert response.status_code == 200
    body = response.get_json()
    assert body["meeting"]["status"] == "held"
    assert body["opened_round"] is None
    assert meeting.record.presenter_id == member.id and meeting.record.mode == "online"
    assert sorted(t.code for t in meeting.themes) == ["aggression", "boundaries"]
    assert "notes" not in body["meeting"] and "summary" not in body["meeting"]


def test_the_fifth_held_meeting_opens_a_feedback_round(client, crew, meetings, leader, bearer):
    headers = bearer(leader)
    answers = [record(client, headers, m.id, **held(crew)).get_json() for m in meetings[:5]]

    assert [a["opened_round"] for a in answers[:4]] == [None] * 4
    opened = _db.session.get(FeedbackRound, answers[4]["opened_round"]["id"])
    assert answers[4]["opened_round"] == {"id": opened.id, "number": 1}
    assert opened.meeting_ids == sorted(m.id for m in meetings[:5])


def test_a_coordinator_records_a_cancelled_meeting_with_its_reason(client, meetings, coordinator, bearer):
    response = record(client, bearer(coordinator), meetings[0].id, status="cancelled", cancel_reason="Ward closed")

    assert response.status_code == 200
    assert response.get_json()["meeting"]["status"] == "cancelled"
    assert meetings[0].cancel_reason == "Ward closed"


def test_a_summary_holding_a_patient_identifier_is_refused(client, crew, meetings, leader, bearer):
    response = record(client, bearer(leader), meetings[0].id,
                      **held(crew, summary="The patient on bed 12, mobile 13812345678, asked to leave."))

    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert "13812345678" in response.get_json()["detail"]
    _db.session.rollback()
    assert meetings[0].status == "scheduled" and meetings[0].record is None


def test_a_meeting_cannot_be_recorded_as_held_before_it_starts(client, group, crew, leader, bearer, today):
    coming = scheduling.add_extra_meeting(None, group, day=today + timedelta(days=7), at=time(14, 0))
    scheduling.assign_leaders(None, coming, leader)
    _db.session.commit()

    response = record(client, bearer(leader), coming.id, **held(crew))

    assert response.status_code == 409
    assert response.mimetype == PROBLEM


@pytest.mark.parametrize("change", [
    {"status": "postponed"},
    {"status": "cancelled"},
    {"attendance": [{"user_id": 1, "status": "late"}]},
    {"attendance": "everyone"},
    {"presenter_id": 0},
    {"presenter_id": 2_147_483_648},
    {"duration_minutes": 100_000},
    {"duration_minutes": "ninety"},
    {"mode": "telepathy"},
    {"themes": ["no_such_theme"]},
    {"themes": "boundaries"},
    {"summary": "x" * 5000},
    {"summary": 42},
])
def test_a_record_that_cannot_be_read_or_breaks_a_rule_is_refused(client, crew, meetings, leader, bearer,
                                                                  change):
    response = record(client, bearer(leader), meetings[0].id, **{**held(crew), **change})

    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    _db.session.rollback()
    assert meetings[0].status == "scheduled"


def test_attendance_must_name_each_member_once_and_only_members(client, crew, meetings, leader, outsider, bearer):
    headers = bearer(leader)
    twice = everyone(crew) + [{"user_id": crew[0].id, "status": "absent"}]
    stranger = everyone(crew) + [{"user_id": outsider.id, "status": "present"}]
    missing = everyone(crew)[1:]

    for attendance in (twice, stranger, missing):
        response = record(client, headers, meetings[0].id, status="held", attendance=attendance)
        assert response.status_code == 422, attendance


@pytest.mark.parametrize("persona", ["member", "outsider", "trainee_leader"])
def test_only_the_meetings_leaders_and_coordinators_record_it(client, crew, meetings, request, bearer, persona):
    response = record(client, bearer(request.getfixturevalue(persona)), meetings[0].id, **held(crew))

    assert response.status_code == 403
    assert response.mimetype == PROBLEM


def test_a_coordinator_of_another_organisation_may_not_record(client, crew, meetings, other_org, bearer):
    elsewhere = make_scoped_coordinator(other_org, email="else@example.org", name="Else")
    assert record(client, bearer(elsewhere), meetings[0].id, **held(crew)).status_code == 403


def test_recording_needs_a_token(client, crew, meetings):
    assert record(client, {}, meetings[0].id, **held(crew)).status_code == 401


def test_recording_an_unknown_meeting_is_not_found(client, crew, leader, bearer):
    response = record(client, bearer(leader), 2_147_483_647, **held(crew))

    assert response.status_code == 404
    assert response.mimetype == PROBLEM
