"""Calendar feeds and .ics downloads: the private feed address, renewing it, a group's calendar, one meeting."""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.permissions import can_access_group, get_group_or_403, get_meeting_or_403, public, roles_required, signed_in
from app.scheduling import bp
from app.scheduling.ical import build_calendar
from app.scheduling.services import feeds
from app.timeutil import utcnow
from app.web import attempt

CALENDAR_TYPE = "text/calendar; charset=utf-8"


def _calendar_response(body: bytes, filename: str | None = None) -> Response:
    response = Response(body, content_type=CALENDAR_TYPE)
    # The address is a secret: no shared caches, no search engines.
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    if filename:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.route("/calendar/<token>.ics")
@public
def feed(token):
    """A private calendar feed: no log-in, the token in the address is the secret; unknown or revoked is a 404."""
    found = feeds.live_feed_by_token(token)
    if found is None:
        abort(404)
    meetings = feeds.calendar_meetings(found, utcnow())
    with force_locale(found.user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        body = build_calendar(meetings, feeds.feed_name(found))
    response = _calendar_response(body)
    response.add_etag()  # the text changes only when a meeting does: pollers get 304s
    return response.make_conditional(request)


@bp.route("/profile/calendar/renew", methods=["POST"])
@signed_in
def renew_personal_feed():
    """Give the signed-in user a new personal calendar address; the old one stops working."""
    if attempt(lambda: feeds.revoke_feed(feeds.personal_feed(current_user), current_user)).ok:
        flash(_("Your calendar has a new address. Subscribe to it again; the old address no longer works."),
              "success")
    return redirect(url_for("accounts.profile"))


@bp.route("/groups/<int:group_id>/calendar")
@signed_in
def group_feed_page(group_id):
    """The group's calendar address, for anyone who may view the group."""
    group = get_group_or_403(group_id, "view")
    found = feeds.existing_group_feed(group)
    return render_template(
        "scheduling/feeds_group.html", group=group, feed_url=feeds.feed_url(found) if found else None,
        can_revoke=can_access_group(current_user, group, "lead"),
    )


@bp.route("/groups/<int:group_id>/calendar", methods=["POST"])
@signed_in
def create_group_feed(group_id):
    """Make the group's calendar address (or keep the one there is)."""
    group = get_group_or_403(group_id, "view")
    attempt(lambda: feeds.group_feed(group, current_user))
    return redirect(url_for("scheduling.group_feed_page", group_id=group.id))


@bp.route("/groups/<int:group_id>/calendar/renew", methods=["POST"])
@roles_required("leader", "coordinator")
def renew_group_feed(group_id):
    """Replace the group's calendar address (leaders and coordinators); the old one stops working."""
    group = get_group_or_403(group_id, "lead")
    found = feeds.existing_group_feed(group)
    if found is None:
        flash(_("The group has no calendar address yet."), "info")
    elif attempt(lambda: feeds.revoke_feed(found, current_user)).ok:
        flash(_("The group's calendar has a new address. Share it again; the old address no longer works."),
              "success")
    return redirect(url_for("scheduling.group_feed_page", group_id=group.id))


@bp.route("/meetings/<int:meeting_id>.ics")
@signed_in
def meeting_ics(meeting_id):
    """One meeting as an .ics file, for anyone who may view it (its group's people, its own leaders)."""
    meeting = get_meeting_or_403(meeting_id, need="view")
    body = build_calendar([meeting], meeting.group.name)
    return _calendar_response(body, filename=f"meeting-{meeting.id}.ics")
