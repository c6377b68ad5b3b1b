"""Instrument services: storing questionnaire versions, activating them, a group's choice. Flush, never commit;
every change is audited. Files are read and checked by app.feedback.instrument_files.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from app.audit.services import record_action
from app.errors import Conflict, DomainError, NotAllowed
from app.extensions import db
from app.feedback import scoring
from app.feedback.instrument_files import SHIPPED_CODE, SHIPPED_FILE, parse_instrument
from app.feedback.models import ROUND_MODES, FeedbackRound, Instrument
from app.feedback.scoring import Definition
from app.timeutil import utcnow


def definition_of(instrument: Instrument) -> Definition:
    """The stored, normalised definition of an instrument version."""
    return scoring.definition_from_dict(instrument.definition)


def find_instrument(code: str, version: int) -> Instrument | None:
    """The instrument version with this code and number, or None."""
    return db.session.scalar(sa.select(Instrument).where(Instrument.code == code, Instrument.version == version))


def list_instruments() -> list[tuple[Instrument, int]]:
    """Every instrument version by code and version, with the number of rounds that used it."""
    used = (sa.select(FeedbackRound.instrument_id, sa.func.count().label("n"))
            .group_by(FeedbackRound.instrument_id).subquery())
    rows = db.session.execute(
        sa.select(Instrument, sa.func.coalesce(used.c.n, 0))
        .outerjoin(used, used.c.instrument_id == Instrument.id)
        .order_by(Instrument.code, Instrument.version.desc())
    )
    return [(instrument, int(n)) for instrument, n in rows]


def rounds_using(instrument: Instrument) -> int:
    """How many rounds asked this instrument version."""
    return db.session.scalar(sa.select(sa.func.count()).where(FeedbackRound.instrument_id == instrument.id)) or 0


def import_instrument(actor, text: str, filename: str) -> Instrument:
    """Store a new instrument version from a file; it starts inactive.

    Raises InstrumentError for a malformed file, Conflict when the code and version already exist
    (a version never changes: upload the next version number instead).
    """
    definition = parse_instrument(text, filename)
    if find_instrument(definition.code, definition.version) is not None:
        latest = db.session.scalar(sa.select(sa.func.max(Instrument.version)).where(Instrument.code == definition.code))
        raise Conflict(_("Version %(version)s of “%(code)s” exists already and cannot change; "
                         "to change it, upload it as version %(next)s.",
                         version=definition.version, code=definition.code, next=(latest or 0) + 1), "source")
    instrument = Instrument(
        code=definition.code, version=definition.version, title_en=definition.title["en"],
        title_zh=definition.title["zh_CN"], definition=scoring.definition_to_dict(definition), source_text=text,
        licence=definition.licence, source=definition.source, requires_permission=definition.requires_permission,
        active=False, locked=False, created_by_id=getattr(actor, "id", None),
    )
    db.session.add(instrument)
    db.session.flush()
    record_action(actor, "instrument_imported", instrument, code=instrument.code, version=instrument.version,
                  filename=filename)
    return instrument


def activation_refusal(instrument: Instrument) -> str | None:
    """Why the instrument cannot be activated now (a translated message), or None: a licence that requires
    permission waits until a coordinator has recorded it."""
    if instrument.requires_permission and instrument.permission_recorded_at is None:
        return _("This questionnaire's licence requires permission: record the permission first.")
    return None


def activate(actor, instrument: Instrument) -> None:
    """Offer the instrument to groups.

    Raises NotAllowed when its licence requires permission and no coordinator has recorded it
    (activation_refusal).
    """
    refusal = activation_refusal(instrument)
    if refusal:
        raise NotAllowed(refusal)
    if not instrument.active:
        instrument.active = True
        db.session.flush()
        record_action(actor, "instrument_activated", instrument, code=instrument.code, version=instrument.version)
    give_waiting_rounds_an_instrument(actor)


def waiting_rounds() -> list[FeedbackRound]:
    """Open questionnaire rounds that opened while no questionnaire was active: they have none to ask yet."""
    return list(db.session.scalars(
        sa.select(FeedbackRound)
        .where(FeedbackRound.status == "open", FeedbackRound.instrument_id.is_(None),
               FeedbackRound.mode == "questionnaire")
        .order_by(FeedbackRound.opens_at)
    ))


def give_waiting_rounds_an_instrument(actor=None) -> int:
    """Fix the instrument of every open round that has none, as if it had opened now (idempotent).

    Called when a questionnaire is activated: a round that opened without one (none was active then) gets
    it at once, so its members can answer. Returns how many rounds got one.
    """
    given = 0
    for feedback_round in waiting_rounds():
        instrument_id = instrument_id_for_new_round(feedback_round.group)
        if instrument_id is None:
            continue
        feedback_round.instrument_id = instrument_id
        given += 1
        record_action(actor, "round_instrument_set", feedback_round, instrument_id=instrument_id)
    db.session.flush()
    return given


def deactivate(actor, instrument: Instrument) -> None:
    """Stop offering the instrument; rounds that used it keep it, groups that chose it fall back to the default."""
    if instrument.active:
        instrument.active = False
        db.session.flush()
        record_action(actor, "instrument_deactivated", instrument, code=instrument.code, version=instrument.version)


def record_permission(actor, instrument: Instrument, note: str) -> None:
    """Record that permission to use the instrument was obtained (who, when, and the note).

    Raises DomainError when the note is empty.
    """
    note = (note or "").strip()
    if not note:
        raise DomainError(_("Say how and from whom permission was obtained."), "note")
    instrument.permission_note = note
    instrument.permission_recorded_by_id = getattr(actor, "id", None)
    instrument.permission_recorded_at = utcnow()
    db.session.flush()
    record_action(actor, "instrument_permission_recorded", instrument, code=instrument.code,
                  version=instrument.version, note=note)


def default_instrument() -> Instrument | None:
    """The programme's default: the active shipped questionnaire's highest version, else any active one."""
    shipped = db.session.scalar(
        sa.select(Instrument).where(Instrument.active.is_(True), Instrument.code == SHIPPED_CODE)
        .order_by(Instrument.version.desc()).limit(1)
    )
    if shipped is not None:
        return shipped
    return db.session.scalar(
        sa.select(Instrument).where(Instrument.active.is_(True))
        .order_by(Instrument.code, Instrument.version.desc()).limit(1)
    )


def active_instruments() -> list[Instrument]:
    """The instruments a group may choose, by code and version."""
    return list(db.session.scalars(
        sa.select(Instrument).where(Instrument.active.is_(True)).order_by(Instrument.code, Instrument.version.desc())
    ))


def ensure_shipped_instrument() -> Instrument:
    """Load and activate the shipped questionnaire unless its version is stored already (idempotent).

    A stored version is left as it is (a coordinator may have deactivated it on purpose).
    """
    definition = parse_instrument(SHIPPED_FILE.read_text(encoding="utf-8"), SHIPPED_FILE.name)
    existing = find_instrument(definition.code, definition.version)
    if existing is not None:
        return existing
    instrument = import_instrument(None, SHIPPED_FILE.read_text(encoding="utf-8"), SHIPPED_FILE.name)
    activate(None, instrument)
    return instrument


def instrument_for_group(group) -> Instrument | None:
    """The instrument the group's next round asks: its chosen one while active, else the programme's default."""
    if group.instrument_id is not None:
        chosen = db.session.get(Instrument, group.instrument_id)
        if chosen is not None and chosen.active:
            return chosen
    return default_instrument()


def instrument_id_for_new_round(group) -> int | None:
    """The id of the instrument a round opening now uses, locking that version (it can no longer change)."""
    instrument = instrument_for_group(group)
    if instrument is None:
        return None
    instrument.locked = True
    return instrument.id


def set_group_feedback(actor, group, instrument_id: int | None, mode: str) -> None:
    """Choose the group's questionnaire (None: the programme's default) and whether rounds are by interview.

    Raises DomainError when the instrument is not an active one or the mode is unknown.
    """
    if mode not in ROUND_MODES:
        raise DomainError(_("Choose questionnaire or interview."), "mode")
    if instrument_id is not None:
        instrument = db.session.get(Instrument, instrument_id)
        if instrument is None or not instrument.active:
            raise DomainError(_("Choose one of the active questionnaires."), "instrument_id")
    group.instrument_id = instrument_id
    group.feedback_mode = mode
    db.session.flush()
    record_action(actor, "group_feedback_set", group, instrument_id=instrument_id, mode=mode)
