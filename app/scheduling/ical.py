"""iCalendar (RFC 5545) text for meetings, built with the maintained `icalendar` library."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import icalendar
from flask_babel import gettext as _

from app.scheduling.models import Meeting
from app.timeutil import local_date, local_zone, to_local

PRODID = "-//Balint Groups//Meetings//EN"
# Calendar apps that honour it poll the address about this often.
REFRESH_INTERVAL = timedelta(hours=1)


def _aware_local(moment: datetime) -> datetime:
    """Naive UTC from the database as an aware datetime in the deployment's zone (written with its TZID)."""
    return to_local(moment)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CalendarMeeting:
    """What a meeting's VEVENT is written from: the meeting's own columns and its group's and leaders' names.

    The feed reads these as plain rows (scheduling.services.feeds.calendar_meetings: one statement, no ORM objects);
    `of` takes them from a loaded Meeting (its group and leaders)."""

    uid: str
    sequence: int
    status: str
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    updated_at: datetime
    group_name: str
    lead_name: str | None = None
    co_lead_name: str | None = None
    location: str | None = None
    video_link: str | None = None
    cancel_reason: str | None = None
    change_reason: str | None = None
    holiday_note: str | None = None

    @classmethod
    def of(cls, meeting: Meeting | CalendarMeeting) -> CalendarMeeting:
        if isinstance(meeting, CalendarMeeting):
            return meeting
        lead, co_lead = meeting.lead, meeting.co_lead
        return cls(
            uid=meeting.uid, sequence=meeting.sequence, status=meeting.status, starts_at=meeting.starts_at,
            ends_at=meeting.ends_at, created_at=meeting.created_at, updated_at=meeting.updated_at,
            group_name=meeting.group.name, lead_name=lead.name if lead is not None else None,
            co_lead_name=co_lead.name if co_lead is not None else None, location=meeting.location,
            video_link=meeting.video_link, cancel_reason=meeting.cancel_reason, change_reason=meeting.change_reason,
            holiday_note=meeting.holiday_note,
        )


def meeting_title(meeting: Meeting | CalendarMeeting) -> str:
    """What a calendar shows for the meeting: the group's name, marked when cancelled."""
    meeting = CalendarMeeting.of(meeting)
    name = meeting.group_name
    if meeting.status == "cancelled":
        return _("Cancelled: %(name)s", name=name)
    return name


def meeting_description(meeting: Meeting | CalendarMeeting) -> str:
    """The event's notes: cancellation or change reason, leaders, video link."""
    meeting = CalendarMeeting.of(meeting)
    lines = []
    if meeting.status == "cancelled":
        lines.append(_("Cancelled: %(reason)s", reason=meeting.cancel_reason or "-"))
    elif meeting.change_reason:
        lines.append(_("Changed: %(reason)s", reason=meeting.change_reason))
    if meeting.lead_name is not None:
        lines.append(_("Lead: %(name)s", name=meeting.lead_name))
    if meeting.co_lead_name is not None:
        lines.append(_("Co-lead: %(name)s", name=meeting.co_lead_name))
    if meeting.video_link:
        lines.append(_("Video link: %(link)s", link=meeting.video_link))
    if meeting.holiday_note:
        lines.append(_("Date note: %(note)s", note=meeting.holiday_note))
    return "\n".join(lines)


def _event_values(meeting: CalendarMeeting) -> tuple[tuple[str, object], ...]:
    """Everything the meeting's VEVENT is written from, as (Event.new argument, value) pairs in a fixed order."""
    cancelled = meeting.status == "cancelled"
    return (
        ("uid", meeting.uid),
        ("sequence", meeting.sequence),
        ("start", _aware_local(meeting.starts_at)),
        ("end", _aware_local(meeting.ends_at)),
        ("stamp", _utc(meeting.updated_at)),
        ("last_modified", _utc(meeting.updated_at)),
        ("created", _utc(meeting.created_at)),
        ("summary", meeting_title(meeting)),
        ("description", meeting_description(meeting) or None),
        ("location", meeting.location or meeting.video_link or None),
        ("url", meeting.video_link or None),
        ("status", "CANCELLED" if cancelled else "CONFIRMED"),
        ("transparency", "TRANSPARENT" if cancelled else "OPAQUE"),
    )


def meeting_event(meeting: Meeting | CalendarMeeting) -> icalendar.Event:
    """One VEVENT: a stable UID, SEQUENCE raised on every change, STATUS, times with the local TZID."""
    return icalendar.Event.new(**dict(_event_values(CalendarMeeting.of(meeting))))


@functools.lru_cache(maxsize=1024)
def _event_text(zone_key: str, values: tuple[tuple[str, object], ...]) -> bytes:
    """The VEVENT written from these values (BEGIN:VEVENT ... END:VEVENT, folded, CRLF-terminated).

    The text is a function of the values alone, so it is kept by them: a feed polled again, or the same group
    meeting in every member's feed, is written once per process and language. Any change of the meeting, its
    group's name or its leaders changes a value and so the key. The zone is part of the key because aware
    times in two zones compare (and hash) equal when they are the same instant, while their TZIDs differ.
    About 2 KB an entry with its key, so at most about 2 MB a process (a hospital's feeds hold a few hundred).
    """
    return icalendar.Event.new(**dict(values)).to_ical()


def build_calendar(meetings: Iterable[Meeting | CalendarMeeting], name: str) -> bytes:
    """The whole VCALENDAR for these meetings, with a VTIMEZONE for the deployment's zone.

    Times are written in the local zone (TZID) so calendar apps show the hospital's time even on a
    traveller's phone; the VTIMEZONE covers the meetings' years, so importers need no zone database.

    The text is the `icalendar` library's own serialisation of that calendar, put together from parts it wrote
    once and that are kept by what they were written from (the calendar's properties, the VTIMEZONE, each
    VEVENT): serialising and folding dominated a feed's cost. A VCALENDAR's text is its properties, then each
    subcomponent's text in order, then END:VCALENDAR (tests/scheduling/test_ical_parts.py holds it to the
    library writing the whole calendar at once).
    """
    zone = local_zone()
    meetings = [CalendarMeeting.of(meeting) for meeting in meetings]
    head, tail = _calendar_text(name, zone.key)
    parts = [head]
    if meetings:
        # The years as the zone sees them (a meeting at 00:30 on 1 January is in the new year).
        first = local_date(min(m.starts_at for m in meetings), zone)
        last = local_date(max(m.ends_at for m in meetings), zone)
        # Before the events that use it, as importers expect.
        parts.append(_vtimezone_text(zone.key, first.year, last.year))
    parts.extend(_event_text(zone.key, _event_values(meeting)) for meeting in meetings)
    parts.append(tail)
    return b"".join(parts)


def calendar_component(name: str, zone_key: str) -> icalendar.Calendar:
    """The VCALENDAR with its properties and no components yet: PRODID, VERSION, the name, the zone, the refresh."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.calendar_name = name  # NAME and X-WR-CALNAME
    calendar.add("x-wr-timezone", zone_key)
    calendar.refresh_interval = REFRESH_INTERVAL  # REFRESH-INTERVAL (RFC 7986)
    calendar.add("x-published-ttl", icalendar.vDuration(REFRESH_INTERVAL))  # the same, for Outlook
    return calendar


@functools.lru_cache(maxsize=256)
def _calendar_text(name: str, zone_key: str) -> tuple[bytes, bytes]:
    """The VCALENDAR's text around its components: (BEGIN:VCALENDAR and its properties, END:VCALENDAR)."""
    text = calendar_component(name, zone_key).to_ical()
    end = b"END:VCALENDAR\r\n"
    if not text.endswith(end):  # pragma: no cover - the library's format changed: tests say so too
        raise RuntimeError("unexpected VCALENDAR text")
    return text[: -len(end)], end


@functools.lru_cache(maxsize=64)
def _vtimezone_text(key: str, first_year: int, last_year: int) -> bytes:
    """The VTIMEZONE's text (see _vtimezone), written once per process."""
    return _vtimezone(key, first_year, last_year).to_ical()


@functools.lru_cache(maxsize=64)
def _vtimezone(key: str, first_year: int, last_year: int) -> icalendar.Timezone:
    """The zone's VTIMEZONE from the year before the first meeting to two years after the last.

    Working out a zone's transitions takes ~80 ms; a feed polled every hour needs it once per process.
    The component is only ever serialised, never changed, so every calendar can share it.
    """
    return icalendar.Timezone.from_tzid(key, first_date=date(first_year - 1, 1, 1), last_date=date(last_year + 2, 1, 1))
