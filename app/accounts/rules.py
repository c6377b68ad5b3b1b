"""Pure rules about people: leader eligibility. No Flask, no database; dates are passed in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

LEAD = "lead"
CO_LEAD = "co_lead"
ASSIGNMENT_ROLES = (LEAD, CO_LEAD)

QUALIFIED_LEVELS = frozenset({"leader", "training_leader"})
CO_LEAD_LEVELS = frozenset({"leader_in_training", "leader", "training_leader"})

# Problem codes; services turn them into translated sentences.
INACTIVE = "inactive"
NO_VERIFIED_TRAINING = "no_verified_training"
TRAINING_NOT_YET_COMPLETED = "training_not_yet_completed"
TRAINING_EXPIRED = "training_expired"
LEVEL_TOO_LOW = "level_too_low"
MEMBER_OF_GROUP = "member_of_group"
OVERLAPPING_MEETING = "overlapping_meeting"
TRAINEE_NEEDS_QUALIFIED_LEAD = "trainee_needs_qualified_lead"
UNKNOWN_ROLE = "unknown_role"

# Stands for "the meeting's lead is not known yet" in eligibility_problems().
UNKNOWN_LEAD = "?"


class TrainingLike(Protocol):
    """What the rules read of a training record."""

    level: str
    completed_on: date
    valid_until: date | None

    @property
    def verified(self) -> bool: ...


@dataclass(frozen=True)
class Training:
    """A plain training record, for callers that hold no model."""

    level: str
    completed_on: date
    valid_until: date | None = None
    verified: bool = True


def levels_for(as_role: str) -> frozenset[str]:
    """The training levels that qualify for an assignment role.

    Raises ValueError for a role that is neither lead nor co_lead.
    """
    if as_role == LEAD:
        return QUALIFIED_LEVELS
    if as_role == CO_LEAD:
        return CO_LEAD_LEVELS
    raise ValueError(f"unknown assignment role {as_role!r}")


def is_valid_on(record: TrainingLike, on: date) -> bool:
    """True when a verified record is in force on the date (completed, not expired)."""
    return (
        record.verified
        and record.completed_on <= on
        and (record.valid_until is None or record.valid_until >= on)
    )


def best_level_on(records: Iterable[TrainingLike], on: date) -> str | None:
    """The highest level among the verified records in force on the date, or None."""
    order = {"leader_in_training": 1, "leader": 2, "training_leader": 3}
    valid = [r.level for r in records if is_valid_on(r, on) and r.level in order]
    return max(valid, key=order.__getitem__) if valid else None


def training_problems(records: Iterable[TrainingLike], on: date, as_role: str) -> list[str]:
    """Why the training records do not qualify someone for the role on the date (empty: they do)."""
    wanted = levels_for(as_role)
    records = list(records)
    verified = [r for r in records if r.verified]
    if not verified:
        return [NO_VERIFIED_TRAINING]
    of_level = [r for r in verified if r.level in wanted]
    if not of_level:
        return [LEVEL_TOO_LOW]
    if any(is_valid_on(r, on) for r in of_level):
        return []
    if all(r.completed_on > on for r in of_level):
        return [TRAINING_NOT_YET_COMPLETED]
    return [TRAINING_EXPIRED]


def eligibility_problems(
    *,
    active: bool,
    records: Iterable[TrainingLike],
    on: date,
    as_role: str,
    is_member_of_group: bool = False,
    has_overlapping_meeting: bool = False,
    lead_level: str | None = UNKNOWN_LEAD,
) -> list[str]:
    """Every reason a person may not be assigned as lead or co-lead on a date (empty: eligible).

    `lead_level` is the best level of the meeting's lead on that date (None: no qualified lead);
    it matters only when a leader in training is asked to co-lead, and is not checked while it is
    UNKNOWN_LEAD. Raises ValueError for an unknown role.
    """
    if as_role not in ASSIGNMENT_ROLES:
        raise ValueError(f"unknown assignment role {as_role!r}")
    records = list(records)
    problems: list[str] = []
    if not active:
        problems.append(INACTIVE)
    problems.extend(training_problems(records, on, as_role))
    if (
        as_role == CO_LEAD
        and not problems
        and best_level_on(records, on) == "leader_in_training"
        and lead_level != UNKNOWN_LEAD
        and lead_level not in QUALIFIED_LEVELS
    ):
        problems.append(TRAINEE_NEEDS_QUALIFIED_LEAD)
    if is_member_of_group:
        problems.append(MEMBER_OF_GROUP)
    if has_overlapping_meeting:
        problems.append(OVERLAPPING_MEETING)
    return problems


def is_eligible_leader(user, on_date: date, as_role: str = LEAD, **context) -> bool:
    """True when the user (anything with `active` and `training_records`) may take the role that day.

    Extra context (is_member_of_group, has_overlapping_meeting, lead_level) is passed through to
    eligibility_problems().
    """
    return not eligibility_problems(
        active=user.active, records=user.training_records, on=on_date, as_role=as_role, **context
    )
