"""Schedule pages: series, single meetings, leaders, holiday exceptions, my meetings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import format_date, format_time
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.models import User
from app.accounts.services import problem_text
from app.errors import DomainError, NotAllowed
from app.extensions import db
from app.permissions import can_access_group, get_group_or_403, roles_required, signed_in
from app.programme.forms import mode_choices
from app.programme.models import Group
from app.scheduling import bp, queries, rules, services
from app.scheduling.access import get_meeting_or_403
from app.scheduling.forms import (
    AddHolidayExceptionForm,
    AddMeetingForm,
    AssignLeadersForm,
    AssignSeriesForm,
    CancelMeetingForm,
    ConfirmYearForm,
    DeleteHolidayExceptionForm,
    ExtendScheduleForm,
    GenerateMeetingsForm,
    RescheduleMeetingForm,
    SaveScheduleForm,
    exception_kind_choices,
    role_choices,
    week_choices,
    weekday_choices,
)
from app.scheduling.models import HolidayException, Meeting
from app.timeutil import local_today, utcnow

SUMMARY_KEY = "scheduling.generated"
SUMMARY_MAX_DATES = 40  # moved/skipped dates kept for the summary (the session is a cookie)

# --- template helpers ------------------------------------------------------------------------


@bp.app_template_filter("localdate")
def _local_date_filter(moment: datetime) -> date:
    """The local (deployment timezone) date of a naive UTC datetime."""
    return services.local_date(moment)


@bp.app_template_global("meeting_status_label")
def _meeting_status_label(status: str) -> str:
    """A meeting status in the reader's language."""
    return services.status_label(status)


@bp.app_template_global("leader_problem_text")
def _leader_problem_text(code: str) -> str:
    """An eligibility problem code of accounts.rules as a sentence in the reader's language."""
    return problem_text(code)


@bp.context_processor
def _names() -> dict:
    """Translated names of the stored codes for the scheduling pages."""
    return {
        "mode_names": dict(mode_choices()),
        "role_names": dict(role_choices()),
        "exception_kind_names": dict(exception_kind_choices()),
    }


# --- helpers ---------------------------------------------------------------------------------


def _show() -> str:
    """Which meetings a list shows: `upcoming` (the default) or `past`."""
    return queries.PAST if request.args.get("show") == queries.PAST else queries.UPCOMING


def _page() -> int:
    """The page number asked for (queries clamp it to a sensible range)."""
    return request.args.get("page", default=1, type=int)


def _refusal_to_field(form, exc: DomainError, default: str, aliases: dict | None = None) -> int:
    """Show a service's refusal beside its field (nothing is saved); returns the status to answer with.

    An action outside the user's scope stays a 403.
    """
    if isinstance(exc, NotAllowed):
        raise exc
    db.session.rollback()
    name = (aliases or {}).get(exc.field, exc.field) or default
    target = getattr(form, name, None) or getattr(form, default)
    target.errors = [*target.errors, exc.message]
    return exc.status_code


def meeting_flags(meetings) -> dict[int, list[str]]:
    """For the scheduled meetings among these: the invariants each breaks now, as sentences ("Lead no longer
    eligible on this date: ..."), in a fixed number of queries. A missing lead is left to the leaders' column."""
    scheduled = [m for m in meetings if m.status == "scheduled"]
    found = services.problems_for(scheduled)
    flagged = {m.id: [p for p in found[m.id] if p.code != rules.NO_LEAD] for m in scheduled}
    return {m.id: services.problem_messages(m, flagged[m.id]) for m in scheduled if flagged[m.id]}


def describe_rule(schedule) -> str:
    """The rule in words: "1st and 3rd Wednesday of each month at 14:00"."""
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
    show = _show()
    today = local_today()
    meetings = queries.group_meetings(group, show, utcnow(), _page())
    schedule = group.schedule
    context = {
        "group": group, "schedule": schedule, "meetings": meetings, "show": show, "can_lead": can_lead,
        "meeting_flags": meeting_flags(meetings.items),
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


def _person_choices(people: list[User], placeholder: str) -> list:
    return [("", placeholder)] + [(u.id, u.name if u.active else _("%(name)s (deactivated)", name=u.name))
                                  for u in people]


def _leaders_form(meeting: Meeting, formdata: bool = True) -> AssignLeadersForm:
    lead, co_lead = meeting.lead, meeting.co_lead
    data = {"lead_id": lead.id if lead else None, "co_lead_id": co_lead.id if co_lead else None}
    form = (AssignLeadersForm(prefix="leaders", data=data) if formdata
            else AssignLeadersForm(prefix="leaders", formdata=None, data=data))
    people = queries.leader_choices(tuple(ml.user_id for ml in meeting.leaders))
    form.lead_id.choices = _person_choices(people, _("— choose a lead —"))
    form.co_lead_id.choices = _person_choices(people, _("— no co-lead —"))
    return form


def _meeting_values(meeting: Meeting) -> dict:
    local = services.to_local(meeting.starts_at)
    return {
        "day": local.date(), "at": local.time(), "duration_minutes": meeting.duration_minutes,
        "mode": meeting.mode, "location": meeting.location, "video_link": meeting.video_link,
    }


def _meeting_page(meeting: Meeting, *, leaders_form=None, reschedule_form=None, cancel_form=None,
                  error: str | None = None, status: int = 200):
    """The meeting page; changes are offered to those who lead the group while the meeting is scheduled."""
    group = meeting.group
    can_lead = can_access_group(current_user, group, "lead")
    context = {"meeting": meeting, "group": group, "can_lead": can_lead, "error": error, "suggestions": None,
               "meeting_flags": meeting_flags([meeting]).get(meeting.id)}
    if can_lead and meeting.status == "scheduled":
        now = utcnow()
        context.update(
            leaders_form=leaders_form or _leaders_form(meeting, formdata=False),
            reschedule_form=reschedule_form or RescheduleMeetingForm(
                prefix="reschedule", formdata=None, data=_meeting_values(meeting)),
            cancel_form=cancel_form or CancelMeetingForm(prefix="cancel", formdata=None),
            suggestions={role: services.suggest_leaders(meeting, role, now) for role in ("lead", "co_lead")},
        )
    return render_template("scheduling/meeting.html", **context), status


def _back_to_meeting(meeting: Meeting):
    return redirect(url_for("scheduling.meeting", meeting_id=meeting.id))


def _when(meeting: Meeting) -> str:
    return _("%(date)s at %(time)s", date=format_date(meeting.starts_at, "medium"),
             time=format_time(meeting.starts_at, "HH:mm"))


# --- the series ------------------------------------------------------------------------------


@bp.route("/groups/<int:group_id>/schedule")
@signed_in
def schedule(group_id):
    """A group's schedule: its rule, its meetings with their changes, and (for its leaders) the forms."""
    return _schedule_page(get_group_or_403(group_id, need="view"))


@bp.route("/groups/<int:group_id>/schedule/rule", methods=["POST"])
@roles_required("leader", "coordinator")
def save_schedule(group_id):
    """Set the group's recurrence rule, start time and holiday policy."""
    group = get_group_or_403(group_id, need="lead")
    form = _rule_form(group)
    status = 422
    if form.validate_on_submit():
        try:
            services.save_schedule(current_user, group, **form.values())
        except DomainError as exc:
            status = _refusal_to_field(form, exc, "kind", aliases={"start": "start_on"})
        else:
            db.session.commit()
            flash(_("The rule is saved. Generate meetings from it below."), "success")
            return _back_to_schedule(group)
    return _schedule_page(group, rule_form=form, status=status)


@bp.route("/groups/<int:group_id>/schedule/generate", methods=["POST"])
@roles_required("leader", "coordinator")
def generate(group_id):
    """Create the meetings the rule gives for a period; meetings already there are kept as they are."""
    group = get_group_or_403(group_id, need="lead")
    form = GenerateMeetingsForm(prefix="generate")
    status = 422
    if form.validate_on_submit():
        start, until = form.start_on.data, form.until.data
        try:
            result = services.generate_meetings(current_user, group, start, until)
        except DomainError as exc:
            status = _refusal_to_field(form, exc, "until", aliases={"kind": "start_on"})
        else:
            db.session.commit()
            _remember_summary(group, result, start, until)
            return _back_to_schedule(group)
    return _schedule_page(group, generate_form=form, status=status)


@bp.route("/groups/<int:group_id>/schedule/extend", methods=["POST"])
@roles_required("leader", "coordinator")
def extend(group_id):
    """Generate the next months after the last generated date; existing meetings are kept as they are."""
    group = get_group_or_403(group_id, need="lead")
    form = ExtendScheduleForm(prefix="extend")
    status = 422
    if form.validate_on_submit():
        try:
            result = services.extend_schedule(current_user, group, form.months.data, today=local_today())
        except DomainError as exc:
            status = _refusal_to_field(form, exc, "months")
        else:
            db.session.commit()
            _remember_summary(group, result, None, group.schedule.generated_until)
            return _back_to_schedule(group)
    return _schedule_page(group, extend_form=form, status=status)


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
        try:
            meeting = services.add_extra_meeting(
                current_user, group, day=form.day.data, at=form.at.data, duration_minutes=form.duration_minutes.data,
                mode=form.mode.data, location=form.location.data or "", video_link=form.video_link.data or "",
            )
        except DomainError as exc:
            status = _refusal_to_field(form, exc, "day")
        else:
            db.session.commit()
            flash(_("Extra meeting added on %(when)s. Now choose its leaders.", when=_when(meeting)), "success")
            return _back_to_meeting(meeting)
    return render_template("scheduling/add_meeting.html", form=form, group=group), status


# --- one meeting -----------------------------------------------------------------------------


@bp.route("/meetings/<int:meeting_id>")
@signed_in
def meeting(meeting_id):
    """One meeting: when and where, its leaders, its changes; leaders of the group change it here."""
    return _meeting_page(get_meeting_or_403(meeting_id, need="view"))


@bp.route("/meetings/<int:meeting_id>/leaders", methods=["POST"])
@roles_required("leader", "coordinator")
def assign_leaders(meeting_id):
    """Set the meeting's lead and optional co-lead; a broken eligibility rule is refused and named."""
    meeting = get_meeting_or_403(meeting_id, need="lead")
    form = _leaders_form(meeting)
    status, error = 422, None
    if form.validate_on_submit():
        lead = db.session.get(User, form.lead_id.data)
        co_lead = db.session.get(User, form.co_lead_id.data) if form.co_lead_id.data else None
        try:
            services.assign_leaders(current_user, meeting, lead, co_lead)
        except DomainError as exc:
            status, error = _refusal_to_field(form, exc, "lead_id"), exc.message
        else:
            db.session.commit()
            flash(_("Leaders saved."), "success")
            return _back_to_meeting(meeting)
    return _meeting_page(meeting, leaders_form=form, error=error, status=status)


@bp.route("/meetings/<int:meeting_id>/reschedule", methods=["POST"])
@roles_required("leader", "coordinator")
def reschedule(meeting_id):
    """Move or change one meeting, with a reason its members see."""
    meeting = get_meeting_or_403(meeting_id, need="lead")
    form = RescheduleMeetingForm(prefix="reschedule")
    status, error = 422, None
    if form.validate_on_submit():
        try:
            services.reschedule_meeting(
                current_user, meeting, day=form.day.data, at=form.at.data, duration_minutes=form.duration_minutes.data,
                reason=form.reason.data, mode=form.mode.data, location=form.location.data or "",
                video_link=form.video_link.data or "",
            )
        except DomainError as exc:
            status, error = _refusal_to_field(form, exc, "day"), exc.message
        else:
            db.session.commit()
            flash(_("The meeting is now on %(when)s; members see the reason.", when=_when(meeting)), "success")
            return _back_to_meeting(meeting)
    return _meeting_page(meeting, reschedule_form=form, error=error, status=status)


@bp.route("/meetings/<int:meeting_id>/cancel", methods=["POST"])
@roles_required("leader", "coordinator")
def cancel(meeting_id):
    """Cancel one meeting, with a reason its members see."""
    meeting = get_meeting_or_403(meeting_id, need="lead")
    form = CancelMeetingForm(prefix="cancel")
    status, error = 422, None
    if form.validate_on_submit():
        try:
            services.cancel_meeting(current_user, meeting, form.reason.data)
        except DomainError as exc:
            status, error = _refusal_to_field(form, exc, "reason"), exc.message
        else:
            db.session.commit()
            flash(_("The meeting of %(when)s is cancelled; members see the reason.", when=_when(meeting)), "success")
            return _back_to_meeting(meeting)
    return _meeting_page(meeting, cancel_form=form, error=error, status=status)


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
    form.user_id.choices = _person_choices(queries.leader_choices(), _("— choose a person —"))
    status = 422 if request.method == "POST" else 200
    assigned = refused = person = None
    if form.validate_on_submit():
        person = db.session.get(User, form.user_id.data)
        try:
            result = services.assign_series(current_user, group, person, form.role.data,
                                            since=services.to_utc(form.since.data, time(0)))
        except DomainError as exc:
            status = _refusal_to_field(form, exc, "user_id")
        else:
            assigned = [SeriesRow(m.id, m.starts_at) for m in result.assigned]
            refused = [SeriesRow(m.id, m.starts_at, reason) for m, reason in result.refused]
            person = person.name
            db.session.commit()
            status = 200
            flash(_("%(name)s was assigned to %(n)s meetings; %(refused)s could not take them.",
                    name=person, n=len(assigned), refused=len(refused)),
                  "success" if not refused else "warning")
    return render_template("scheduling/assign_series.html", group=group, form=form, assigned=assigned,
                           refused=refused, person=person), status


# --- my meetings -----------------------------------------------------------------------------


@bp.route("/my/meetings")
@signed_in
def my_meetings():
    """The meetings I lead or co-lead and those of my groups, across groups, upcoming first."""
    show = _show()
    page = queries.my_meetings(current_user, show, utcnow(), _page())
    return render_template("scheduling/my_meetings.html", page=page, show=show)


# --- holidays --------------------------------------------------------------------------------


def _holidays_page(form: AddHolidayExceptionForm, year: int, status: int = 200):
    this_year = local_today().year
    years = sorted({this_year, this_year + 1, this_year + 2, year})
    return render_template(
        "scheduling/holidays.html", form=form, year=year, this_year=this_year,
        exceptions=queries.exceptions_of_year(year), statuses=queries.year_statuses(years),
        first_year=services.FIRST_YEAR, last_year=services.LAST_YEAR,
    ), status


def _chosen_year() -> int:
    year = request.args.get("year", type=int)
    if year is None or not services.FIRST_YEAR <= year <= services.LAST_YEAR:
        return local_today().year
    return year


@bp.route("/holidays", methods=["GET", "POST"])
@roles_required("coordinator")
def holidays():
    """Days set by hand over the holidays library, by year, and which years have their official schedule."""
    form = AddHolidayExceptionForm()
    status = 422 if request.method == "POST" else 200
    year = _chosen_year()
    if form.validate_on_submit():
        try:
            services.add_exception(current_user, day=form.day.data, kind=form.kind.data, name=form.name.data)
        except DomainError as exc:
            status = _refusal_to_field(form, exc, "day")
        else:
            db.session.commit()
            flash(_("%(date)s is saved as: %(kind)s.", date=format_date(form.day.data, "medium"),
                    kind=dict(exception_kind_choices())[form.kind.data]), "success")
            return redirect(url_for("scheduling.holidays", year=form.day.data.year))
    if form.day.data is not None and not form.day.errors:
        year = form.day.data.year
    return _holidays_page(form, year, status)


@bp.route("/holidays/delete", methods=["POST"])
@roles_required("coordinator")
def delete_holiday():
    """Remove a day set by hand; the library's answer applies to it again."""
    form = DeleteHolidayExceptionForm()
    exception = db.session.get(HolidayException, form.exception_id.data) if form.validate_on_submit() else None
    if exception is None:
        flash(_("That day is not in the list (any more)."), "warning")
        return redirect(url_for("scheduling.holidays"))
    year, day = exception.day.year, exception.day
    services.delete_exception(current_user, exception)
    db.session.commit()
    flash(_("The exception for %(date)s is deleted.", date=format_date(day, "medium")), "success")
    return redirect(url_for("scheduling.holidays", year=year))


@bp.route("/holidays/confirm", methods=["POST"])
@roles_required("coordinator")
def confirm_year():
    """Mark a year's official holiday schedule as entered, so generating into it no longer warns."""
    form = ConfirmYearForm()
    if not form.validate_on_submit():
        flash(_("Choose a year from %(first)s to %(last)s.", first=services.FIRST_YEAR, last=services.LAST_YEAR),
              "danger")
        return redirect(url_for("scheduling.holidays"))
    year = form.year.data
    try:
        services.confirm_year(current_user, year)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for("scheduling.holidays"))
    db.session.commit()
    flash(_("%(year)s is marked as entered: its official holiday schedule is complete.", year=year), "success")
    return redirect(url_for("scheduling.holidays", year=year))
