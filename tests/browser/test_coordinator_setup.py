"""A coordinator sets up a programme entirely in the browser, in Chinese: organisation, group, member, leader."""

import re

import sqlalchemy as sa
from playwright.sync_api import expect

from app.accounts.models import TrainingRecord
from app.programme.models import Group, GroupLeader, Membership, Organisation
from tests.factories import PASSWORD, make_user


def option_value(page, select: str, text: str) -> str:
    """The value of the option of a select whose text contains `text`."""
    return page.locator(f"{select} option", has_text=text).first.get_attribute("value")


def test_coordinator_sets_up_a_group_with_a_member_and_a_verified_leader_in_chinese(offline_page, live_server, db):
    make_user("coordinator@example.org", roles=["coordinator"], name="Zhao Min")
    member = make_user("nurse@example.org", roles=["member"], name="Chen Jing")
    leader = make_user("psychiatrist@example.org", roles=["leader"], name="Wang Lei")
    db.session.commit()
    page = offline_page

    # Log in (English by default), then switch the language in the header.
    page.goto(live_server + "/login")
    page.fill("#email", "coordinator@example.org")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))
    page.get_by_role("button", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()

    # An organisation.
    page.goto(live_server + "/organisations/new")
    page.fill("#name", "北京儿童研究医院")
    page.locator("form [type=submit]").last.click()
    expect(page.get_by_text("北京儿童研究医院").first).to_be_visible()

    # A group in that organisation.
    page.goto(live_server + "/groups/new")
    page.fill("#name", "儿科重症巴林特小组")
    page.select_option("#organisation_id", label="北京儿童研究医院")
    page.fill("#location", "3号楼心灵驿站")
    page.locator("form [type=submit]").last.click()
    expect(page.get_by_role("heading", name="儿科重症巴林特小组")).to_be_visible()
    group_url = page.url

    # A member.
    page.select_option("#member-user_id", value=option_value(page, "#member-user_id", "Chen Jing"))
    page.locator("form:has(#member-user_id) [type=submit]").click()
    expect(page.locator("main")).to_contain_text("Chen Jing")

    # The leader's training, verified by the coordinator.
    page.goto(f"{live_server}/people/{leader.id}/training/new")
    page.fill("#kind", "巴林特小组组长培训")
    page.select_option("#level", "leader")
    page.fill("#issuer", "中国巴林特联盟")
    page.fill("#completed_on", "2025-03-01")
    page.check("#verified")
    page.locator("form [type=submit]").last.click()
    expect(page.locator("main")).to_contain_text("巴林特小组组长培训")

    # The leader joins the group.
    page.goto(group_url)
    page.select_option("#leader-user_id", value=option_value(page, "#leader-user_id", "Wang Lei"))
    page.locator("form:has(#leader-user_id) [type=submit]").click()
    expect(page.locator("main")).to_contain_text("Wang Lei")
    expect(page.locator("main")).to_contain_text("成员")

    db.session.rollback()  # end the test's read snapshot: see what the server committed
    group = db.session.scalar(sa.select(Group).where(Group.name == "儿科重症巴林特小组"))
    assert group.organisation.name == "北京儿童研究医院"
    assert db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "北京儿童研究医院"))
    assert db.session.scalar(sa.select(Membership).where(Membership.group_id == group.id)).user_id == member.id
    assert db.session.scalar(sa.select(GroupLeader).where(GroupLeader.group_id == group.id)).user_id == leader.id
    assert db.session.scalar(sa.select(TrainingRecord).where(TrainingRecord.user_id == leader.id)).verified
