"""Calendar feeds: private, revocable addresses for a person's or a group's meetings, and what each publishes.
They flush, never commit (scheduling/ical.py writes the iCalendar text; routes/feeds.py serves it)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _

from app.accounts.models import User
from app.audit.services import record_action
from app.errors import NotAllowed
from app.extensions import db
from app.notifications.mail import absolute_url
from app.programme.models import Group, Membership
from app.scheduling.ical import CalendarMeeting
from app.scheduling.models import CalendarFeed, Meeting, MeetingLeader
from app.timeutil import to_utc, utcnow

# Feeds reach back this far, so a recently cancelled or held meeting stays visible in calendars.
FEED_HISTORY = timedelta(days=60)


def feed_since(now: datetime) -> datetime:
    """The earliest meeting start (naive UTC) a feed built at `now` includes."""
    return now - FEED_HISTORY


def feed_url(feed: CalendarFeed) -> str:
    """The absolute address calendar apps subscribe to (built on BASE_URL)."""
    return absolute_url("scheduling.feed", token=feed.token)


def _active_feeds(user_id: int | None, group_id: int | None) -> sa.Select:
    query = sa.select(CalendarFeed).where(CalendarFeed.revoked_at.is_(None))
    if group_id is None:
        return query.where(CalendarFeed.user_id == user_id, CalendarFeed.group_id.is_(None))
    return query.where(CalendarFeed.group_id == group_id)


def personal_feed(user: User) -> CalendarFeed:
    """The user's live personal feed (their meetings as member or leader), made on first use."""
    feed = db.session.scalars(_active_feeds(user.id, None).order_by(CalendarFeed.id).limit(1)).first()
    if feed is None:
        feed = CalendarFeed(user_id=user.id, group_id=None)
        db.session.add(feed)
        db.session.flush()
    return feed


def existing_group_feed(group: Group) -> CalendarFeed | None:
    """The group's live feed, or None while nobody has made one."""
    return db.session.scalars(_active_feeds(None, group.id).order_by(CalendarFeed.id).limit(1)).first()


def group_feed(group: Group, actor: User) -> CalendarFeed:
    """The group's live feed, made by `actor` when there is none yet (the caller checked `view`)."""
    feed = existing_group_feed(group)
    if feed is None:
        feed = CalendarFeed(user_id=actor.id, group_id=group.id)
        db.session.add(feed)
        db.session.flush()
        record_action(actor, "calendar_feed_created", group)
    return feed


def revoke_feed(feed: CalendarFeed, actor: User, now: datetime | None = None) -> CalendarFeed:
    """Stop the feed's address from working and return a new feed of the same kind.

    Every live feed of the same owner (person, or group) is revoked, so a duplicate made by two
    simultaneous first visits cannot survive. Raises NotAllowed unless the actor owns the personal
    feed or leads (or coordinates) the group.
    """
    from app.permissions import can_access_group

    now = now or utcnow()
    if feed.group_id is None:
        if feed.user_id != actor.id:
            raise NotAllowed(_("Only its owner can replace a personal calendar address."))
        scope = _active_feeds(feed.user_id, None)
    else:
        if not can_access_group(actor, feed.group, "lead"):
            raise NotAllowed(_("Only the group's leaders and coordinators can replace its calendar address."))
        scope = _active_feeds(None, feed.group_id)
    for live in db.session.scalars(scope).all():
        live.revoked_at = now
    feed.revoked_at = feed.revoked_at or now
    fresh = CalendarFeed(user_id=actor.id, group_id=feed.group_id)
    db.session.add(fresh)
    db.session.flush()
    if feed.group_id is not None:
        record_action(actor, "calendar_feed_revoked", feed.group)
    return fresh


def live_feed_by_token(token: str) -> CalendarFeed | None:
    """The feed this token opens, or None when unknown, revoked, or its owner can no longer see it.

    A personal feed dies with its owner's account; a group feed also dies when the person who made
    it no longer may view the group (a leader or coordinator can make a new one).
    """
    from app.permissions import can_access_group

    if not token or len(token) > 64:
        return None
    # The owner comes with the feed (one statement); their roles only when a group feed asks whether they may view.
    feed = db.session.scalars(
        sa.select(CalendarFeed).where(CalendarFeed.token == token)
        .options(so.joinedload(CalendarFeed.user).lazyload(User.role_assignments))
    ).first()
    if feed is None or feed.revoked_at is not None or not feed.user.active:
        return None
    if feed.group_id is not None and not can_access_group(feed.user, feed.group, "view"):
        return None
    return feed


def _with_group_and_leaders(query: sa.Select) -> sa.Select:
    # The feed names the leaders: their users come with the leader rows, their roles (never shown) stay unloaded
    # until something asks for them.
    return query.options(
        so.joinedload(Meeting.group),
        so.selectinload(Meeting.leaders).joinedload(MeetingLeader.user).lazyload(User.role_assignments),
    ).order_by(Meeting.starts_at, Meeting.id)


def _user_meetings(user_id: int, since: datetime) -> sa.ColumnElement[bool]:
    """Meetings from `since` on of the user's groups while they were members, and the meetings they lead.

    Reads the user's membership periods (one statement); the condition holds them as UTC instants. The meetings
    are named by id from a union of one index range per group and the user's leader rows: an OR of those
    conditions made PostgreSQL read every meeting of the programme since `since` (9 ms at city scale).
    """
    periods = db.session.execute(
        sa.select(Membership.group_id, Membership.joined_on, Membership.left_on).where(Membership.user_id == user_id)
    ).all()
    parts = [sa.select(MeetingLeader.meeting_id.label("id")).where(MeetingLeader.user_id == user_id)]
    for group_id, joined_on, left_on in periods:
        # Membership dates are local days: the period runs from local midnight of joining to local
        # midnight after leaving, as UTC instants (so the query is the same on SQLite and PostgreSQL).
        period = [Meeting.group_id == group_id, Meeting.starts_at >= max(since, to_utc(joined_on, time(0)))]
        if left_on is not None:
            period.append(Meeting.starts_at < to_utc(left_on + timedelta(days=1), time(0)))
        parts.append(sa.select(Meeting.id).where(*period))
    return sa.and_(Meeting.starts_at >= since, Meeting.id.in_(sa.union_all(*parts)))


def meetings_for_user(user: User, since: datetime) -> list[Meeting]:
    """Meetings from `since` on of the user's groups while they were members, and the meetings they lead.

    Cancelled meetings are included so subscribed calendars remove them. Two queries whatever the
    number of groups or meetings (plus the selectin load of the meetings' leaders).
    """
    query = sa.select(Meeting).where(_user_meetings(user.id, since))
    return list(db.session.scalars(_with_group_and_leaders(query)).unique())


def meetings_for_group(group: Group, since: datetime) -> list[Meeting]:
    """The group's meetings from `since` on, cancelled ones included. One query (plus leaders)."""
    query = sa.select(Meeting).where(Meeting.group_id == group.id, Meeting.starts_at >= since)
    return list(db.session.scalars(_with_group_and_leaders(query)).unique())


def calendar_meetings(feed: CalendarFeed, now: datetime) -> list[CalendarMeeting]:
    """What the feed publishes at `now` — the group's meetings (meetings_for_group) or the person's
    (meetings_for_user) from feed_since on — as the calendar writes them.

    Plain rows, no ORM objects: each meeting with its group's name and its lead's and co-lead's names in one
    statement (a meeting has at most one of each, so the outer joins add no rows); two for a person's feed
    (their membership periods first), whatever the number of groups or meetings.
    """
    since = feed_since(now)
    if feed.group_id is not None:
        where = sa.and_(Meeting.group_id == feed.group_id, Meeting.starts_at >= since)
    else:
        where = _user_meetings(feed.user_id, since)
    return [CalendarMeeting(**row._mapping) for row in db.session.execute(_CALENDAR_ROWS.where(where))]


def _calendar_rows() -> sa.Select:
    lead, co_lead = so.aliased(MeetingLeader), so.aliased(MeetingLeader)
    lead_user, co_lead_user = so.aliased(User), so.aliased(User)
    return (
        sa.select(
            Meeting.uid, Meeting.sequence, Meeting.status, Meeting.starts_at, Meeting.ends_at, Meeting.created_at,
            Meeting.updated_at, Group.name.label("group_name"), lead_user.name.label("lead_name"),
            co_lead_user.name.label("co_lead_name"), Meeting.location, Meeting.video_link, Meeting.cancel_reason,
            Meeting.change_reason, Meeting.holiday_note,
        )
        .join(Group, Group.id == Meeting.group_id)
        .outerjoin(lead, sa.and_(lead.meeting_id == Meeting.id, lead.role == "lead"))
        .outerjoin(lead_user, lead_user.id == lead.user_id)
        .outerjoin(co_lead, sa.and_(co_lead.meeting_id == Meeting.id, co_lead.role == "co_lead"))
        .outerjoin(co_lead_user, co_lead_user.id == co_lead.user_id)
        .order_by(Meeting.starts_at, Meeting.id)
    )


_CALENDAR_ROWS = _calendar_rows()  # built once: only the WHERE differs between feeds


def feed_name(feed: CalendarFeed) -> str:
    """The calendar's display name in subscribing apps."""
    if feed.group_id is not None:
        return _("Balint group: %(name)s", name=feed.group.name)
    return _("My Balint group meetings")
