"""Local dates on every page and file outside the trends: meetings at 00:30 and 23:30 Beijing time on the first
and last days of quarters are shown, counted and filed on their Beijing date, never on their UTC date.

00:30 on 1 April in Beijing is 16:30 UTC on 31 March: anything that takes the UTC date puts it in March and
in the first quarter. The meetings below sit on both sides of three quarter ends.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, time, timedelta

import icalendar
import pytest
import sqlalchemy as sa
from flask import render_template_string

from app.accounts.models import TrainingRecord
from app.i18n import format_day
from app.meetings import services as meetings
from app.notifications import services as notifications
from app.programme import services as programme
from app.programme.models import Membership
from app.scheduling import services as scheduling
from app.scheduling.ical import build_calendar
from app.scheduling.services import feeds as calendars
from app.timeutil import local_date, local_period_bounds, quarter_of, to_utc, utcnow
from tests.factories import make_user

# (local date, local time, minutes): both sides of the ends of Q1, Q2 and Q4 of 2025.
EDGES = [
    (date(2025, 3, 31), time(23, 30), 60),
    (date(2025, 4, 1), time(0, 30), 90),
    (date(2025, 6, 30), time(23, 30), 45),
    (date(2025, 7, 1), time(0, 30), 120),
    (date(2025, 12, 31), time(23, 30), 30),
    (date(2026, 1, 1), time(0, 30), 75),
]
MEDIUM = ["Mar 31, 2025", "Apr 1, 2025", "Jun 30, 2025", "Jul 1, 2025", "Dec 31, 2025", "Jan 1, 2026"]
QUARTERS = {  # (from, until) -> the EDGES meetings inside
    ("2025-01-01", "2025-03-31"): [0],
    ("2025-04-01", "2025-06-30"): [1, 2],
    ("2025-07-01", "2025-09-30"): [3],
    ("2025-10-01", "2025-12-31"): [4],
    ("2026-01-01", "2026-03-31"): [5],
}


def text(response) -> str:
    return response.get_data(as_text=True)


def shown(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', page)
    assert found, f"no #{element_id} on the page"
    return found.group(1).strip()


def hours(minutes: int) -> str:
    return f"{minutes / 60:.2f}".rstrip("0").rstrip(".")


def table_body(page: str, marker: str) -> str:
    """The <tbody> of the first table after `marker`."""
    return page.split(marker, 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def training(user, completed_on=date(2020, 1, 1), valid_until=None) -> TrainingRecord:
    """A verified leader training record of the user (not yet added to the session)."""
    return TrainingRecord(user=user, kind="Balint leader training", level="leader", issuer="Balint Society",
                          completed_on=completed_on, valid_until=valid_until, verified_at=utcnow())


def scheduled(group, edges, minutes=60):
    """Scheduled one-off meetings of the group at these EDGES (local date and time)."""
    return [scheduling.add_extra_meeting(None, group, day=d, at=t, duration_minutes=minutes) for d, t, _m in edges]


@pytest.fixture
def edge_meetings(db, group, leader, member):
    """The six EDGES meetings held, led by the persona leader, with the persona member present."""
    for record in leader.training_records:
        record.completed_on = date(2020, 1, 1)
    for ms in group.memberships:
        ms.joined_on = date(2024, 1, 1)
    db.session.flush()
    found = []
    for day, at, minutes in EDGES:
        meeting = scheduling.add_extra_meeting(None, group, day=day, at=at, duration_minutes=minutes)
        scheduling.assign_leaders(None, meeting, leader)
        meetings.record_meeting(None, meeting, status="held", now=utcnow(), attendance={member.id: "present"},
                                duration_minutes=minutes)
        found.append(meeting)
    db.session.commit()
    return found


def test_the_edge_meetings_are_stored_on_the_utc_day_before_when_they_start_at_0030(edge_meetings):
    # The set-up itself: what makes every check below able to fail.
    stored = [m.starts_at for m in edge_meetings]
    assert stored[1] == datetime(2025, 3, 31, 16, 30) and stored[3] == datetime(2025, 6, 30, 16, 30)
    assert stored[5] == datetime(2025, 12, 31, 16, 30)
    assert [local_date(m.starts_at) for m in edge_meetings] == [day for day, _at, _m in EDGES]


# --- helpers ---------------------------------------------------------------------------------

def test_local_dates_and_quarters_of_stored_times(app):
    with app.app_context():
        assert local_date(datetime(2025, 3, 31, 16, 30)) == date(2025, 4, 1)
        assert local_date(datetime(2025, 3, 31, 15, 59)) == date(2025, 3, 31)
        assert quarter_of(local_date(datetime(2025, 3, 31, 16, 30))) == (2025, 2)
        assert quarter_of(local_date(datetime(2025, 12, 31, 16, 30))) == (2026, 1)
        assert local_date(datetime(2025, 4, 1, 0, 30, tzinfo=UTC)) == date(2025, 4, 1)  # aware: taken as it is
        assert to_utc(date(2025, 4, 1), time(0, 30)) == datetime(2025, 3, 31, 16, 30)
        assert local_period_bounds(date(2025, 4, 1), date(2025, 6, 30)) == (
            datetime(2025, 3, 31, 16, 0), datetime(2025, 6, 30, 16, 0))
        assert local_period_bounds(None, None) == (None, None)


def test_format_day_shows_a_stored_time_on_its_local_date(app):
    with app.test_request_context():
        assert format_day(datetime(2025, 3, 31, 16, 30)) == "Apr 1, 2025"
        assert format_day(datetime(2025, 3, 31, 15, 30)) == "Mar 31, 2025"
        assert format_day(date(2025, 3, 31)) == "Mar 31, 2025"


def test_the_date_filters_of_the_templates_show_stored_times_on_their_local_date(app):
    template = "{{ t|dateformat('medium') }} {{ t|timeformat('HH:mm') }} {{ t|localdate }}"
    with app.test_request_context():
        assert render_template_string(template, t=datetime(2025, 3, 31, 16, 30)) == "Apr 1, 2025 00:30 2025-04-01"
        assert render_template_string("{{ t|datetimeformat('short') }}", t=datetime(2025, 3, 31, 16, 30)).startswith(
            "4/1/25")


# --- the leader's portfolio ------------------------------------------------------------------

@pytest.mark.parametrize(("period", "inside"), QUARTERS.items())
def test_a_portfolio_for_a_quarter_holds_the_meetings_of_its_first_and_last_local_day(
    client, auth, edge_meetings, leader, period, inside
):
    auth.login(leader)
    since, until = period
    page = text(client.get(f"/leaders/{leader.id}/portfolio?from={since}&until={until}"))
    assert shown(page, "total-led") == str(len(inside))
    assert shown(page, "total-hours") == hours(sum(EDGES[i][2] for i in inside))
    rows = table_body(page, 'id="meetings-heading"')
    assert sorted(re.findall(r'<td class="text-nowrap">([^<]+)</td>', rows)) == sorted(MEDIUM[i] for i in inside)


def test_supervision_on_the_first_and_last_day_of_a_quarter_counts_in_that_quarter(client, auth, db, leader):
    for day, minutes in ((date(2025, 3, 31), 10), (date(2025, 4, 1), 20), (date(2025, 6, 30), 40),
                         (date(2025, 7, 1), 80)):
        meetings.add_supervision(leader, leader, held_on=day, supervisor=f"Dr. {minutes}", minutes=minutes)
    db.session.commit()
    auth.login(leader)
    page = text(client.get(f"/leaders/{leader.id}/portfolio?from=2025-04-01&until=2025-06-30"))
    assert shown(page, "supervision-hours") == hours(20 + 40)
    assert "Dr. 20" in page and "Dr. 40" in page
    assert "Dr. 10" not in page and "Dr. 80" not in page
    page = text(client.get(f"/leaders/{leader.id}/portfolio?from=2025-07-01&until=2025-07-01"))
    assert shown(page, "supervision-hours") == hours(80)


def test_the_portfolio_csv_files_meetings_and_supervision_under_their_local_dates(client, auth, db, edge_meetings,
                                                                                    leader):
    meetings.add_supervision(leader, leader, held_on=date(2025, 6, 30), supervisor="Dr. B", minutes=60)
    meetings.add_supervision(leader, leader, held_on=date(2025, 7, 1), supervisor="Dr. C", minutes=60)
    db.session.commit()
    auth.login(leader)
    body = client.get(f"/leaders/{leader.id}/portfolio.csv?from=2025-04-01&until=2025-06-30").data
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))[1:]
    assert sorted((r[0], r[1], r[4]) for r in rows) == [
        ("Meeting", "2025-04-01", "90"), ("Meeting", "2025-06-30", "45"), ("Supervision", "2025-06-30", "60")]
    everything = list(csv.reader(io.StringIO(
        client.get(f"/leaders/{leader.id}/portfolio.csv").data.decode("utf-8-sig"))))[1:]
    assert sorted(r[1] for r in everything if r[0] == "Meeting") == [d.isoformat() for d, _at, _m in EDGES]


# --- the member's certificate and attendance -------------------------------------------------

def test_a_certificate_for_a_quarter_lists_the_meetings_of_its_first_and_last_local_day(client, auth, edge_meetings,
                                                                                          member):
    auth.login(member)
    page = text(client.get(f"/members/{member.id}/certificate?from=2025-04-01&until=2025-06-30"))
    rows = table_body(page, 'id="certificate-meetings"')
    assert re.findall(r'<td class="text-nowrap">([^<]+)</td>', rows) == ["Apr 1, 2025", "Jun 30, 2025"]
    assert shown(page, "certificate-total-hours") == hours(90 + 45)
    assert "April 1, 2025 – June 30, 2025" in page


def test_a_certificate_without_a_period_runs_from_the_first_to_the_last_local_meeting_day(client, auth,
                                                                                        edge_meetings, member):
    auth.login(member)
    page = text(client.get(f"/members/{member.id}/certificate"))
    assert "March 31, 2025 – January 1, 2026" in page
    rows = table_body(page, 'id="certificate-meetings"')
    assert re.findall(r'<td class="text-nowrap">([^<]+)</td>', rows) == MEDIUM
    assert shown(page, "certificate-total-hours") == hours(sum(m for _d, _t, m in EDGES))


def test_a_chinese_certificate_shows_the_same_local_dates(client, auth, db, edge_meetings, member):
    member.locale = "zh_CN"
    db.session.commit()
    auth.login(member)
    page = text(client.get(f"/members/{member.id}/certificate?from=2025-04-01&until=2025-06-30"))
    rows = table_body(page, 'id="certificate-meetings"')
    assert re.findall(r'<td class="text-nowrap">([^<]+)</td>', rows) == ["2025年4月1日", "2025年6月30日"]
    assert "2025年3月31日" not in rows and "2025年7月1日" not in rows


def test_my_attendance_shows_each_meeting_on_its_local_date(client, auth, edge_meetings, member):
    auth.login(member)
    page = text(client.get("/my/attendance"))
    assert shown(page, "total-hours") == hours(sum(m for _d, _t, m in EDGES))
    assert [page.count(day) for day in MEDIUM] == [1] * len(MEDIUM)


# --- the group's timeline and attendance statistics ------------------------------------------

def test_the_timeline_and_attendance_statistics_show_each_meeting_on_its_local_date(client, auth, edge_meetings,
                                                                                      group, leader):
    auth.login(leader)
    for url in (f"/groups/{group.id}/timeline", f"/groups/{group.id}/attendance"):
        page = text(client.get(url))
        assert [page.count(day) for day in MEDIUM] == [1] * len(MEDIUM), url


# --- the calendar ----------------------------------------------------------------------------

def test_the_calendar_writes_each_meeting_at_its_local_wall_clock_time_on_its_local_day(db, edge_meetings):
    calendar = icalendar.Calendar.from_ical(build_calendar(edge_meetings, "Edges"))
    events = {e["UID"]: e for e in calendar.walk("VEVENT")}
    for meeting, (day, at, minutes) in zip(edge_meetings, EDGES, strict=True):
        event = events[meeting.uid]
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert isinstance(start, datetime) and str(start.tzinfo) == "Asia/Shanghai"  # never an all-day date
        assert (start.date(), start.time()) == (day, at)
        assert end - start == timedelta(minutes=minutes)
        assert start.astimezone(UTC).replace(tzinfo=None) == meeting.starts_at
    raw = build_calendar(edge_meetings, "Edges").decode()
    assert "DTSTART;TZID=Asia/Shanghai:20250401T003000" in raw
    assert "DTEND;TZID=Asia/Shanghai:20250401T003000" in raw  # 23:30 on 31 March for an hour
    assert "VALUE=DATE:" not in raw
    (zone,) = calendar.walk("VTIMEZONE")
    assert zone["TZID"] == "Asia/Shanghai"


def test_a_membership_that_starts_or_ends_on_a_quarter_day_gives_the_calendar_that_local_days_meetings(db, group,
                                                                                                      leader):
    for record in leader.training_records:
        record.completed_on = date(2020, 1, 1)
    joins = make_user("joins@example.org", name="Joins April")
    leaves = make_user("leaves@example.org", name="Leaves March")
    programme.add_member(None, group, joins, joined_on=date(2025, 4, 1))
    ended = programme.add_member(None, group, leaves, joined_on=date(2025, 1, 1))
    programme.end_membership(None, ended, date(2025, 3, 31))
    late, early = scheduled(group, EDGES[:2])
    db.session.commit()
    since = datetime(2025, 1, 1)
    assert [m.id for m in calendars.meetings_for_user(joins, since)] == [early.id]
    assert [m.id for m in calendars.meetings_for_user(leaves, since)] == [late.id]


# --- reminders -------------------------------------------------------------------------------

def test_reminders_go_to_members_on_the_meetings_local_date_and_name_that_date(db, group, leader, member, outbox):
    for record in leader.training_records:
        record.completed_on = date(2020, 1, 1)
    db.session.execute(sa.delete(Membership).where(Membership.group_id == group.id))
    programme.add_member(None, group, member, joined_on=date(2025, 4, 1))  # joins on the day of the 00:30 meeting
    leaves = make_user("leaves@example.org", name="Leaves March")
    ended = programme.add_member(None, group, leaves, joined_on=date(2025, 1, 1))
    programme.end_membership(None, ended, date(2025, 3, 31))  # a member until the end of 31 March
    late, early = scheduled(group, EDGES[:2])
    for meeting in (late, early):
        scheduling.assign_leaders(None, meeting, leader)
    db.session.commit()

    now = early.starts_at - timedelta(hours=2)  # both are due: 23:30 and 00:30 are an hour apart
    planned = notifications.queue_due_reminders(now)
    by_meeting = {(p.meeting.id, p.user.email) for p in planned}
    assert by_meeting == {(late.id, leaves.email), (late.id, leader.email),
                          (early.id, member.email), (early.id, leader.email)}
    notifications.send_pending(now, commit=db.session.commit)
    mail = {(message.to[0], message.subject): message.body for message in outbox}
    early_mail = mail[(member.email, f"Reminder: {group.name}, Apr 1, 2025 00:30")]
    assert "When: Tuesday, April 1, 2025, 00:30–01:30 (Asia/Shanghai)" in early_mail
    late_mail = mail[(leaves.email, f"Reminder: {group.name}, Mar 31, 2025 23:30")]
    assert "When: Monday, March 31, 2025, 23:30–00:30 (Asia/Shanghai)" in late_mail


# --- eligibility -----------------------------------------------------------------------------

def test_a_lead_is_eligible_by_the_meetings_local_date_on_both_sides_of_a_quarter_end(db, group, leader):
    for record in list(leader.training_records):
        db.session.delete(record)
    db.session.flush()
    late, early = scheduled(group, EDGES[:2])
    expiring = training(leader, valid_until=date(2025, 3, 31))
    db.session.add(expiring)
    db.session.flush()
    db.session.refresh(leader)
    scheduling.assign_leaders(None, late, leader)  # 23:30 on 31 March: still valid
    with pytest.raises(scheduling.EligibilityError):
        scheduling.assign_leaders(None, early, leader)  # 00:30 on 1 April (31 March in UTC): expired

    # Trained from 1 July: leads at 00:30 on 1 July (30 June in UTC), not at 23:30 on 30 June.
    db.session.delete(expiring)
    db.session.add(training(leader, completed_on=date(2025, 7, 1)))
    db.session.flush()
    db.session.refresh(leader)
    late, early = scheduled(group, EDGES[2:4], 30)
    scheduling.assign_leaders(None, early, leader)
    with pytest.raises(scheduling.EligibilityError):
        scheduling.assign_leaders(None, late, leader)
