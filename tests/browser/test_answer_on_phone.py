"""A member answers a round on a phone; the session ends halfway, and after logging in again nothing is lost."""

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import limiter
from app.feedback.models import Completion, Response
from tests.factories import PASSWORD, make_group, make_org, make_user, open_round

PHONE = {"width": 360, "height": 740}


@pytest.fixture
def phone(browser, live_server, db):
    """A phone-sized page that may reach only the live server."""
    limiter.reset()
    context = browser.new_context(viewport=PHONE, locale="en-GB", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    blocked: list[str] = []

    def guard(route):
        if route.request.url.startswith(live_server) or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    yield page
    context.close()
    assert not blocked, f"the page tried to reach the internet: {blocked}"


def log_in(page, email):
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.locator("form [type=submit]").click()


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_member_answers_on_a_phone_across_an_ended_session_and_submits_once(phone, live_server, db):
    group = make_group(make_org(), "Paediatric ICU Balint group")
    member = make_user("nurse@example.org", roles=["member"], name="Nurse Ning")
    feedback_round = open_round(group, present=[member])
    db.session.commit()
    page = phone
    form_url = f"{live_server}/rounds/{feedback_round.id}/answer"

    page.goto(live_server + "/login")
    log_in(page, member.email)
    page.locator("[data-round-banner] a").click()
    expect(page).to_have_url(form_url)
    expect(page.locator("#anonymity")).to_contain_text("anonymous")
    assert fits_the_screen(page)

    # Two answers, saved as a draft on the server.
    page.check("#a-recovery-4")
    page.locator("label[for='a-calm-8']").click()  # 7 on the 0-10 scale
    expect(page.locator("#answer-progress-text")).to_have_text("2 of 5 answered")
    expect(page.locator("#answer-sync")).to_have_attribute("data-sync", "saved")

    # The session ends; the next answers stay on the phone and the page offers to log in again.
    page.context.clear_cookies()
    page.check("#a-coping-5")
    page.fill("#a-comment", "The group helps me leave work at work.")
    expect(page.locator("#answer-sync")).to_have_attribute("data-sync", "expired")
    expect(page.locator("#answer-login")).to_be_visible()
    page.locator("#answer-login a").click()
    log_in(page, member.email)
    expect(page).to_have_url(form_url)

    # Every answer is back: the server's draft and the phone's copy.
    expect(page.locator("#a-recovery-4")).to_be_checked()
    expect(page.locator("#a-calm-8")).to_be_checked()
    expect(page.locator("#a-coping-5")).to_be_checked()
    expect(page.locator("#a-comment")).to_have_value("The group helps me leave work at work.")
    expect(page.locator("#answer-progress-text")).to_have_text("4 of 5 answered")
    expect(page.locator("#answer-sync")).to_have_attribute("data-sync", "saved")  # the phone's copy reached the server

    page.check("#a-format-2")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("h1")).to_have_text("Thank you")
    # The copy on the phone is removed once the answers have arrived.
    # (polled from here: the page's Content-Security-Policy forbids the eval that wait_for_function uses)
    key = f"balint-answers-{feedback_round.id}-{member.id}"
    for _ in range(100):
        if page.evaluate("key => window.localStorage.getItem(key)", key) is None:
            break
        page.wait_for_timeout(100)
    assert page.evaluate("key => window.localStorage.getItem(key)", key) is None
    assert fits_the_screen(page)

    page.goto(form_url)
    expect(page.locator("#answer-message")).to_contain_text("already submitted")
    expect(page.get_by_role("button", name="Submit")).to_have_count(0)
    page.goto(live_server + "/")
    expect(page.locator("[data-round-answered]")).to_contain_text("answered, thank you")
    expect(page.locator("[data-round-banner]")).to_have_count(0)

    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Completion)) == 1
    assert re.search("Nurse", repr(db.session.execute(sa.select(Response)).all())) is None
