"""The feedback API: a group's rounds, a round's questionnaire, and a member's one anonymous response."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.feedback.models import Completion, Response
from app.timeutil import utcnow
from tests.factories import GOOD, make_user, open_round

PROBLEM = "application/problem+json"


@pytest.fixture
def feedback_round(group, member):
    """An open round of the persona group over one held meeting the persona member attended."""
    found = open_round(group, present=[member])
    _db.session.commit()
    return found


def answer(client, headers, round_id, answers):
    return client.post(f"/api/v1/feedback-rounds/{round_id}/responses", json={"answers": answers}, headers=headers)


def responses() -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(Response))


# --- GET /groups/{id}/feedback-rounds ----------------------------------------------------------

@pytest.mark.parametrize("persona", ["leader", "coordinator", "org_coordinator"])
def test_the_groups_leaders_and_coordinators_list_its_rounds(client, group, feedback_round, request, bearer,
                                                             persona):
    response = client.get(f"/api/v1/groups/{group.id}/feedback-rounds",
                          headers=bearer(request.getfixturevalue(persona)))

    assert response.status_code == 200
    [only] = response.get_json()
    assert only["id"] == feedback_round.id and only["number"] == 1 and only["status"] == "open"
    assert only["meeting_ids"] == feedback_round.meeting_ids
    assert (only["eligible_count"], only["response_count"]) == (1, 0)
    assert only["closes_at"].endswith("+08:00")


def test_a_round_past_its_closing_time_is_listed_as_closed(client, group, feedback_round, leader, bearer):
    feedback_round.closes_at = utcnow() - timedelta(minutes=1)
    _db.session.commit()

    response = client.get(f"/api/v1/groups/{group.id}/feedback-rounds", headers=bearer(leader))

    assert response.get_json()[0]["status"] == "closed"


@pytest.mark.parametrize("persona", ["member", "outsider"])
def test_members_and_outsiders_may_not_list_a_groups_rounds(client, group, feedback_round, request, bearer,
                                                            persona):
    response = client.get(f"/api/v1/groups/{group.id}/feedback-rounds",
                          headers=bearer(request.getfixturevalue(persona)))

    assert response.status_code == 403
    assert response.mimetype == PROBLEM


def test_listing_rounds_needs_a_token_and_a_known_group(client, group, leader, bearer):
    assert client.get(f"/api/v1/groups/{group.id}/feedback-rounds").status_code == 401
    assert client.get("/api/v1/groups/777/feedback-rounds", headers=bearer(leader)).status_code == 404


# --- GET /feedback-rounds/{id} -----------------------------------------------------------------

def test_an_eligible_member_reads_the_round_and_its_questionnaire(client, feedback_round, member, bearer):
    response = client.get(f"/api/v1/feedback-rounds/{feedback_round.id}", headers=bearer(member))

    assert response.status_code == 200
    body = response.get_json()
    assert body["number"] == 1 and body["responded"] is False
    instrument = body["instrument"]
    assert (instrument["code"], instrument["version"]) == ("pulse", 1)
    recovery = instrument["items"][0]
    assert (recovery["code"], recovery["type"], recovery["min"], recovery["max"], recovery["subscale"]) == (
        "recovery", "likert", 1, 5, "wellbeing")
    assert [c["value"] for c in instrument["items"][3]["choices"]] == ["onsite", "online"]
    assert instrument["subscales"] == [{"code": "wellbeing", "title": "Wellbeing", "items": ["recovery", "coping"]}]


@pytest.mark.parametrize("persona", ["leader", "coordinator"])
def test_the_groups_leaders_and_coordinators_read_a_round(client, feedback_round, request, bearer, persona):
    response = client.get(f"/api/v1/feedback-rounds/{feedback_round.id}",
                          headers=bearer(request.getfixturevalue(persona)))

    assert response.status_code == 200
    assert response.get_json()["instrument"]["code"] == "pulse"


def test_a_member_who_was_not_present_may_not_read_the_round(client, group, feedback_round, bearer):
    absent = make_user("absent@example.org")
    response = client.get(f"/api/v1/feedback-rounds/{feedback_round.id}", headers=bearer(absent))

    assert response.status_code == 403
    assert response.mimetype == PROBLEM


def test_reading_a_round_needs_a_token_and_a_known_round(client, feedback_round, member, bearer):
    assert client.get(f"/api/v1/feedback-rounds/{feedback_round.id}").status_code == 401
    assert client.get("/api/v1/feedback-rounds/2147483647", headers=bearer(member)).status_code == 404
    assert client.get("/api/v1/feedback-rounds/2147483648", headers=bearer(member)).status_code == 404


# --- POST /feedback-rounds/{id}/responses ------------------------------------------------------

def test_an_eligible_member_submits_once_anonymously(client, feedback_round, member, bearer):
    response = answer(client, bearer(member), feedback_round.id, GOOD)

    assert response.status_code == 201
    assert response.get_json()["submitted"] is True
    assert responses() == 1
    assert _db.session.get(Completion, (feedback_round.id, member.id)) is not None


def test_a_second_submission_is_a_conflict(client, feedback_round, member, bearer):
    headers = bearer(member)
    answer(client, headers, feedback_round.id, GOOD)
    response = answer(client, headers, feedback_round.id, GOOD)

    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    assert responses() == 1


def test_answers_to_a_closed_round_are_a_conflict(client, feedback_round, member, bearer):
    feedback_round.closes_at = utcnow() - timedelta(minutes=1)
    _db.session.commit()

    response = answer(client, bearer(member), feedback_round.id, GOOD)

    assert response.status_code == 409
    assert responses() == 0


@pytest.mark.parametrize("persona", ["outsider", "leader", "coordinator"])
def test_only_eligible_members_answer(client, feedback_round, request, bearer, persona):
    response = answer(client, bearer(request.getfixturevalue(persona)), feedback_round.id, GOOD)

    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert responses() == 0


@pytest.mark.parametrize("answers", [
    {**GOOD, "recovery": "9"}, {**GOOD, "format": "by pigeon"}, {"recovery": "4"}, {**GOOD, "mood": "3"},
    {**GOOD, "calm": 10 ** 30}, "all good", [1, 2], None,
])
def test_an_invalid_answer_set_is_refused(client, feedback_round, member, bearer, answers):
    response = answer(client, bearer(member), feedback_round.id, answers)

    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert responses() == 0


def test_an_invalid_answer_is_named_with_its_problem(client, feedback_round, member, bearer):
    response = answer(client, bearer(member), feedback_round.id, {**GOOD, "recovery": "9"})

    assert list(response.get_json()["errors"]["json"]["answers"]) == ["recovery"]


def test_answering_needs_a_token_and_a_known_round(client, feedback_round, member, bearer):
    assert answer(client, {}, feedback_round.id, GOOD).status_code == 401
    assert answer(client, bearer(member), 31337, GOOD).status_code == 404
