"""API: groups (/groups) and their members (/groups/{id}/members)."""

from __future__ import annotations

from flask import abort
from flask.views import MethodView

from app.accounts.models import User
from app.api import bp
from app.api.auth import api_auth, current_api_user
from app.api.pagination import PageArgsSchema, page_of, paginate
from app.api.schemas import GroupInSchema, GroupSchema, MemberInSchema, MembershipSchema
from app.extensions import db
from app.permissions import get_group_or_403, get_or_404, visible_groups
from app.programme import services
from app.programme.models import Group
from app.sqlite import write_intent
from app.timeutil import local_today

GROUP_OUT = ("id", "name", "organisation_id", "capacity", "mode", "location", "duration_minutes",
             "feedback_interval", "feedback_window_days", "status")


def _group_out(group: Group) -> dict:
    """The group's fields and its calendar address (the feed is made on first use)."""
    from app.scheduling.services.feeds import existing_group_feed, feed_url, group_feed
    from app.sqlite import write_after_read

    out = {key: getattr(group, key) for key in GROUP_OUT}
    feed = existing_group_feed(group)
    if feed is None:
        with write_after_read():
            feed = group_feed(group, current_api_user._get_current_object())
    out["calendar_url"] = feed_url(feed)
    return out


@bp.route("/groups")
class Groups(MethodView):
    """The groups the user may view; coordinators create them."""

    @api_auth()
    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, page_of(GroupSchema))
    def get(self, page_args):
        """Coordinators: the groups in their scope; leaders: those they lead; members: theirs."""
        with write_intent():
            page = paginate(visible_groups(current_api_user), page_args)
            page["items"] = [_group_out(group) for group in page["items"]]
            db.session.commit()
        return page

    @api_auth("coordinator")
    @bp.arguments(GroupInSchema)
    @bp.response(201, GroupSchema)
    def post(self, data):
        """Create a group in an organisation (`GET /organisations` lists them; a scoped coordinator's own only)."""
        group = services.create_group(current_api_user, **data)
        out = _group_out(group)
        db.session.commit()
        return out


@bp.route("/groups/<int:group_id>")
class GroupItem(MethodView):
    """One group."""

    @api_auth()
    @bp.response(200, GroupSchema)
    def get(self, group_id):
        """A group the user may view (404 when there is none, 403 when it is not theirs)."""
        with write_intent():
            out = _group_out(get_group_or_403(group_id, need="view"))
            db.session.commit()
        return out


@bp.route("/groups/<int:group_id>/members")
class Members(MethodView):
    """A group's members."""

    @api_auth("coordinator")
    @bp.arguments(MemberInSchema)
    @bp.response(201, MembershipSchema)
    @bp.alt_response(409, description="Already a member, or one of the group's standing leaders "
                                       "(rule standing_leader_of_group)")
    @bp.alt_response(422, description="Leads or co-leads a scheduled or held meeting of the group on a date the "
                                       "membership would cover (rule member_of_group), or another invalid value")
    def post(self, data, group_id):
        """Add a person to the group from `joined_on` (today when left out); 409 when already a member.

        A person never leads a group they are a member of: refused while they are one of its standing leaders or
        lead one of its scheduled or held meetings on or after `joined_on`.
        """
        group = get_group_or_403(group_id, need="manage")
        user = get_or_404(User, data["user_id"])
        membership = services.add_member(current_api_user, group, user, data["joined_on"] or local_today())
        db.session.commit()
        return membership


@bp.route("/groups/<int:group_id>/members/<int:user_id>")
class Member(MethodView):
    """One member of a group."""

    @api_auth("coordinator")
    @bp.response(204)
    def delete(self, group_id, user_id):
        """End the person's membership today (the history stays); 404 when they are not a current member."""
        group = get_group_or_403(group_id, need="manage")
        membership = services.open_membership(group, get_or_404(User, user_id))
        if membership is None:
            abort(404)
        services.end_membership(current_api_user, membership, local_today())
        db.session.commit()
        return ""
