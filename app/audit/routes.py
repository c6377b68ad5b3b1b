"""The audit log page for coordinators."""

import sqlalchemy as sa
from flask import render_template, request
from flask_login import current_user

from app.audit import bp
from app.audit.models import AuditEntry
from app.extensions import db
from app.pagination import paginate
from app.permissions import roles_required


@bp.route("/")
@roles_required("coordinator")
def log():
    """Every administrative action, newest first, with a filter by action or object."""
    query = sa.select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    action = (request.args.get("action") or "").strip()[:60]
    if action:
        query = query.where(AuditEntry.action == action)
    object_type = (request.args.get("object") or "").strip()[:40]
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if current_user.coordinator_scope is not None:
        # An organisation's coordinator sees what was done by people of that organisation.
        from app.accounts.models import User

        query = query.join(User, User.id == AuditEntry.actor_id).where(
            User.organisation_id == current_user.coordinator_scope
        )
    page = paginate(query.options(sa.orm.joinedload(AuditEntry.actor)))
    actions = db.session.scalars(sa.select(AuditEntry.action).distinct().order_by(AuditEntry.action)).all()
    return render_template("audit/log.html", page=page, actions=actions, action=action)
