"""Feedback rounds: the set of held meetings each round covers (questionnaires come with the feedback feature)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _

from app.errors import Conflict
from app.extensions import db
from app.feedback import scoring
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
    # The respondent's self-generated code (hex HMAC made in their browser from facts only they know), when the
    # instrument version asks for one and they built it: it pairs their answers across rounds without naming them.
    code: so.Mapped[str | None] = so.mapped_column(sa.String(64))

    answers: so.Mapped[list[Answer]] = so.relationship(
        back_populates="response", cascade="all, delete-orphan", lazy="selectin"
    )

    # WITHOUT ROWID on SQLite: rows are kept in the order of the random id, not in insertion order.
    __table_args__ = (
        sa.CheckConstraint("source IN ('questionnaire', 'interview')", name="source"),
        sa.Index("ix_responses_round_profession", "round_id", "profession"),
        sa.Index("ix_responses_round_code", "round_id", "code"),
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


class ResponseScore(db.Model):
    """One response's score on one subscale, computed once from its answers (app.feedback.scoring.subscale_results).

    One row per response and subscale of the instrument version it answered — every subscale, also one the
    response left unanswered: `score` is None when more than half the subscale's items are unanswered, `answered`
    and `missing` count its items with and without a score (aggregates tell complete answers from partial ones by
    them). Derived data: `store_scores` writes the rows in the flush that writes the answers, whoever writes them
    through the ORM (see `_rescore_after_flush`); bulk writers (the data migration, the benchmark generator) write
    them beside the answers; `flask feedback verify-scores` recomputes and compares. An instrument version is
    locked once a round asked it, so the rows never go stale.

    Anonymity: the rows carry what the answers carry — the random response id — and nothing more (no user, no
    time; WITHOUT ROWID on SQLite, so no hidden insertion order either). Aggregates read them by round through
    responses (its round index) and this primary key, whose first column is the response.
    """

    __tablename__ = "response_scores"

    response_id: so.Mapped[str] = so.mapped_column(
        sa.ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    # "<instrument code>/<subscale code>" (scoring.subscale_key): one key across the instrument's versions.
    subscale: so.Mapped[str] = so.mapped_column(sa.String(121), primary_key=True)
    score: so.Mapped[float | None] = so.mapped_column(sa.Float)
    answered: so.Mapped[int]
    missing: so.Mapped[int]

    __table_args__ = (
        sa.CheckConstraint("answered >= 0 AND missing >= 0", name="counts"),
        {"sqlite_with_rowid": False},
    )



class RoundAggregate(db.Model):
    """The sums of one closed round that app.disclosure publishes from, stored once when the round closes.

    One row per round, atom and measure, as app.disclosure.queries defines them: the atom is the whole round
    (source and profession "*") or one source × profession of it (the split a view may publish); the measure is
    "responses" (n = how many responses) or a subscale key (n, sum and sum of squares of the responses' scores,
    `partial` = responses that answered some but not all of its items). Every round that was aggregated has its
    whole-round "responses" row, even with n = 0: that row says "this round's sums are stored".

    Derived data, like ResponseScore: written by app.disclosure.services when a round closes (the transaction
    that closes it, or `flask notify send-due`), removed in the flush that changes any stored score of the round
    (`_rescore_after_flush`), and rebuilt by the next send-due; readers fall back to the live sums meanwhile.
    A closed round takes no more answers, so its rows never go stale otherwise. The rows hold counts and sums
    of the round and its categories, nothing per response.
    """

    __tablename__ = "round_aggregates"

    round_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("feedback_rounds.id", ondelete="CASCADE"), primary_key=True
    )
    source: so.Mapped[str] = so.mapped_column(sa.String(15), primary_key=True)
    profession: so.Mapped[str] = so.mapped_column(sa.String(20), primary_key=True)
    # "responses", or "<instrument code>/<subscale code>" (scoring.subscale_key).
    measure: so.Mapped[str] = so.mapped_column(sa.String(121), primary_key=True)
    n: so.Mapped[int]
    total: so.Mapped[float] = so.mapped_column(sa.Float)
    total_sq: so.Mapped[float] = so.mapped_column(sa.Float)
    partial: so.Mapped[int]

    __table_args__ = (sa.CheckConstraint("n >= 0 AND partial >= 0", name="counts"),)


def invalidate_round_aggregates(connection: sa.Connection, round_ids: Iterable[int] = (),
                                response_ids: Iterable[str] = ()) -> None:
    """Remove the stored sums of the rounds, and of the rounds of these responses (one statement).

    Called whenever stored scores or responses change: the rounds are aggregated again by the next
    `refresh_round_aggregates` and read live until then, so a published number never rests on stale sums.
    """
    round_ids = sorted({i for i in round_ids if i is not None})
    response_ids = sorted({i for i in response_ids if i is not None})
    if not round_ids and not response_ids:
        return
    table = RoundAggregate.__table__
    responses = Response.__table__
    which = []
    if round_ids:
        which.append(table.c.round_id.in_(round_ids))
    if response_ids:
        which.append(table.c.round_id.in_(sa.select(responses.c.round_id).where(responses.c.id.in_(response_ids))))
    connection.execute(sa.delete(table).where(sa.or_(*which)))


_STORE_BATCH = 500  # responses per statement when scores are computed and stored


def computed_scores(connection: sa.Connection, response_ids: Sequence[str]) -> dict[str, list[scoring.SubscaleResult]]:
    """Each existing response's subscale results, computed from its stored answers and instrument version.

    Three statements (the responses, their instrument versions — each definition read once —, their rated
    answers) whatever the number of ids; a response that no longer exists is left out.
    """
    ids = list(response_ids)
    if not ids:
        return {}
    responses, instruments = Response.__table__, Instrument.__table__
    versions = connection.execute(sa.select(responses.c.id, responses.c.instrument_id)
                                  .where(responses.c.id.in_(ids))).all()
    definitions = {instrument_id: scoring.definition_from_dict(data) for instrument_id, data in connection.execute(
        sa.select(instruments.c.id, instruments.c.definition)
        .where(instruments.c.id.in_({instrument_id for _id, instrument_id in versions})))}
    answers = Answer.__table__
    given: dict[str, dict[str, int]] = defaultdict(dict)
    for response_id, code, value in connection.execute(
        sa.select(answers.c.response_id, answers.c.item_code, answers.c.value)
        .where(answers.c.response_id.in_(ids), answers.c.value.is_not(None))
    ):
        given[response_id][code] = value
    return {response_id: scoring.subscale_results(definitions[instrument_id], given.get(response_id, {}))
            for response_id, instrument_id in versions}


def store_scores(connection: sa.Connection, response_ids: Iterable[str], fresh: bool = False) -> int:
    """Compute the responses' subscale results from their stored answers and store them, replacing any stored.

    `fresh` says that none of the responses can have stored rows yet (written in this flush): no delete then.
    Returns how many rows were written. A constant number of statements per 500 responses.
    """
    ids = sorted({i for i in response_ids if i is not None})
    table = ResponseScore.__table__
    written = 0
    for start in range(0, len(ids), _STORE_BATCH):
        chunk = ids[start:start + _STORE_BATCH]
        rows = [{"response_id": response_id, "subscale": r.subscale, "score": r.score, "answered": r.answered,
                 "missing": r.missing}
                for response_id, results in computed_scores(connection, chunk).items() for r in results]
        if not fresh:
            connection.execute(sa.delete(table).where(table.c.response_id.in_(chunk)))
            invalidate_round_aggregates(connection, response_ids=chunk)  # their rounds' sums change with them
        if rows:
            connection.execute(sa.insert(table), rows)
            written += len(rows)
    return written


def _changed(obj: object, *names: str) -> bool:
    state = sa.inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


@sa.event.listens_for(so.Session, "after_flush")
def _rescore_after_flush(session: so.Session, flush_context) -> None:
    """The stored scores follow the answers: every response whose answers (or instrument version) this flush
    wrote, changed or deleted is scored again from what is now stored, in the same transaction.

    So submitting a questionnaire, recording an interview and any other writer through the ORM store the
    scores without a step to forget. After a flush the session still lists what it flushed as new, dirty
    and deleted, with the ids the flush assigned.
    """
    new: set[str] = set()
    changed: set[str] = set()
    rounds: set[int] = set()  # rounds that gained, lost or moved a response: their stored sums are stale
    for obj in session.new:
        if isinstance(obj, Response):
            new.add(obj.id)
            rounds.add(obj.round_id)
        elif isinstance(obj, Answer):
            changed.add(obj.response_id)
    for obj in session.dirty:
        if isinstance(obj, Answer) and _changed(obj, "value", "item_code", "response_id"):
            history = sa.inspect(obj).attrs.response_id.history
            changed.update(history.deleted or ())
            changed.add(obj.response_id)
        elif isinstance(obj, Response) and _changed(obj, "instrument_id"):
            changed.add(obj.id)
        if isinstance(obj, Response) and _changed(obj, "round_id", "source", "profession"):
            rounds.update(sa.inspect(obj).attrs.round_id.history.deleted or ())
            rounds.add(obj.round_id)
    for obj in session.deleted:
        if isinstance(obj, Answer):
            changed.add(obj.response_id)
        elif isinstance(obj, Response):
            rounds.add(obj.round_id)
    changed -= new
    if not new and not changed and not rounds:
        return
    connection = session.connection()
    store_scores(connection, new, fresh=True)
    store_scores(connection, changed)  # also drops the stored sums of these responses' rounds
    invalidate_round_aggregates(connection, round_ids=rounds)


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
