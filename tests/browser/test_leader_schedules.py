"""A leader sets up three months of meetings in the browser; the member's calendar feed follows the changes."""

import re
import urllib.request
from datetime import timedelta

import sqlalchemy as sa
from icalendar import Calendar
from playwright.sync_api import expect

from app.programme import services as programme
from app.scheduling.models import Meeting
from app.scheduling.services import feeds as calendars
from tests.browser.conftest import login
from tests.factories import make_group, make_leader, make_org, make_user


def test_leader_creates_a_series_assigns_leaders_and_cancels_one_and_the_feed_shows_it(
    offline_page, live_server, db, today
):
    org = make_org()
    group = make_group(org, "Neonatology Balint group")
    leader = make_leader("lead@example.org", "Dr Lead", completed_on=today - timedelta(days=900))
    trainee = make_leader("trainee@example.org", "Dr Trainee", "leader_in_training",
                          completed_on=today - timedelta(days=100))
    member = make_user("nurse@example.org", roles=["member"], name="Nurse Ning")
    programme.add_group_leader(None, group, leader)
    programme.add_member(None, group, member, joined_on=today - timedelta(days=30))
    feed_token = calendars.personal_feed(member).token
    db.session.commit()
    page = offline_page

    login(page, live_server, "lead@example.org")
    page.goto(f"{live_server}/groups/{group.id}/schedule")

    # The rule: 1st and 3rd Wednesday at 14:00, holidays moved to the next working day.
    page.select_option("#rule-weekday", "2")
    for week in page.locator("input[name='rule-weeks']").all():
        if week.get_attribute("value") in ("1", "3"):
            week.check()
        else:
            week.uncheck()
    page.fill("#rule-start_time", "14:00")
    page.get_by_role("button", name="Save the rule").click()
    expect(page.locator(".alert").first).to_be_visible()

    # Three months from today.
    page.fill("#generate-start_on", today.isoformat())
    page.fill("#generate-until", (today + timedelta(days=91)).isoformat())
    page.get_by_role("button", name="Generate meetings").click()
    expect(page.locator("main")).to_contain_text(re.compile(r"\d"))

    db.session.rollback()
    meetings = db.session.scalars(
        sa.select(Meeting).where(Meeting.group_id == group.id).order_by(Meeting.starts_at)
    ).all()
    assert 5 <= len(meetings) <= 7

    # A leader in training cannot lead: refused with the rule shown, nothing saved.
    first = meetings[0]
    page.goto(f"{live_server}/meetings/{first.id}")
    page.select_option("#leaders-lead_id", str(trainee.id))
    page.get_by_role("button", name="Save leaders").click()
    expect(page.locator("main")).to_contain_text("Dr Trainee cannot be lead of this meeting")
    expect(page.locator("main")).to_contain_text("level")

    # The qualified leader leads, the trainee co-leads beside them.
    page.select_option("#leaders-lead_id", str(leader.id))
    page.select_option("#leaders-co_lead_id", str(trainee.id))
    page.get_by_role("button", name="Save leaders").click()
    expect(page.locator("main")).to_contain_text("Dr Trainee")

    # Cancel the second meeting with a reason.
    second = meetings[1]
    page.goto(f"{live_server}/meetings/{second.id}")
    page.locator("#cancel-heading").click()
    page.fill("#cancel-reason", "Hospital inspection day")
    page.get_by_role("button", name="Cancel this meeting").click()
    expect(page.locator("main")).to_contain_text("Hospital inspection day")

    db.session.rollback()
    leaders = {ml.role: ml.user_id for ml in db.session.get(Meeting, first.id).leaders}
    assert leaders == {"lead": leader.id, "co_lead": trainee.id}

    # The member's calendar feed, as a calendar app fetches it: the cancellation is there.
    with urllib.request.urlopen(f"{live_server}/calendar/{feed_token}.ics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/calendar")
        calendar = Calendar.from_ical(response.read())
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    cancelled = events[db.session.get(Meeting, second.id).uid]
    assert str(cancelled["STATUS"]) == "CANCELLED" and int(cancelled["SEQUENCE"]) >= 1
    assert str(events[first.uid]["STATUS"]) == "CONFIRMED"
