"""Bearer tokens: who gets in, what they carry, how they are revoked (API, CLI and profile page)."""

from __future__ import annotations

from datetime import timedelta

from app.api.models import ApiToken
from app.api.services import create_token, hash_token, revoke_token, user_for_token
from app.extensions import db as _db
from tests.api.conftest import assert_problem


def test_a_request_without_a_token_is_refused_with_a_problem(api):
    response = api.as_(None).get("/api/v1/me")
    body = assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert body["detail"]


def test_an_unknown_token_is_refused(api, member):
    assert_problem(api.as_("not-a-token").get("/api/v1/me"), 401)


def test_another_scheme_than_bearer_is_refused(api, member, token_for):
    token = token_for(member)
    assert_problem(api.as_(None).get("/api/v1/me", headers={"Authorization": f"Basic {token}"}), 401)


def test_a_valid_token_signs_in_as_its_user(api, member):
    response = api.as_(member).get("/api/v1/me")
    assert response.status_code == 200
    assert response.get_json()["email"] == member.email


def test_only_the_hash_of_a_token_is_stored(db, member):
    token, row = create_token(None, member, "script")
    assert row.token_hash == hash_token(token) and token not in (row.token_hash, row.prefix)
    assert token.startswith(row.prefix)


def test_a_revoked_token_stops_working(api, member, token_for):
    token = token_for(member)
    row = _db.session.query(ApiToken).filter_by(token_hash=hash_token(token)).one()
    revoke_token(member, row)
    _db.session.commit()
    assert_problem(api.as_(token).get("/api/v1/me"), 401)


def test_a_deactivated_users_token_stops_working(api, member, token_for):
    token = token_for(member)
    member.active = False
    _db.session.commit()
    assert_problem(api.as_(token).get("/api/v1/me"), 401)


def test_a_session_cookie_does_not_sign_in_to_the_api(client, auth, member):
    auth.login(member)
    assert client.get("/profile").status_code == 200
    assert_problem(client.get("/api/v1/me"), 401)


def test_a_token_carries_its_users_roles_and_nothing_more(api, member):
    assert_problem(api.as_(member).get("/api/v1/users"), 403)


def test_last_use_is_noted_at_most_once_a_minute(db, member):
    token, row = create_token(None, member, "script")
    first = row.created_at + timedelta(seconds=1)
    user_for_token(token, now=first)
    user_for_token(token, now=first + timedelta(seconds=30))
    assert row.last_used_at == first
    user_for_token(token, now=first + timedelta(minutes=2))
    assert row.last_used_at == first + timedelta(minutes=2)


def test_the_cli_creates_a_token_printed_once_and_revokes_it_by_prefix(app, db, member):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["api-token", "create", member.email, "--name", "export script"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[0]
    row = _db.session.query(ApiToken).filter_by(token_hash=hash_token(token)).one()
    assert row.name == "export script" and row.user_id == member.id

    listed = runner.invoke(args=["api-token", "list", member.email])
    assert row.prefix in listed.output and token not in listed.output

    revoked = runner.invoke(args=["api-token", "revoke", row.prefix])
    assert revoked.exit_code == 0, revoked.output
    _db.session.expire_all()
    assert _db.session.get(ApiToken, row.id).revoked_at is not None


def test_the_cli_refuses_an_unknown_user(app, db):
    result = app.test_cli_runner().invoke(args=["api-token", "create", "nobody@example.org"])
    assert result.exit_code != 0 and "nobody@example.org" in result.output


def test_the_profile_page_lists_own_tokens_and_revokes_one(client, auth, member, token_for):
    token = token_for(member)
    row = _db.session.query(ApiToken).filter_by(token_hash=hash_token(token)).one()
    auth.login(member)
    page = client.get("/profile").get_data(as_text=True)
    assert row.prefix in page and token not in page
    response = client.post(f"/profile/api-tokens/{row.id}/revoke")
    assert response.status_code == 302
    _db.session.expire_all()
    assert _db.session.get(ApiToken, row.id).revoked_at is not None


def test_nobody_revokes_another_persons_token_from_the_profile_page(client, auth, member, outsider, token_for):
    token = token_for(member)
    row = _db.session.query(ApiToken).filter_by(token_hash=hash_token(token)).one()
    auth.login(outsider)
    assert client.post(f"/profile/api-tokens/{row.id}/revoke").status_code == 404
    _db.session.expire_all()
    assert _db.session.get(ApiToken, row.id).revoked_at is None


# --- rate limits -----------------------------------------------------------------------------

def test_an_address_sending_wrong_tokens_is_stopped_even_with_a_good_one(app, api, member, token_for):
    limit = int(app.config["API_BAD_TOKEN_LIMIT"].split()[0])
    good = token_for(member)
    for i in range(limit):
        assert_problem(api.as_(f"bg_guess{i}").get("/api/v1/me"), 401)
    response = api.as_(good).get("/api/v1/me")
    body = assert_problem(response, 429)
    assert body["detail"] and "Retry-After" in response.headers
    # Another address is not affected.
    other = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {good}"},
                                  environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200


def test_good_requests_do_not_count_as_wrong_tokens(app, api, member):
    api.as_(member)
    for _ in range(int(app.config["API_BAD_TOKEN_LIMIT"].split()[0]) + 5):
        assert api.get("/api/v1/me").status_code == 200


def test_each_token_has_its_own_request_budget(app, api, member, leader, token_for):
    busy, calm = token_for(member), token_for(leader)
    app.config["API_LIMIT_PER_TOKEN"] = "5 per minute"
    try:
        for _ in range(5):
            assert api.as_(busy).get("/api/v1/me").status_code == 200
        response = api.as_(busy).get("/api/v1/me")
        assert_problem(response, 429)
        assert response.headers["Retry-After"]
        assert api.as_(calm).get("/api/v1/me").status_code == 200
    finally:
        app.config["API_LIMIT_PER_TOKEN"] = "600 per minute"
