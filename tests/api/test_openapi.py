"""The OpenAPI document: valid, complete for the contract, and its docs page served from our own server."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

CONTRACT = {
    "/api/v1/me": {"get"},
    "/api/v1/users": {"get", "post"},
    "/api/v1/users/{user_id}/credentials": {"post"},
    "/api/v1/groups": {"get", "post"},
    "/api/v1/groups/{group_id}": {"get"},
    "/api/v1/groups/{group_id}/members": {"post"},
    "/api/v1/groups/{group_id}/members/{user_id}": {"delete"},
}


def _document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def test_the_openapi_document_is_valid(client):
    validate(_document(client))


def test_every_path_of_the_contract_is_documented(client):
    paths = _document(client)["paths"]
    for path, methods in CONTRACT.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path


def test_every_protected_operation_declares_the_bearer_scheme_and_problem_errors(client):
    document = _document(client)
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, methods in CONTRACT.items():
        for method in methods:
            operation = document["paths"][path][method]
            assert operation["security"] == [{"bearerAuth": []}], (path, method)
            assert "401" in operation["responses"], (path, method)
    error = document["components"]["responses"]["DEFAULT_ERROR"]["content"]
    assert list(error) == ["application/problem+json"]


def test_the_docs_page_loads_swagger_ui_from_our_own_server(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert "/api/v1/openapi.json" in page
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        asset.close()


def test_the_docs_page_serves_no_other_file_of_the_package(client):
    assert client.get("/api/v1/docs/assets/index.html").status_code == 404
