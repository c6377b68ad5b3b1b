"""API fixtures: `token_for(user)` makes a bearer token, `bearer(user)` the headers that send one, `api` is a
client that sends it."""

from __future__ import annotations

import pytest

from app.extensions import db as _db
from tests.factories import bearer_headers, make_token


@pytest.fixture
def token_for(db):
    """token_for(user) -> a bearer token for the user."""
    return make_token


@pytest.fixture
def bearer(db):
    """bearer(user) -> Authorization headers with a fresh token of the user."""
    return bearer_headers


class Api:
    """The test client speaking JSON with `Authorization: Bearer <token>` as `as_(user)` chose."""

    def __init__(self, client):
        self.client = client
        self.token: str | None = None

    def as_(self, user_or_token) -> Api:
        """Act as this user (a new token is made) or with this raw token; None: no token at all."""
        if user_or_token is None or isinstance(user_or_token, str):
            self.token = user_or_token
        else:
            self.token = make_token(user_or_token)
        return self

    def _headers(self, headers: dict | None) -> dict:
        out = dict(headers or {})
        if self.token is not None:
            out.setdefault("Authorization", f"Bearer {self.token}")
        return out

    def open(self, method: str, path: str, json=None, headers=None, **kw):
        return self.client.open(path, method=method, json=json, headers=self._headers(headers), **kw)

    def get(self, path, **kw):
        return self.open("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.open("POST", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.open("PUT", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.open("PATCH", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.open("DELETE", path, **kw)


@pytest.fixture
def api(client, db):
    """`api.as_(coordinator).get("/api/v1/me")`: requests with a bearer token."""
    _db.session.commit()
    return Api(client)


def assert_problem(response, status: int, field: str | None = None) -> dict:
    """The response is problem+json with this status (and names the field, when given)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    if field is not None:
        assert field in body.get("errors", {}).get("json", {}) or field in body.get("errors", {}).get("query", {})
    return body
