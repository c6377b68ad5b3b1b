"""The meeting invariants of DOMAIN.md, restated for tests: read the database with plain queries and list breaches.

Nothing here calls the app's own checking functions: each rule is written again from DOMAIN.md ("Rule: leader
eligibility", "Rule: meetings and the five-meeting feedback round"), so a test built on it can catch the app's
rule and the app's callers being wrong together.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.accounts.models import RoleAssignment, TrainingRecord, User
from app.feedback.models import FeedbackRound, RoundMeeting
from app.programme.models import Group, Membership
from app.scheduling.models import Meeting, MeetingLeader

#: DOMAIN.md: "D is the meeting's date in the deployment's timezone (Asia/Shanghai), never the UTC date."
LOCAL = ZoneInfo("Asia/Shanghai")
LEAD, CO_LEAD = "lead", "co_lead"
QUALIFIED = frozenset({"leader", "training_leader"})
CO_LEAD_LEVELS = frozenset({"leader_in_training", "leader", "training_leader"})
LIVE = ("scheduled", "held")

# Codes of the invariants, so a report (and a local run that wants to look past a known breach) can name them.
ONE_LEAD_WHEN_HELD = "one_lead_when_held"
AT_MOST_ONE_PER_ROLE = "at_most_one_per_role"
TRAINEE_BESIDE_QUALIFIED = "trainee_beside_qualified_lead"
NO_DOUBLE_BOOKING = "no_double_booking"
LEADER_NOT_MEMBER = "leader_not_member"
ELIGIBLE_WHEN_CHANGED = "leaders_eligible_when_changed"
FLAGGED_WHEN_INELIGIBLE = "ineligible_leaders_flagged"
ROUNDS_NUMBERED = "rounds_numbered_without_gaps"
ROUNDS_DISJOINT = "round_sets_disjoint"
ROUND_SIZE = "round_covers_interval_held_meetings"
ROUND_OPENS_WHEN_DUE = "round_opens_when_set_complete"
ROUND_CORRECTION_NOTICE = "round_notes_corrections"
REFUSAL_CHANGES_NOTHING = "refusal_changes_nothing"


@dataclass(frozen=True)
class MeetingRow:
    id: int
    group_id: int
    status: str
    starts_at: datetime  # naive UTC, as stored
    ends_at: datetime

    @property
    def local_day(self) -> date:
        return self.starts_at.replace(tzinfo=UTC).astimezone(LOCAL).date()


@dataclass(frozen=True)
class Record:
    level: str
    completed_on: date
    valid_until: date | None
    verified: bool

    def in_force_on(self, day: date) -> bool:
        return self.verified and self.completed_on <= day and (self.valid_until is None or self.valid_until >= day)


@dataclass(frozen=True)
class Breach:
    code: str
    text: str

    def __str__(self) -> str:
        return f"[{self.code}] {self.text}"


@dataclass
class World:
    """Everything the invariants read, loaded in a handful of queries."""

    meetings: dict[int, MeetingRow] = field(default_factory=dict)
    leaders: dict[int, list[tuple[int, str]]] = field(default_factory=dict)  # meeting id -> [(user id, role)]
    active: dict[int, bool] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    leader_role: set[int] = field(default_factory=set)  # who holds the leader role (not a rule of DOMAIN.md)
    records: dict[int, list[Record]] = field(default_factory=lambda: defaultdict(list))
    memberships: dict[tuple[int, int], list[tuple[date, date | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    intervals: dict[int, int] = field(default_factory=dict)  # group id -> feedback interval
    rounds: dict[int, tuple[int, int, str | None]] = field(default_factory=dict)  # id -> (group, number, notice)
    round_sets: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # round id -> meeting ids

    def fingerprint(self) -> tuple:
        """All the data read, in a comparable form (a refused operation must leave it exactly as it was)."""
        return (
            self.meetings, {k: sorted(v) for k, v in self.leaders.items() if v}, self.active,
            {k: sorted(v, key=repr) for k, v in self.records.items() if v},
            {k: sorted(v, key=repr) for k, v in self.memberships.items() if v},
            self.intervals, self.rounds, {k: sorted(v) for k, v in self.round_sets.items() if v},
        )

    def signature(self, meeting_id: int) -> tuple:
        """What a step may change about a meeting that makes its leaders' eligibility worth checking again."""
        m = self.meetings[meeting_id]
        return m.status, m.starts_at, m.ends_at

    def leader_pairs(self, meeting_id: int) -> frozenset[tuple[int, str]]:
        return frozenset(self.leaders.get(meeting_id, ()))

    def name(self, user_id: int) -> str:
        return self.names.get(user_id, f"user {user_id}")

    def describe(self, meeting_id: int) -> str:
        m = self.meetings[meeting_id]
        local = m.starts_at.replace(tzinfo=UTC).astimezone(LOCAL)
        return f"meeting {m.id} (group {m.group_id}, {m.status}, {local:%Y-%m-%d %H:%M} local)"


def load_world(session) -> World:
    """Read meetings, leaders, people, training, memberships and rounds with plain queries."""
    world = World()
    for row in session.execute(sa.select(Meeting.id, Meeting.group_id, Meeting.status, Meeting.starts_at,
                                         Meeting.ends_at)):
        world.meetings[row.id] = MeetingRow(row.id, row.group_id, row.status, row.starts_at, row.ends_at)
    for row in session.execute(sa.select(MeetingLeader.meeting_id, MeetingLeader.user_id, MeetingLeader.role)):
        world.leaders.setdefault(row.meeting_id, []).append((row.user_id, row.role))
    for row in session.execute(sa.select(User.id, User.active, User.name)):
        world.active[row.id] = bool(row.active)
        world.names[row.id] = row.name
    world.leader_role = set(session.scalars(sa.select(RoleAssignment.user_id).where(RoleAssignment.role == "leader")))
    for row in session.execute(sa.select(TrainingRecord.user_id, TrainingRecord.level, TrainingRecord.completed_on,
                                         TrainingRecord.valid_until, TrainingRecord.verified_at)):
        world.records[row.user_id].append(Record(row.level, row.completed_on, row.valid_until,
                                                 row.verified_at is not None))
    for row in session.execute(sa.select(Membership.group_id, Membership.user_id, Membership.joined_on,
                                         Membership.left_on)):
        world.memberships[(row.group_id, row.user_id)].append((row.joined_on, row.left_on))
    for row in session.execute(sa.select(Group.id, Group.feedback_interval)):
        world.intervals[row.id] = row.feedback_interval
    for row in session.execute(sa.select(FeedbackRound.id, FeedbackRound.group_id, FeedbackRound.number,
                                         FeedbackRound.correction_notice)):
        world.rounds[row.id] = (row.group_id, row.number, row.correction_notice)
    for row in session.execute(sa.select(RoundMeeting.round_id, RoundMeeting.meeting_id)):
        world.round_sets[row.round_id].append(row.meeting_id)
    return world


# --- the eligibility rule, restated ------------------------------------------------------------

def has_level_on(world: World, user_id: int, levels: frozenset[str], day: date) -> bool:
    """A verified record of one of the levels, completed on or before the day and not expired before it."""
    return any(r.level in levels and r.in_force_on(day) for r in world.records.get(user_id, ()))


def only_trainee_on(world: World, user_id: int, day: date) -> bool:
    """In force on the day is a leader_in_training record, and no leader or training_leader one."""
    return (has_level_on(world, user_id, frozenset({"leader_in_training"}), day)
            and not has_level_on(world, user_id, QUALIFIED, day))


def is_member_on(world: World, group_id: int, user_id: int, day: date) -> bool:
    """A member on the day: joined on or before it and not yet left (the leaving day is still a member's day)."""
    return any(joined <= day and (left is None or left >= day)
               for joined, left in world.memberships.get((group_id, user_id), ()))


def eligibility_breaches(world: World, meeting_id: int) -> list[tuple[int, str]]:
    """Why the meeting's leaders are not eligible on its local date, as (leader's user id, reason); empty: they are.

    The leader's own conditions (active; verified training of a level for the role in force on the date) and the
    trainee rule (a co-lead who is only a leader_in_training that day sits beside a lead qualified that day).
    Membership and overlaps are invariants of their own (leader_breaches).
    """
    m = world.meetings[meeting_id]
    day = m.local_day
    found = []
    pairs = world.leaders.get(meeting_id, [])
    lead_ids = [uid for uid, role in pairs if role == LEAD]
    for uid, role in pairs:
        who = f"{world.name(uid)} ({role})"
        if not world.active.get(uid, False):
            found.append((uid, f"{who} is deactivated"))
        levels = QUALIFIED if role == LEAD else CO_LEAD_LEVELS
        if not has_level_on(world, uid, levels, day):
            found.append((uid, f"{who} holds no verified training of a qualifying level in force on {day}"))
        if role == CO_LEAD and only_trainee_on(world, uid, day) and not any(
            has_level_on(world, lead, QUALIFIED, day) for lead in lead_ids
        ):
            lead_text = world.name(lead_ids[0]) if lead_ids else "no lead"
            found.append((uid, f"{world.name(uid)} co-leads as a leader in training on {day} beside {lead_text}, "
                               f"who is not a qualified leader that day"))
    return found


def fits(world: World, meeting_id: int, user_id: int, role: str) -> bool:
    """Whether the person could take the role on the meeting (the lead being qualified for a trainee co-lead aside):
    active, trained for the role that day, holding the leader role, not a member of the group, free at that time.

    Used to aim steps at operations that should be accepted, not to judge the app.
    """
    m = world.meetings[meeting_id]
    levels = QUALIFIED if role == LEAD else CO_LEAD_LEVELS
    if not (world.active.get(user_id) and has_level_on(world, user_id, levels, m.local_day)
            and user_id in world.leader_role and not is_member_on(world, m.group_id, user_id, m.local_day)):
        return False
    return not any(
        oid != meeting_id and other.status in LIVE and other.starts_at < m.ends_at and m.starts_at < other.ends_at
        and any(u == user_id for u, _r in world.leaders.get(oid, ()))
        for oid, other in world.meetings.items()
    )


def could_be_held(world: World, meeting_id: int) -> bool:
    """Whether recording the meeting as held should be accepted: a lead, and every leader fits (see fits)."""
    pairs = world.leaders.get(meeting_id, [])
    return (any(role == LEAD for _uid, role in pairs) and not eligibility_breaches(world, meeting_id)
            and all(fits(world, meeting_id, uid, role) for uid, role in pairs))


# --- the checks --------------------------------------------------------------------------------

def leader_breaches(world: World) -> list[Breach]:
    """The invariants that hold at every moment: lead counts, no double booking, no leader who is a member."""
    breaches = []
    booked: dict[int, list[MeetingRow]] = defaultdict(list)
    for mid, m in world.meetings.items():
        if m.status not in LIVE:
            continue
        pairs = world.leaders.get(mid, [])
        leads = [uid for uid, role in pairs if role == LEAD]
        co_leads = [uid for uid, role in pairs if role == CO_LEAD]
        if m.status == "held" and len(leads) != 1:
            breaches.append(Breach(ONE_LEAD_WHEN_HELD, f"{world.describe(mid)} has {len(leads)} leads"))
        if len(leads) > 1 or len(co_leads) > 1:
            breaches.append(Breach(AT_MOST_ONE_PER_ROLE,
                                   f"{world.describe(mid)} has {len(leads)} leads and {len(co_leads)} co-leads"))
        if len({uid for uid, _ in pairs}) != len(pairs):
            breaches.append(Breach(AT_MOST_ONE_PER_ROLE, f"{world.describe(mid)} has one person in both roles"))
        for uid, role in pairs:
            booked[uid].append(m)
            if is_member_on(world, m.group_id, uid, m.local_day):
                breaches.append(Breach(LEADER_NOT_MEMBER, f"{world.name(uid)} ({role}) of {world.describe(mid)} "
                                       f"is a member of group {m.group_id} on {m.local_day}"))
    for uid, meetings in booked.items():
        meetings.sort(key=lambda m: (m.starts_at, m.id))
        for i, a in enumerate(meetings):
            for b in meetings[i + 1:]:
                if b.starts_at >= a.ends_at:
                    break
                breaches.append(Breach(NO_DOUBLE_BOOKING, f"{world.name(uid)} leads {world.describe(a.id)} and "
                                       f"{world.describe(b.id)}, which overlap"))
    return breaches


def changed_meeting_breaches(world: World, changed: set[int]) -> list[Breach]:
    """Leaders of the meetings a step assigned, moved or recorded as held must be eligible on the local date."""
    breaches = []
    for mid in sorted(changed):
        if mid not in world.meetings or world.meetings[mid].status not in LIVE:
            continue
        for _uid, text in eligibility_breaches(world, mid):
            code = TRAINEE_BESIDE_QUALIFIED if "leader in training" in text else ELIGIBLE_WHEN_CHANGED
            breaches.append(Breach(code, f"{world.describe(mid)}: {text}"))
    return breaches


def unflagged_breaches(world: World, skip: set[int], flagged: dict[int, set[int]]) -> list[Breach]:
    """Scheduled meetings whose leaders are no longer eligible (a legitimate later change: training expired or
    edited, a deactivation) must be flagged: `flagged` maps meeting id to the user ids the app reports a problem
    for. Meetings in `skip` (changed by the last step) are judged strictly by changed_meeting_breaches instead.
    """
    breaches = []
    for mid, m in sorted(world.meetings.items()):
        if m.status != "scheduled" or mid in skip:
            continue
        for uid, text in eligibility_breaches(world, mid):
            if uid not in flagged.get(mid, set()):
                breaches.append(Breach(FLAGGED_WHEN_INELIGIBLE, f"{world.describe(mid)}: {text}, and the app "
                                       f"does not flag it"))
    return breaches


def scheduled_with_ineligible_leaders(world: World) -> list[int]:
    """The scheduled meetings unflagged_breaches would look at."""
    return [mid for mid, m in sorted(world.meetings.items())
            if m.status == "scheduled" and eligibility_breaches(world, mid)]


def round_breaches(world: World, new_round_ids: set[int]) -> list[Breach]:
    """The five-meeting rule: rounds 1..n per group, disjoint sets of exactly N, fewer than N held uncovered.

    `new_round_ids` are the rounds the last step opened: their meetings must all be held now (the step recorded
    the meeting that completed the set and nothing after it could change them).
    """
    breaches = []
    by_group: dict[int, list[int]] = defaultdict(list)
    for gid, number, _notice in world.rounds.values():
        by_group[gid].append(number)
    for gid, numbers in by_group.items():
        if sorted(numbers) != list(range(1, len(numbers) + 1)):
            breaches.append(Breach(ROUNDS_NUMBERED, f"group {gid} has rounds numbered {sorted(numbers)}"))
    covered: dict[int, int] = {}
    for rid, meeting_ids in world.round_sets.items():
        gid, number, notice = world.rounds[rid]
        for mid in meeting_ids:
            if mid in covered:
                breaches.append(Breach(ROUNDS_DISJOINT, f"meeting {mid} is in rounds {covered[mid]} and {rid}"))
            covered[mid] = rid
            m = world.meetings.get(mid)
            if m is None or m.group_id != gid:
                breaches.append(Breach(ROUND_SIZE, f"round {number} of group {gid} covers meeting {mid} of "
                                       f"another group"))
            elif m.status == "cancelled" and str(mid) not in (notice or "").split(","):
                breaches.append(Breach(ROUND_CORRECTION_NOTICE, f"round {number} of group {gid}: meeting {mid} was "
                                       f"corrected to cancelled but the round carries no notice of it"))
    for rid, (gid, number, _notice) in world.rounds.items():
        meeting_ids = world.round_sets.get(rid, [])
        if len(set(meeting_ids)) != world.intervals[gid]:
            breaches.append(Breach(ROUND_SIZE, f"round {number} of group {gid} covers {len(set(meeting_ids))} "
                                   f"meetings, the interval is {world.intervals[gid]}"))
        if rid in new_round_ids:
            not_held = [mid for mid in meeting_ids if mid in world.meetings and world.meetings[mid].status != "held"]
            if not_held:
                breaches.append(Breach(ROUND_SIZE, f"round {number} of group {gid} opened over meetings "
                                       f"{not_held} that are not held"))
    for gid, interval in world.intervals.items():
        uncovered = [mid for mid, m in world.meetings.items()
                     if m.group_id == gid and m.status == "held" and mid not in covered]
        if len(uncovered) >= interval:
            breaches.append(Breach(ROUND_OPENS_WHEN_DUE, f"group {gid} has {len(uncovered)} held meetings in no "
                                   f"round ({sorted(uncovered)}); a round opens at {interval}"))
    return breaches
