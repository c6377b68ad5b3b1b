"""Home page for each role, language switch, health check."""

import sqlalchemy as sa
from flask import current_app, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user

from app.accounts import services as accounts
from app.extensions import db
from app.main import bp
from app.main.queries import home_summary, operations_warnings
from app.permissions import public, signed_in
from app.redirects import safe_next
from app.timeutil import utcnow
from app.web import attempt


@bp.route("/")
@signed_in
def home():
    """The signed-in user's home: their groups, and for coordinators the programme at a glance."""
    ops_warnings = operations_warnings(utcnow()) if current_user.is_programme_coordinator else []
    return render_template("main/home.html", summary=home_summary(current_user), ops_warnings=ops_warnings)


@bp.route("/language", methods=["POST"])
@public
def set_language():
    """Switch the language; a signed-in user's preference is saved with their profile."""
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if current_user.is_authenticated:
            attempt(lambda: accounts.update_profile(current_user, current_user, locale=lang))
    return redirect(safe_next(request.form.get("next")) or url_for("main.home"))


@bp.route("/healthz")
@public
def healthz():
    """200 when the app and its database answer, 503 when the database does not."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception:  # any failure to reach the database is "error", never a 500
        db.session.rollback()
        return jsonify(status="error", db="error"), 503
    return jsonify(status="ok", db="ok")
