"""Load-and-authorise for meetings: a meeting is as open as its group."""

from __future__ import annotations

from flask import abort
from flask_login import current_user

from app.permissions import can_access_group, get_or_404
from app.scheduling.models import Meeting


def get_meeting_or_403(meeting_id: int, need: str = "view") -> Meeting:
    """Load a meeting and check the current user may `view` it or `lead` (change) it (404, then 403).

    view: a coordinator in scope, one of the group's standing leaders, a current member of the group,
    or the meeting's own lead or co-lead; lead: the same without the members.
    """
    meeting = get_or_404(Meeting, meeting_id)
    assigned = current_user.is_authenticated and any(ml.user_id == current_user.id for ml in meeting.leaders)
    if not (assigned or can_access_group(current_user, meeting.group, need)):
        abort(403)
    return meeting
