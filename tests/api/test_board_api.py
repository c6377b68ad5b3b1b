"""GET /api/v1/board: each group's status and reasons (rule, translated text, figures) as the board page draws
them, within the caller's coordinator scope, filterable by organisation and status; bad filters are 400s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app import disclosure
from app.extensions import db as _db
from app.scheduling.models import Meeting
from app.trends import rules
from app.trends.board_queries import programme_board
from tests.factories import PULSE, make_group, make_instrument, make_scoped_coordinator, pulse_round

PROBLEM = "application/problem+json"
# A slow slide in steps of a quarter point, and a steady group beside it.
SLIDE = [[4, 4, 5, 4, 4, 4], [4, 4, 4, 4, 3, 4], [4, 3, 4, 4, 3, 4], [3, 4, 3, 4, 3, 3],
         [3, 3, 3, 4, 3, 3], [3, 3, 3, 3, 2, 3], [3, 2, 3, 3, 2, 3], [2, 3, 2, 3, 2, 3]]
STEADY = [4, 4, 3, 4, 5, 4]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def held(group, days_ago):
    now = _now()
    _db.session.add(Meeting(group_id=group.id, starts_at=now - timedelta(days=days_ago),
                            ends_at=now - timedelta(days=days_ago) + timedelta(hours=1), status="held"))
    _db.session.flush()


@pytest.fixture
def programme(db, org, other_org):
    """A sliding and a steady group in `org`, a steady one in `other_org`; each met three days ago."""
    instrument = make_instrument(PULSE)
    now = _now()
    sliding, steady = make_group(org, "Sliding group"), make_group(org, "Steady group")
    elsewhere = make_group(other_org, "Elsewhere group")
    for number, scores in enumerate(SLIDE, start=1):
        opens_at = now - timedelta(days=300 - 30 * number)
        pulse_round(sliding, number, instrument, scores, opens_at)
        pulse_round(steady, number, instrument, STEADY, opens_at)
        pulse_round(elsewhere, number, instrument, STEADY, opens_at)
    for group in (sliding, steady, elsewhere):
        held(group, 3)
    _db.session.commit()
    return {"sliding": sliding, "steady": steady, "elsewhere": elsewhere, "instrument": instrument}


def by_id(body) -> dict[int, dict]:
    return {g["group_id"]: g for g in body["groups"]}


def test_a_coordinator_gets_each_groups_status_and_reasons_with_their_figures(app, api, programme, coordinator):
    response = api.as_(coordinator).get("/api/v1/board")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    groups = by_id(body)
    sliding, steady = groups[programme["sliding"].id], groups[programme["steady"].id]
    assert sliding["status"] == "red" and steady["status"] == "green" and steady["reasons"] == []
    assert body["groups"][0]["group_id"] == programme["sliding"].id  # red first
    assert body["counts"] == {"red": 1, "amber": 0, "green": 2} and body["scope"] is None
    assert body["thresholds"]["decline_rounds"] == rules.Thresholds().decline_rounds
    slope = next(r for r in sliding["reasons"] if r["rule"] == rules.DECLINE_SLOPE)
    assert slope["status"] == "red" and "has been falling over rounds 4–8" in slope["text"]
    assert slope["figures"]["subscale"] == "Wellbeing" and slope["figures"]["key"] == "pulse/wellbeing"
    # The figures are the board's own, number for number (the board the page draws at the same moment).
    with app.test_request_context():
        page = programme_board(None, _now(), app.config["MIN_RESPONSES"], rules.Thresholds())
    row = next(r for r in page.rows if r.group_id == programme["sliding"].id)
    assert [(r["rule"], r["status"]) for r in sliding["reasons"]] == [(f.rule, f.status) for f in row.findings]
    for reason, finding in zip(sliding["reasons"], row.findings, strict=True):
        assert reason["figures"].keys() == finding.detail.keys()
        for key, value in finding.detail.items():
            assert reason["figures"][key] == (pytest.approx(value, abs=1e-12) if isinstance(value, float) else value)


def test_the_reasons_speak_the_callers_language(api, programme, coordinator):
    coordinator.locale = "zh_CN"
    _db.session.commit()
    body = api.as_(coordinator).get("/api/v1/board").get_json()
    sliding = by_id(body)[programme["sliding"].id]
    english = "has been falling"
    assert sliding["reasons"] and all(english not in r["text"] for r in sliding["reasons"])
    assert {r["rule"] for r in sliding["reasons"]} >= {rules.DECLINE_SLOPE}  # keys stay the same in every language


def test_a_hidden_round_gives_the_api_no_figure(api, programme, coordinator):
    """A collapse in a round below k must not show through the board's figures."""
    steady = programme["steady"]
    hidden = pulse_round(steady, 9, programme["instrument"], [1, 1], _now() - timedelta(days=5))
    _db.session.commit()
    with disclosure.observe() as seen:
        body = api.as_(coordinator).get("/api/v1/board").get_json()
    row = by_id(body)[steady.id]
    assert row["status"] == "green"
    assert not any(part.round_id == hidden.id for p in seen for part in p.parts)
    assert all(r["figures"].get("last_round") != 9 and r["figures"].get("round") != 9 for r in row["reasons"])


def test_the_organisation_and_status_filters(api, programme, coordinator, other_org):
    groups = by_id(api.as_(coordinator).get(f"/api/v1/board?organisation={other_org.id}").get_json())
    assert set(groups) == {programme["elsewhere"].id}
    body = api.get("/api/v1/board?status=red").get_json()
    assert [g["group_id"] for g in body["groups"]] == [programme["sliding"].id]
    assert body["counts"]["green"] == 2  # the counts are the whole board's
    steady = programme["steady"]
    body = api.get(f"/api/v1/board?status=green&organisation={steady.organisation_id}").get_json()
    assert [g["group_id"] for g in body["groups"]] == [steady.id]


def test_a_scoped_coordinator_sees_only_their_organisation_and_is_refused_another(api, programme, org, other_org):
    scoped = make_scoped_coordinator(org, email="board-scope@example.org")
    body = api.as_(scoped).get("/api/v1/board").get_json()
    assert set(by_id(body)) == {programme["sliding"].id, programme["steady"].id} and body["scope"] == org.id
    assert set(by_id(api.get(f"/api/v1/board?organisation={org.id}").get_json())) == set(by_id(body))
    refused = api.get(f"/api/v1/board?organisation={other_org.id}")
    assert refused.status_code == 403 and refused.mimetype == PROBLEM


@pytest.mark.parametrize("query, field", [
    ("organisation=abc", "organisation"), ("organisation=-1", "organisation"), ("organisation=1.5", "organisation"),
    ("organisation=0", "organisation"), ("status=purple", "status"), ("status=RED", "status"),
    ("organisation=%C2%B3", "organisation"), ("organisation=99999999999", "organisation"),  # "³": a digit to isdigit
])
def test_a_filter_that_cannot_be_read_is_a_400_that_says_what_is_wrong(api, programme, coordinator, query, field):
    response = api.as_(coordinator).get(f"/api/v1/board?{query}")
    assert response.status_code == 400 and response.mimetype == PROBLEM
    body = response.get_json()
    assert field in body["errors"]["query"]
    assert ("organisation is given by its number" if field == "organisation" else "red, amber or green") in body[
        "detail"]


def test_an_unknown_organisation_is_a_404(api, programme, coordinator):
    response = api.as_(coordinator).get("/api/v1/board?organisation=999999")
    assert response.status_code == 404 and response.mimetype == PROBLEM


@pytest.mark.parametrize("persona", ["leader", "member", "outsider"])
def test_only_coordinators_see_the_board(api, programme, request, persona):
    response = api.as_(request.getfixturevalue(persona)).get("/api/v1/board")
    assert response.status_code == 403 and response.mimetype == PROBLEM


def test_the_board_needs_a_token(api, programme):
    assert api.as_(None).get("/api/v1/board").status_code == 401


def test_the_board_is_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/board"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"organisation", "status"}
    assert {"200", "400", "403", "404"} <= set(operation["responses"])
    assert "BoardReason" in spec["components"]["schemas"]
