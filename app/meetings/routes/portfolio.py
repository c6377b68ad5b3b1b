"""A leader's portfolio (on the page and as CSV) with the supervision they received, and a member's attendance
certificate; both for the person themselves and the coordinators covering them, for a period (?from=&until=)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.forms import profession_choices
from app.accounts.models import User
from app.meetings import bp, queries, services
from app.meetings.forms import AddSupervisionForm
from app.meetings.portfolio import certificate_issuer, portfolio_as_csv
from app.permissions import get_or_404, get_participant_or_403, roles_required
from app.scheduling.services import FIRST_YEAR, LAST_YEAR
from app.timeutil import local_period_bounds, local_today
from app.web import attempt

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


# --- a leader's portfolio --------------------------------------------------------------------


def _leader_or_403(user_id: int) -> User:
    """A leader's portfolio: 404 for someone who never led (there is no portfolio), then the access check."""
    person = get_or_404(User, user_id)
    if not (person.has_role("leader") or queries.has_led(person.id)):
        abort(404)
    return get_participant_or_403(person.id)


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
    return Response(
        portfolio_as_csv(queries.portfolio(person, *period.utc_bounds)),
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
        outcome = attempt(lambda: services.add_supervision(current_user, person, held_on=form.held_on.data,
                                                           supervisor=form.supervisor.data,
                                                           minutes=form.minutes.data),
                          form=form, field="supervisor")
        if outcome.ok:
            flash(_("Supervision added."), "success")
            return redirect(url_for("meetings.portfolio", user_id=person.id))
    return _portfolio_page(person, form)


# --- a member's attendance certificate -------------------------------------------------------


@bp.route("/members/<int:user_id>/certificate")
@roles_required("member", "coordinator")
def certificate(user_id):
    """A printable certificate of attendance (继续医学教育) in the member's own language."""
    person = get_participant_or_403(user_id)
    period = read_period()
    data = queries.attended(person, *period.utc_bounds) if not period.errors else queries.Attended([], 0)
    context = {
        "person": person, "period": period, "data": data, "issuer": certificate_issuer(current_user, person, data),
        "issued_on": local_today(), "professions": dict(profession_choices()),
    }
    locale = person.locale if person.locale in current_app.config["LANGUAGES"] else None
    status = 422 if period.errors else 200
    if locale is None:
        return render_template("meetings/certificate.html", **context), status
    with force_locale(locale):  # lazy labels, dates and numbers render in the member's language
        return render_template("meetings/certificate.html", **context), status
