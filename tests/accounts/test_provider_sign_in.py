"""Signing in through the hospital directory (a real slapd) and single sign-on (a real OpenID Connect provider):
accounts matched, linked or created, and every refusal a clear answer, never a 500."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from app.accounts.models import StaffNumber, User
from app.accounts.providers.models import ProviderIdentity
from app.audit.models import AuditEntry
from tests import oidcserver
from tests.conftest import OIDC_REDIRECT
from tests.factories import PASSWORD, make_org, make_user
from tests.ldapserver import ORGANISATION


def actions(db) -> list[str]:
    return list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))


def user_by_email(db, email: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(User).where(User.email == email))


def directory_login(client, username: str, password: str, **query):
    path = "/login/directory" + (("?" + "&".join(f"{k}={v}" for k, v in query.items())) if query else "")
    return client.post(path, data={"username": username, "password": password})


# --- the directory --------------------------------------------------------------------------------------------


def test_a_person_only_in_the_directory_gets_an_account_in_the_mapped_organisation(app, client, db, ldap_on,
                                                                                   monkeypatch):
    monkeypatch.setitem(app.config, "EXTERNAL_CREATE_ACCOUNTS", True)
    org = make_org(ORGANISATION)
    db.session.commit()
    response = directory_login(client, "li.na", "pw-li-na")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    user = user_by_email(db, "li.na@hospital.test")
    assert (user.name, user.organisation_id, user.department, user.roles) == ("李娜", org.id, "儿科重症监护室",
                                                                              {"member"})
    assert db.session.get(StaffNumber, user.id).number == "H1001"
    link = db.session.scalar(sa.select(ProviderIdentity).where(ProviderIdentity.user_id == user.id))
    assert link.provider == "ldap" and link.display == "li.na" and link.last_login_at is not None
    assert "provider_account_created" in actions(db)
    assert client.get("/").status_code == 200
    # The second time the stable id finds the same account.
    client.post("/logout")
    assert directory_login(client, "li.na", "pw-li-na").status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_the_directory_group_maps_to_the_leader_role(app, client, db, ldap_on, monkeypatch):
    monkeypatch.setitem(app.config, "EXTERNAL_CREATE_ACCOUNTS", True)
    assert directory_login(client, "wang.wei", "pw-wang-wei").status_code == 302
    assert user_by_email(db, "wang.wei@hospital.test").roles == {"member", "leader"}


def test_an_existing_account_is_linked_by_its_address(client, db, ldap_on):
    person = make_user("li.na@hospital.test", name="Li Na")
    db.session.commit()
    assert directory_login(client, "li.na", "pw-li-na").status_code == 302
    assert db.session.scalar(sa.select(ProviderIdentity.user_id)) == person.id
    assert "provider_identity_linked" in actions(db)


def test_a_wrong_directory_password_is_refused(client, db, ldap_on):
    make_user("li.na@hospital.test")
    db.session.commit()
    response = directory_login(client, "li.na", "not-her-password")
    assert response.status_code == 401
    assert "Wrong user name or password." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(ProviderIdentity)) is None


def test_a_person_disabled_in_the_directory_is_refused(app, client, db, ldap_on, monkeypatch):
    monkeypatch.setitem(app.config, "EXTERNAL_CREATE_ACCOUNTS", True)
    assert directory_login(client, "zhao.left", "pw-zhao").status_code == 401
    assert user_by_email(db, "zhao.left@hospital.test") is None


def test_a_person_deactivated_here_cannot_sign_in_through_the_directory(client, db, ldap_on):
    make_user("li.na@hospital.test").active = False
    db.session.commit()
    response = directory_login(client, "li.na", "pw-li-na")
    assert response.status_code == 401
    assert "This account has been deactivated." in response.get_data(as_text=True)
    assert actions(db)[-1] == "provider_sign_in_refused"
    assert client.get("/").status_code == 302  # not signed in


def test_without_account_creation_a_stranger_is_refused_and_audited(client, db, ldap_on):
    response = directory_login(client, "li.na", "pw-li-na")
    assert response.status_code == 401
    assert "You have no account here yet." in response.get_data(as_text=True)
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "provider_sign_in_refused"))
    assert entry.detail["reason"] == "no_account" and entry.detail["display"] == "li.na"


def test_ldap_filter_injection_finds_nobody(app, client, db, ldap_on, monkeypatch):
    monkeypatch.setitem(app.config, "EXTERNAL_CREATE_ACCOUNTS", True)
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT", "100 per minute")
    for attempt in ("*", "li.*", "*)(uid=*", "li.na)(|(uid=*", "zhao.left)(employeeType=*", "\\2a", "li.na\\00"):
        response = directory_login(client, attempt, "pw-li-na")
        assert response.status_code == 401, attempt
    assert directory_login(client, "li.na\x00", "pw-li-na").status_code == 400  # the app refuses NUL in any form
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_a_stopped_directory_gives_a_clear_message_and_passwords_still_work(client, db, ldap_on, member):
    db.session.commit()
    ldap_on.stop()
    response = directory_login(client, "li.na", "pw-li-na")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "The hospital directory cannot be reached just now." in page
    assert "you can log in with it meanwhile" in page
    assert client.post("/login", data={"email": member.email, "password": PASSWORD}).status_code == 302


def test_directory_sign_ins_are_rate_limited_like_passwords(app, client, db, ldap_on, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT", "3 per 10 minutes")
    statuses = [directory_login(client, "li.na", f"wrong-{i}").status_code for i in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_direct_bind_finds_the_person_too(app, client, db, ldap_on, monkeypatch):
    from tests.ldapserver import SUFFIX

    monkeypatch.setitem(app.config, "LDAP_SERVICE_DN", None)
    monkeypatch.setitem(app.config, "LDAP_BIND_TEMPLATE", "uid={username},ou=people," + SUFFIX)
    make_user("li.na@hospital.test")
    db.session.commit()
    assert directory_login(client, "li.na", "pw-li-na").status_code == 302
    assert directory_login(client, "li.na,ou=people", "pw-li-na").status_code in (302,)  # already signed in
    client.post("/logout")
    assert directory_login(client, "zhao.left", "pw-zhao").status_code == 401  # bound, but the filter leaves out


# --- the log-in page ------------------------------------------------------------------------------------------


def test_the_log_in_page_lists_the_enabled_methods(client, db, ldap_on, oidc_on):
    page = client.get("/login?next=/meetings").get_data(as_text=True)
    assert 'id="sso-login"' in page and "/login/oidc?next=/meetings" in page
    assert 'action="/login/directory?next=/meetings"' in page and 'name="email"' in page
    zh = client.get("/login", headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 200 and "登录" in zh.get_data(as_text=True)


def test_local_passwords_can_be_switched_off(app, client, db, member, ldap_on, monkeypatch):
    monkeypatch.setitem(app.config, "LOCAL_LOGIN_ENABLED", False)
    page = client.get("/login").get_data(as_text=True)
    assert 'name="email"' not in page and 'name="username"' in page

    assert client.post("/login", data={"email": member.email, "password": PASSWORD}).status_code == 404


def test_methods_that_are_off_answer_404(client, db):
    assert client.post("/login/directory", data={"username": "x", "password": "y"}).status_code == 404
    assert client.get("/login/oidc").status_code == 404
    assert client.get("/login/oidc/callback?code=x&state=y").status_code == 404


# --- single sign-on (OpenID Connect) --------------------------------------------------------------------------


def start_sso(client, next_target: str | None = None) -> str:
    response = client.get("/login/oidc" + (f"?next={next_target}" if next_target else ""))
    assert response.status_code == 302
    authorize = response.headers["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["redirect_uri"] == [OIDC_REDIRECT]
    assert query["state"] and query["nonce"]
    return authorize


def sso(client, login: str, next_target: str | None = None) -> str:
    """Start single sign-on, sign in on the provider's page; the address the provider sends the browser back to."""
    return oidcserver.sign_in(start_sso(client, next_target), login, stop_at=OIDC_REDIRECT)


def test_a_person_at_the_provider_signs_in_and_lands_home(app, client, db, oidc_on, monkeypatch):
    monkeypatch.setitem(app.config, "EXTERNAL_CREATE_ACCOUNTS", True)
    org = make_org(ORGANISATION)
    db.session.commit()
    response = client.get(sso(client, "chen.jing"))
    assert response.status_code == 302 and response.headers["Location"] == "/"
    user = user_by_email(db, "chen.jing@portal.test")
    assert (user.name, user.organisation_id, user.roles) == ("陈静", org.id, {"member"})
    assert db.session.scalar(sa.select(ProviderIdentity.subject)) == "chen.jing"
    assert client.get("/").status_code == 200


def test_the_roles_claim_maps_to_roles(app, client, db, oidc_on, monkeypatch):
    monkeypatch.setitem(app.config, "EXTERNAL_CREATE_ACCOUNTS", True)
    assert client.get(sso(client, "sun.li")).status_code == 302
    assert user_by_email(db, "sun.li@portal.test").roles == {"member", "leader"}


def test_next_is_followed_only_on_this_site(client, db, oidc_on):
    make_user("chen.jing@portal.test")
    db.session.commit()
    response = client.get(sso(client, "chen.jing", next_target="https://evil.example/steal"))
    assert response.headers["Location"] == "/"
    client.post("/logout")
    response = client.get(sso(client, "chen.jing", next_target="/meetings"))
    assert response.headers["Location"] == "/meetings"


def test_a_tampered_state_is_refused(client, db, oidc_on):
    make_user("chen.jing@portal.test")
    db.session.commit()
    back = sso(client, "chen.jing")
    tampered = back.replace("state=", "state=x")
    response = client.get(tampered)
    assert response.status_code == 400
    assert "The sign-in could not be completed." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not signed in
    assert client.get(back).status_code == 400  # the flow was used up by the tampered answer


def test_an_answer_for_another_browser_is_refused(app, client, db, oidc_on):
    make_user("chen.jing@portal.test")
    db.session.commit()
    back = sso(client, "chen.jing")
    other = app.test_client()
    assert other.get(back).status_code == 400


def test_a_replayed_code_is_refused(client, db, oidc_on):
    make_user("chen.jing@portal.test")
    db.session.commit()
    authorize = start_sso(client)
    with client.session_transaction() as session:
        flow = dict(session["oidc_flow"])
    back = oidcserver.sign_in(authorize, "chen.jing", stop_at=OIDC_REDIRECT)
    assert client.get(back).status_code == 302
    client.post("/logout")
    with client.session_transaction() as session:  # the same browser state again: only the code is old
        session["oidc_flow"] = flow
    response = client.get(back)
    assert response.status_code == 400
    assert "The sign-in could not be completed." in response.get_data(as_text=True)


def test_an_unverified_address_is_not_linked(client, db, oidc_on):
    make_user("liu.yang@portal.test")
    db.session.commit()
    response = client.get(sso(client, "liu.yang"))
    assert response.status_code == 403
    assert "has not verified your e-mail address" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(ProviderIdentity)) is None


def test_signing_out_ends_the_provider_session_too(client, db, oidc_on):
    make_user("chen.jing@portal.test")
    db.session.commit()
    client.get(sso(client, "chen.jing"))
    response = client.post("/logout")
    target = urlsplit(response.headers["Location"])
    assert f"{target.scheme}://{target.netloc}" == oidc_on.issuer
    query = parse_qs(target.query)
    assert query["client_id"] == [oidcserver.CLIENT_ID] and query["id_token_hint"]
    assert client.get("/").status_code == 302


def test_an_unreachable_provider_gives_a_clear_message(app, client, db, oidc_on, monkeypatch):
    from tests.loopback import free_port

    monkeypatch.setitem(app.config, "OIDC_ISSUER", f"http://127.0.0.1:{free_port()}")
    response = client.get("/login/oidc", follow_redirects=True)
    assert response.status_code == 200
    assert "The single sign-on service cannot be reached just now." in response.get_data(as_text=True)


# --- linking on the person's page -------------------------------------------------------------------------------


def test_a_coordinator_links_and_unlinks_a_sign_in(client, db, auth, coordinator, member):
    auth.login(coordinator)
    response = client.post(f"/people/{member.id}/identities", data={"provider": "oidc", "subject": "chen.jing"})
    assert response.status_code == 302
    page = client.get(f"/people/{member.id}").get_data(as_text=True)
    assert "chen.jing" in page
    link = db.session.scalar(sa.select(ProviderIdentity))
    assert link.user_id == member.id
    duplicate = client.post(f"/people/{member.id}/identities", data={"provider": "oidc", "subject": "chen.jing"},
                            follow_redirects=True)
    assert "already linked" in duplicate.get_data(as_text=True)
    assert client.post(f"/people/{member.id}/identities/{link.id}/unlink").status_code == 302
    db.session.expire_all()
    assert db.session.scalar(sa.select(ProviderIdentity)) is None
    assert {"provider_identity_linked", "provider_identity_unlinked"} <= set(actions(db))


def test_a_member_cannot_link_sign_ins(client, db, auth, member, outsider):
    auth.login(member)
    response = client.post(f"/people/{outsider.id}/identities", data={"provider": "oidc", "subject": "x"})
    assert response.status_code == 403


def test_starttls_and_ldaps_check_the_directory_certificate(app, client, db, ldap_on, monkeypatch):
    make_user("li.na@hospital.test")
    db.session.commit()
    monkeypatch.setitem(app.config, "LDAP_CA_FILE", ldap_on.ca_file)
    monkeypatch.setitem(app.config, "LDAP_START_TLS", True)
    assert directory_login(client, "li.na", "pw-li-na").status_code == 302
    client.post("/logout")
    monkeypatch.setitem(app.config, "LDAP_START_TLS", False)
    monkeypatch.setitem(app.config, "LDAP_URL", ldap_on.ldaps_url)
    assert directory_login(client, "li.na", "pw-li-na").status_code == 302
    client.post("/logout")
    # A certificate the app does not trust is an unavailable directory, not a sign-in.
    monkeypatch.setitem(app.config, "LDAP_CA_FILE", None)
    response = directory_login(client, "li.na", "pw-li-na")
    assert response.status_code == 503


def test_deactivating_a_person_ends_their_provider_session(client, db, ldap_on):
    from app.accounts import services as accounts

    person = make_user("li.na@hospital.test")
    db.session.commit()
    assert directory_login(client, "li.na", "pw-li-na").status_code == 302
    assert client.get("/").status_code == 200
    accounts.set_active(None, person, False)
    db.session.commit()
    assert client.get("/").status_code == 302
    assert directory_login(client, "li.na", "pw-li-na").status_code == 401


def test_failed_single_sign_on_returns_are_rate_limited(app, client, db, oidc_on, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ADDRESS", "2 per 10 minutes")
    statuses = [client.get("/login/oidc/callback?code=x&state=y").status_code for _ in range(3)]
    assert statuses == [400, 400, 429]


def test_an_answer_after_the_flow_expired_is_refused(client, db, oidc_on):
    make_user("chen.jing@portal.test")
    db.session.commit()
    back = sso(client, "chen.jing")
    with client.session_transaction() as session:
        session["oidc_flow"] = {**session["oidc_flow"], "at": session["oidc_flow"]["at"] - 3600}
    assert client.get(back).status_code == 400


def test_directory_next_is_followed_only_on_this_site(client, db, ldap_on):
    make_user("li.na@hospital.test")
    db.session.commit()
    response = directory_login(client, "li.na", "pw-li-na", next="//evil.example/x")
    assert response.headers["Location"] == "/"
    client.post("/logout")
    assert directory_login(client, "li.na", "pw-li-na", next="/meetings").headers["Location"] == "/meetings"


def test_an_answer_naming_another_issuer_is_refused(client, db, oidc_on):
    make_user("chen.jing@portal.test")
    db.session.commit()
    back = sso(client, "chen.jing")
    assert "iss=" in back
    other = back.replace("iss=http", "iss=https")
    assert client.get(other).status_code == 400


def test_without_local_passwords_there_is_no_reset_either(app, client, db, monkeypatch):
    monkeypatch.setitem(app.config, "LOCAL_LOGIN_ENABLED", False)
    assert client.get("/password/forgot").status_code == 404
    assert "No way to sign in is switched on." in client.get("/login").get_data(as_text=True)


def test_failed_sign_ins_per_address_count_together_across_methods(app, client, db, ldap_on, oidc_on, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ADDRESS", "3 per 10 minutes")
    assert client.post("/login", data={"email": "a@b.test", "password": "wrong"}).status_code == 200
    assert directory_login(client, "li.na", "wrong").status_code == 401
    assert client.get("/login/oidc/callback?code=x&state=y").status_code == 400
    assert directory_login(client, "li.na", "pw-li-na").status_code == 429
