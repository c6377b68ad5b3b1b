"""iCalendar output, read back by two independent parsers: `ics` and `icalendar`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import icalendar
import ics
import pytest
import sqlalchemy as sa

from app.scheduling import services
from app.scheduling.ical import build_calendar
from app.scheduling.models import Meeting

SHANGHAI = timedelta(hours=8)


@pytest.fixture
def three_meetings(db, scheduled_group, leader):
    """January 2027: one meeting as planned, one moved, one cancelled (all led by the persona leader)."""
    services.generate_meetings(None, scheduled_group, date(2027, 1, 1), date(2027, 2, 28))
    planned, moved, cancelled = db.session.scalars(
        sa.select(Meeting).where(Meeting.group_id == scheduled_group.id).order_by(Meeting.starts_at).limit(3)
    ).all()
    for meeting in (planned, moved, cancelled):
        services.assign_leaders(None, meeting, leader)
    services.reschedule_meeting(None, moved, day=date(2027, 1, 22), at=time(9, 30), duration_minutes=90,
                                reason="Ward round moved", location="Seminar room 3")
    services.cancel_meeting(None, cancelled, "Leader ill")
    db.session.commit()
    return planned, moved, cancelled


def by_uid(calendar_text: str) -> dict[str, ics.Event]:
    return {event.uid: event for event in ics.Calendar(calendar_text).events}


def sequence_of(event: ics.Event) -> int:
    """`ics` 0.7 keeps SEQUENCE among the properties it does not model."""
    (value,) = [line.value for line in event.extra if line.name == "SEQUENCE"]
    return int(value)


def test_the_feed_reads_back_with_an_independent_parser(db, three_meetings):
    planned, moved, cancelled = three_meetings
    text = build_calendar(three_meetings, "My Balint group meetings").decode()
    events = by_uid(text)
    assert set(events) == {planned.uid, moved.uid, cancelled.uid}

    first = events[planned.uid]
    assert first.begin.to("UTC").datetime == datetime(2027, 1, 6, 6, 0, tzinfo=UTC)  # 14:00 in Beijing
    assert first.begin.utcoffset() == SHANGHAI
    assert first.end.to("UTC").datetime == datetime(2027, 1, 6, 7, 0, tzinfo=UTC)
    assert first.status == "CONFIRMED" and sequence_of(first) == planned.sequence
    assert "Leader Li" in first.description

    second = events[moved.uid]
    assert second.begin.to("UTC").datetime == datetime(2027, 1, 22, 1, 30, tzinfo=UTC)  # 09:30 local
    assert second.end - second.begin == timedelta(minutes=90)
    assert second.location == "Seminar room 3"
    assert "Ward round moved" in second.description
    assert sequence_of(second) == moved.sequence >= 2  # leaders assigned, then moved

    third = events[cancelled.uid]
    assert third.status == "CANCELLED"
    assert "Cancelled: Leader ill" in third.description
    assert sequence_of(third) == cancelled.sequence >= 2


def test_times_carry_the_local_tzid_and_the_calendar_carries_its_vtimezone(db, three_meetings):
    calendar = icalendar.Calendar.from_ical(build_calendar(three_meetings, "Feed"))
    (zone,) = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Asia/Shanghai"
    for event in calendar.walk("VEVENT"):
        assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
        assert event["DTEND"].params["TZID"] == "Asia/Shanghai"
        assert event.start.utcoffset() == SHANGHAI
    assert str(calendar["X-WR-CALNAME"]) == "Feed" and str(calendar["VERSION"]) == "2.0"
    raw = build_calendar(three_meetings, "Feed").decode()
    assert "\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in raw or "\r\nREFRESH-INTERVAL:PT1H\r\n" in raw
    assert "\r\nX-PUBLISHED-TTL:PT1H\r\n" in raw
    assert calendar.get_missing_tzids() == set()


def test_a_moved_meeting_keeps_its_uid_with_a_higher_sequence(db, scheduled_group):
    services.generate_meetings(None, scheduled_group, date(2027, 1, 1), date(2027, 1, 10))
    (meeting,) = db.session.scalars(sa.select(Meeting).where(Meeting.group_id == scheduled_group.id)).all()
    before = icalendar.Calendar.from_ical(build_calendar([meeting], "Feed")).events[0]

    services.reschedule_meeting(None, meeting, day=date(2027, 1, 7), at=time(15, 0), duration_minutes=60,
                                reason="Clinic overran")
    after = icalendar.Calendar.from_ical(build_calendar([meeting], "Feed")).events[0]
    assert after.uid == before.uid == meeting.uid
    assert after.sequence == before.sequence + 1
    assert after.start == datetime(2027, 1, 7, 7, 0, tzinfo=UTC)
    assert before.start == datetime(2027, 1, 6, 6, 0, tzinfo=UTC)

    services.cancel_meeting(None, meeting, "Leader ill")
    cancelled = icalendar.Calendar.from_ical(build_calendar([meeting], "Feed")).events[0]
    assert cancelled.uid == meeting.uid and cancelled.sequence == after.sequence + 1
    assert cancelled["STATUS"] == "CANCELLED"


def test_an_online_meeting_gives_its_video_link_as_location_and_url(db, group):
    meeting = services.add_extra_meeting(None, group, day=date(2027, 3, 3), at=time(19, 0), mode="online",
                                         location="", video_link="https://meet.example.org/balint?id=42")
    event = icalendar.Calendar.from_ical(build_calendar([meeting], "Feed")).events[0]
    assert event["LOCATION"] == "https://meet.example.org/balint?id=42"
    assert event["URL"] == "https://meet.example.org/balint?id=42"
    parsed = by_uid(build_calendar([meeting], "Feed").decode())[meeting.uid]
    assert parsed.url == "https://meet.example.org/balint?id=42"


def test_long_and_chinese_text_is_folded_for_strict_importers(db, org, leader):
    from tests.factories import make_group

    group = make_group(org, "儿科巴林特小组（住院部与门诊部医护人员联合小组）" * 2)
    meeting = services.add_extra_meeting(None, group, day=date(2027, 3, 3), at=time(14, 0),
                                         location="住院部三楼示教室，靠近护士站的那一间")
    services.cancel_meeting(None, meeting, "组长生病，本次活动取消；下次活动照常进行，请大家互相转告。" * 3)
    raw = build_calendar([meeting], "我的巴林特小组活动")
    assert raw.endswith(b"\r\n")
    lines = raw.split(b"\r\n")[:-1]
    assert all(len(line) <= 75 for line in lines)  # RFC 5545: 75 octets, multi-byte characters never split
    for line in lines:
        line.decode("utf-8")
    event = by_uid(raw.decode())[meeting.uid]
    assert event.location == "住院部三楼示教室，靠近护士站的那一间"
    assert event.description.startswith("Cancelled: 组长生病")


def test_the_deployments_timezone_is_used_when_it_is_not_shanghai(app, db, group, monkeypatch):
    meeting = services.add_extra_meeting(None, group, day=date(2027, 7, 1), at=time(10, 0))
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_TIMEZONE", "Europe/Berlin")
    calendar = icalendar.Calendar.from_ical(build_calendar([meeting], "Feed"))
    event = calendar.events[0]
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event.start == datetime(2027, 7, 1, 2, 0, tzinfo=UTC)  # 10:00 in Beijing, whatever the zone shown
    assert [str(z["TZID"]) for z in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
