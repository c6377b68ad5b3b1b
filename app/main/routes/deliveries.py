"""The delivery log (coordinators): every message per channel — queued, sent, failed with the reason — filterable."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from app.main import bp
from app.main.forms import DeliveryFilterForm
from app.notifications import queries
from app.pagination import paginate
from app.permissions import roles_required


@bp.route("/deliveries")
@roles_required("coordinator")
def deliveries():
    """The delivery log: per message and channel its state, attempts and reason; a scoped coordinator's own only."""
    form = DeliveryFilterForm(request.args)
    if not form.validate():
        return render_template("main/deliveries.html", form=form, pagination=None), 422
    channel = form.channel.data or None
    pagination = paginate(queries.delivery_log(
        current_user.coordinator_scope, channel=channel, status=form.status.data or None,
        kind=form.kind.data or None,
    ))
    return render_template("main/deliveries.html", form=form, pagination=pagination,
                           robots=channel == queries.ROBOT)
