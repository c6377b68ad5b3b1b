"""The calendar put together from kept parts is byte for byte what the `icalendar` library writes for the whole
calendar at once, and the feed's plain rows say what the meetings themselves say."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
import sqlalchemy as sa

from app.programme import services as programme
from app.scheduling import services
from app.scheduling.ical import CalendarMeeting, _vtimezone, build_calendar, calendar_component, meeting_event
from app.scheduling.models import Meeting
from app.scheduling.services import feeds as calendars
from app.timeutil import local_date, local_zone, utcnow
from tests.factories import make_leader
from tests.querylog import recorded_statements, work


def whole_calendar(meetings, name: str) -> bytes:
    """The calendar as one icalendar component, serialised in one call (what build_calendar did before)."""
    zone = local_zone()
    calendar = calendar_component(name, zone.key)
    for meeting in meetings:
        calendar.add_component(meeting_event(meeting))
    if meetings:
        first = local_date(min(m.starts_at for m in meetings), zone)
        last = local_date(max(m.ends_at for m in meetings), zone)
        calendar.subcomponents.insert(0, _vtimezone(zone.key, first.year, last.year))
    return calendar.to_ical()


@pytest.fixture
def varied(db, scheduled_group, leader, trainee_leader):
    """Meetings of every kind a calendar shows: planned with a co-lead, moved, cancelled, without leaders,
    with a long link and a holiday note, across a new year."""
    services.generate_meetings(None, scheduled_group, date(2026, 12, 1), date(2027, 2, 28))
    found = db.session.scalars(
        sa.select(Meeting).where(Meeting.group_id == scheduled_group.id).order_by(Meeting.starts_at)
    ).all()
    planned, moved, cancelled, bare, noted = found[:5]
    services.assign_leaders(None, planned, leader, trainee_leader)
    for meeting in (moved, cancelled, noted):
        services.assign_leaders(None, meeting, leader)
    services.reschedule_meeting(None, moved, day=moved.starts_at.date() + timedelta(days=1), at=time(9, 30),
                                duration_minutes=90, reason="Ward round moved", location="Seminar room 3")
    services.cancel_meeting(None, cancelled, "Leader ill")
    noted.video_link = "https://meeting.example.invalid/" + "balint-room-" * 8
    noted.holiday_note = "调休：the make-up working day"
    db.session.commit()
    return [planned, moved, cancelled, bare, noted]


@pytest.mark.parametrize("name", ["My Balint group meetings", "巴林特小组：儿科 " * 6])
def test_the_calendar_from_kept_parts_is_the_librarys_own_text(db, varied, name):
    assert build_calendar(varied, name) == whole_calendar(varied, name)
    assert build_calendar(varied, name) == whole_calendar(varied, name)  # again, from the kept parts
    assert build_calendar([], name) == whole_calendar([], name)


def test_a_changed_meeting_is_written_anew(db, varied):
    before = build_calendar(varied, "Feed")
    services.reschedule_meeting(None, varied[0], day=varied[0].starts_at.date() + timedelta(days=2),
                                at=time(15, 0), duration_minutes=60, reason="Clinic overran")
    db.session.commit()
    after = build_calendar(varied, "Feed")
    assert after != before and after == whole_calendar(varied, "Feed")
    assert b"Clinic overran" in after


def test_the_feeds_rows_say_what_the_meetings_say(db, varied, scheduled_group, member, leader):
    since = calendars.feed_since(utcnow()) - timedelta(days=3650)
    group_feed = calendars.group_feed(scheduled_group, leader)
    personal = calendars.personal_feed(leader)
    db.session.commit()
    rows = calendars.calendar_meetings(group_feed, since + calendars.FEED_HISTORY)
    meetings = calendars.meetings_for_group(scheduled_group, since)
    assert rows == [CalendarMeeting.of(m) for m in meetings]
    assert build_calendar(rows, "Feed") == build_calendar(meetings, "Feed")
    mine = calendars.calendar_meetings(personal, since + calendars.FEED_HISTORY)
    assert mine == [CalendarMeeting.of(m) for m in calendars.meetings_for_user(leader, since)]
    assert {m.lead_name for m in mine} == {leader.name}


def test_the_feed_runs_the_same_statements_however_many_groups_and_meetings(db, org, client, scheduled_group,
                                                                           member, leader, today):
    feed = calendars.personal_feed(member)
    db.session.commit()
    path = f"/calendar/{feed.token}.ics"

    def statements() -> int:
        db.session.expire_all()
        with recorded_statements() as seen:
            assert client.get(path).status_code == 200
        return len(work(seen))

    services.generate_meetings(None, scheduled_group, today, today + timedelta(days=30))
    db.session.commit()
    few = statements()
    from tests.factories import make_group

    co = make_leader("co@example.org", "Co Chen", organisation_id=org.id)
    for i in range(3):
        extra = make_group(org, f"Extra group {i}", leader=leader)
        programme.add_member(None, extra, member, joined_on=today - timedelta(days=5))
        services.save_schedule(None, extra, kind="nth_weekday", weekday=i, weeks=[1, 2, 3, 4], start_time=time(8, 0))
        services.generate_meetings(None, extra, today, today + timedelta(days=40))
        for meeting in db.session.scalars(sa.select(Meeting).where(Meeting.group_id == extra.id)):
            services.assign_leaders(None, meeting, leader, co if i % 2 else None)
    db.session.commit()
    assert statements() == few == 3  # the feed with its owner, their memberships, the meetings with names
