"""Self-generated codes in a real browser: a member who gives the same facts in two rounds is paired once; a member
who gives other facts is not; the code the page builds is the HMAC of the normalised facts with the programme key,
and the facts themselves never reach the server."""

from __future__ import annotations

import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import limiter
from app.feedback import rules as feedback_rules
from app.feedback.models import Response
from app.timeutil import utcnow
from tests.browser.conftest import keep_on_loopback, login
from tests.factories import CODED, code_of, consecutive_rounds, make_group, make_instrument, make_org, make_user


def answer(page, live_server, round_id, facts):
    page.goto(f"{live_server}/rounds/{round_id}/answer")
    for code in ("a1", "a2", "a3", "b1", "b2"):
        page.locator(f"label[for='a-{code}-4']").click()
    for selector, value in zip(("#code-mother", "#code-day", "#code-school"), facts, strict=True):
        page.fill(selector, value)
    expect(page.locator("#code-status")).not_to_be_empty()
    page.locator("button[name=action][value=submit]").click()
    expect(page.locator("body")).to_contain_text("Thank")


def test_same_facts_pair_and_other_facts_do_not(browser, live_server, live_app, db):
    limiter.reset()
    org = make_org()
    group = make_group(org, "Oncology Balint group")
    same = make_user("same@example.org", roles=["member"], name="Member Same")
    other = make_user("other@example.org", roles=["member"], name="Member Other")
    coordinator = make_user("coord@example.org", roles=["coordinator"], name="Coordinator")
    first, second = consecutive_rounds(group, [same, other], make_instrument(CODED))
    db.session.commit()
    sent: list[str] = []
    blocked: list[str] = []

    def browse_as(person, facts_first, facts_second):
        # A browser context of its own per member (clearing cookies races the last page's asset requests,
        # whose answers may set the session cookie again).
        context = browser.new_context(locale="en-GB")
        page = context.new_page()
        page.set_default_timeout(10_000)
        keep_on_loopback(page, blocked)
        page.on("request", lambda request: sent.append(request.post_data or "") if request.method == "POST" else None)
        login(page, live_server, person.email)
        answer(page, live_server, first.id, facts_first)
        answer(page, live_server, second.id, facts_second)
        context.close()

    browse_as(same, ("李", "７", "京"), ("李 ", "07", "京"))  # a full-width 7: the same code as "7"
    browse_as(other, ("王", "3", "沪"), ("王", "4", "沪"))  # another birthday: another code
    assert not blocked

    db.session.rollback()  # end the snapshot this session read the personas in: see what the server wrote
    key = feedback_rules.code_key(live_app.config.get("RESPONSE_CODE_KEY"), live_app.config["SECRET_KEY"])
    expected = code_of("李", "7", "京", key=key)
    stored = db.session.scalars(sa.select(Response.code).where(Response.round_id.in_([first.id, second.id]))).all()
    assert sorted(stored).count(expected) == 2 and len(set(stored)) == 3
    assert not any("%E6%9D%8E" in body or "李" in body for body in sent)  # the facts never left the page

    for r in (first, second):
        db.session.merge(r).close(utcnow())
    db.session.commit()
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    keep_on_loopback(page, blocked)
    login(page, live_server, coordinator.email)
    page.goto(f"{live_server}/groups/{group.id}/trends")
    expect(page.locator("#paired [data-pair-count]")).to_have_attribute("data-pair-count", "1")
    expect(page.locator("#paired")).to_contain_text("1 pair")
    context.close()
    assert not blocked
