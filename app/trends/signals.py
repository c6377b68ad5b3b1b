"""Per-group signals for the coordinator's home: each group's raw facts for the early warnings and the highlights,
computed here once for many groups, stored in group_signals (app.trends.models.GroupSignal), read as one row a group.

- `compute(group_ids, now, k)`: the facts, live, in a fixed number of statements (the one computation; stored
  rows are its results);
- `refresh(now, k, ...)`: store them — for every group (`flask trends refresh-signals`), or only the rows that are
  missing, stale or older than MAX_AGE (`flask notify send-due`, every run);
- `current(scope, now, k)`: the groups a coordinator sees with their facts: stored rows that are still valid,
  and a live computation for the few that are not (changed since, made stale by the clock, never stored);
- `board(scope, now, k, thresholds, locale)`: the programme board from them (app.trends.board_queries.assemble
  over the stored parts), equal to the live `programme_board`.

What stays exact: a row is used only while `valid_until` lies ahead and its `k` and board thresholds (`board_key`)
are the configured ones; every
change through the app marks its group's row stale in the same flush (app.trends.models). What may lag: nothing a
reader sees — a stale row is computed live — but a change written outside the app's session (SQL by hand, a
restore) is seen only when the row is next refreshed, MAX_AGE at most after it was stored (by send-due).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.accounts import rules as eligibility
from app.disclosure import whole_round_cells
from app.extensions import db
from app.feedback.models import FeedbackRound, Response, RoundMeeting
from app.meetings.models import Attendance
from app.programme.models import Group, Organisation
from app.scheduling import rules as scheduling_rules
from app.scheduling.models import Meeting, MeetingLeader
from app.scheduling.queries import HIGHLIGHT_DAYS
from app.scheduling.services import Booking, judge
from app.trends import rules
from app.trends.board_queries import BOARD_ROUNDS, Board, GroupLine, GroupParts, assemble, group_parts, lead_window_end
from app.trends.models import STALE, GroupSignal

#: How long past the highlights' window the stored flags reach: a row stays valid this long at most.
MARGIN = timedelta(days=1)
#: send-due stores again every row older than this (changes made outside the app show within this time).
MAX_AGE = timedelta(hours=1)
#: Groups computed per round trip.
BATCH = 250


@dataclass(frozen=True)
class Signals:
    """One group's facts as of a moment: what the early warnings and the highlights need of it."""

    group_id: int
    last_held_at: datetime | None = None
    round_number: int | None = None
    eligible: int | None = None
    responses: int | None = None
    # (subscale key, previous round's mean, latest round's mean): subscales shown at k in both latest closed rounds.
    pairs: tuple[tuple[str, float, float], ...] = ()
    # Scheduled meetings with a lead from `now` to `horizon_end` that break an invariant other than a missing lead.
    flagged: tuple[int, ...] = ()
    horizon_end: datetime | None = None
    valid_until: datetime | None = None
    # The programme board's facts (board_queries.GroupParts) and the thresholds' fingerprint they were judged with.
    board: tuple[rules.Finding, ...] = ()
    unled: tuple[datetime, ...] = ()
    board_key: str | None = None


def _thresholds(thresholds: rules.Thresholds | None) -> rules.Thresholds:
    return thresholds if thresholds is not None else rules.Thresholds.from_config(current_app.config)


def board_key(thresholds: rules.Thresholds) -> str:
    """The thresholds' fingerprint (with the board's span of rounds): a row judged with others is not used."""
    text = json.dumps([BOARD_ROUNDS, *(getattr(thresholds, name) for name in sorted(thresholds.__dataclass_fields__))])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def unled_end(now: datetime, thresholds: rules.Thresholds) -> datetime:
    """How far ahead a row keeps the meetings with no eligible lead: the rule's window from any moment the row is
    valid (MARGIN at most after `now`)."""
    return lead_window_end(now, thresholds) + MARGIN


def _closed(now: datetime):
    return sa.or_(FeedbackRound.status == "closed", FeedbackRound.closes_at <= now)


@dataclass(frozen=True)
class _Round:
    """A round as whole_round_cells reads it: a plain row."""

    id: int
    group_id: int
    number: int
    status: str
    closes_at: datetime

    def is_open(self, now: datetime) -> bool:
        return FeedbackRound.is_open(self, now)  # the model's own rule


def _last_held(ids: list[int], now: datetime) -> dict[int, datetime]:
    return dict(db.session.execute(
        sa.select(Meeting.group_id, sa.func.max(Meeting.starts_at))
        .where(Meeting.group_id.in_(ids), Meeting.status == "held", Meeting.starts_at <= now)
        .group_by(Meeting.group_id)
    ).all())


def _latest_rounds(ids: list[int], now: datetime) -> list[_Round]:
    """Each group's latest closed round and the one before it (when closed too)."""
    latest = (
        sa.select(FeedbackRound.group_id, sa.func.max(FeedbackRound.number).label("number"))
        .where(FeedbackRound.group_id.in_(ids), _closed(now))
        .group_by(FeedbackRound.group_id)
        .subquery("latest_closed")
    )
    rows = db.session.execute(
        sa.select(FeedbackRound.id, FeedbackRound.group_id, FeedbackRound.number, FeedbackRound.status,
                  FeedbackRound.closes_at)
        .join(latest, sa.and_(latest.c.group_id == FeedbackRound.group_id,
                              FeedbackRound.number >= latest.c.number - 1))
        .where(_closed(now))
    ).all()
    return [_Round(*row) for row in rows]


def _participation(round_ids: list[int]) -> tuple[dict[int, int], dict[int, int]]:
    """Eligible members (present at one of its meetings) and responses of each round (two statements)."""
    if not round_ids:
        return {}, {}
    eligible = dict(db.session.execute(
        sa.select(RoundMeeting.round_id, sa.func.count(sa.distinct(Attendance.user_id)))
        .join(Attendance, Attendance.meeting_id == RoundMeeting.meeting_id)
        .where(Attendance.status == "present", RoundMeeting.round_id.in_(round_ids))
        .group_by(RoundMeeting.round_id)
    ).all())
    responses = dict(db.session.execute(
        sa.select(Response.round_id, sa.func.count()).where(Response.round_id.in_(round_ids))
        .group_by(Response.round_id)
    ).all())
    return eligible, responses


def _next_closing(ids: list[int], now: datetime) -> dict[int, datetime]:
    """When each group's latest closed round changes by the clock: the earliest end of an open round's window."""
    return dict(db.session.execute(
        sa.select(FeedbackRound.group_id, sa.func.min(FeedbackRound.closes_at))
        .where(FeedbackRound.group_id.in_(ids), FeedbackRound.status != "closed", FeedbackRound.closes_at > now)
        .group_by(FeedbackRound.group_id)
    ).all())


def flagged_meetings(ids: list[int], start: datetime, end: datetime) -> dict[int, list[int]]:
    """Per group, its scheduled meetings with a lead starting in [start, end) that break an invariant other than
    a missing lead (scheduling.services.judge), soonest first. Judged from plain rows: five statements at most."""
    if not ids:
        return {}
    has_lead = sa.exists().where(MeetingLeader.meeting_id == Meeting.id, MeetingLeader.role == eligibility.LEAD)
    soon = (
        sa.select(Meeting.id, Meeting.group_id, Meeting.status, Meeting.starts_at, Meeting.ends_at)
        .where(Meeting.group_id.in_(ids), Meeting.status == "scheduled", Meeting.starts_at >= start,
               Meeting.starts_at < end, has_lead)
        .subquery("soon")
    )
    bookings: dict[int, list] = {}
    for mid, gid, status, starts, ends, user_id, role in db.session.execute(
        sa.select(soon.c.id, soon.c.group_id, soon.c.status, soon.c.starts_at, soon.c.ends_at,
                  MeetingLeader.user_id, MeetingLeader.role)
        .join(MeetingLeader, MeetingLeader.meeting_id == soon.c.id)
        .order_by(soon.c.starts_at, soon.c.id, MeetingLeader.id)
    ):
        bookings.setdefault(mid, [mid, gid, status, starts, ends, []])[5].append((user_id, role))
    ordered = [Booking(mid, gid, status, starts, ends, tuple(leaders))
               for mid, gid, status, starts, ends, leaders in bookings.values()]
    found = judge(ordered)
    out: dict[int, list[int]] = {}
    for booking in ordered:
        if any(p.code != scheduling_rules.NO_LEAD for p in found[booking.id]):
            out.setdefault(booking.group_id, []).append(booking.id)
    return out


def compute(group_ids: Iterable[int], now: datetime, k: int,
            thresholds: rules.Thresholds | None = None) -> dict[int, Signals]:
    """Every group's signals at `now` (naive UTC), live: about twenty-five statements per BATCH groups (the
    board's parts with the configured thresholds, or `thresholds`, among them).

    The means in `pairs` come from app.disclosure.whole_round_cells at `k`: only cells it shows are kept, so the
    stored row holds no figure a coordinator could not read on the group's trends page.
    """
    ids = sorted(set(group_ids))
    out: dict[int, Signals] = {}
    horizon_end = now + timedelta(days=HIGHLIGHT_DAYS) + MARGIN
    thresholds = _thresholds(thresholds)
    key = board_key(thresholds)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        last_held = _last_held(chunk, now)
        rounds = _latest_rounds(chunk, now)
        cells = whole_round_cells(rounds, k=k, now=now)
        latest: dict[int, _Round] = {}
        by_number = {(r.group_id, r.number): r for r in rounds}
        for r in rounds:
            if r.group_id not in latest or r.number > latest[r.group_id].number:
                latest[r.group_id] = r
        eligible, responses = _participation([r.id for r in latest.values()])
        closing = _next_closing(chunk, now)
        flagged = flagged_meetings(chunk, now, horizon_end)
        parts = group_parts(chunk, now, k, thresholds, unled_until=unled_end(now, thresholds))
        for gid in chunk:
            pairs: list[tuple[str, float, float]] = []
            last = latest.get(gid)
            if last is not None and (gid, last.number - 1) in by_number:
                after, before = cells.get(last.id, {}), cells.get(by_number[(gid, last.number - 1)].id, {})
                pairs = [(key, before[key].mean, after[key].mean) for key in sorted(set(after) & set(before))
                         if before[key].shown and after[key].shown]
            out[gid] = Signals(
                group_id=gid, last_held_at=last_held.get(gid),
                round_number=last.number if last else None,
                eligible=eligible.get(last.id, 0) if last else None,
                responses=responses.get(last.id, 0) if last else None,
                pairs=tuple(pairs), flagged=tuple(flagged.get(gid, ())), horizon_end=horizon_end,
                valid_until=min(closing.get(gid, horizon_end), now + MARGIN),
                board=parts[gid].findings, unled=parts[gid].unled, board_key=key,
            )
    return out


@dataclass(frozen=True)
class GroupFacts:
    """What the home's warnings read of a group itself, as it is now (never a stored copy): a plain row."""

    id: int
    name: str
    organisation_id: int
    status: str
    created_at: datetime
    organisation: str = ""


_SIGNAL_COLUMNS = ("k", "computed_at", "valid_until", "last_held_at", "round_number", "eligible", "responses",
                   "pairs", "flagged", "horizon_end", "board_key", "board", "unled")


def _usable(row, now: datetime, k: int, key: str) -> bool:
    """A stored row answers for `now` when it was computed at or before it, is still valid and used this k and
    these board thresholds."""
    return (row.k is not None and row.k == k and row.board_key == key
            and row.computed_at <= now < row.valid_until)


def _stored(row) -> Signals:
    return Signals(
        row.id, row.last_held_at, row.round_number, row.eligible, row.responses,
        tuple((key, float(before), float(after)) for key, before, after in row.pairs or ()),
        tuple(row.flagged or ()), row.horizon_end, row.valid_until,
        board=tuple(rules.Finding(rule, status, detail) for rule, status, detail in row.board or ()),
        unled=tuple(datetime.fromisoformat(start) for start in row.unled or ()), board_key=row.board_key)


def current(scope_org_id: int | None, now: datetime, k: int, stored: bool = True,
            thresholds: rules.Thresholds | None = None, organisation_id: int | None = None
            ) -> tuple[list[GroupFacts], dict[int, Signals]]:
    """The groups a coordinator sees (all, or one organisation's; any status; `organisation_id` narrows them to
    one organisation), by name, with their signals at `now`: stored rows where they are valid (for `k` and the
    configured board thresholds, or `thresholds`), computed live for the rest (all of them when `stored` is False).

    The scope and the status are the groups' own, read now: never a stored copy. One statement when every row
    is valid (plain rows: a thousand groups cost what a few ORM objects would).
    """
    thresholds = _thresholds(thresholds)
    key = board_key(thresholds)
    t = GroupSignal.__table__
    query = (sa.select(Group.id, Group.name, Group.organisation_id, Group.status, Group.created_at,
                       Organisation.name.label("organisation"), *(t.c[name] for name in _SIGNAL_COLUMNS))
             .join(Organisation, Organisation.id == Group.organisation_id)
             .outerjoin(t, t.c.group_id == Group.id)
             .order_by(Group.name, Group.id))
    if scope_org_id is not None:
        query = query.where(Group.organisation_id == scope_org_id)
    if organisation_id is not None:
        query = query.where(Group.organisation_id == organisation_id)
    groups: list[GroupFacts] = []
    signals: dict[int, Signals] = {}
    for row in db.session.execute(query):
        groups.append(GroupFacts(row.id, row.name, row.organisation_id, row.status, row.created_at, row.organisation))
        if stored and _usable(row, now, k, key):
            signals[row.id] = _stored(row)
    missing = [group.id for group in groups if group.id not in signals]
    if missing:
        signals.update(compute(missing, now, k, thresholds))
    return groups, signals


def board(scope_org_id: int | None, now: datetime, k: int, thresholds: rules.Thresholds, locale: str,
          organisation_id: int | None = None,
          current_signals: tuple[list[GroupFacts], dict[int, Signals]] | None = None) -> Board:
    """The programme board of the active groups a coordinator sees (or one organisation's), from the signals
    (`current_signals` when the caller read them already, with these thresholds): the same board as
    board_queries.programme_board computes live, in one statement when every row is valid."""
    groups, found = current_signals if current_signals is not None else current(
        scope_org_id, now, k, thresholds=thresholds, organisation_id=organisation_id)
    lines = [GroupLine(g.id, g.name, g.created_at, g.organisation_id, g.organisation, found[g.id].last_held_at)
             for g in groups
             if g.status == "active" and (organisation_id is None or g.organisation_id == organisation_id)]
    parts = {line.id: GroupParts(found[line.id].board, found[line.id].unled) for line in lines}
    return assemble(lines, parts, now, thresholds, locale)


def flagged_ids(signals: dict[int, Signals], now: datetime) -> list[int]:
    """The meetings the highlights must judge: those the signals flag that start in the highlights' window."""
    del now  # the highlights' own query keeps the window; a valid row's horizon covers it
    return sorted({mid for s in signals.values() for mid in s.flagged})


def _values(s: Signals, now: datetime, k: int) -> dict:
    return {"computed_at": now, "valid_until": s.valid_until, "k": k, "last_held_at": s.last_held_at,
            "round_number": s.round_number, "eligible": s.eligible, "responses": s.responses,
            "pairs": [list(p) for p in s.pairs], "flagged": list(s.flagged), "horizon_end": s.horizon_end,
            "board_key": s.board_key, "board": [[f.rule, f.status, f.detail] for f in s.board],
            "unled": [start.isoformat() for start in s.unled]}


def _insert_missing(rows: list[dict]) -> None:
    table = GroupSignal.__table__
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    db.session.execute(insert(table).on_conflict_do_nothing(index_elements=["group_id"]), rows)


def due_group_ids(now: datetime, k: int, thresholds: rules.Thresholds | None = None) -> list[int]:
    """Groups whose row is missing, stale, older than MAX_AGE, or of another k or board thresholds: what
    send-due refreshes."""
    t = GroupSignal.__table__
    key = board_key(_thresholds(thresholds))
    return list(db.session.scalars(
        sa.select(Group.id).outerjoin(t, t.c.group_id == Group.id)
        .where(sa.or_(t.c.group_id.is_(None), t.c.valid_until <= now, t.c.computed_at < now - MAX_AGE,
                      t.c.computed_at > now, t.c.k != k, t.c.board_key.is_(None), t.c.board_key != key))
        .order_by(Group.id)
    ))


def store(group_ids: Sequence[int], now: datetime, k: int) -> int:
    """Compute and store the groups' signals at `now`; returns how many rows were written.

    A row changed since its version was read (a change made it stale meanwhile) is left as it is: the next refresh
    takes it. Flush, never commit.
    """
    t = GroupSignal.__table__
    ids = sorted(set(group_ids))
    written = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        versions = dict(db.session.execute(sa.select(t.c.group_id, t.c.version).where(t.c.group_id.in_(chunk))).all())
        computed = compute(chunk, now, k)
        updates = [{"b_group_id": gid, "b_version": versions[gid], **_values(s, now, k)}
                   for gid, s in computed.items() if gid in versions]
        inserts = [{"group_id": gid, "version": 0, **_values(s, now, k)}
                   for gid, s in computed.items() if gid not in versions]
        if updates:
            db.session.execute(
                sa.update(t).where(t.c.group_id == sa.bindparam("b_group_id"),
                                   t.c.version == sa.bindparam("b_version")),
                updates, execution_options={"synchronize_session": False})
            written += len(updates)
        if inserts:
            _insert_missing(inserts)
            written += len(inserts)
    db.session.flush()
    return written


def refresh(now: datetime, k: int, everything: bool = False) -> int:
    """Store the signals of every group (`everything`) or only of those due (due_group_ids); returns how many."""
    ids = list(db.session.scalars(sa.select(Group.id))) if everything else due_group_ids(now, k)
    return store(ids, now, k) if ids else 0


def mark_stale(group_ids: Iterable[int]) -> None:
    """Make these groups' rows stale (as a change through the ORM does by itself)."""
    t = GroupSignal.__table__
    ids = sorted(set(group_ids))
    if ids:
        db.session.execute(sa.update(t).where(t.c.group_id.in_(ids)).values(valid_until=STALE, version=t.c.version + 1))
