"""Feedback rounds: opening them by the five-meeting rule (app.feedback.rules), closing and extending them, who is
eligible, telling members. Flush, never commit."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask_babel import gettext as _

from app.accounts.models import User
from app.audit.services import record_action
from app.disclosure import rules as disclosure_rules
from app.disclosure import services as aggregates
from app.errors import Conflict, DomainError
from app.extensions import db
from app.feedback import rules
from app.feedback.models import Completion, FeedbackRound, RoundMeeting
from app.feedback.services.instruments import instrument_id_for_new_round
from app.meetings.models import Attendance
from app.programme.models import Group
from app.scheduling.models import Meeting

ROUND_OPENED = "round_opened"
ROUND_CLOSING = "round_closing"


def uncovered_held_meeting_ids(group_id: int) -> list[int]:
    """The group's held meetings that no round covers yet, oldest first."""
    # NOT EXISTS (an anti-join on the unique meeting_id) rather than NOT IN over every covered meeting of the
    # programme, which PostgreSQL reads in full.
    covered = sa.select(RoundMeeting.id).where(RoundMeeting.meeting_id == Meeting.id).exists()
    return list(
        db.session.scalars(
            sa.select(Meeting.id)
            .where(Meeting.group_id == group_id, Meeting.status == "held", ~covered)
            .order_by(Meeting.starts_at, Meeting.id)
        )
    )


def open_due_rounds(actor: User | None, group: Group, now: datetime) -> list[FeedbackRound]:
    """Open a round for each complete set of `interval` uncovered held meetings (normally none or one).

    Called in the same transaction as the record that completed the set. The unique (group, number)
    and unique meeting-per-round constraints make a second round for the same set impossible even
    if two transactions race; the caller locks the group first so they do not.
    """
    opened = []
    sets = rules.rounds_to_open(uncovered_held_meeting_ids(group.id), group.feedback_interval)
    for meeting_ids in sets:
        number = (db.session.scalar(
            sa.select(sa.func.max(FeedbackRound.number)).where(FeedbackRound.group_id == group.id)
        ) or 0) + 1
        feedback_round = FeedbackRound(
            group_id=group.id, number=number, opens_at=now, mode=group.feedback_mode or "questionnaire",
            closes_at=now + timedelta(days=group.feedback_window_days),
            instrument_id=instrument_id_for_new_round(group),  # the version asked; locked from now on
            round_meetings=[RoundMeeting(meeting_id=mid) for mid in meeting_ids],
        )
        db.session.add(feedback_round)
        db.session.flush()
        record_action(actor, "round_opened", feedback_round, group_id=group.id, number=number,
                      meeting_ids=meeting_ids)
        tell_eligible_members(feedback_round, now)
        opened.append(feedback_round)
    return opened


def groups_one_meeting_from_a_round() -> list[Group]:
    """Active groups whose next held meeting completes a set and opens a round (one statement)."""
    uncovered = (
        sa.select(Meeting.group_id, sa.func.count().label("n"))
        .where(Meeting.status == "held", ~sa.exists().where(RoundMeeting.meeting_id == Meeting.id))
        .group_by(Meeting.group_id)
        .subquery("uncovered")
    )
    return list(db.session.scalars(
        sa.select(Group).outerjoin(uncovered, uncovered.c.group_id == Group.id)
        .where(Group.status == "active",
               sa.func.coalesce(uncovered.c.n, 0) + 1 >= Group.feedback_interval)
    ))


def eligible_user_ids(feedback_round: FeedbackRound) -> list[int]:
    """Members present at one or more of the round's meetings."""
    return list(
        db.session.scalars(
            sa.select(Attendance.user_id)
            .join(RoundMeeting, RoundMeeting.meeting_id == Attendance.meeting_id)
            .where(RoundMeeting.round_id == feedback_round.id, Attendance.status == "present")
            .distinct()
            .order_by(Attendance.user_id)
        )
    )


def eligible_count(feedback_round: FeedbackRound) -> int:
    """How many members may answer the round."""
    return len(eligible_user_ids(feedback_round))


# Asked on every answer page, save and submission: built once (building and keying a statement costs more than
# running it). One row is enough, so the round's eligible members are not listed; its meetings as a subquery, so the
# planner goes from the round's few meetings to the (meeting, user) unique index rather than through every
# attendance of the user (which SQLite picked for the join).
_IS_ELIGIBLE = sa.select(sa.exists().where(
    Attendance.meeting_id.in_(
        sa.select(RoundMeeting.meeting_id).where(RoundMeeting.round_id == sa.bindparam("round_id"))),
    Attendance.user_id == sa.bindparam("user_id"), Attendance.status == "present",
))
_HAS_RESPONDED = sa.select(sa.exists().where(
    Completion.round_id == sa.bindparam("round_id"), Completion.user_id == sa.bindparam("user_id")))


def is_eligible(feedback_round: FeedbackRound, user: User) -> bool:
    """Whether the user was present at one or more of the round's meetings."""
    return bool(db.session.scalar(_IS_ELIGIBLE, {"round_id": feedback_round.id, "user_id": user.id}))


def tell_eligible_members(feedback_round: FeedbackRound, now: datetime) -> int:
    """Queue an e-mail now and a reminder before the window closes for each eligible, active member."""
    from app.notifications.robots import queue_round_post
    from app.notifications.services import queue

    users = db.session.scalars(
        sa.select(User).where(User.id.in_(eligible_user_ids(feedback_round)), User.active.is_(True))
    ).all()
    reminder_at = feedback_round.closes_at - timedelta(days=current_app.config["ROUND_REMINDER_DAYS_BEFORE"])
    for user in users:
        queue(ROUND_OPENED, user, f"{ROUND_OPENED}:{feedback_round.id}:{user.id}", now,
              round_id=feedback_round.id)
        if reminder_at > now:
            queue(ROUND_CLOSING, user, f"{ROUND_CLOSING}:{feedback_round.id}:{user.id}", reminder_at,
                  round_id=feedback_round.id)
    queue_round_post(feedback_round, now)  # to the group's chat, when it has a robot
    return len(users)


def close_due_rounds(now: datetime) -> int:
    """Close every open round whose window has ended, and store the sums of every closed round that lacks them
    (these, and any whose sums a correction dropped: app.disclosure.services); returns how many rounds closed."""
    result = db.session.execute(
        sa.update(FeedbackRound)
        .where(FeedbackRound.status == "open", FeedbackRound.closes_at <= now)
        .values(status="closed", closed_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    aggregates.refresh_round_aggregates()
    return result.rowcount or 0


def close_if_due(feedback_round: FeedbackRound, now: datetime) -> bool:
    """Close the round on the first read after its deadline, storing its sums in the same transaction; True
    when it is (now) closed."""
    if feedback_round.status == "open" and now >= feedback_round.closes_at:
        feedback_round.close(now)
        db.session.flush()
        aggregates.store_round_aggregates([feedback_round.id])
    return feedback_round.status == "closed"


def extend_round(actor: User, feedback_round: FeedbackRound, closes_at: datetime, now: datetime) -> None:
    """A coordinator moves the closing time of an open round later.

    A closed round is never reopened: its results may have been read, and answers added afterwards could be
    worked out by comparing the two readings (app.disclosure.rules.may_extend). Raises Conflict for a closed
    round, DomainError when the new time is not later and in the future.
    """
    if not disclosure_rules.may_extend(closed=not feedback_round.is_open(now)):
        raise Conflict(_("Round %(n)s has closed and its results may already have been read, so it cannot be "
                         "reopened: answers added now could be worked out by comparing the results before and "
                         "after.", n=feedback_round.number), field="closes_at")
    if closes_at <= feedback_round.closes_at or closes_at <= now:
        raise DomainError(_("The new closing time must be later than the current one and in the future."),
                          field="closes_at")
    before = feedback_round.closes_at
    feedback_round.extend(closes_at, now)
    db.session.flush()
    record_action(actor, "round_extended", feedback_round, before=before, after=closes_at)


def open_rounds_for_member(user: User, now: datetime) -> list[FeedbackRound]:
    """Open rounds (window not ended) for which the user is eligible, newest first.

    Sought among the groups the user has attended a meeting of (a round's meetings are its group's), so the
    statement reads the user's own attendance, not every open round of the programme (189 at city scale)."""
    eligible_rounds = (
        sa.select(RoundMeeting.round_id)
        .join(Attendance, Attendance.meeting_id == RoundMeeting.meeting_id)
        .where(Attendance.user_id == user.id, Attendance.status == "present")
    )
    attended_groups = (
        sa.select(Meeting.group_id).join(Attendance, Attendance.meeting_id == Meeting.id)
        .where(Attendance.user_id == user.id, Attendance.status == "present")
    )
    return list(
        db.session.scalars(
            sa.select(FeedbackRound)
            .where(FeedbackRound.group_id.in_(attended_groups), FeedbackRound.id.in_(eligible_rounds),
                   FeedbackRound.status == "open", FeedbackRound.closes_at > now)
            .order_by(FeedbackRound.opens_at.desc())
            # The home page names each round's group and needs none of its meetings.
            .options(so.joinedload(FeedbackRound.group), so.lazyload(FeedbackRound.round_meetings))
        )
    )


def responded_round_ids(user: User, round_ids: list[int]) -> set[int]:
    """Which of these rounds the member has already answered (one statement, whatever the number of rounds)."""
    if not round_ids:
        return set()
    return set(db.session.scalars(
        sa.select(Completion.round_id).where(Completion.user_id == user.id, Completion.round_id.in_(round_ids))
    ))


def mark_correction(feedback_round: FeedbackRound, meeting: Meeting) -> None:
    """A meeting of the round was corrected to cancelled: the round stays (answers may exist) with a notice.

    The notice stores the meetings' ids; pages say it in the reader's language.
    """
    ids = [part for part in (feedback_round.correction_notice or "").split(",") if part]
    if str(meeting.id) not in ids:
        ids.append(str(meeting.id))
    feedback_round.correction_notice = ",".join(ids)[:500]
    db.session.flush()


def corrected_meeting_ids(feedback_round: FeedbackRound) -> list[int]:
    """The round's meetings that were corrected to cancelled after it opened."""
    return [int(part) for part in (feedback_round.correction_notice or "").split(",") if part.isdigit()]


def has_responded(feedback_round: FeedbackRound, user: User) -> bool:
    """Whether the member has already answered the round (a Completion exists; it says nothing of the answers)."""
    return bool(db.session.scalar(_HAS_RESPONDED, {"round_id": feedback_round.id, "user_id": user.id}))
