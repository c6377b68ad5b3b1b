"""Feedback rounds: the set of held meetings each round covers (questionnaires come with the feedback feature)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _

from app.errors import Conflict
from app.extensions import db

ROUND_STATUSES = ("open", "closed")
ROUND_MODES = ("questionnaire", "interview")


class FeedbackRound(db.Model):
    """Round n of a group: opened when n x interval held meetings were reached, open for the window."""

    __tablename__ = "feedback_rounds"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("groups.id", ondelete="CASCADE"))
    number: so.Mapped[int]
    status: so.Mapped[str] = so.mapped_column(sa.String(10), default="open")
    mode: so.Mapped[str] = so.mapped_column(sa.String(15), default="questionnaire")
    opens_at: so.Mapped[datetime]
    closes_at: so.Mapped[datetime]
    closed_at: so.Mapped[datetime | None]
    # Ids of the round's meetings later corrected to cancelled: the round stays, coordinators are told.
    correction_notice: so.Mapped[str | None] = so.mapped_column(sa.String(500))

    group: so.Mapped[Group] = so.relationship()  # noqa: F821
    round_meetings: so.Mapped[list[RoundMeeting]] = so.relationship(
        back_populates="round", cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = (
        # Exactly one round per number and group, whatever the concurrency: the database decides.
        sa.UniqueConstraint("group_id", "number"),
        sa.CheckConstraint("status IN ('open', 'closed')", name="status"),
        sa.CheckConstraint("mode IN ('questionnaire', 'interview')", name="mode"),
        sa.CheckConstraint("number >= 1", name="number"),
        sa.CheckConstraint("closes_at > opens_at", name="window"),
        sa.Index("ix_feedback_rounds_status_closes", "status", "closes_at"),
    )

    @property
    def meeting_ids(self) -> list[int]:
        return sorted(rm.meeting_id for rm in self.round_meetings)

    def is_open(self, now: datetime) -> bool:
        """Open until its closing time, even before the stored status has caught up."""
        return self.status == "open" and now < self.closes_at

    def close(self, now: datetime) -> None:
        """Close the round (idempotent for a round already closed)."""
        if self.status == "closed":
            return
        self.status = "closed"
        self.closed_at = now

    def extend(self, closes_at: datetime, now: datetime) -> None:
        """Move the closing time later; a closed round reopens only while the new time is in the future.

        Raises Conflict when the new time is not later than the current one or already past.
        """
        if closes_at <= self.closes_at or closes_at <= now:
            raise Conflict(_("The new closing time must be later than the current one and in the future."))
        self.closes_at = closes_at
        self.status = "open"
        self.closed_at = None


class RoundMeeting(db.Model):
    """A held meeting covered by a round; a meeting belongs to at most one round (sets are disjoint)."""

    __tablename__ = "round_meetings"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    round_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("feedback_rounds.id", ondelete="CASCADE"), index=True)
    meeting_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"), unique=True)

    round: so.Mapped[FeedbackRound] = so.relationship(back_populates="round_meetings")
