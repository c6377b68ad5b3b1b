"""What the feedback-round e-mails say: a round opened, and a reminder before it closes."""

from __future__ import annotations

from datetime import datetime

from flask_babel import format_date
from flask_babel import gettext as _

from app.extensions import db
from app.feedback.models import FeedbackRound
from app.feedback.services import rounds
from app.notifications.mail import absolute_url
from app.notifications.models import Notification
from app.notifications.services import Drop, Rendered, renderer


def _round_context(notification: Notification, now: datetime) -> dict:
    feedback_round = db.session.get(FeedbackRound, notification.round_id) if notification.round_id else None
    if feedback_round is None:
        raise Drop("round deleted")
    if rounds.close_if_due(feedback_round, now) or not feedback_round.is_open(now):
        raise Drop("round closed")
    if rounds.has_responded(feedback_round, notification.user):
        raise Drop("already responded")
    return {
        "round": feedback_round,
        "group": feedback_round.group,
        "link": absolute_url("feedback.answer", round_id=feedback_round.id),
    }


@renderer(rounds.ROUND_OPENED)
def render_round_opened(notification: Notification, now: datetime) -> Rendered:
    """A feedback round has opened for a group the member attended."""
    context = _round_context(notification, now)
    return Rendered(
        subject=lambda: _("Your feedback on %(group)s is welcome", group=context["group"].name),
        template="notifications/round_opened",
        context=context,
    )


@renderer(rounds.ROUND_CLOSING)
def render_round_closing(notification: Notification, now: datetime) -> Rendered:
    """The window closes soon and the member has not answered yet."""
    context = _round_context(notification, now)
    return Rendered(
        subject=lambda: _("Feedback on %(group)s closes on %(date)s", group=context["group"].name,
                          date=format_date(context["round"].closes_at, "medium")),
        template="notifications/round_closing",
        context=context,
    )
