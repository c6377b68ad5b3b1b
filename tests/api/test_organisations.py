"""Organisations through the API and the CLI: the union programme's system can set up a programme by itself."""

from __future__ import annotations

import sqlalchemy as sa

from app.audit.models import AuditEntry
from app.programme.models import Organisation
from tests.factories import make_org

PROBLEM = "application/problem+json"


def test_a_programme_wide_coordinator_creates_lists_reads_and_changes_organisations(api, coordinator):
    created = api.as_(coordinator).post("/api/v1/organisations", json={"name": "北京某儿童医院"})
    assert created.status_code == 201
    body = created.get_json()
    assert (body["name"], body["kind"], body["active"]) == ("北京某儿童医院", "hospital", True)
    listed = api.get("/api/v1/organisations").get_json()
    assert body in listed["items"] and listed["total"] >= 1
    assert api.get(f"/api/v1/organisations/{body['id']}").get_json() == body
    changed = api.patch(f"/api/v1/organisations/{body['id']}", json={"kind": "department", "active": False})
    assert changed.status_code == 200 and changed.get_json()["kind"] == "department"
    assert changed.get_json()["active"] is False and changed.get_json()["name"] == "北京某儿童医院"


def test_a_scoped_coordinator_sees_and_edits_only_their_organisation(api, org_coordinator, org, other_org):
    api.as_(org_coordinator)
    assert [o["id"] for o in api.get("/api/v1/organisations").get_json()["items"]] == [org.id]
    assert api.get(f"/api/v1/organisations/{other_org.id}").status_code == 403
    assert api.patch(f"/api/v1/organisations/{other_org.id}", json={"name": "x"}).status_code == 403
    refused = api.post("/api/v1/organisations", json={"name": "A new one"})
    assert refused.status_code == 403 and refused.mimetype == PROBLEM
    assert api.patch(f"/api/v1/organisations/{org.id}", json={"name": "Renamed"}).status_code == 200


def test_bad_bodies_and_duplicates_are_problems_not_errors(api, coordinator, org):
    api.as_(coordinator)
    missing = api.post("/api/v1/organisations", json={"kind": "hospital"})
    assert missing.status_code == 422 and "name" in str(missing.get_json())
    assert api.post("/api/v1/organisations", json={"name": "x", "kind": "castle"}).status_code == 422
    duplicate = api.post("/api/v1/organisations", json={"name": org.name.upper()})
    assert duplicate.status_code == 409 and duplicate.mimetype == PROBLEM
    assert api.get("/api/v1/organisations/999999").status_code == 404


def test_leaders_members_and_anonymous_callers_are_refused(api, leader, member, org):
    for person in (leader, member):
        assert api.as_(person).get("/api/v1/organisations").status_code == 403
        assert api.post("/api/v1/organisations", json={"name": "x"}).status_code == 403
    assert api.as_(None).get("/api/v1/organisations").status_code == 401


def test_the_openapi_document_names_exactly_the_required_fields(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert schemas["OrganisationIn"]["required"] == ["name"]
    assert "required" not in schemas["OrganisationPatch"]
    assert set(spec["paths"]["/api/v1/organisations/{organisation_id}"]) >= {"get", "patch"}


def test_flask_organisations_create_and_list(app, db):
    make_org("Existing Hospital")
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["organisations", "create", "社区卫生服务中心", "--kind", "other"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(sa.select(Organisation).where(Organisation.name == "社区卫生服务中心")).kind == "other"
    listed = runner.invoke(args=["organisations", "list"]).output
    assert "Existing Hospital\thospital\tactive" in listed and "社区卫生服务中心\tother\tactive" in listed
    duplicate = runner.invoke(args=["organisations", "create", "existing hospital"])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "organisation_created")) == 2
