"""Feedback rounds: the set of held meetings each round covers (questionnaires come with the feedback feature)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _

from app.errors import Conflict
from app.extensions import db
from app.timeutil import utcnow

ROUND_STATUSES = ("open", "closed")
ROUND_MODES = ("questionnaire", "interview")
# Interview notes are stored as a free-text answer under this reserved item code.
INTERVIEW_NOTES = "_interview_notes"


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
    # The instrument version asked in this round (fixed when it opens; that version can no longer change).
    instrument_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("instruments.id"), index=True)
    # Ids of the round's meetings later corrected to cancelled: the round stays, coordinators are told.
    correction_notice: so.Mapped[str | None] = so.mapped_column(sa.String(500))

    group: so.Mapped[Group] = so.relationship()  # noqa: F821
    instrument: so.Mapped[Instrument | None] = so.relationship()
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
        sa.Index("ix_feedback_rounds_opens_at", "opens_at"),
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
        """Move the closing time of an open round later.

        Raises Conflict for a round already closed (its results may have been read: app.disclosure.rules
        .may_extend) and when the new time is not later than the current one or already past.
        """
        if not self.is_open(now):
            raise Conflict(_("A closed round cannot be reopened."))
        if closes_at <= self.closes_at or closes_at <= now:
            raise Conflict(_("The new closing time must be later than the current one and in the future."))
        self.closes_at = closes_at


class RoundMeeting(db.Model):
    """A held meeting covered by a round; a meeting belongs to at most one round (sets are disjoint)."""

    __tablename__ = "round_meetings"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    round_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("feedback_rounds.id", ondelete="CASCADE"), index=True)
    meeting_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"), unique=True)

    round: so.Mapped[FeedbackRound] = so.relationship(back_populates="round_meetings")


class Instrument(db.Model):
    """One version of a questionnaire, defined by a file (YAML or JSON) the app validated.

    A version used by a round is locked: edits create a new version, so trends always know what was asked.
    """

    __tablename__ = "instruments"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    code: so.Mapped[str] = so.mapped_column(sa.String(60))
    version: so.Mapped[int]
    title_en: so.Mapped[str] = so.mapped_column(sa.String(300))
    title_zh: so.Mapped[str] = so.mapped_column(sa.String(300))
    definition: so.Mapped[dict] = so.mapped_column(sa.JSON)  # the validated, normalised definition
    source_text: so.Mapped[str] = so.mapped_column(sa.Text)  # the file as uploaded
    licence: so.Mapped[str] = so.mapped_column(sa.String(300))
    source: so.Mapped[str] = so.mapped_column(sa.String(500))
    requires_permission: so.Mapped[bool] = so.mapped_column(default=False)
    permission_note: so.Mapped[str | None] = so.mapped_column(sa.Text)
    permission_recorded_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    permission_recorded_at: so.Mapped[datetime | None]
    active: so.Mapped[bool] = so.mapped_column(default=False)
    locked: so.Mapped[bool] = so.mapped_column(default=False)
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("code", "version"),)

    def title(self, locale: str) -> str:
        return self.title_zh if str(locale).startswith("zh") else self.title_en


def _response_id() -> str:
    # Random, not sequential: the order of responses cannot be matched to the order of completions.
    return uuid.uuid4().hex


class Response(db.Model):
    """One submitted set of answers, stored with no link to who gave it."""

    __tablename__ = "responses"

    id: so.Mapped[str] = so.mapped_column(sa.String(32), primary_key=True, default=_response_id)
    round_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("feedback_rounds.id", ondelete="CASCADE"), index=True)
    instrument_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("instruments.id"))
    source: so.Mapped[str] = so.mapped_column(sa.String(15), default="questionnaire")
    # The respondent's profession (physician, nurse, ...), kept for filters shown only at k or more.
    profession: so.Mapped[str | None] = so.mapped_column(sa.String(20))

    answers: so.Mapped[list[Answer]] = so.relationship(
        back_populates="response", cascade="all, delete-orphan", lazy="selectin"
    )

    # WITHOUT ROWID on SQLite: rows are kept in the order of the random id, not in insertion order.
    __table_args__ = (
        sa.CheckConstraint("source IN ('questionnaire', 'interview')", name="source"),
        sa.Index("ix_responses_round_profession", "round_id", "profession"),
        {"sqlite_with_rowid": False},
    )


class Answer(db.Model):
    """One item's answer within a response: a number on the item's scale, or free text."""

    __tablename__ = "answers"

    response_id: so.Mapped[str] = so.mapped_column(
        sa.ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    item_code: so.Mapped[str] = so.mapped_column(sa.String(60), primary_key=True)
    value: so.Mapped[int | None]
    text: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # Free text reaches leaders only after a coordinator released it.
    review: so.Mapped[str] = so.mapped_column(sa.String(10), default="pending")

    response: so.Mapped[Response] = so.relationship(back_populates="answers")

    __table_args__ = (
        sa.CheckConstraint("review IN ('pending', 'released', 'withheld')", name="review"),
        {"sqlite_with_rowid": False},
    )


class Completion(db.Model):
    """That a member has responded to a round — and nothing about what they answered.

    The primary key makes a second submission by the same member impossible, whatever the races.
    """

    __tablename__ = "completions"

    round_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("feedback_rounds.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)

    # WITHOUT ROWID on SQLite: no hidden insertion order to set beside the responses' order.
    __table_args__ = ({"sqlite_with_rowid": False},)


class Draft(db.Model):
    """A member's answers in progress: kept as they are given, discarded on submission."""

    __tablename__ = "drafts"

    round_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("feedback_rounds.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    answers: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)
