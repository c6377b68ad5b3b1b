"""Log-in, log-out, rate limits, reset and invitation links, and the user's own profile and password."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from app.accounts import services
from app.accounts.models import User
from tests.conftest import Auth
from tests.factories import PASSWORD, make_user

NEW_PASSWORD = "a much better password"
TOO_MANY = "Too many attempts"


@pytest.fixture
def browser(app, db):
    """Another browser: its own cookies, the same app."""
    db.session.commit()
    return Auth(app.test_client())


def fresh(db, user):
    db.session.commit()
    return db.session.get(User, user.id)


def login_form(email, password=PASSWORD):
    return {"email": email, "password": password}


# --- log-in and log-out ----------------------------------------------------------------------

def test_right_password_logs_in_and_opens_the_home_page(client, db, member):
    db.session.commit()
    response = client.post("/login", data=login_form("member@example.org"))
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Member Ma" in client.get("/").get_data(as_text=True)
    assert fresh(db, member).last_login_at is not None


def test_e_mail_is_matched_whatever_its_case_and_surrounding_blanks(client, db, member):
    db.session.commit()
    assert client.post("/login", data=login_form("  MEMBER@Example.org ")).status_code == 302


@pytest.mark.parametrize("email, password", [
    ("member@example.org", "wrong password"),
    ("nobody@example.org", PASSWORD),
    ("member@example.org", ""),
    ("", PASSWORD),
])
def test_wrong_e_mail_or_password_is_refused_with_one_message(client, db, member, email, password):
    db.session.commit()
    response = client.post("/login", data=login_form(email, password))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Wrong e-mail or password." in page or "This field is required." in page
    assert client.get("/").status_code == 302


def test_deactivated_and_not_yet_invited_people_cannot_log_in(client, db, member):
    make_user("pending@example.org", password=None)
    member.active = False
    db.session.commit()
    for email in ("member@example.org", "pending@example.org"):
        response = client.post("/login", data=login_form(email))
        assert "Wrong e-mail or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_log_out_ends_the_session(client, auth, db, member):
    db.session.commit()
    auth.login(member)
    response = auth.logout()
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert client.get("/").status_code == 302


def test_log_out_is_a_post_only(client, auth, db, member):
    db.session.commit()
    auth.login(member)
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "/\\evil.example", "http:/evil.example", "javascript:alert(1)",
    "//[", "http://[::1", "http://a\u2100b/",  # not addresses at all: urlsplit raises (found by fuzzing)
])
def test_log_in_refuses_to_send_people_off_site(client, db, member, target):
    db.session.commit()
    response = client.post("/login", query_string={"next": target}, data=login_form("member@example.org"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_log_in_returns_to_the_page_asked_for_on_this_site(client, db, member):
    db.session.commit()
    response = client.get("/profile")
    assert response.status_code == 302 and "next=" in response.headers["Location"]
    response = client.post("/login", query_string={"next": "/profile"}, data=login_form("member@example.org"))
    assert response.headers["Location"] == "/profile"


# --- rate limits -----------------------------------------------------------------------------

def test_an_account_is_locked_for_ten_minutes_after_five_failed_log_ins(app, client, db, member, leader):
    assert app.config["LOGIN_LIMIT_PER_ACCOUNT"] == "5 per 10 minutes"
    db.session.commit()
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            assert client.post("/login", data=login_form("member@example.org", "wrong")).status_code == 200
        # Even the right password is refused now, and the same account in other spelling too.
        response = client.post("/login", data=login_form("Member@Example.org"))
        assert response.status_code == 429
        assert TOO_MANY in response.get_data(as_text=True)
        # Another account from the same address is not locked.
        assert client.post("/login", data=login_form("leader@example.org")).status_code == 302
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        assert Auth(app.test_client()).login(member).status_code == 302


def test_successful_log_ins_do_not_count_towards_the_account_limit(client, auth, db, member):
    db.session.commit()
    for _ in range(8):
        assert auth.login(member).status_code == 302
        auth.logout()


def test_one_address_is_slowed_down_after_many_failed_log_ins_on_different_accounts(app, client, db, member):
    db.session.commit()
    limit = int(app.config["LOGIN_LIMIT_PER_ADDRESS"].split()[0])
    for i in range(limit):
        assert client.post("/login", data=login_form(f"guess{i}@example.org", "guess")).status_code == 200
    response = client.post("/login", data=login_form("member@example.org"))
    assert response.status_code == 429 and TOO_MANY in response.get_data(as_text=True)

    elsewhere = app.test_client()
    response = elsewhere.post(
        "/login", data=login_form("member@example.org"), environ_base={"REMOTE_ADDR": "10.0.0.7"}
    )
    assert response.status_code == 302


def test_without_trusted_proxies_a_client_cannot_dodge_the_address_limit_with_x_forwarded_for(app, client, db, member):
    assert app.config["PROXY_HOPS"] == 0
    db.session.commit()
    limit = int(app.config["LOGIN_LIMIT_PER_ADDRESS"].split()[0])
    for i in range(limit):
        response = client.post("/login", data=login_form(f"guess{i}@example.org", "guess"),
                               headers={"X-Forwarded-For": f"198.51.100.{i}"})
        assert response.status_code == 200
    response = client.post("/login", data=login_form("member@example.org"), headers={"X-Forwarded-For": "10.1.1.1"})
    assert response.status_code == 429


def test_behind_a_proxy_the_address_limit_counts_each_client_not_the_proxy(app, db, member):
    """Everyone reaches the app from the proxy's address; the proxy appends the client's to X-Forwarded-For."""
    from app import create_app
    from app.extensions import db as _db

    proxied = create_app("testing", {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                                     "PROXY_HOPS": 1})
    db.session.commit()
    limit = int(app.config["LOGIN_LIMIT_PER_ADDRESS"].split()[0])
    through_proxy = {"REMOTE_ADDR": "127.0.0.1"}
    guesser = proxied.test_client()
    try:
        for i in range(limit):
            response = guesser.post("/login", data=login_form(f"guess{i}@example.org", "guess"),
                                    environ_base=through_proxy, headers={"X-Forwarded-For": "203.0.113.9"})
            assert response.status_code == 200
        # Stopped, even with an address of its own choosing in front of the one the proxy appended.
        response = guesser.post("/login", data=login_form("member@example.org"), environ_base=through_proxy,
                                headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.9"})
        assert response.status_code == 429
        # A colleague behind the same proxy still signs in.
        response = proxied.test_client().post("/login", data=login_form("member@example.org"),
                                              environ_base=through_proxy, headers={"X-Forwarded-For": "198.51.100.4"})
        assert response.status_code == 302
    finally:
        with proxied.app_context():
            _db.engine.dispose()


# --- password reset --------------------------------------------------------------------------

def test_reset_requests_are_limited_per_address_and_per_account(app, client, db, member, outbox):
    db.session.commit()
    per_account = int(app.config["RESET_LIMIT_PER_ACCOUNT"].split()[0])
    for _ in range(per_account):
        assert client.post("/password/forgot", data={"email": member.email}).status_code == 302
    assert len(outbox) == per_account
    # The same mailbox (in any spelling) gets no more links, from this address or any other.
    response = app.test_client().post("/password/forgot", data={"email": member.email.upper()},
                                      environ_base={"REMOTE_ADDR": "10.0.0.8"})
    assert response.status_code == 429 and TOO_MANY in response.get_data(as_text=True)
    assert len(outbox) == per_account
    # One address asking for many mailboxes is stopped too; an unknown address is counted the same way.
    per_address = int(app.config["RESET_LIMIT"].split()[0])
    for i in range(per_address - per_account):
        assert client.post("/password/forgot", data={"email": f"nobody{i}@example.org"}).status_code == 302
    response = client.post("/password/forgot", data={"email": "someone-else@example.org"})
    assert response.status_code == 429 and TOO_MANY in response.get_data(as_text=True)


def reset_path(body: str) -> str:
    match = re.search(r"http://localhost(/password/reset/\S+)", body)
    assert match, body
    return match.group(1)


def test_password_reset_from_request_to_log_in(app, client, db, member, outbox):
    db.session.commit()
    response = client.post("/password/forgot", data={"email": "member@example.org"}, follow_redirects=True)
    assert "a link to set a new password is on its way" in response.get_data(as_text=True)
    assert len(outbox) == 1 and outbox[0].to == ["member@example.org"]
    hours = int(app.config["RESET_MAX_AGE"].total_seconds() // 3600)
    assert f"expires in {hours} hours" in outbox[0].body
    link = reset_path(outbox[0].body)

    assert "member@example.org" in client.get(link).get_data(as_text=True)
    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")

    assert "Wrong e-mail or password." in client.post("/login", data=login_form(member.email)).get_data(as_text=True)
    assert client.post("/login", data=login_form(member.email, NEW_PASSWORD)).status_code == 302

    again = "yet another password"
    response = app.test_client().post(link, data={"password": again, "confirm": again})
    assert response.status_code == 400 and "already been used" in response.get_data(as_text=True)


def test_reset_link_expires(app, client, db, member, outbox):
    db.session.commit()
    client.post("/password/forgot", data={"email": "member@example.org"})
    link = reset_path(outbox[0].body)
    later = datetime.now(UTC) + app.config["RESET_MAX_AGE"] + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)


def test_reset_request_for_an_unknown_or_deactivated_address_sends_nothing_and_says_the_same(
    client, db, member, outbox
):
    member.active = False
    db.session.commit()
    for email in ("nobody@example.org", "member@example.org"):
        response = client.post("/password/forgot", data={"email": email}, follow_redirects=True)
        assert "a link to set a new password is on its way" in response.get_data(as_text=True)
    assert outbox == []


def test_reset_with_a_short_or_mismatched_password_shows_the_error_and_keeps_the_link(client, db, member, outbox):
    db.session.commit()
    client.post("/password/forgot", data={"email": "member@example.org"})
    link = reset_path(outbox[0].body)
    response = client.post(link, data={"password": "short", "confirm": "short"})
    assert response.status_code == 200 and "invalid-feedback" in response.get_data(as_text=True)
    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "!"})
    assert "The two passwords differ." in response.get_data(as_text=True)
    assert client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302


# --- invitation links ------------------------------------------------------------------------

def test_invitation_link_lets_an_invited_person_choose_a_password(client, db):
    person = make_user("invited@example.org", name="Invited Yin", password=None)
    db.session.commit()
    token = services.make_link_token(person, services.INVITE)
    assert "Invited Yin" in client.get(f"/invite/{token}").get_data(as_text=True)
    response = client.post(f"/invite/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert client.post("/login", data=login_form("invited@example.org", NEW_PASSWORD)).status_code == 302


def test_links_are_refused_for_the_wrong_purpose_or_when_tampered_with(client, db, member):
    db.session.commit()
    reset_token = services.make_link_token(member, services.RESET)
    invite_token = services.make_link_token(member, services.INVITE)
    assert client.get(f"/invite/{reset_token}").status_code == 400
    assert client.get(f"/password/reset/{invite_token}").status_code == 400
    assert client.get(f"/invite/{invite_token[:-2]}xx").status_code == 400
    response = client.get("/password/reset/not-a-token")
    assert response.status_code == 400 and "This link is not valid." in response.get_data(as_text=True)


# --- profile and password --------------------------------------------------------------------

def test_profile_saves_name_profession_department_and_language(client, auth, db, member):
    db.session.commit()
    auth.login(member)
    response = client.post("/profile", data={
        "name": "Ma Lin", "profession": "nurse", "department": "Neonatal care", "locale": "en",
    })
    assert response.status_code == 302
    person = fresh(db, member)
    assert (person.name, person.profession, person.department, person.locale) == (
        "Ma Lin", "nurse", "Neonatal care", "en"
    )


@pytest.mark.parametrize("field, value", [
    ("profession", "surgeon"), ("profession", " "), ("locale", "fr"), ("locale", " "), ("name", "x" * 10000),
])
def test_profile_refuses_odd_values_beside_the_field(client, auth, db, member, field, value):
    db.session.commit()
    auth.login(member)
    data = {"name": "Member Ma", "profession": "", "department": "", "locale": ""}
    data[field] = value
    response = client.post("/profile", data=data)
    assert response.status_code == 200
    assert "invalid-feedback" in response.get_data(as_text=True)
    assert fresh(db, member).locale is None


# Run in a child process with two real clients, so a crash in the view fails this test and not the run.
PASSWORD_CHANGE_SCRIPT = """
import json, sys
from app import create_app
from app.extensions import db
from tests.factories import PASSWORD, make_user

app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite:///" + sys.argv[1]})
with app.app_context():
    db.create_all()
    make_user("member@example.org")
    db.session.commit()
this, other = app.test_client(), app.test_client()
new = "a much better password"
seen = {}
for name, client in (("this", this), ("other", other)):
    response = client.post("/login", data={"email": "member@example.org", "password": PASSWORD})
    seen[name + "_login"] = response.status_code
seen["other_before"] = other.get("/").status_code
seen["change"] = this.post(
    "/profile/password", data={"current_password": PASSWORD, "password": new, "confirm": new}
).status_code
seen["this_after"] = this.get("/").status_code
seen["other_after"] = other.get("/").status_code
seen["other_relogin"] = other.post("/login", data={"email": "member@example.org", "password": new}).status_code
print(json.dumps(seen))
"""


def test_password_change_signs_out_other_sessions_and_keeps_this_one(tmp_path):
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", PASSWORD_CHANGE_SCRIPT, str(tmp_path / "change.db")],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {
        "this_login": 302, "other_login": 302, "other_before": 200, "change": 302,
        "this_after": 200, "other_after": 302, "other_relogin": 302,
    }


def test_password_change_ends_the_sessions_of_older_versions(client, auth, db, member, browser):
    # What the change does underneath, tested in this process: a new password raises the session
    # version, and a browser carrying the old one is signed out.
    auth.login(member)
    assert browser.login(member).status_code == 302
    services.change_password(member, PASSWORD, NEW_PASSWORD)
    db.session.commit()
    response = browser.client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert browser.login(member, NEW_PASSWORD).status_code == 302


def test_password_change_needs_the_current_password(client, auth, db, member):
    db.session.commit()
    auth.login(member)
    response = client.post("/profile/password", data={
        "current_password": "not it", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
    })
    assert response.status_code == 422
    assert "The current password is not correct." in response.get_data(as_text=True)
    assert services.verify_password(fresh(db, member), PASSWORD)


def test_password_is_rehashed_at_log_in_when_the_hashing_cost_changes(app, client, db, member, monkeypatch):
    db.session.commit()
    old_hash = member.password_hash
    old_cost = app.config["ARGON2_TIME_COST"]
    assert f"t={old_cost}," in old_hash
    monkeypatch.setitem(app.config, "ARGON2_TIME_COST", old_cost + 1)

    assert client.post("/login", data=login_form("member@example.org")).status_code == 302
    new_hash = fresh(db, member).password_hash
    assert new_hash != old_hash and f"t={old_cost + 1}," in new_hash
    assert services.verify_password(fresh(db, member), PASSWORD)
