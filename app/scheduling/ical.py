"""iCalendar (RFC 5545) text for meetings, built with the maintained `icalendar` library."""

from __future__ import annotations

import functools
from collections.abc import Iterable
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


def meeting_title(meeting: Meeting) -> str:
    """What a calendar shows for the meeting: the group's name, marked when cancelled."""
    name = meeting.group.name
    if meeting.status == "cancelled":
        return _("Cancelled: %(name)s", name=name)
    return name


def meeting_description(meeting: Meeting) -> str:
    """The event's notes: cancellation or change reason, leaders, video link."""
    lines = []
    if meeting.status == "cancelled":
        lines.append(_("Cancelled: %(reason)s", reason=meeting.cancel_reason or "-"))
    elif meeting.change_reason:
        lines.append(_("Changed: %(reason)s", reason=meeting.change_reason))
    if meeting.lead is not None:
        lines.append(_("Lead: %(name)s", name=meeting.lead.name))
    if meeting.co_lead is not None:
        lines.append(_("Co-lead: %(name)s", name=meeting.co_lead.name))
    if meeting.video_link:
        lines.append(_("Video link: %(link)s", link=meeting.video_link))
    if meeting.holiday_note:
        lines.append(_("Date note: %(note)s", note=meeting.holiday_note))
    return "\n".join(lines)


def meeting_event(meeting: Meeting) -> icalendar.Event:
    """One VEVENT: a stable UID, SEQUENCE raised on every change, STATUS, times with the local TZID."""
    event = icalendar.Event.new(
        uid=meeting.uid,
        sequence=meeting.sequence,
        start=_aware_local(meeting.starts_at),
        end=_aware_local(meeting.ends_at),
        stamp=_utc(meeting.updated_at),
        last_modified=_utc(meeting.updated_at),
        created=_utc(meeting.created_at),
        summary=meeting_title(meeting),
        description=meeting_description(meeting) or None,
        location=meeting.location or meeting.video_link or None,
        url=meeting.video_link or None,
        status="CANCELLED" if meeting.status == "cancelled" else "CONFIRMED",
        transparency="TRANSPARENT" if meeting.status == "cancelled" else "OPAQUE",
    )
    return event


def build_calendar(meetings: Iterable[Meeting], name: str) -> bytes:
    """The whole VCALENDAR for these meetings, with a VTIMEZONE for the deployment's zone.

    Times are written in the local zone (TZID) so calendar apps show the hospital's time even on a
    traveller's phone; the VTIMEZONE covers the meetings' years, so importers need no zone database.
    """
    zone = local_zone()
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.calendar_name = name  # NAME and X-WR-CALNAME
    calendar.add("x-wr-timezone", zone.key)
    calendar.refresh_interval = REFRESH_INTERVAL  # REFRESH-INTERVAL (RFC 7986)
    calendar.add("x-published-ttl", icalendar.vDuration(REFRESH_INTERVAL))  # the same, for Outlook
    meetings = list(meetings)
    for meeting in meetings:
        calendar.add_component(meeting_event(meeting))
    if meetings:
        # The years as the zone sees them (a meeting at 00:30 on 1 January is in the new year).
        first = local_date(min(m.starts_at for m in meetings), zone)
        last = local_date(max(m.ends_at for m in meetings), zone)
        # Before the events that use it, as importers expect.
        calendar.subcomponents.insert(0, _vtimezone(zone.key, first.year, last.year))
    return calendar.to_ical()


@functools.lru_cache(maxsize=64)
def _vtimezone(key: str, first_year: int, last_year: int) -> icalendar.Timezone:
    """The zone's VTIMEZONE from the year before the first meeting to two years after the last.

    Working out a zone's transitions takes ~80 ms; a feed polled every hour needs it once per process.
    The component is only ever serialised, never changed, so every calendar can share it.
    """
    return icalendar.Timezone.from_tzid(key, first_date=date(first_year - 1, 1, 1), last_date=date(last_year + 2, 1, 1))
