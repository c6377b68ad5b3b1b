"""The System page (programme-wide coordinators): background work, the outbox, questionnaires, database, migrations."""

from flask import abort, render_template
from flask_login import current_user

from app.main import bp
from app.main.queries import system_overview
from app.notifications import dingtalk, wecom
from app.notifications import rules as ops
from app.notifications.queries import channel_health
from app.permissions import roles_required
from app.timeutil import utcnow


@bp.route("/system")
@roles_required("coordinator")
def system():
    """The System page: is the background work running, is mail going out, which questionnaire, which database."""
    if not current_user.is_programme_coordinator:
        abort(403)
    now = utcnow()
    configured = {"email": True, "wecom": wecom.configured(), "dingtalk": dingtalk.configured(), "robot": True}
    return render_template("main/system.html", overview=system_overview(now), run_died=ops.run_died,
                           channels=channel_health(now), configured=configured)
