"""Portfolios, attendance certificates, group timelines and attendance statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, format_decimal, format_percent
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, NumberRange, StopValidation, ValidationError

from app.accounts.forms import profession_choices
from app.accounts.models import User
from app.csvutil import csv_text
from app.errors import DomainError, NotAllowed
from app.extensions import db
from app.meetings import bp, queries, services
from app.pagination import page_number
from app.permissions import (
    can_access_group,
    coordinates_org,
    get_group_or_403,
    get_or_404,
    roles_required,
    signed_in,
)
from app.programme.forms import PlainText
from app.programme.models import Group, GroupLeader, Membership, Organisation
from app.scheduling.forms import role_choices
from app.scheduling.services import FIRST_YEAR, LAST_YEAR
from app.timeutil import local_date, local_period_bounds, local_today, utcnow

# --- template helpers ------------------------------------------------------------------------


def format_hours(minutes: int | None) -> str:
    """Minutes as hours in the reader's number format: 90 -> "1.5"."""
    return format_decimal((minutes or 0) / 60, format="#,##0.##")


def format_rate(rate: float | None) -> str:
    """An attendance rate as a percentage in the reader's format, or a dash when nobody was expected."""
    return "—" if rate is None else format_percent(rate)


def attendance_labels() -> dict[str, str]:
    return {"present": _("present"), "absent": _("absent"), "excused": _("excused")}


@bp.context_processor
def _helpers() -> dict:
    """Hours and translated codes for the portfolio, certificate, timeline and attendance pages."""
    return {
        "format_hours": format_hours,
        "format_rate": format_rate,
        "role_labels": {k: str(v) for k, v in role_choices()},
        "attendance_labels": attendance_labels(),
    }


# --- forms -----------------------------------------------------------------------------------


def _stop_if_unreadable(form, field):
    """After a value could not be read as a number or date, skip further checks (one message is enough)."""
    if field.process_errors:
        raise StopValidation()


def _past_or_today(form, field):
    if field.data is not None and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
        raise StopValidation(_l("Enter a date from %(first)s to %(last)s.", first=FIRST_YEAR, last=LAST_YEAR))
    if field.data is not None and field.data > local_today():
        raise ValidationError(_l("Supervision is recorded once it has taken place: choose today or earlier."))


class AddSupervisionForm(FlaskForm):
    """Supervision a leader received (kept with the portfolio's pages: app/meetings has no forms module yet)."""

    held_on = DateField(
        _l("Date"), default=local_today,
        validators=[InputRequired(message=_l("Enter a date.")), _stop_if_unreadable, _past_or_today],
    )
    supervisor = StringField(
        _l("Supervisor"),
        validators=[InputRequired(message=_l("Name the supervisor.")), Length(max=200), PlainText()],
    )
    minutes = IntegerField(
        _l("Length (minutes)"),
        validators=[
            InputRequired(message=_l("Enter a number.")), _stop_if_unreadable,
            NumberRange(min=5, max=1440, message=_l("Enter a whole number from %(min)s to %(max)s.")),
        ],
    )
    submit = SubmitField(_l("Add supervision"))


# --- periods (?from=&until=) -----------------------------------------------------------------


@dataclass
class Period:
    """A period of local dates read from the query string; either end may be open."""

    since: date | None = None
    until: date | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def utc_bounds(self) -> tuple[datetime | None, datetime | None]:
        """[local midnight starting `since`, local midnight after `until`) as naive UTC."""
        return local_period_bounds(self.since, self.until)

    @property
    def args(self) -> dict[str, str]:
        """The period as query arguments, for links to the same period."""
        values = {"from": self.since, "until": self.until}
        return {k: v.isoformat() for k, v in values.items() if v is not None}


def _read_date(name: str) -> tuple[date | None, str | None]:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None, None
    try:
        value = date.fromisoformat(raw[:40])
    except ValueError:
        return None, _("Enter a date such as %(example)s.", example=local_today().isoformat())
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        return None, _("Enter a date from %(first)s to %(last)s.", first=FIRST_YEAR, last=LAST_YEAR)
    return value, None


def read_period() -> Period:
    """The ?from= and ?until= dates, with a message for each that cannot be used."""
    period = Period()
    period.since, error_from = _read_date("from")
    period.until, error_until = _read_date("until")
    if error_from:
        period.errors["from"] = error_from
    if error_until:
        period.errors["until"] = error_until
    if period.since and period.until and period.since > period.until:
        period.errors["until"] = _("The end of the period cannot be before its start.")
    return period


# --- loading people --------------------------------------------------------------------------


def _coordinates_person(person: User) -> bool:
    """A coordinator whose scope covers the person's organisation, or a group they belong to or lead."""
    if coordinates_org(current_user, person.organisation_id):
        return True
    if not current_user.has_role("coordinator"):
        return False
    scope = current_user.coordinator_scope
    in_scope = sa.select(Group.id).where(Group.organisation_id == scope)
    return bool(db.session.scalar(sa.select(
        sa.exists().where(Membership.user_id == person.id, Membership.group_id.in_(in_scope))
        | sa.exists().where(GroupLeader.user_id == person.id, GroupLeader.group_id.in_(in_scope))
    )))


def _person_or_403(user_id: int) -> User:
    """The person in the URL when it is the current user or a coordinator covers them (404, then 403)."""
    person = get_or_404(User, user_id)
    if person.id != current_user.id and not _coordinates_person(person):
        abort(403)
    return person


def _leader_or_403(user_id: int) -> User:
    """A leader's portfolio: 404 for someone who never led (there is no portfolio), then the access check."""
    person = get_or_404(User, user_id)
    if not (person.has_role("leader") or queries.has_led(person.id)):
        abort(404)
    return _person_or_403(person.id)


# --- a leader's portfolio --------------------------------------------------------------------


def _portfolio_page(person: User, form: AddSupervisionForm | None = None):
    period = read_period()
    since, before = period.utc_bounds if not period.errors else (None, None)
    data = queries.portfolio(person, since, before)
    status = 422 if period.errors or (form is not None and form.errors) else 200
    return render_template(
        "meetings/portfolio.html", person=person, data=data, period=period,
        form=form or AddSupervisionForm(formdata=None),
    ), status


@bp.route("/leaders/<int:user_id>/portfolio")
@roles_required("leader", "coordinator")
def portfolio(user_id):
    """A leader's portfolio: meetings led and co-led, hours, with whom, and supervision received."""
    return _portfolio_page(_leader_or_403(user_id))


@bp.route("/leaders/<int:user_id>/portfolio.csv")
@roles_required("leader", "coordinator")
def portfolio_csv(user_id):
    """The portfolio as CSV for accreditation bodies (UTF-8 with BOM, header in the reader's language)."""
    person = _leader_or_403(user_id)
    period = read_period()
    if period.errors:
        return redirect(url_for("meetings.portfolio", **{**request.args.to_dict(), "user_id": person.id}))
    data = queries.portfolio(person, *period.utc_bounds)
    roles = {k: str(v) for k, v in role_choices()}
    header = [_("Kind"), _("Date"), _("Group"), _("Role"), _("Minutes"), _("With whom"), _("Members present")]
    rows = [
        [_("Meeting"), local_date(m.started_at).isoformat(), m.group_name, roles.get(m.role, m.role),
         m.minutes, "; ".join(m.with_whom), m.present]
        for m in data.meetings
    ] + [
        [_("Supervision"), s.held_on.isoformat(), "", "", s.minutes, s.supervisor, ""]
        for s in data.supervisions
    ]
    return Response(
        csv_text(header, rows).encode("utf-8"),
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="portfolio-{person.id}-{local_today().isoformat()}.csv"',
            "Cache-Control": "private, no-store",
        },
    )


@bp.route("/leaders/<int:user_id>/supervision", methods=["POST"])
@roles_required("leader", "coordinator")
def add_supervision(user_id):
    """Add supervision the leader received to their portfolio."""
    person = _leader_or_403(user_id)
    form = AddSupervisionForm()
    if form.validate_on_submit():
        try:
            services.add_supervision(current_user, person, held_on=form.held_on.data,
                                     supervisor=form.supervisor.data, minutes=form.minutes.data)
        except NotAllowed:
            raise
        except DomainError as exc:
            db.session.rollback()
            target = getattr(form, exc.field or "", None) or form.supervisor
            target.errors = [*target.errors, exc.message]
        else:
            db.session.commit()
            flash(_("Supervision added."), "success")
            return redirect(url_for("meetings.portfolio", user_id=person.id))
    return _portfolio_page(person, form)


# --- a member's attendance certificate -------------------------------------------------------


def _issuer(person: User, attended: queries.Attended) -> str | None:
    """Who issues the certificate: the coordinator's organisation, else the groups' organisation."""
    if current_user.has_role("coordinator"):
        org_id = current_user.coordinator_scope or current_user.organisation_id
        org = db.session.get(Organisation, org_id) if org_id else None
        if org is not None:
            return org.name
    names = list(attended.organisations.values())
    if len(names) == 1:
        return names[0]
    if person.organisation is not None:
        return person.organisation.name
    return ", ".join(names) or None


@bp.route("/members/<int:user_id>/certificate")
@roles_required("member", "coordinator")
def certificate(user_id):
    """A printable certificate of attendance (继续医学教育) in the member's own language."""
    person = _person_or_403(user_id)
    period = read_period()
    data = queries.attended(person, *period.utc_bounds) if not period.errors else queries.Attended([], 0)
    context = {
        "person": person, "period": period, "data": data, "issuer": _issuer(person, data),
        "issued_on": local_today(), "professions": dict(profession_choices()),
    }
    locale = person.locale if person.locale in current_app.config["LANGUAGES"] else None
    status = 422 if period.errors else 200
    if locale is None:
        return render_template("meetings/certificate.html", **context), status
    with force_locale(locale):  # lazy labels, dates and numbers render in the member's language
        return render_template("meetings/certificate.html", **context), status


# --- a member's own attendance ---------------------------------------------------------------


@bp.route("/my/attendance")
@signed_in
def my_attendance():
    """My attendance across groups: present, absent or excused at each held meeting, with totals."""
    return render_template(
        "meetings/attendance.html", view="mine", page=queries.my_attendance(current_user, page_number()),
        totals=queries.attendance_totals(current_user),
    )


# --- a group's timeline and attendance statistics --------------------------------------------


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
