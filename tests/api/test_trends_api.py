"""The trends API: one group's feedback round by round, and the programme's across groups (threshold kept)."""

from __future__ import annotations

from datetime import time

import pytest

from app.extensions import db as _db
from tests.factories import (
    GOOD,
    LOW,
    answer_round,
    make_group,
    make_members,
    make_scoped_coordinator,
    open_round,
)

PROBLEM = "application/problem+json"


@pytest.fixture
def answered(group, member, today):
    """A round of the persona group answered by three of its four present members (GOOD, GOOD, LOW)."""
    people = [member] + make_members(group, 3, "r{i}@example.org", joined_on=today.replace(day=1))
    feedback_round = open_round(group, present=people)
    answer_round(feedback_round, people, (GOOD, GOOD, LOW), close=True)  # results show only once it has closed
    _db.session.commit()
    return feedback_round


@pytest.fixture
def few(org, leader, today):
    """Another group's round with one response only: below the threshold."""
    other = make_group(org, "Surgery Balint group", leader=leader)
    [person] = make_members(other, 1, "lonely@example.org", joined_on=today.replace(day=1))
    answer_round(open_round(other, present=[person], at=time(18, 0)), [person], [GOOD], close=True)
    _db.session.commit()
    return other


# --- GET /groups/{id}/trends -------------------------------------------------------------------

@pytest.mark.parametrize("persona", ["leader", "coordinator", "org_coordinator"])
def test_the_groups_leaders_and_coordinators_see_its_trend(client, group, answered, request, bearer, persona):
    response = client.get(f"/api/v1/groups/{group.id}/trends", headers=bearer(request.getfixturevalue(persona)))

    assert response.status_code == 200
    body = response.get_json()
    assert (body["group_id"], body["min_n"]) == (group.id, 3)
    [first] = body["rounds"]
    assert (first["number"], first["n"], first["eligible"], first["suppressed"]) == (1, 3, 4, False)
    assert first["participation"] == pytest.approx(0.75)
    wellbeing = first["subscales"]["wellbeing"]
    assert wellbeing["mean"] == pytest.approx((4.5 + 4.5 + 1.5) / 3)
    assert wellbeing["ci_low"] < wellbeing["mean"] < wellbeing["ci_high"]


def test_a_round_below_the_threshold_shows_no_numbers(client, few, leader, bearer):
    response = client.get(f"/api/v1/groups/{few.id}/trends", headers=bearer(leader))

    [first] = response.get_json()["rounds"]
    assert first["suppressed"] is True and first["n"] == 1 and first["reason"] == "below_k"
    assert first["subscales"]["wellbeing"] == {"n": None, "mean": None, "sd": None, "ci_low": None,
                                               "ci_high": None, "alpha": None, "alpha_low": None,
                                               "alpha_high": None, "alpha_flagged": None}


@pytest.mark.parametrize("persona", ["member", "outsider"])
def test_members_and_outsiders_may_not_see_a_groups_trend(client, group, answered, request, bearer, persona):
    response = client.get(f"/api/v1/groups/{group.id}/trends", headers=bearer(request.getfixturevalue(persona)))

    assert response.status_code == 403
    assert response.mimetype == PROBLEM


def test_a_group_trend_needs_a_token_and_a_known_group(client, group, leader, bearer):
    assert client.get(f"/api/v1/groups/{group.id}/trends").status_code == 401
    response = client.get("/api/v1/groups/9999/trends", headers=bearer(leader))
    assert response.status_code == 404
    assert response.mimetype == PROBLEM


# --- GET /trends -------------------------------------------------------------------------------

def test_a_coordinator_sees_every_groups_rounds_and_the_pooled_numbers(client, group, answered, few, coordinator,
                                                                         bearer):
    response = client.get("/api/v1/trends", headers=bearer(coordinator))

    assert response.status_code == 200
    body = response.get_json()
    assert body["min_n"] == 3
    [first] = body["rounds"]
    assert first["number"] == 1 and first["suppressed"] is False
    by_group = {g["group_id"]: g for g in first["groups"]}
    assert set(by_group) == {group.id, few.id}
    assert by_group[few.id]["suppressed"] is True
    assert all(p["mean"] is None for p in by_group[few.id]["subscales"].values())
    shown = by_group[group.id]["subscales"]["pulse/wellbeing"]
    assert shown["mean"] == pytest.approx(3.5)
    assert first["n"] == 3  # the hidden group's response is not counted in
    assert first["subscales"]["pulse/wellbeing"]["mean"] == pytest.approx(3.5)


def test_a_scoped_coordinator_sees_only_their_organisation(client, answered, other_org, bearer):
    elsewhere = make_scoped_coordinator(other_org, email="else@example.org", name="Else")
    response = client.get("/api/v1/trends", headers=bearer(elsewhere))

    assert response.status_code == 200
    assert response.get_json()["rounds"] == []


@pytest.mark.parametrize("persona", ["leader", "member", "outsider"])
def test_only_coordinators_see_the_programme_trend(client, answered, request, bearer, persona):
    response = client.get("/api/v1/trends", headers=bearer(request.getfixturevalue(persona)))

    assert response.status_code == 403
    assert response.mimetype == PROBLEM


def test_the_programme_trend_needs_a_token(client, db):
    assert client.get("/api/v1/trends").status_code == 401
