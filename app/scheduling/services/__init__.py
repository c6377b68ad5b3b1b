"""Scheduling operations, the things users do to series and meetings. They flush, never commit: the route, API
handler or CLI command commits once (app.web.attempt for the pages).

One module per kind of operation; every public name is also importable from here (`services.assign_leaders`):
- series.py: a group's recurrence rule, generating and extending its meetings;
- meetings.py: one meeting at a time (an extra meeting, moving, changing or cancelling one);
- leaders.py: assigning leads and co-leads, a person to a whole series, suggestions;
- invariants.py: the meeting invariants every writer keeps (keeping_invariants), their refusals and flags;
- holidays.py: days set by hand over the holidays library, confirmed years;
- feeds.py: private calendar addresses and what they publish (ical.py writes the text).
"""

from app.scheduling.services import feeds
from app.scheduling.services.holidays import (
    EXCEPTION_KINDS,
    FIRST_YEAR,
    LAST_YEAR,
    add_exception,
    confirm_year,
    delete_exception,
)
from app.scheduling.services.invariants import (
    Booking,
    ClashError,
    EligibilityError,
    Flagged,
    InvariantError,
    check_membership,
    flagged_meetings_of,
    judge,
    keeping_invariants,
    leader_problem_text,
    lock_people,
    meeting_problems,
    problem_message,
    problem_messages,
    problems_for,
    refusal,
)
from app.scheduling.services.leaders import (
    SeriesAssignment,
    Suggestion,
    assign_leaders,
    assign_series,
    suggest_leaders,
)
from app.scheduling.services.meetings import add_extra_meeting, cancel_meeting, reschedule_meeting
from app.scheduling.services.series import (
    MAX_PERIOD_DAYS,
    Generated,
    add_months,
    default_period,
    extend_schedule,
    generate_meetings,
    rule_of,
    save_schedule,
)

__all__ = [
    "EXCEPTION_KINDS", "FIRST_YEAR", "LAST_YEAR", "MAX_PERIOD_DAYS",
    "Booking", "ClashError", "EligibilityError", "Flagged", "Generated", "InvariantError", "SeriesAssignment",
    "Suggestion",
    "add_exception", "add_extra_meeting", "add_months", "assign_leaders", "assign_series", "cancel_meeting",
    "check_membership", "confirm_year", "default_period", "delete_exception", "extend_schedule", "feeds",
    "flagged_meetings_of", "generate_meetings", "judge", "keeping_invariants", "leader_problem_text", "lock_people",
    "meeting_problems", "problem_message", "problem_messages", "problems_for", "refusal", "reschedule_meeting",
    "rule_of", "save_schedule", "suggest_leaders",
]
