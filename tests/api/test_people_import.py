"""POST /api/v1/people/import: the people import as a JSON batch, with a dry run; malformed bodies are 422."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import StaffNumber, User
from app.audit.models import AuditEntry
from app.notifications.models import Notification
from app.programme.models import Membership
from tests.api.conftest import assert_problem
from tests.factories import make_group

URL = "/api/v1/people/import"


@pytest.fixture
def world(db, org, coordinator, leader, member, group):
    make_group(org, "Nurses Balint group", capacity=12)
    db.session.commit()
    return org


ROWS = [
    {"name": "Wang Fang", "email": "wang.fang@example.org", "staff_number": "N0001", "organisation": "Test Hospital",
     "department": "Paediatrics", "profession": "护士", "roles": ["成员"], "groups": ["Nurses Balint group"],
     "joined_on": "2027-01-15"},
    {"name": "Member Ma", "email": "member@example.org", "department": "Neonatology"},
    {"name": "Leader Li", "email": "leader@example.org", "groups": ["Paediatrics Balint group"]},
    {"name": "Nobody", "email": "not-an-address"},
]


def totals(db) -> tuple[int, int, int, int]:
    db.session.rollback()
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model))
                 for model in (User, Membership, StaffNumber, Notification))


def test_a_dry_run_answers_every_rows_outcome_and_saves_nothing(db, api, world, coordinator):
    before = totals(db)
    response = api.as_(coordinator).post(URL, json={"rows": ROWS, "dry_run": True})

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["dry_run"] is True
    assert (body["new"], body["updated"], body["unchanged"], body["refused"]) == (1, 1, 0, 2)
    assert [(r["row"], r["outcome"]) for r in body["rows"]] == [
        (1, "new"), (2, "updated"), (3, "refused"), (4, "refused")]
    assert body["rows"][2]["details"] == ["Leader Li leads this group and cannot also be a member of it."]
    assert body["rows"][3]["details"] == ["“not-an-address” is not a valid e-mail address."]
    assert body["rows"][0]["user_id"] is None
    assert totals(db) == before


def test_a_real_import_saves_and_sending_the_same_rows_again_changes_nothing(db, api, world, coordinator):
    first = api.as_(coordinator).post(URL, json={"rows": ROWS})
    assert first.status_code == 200
    body = first.get_json()
    assert (body["dry_run"], body["new"], body["updated"], body["memberships"], body["invitations"]) == (
        False, 1, 1, 1, 1)
    db.session.rollback()
    fang = db.session.get(User, body["rows"][0]["user_id"])
    assert (fang.email, fang.profession, fang.department) == ("wang.fang@example.org", "nurse", "Paediatrics")
    assert db.session.scalar(sa.select(Notification.kind).where(Notification.user_id == fang.id)) == "invitation"
    after = totals(db)

    again = api.post(URL, json={"rows": ROWS}).get_json()
    assert (again["new"], again["updated"], again["unchanged"], again["refused"]) == (0, 0, 2, 2)
    assert totals(db) == after
    entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "people_imported")).all()
    assert [e.detail["via"] for e in entries] == ["api", "api"]


@pytest.mark.parametrize(("body", "field"), [
    ({}, "rows"),
    ({"rows": []}, "rows"),
    ({"rows": "Wang Fang"}, "rows"),
    ({"rows": [{"name": "Wang Fang"}]}, "rows"),
    ({"rows": [{"email": "wang.fang@example.org"}]}, "rows"),
    ({"rows": [{"name": "W", "email": "w@example.org", "joined_on": "next week"}]}, "rows"),
    ({"rows": [{"name": "W", "email": "w@example.org", "roles": "member"}]}, "rows"),
    ({"rows": [{"name": "W", "email": "w@example.org", "shoe_size": 42}]}, "rows"),
    ({"rows": [{"name": "W" * 121, "email": "w@example.org"}]}, "rows"),
    ({"rows": [{"name": "W", "email": "w@example.org"}], "dry_run": "perhaps"}, "dry_run"),
])
def test_a_malformed_body_is_refused_whole_with_422_naming_the_field(db, api, world, coordinator, body, field):
    before = totals(db)
    assert_problem(api.as_(coordinator).post(URL, json=body), 422, field)
    assert totals(db) == before


def test_more_rows_than_the_limit_are_refused_whole(db, api, world, coordinator):
    rows = [{"name": f"P{n}", "email": f"p{n}@example.org"} for n in range(5001)]
    assert_problem(api.as_(coordinator).post(URL, json={"rows": rows, "dry_run": True}), 422, "rows")


def test_only_coordinators_may_import_and_a_token_is_needed(db, api, world, member):
    assert_problem(api.as_(None).post(URL, json={"rows": ROWS}), 401)
    assert_problem(api.as_(member).post(URL, json={"rows": ROWS}), 403)


def test_a_coordinator_of_one_organisation_imports_only_into_it(db, api, world, org_coordinator, other_org):
    rows = [{"name": "Zhao Lei", "email": "zhao.lei@example.org", "organisation": "Other Hospital"},
            {"name": "Sun Li", "email": "sun.li@example.org"}]
    body = api.as_(org_coordinator).post(URL, json={"rows": rows}).get_json()
    assert [(r["outcome"], r["organisation"]) for r in body["rows"]] == [
        ("refused", "Other Hospital"), ("new", "Test Hospital")]
    assert body["rows"][0]["details"] == ["You coordinate another organisation only."]


def test_the_openapi_document_states_exactly_which_fields_are_required(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"][URL]["post"]
    assert operation["security"] == [{"bearerAuth": []}] and {"200", "401", "403", "422"} <= set(operation["responses"])
    schemas = document["components"]["schemas"]
    assert schemas["PeopleImport"]["required"] == ["rows"]
    assert sorted(schemas["PeopleImportRow"]["required"]) == ["email", "name"]
    assert set(schemas["PeopleImportRow"]["properties"]) == {
        "name", "email", "staff_number", "organisation", "department", "profession", "roles", "groups", "joined_on",
        "wecom_userid", "dingtalk_userid"}


def test_platform_user_ids_are_imported_through_the_api(db, api, world, coordinator, member):
    rows = [{"name": "Wang Fang", "email": "wang.fang@example.org", "wecom_userid": "wx-wang"},
            {"name": "Member Ma", "email": "member@example.org", "dingtalk_userid": "dd-ma", "wecom_userid": None},
            {"name": "Bad", "email": "bad@example.org", "wecom_userid": "a b"}]
    body = api.as_(coordinator).post(URL, json={"rows": rows}).get_json()
    assert [r["outcome"] for r in body["rows"]] == ["new", "updated", "refused"]
    assert body["rows"][1]["details"] == ["DingTalk user id: — → dd-ma"]
    assert db.session.scalars(sa.select(User.wecom_userid).where(User.email == "wang.fang@example.org")).one() == \
        "wx-wang"
    too_long = api.as_(coordinator).post(URL, json={"rows": [{"name": "X", "email": "x@example.org",
                                                              "dingtalk_userid": "d" * 65}]})
    assert too_long.status_code == 422


def test_a_body_with_only_the_required_fields_is_accepted(db, api, world, coordinator):
    response = api.as_(coordinator).post(URL, json={"rows": [{"name": "Wang Fang", "email": "wang.fang@example.org"}]})
    assert response.status_code == 200 and response.get_json()["new"] == 1
