"""A hospital's first day through the API alone: on a fresh database made by `flask db upgrade` with one
coordinator made by `flask users create`, the API creates an organisation, a group, its leader and members, a
schedule, records five meetings — and the members answer the round that opens, on the shipped questionnaire."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from app import create_app
from app.extensions import db as _db

ROOT = Path(__file__).resolve().parents[2]


def _flask(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "wsgi", "FLASK_CONFIG": "testing"}
    env.pop("TEST_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)


@pytest.fixture
def fresh_url(empty_database_url):
    """An empty database of the suite's kind (SQLite file, or a new PostgreSQL database), for migrations to set up."""
    return empty_database_url


def test_the_api_alone_sets_up_a_programme_and_its_members_answer_the_first_round(fresh_url):
    assert _flask(fresh_url, "db", "upgrade").returncode == 0
    made = _flask(fresh_url, "users", "create", "--email", "coord@hospital.test", "--name", "协调员",
                  "--role", "coordinator", "--password", "a long passphrase here")
    assert made.returncode == 0, made.stderr
    token_out = _flask(fresh_url, "api-token", "create", "coord@hospital.test", "--name", "union")
    assert token_out.returncode == 0, token_out.stderr
    token = next(w for line in token_out.stdout.splitlines() for w in line.split() if len(w) > 30)

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": fresh_url})
    client = app.test_client()
    try:
        def call(method, path, person_token=token, **kw):
            response = client.open(f"/api/v1{path}", method=method,
                                   headers={"Authorization": f"Bearer {person_token}"}, **kw)
            assert response.status_code < 300, (path, response.status_code, response.get_json())
            return response.get_json()

        org = call("POST", "/organisations", json={"name": "北京某儿童医院"})
        group = call("POST", "/groups", json={"name": "儿科巴林特小组", "organisation_id": org["id"],
                                              "feedback_interval": 5})
        leader = call("POST", "/users", json={"email": "lead@hospital.test", "name": "王磊", "roles": ["leader"],
                                              "organisation_id": org["id"]})
        call("POST", f"/users/{leader['id']}/credentials", json={
            "level": "leader", "completed_on": "2020-01-01", "issuer": "Balint Society", "verified": True})
        members = [call("POST", "/users", json={"email": f"m{i}@hospital.test", "name": f"成员{i}",
                                                "roles": ["member"], "profession": "nurse",
                                                "organisation_id": org["id"]}) for i in range(4)]
        start = date.today() - timedelta(days=120)
        for person in members:
            call("POST", f"/groups/{group['id']}/members", json={"user_id": person["id"],
                                                                 "joined_on": start.isoformat()})
        generated = call("POST", f"/groups/{group['id']}/schedule", json={
            "rule": {"kind": "nth_weekday", "weekday": 2, "weeks": [1, 3]}, "time": "14:00",
            "from": start.isoformat(), "until": (date.today() - timedelta(days=2)).isoformat()})
        past = generated["meetings"][:5]
        assert len(past) == 5
        opened = None
        for meeting in past:
            call("PUT", f"/meetings/{meeting['id']}/leaders", json={"lead_id": leader["id"]})
            recorded = call("POST", f"/meetings/{meeting['id']}/record", json={
                "status": "held", "attendance": [{"user_id": p["id"], "status": "present"} for p in members]})
            opened = recorded.get("opened_round") or opened
        assert opened is not None, "the fifth held meeting opens a round"

        with app.app_context():
            from app.accounts.models import User
            from app.api.services import create_token

            tokens = []
            for person in members:  # each member makes a token on their profile page
                value, _row = create_token(None, _db.session.get(User, person["id"]), "phone")
                tokens.append(value)
            _db.session.commit()
        detail = call("GET", f"/feedback-rounds/{opened['id']}", person_token=tokens[0])
        instrument = detail["instrument"]
        assert instrument is not None and instrument["code"] == "balint-feedback"  # from the migration
        answers = {item["code"]: item["max"] for item in instrument["items"] if item["type"] in ("likert", "scale")}
        for member_token in tokens:
            submitted = call("POST", f"/feedback-rounds/{opened['id']}/responses", person_token=member_token,
                             json={"answers": answers})
            assert submitted["submitted"] is True
        assert call("GET", f"/feedback-rounds/{opened['id']}")["response_count"] == 4
    finally:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()
