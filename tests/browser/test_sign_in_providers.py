"""Signing in with the hospital's accounts in a real browser: a person only in the directory gets an account and
sees their group once a coordinator adds them; single sign-on goes through the OpenID Connect provider's own login
page and lands home, in Chinese when the browser asks for it; signing out ends the provider's session too."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app.extensions import db as _db
from tests import ldapserver, oidcserver
from tests.browser.conftest import keep_on_loopback
from tests.factories import make_group, make_org


@pytest.fixture(scope="module")
def portal(live_server):
    """The provider with a client whose redirect URI is the live server's."""
    if not oidcserver.available():
        pytest.skip("node or node_modules/oidc-provider missing (npm ci)")
    provider = oidcserver.Provider.start([live_server + "/login/oidc/callback"], [live_server + "/login"])
    yield provider
    provider.stop()


@pytest.fixture
def sso_live(live_app, live_server, portal, monkeypatch, db):
    for key, value in portal.settings(live_server + "/login/oidc/callback", live_server + "/login").items():
        monkeypatch.setitem(live_app.config, key, value)
    monkeypatch.setitem(live_app.config, "EXTERNAL_CREATE_ACCOUNTS", True)
    make_org(oidcserver.ORGANISATION)
    _db.session.commit()
    return live_server


def test_a_portal_user_signs_in_on_the_providers_page_and_lands_home_in_chinese(browser, sso_live, portal):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    blocked: list[str] = []
    keep_on_loopback(page, blocked)
    page.set_default_timeout(15_000)
    try:
        page.goto(sso_live + "/login")
        page.locator("#sso-login").click()
        expect(page).to_have_url(re.compile(re.escape(portal.issuer) + "/interaction/"))
        page.fill("input[name=login]", "chen.jing")
        page.fill("input[name=password]", "whatever-the-portal-asks")
        page.locator("button[type=submit]").click()
        expect(page).to_have_url(re.compile(re.escape(sso_live) + r"/$"))
        blocked.clear()  # the provider's development login page asks for web fonts; the app's pages must not
        page.reload()
        expect(page.get_by_role("link", name="我的活动")).to_be_visible()
        expect(page.get_by_role("button", name="退出登录")).to_be_visible()
        assert not blocked  # the app's pages reached nothing but loopback
        page.get_by_role("button", name="退出登录").click()
        expect(page).to_have_url(re.compile(re.escape(portal.issuer)))  # the provider asks to confirm signing out
        page.locator("button[name=logout]").click()
        expect(page).to_have_url(re.compile(re.escape(sso_live) + r"/login$"))
        page.goto(sso_live + "/")
        expect(page).to_have_url(re.compile(r"/login"))  # signed out here too
    finally:
        context.close()


def test_a_person_only_in_the_directory_signs_in_and_sees_the_group_a_coordinator_adds_them_to(
        offline_page, live_app, live_server, directory, monkeypatch, db, today):
    from app.accounts.models import User
    from app.programme import services as programme

    for key, value in ldapserver.settings(directory).items():
        monkeypatch.setitem(live_app.config, key, value)
    monkeypatch.setitem(live_app.config, "EXTERNAL_CREATE_ACCOUNTS", True)
    org = make_org(ldapserver.ORGANISATION)
    group = make_group(org, "儿科重症巴林特小组")
    _db.session.commit()
    page = offline_page
    page.goto(live_server + "/login")
    page.get_by_label("User name").fill("li.na")
    page.locator("form[action^='/login/directory'] input[name=password]").fill("pw-li-na")
    page.get_by_role("button", name="Sign in with the hospital directory").click()
    expect(page).to_have_url(re.compile(re.escape(live_server) + r"/$"))
    expect(page.get_by_text("儿科重症巴林特小组")).to_have_count(0)
    _db.session.expire_all()
    person = _db.session.query(User).filter_by(email="li.na@hospital.test").one()
    assert (person.name, person.organisation_id) == ("李娜", org.id)
    programme.add_member(None, group, person, joined_on=today)  # what the coordinator's page does
    _db.session.commit()
    page.reload()
    expect(page.get_by_text("儿科重症巴林特小组").first).to_be_visible()
