"""How the meeting pages show what happened: names of stored codes, hours and rates in the reader's format, the
phases, and what the current user may open from a meeting. Registered for templates in app/templating.py."""

from __future__ import annotations

from flask_babel import format_decimal, format_percent, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.meetings.forms import attendance_choices, note_kind_choices
from app.meetings.models import Theme
from app.permissions import can_access_meeting


def can_record_meeting(meeting) -> bool:
    """Whether the current user may record this meeting or correct its record (its leaders, coordinators)."""
    return (current_user.is_authenticated and current_user.has_role("leader", "coordinator")
            and can_access_meeting(current_user, meeting, "lead"))


def can_read_leader_notes(meeting) -> bool:
    """Whether the current user is one of the leaders of this meeting or its group (coordinators are not)."""
    return (current_user.is_authenticated and current_user.has_role("leader")
            and can_access_meeting(current_user, meeting, "notes"))


def reader_locale() -> str:
    """The reader's locale as a string ("en", "zh_Hans_CN")."""
    return str(get_locale() or "en")


def theme_name(theme: Theme) -> str:
    """A theme's name in the reader's language."""
    return theme.name(reader_locale())


def attendance_label(status: str) -> str:
    """An attendance status (Present, Absent, Excused) as the record form names it, in the reader's language."""
    return str(dict(attendance_choices()).get(status, status))


def attendance_labels() -> dict[str, str]:
    """Attendance statuses as the attendance lists name them (lower case), in the reader's language."""
    return {"present": _("present"), "absent": _("absent"), "excused": _("excused")}


def format_hours(minutes: int | None) -> str:
    """Minutes as hours in the reader's number format: 90 -> "1.5"."""
    return format_decimal((minutes or 0) / 60, format="#,##0.##")


def format_rate(rate: float | None) -> str:
    """An attendance rate as a percentage in the reader's format, or a dash when nobody was expected."""
    return "—" if rate is None else format_percent(rate)


def code_names() -> dict:
    """Translated names of the stored codes the meeting pages show (kinds of leader note, attendance)."""
    return {"note_kind_names": dict(note_kind_choices()), "attendance_labels": attendance_labels()}


def phase_names() -> dict[str, str]:
    """The Balint phases in the reader's language, keyed by the codes of rules.PHASES."""
    return {
        "case": _("Case told"),
        "questions": _("Questions of fact"),
        "discussion": _("Group discussion, presenter pushed back"),
        "return": _("Presenter returns"),
        "closing": _("Closing"),
    }


def phase_hints() -> dict[str, str]:
    """One line on what happens in each phase, for the leader's screen."""
    return {
        "case": _("The presenter tells the case briefly, from memory."),
        "questions": _("The group asks questions of fact only."),
        "discussion": _("The presenter sits back and only listens; the group explores the relationship, "
                        "not solutions."),
        "return": _("The presenter rejoins and says what struck them."),
        "closing": _("The leader closes the meeting."),
    }
