"""A group's schedule: its rule, generating and extending its meetings, an extra meeting, leaders for the series."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.models import User
from app.extensions import db
from app.pagination import page_number
from app.permissions import can_access_group, get_group_or_403, roles_required, signed_in
from app.programme.models import Group
from app.scheduling import bp, queries, services
from app.scheduling.display import describe_policy, describe_rule, meeting_when
from app.scheduling.forms import (
    AddMeetingForm,
    AssignSeriesForm,
    ExtendScheduleForm,
    GenerateMeetingsForm,
    SaveScheduleForm,
    person_choices,
)
from app.timeutil import local_today, to_utc, utcnow
from app.web import attempt

SUMMARY_KEY = "scheduling.generated"
SUMMARY_MAX_DATES = 40  # moved/skipped dates kept for the summary (the session is a cookie)


@dataclass
class GenerationSummary:
    """What the last generation did, kept in the session for the page after the redirect."""

    created: int
    kept: int
    start: date | None  # None after "extend": from the day after the last generated date
    until: date
    moved: list[tuple[date, date, str]] = field(default_factory=list)
    skipped: list[tuple[date, str]] = field(default_factory=list)
    more: bool = False
    years_without_schedule: list[int] = field(default_factory=list)


def _remember_summary(group: Group, result: services.Generated, start: date | None, until: date) -> None:
    moved = [(p.nominal.isoformat(), p.actual.isoformat(), p.holiday or "") for p in result.plan.dates if p.moved]
    skipped = [(p.nominal.isoformat(), p.holiday or "") for p in result.plan.dates if p.skipped]
    session[SUMMARY_KEY] = {
        "group": group.id, "created": len(result.created), "kept": result.kept,
        "start": start.isoformat() if start else None, "until": until.isoformat(),
        "moved": moved[:SUMMARY_MAX_DATES], "skipped": skipped[:SUMMARY_MAX_DATES],
        "more": len(moved) > SUMMARY_MAX_DATES or len(skipped) > SUMMARY_MAX_DATES,
        "years": result.years_without_schedule,
    }
    flash(_("%(created)s meetings created; %(kept)s already there were kept as they are.",
            created=len(result.created), kept=result.kept), "success")


def _take_summary(group: Group) -> GenerationSummary | None:
    """The summary of this group's last generation, once (it is removed from the session)."""
    stored = session.get(SUMMARY_KEY)
    if not isinstance(stored, dict) or stored.get("group") != group.id:
        return None
    session.pop(SUMMARY_KEY)
    try:
        return GenerationSummary(
            created=int(stored["created"]), kept=int(stored["kept"]),
            start=date.fromisoformat(stored["start"]) if stored["start"] else None,
            until=date.fromisoformat(stored["until"]),
            moved=[(date.fromisoformat(n), date.fromisoformat(a), h) for n, a, h in stored["moved"]],
            skipped=[(date.fromisoformat(n), h) for n, h in stored["skipped"]],
            more=bool(stored["more"]), years_without_schedule=[int(y) for y in stored["years"]],
        )
    except (KeyError, TypeError, ValueError):  # a summary from an older version of the page
        return None


def _rule_form(group: Group, formdata: bool = True) -> SaveScheduleForm:
    schedule = group.schedule
    data = None
    if schedule is not None:
        data = {
            "kind": schedule.kind, "weekday": schedule.weekday, "weeks": list(schedule.week_list) or [1, 3],
            "start_on": schedule.start_on, "start_time": schedule.start_time,
            "holiday_policy": schedule.holiday_policy,
        }
    if formdata:
        return SaveScheduleForm(prefix="rule", data=data)
    return SaveScheduleForm(prefix="rule", formdata=None, data=data)


def _schedule_page(group: Group, *, rule_form=None, generate_form=None, extend_form=None, status: int = 200):
    """The schedule page, with any form sent back with errors in place of a fresh one."""
    can_lead = can_access_group(current_user, group, "lead")
    show = queries.show_of(request.args.get("show"))
    today = local_today()
    meetings = queries.group_meetings(group, show, utcnow(), page_number())
    schedule = group.schedule
    context = {
        "group": group, "schedule": schedule, "meetings": meetings, "show": show, "can_lead": can_lead,
        "meeting_flags": queries.meeting_flags(meetings.items),
        "rule_text": describe_rule(schedule) if schedule else None,
        "policy_text": describe_policy(schedule.holiday_policy) if schedule else None,
        "skipped": queries.skipped_dates(group, today, services.add_months(today, 12))
        if show == queries.UPCOMING and meetings.page == 1 else [],
        "summary": _take_summary(group) if request.method == "GET" else None,
        "failed": status >= 400,
    }
    if can_lead:
        context.update(
            rule_form=rule_form or _rule_form(group, formdata=False),
            generate_form=generate_form or GenerateMeetingsForm(prefix="generate", formdata=None),
            extend_form=extend_form or ExtendScheduleForm(prefix="extend", formdata=None),
        )
    return render_template("scheduling/schedule.html", **context), status


def _back_to_schedule(group: Group):
    return redirect(url_for("scheduling.schedule", group_id=group.id))


# --- the series ------------------------------------------------------------------------------


@bp.route("/groups/<int:group_id>/schedule")
@signed_in
def schedule(group_id):
    """A group's schedule: its rule, its meetings with their changes, and (for its leaders) the forms."""
    return _schedule_page(get_group_or_403(group_id, need="view"))


def _change(group: Group, form, form_name: str, call, *, field: str, done, aliases: dict | None = None):
    """One change of the series from a form of the schedule page: saved, `done(result)` says what happened and the
    schedule is shown again; refused, the page comes back with the form and the refusal beside its field."""
    status = 422
    if form.validate_on_submit():
        outcome = attempt(call, form=form, field=field, aliases=aliases)
        if outcome.ok:
            done(outcome.result)
            return _back_to_schedule(group)
        status = outcome.status_code
    return _schedule_page(group, status=status, **{form_name: form})


@bp.route("/groups/<int:group_id>/schedule/rule", methods=["POST"])
@roles_required("leader", "coordinator")
def save_schedule(group_id):
    """Set the group's recurrence rule, start time and holiday policy."""
    group = get_group_or_403(group_id, need="lead")
    form = _rule_form(group)
    return _change(group, form, "rule_form", lambda: services.save_schedule(current_user, group, **form.values()),
                   field="kind", aliases={"start": "start_on"},
                   done=lambda _schedule: flash(_("The rule is saved. Generate meetings from it below."), "success"))


@bp.route("/groups/<int:group_id>/schedule/generate", methods=["POST"])
@roles_required("leader", "coordinator")
def generate(group_id):
    """Create the meetings the rule gives for a period; meetings already there are kept as they are."""
    group = get_group_or_403(group_id, need="lead")
    form = GenerateMeetingsForm(prefix="generate")
    return _change(group, form, "generate_form",
                   lambda: services.generate_meetings(current_user, group, form.start_on.data, form.until.data),
                   field="until", aliases={"kind": "start_on"},
                   done=lambda result: _remember_summary(group, result, form.start_on.data, form.until.data))


@bp.route("/groups/<int:group_id>/schedule/extend", methods=["POST"])
@roles_required("leader", "coordinator")
def extend(group_id):
    """Generate the next months after the last generated date; existing meetings are kept as they are."""
    group = get_group_or_403(group_id, need="lead")
    form = ExtendScheduleForm(prefix="extend")
    return _change(group, form, "extend_form",
                   lambda: services.extend_schedule(current_user, group, form.months.data, today=local_today()),
                   field="months",
                   done=lambda result: _remember_summary(group, result, None, group.schedule.generated_until))


@bp.route("/groups/<int:group_id>/meetings/new", methods=["GET", "POST"])
@roles_required("leader", "coordinator")
def add_meeting(group_id):
    """Add a one-off meeting outside the rule (the group's place, mode and duration unless changed)."""
    group = get_group_or_403(group_id, need="lead")
    form = AddMeetingForm(data={
        "duration_minutes": group.duration_minutes, "mode": group.mode, "location": group.location,
        "video_link": group.video_link,
    })
    status = 422 if request.method == "POST" else 200
    if form.validate_on_submit():
        outcome = attempt(lambda: services.add_extra_meeting(
            current_user, group, day=form.day.data, at=form.at.data, duration_minutes=form.duration_minutes.data,
            mode=form.mode.data, location=form.location.data or "", video_link=form.video_link.data or "",
        ), form=form, field="day")
        if outcome.ok:
            meeting = outcome.result
            flash(_("Extra meeting added on %(when)s. Now choose its leaders.", when=meeting_when(meeting)), "success")
            return redirect(url_for("scheduling.meeting", meeting_id=meeting.id))
        status = outcome.status_code
    return render_template("scheduling/add_meeting.html", form=form, group=group), status


# --- leaders for the whole series ------------------------------------------------------------


@dataclass
class SeriesRow:
    """One meeting of a series assignment, read before the commit expires the objects."""

    meeting_id: int
    starts_at: datetime
    reason: str | None = None


@bp.route("/groups/<int:group_id>/series-leaders", methods=["GET", "POST"])
@roles_required("leader", "coordinator")
def assign_series(group_id):
    """Assign one person as lead or co-lead to every scheduled meeting of the group from a date on."""
    group = get_group_or_403(group_id, need="lead")
    form = AssignSeriesForm()
    form.user_id.choices = person_choices(queries.leader_choices(), _("— choose a person —"))
    status = 422 if request.method == "POST" else 200
    assigned = refused = person = None
    if form.validate_on_submit():
        person = db.session.get(User, form.user_id.data)

        def assign() -> tuple[list[SeriesRow], list[SeriesRow], str]:
            result = services.assign_series(current_user, group, person, form.role.data,
                                            since=to_utc(form.since.data, time(0)))
            return ([SeriesRow(m.id, m.starts_at) for m in result.assigned],
                    [SeriesRow(m.id, m.starts_at, reason) for m, reason in result.refused], person.name)

        outcome = attempt(assign, form=form, field="user_id")
        status = outcome.status_code
        if outcome.ok:
            assigned, refused, person = outcome.result
            flash(_("%(name)s was assigned to %(n)s meetings; %(refused)s could not take them.",
                    name=person, n=len(assigned), refused=len(refused)),
                  "success" if not refused else "warning")
    return render_template("scheduling/assign_series.html", group=group, form=form, assigned=assigned,
                           refused=refused, person=person), status
