"""Coordinators' pages for people: invitations, roles, training records (to be completed)."""

from flask import render_template

from app.accounts import bp
from app.permissions import roles_required


@bp.route("/people")
@roles_required("coordinator")
def users():
    """Everyone with an account."""
    return render_template("errors/error.html", code=200, message="")


@bp.route("/people/invite", methods=["GET", "POST"])
@roles_required("coordinator")
def invite():
    """Invite a person."""
    return render_template("errors/error.html", code=200, message="")
