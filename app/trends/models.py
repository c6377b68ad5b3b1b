"""Stored per-group signals: what the coordinator's home needs of each group, kept so that it reads one row a
group instead of scanning ten years of meetings, attendances and answers (app.trends.signals fills them)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db

#: valid_until of a row that a change made stale: readers compute the group live until it is refreshed.
STALE = datetime(2000, 1, 1)


class GroupSignal(db.Model):
    """One group's raw facts for the early warnings and the highlights, as of `computed_at`.

    Valid while `valid_until` lies ahead: it is the moment one of them changes by the clock alone (an open round's
    window ends, the highlights' horizon runs out); any change to the group's meetings, leaders, memberships,
    rounds or answers (or a leader's training, role or active flag) sets it to STALE in the same flush
    (app.trends.signals). `version` grows with each such change, so a refresh computed before it never overwrites it.

    Nothing here is published as it is: participation is two counts, `pairs` only means of cells that
    app.disclosure showed at `k`, and the warnings apply their thresholds when read; the organisation and the
    status are read from the group itself, so scope filtering never rests on a stored copy.
    """

    __tablename__ = "group_signals"

    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    computed_at: so.Mapped[datetime]
    valid_until: so.Mapped[datetime] = so.mapped_column(index=True)
    version: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    # k (MIN_RESPONSES) the published cells in `pairs` were decided with; another k makes the row stale.
    k: so.Mapped[int]
    # The latest held meeting's start (None: never held).
    last_held_at: so.Mapped[datetime | None]
    # The latest closed round: its number, eligible members (present at one of its meetings) and responses.
    round_number: so.Mapped[int | None]
    eligible: so.Mapped[int | None]
    responses: so.Mapped[int | None]
    # [[subscale key, previous round's mean, latest round's mean], ...] for every subscale shown at k in both.
    pairs: so.Mapped[list] = so.mapped_column(sa.JSON, default=list)
    # Ids of the group's scheduled meetings in [computed_at, horizon_end) breaking an invariant (a missing lead apart).
    flagged: so.Mapped[list] = so.mapped_column(sa.JSON, default=list)
    horizon_end: so.Mapped[datetime]
    # The programme board's facts (app.trends.board_queries.GroupParts), judged with the thresholds whose
    # fingerprint is `board_key` (another configuration makes the row unusable, as another k does):
    # [[rule, status, detail], ...] of the round rules, and the starts (ISO) of the live meetings with no eligible
    # lead from computed_at to the rule's window and a margin ahead (app.trends.signals.unled_end).
    board_key: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    board: so.Mapped[list | None] = so.mapped_column(sa.JSON)
    unled: so.Mapped[list | None] = so.mapped_column(sa.JSON)


def _changed(session: so.Session, obj: object, *names: str) -> bool:
    if obj in session.new or obj in session.deleted:
        return True
    state = sa.inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


@sa.event.listens_for(so.Session, "after_flush")
def _signals_go_stale(session: so.Session, flush_context) -> None:
    """Every group whose signals this flush may have changed gets its row marked STALE (one statement).

    Meetings (a meeting held, moved, cancelled), their leaders and attendances, memberships and rounds (opened,
    closed, extended) name their group directly or through one join; so do the responses and answers of a closed
    round and the meetings it covers (those of an open round change nothing stored: a submission leaves the row
    alone); a leader's
    training record, role or active flag names the groups of the scheduled meetings they lead from a day ago on.
    Readers then compute those groups live, and the next refresh stores them again.
    """
    from app.accounts.models import RoleAssignment, TrainingRecord, User
    from app.feedback.models import Answer, FeedbackRound, Response, RoundMeeting
    from app.meetings.models import Attendance
    from app.programme.models import Group, Membership
    from app.scheduling.models import Meeting, MeetingLeader

    groups: set[int] = set()
    meetings: set[int] = set()
    rounds: set[int] = set()
    responses: set[str] = set()
    users: set[int] = set()
    # An object set to the values it had (a record saved again unchanged) is "dirty" but changes nothing stored.
    changed = (o for o in session.dirty if session.is_modified(o, include_collections=False))
    for obj in (*session.new, *changed, *session.deleted):
        if isinstance(obj, (Meeting, Membership, FeedbackRound)):
            groups.add(obj.group_id)
        elif isinstance(obj, (MeetingLeader, Attendance)):
            meetings.add(obj.meeting_id)
        elif isinstance(obj, (RoundMeeting, Response)):
            rounds.add(obj.round_id)
        elif isinstance(obj, Answer):
            responses.add(obj.response_id)
        elif isinstance(obj, (TrainingRecord, RoleAssignment)):
            users.add(obj.user_id)
        elif isinstance(obj, User) and obj not in session.new and _changed(session, obj, "active"):
            users.add(obj.id)
        elif isinstance(obj, Group) and obj in session.deleted:
            groups.add(obj.id)
    groups.discard(None)
    if not (groups or meetings or rounds or responses or users):
        return
    from app.timeutil import utcnow

    R = FeedbackRound  # noqa: N806

    t, m, ml = GroupSignal.__table__, Meeting.__table__, MeetingLeader.__table__
    which = []
    if groups:
        which.append(t.c.group_id.in_(sorted(groups)))
    if meetings:
        which.append(t.c.group_id.in_(sa.select(m.c.group_id).where(m.c.id.in_(sorted(meetings)))))
    if rounds or responses:
        in_rounds = R.__table__.c.id.in_(sorted(rounds)) if rounds else sa.false()
        if responses:
            r = Response.__table__
            in_rounds = sa.or_(in_rounds, R.__table__.c.id.in_(
                sa.select(r.c.round_id).where(r.c.id.in_(sorted(responses)))))
        # Only closed rounds count: answers to an open round (every submission) change no signal, and must not
        # make the row stale (nor lock it) while a group's members answer.
        rounds_table = R.__table__
        closed = sa.or_(rounds_table.c.status == "closed", rounds_table.c.closes_at <= utcnow())
        which.append(t.c.group_id.in_(sa.select(rounds_table.c.group_id).where(in_rounds, closed)))
    if users:
        from datetime import timedelta

        which.append(t.c.group_id.in_(
            sa.select(m.c.group_id).join(ml, ml.c.meeting_id == m.c.id)
            .where(ml.c.user_id.in_(sorted(users)), m.c.status == "scheduled",
                   m.c.starts_at >= utcnow() - timedelta(days=1))))
    session.connection().execute(
        sa.update(t).where(sa.or_(*which))
        .values(valid_until=STALE, version=t.c.version + 1))
