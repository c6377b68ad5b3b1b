"""Answering a feedback round: a draft kept as answers are given, then one anonymous submission. Flush, never commit.

Anonymity: a submitted `Response` and its `Answer`s carry no user and no time; the separate `Completion`
row says only that the member has responded. Nothing links the two, and nothing about the concern
bands a respondent's scores fall in is stored anywhere: `submit_response` only returns them.

The response's subscale scores are stored once, beside its answers and with no more link to the person
(`ResponseScore`, written from the stored answers in the flush that writes them: app.feedback.models), so
aggregates read scores instead of scoring every answer again.

How answers are stored: a rated item's integer in `Answer.value`; a single-choice item's position in
the item's list of choices (0-based) in `Answer.value` (so choices never reach the free-text review);
a free-text item's text in `Answer.text`. Unanswered optional items have no row.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.errors import Conflict, DomainError, NotAllowed
from app.extensions import db
from app.feedback import rules as feedback_rules
from app.feedback import scoring
from app.feedback.models import Answer, Completion, Draft, FeedbackRound, Instrument, Response
from app.feedback.services import rounds
from app.feedback.services.instruments import instrument_for_group
from app.notifications.models import Notification

DRAFT_TEXT_LIMIT = 20_000  # a draft holds work in progress; the instrument's own limit applies on submit


@dataclass(frozen=True)
class Submitted:
    """What the respondent alone sees after submitting: the concern bands their scores fall in."""

    concerns: list[scoring.Band] = field(default_factory=list)


class InvalidAnswers(DomainError):
    """The answers cannot be submitted; `problems` maps each item code to a scoring problem code."""

    def __init__(self, message: str, problems: dict[str, str]):
        super().__init__(message, field=next(iter(problems), None))
        self.problems = problems


# --- the round's questionnaire ---------------------------------------------------------------


def round_instrument(feedback_round: FeedbackRound) -> Instrument | None:
    """The instrument version the round asks: the one fixed when it opened, else the group's current one."""
    if feedback_round.instrument is not None:
        return feedback_round.instrument
    return instrument_for_group(feedback_round.group)


def round_definition(feedback_round: FeedbackRound) -> scoring.Definition:
    """The round's questionnaire as a Definition.

    Raises Conflict when the round has no questionnaire (an interview round, or no instrument set up).
    """
    return round_questionnaire(feedback_round)[0]


class LRU:
    """A small least-recently-used map of at most `size` entries (in process; callers keep only what cannot go
    stale under its key)."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict = OrderedDict()
        # A worker's threads share it: reordering while another thread drops the entry would raise KeyError.
        self._lock = threading.Lock()

    def get(self, key):
        """The value kept under `key` (now the most recently used), else None."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key, value):
        """Keep `value` under `key`, dropping the least recently used entry beyond the size; returns value."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
            return value

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: Parsed definitions by definition key (the SHA-256 of the stored definition): a stored version's definition never
#: changes (an edit is a new version, and the version a round asks is locked when it opens), so each is parsed once
#: per process. Keyed by the stored text, not the id, so nothing can be served stale (not even across databases).
_DEFINITIONS = LRU(64)


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def definition_key(instrument: Instrument) -> str:
    """A short fingerprint of the instrument's stored definition: equal keys mean the same questionnaire."""
    text = json.dumps(instrument.definition, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return _text_key(text)


def instrument_definition(instrument: Instrument) -> scoring.Definition:
    """The instrument's questionnaire as a Definition, parsed once per process and version (see _DEFINITIONS)."""
    key = definition_key(instrument)
    return _DEFINITIONS.get(key) or _DEFINITIONS.put(key, scoring.definition_from_dict(instrument.definition))


def round_questionnaire(feedback_round: FeedbackRound) -> tuple[scoring.Definition, str]:
    """The round's questionnaire as a Definition with its definition key (what rendered forms are kept under).

    The version a round fixed when it opened is read as its stored text (one statement, once per transaction: no
    ORM object, no JSON decoding) and keyed by that text's SHA-256; a round without one asks the group's current
    version. Raises Conflict when the round has no questionnaire (an interview round, or no instrument set up).
    """
    if feedback_round.mode != "questionnaire":
        raise Conflict(_("This round has no questionnaire to answer."))
    instrument_id = feedback_round.instrument_id
    if instrument_id is None:
        instrument = round_instrument(feedback_round)
        if instrument is None:
            raise Conflict(_("This round has no questionnaire to answer."))
        return instrument_definition(instrument), definition_key(instrument)
    # Asked several times in one request (the form's fields, the service, the page): read once per transaction.
    session = db.session()
    seen = session.info.setdefault("feedback.questionnaires", {})
    transaction, definition, key = seen.get(instrument_id, (None, None, None))
    if transaction is not None and transaction is session.get_transaction():
        return definition, key
    text = session.scalar(sa.select(sa.cast(Instrument.definition, sa.Text)).where(Instrument.id == instrument_id))
    if text is None:
        raise Conflict(_("This round has no questionnaire to answer."))
    key = _text_key(text)
    definition = _DEFINITIONS.get(key) or _DEFINITIONS.put(key, scoring.definition_from_dict(json.loads(text)))
    seen[instrument_id] = (session.get_transaction(), definition, key)
    return definition, key


def problem_message(code: str) -> str:
    """A scoring problem code in the reader's language."""
    return {
        scoring.REQUIRED: _("Please answer this question."),
        scoring.NOT_INTEGER: _("Choose one of the options."),
        scoring.OUT_OF_RANGE: _("Choose one of the options."),
        scoring.UNKNOWN_CHOICE: _("Choose one of the options."),
        scoring.TOO_LONG: _("This answer is too long; please shorten it."),
        scoring.NOT_TEXT: _("This answer could not be read."),
        scoring.UNKNOWN_ITEM: _("This questionnaire has no such question."),
    }.get(code, _("This answer could not be read."))


# --- checks ----------------------------------------------------------------------------------


def has_responded(feedback_round: FeedbackRound, user: User) -> bool:
    """Whether the member has submitted the round (a Completion exists)."""
    return rounds.has_responded(feedback_round, user)


def check_can_answer(user: User, feedback_round: FeedbackRound) -> None:
    """Raises NotAllowed unless the user is an eligible respondent of the round (present at one of its meetings)."""
    if not rounds.is_eligible(feedback_round, user):
        raise NotAllowed(_("Only members who attended this round's meetings are asked for feedback."))


def closed_message(feedback_round: FeedbackRound) -> str:
    """Why answers can no longer be given, with the closing date."""
    return _("This feedback round closed on %(date)s; answers can no longer be submitted. "
             "Your answers are kept on this page.", date=format_date(feedback_round.closes_at, "medium"))


def already_submitted_message() -> str:
    """What a member who has already answered the round is told."""
    return _("You have already submitted your answers to this round. Thank you.")


def _check_open(feedback_round: FeedbackRound, now: datetime) -> None:
    rounds.close_if_due(feedback_round, now)
    if not feedback_round.is_open(now):
        raise Conflict(closed_message(feedback_round))


# --- drafts ----------------------------------------------------------------------------------


def _draft_value(item: scoring.Item, value: Any) -> Any:
    """One answer as a draft keeps it (None for a cleared one). Raises DomainError for a value the item cannot take.

    Free text longer than the item allows is kept (up to DRAFT_TEXT_LIMIT): submission says to shorten it.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if item.type == "text":
        if not isinstance(value, str):
            raise DomainError(problem_message(scoring.NOT_TEXT), field=item.code)
        if len(value) > DRAFT_TEXT_LIMIT:
            raise DomainError(problem_message(scoring.TOO_LONG), field=item.code)
        return value
    problem = scoring.answer_problem(item, value)
    if problem is not None:
        raise DomainError(problem_message(problem), field=item.code)
    return int(str(value).strip()) if item.is_numeric else str(value).strip()


def clean_draft(definition: scoring.Definition, answers: dict) -> dict[str, Any]:
    """The answers a draft keeps: known items only, blanks dropped. Raises DomainError (field = item code)."""
    if not isinstance(answers, dict):
        raise DomainError(_("The answers could not be read."))
    cleaned = {}
    for code, value in answers.items():
        item = definition.item(str(code))
        if item is None:
            raise DomainError(problem_message(scoring.UNKNOWN_ITEM), field=str(code))
        kept = _draft_value(item, value)
        if kept is not None:
            cleaned[item.code] = kept
    return cleaned


_DRAFT_ANSWERS = sa.select(Draft.answers).where(Draft.round_id == sa.bindparam("round_id"),
                                                Draft.user_id == sa.bindparam("user_id"))


def get_draft(user: User, feedback_round: FeedbackRound) -> dict[str, Any]:
    """The member's saved answers in progress for the round ({} when none)."""
    answers = db.session.scalar(_DRAFT_ANSWERS, {"round_id": feedback_round.id, "user_id": user.id})
    return dict(answers or {})


def save_draft(user: User, feedback_round: FeedbackRound, answers: dict, now: datetime) -> dict[str, Any]:
    """Keep the member's answers so far (partial answers are fine); returns what was kept.

    The given answers replace the draft's answers to the same items; a blank answer clears one.
    Raises NotAllowed (not eligible), Conflict (already submitted, or the round closed) and
    DomainError (an unknown item or a value the item cannot take; field = item code).
    """
    check_can_answer(user, feedback_round)
    if has_responded(feedback_round, user):
        raise Conflict(already_submitted_message())
    _check_open(feedback_round, now)
    definition = round_definition(feedback_round)
    given = clean_draft(definition, answers)
    cleared = {str(code) for code in answers} - set(given)
    draft = db.session.get(Draft, (feedback_round.id, user.id))
    merged = {k: v for k, v in (draft.answers if draft else {}).items() if k not in cleared and definition.item(k)}
    merged.update(given)
    if draft is None:
        try:
            # Two autosaves of a first draft may race: the primary key decides, the loser updates.
            with db.session.begin_nested():
                db.session.add(Draft(round_id=feedback_round.id, user_id=user.id, answers=merged, updated_at=now))
            return merged
        except IntegrityError:
            draft = db.session.get(Draft, (feedback_round.id, user.id), populate_existing=True)
            if draft is None:  # pragma: no cover - deleted meanwhile by a submission
                raise Conflict(already_submitted_message()) from None
    draft.answers = merged  # a new dict, so the JSON column sees the change
    draft.updated_at = now
    db.session.flush()
    return merged


# --- submission ------------------------------------------------------------------------------


def answer_rows(definition: scoring.Definition, answers: dict[str, Any]) -> list[Answer]:
    """The Answer rows of a checked answer set (a choice by its position; blanks get no row)."""
    rows = []
    for item in definition.items:
        value = answers.get(item.code)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if item.is_numeric:
            rows.append(Answer(item_code=item.code, value=int(str(value).strip())))
        elif item.type == "choice":
            position = [c.value for c in item.choices].index(str(value).strip())
            rows.append(Answer(item_code=item.code, value=position))
        else:
            rows.append(Answer(item_code=item.code, text=value.strip()))
    return rows


def submit_response(user: User, feedback_round: FeedbackRound, answers: dict, now: datetime,
                    code: str | None = None) -> Submitted:
    """Store the member's answers anonymously, once; returns the concern bands for the respondent alone.

    In one transaction: the Completion (who responded), the Response and its Answers (what was answered,
    with no user and no time) and its subscale scores (stored by the flush), the draft deleted and the
    member's pending round reminders dropped.
    Raises NotAllowed (not eligible), Conflict (already submitted, or the round closed: the draft is kept),
    InvalidAnswers, a DomainError whose field is the first item with a problem.
    `code` is the self-generated code the page built, stored with the answers only when the instrument version
    asks for codes (a malformed one is refused: DomainError on the field "code").
    """
    check_can_answer(user, feedback_round)
    if has_responded(feedback_round, user):
        raise Conflict(already_submitted_message())
    _check_open(feedback_round, now)
    definition = round_definition(feedback_round)
    answers = answers if isinstance(answers, dict) else {}
    problems = scoring.answer_problems(definition, answers)
    if problems:
        raise InvalidAnswers(_("Some answers need your attention."), problems)
    try:
        stored_code = feedback_rules.response_code(definition.self_generated_code, code)
    except ValueError:
        raise DomainError(_("The personal code could not be read: enter your answers to its questions again, "
                            "or leave them all empty."), "code") from None
    try:
        # The primary key (round, user) refuses a second completion whatever the race; the SAVEPOINT
        # keeps the caller's transaction usable after the refusal.
        with db.session.begin_nested():
            db.session.add(Completion(round_id=feedback_round.id, user_id=user.id))
    except IntegrityError:
        raise Conflict(already_submitted_message()) from None
    # The respondent's profession alone goes with the answers, so trends can be filtered by it
    # (only where the anonymity threshold still holds); nothing else about the person does.
    instrument_id = feedback_round.instrument_id or round_instrument(feedback_round).id
    db.session.add(Response(round_id=feedback_round.id, instrument_id=instrument_id,
                            source="questionnaire", profession=user.profession, code=stored_code,
                            answers=answer_rows(definition, answers)))
    db.session.execute(sa.delete(Draft).where(Draft.round_id == feedback_round.id, Draft.user_id == user.id)
                       .execution_options(synchronize_session="fetch"))
    drop_round_reminders(feedback_round, user)
    db.session.flush()
    return Submitted(concerns=scoring.concerns(definition, scoring.subscale_scores(definition, answers)))


def drop_round_reminders(feedback_round: FeedbackRound, user: User) -> int:
    """The member has responded: their pending notices about the round will not go out; returns how many."""
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.round_id == feedback_round.id, Notification.user_id == user.id,
               Notification.status == "pending")
        .values(status="dropped", error="already responded")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def support_contacts() -> list[str]:
    """The support contacts the deployment configures (SUPPORT_CONTACTS, one per line or separated by ';')."""
    raw = current_app.config.get("SUPPORT_CONTACTS") or ""
    return [part.strip() for line in raw.splitlines() for part in line.split(";") if part.strip()]
