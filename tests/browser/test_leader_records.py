"""A leader records five meetings in the browser; the fifth opens a round a member who attended sees."""

import re
from datetime import time, timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from app.feedback.models import FeedbackRound
from app.programme import services as programme
from app.scheduling import services as scheduling
from app.scheduling.models import Meeting
from tests.browser.conftest import login
from tests.factories import make_group, make_leader, make_org, make_user


def logout(page):
    page.get_by_role("button", name="Log out").click()


def test_leader_records_five_meetings_and_only_a_member_who_attended_sees_the_round(
    offline_page, live_server, db, today
):
    org = make_org()
    group = make_group(org, "Oncology Balint group")
    leader = make_leader("lead@example.org", "Dr Lead", completed_on=today - timedelta(days=900))
    came = make_user("came@example.org", roles=["member"], name="Came Always")
    away = make_user("away@example.org", roles=["member"], name="Away Always")
    others = [make_user(f"m{i}@example.org", roles=["member"], name=f"Member {i}") for i in range(4)]
    programme.add_group_leader(None, group, leader)
    for person in [came, away, *others]:
        programme.add_member(None, group, person, joined_on=today - timedelta(days=200))
    scheduling.save_schedule(None, group, kind="nth_weekday", weekday=2, weeks=[1, 3],
                             start_time=time(9, 0))
    scheduling.generate_meetings(None, group, today - timedelta(days=120), today - timedelta(days=1))
    meetings = db.session.scalars(
        sa.select(Meeting).where(Meeting.group_id == group.id).order_by(Meeting.starts_at)
    ).all()[:5]
    assert len(meetings) == 5
    for meeting in meetings:
        scheduling.assign_leaders(None, meeting, leader)
    db.session.commit()
    page = offline_page

    login(page, live_server, "lead@example.org")
    for index, meeting in enumerate(meetings):
        page.goto(f"{live_server}/meetings/{meeting.id}/record")
        page.select_option(f"[name='attendance-{away.id}']", "absent")
        page.fill("#summary", "A mother's anger at the night nurse; the group explored helplessness.")
        if index == 0:
            # First try: a phone number slipped into the summary is refused and says what to remove.
            page.fill("#summary", "The mother (13812345678) was angry at the night nurse.")
            page.get_by_role("button", name="Save record").click()
            expect(page.locator("main")).to_contain_text("13812345678")
            expect(page.locator("#summary")).to_have_value(re.compile("13812345678"))
            page.fill("#summary", "The mother was angry at the night nurse.")
        page.get_by_role("button", name="Save record").click()
        expect(page.locator(".alert").first).to_contain_text("recorded")
    expect(page.locator(".alert", has_text="round").first).to_be_visible()

    db.session.rollback()
    (opened,) = db.session.scalars(sa.select(FeedbackRound).where(FeedbackRound.group_id == group.id)).all()
    assert sorted(opened.meeting_ids) == sorted(m.id for m in meetings)

    logout(page)
    login(page, live_server, "came@example.org")
    expect(page.locator("main")).to_contain_text("Oncology Balint group")
    expect(page.locator("[data-round-banner]")).to_have_count(1)

    logout(page)
    login(page, live_server, "away@example.org")
    expect(page.locator("[data-round-banner]")).to_have_count(0)
