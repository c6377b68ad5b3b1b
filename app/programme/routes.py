"""Coordinators' pages for organisations, groups, members and leaders (to be completed)."""

from flask import render_template

from app.permissions import get_group_or_403, roles_required, signed_in
from app.programme import bp


@bp.route("/organisations")
@roles_required("coordinator")
def organisations():
    """Organisations taking part."""
    return render_template("errors/error.html", code=200, message="")


@bp.route("/groups")
@roles_required("coordinator")
def groups():
    """All groups."""
    return render_template("errors/error.html", code=200, message="")


@bp.route("/groups/new", methods=["GET", "POST"])
@roles_required("coordinator")
def new_group():
    """Create a group."""
    return render_template("errors/error.html", code=200, message="")


@bp.route("/groups/<int:group_id>")
@signed_in
def group(group_id):
    """One group."""
    g = get_group_or_403(group_id)
    return render_template("errors/error.html", code=200, message=g.name)
