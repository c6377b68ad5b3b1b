"""Invitations through the outbox: queued in the transaction that creates the person, sent by
`flask notify send-due` (never inside the request), at most once.

The invitation link is made when the mail goes out, so it is fresh and void once a password is chosen; a
person who has chosen one (or was deactivated) by then gets no mail (the row is dropped with the reason).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.accounts import services as accounts
from app.accounts.models import User
from app.extensions import db
from app.notifications.mail import absolute_url
from app.notifications.models import Notification
from app.notifications.services import Drop, Rendered, queue, renderer

INVITATION = "invitation"


def invitation_key(user: User, inviter: User | None) -> str:
    """The invitation's identity: one per person and account (an id reused after a deletion gets a new one)."""
    created = f"{user.created_at:%Y%m%dT%H%M%S}" if user.created_at else "0"
    return f"{INVITATION}:{user.id}:{inviter.id if inviter is not None else 0}:{created}"


def queue_invitation(user: User, inviter: User | None, now: datetime) -> Notification | None:
    """Queue an invitation e-mail to `user`, due now (naive UTC), and mark them invited (audited); None when one
    is already queued for them.

    Flushes; the caller commits. `inviter` is named in the mail (None: the programme's coordinators).
    """
    db.session.flush()  # the person needs an id (and a creation time) for the key
    notification = queue(INVITATION, user, invitation_key(user, inviter), now)
    if notification is not None:
        accounts.mark_invited(inviter, user)
    return notification


def queue_invitations(users: list[User], inviter: User | None, now: datetime) -> int:
    """Queue invitations to many people at once (an import), in one INSERT; returns how many were queued.

    Those with an invitation already queued are left out; the others are marked invited (audited).
    Flushes; the caller commits.
    """
    if not users:
        return 0
    db.session.flush()
    keys = {user.id: invitation_key(user, inviter) for user in users}
    taken: set[str] = set()
    values = list(keys.values())
    for start in range(0, len(values), 500):
        chunk = values[start:start + 500]
        taken.update(db.session.scalars(sa.select(Notification.key).where(Notification.key.in_(chunk))))
    fresh = [user for user in users if keys[user.id] not in taken]
    if fresh:
        db.session.execute(sa.insert(Notification), [
            {"kind": INVITATION, "user_id": user.id, "key": keys[user.id], "due_at": now} for user in fresh
        ])
    for user in fresh:
        accounts.mark_invited(inviter, user)
    return len(fresh)


def _inviter_name(notification: Notification):
    """The inviter's name from the key, or (lazily translated, in the recipient's language) the coordinators."""
    parts = notification.key.split(":")
    inviter = db.session.get(User, int(parts[2])) if len(parts) > 2 and parts[2].isdigit() else None
    return inviter.name if inviter is not None else _l("The coordinators of the programme")


@renderer(INVITATION)
def render_invitation(notification: Notification, now: datetime) -> Rendered:
    """The invitation e-mail with a one-time link to choose a password.

    Raises Drop when the person has chosen a password since (they are in already).
    """
    user = notification.user
    if user.has_password:
        raise Drop("password already chosen")
    link = absolute_url("accounts.accept_invite", token=accounts.make_link_token(user, accounts.INVITE))
    inviter = _inviter_name(notification)
    return Rendered(
        subject=lambda: _("You are invited to Balint Groups"),
        template="notifications/invite",
        context={"link": link, "inviter": inviter, "days": current_app.config["INVITE_MAX_AGE"].days},
    )
