"""The controlled list of meeting themes in both languages: coordinators add to it and take themes out of use."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.meetings import bp, services
from app.meetings.display import theme_name
from app.meetings.forms import AddThemeForm, SetThemeActiveForm
from app.meetings.models import Theme
from app.permissions import get_or_404, roles_required
from app.web import attempt


def ensure_themes() -> None:
    """Create the shipped theme list the first time anyone needs it (a one-off: later requests only read)."""
    if not services.has_themes():
        attempt(services.ensure_default_themes)


def _themes_page(form: AddThemeForm, status: int = 200, error: str | None = None):
    return render_template("meetings/themes.html", form=form, themes=services.list_themes(), error=error), status


@bp.route("/themes", methods=["GET", "POST"])
@roles_required("coordinator")
def themes():
    """The controlled list of meeting themes in both languages; coordinators add to it."""
    ensure_themes()
    form = AddThemeForm()
    status = 200 if request.method == "GET" else 422
    if form.validate_on_submit():
        outcome = attempt(lambda: services.add_theme(current_user, code=form.code.data, name_en=form.name_en.data,
                                                     name_zh=form.name_zh.data), form=form, field="code")
        if outcome.ok:
            flash(_("Theme “%(name)s” added.", name=theme_name(outcome.result)), "success")
            return redirect(url_for("meetings.themes"))
        status = outcome.status_code
    return _themes_page(form, status)


@bp.route("/themes/<int:theme_id>/active", methods=["POST"])
@roles_required("coordinator")
def set_theme_active(theme_id):
    """Stop offering a theme on the record form, or offer it again; meetings keep the themes they had."""
    theme = get_or_404(Theme, theme_id)
    form = SetThemeActiveForm()
    if not form.validate_on_submit():
        return _themes_page(AddThemeForm(formdata=None), 422, _("Choose whether the theme is in use."))
    active = form.active.data == "1"
    if attempt(lambda: services.set_theme_active(current_user, theme, active)).ok:
        name = theme_name(theme)
        flash(_("“%(name)s” is offered again.", name=name) if active
              else _("“%(name)s” is no longer offered; meetings keep it.", name=name), "success")
    return redirect(url_for("meetings.themes"))
