"""One meeting at a time: a one-off meeting outside the rule, moving or changing one, cancelling one.
They flush, never commit."""

from __future__ import annotations

from datetime import date, time, timedelta

from flask_babel import gettext as _

from app.accounts.models import User
from app.audit.services import record_action
from app.errors import DomainError
from app.extensions import db
from app.programme.models import Group
from app.scheduling.models import Meeting
from app.scheduling.services.invariants import keeping_invariants
from app.timeutil import to_utc


def _check_deidentified(text: str | None, field_name: str) -> None:
    """The patient-identifier guard of meetings.services (imported when used: meetings builds on scheduling)."""
    from app.meetings.services import check_deidentified

    check_deidentified(text, field_name)


def _check_meeting_fields(duration_minutes: int, mode: str) -> None:
    if not isinstance(duration_minutes, int) or not 15 <= duration_minutes <= 480:
        raise DomainError(_("Duration must be between 15 and 480 minutes."), field="duration_minutes")
    if mode not in ("onsite", "online", "hybrid"):
        raise DomainError(_("Unknown meeting mode."), field="mode")


def add_extra_meeting(
    actor: User | None, group: Group, *, day: date, at: time, duration_minutes: int | None = None,
    mode: str | None = None, location: str | None = None, video_link: str | None = None,
) -> Meeting:
    """A one-off meeting outside the rule, with no leaders yet (flagged "no lead yet" until they are assigned).

    Raises DomainError for bad values; the invariants are checked like every writer's (keeping_invariants).
    """
    duration_minutes = duration_minutes or group.duration_minutes
    mode = mode or group.mode
    _check_meeting_fields(duration_minutes, mode)
    starts_at = to_utc(day, at)
    meeting = Meeting(
        group_id=group.id, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=duration_minutes), mode=mode,
        location=location if location is not None else group.location,
        video_link=video_link if video_link is not None else group.video_link, edited=True,
    )
    with keeping_invariants(meeting, field="day", context="add"):
        db.session.add(meeting)
    record_action(actor, "meeting_added", meeting, group_id=group.id, starts_at=starts_at)
    return meeting


def _reason(reason: str | None) -> str:
    """A reason members will see: given, without patient identifiers, kept to 500 characters. Raises DomainError."""
    reason = (reason or "").strip()[:500]
    if not reason:
        raise DomainError(_("Give a reason: members will see it."), field="reason")
    _check_deidentified(reason, "reason")
    return reason


def reschedule_meeting(
    actor: User | None, meeting: Meeting, *, day: date, at: time, duration_minutes: int, reason: str,
    mode: str | None = None, location: str | None = None, video_link: str | None = None,
) -> None:
    """Move or change one meeting, with a reason members will see (checked for patient identifiers).

    Its leaders must stay eligible on the new local date and free at the new time (every invariant is checked
    again). Raises Conflict when the meeting is not scheduled, ClashError (409) when a leader would be booked
    twice, EligibilityError (422) when a leader is not eligible on the new date, DomainError for bad values.
    """
    meeting.require_scheduled()  # a meeting held or cancelled is refused before anything else is read
    reason = _reason(reason)
    mode = mode or meeting.mode
    _check_meeting_fields(duration_minutes, mode)
    starts_at = to_utc(day, at)
    ends_at = starts_at + timedelta(minutes=duration_minutes)
    before = meeting.starts_at
    with keeping_invariants(meeting, field="day", context="reschedule"):
        meeting.reschedule(starts_at, ends_at, reason=reason, mode=mode, location=location, video_link=video_link)
    record_action(actor, "meeting_rescheduled", meeting, before=before, after=starts_at, reason=reason)


def cancel_meeting(actor: User | None, meeting: Meeting, reason: str) -> None:
    """Cancel a scheduled meeting with a reason members will see (checked for patient identifiers); calendars show
    it as cancelled. A cancelled meeting is bound by no invariant. Raises Conflict/DomainError."""
    meeting.require_scheduled()  # before the reason is read, as for rescheduling
    reason = _reason(reason)
    meeting.cancel(reason)
    db.session.flush()
    record_action(actor, "meeting_cancelled", meeting, reason=reason)

