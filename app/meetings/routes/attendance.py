"""Attendance across meetings: my own, a group's timeline of meetings, and a group's attendance statistics."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from app.meetings import bp, queries
from app.pagination import page_number
from app.permissions import can_access_group, get_group_or_403, roles_required, signed_in
from app.timeutil import utcnow


@bp.route("/my/attendance")
@signed_in
def my_attendance():
    """My attendance across groups: present, absent or excused at each held meeting, with totals."""
    return render_template(
        "meetings/attendance.html", view="mine", page=queries.my_attendance(current_user, page_number()),
        totals=queries.attendance_totals(current_user),
    )


@bp.route("/groups/<int:group_id>/timeline")
@signed_in
def timeline(group_id):
    """The group's meetings, newest first: status, leaders, attendance, presenter, themes and round."""
    group = get_group_or_403(group_id, need="view")
    return render_template(
        "meetings/timeline.html", group=group, data=queries.timeline(group, utcnow(), page_number()),
        can_lead=can_access_group(current_user, group, "lead"),
    )


@bp.route("/groups/<int:group_id>/attendance")
@roles_required("leader", "coordinator")
def attendance_stats(group_id):
    """Attendance statistics of a group for its leaders and coordinators: rates, presenters, cancellations."""
    group = get_group_or_403(group_id, need="lead")
    return render_template("meetings/attendance.html", view="group", group=group,
                           stats=queries.attendance_stats(group))
