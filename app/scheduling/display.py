"""How scheduling shows its stored values: rules, policies, times and stored codes in the reader's language.

The templates reach these through app/templating.py (with `status_label` of models.py and the local date of
app/timeutil.py); the routes call them for their flash messages.
"""

from __future__ import annotations

from flask_babel import format_date, format_time
from flask_babel import gettext as _

from app.programme.forms import mode_choices
from app.scheduling.forms import exception_kind_choices, role_choices, week_choices, weekday_choices


def describe_rule(schedule) -> str:
    """A group's recurrence rule in words: "1st and 3rd Wednesday of each month, at 14:00"."""
    weekday = dict(weekday_choices())[schedule.weekday]
    at = schedule.start_time.strftime("%H:%M")
    if schedule.kind == "biweekly":
        return _("Every two weeks on %(weekday)s from %(date)s, at %(time)s",
                 weekday=weekday, date=format_date(schedule.start_on, "medium"), time=at)
    names = dict(week_choices())
    weeks = [str(names[w]) for w in schedule.week_list]
    if len(weeks) > 1:
        weeks = [_("%(items)s and %(last)s", items=_(", ").join(weeks[:-1]), last=weeks[-1])]
    return _("%(weeks)s %(weekday)s of each month, at %(time)s", weeks=weeks[0], weekday=weekday, time=at)


def describe_policy(policy: str) -> str:
    """What happens to a meeting on a statutory holiday, in words."""
    return {
        "move": _("On statutory holidays the meeting moves to the next working day."),
        "skip": _("On statutory holidays there is no meeting."),
        "keep": _("On statutory holidays the group meets anyway."),
    }.get(policy, policy)


def meeting_when(meeting) -> str:
    """A meeting's start as the flash messages say it: "8 Jan 2031 at 14:00"."""
    return _("%(date)s at %(time)s", date=format_date(meeting.starts_at, "medium"),
             time=format_time(meeting.starts_at, "HH:mm"))


def code_names() -> dict:
    """Translated names of the stored codes the meeting pages show (modes, leader roles, exception kinds)."""
    return {
        "mode_names": dict(mode_choices()),
        "leader_role_names": dict(role_choices()),
        "exception_kind_names": dict(exception_kind_choices()),
    }
