"""The holiday calendar for coordinators: days set by hand over the holidays library, and confirmed years."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user

from app.extensions import db
from app.permissions import roles_required
from app.scheduling import bp, queries, services
from app.scheduling.forms import (
    AddHolidayExceptionForm,
    ConfirmYearForm,
    DeleteHolidayExceptionForm,
    exception_kind_choices,
)
from app.scheduling.models import HolidayException
from app.timeutil import local_today
from app.web import attempt


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
        outcome = attempt(lambda: services.add_exception(current_user, day=form.day.data, kind=form.kind.data,
                                                         name=form.name.data), form=form, field="day")
        if outcome.ok:
            flash(_("%(date)s is saved as: %(kind)s.", date=format_date(form.day.data, "medium"),
                    kind=dict(exception_kind_choices())[form.kind.data]), "success")
            return redirect(url_for("scheduling.holidays", year=form.day.data.year))
        status = outcome.status_code
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
    if attempt(lambda: services.delete_exception(current_user, exception)).ok:
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
    if not attempt(lambda: services.confirm_year(current_user, year)).ok:  # the refusal is flashed
        return redirect(url_for("scheduling.holidays"))
    flash(_("%(year)s is marked as entered: its official holiday schedule is complete.", year=year), "success")
    return redirect(url_for("scheduling.holidays", year=year))
