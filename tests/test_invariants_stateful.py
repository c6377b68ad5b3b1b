"""Random sequences of every operation that can touch a meeting keep the meeting invariants after every step.

A hypothesis state machine drives the services (as the pages and the API do: one transaction per operation,
committed when accepted, rolled back when a DomainError refuses it) in a small world where collisions are the
rule: two groups, seven people with different training, meetings on four days at times that overlap, some near
local midnight (00:30 and 23:30 Asia/Shanghai, so a UTC date shows up as the wrong day), training that ends on
those days. After every step tests/invariant_checks.py reads the database and restates each rule of DOMAIN.md.

Examples: STATEFUL_EXAMPLES (default 60) x STATEFUL_STEPS (default 40). In CI (env CI set) the examples are
derandomised, so a red build can be reproduced. STATEFUL_COUNTS_FILE names a file to write the counts to;
STATEFUL_IGNORE (local use only: a comma-separated list of invariant codes) looks past a known breach.
"""

from __future__ import annotations

import os
import time as clock
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from app.accounts import services as accounts
from app.accounts.models import RoleAssignment, TrainingRecord, User
from app.errors import DomainError
from app.extensions import db
from app.meetings import services as meetings
from app.programme import services as programme
from app.programme.models import Group, GroupLeader, Membership, Organisation
from app.scheduling import services as scheduling
from app.scheduling.models import Meeting, MeetingLeader
from app.timeutil import to_utc
from tests import invariant_checks as inv

EXAMPLES = int(os.environ.get("STATEFUL_EXAMPLES", "60"))
STEPS = int(os.environ.get("STATEFUL_STEPS", "40"))
IGNORED = {code.strip() for code in os.environ.get("STATEFUL_IGNORE", "").split(",") if code.strip()}

# --- the small world -------------------------------------------------------------------------

# March 2031 starts on a Saturday: the first Monday..Thursday are the 3rd..6th. "Now" is fixed after them, so
# meetings on those days can be recorded as held; the 10th is still ahead.
MON, TUE, WED, THU, NEXT_MON = (date(2031, 3, d) for d in (3, 4, 5, 6, 10))
NOW_LOCAL = datetime(2031, 3, 8, 12, 0, tzinfo=inv.LOCAL)
NOW = NOW_LOCAL.astimezone(UTC).replace(tzinfo=None)  # naive UTC, as services take it
LONG_AGO, LAST_YEAR, FEB_1 = date(2020, 1, 1), date(2030, 1, 1), date(2031, 2, 1)

DAYS = st.sampled_from([MON, TUE, MON, TUE, WED, THU, NEXT_MON])
TIMES = st.sampled_from([time(0, 30), time(9, 0), time(9, 30), time(23, 30)])  # 23:30 + 90 min overlaps 00:30
DURATIONS = st.sampled_from([60, 90])
GROUPS = st.sampled_from(["G1", "G2"])
# Which meeting (membership, record...) a step acts on, as an index into those that exist: the first two
# meetings (built with the world, overlapping) are picked more often, so steps collide.
SLOTS = st.integers(0, 1) | st.integers(0, 11)
MAX_MEETINGS = 10

# name -> training records as (level, completed on, valid until, verified); all but "nina" hold the leader role.
PEOPLE = {
    # Eligible throughout, with two records each: one edit, un-verification or deletion leaves them eligible.
    "lena": [("leader", LONG_AGO, None, True), ("training_leader", LONG_AGO, None, True)],
    "kurt": [("training_leader", LONG_AGO, None, True), ("leader", LONG_AGO, None, True)],
    "tina": [("training_leader", LONG_AGO, TUE, True)],  # expires on Tuesday: eligible Mon/Tue only
    "theo": [("leader_in_training", LONG_AGO, None, True)],  # co-leads beside a qualified lead
    "olga": [("leader", LONG_AGO, FEB_1, True)],  # expired before the window
    "uwe": [("leader", LONG_AGO, None, False)],  # never verified
    "nina": [],  # no training: a member
}
PERSONS = st.sampled_from(sorted(PEOPLE))
LEADS = st.sampled_from(["lena", "kurt", "tina", "lena", "kurt", "tina", "theo", "olga", "uwe"])  # mostly qualified
LEVELS = st.sampled_from(["leader_in_training", "leader", "training_leader"])
COMPLETED = st.sampled_from([LONG_AGO, TUE, WED])
VALID_UNTIL = st.sampled_from([None, FEB_1, MON, TUE, WED, THU])
JOINED = st.sampled_from([LAST_YEAR, TUE, WED, NEXT_MON])
LEFT = st.sampled_from([MON, TUE, WED, date(2031, 3, 9)])
ATTENDANCE = st.lists(st.sampled_from(["absent", "excused"]), max_size=8)  # the rest are present

#: Every operation of issue 12 point 1; a run must have had each accepted at least once.
EXPECTED_OPERATIONS = (
    "assign_leaders", "assign_series(lead)", "assign_series(co_lead)", "reschedule_meeting", "add_extra_meeting",
    "save_schedule+generate_meetings", "record_meeting(held)", "record_meeting(held->cancelled)",
    "record_meeting(cancelled->held)", "cancel_meeting", "add_member", "end_membership", "add_group_leader",
    "remove_group_leader", "add_training_record", "update_training_record", "unverify_training_record",
    "verify_training_record", "delete_training_record", "set_roles(-leader)", "set_active(False)",
    "set_active(True)",
)
#: (operation, outcome) -> how often; outcome is "accepted" or "refused: <error class>(<field>)".
COUNTS: Counter[tuple[str, str]] = Counter()
#: What the invariant checks had to judge (so a report shows they were not vacuous).
CHECKS: Counter[str] = Counter()


def _clear() -> None:
    """Empty every table before an example: DELETE in dependency order, one transaction.

    conftest's _wipe TRUNCATEs on PostgreSQL, which costs about a second for all the tables; an example here
    holds a few dozen rows, and hypothesis starts hundreds of examples (more while it shrinks a failure).
    """
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


class MeetingInvariants(RuleBasedStateMachine):
    """Every operation of issue 12 point 1 as a rule; every invariant checked after every step."""

    app = None  # set by the test before the machine runs

    def __init__(self):
        super().__init__()
        self.context = self.app.app_context()
        self.context.push()
        _clear()
        self.ids: dict[str, int] = {}
        self._build_world()
        db.session.commit()
        self.world = inv.load_world(db.session)
        self.rounds_seen: set[int] = set(self.world.rounds)
        self.recorded_held: set[int] = set()
        self.refused: str | None = None

    def teardown(self):
        db.session.rollback()
        db.session.remove()
        self.context.pop()

    def _build_world(self) -> None:
        """The starting world, written straight to the session (through the services it would cost ~0.5 s per
        example on PostgreSQL); the invariants are checked on it before the first step as after every step."""
        org1, org2 = Organisation(name="Children's Hospital"), Organisation(name="Community Health Centre")
        coordinator = User(email="coord@example.org", name="coord",
                           role_assignments=[RoleAssignment(role="coordinator")])
        people = {}
        for name, records in PEOPLE.items():
            people[name] = User(email=f"{name}@example.org", name=name, organisation=org1,
                                role_assignments=[RoleAssignment(role="leader" if records else "member")])
            for level, completed, valid_until, verified in records:
                people[name].training_records.append(TrainingRecord(
                    kind="Balint leader training", level=level, issuer="Balint Society", completed_on=completed,
                    valid_until=valid_until, verified_by=coordinator if verified else None,
                    verified_at=datetime(2030, 1, 1) if verified else None))
            db.session.add(people[name])
            db.session.flush()  # one by one: training records get their ids in PEOPLE's order
        # Small feedback intervals, so rounds open (and get corrected) within a few dozen steps.
        g1 = Group(organisation=org1, name="Paediatrics", feedback_interval=2, duration_minutes=60)
        g2 = Group(organisation=org2, name="Nursing", feedback_interval=3, duration_minutes=90)
        g1.leaders.append(GroupLeader(user=people["lena"]))
        g2.leaders.append(GroupLeader(user=people["kurt"]))
        for group, name in ((g1, "nina"), (g2, "nina"), (g2, "olga")):
            group.memberships.append(Membership(user=people[name], joined_on=LAST_YEAR))
        # Two overlapping pairs: Monday 09:00-10:00 and 09:30-11:00; Monday 23:30-01:00 and Tuesday 00:30-01:30.
        for group, day, at, lead in ((g1, MON, time(9, 0), "lena"), (g2, MON, time(9, 30), "kurt"),
                                     (g1, TUE, time(0, 30), "tina"), (g2, MON, time(23, 30), None)):
            starts_at = to_utc(day, at)
            meeting = Meeting(group=group, starts_at=starts_at, edited=True,
                              ends_at=starts_at + timedelta(minutes=group.duration_minutes))
            if lead:
                meeting.leaders.append(MeetingLeader(user=people[lead], role="lead"))
            db.session.add(meeting)
            db.session.flush()  # in this order: the meetings' ids are the order the steps' slots count in
        self.ids.update({name: user.id for name, user in people.items()}, coord=coordinator.id, G1=g1.id, G2=g2.id)
        # The first meeting was held (one held G1 meeting short of a round): rounds open within a few steps.
        first = db.session.scalar(sa.select(Meeting).order_by(Meeting.id))
        meetings.record_meeting(None, first, status="held", now=NOW, attendance={people["nina"].id: "present"})

    # --- helpers ---------------------------------------------------------------------------

    def user(self, name: str) -> User:
        return db.session.get(User, self.ids[name])

    def group(self, name: str) -> Group:
        return db.session.get(Group, self.ids[name])

    @property
    def coordinator(self) -> User:
        return self.user("coord")

    def meeting(self, slot: int) -> Meeting:
        ids = sorted(self.world.meetings)
        return db.session.get(Meeting, ids[slot % len(ids)])

    def pick(self, query: sa.Select, slot: int):
        rows = db.session.scalars(query).all()
        return rows[slot % len(rows)] if rows else None

    def attempt(self, operation: str, action) -> bool:
        """Run one operation as a route does: commit when accepted, roll back when refused."""
        try:
            action()
        except DomainError as error:
            db.session.rollback()
            self.refused = operation
            outcome = f"refused: {type(error).__name__}({error.field or ''})"
        else:
            db.session.commit()
            outcome = "accepted"
        COUNTS[(operation, outcome)] += 1
        event(f"{operation}: {outcome}")
        return outcome == "accepted"

    def skipped(self, operation: str) -> None:
        COUNTS[("(nothing to act on)", operation)] += 1

    def has_meetings(self) -> bool:
        return bool(self.world.meetings)

    def has_room(self) -> bool:
        return len(self.world.meetings) < MAX_MEETINGS

    # --- scheduling -------------------------------------------------------------------------
    # Hypothesis picks among the rules evenly, so the common act (assigning leaders) has two rules and rare
    # ones share one: the world keeps meetings with leaders to collide instead of filling up with cancellations.

    def _assign(self, slot: int, lead: str, co_lead: str | None) -> None:
        self._assign_meeting(self.meeting(slot), lead, co_lead)

    def _assign_meeting(self, meeting: Meeting, lead: str, co_lead: str | None) -> None:
        self.attempt("assign_leaders", lambda: scheduling.assign_leaders(
            self.coordinator, meeting, self.user(lead), self.user(co_lead) if co_lead else None))

    @precondition(has_meetings)
    @rule(slot=SLOTS, lead=LEADS, likely_accepted=st.booleans())
    def assign_lead(self, slot, lead, likely_accepted):
        """Anyone to any meeting; or (aimed, so that meetings get held) someone who fits to a meeting without one."""
        if likely_accepted:
            leaderless = [mid for mid, m in sorted(self.world.meetings.items()) if m.status == "scheduled"
                          and not any(role == inv.LEAD for _u, role in self.world.leaders.get(mid, ()))]
            for mid in leaderless[slot % len(leaderless):] if leaderless else ():
                fitting = [name for name in PEOPLE if inv.fits(self.world, mid, self.ids[name], inv.LEAD)]
                if fitting:
                    pick = lead if lead in fitting else fitting[slot % len(fitting)]
                    return self._assign_meeting(db.session.get(Meeting, mid), pick, None)
        self._assign(slot, lead, None)

    @precondition(has_meetings)
    @rule(slot=SLOTS, lead=LEADS, co_lead=PERSONS)
    def assign_lead_and_co_lead(self, slot, lead, co_lead):
        self._assign(slot, lead, co_lead)

    @rule(group=GROUPS, person=LEADS, role=st.sampled_from(["lead", "co_lead"]))
    def assign_series(self, group, person, role):
        self.attempt(f"assign_series({role})", lambda: scheduling.assign_series(
            self.coordinator, self.group(group), self.user(person), role, since=datetime(2031, 3, 1)))

    @precondition(has_meetings)
    @rule(slot=SLOTS, day=DAYS, at=TIMES, duration=DURATIONS)
    def reschedule_meeting(self, slot, day, at, duration):
        meeting = self.meeting(slot)
        self.attempt("reschedule_meeting", lambda: scheduling.reschedule_meeting(
            self.coordinator, meeting, day=day, at=at, duration_minutes=duration, reason="The room is taken"))

    @precondition(has_room)
    @rule(group=GROUPS, generate=st.booleans(), day=DAYS, at=TIMES, duration=DURATIONS, biweekly=st.booleans(),
          weekday=st.integers(0, 3), weeks=st.sampled_from([[1], [1, 2]]))
    def add_meetings(self, group, generate, day, at, duration, biweekly, weekday, weeks):
        target = self.group(group)
        if not generate:
            self.attempt("add_extra_meeting", lambda: scheduling.add_extra_meeting(
                self.coordinator, target, day=day, at=at, duration_minutes=duration))
            return

        def save_and_generate():
            if biweekly:
                scheduling.save_schedule(self.coordinator, target, kind="biweekly", weekday=weekday, start_on=MON,
                                         start_time=at)
            else:
                scheduling.save_schedule(self.coordinator, target, kind="nth_weekday", weekday=weekday,
                                         weeks=weeks, start_time=at)
            scheduling.generate_meetings(self.coordinator, target, date(2031, 3, 1), NEXT_MON)

        self.attempt("save_schedule+generate_meetings", save_and_generate)

    # Aimed steps: the same operations, pointed at the people and times most likely to collide. Blind draws
    # reach these combinations too, but rarely within a few dozen steps.

    def _booked(self, slot: int) -> tuple[inv.MeetingRow, int] | None:
        """A meeting that has a leader (any status) and one of its leaders, or None."""
        booked = sorted((mid, uid) for mid, pairs in self.world.leaders.items() for uid, _role in pairs)
        if not booked:
            return None
        mid, uid = booked[slot % len(booked)]
        return self.world.meetings[mid], uid

    def _name(self, user_id: int) -> str:
        return next(name for name, uid in self.ids.items() if uid == user_id)

    @rule(slot=SLOTS, other=SLOTS, as_co_lead=st.booleans())
    def assign_leader_of_an_overlapping_meeting(self, slot, other, as_co_lead):
        found = self._booked(slot)
        if found is None:
            return self.skipped("assign_leaders")
        meeting, uid = found
        overlapping = sorted(mid for mid, m in self.world.meetings.items() if mid != meeting.id
                             and m.starts_at < meeting.ends_at and meeting.starts_at < m.ends_at)
        if not overlapping:
            return self.skipped("assign_leaders")
        target = db.session.get(Meeting, overlapping[other % len(overlapping)])
        person = self._name(uid)
        lead = target.lead if as_co_lead and target.lead is not None and target.lead.id != uid else None
        if lead is not None:
            self._assign_meeting(target, self._name(lead.id), person)
        else:
            self._assign_meeting(target, person, None)

    @rule(slot=SLOTS, joined_on=JOINED)
    def add_leader_of_a_meeting_as_member(self, slot, joined_on):
        found = self._booked(slot)
        if found is None:
            return self.skipped("add_member")
        meeting, uid = found
        self.attempt("add_member", lambda: programme.add_member(
            self.coordinator, db.session.get(Group, meeting.group_id), db.session.get(User, uid),
            joined_on=joined_on))

    @rule(slot=SLOTS, at=TIMES, day_after=st.booleans())
    def reschedule_to_the_end_of_a_leaders_training(self, slot, at, day_after):
        found = self._booked(slot)
        if found is None:
            return self.skipped("reschedule_meeting")
        meeting, uid = found
        ends = sorted(r.valid_until for r in self.world.records.get(uid, ()) if r.valid_until is not None)
        day = (ends[-1] if ends else WED) + timedelta(days=1 if day_after else 0)
        self.attempt("reschedule_meeting", lambda: scheduling.reschedule_meeting(
            self.coordinator, db.session.get(Meeting, meeting.id), day=day, at=at, duration_minutes=60,
            reason="Moved to another day"))

    # --- recording --------------------------------------------------------------------------

    def _record_held(self, meeting: Meeting, states: list[str]) -> None:
        row = self.world.meetings[meeting.id]
        day = row.local_day
        members = sorted(uid for (gid, uid) in self.world.memberships
                         if gid == row.group_id and inv.is_member_on(self.world, gid, uid, day))
        attendance = dict(zip(members, [*states, *["present"] * len(members)], strict=False))
        operation = {"scheduled": "record_meeting(held)", "held": "record_meeting(held->held)",
                     "cancelled": "record_meeting(cancelled->held)"}[meeting.status]
        if self.attempt(operation, lambda: meetings.record_meeting(
                self.coordinator, meeting, status="held", now=NOW, attendance=attendance)) and row.status != "held":
            # A correction of a held meeting's record keeps its leaders and time: it may not add a problem (the
            # checks above see any it adds), but one the meeting had before (its lead left since) is allowed.
            self.recorded_held.add(meeting.id)

    @precondition(has_meetings)
    @rule(slot=SLOTS, states=ATTENDANCE)
    def record_held(self, slot, states):
        self._record_held(self.meeting(slot), states)

    @rule(slot=SLOTS, states=ATTENDANCE)
    def record_a_ready_meeting_held(self, slot, states):
        """Aimed, so that feedback rounds open: a past scheduled meeting whose recording should be accepted."""
        ready = [mid for mid, m in sorted(self.world.meetings.items())
                 if m.status == "scheduled" and m.starts_at <= NOW and inv.could_be_held(self.world, mid)]
        if not ready:
            return self.skipped("record_meeting(held)")
        self._record_held(db.session.get(Meeting, ready[slot % len(ready)]), states)

    @rule(slot=SLOTS, states=ATTENDANCE, likely_accepted=st.booleans())
    def correct_cancelled_to_held(self, slot, states, likely_accepted):
        """Aimed: a correction back to held, where a clash or a membership may hide."""
        cancelled = sorted(mid for mid, m in self.world.meetings.items() if m.status == "cancelled")
        if likely_accepted:
            cancelled = [mid for mid in cancelled if inv.could_be_held(self.world, mid)] or cancelled
        if not cancelled:
            return self.skipped("record_meeting(cancelled->held)")
        self._record_held(db.session.get(Meeting, cancelled[slot % len(cancelled)]), states)

    @precondition(has_meetings)
    @rule(slot=SLOTS, by_record=st.booleans())
    def cancel_meeting(self, slot, by_record):
        meeting = self.meeting(slot)
        if not by_record:
            self.attempt("cancel_meeting", lambda: scheduling.cancel_meeting(
                self.coordinator, meeting, "Ward emergency"))
            return
        operation = {"scheduled": "record_meeting(cancelled)", "held": "record_meeting(held->cancelled)",
                     "cancelled": "record_meeting(cancelled->cancelled)"}[meeting.status]
        self.attempt(operation, lambda: meetings.record_meeting(
            self.coordinator, meeting, status="cancelled", now=NOW, cancel_reason="Nobody could come"))

    @rule(slot=SLOTS)
    def correct_held_to_cancelled(self, slot):
        held = sorted(mid for mid, m in self.world.meetings.items() if m.status == "held")
        if not held:
            return self.skipped("record_meeting(held->cancelled)")
        meeting = db.session.get(Meeting, held[slot % len(held)])
        if self.attempt("record_meeting(held->cancelled)", lambda: meetings.record_meeting(
                self.coordinator, meeting, status="cancelled", now=NOW, cancel_reason="Recorded by mistake")) and any(
                meeting.id in ids for ids in self.world.round_sets.values()):
            CHECKS["held meetings inside a round corrected to cancelled"] += 1

    # --- programme --------------------------------------------------------------------------

    @rule(group=GROUPS, person=PERSONS, joined_on=JOINED)
    def add_member(self, group, person, joined_on):
        self.attempt("add_member", lambda: programme.add_member(
            self.coordinator, self.group(group), self.user(person), joined_on=joined_on))

    @rule(slot=SLOTS, left_on=LEFT)
    def end_membership(self, slot, left_on):
        membership = self.pick(sa.select(Membership).where(Membership.left_on.is_(None)).order_by(Membership.id),
                               slot)
        if membership is None:
            return self.skipped("end_membership")
        self.attempt("end_membership", lambda: programme.end_membership(self.coordinator, membership, left_on))

    @rule(add=st.booleans(), group=GROUPS, person=LEADS, slot=SLOTS)
    def change_group_leaders(self, add, group, person, slot):
        if add:
            self.attempt("add_group_leader", lambda: programme.add_group_leader(
                self.coordinator, self.group(group), self.user(person)))
            return
        leader = self.pick(sa.select(GroupLeader).order_by(GroupLeader.id), slot)
        if leader is None:
            return self.skipped("remove_group_leader")
        self.attempt("remove_group_leader", lambda: programme.remove_group_leader(self.coordinator, leader))

    # --- people and training ----------------------------------------------------------------

    @rule(person=PERSONS, level=LEVELS, completed_on=COMPLETED, valid_until=VALID_UNTIL, verified=st.booleans())
    def add_training_record(self, person, level, completed_on, valid_until, verified):
        self.attempt("add_training_record", lambda: accounts.add_training_record(
            self.coordinator, self.user(person), kind="Balint leader training", level=level, issuer="Balint Society",
            completed_on=completed_on, valid_until=valid_until, verified=verified))

    def _record(self, slot: int, operation: str) -> TrainingRecord | None:
        record = self.pick(sa.select(TrainingRecord).order_by(TrainingRecord.id), slot)
        if record is None:
            self.skipped(operation)
        return record

    @rule(slot=SLOTS, valid_until=VALID_UNTIL, level=st.none() | LEVELS)
    def update_training_record(self, slot, valid_until, level):
        """E.g. valid_until moved earlier, or the level corrected."""
        record = self._record(slot, "update_training_record")
        if record is not None:
            fields = {"valid_until": valid_until} | ({"level": level} if level else {})
            self.attempt("update_training_record", lambda: accounts.update_training_record(
                self.coordinator, record, **fields))

    @rule(slot=SLOTS)
    def unverify_training_record(self, slot):
        record = self._record(slot, "unverify_training_record")
        if record is None:
            return
        unverify = getattr(accounts, "unverify_training_record", None)
        if unverify is not None:
            self.attempt("unverify_training_record", lambda: unverify(self.coordinator, record))
        else:  # no service of its own: any edit of a verified record withdraws the verification
            self.attempt("unverify_training_record(by edit)", lambda: accounts.update_training_record(
                self.coordinator, record, note=f"checked again {len(record.note or '')}"))

    @rule(slot=SLOTS)
    def verify_training_record(self, slot):
        record = self._record(slot, "verify_training_record")
        if record is not None:
            self.attempt("verify_training_record", lambda: accounts.verify_training_record(self.coordinator, record))

    @rule(slot=SLOTS)
    def delete_training_record(self, slot):
        record = self._record(slot, "delete_training_record")
        if record is not None:
            self.attempt("delete_training_record", lambda: accounts.delete_training_record(self.coordinator, record))

    @rule(person=LEADS, leader=st.booleans())
    def set_roles(self, person, leader):
        """The leader role taken away or given back."""
        self.attempt("set_roles(+leader)" if leader else "set_roles(-leader)", lambda: accounts.set_roles(
            self.coordinator, self.user(person), ["leader", "member"] if leader else ["member"]))

    @rule(person=LEADS, active=st.booleans())
    def set_active(self, person, active):
        self.attempt(f"set_active({active})", lambda: accounts.set_active(self.coordinator, self.user(person), active))

    # --- the invariants ---------------------------------------------------------------------

    def unflagged(self, world: inv.World, changed: set[int]) -> list[inv.Breach]:
        """Meetings left with a no-longer-eligible leader must carry the app's flag (when the app has one)."""
        flag = getattr(scheduling, "problems_for", None)
        suspects = [mid for mid in inv.scheduled_with_ineligible_leaders(world) if mid not in changed]
        if flag is None:
            CHECKS["scheduled meetings left with an ineligible leader, NOT checked (no scheduling.problems_for)"] += (
                len(suspects))
        if flag is None or not suspects:
            return []
        CHECKS["scheduled meetings left with an ineligible leader, checked for the app's flag"] += len(suspects)
        found = flag(db.session.scalars(sa.select(Meeting).where(Meeting.id.in_(suspects))).all())
        flagged = {mid: {p.user_id for p in problems} for mid, problems in found.items()}
        db.session.rollback()
        return inv.unflagged_breaches(world, changed, flagged)

    @invariant()
    def every_invariant_holds(self):
        db.session.rollback()  # read what was committed, in a fresh transaction
        before, after = self.world, inv.load_world(db.session)
        changed = set(self.recorded_held)
        for mid in after.meetings:
            if (mid not in before.meetings or before.signature(mid) != after.signature(mid)
                    or after.leader_pairs(mid) ^ before.leader_pairs(mid)):
                changed.add(mid)
        new_rounds = set(after.rounds) - self.rounds_seen
        CHECKS["states checked"] += 1
        CHECKS["meetings judged for eligibility after a step changed them"] += len(
            [mid for mid in changed if after.meetings[mid].status in inv.LIVE and after.leaders.get(mid)])
        CHECKS["rounds opened"] += len(new_rounds)
        breaches = (inv.leader_breaches(after) + inv.changed_meeting_breaches(after, changed)
                    + inv.round_breaches(after, new_rounds) + self.unflagged(after, changed))
        if self.refused and before.fingerprint() != after.fingerprint():
            breaches.append(inv.Breach(inv.REFUSAL_CHANGES_NOTHING, f"{self.refused} was refused but changed data"))
        self.world, self.recorded_held, self.refused = after, set(), None
        self.rounds_seen |= set(after.rounds)
        breaches = [b for b in breaches if b.code not in IGNORED]
        for breach in breaches:
            event(f"breach: {breach.code}")
        assert not breaches, "\n".join(str(b) for b in breaches)


def _table(elapsed: float) -> str:
    operations = sorted({op for op, _ in COUNTS})
    lines = [f"Stateful meeting invariants on {db.engine.dialect.name}: {EXAMPLES} examples x {STEPS} steps, "
             f"{elapsed:.1f} s"]
    for op in operations:
        outcomes = {outcome: n for (name, outcome), n in COUNTS.items() if name == op}
        accepted = outcomes.pop("accepted", 0)
        others = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items(), key=lambda kv: -kv[1]))
        lines.append(f"  {op:38} {accepted:5} accepted  {others}")
    lines.extend(f"  checks: {n} {what}" for what, n in CHECKS.items())
    return "\n".join(lines)


def test_random_sequences_of_operations_keep_every_meeting_invariant(app, capsys):
    COUNTS.clear()
    CHECKS.clear()
    MeetingInvariants.app = app
    # In CI the examples are the same on every run (a red build must be reproducible, not a dice roll).
    in_ci = {"derandomize": True, "database": None} if os.environ.get("CI") else {}
    started = clock.monotonic()
    try:
        run_state_machine_as_test(MeetingInvariants, settings=settings(
            max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much], **in_ci,
        ))
    finally:
        with app.app_context():
            report = _table(clock.monotonic() - started)
        if os.environ.get("STATEFUL_COUNTS_FILE"):
            with open(os.environ["STATEFUL_COUNTS_FILE"], "a", encoding="utf-8") as out:
                out.write(report + "\n\n")
        with capsys.disabled():
            print("\n" + report)
    # Enough examples to exercise every operation: each one was accepted at least once.
    accepted = {op for (op, outcome) in COUNTS if outcome == "accepted"}
    never = sorted(op for op in EXPECTED_OPERATIONS if not any(name.startswith(op) for name in accepted))
    assert not never, f"operations never accepted: {never}"


# --- the checks themselves can fail ------------------------------------------------------------

def _world(*meetings, leaders=None, trained=(), members=None, rounds=None, interval=2) -> inv.World:
    """A world built by hand: meetings as (id, status, local start, minutes) of group 1; person 1 is "lena"."""
    world = inv.World(active={1: True, 2: True}, names={1: "lena", 2: "kurt"}, intervals={1: interval})
    for mid, status, start, minutes in meetings:
        starts_at = start.replace(tzinfo=inv.LOCAL).astimezone(UTC).replace(tzinfo=None)
        world.meetings[mid] = inv.MeetingRow(mid, 1, status, starts_at, starts_at + timedelta(minutes=minutes))
    world.leaders.update(leaders or {})
    for uid, level, valid_until in trained:
        world.records[uid].append(inv.Record(level, LONG_AGO, valid_until, True))
    world.memberships.update(members or {})
    for rid, (number, meeting_ids, notice) in (rounds or {}).items():
        world.rounds[rid] = (1, number, notice)
        world.round_sets[rid] = list(meeting_ids)
    return world


MON_2330, TUE_0030, MON_0900 = datetime(2031, 3, 3, 23, 30), datetime(2031, 3, 4, 0, 30), datetime(2031, 3, 3, 9)


@pytest.mark.parametrize(("world", "code"), [
    (_world((1, "held", MON_0900, 60)), inv.ONE_LEAD_WHEN_HELD),
    (_world((1, "scheduled", MON_0900, 60), leaders={1: [(1, "lead"), (2, "lead")]}), inv.AT_MOST_ONE_PER_ROLE),
    # 23:30 + 90 minutes runs into the 00:30 meeting of the next day
    (_world((1, "scheduled", MON_2330, 90), (2, "held", TUE_0030, 60), leaders={1: [(1, "co_lead")], 2: [(1, "lead")]}),
     inv.NO_DOUBLE_BOOKING),
    # a member from Tuesday leads the 00:30 Tuesday meeting (16:30 UTC on Monday)
    (_world((1, "scheduled", TUE_0030, 60), leaders={1: [(1, "lead")]}, members={(1, 1): [(TUE, None)]}),
     inv.LEADER_NOT_MEMBER),
], ids=["held without lead", "two leads", "overlap across midnight", "member on the local date"])
def test_the_leader_checks_report_each_breach_under_its_code(world, code):
    assert [b.code for b in inv.leader_breaches(world)] == [code]


def test_the_leader_checks_pass_a_cancelled_overlap_and_a_membership_that_ended_the_day_before():
    world = _world((1, "cancelled", MON_2330, 90), (2, "held", TUE_0030, 60),
                   leaders={1: [(1, "lead")], 2: [(1, "lead")]}, members={(1, 1): [(LAST_YEAR, MON)]})
    assert inv.leader_breaches(world) == []


def test_the_eligibility_check_uses_the_local_date_of_a_meeting_just_after_midnight():
    """Training valid until Monday does not cover the 00:30 Tuesday meeting, although it is Monday in UTC."""
    world = _world((1, "scheduled", MON_2330, 60), (2, "scheduled", TUE_0030, 60),
                   leaders={1: [(1, "lead")], 2: [(1, "lead")]}, trained=[(1, "leader", MON)])
    assert world.meetings[2].starts_at.date() == MON
    assert inv.changed_meeting_breaches(world, {1}) == []
    assert [b.code for b in inv.changed_meeting_breaches(world, {2})] == [inv.ELIGIBLE_WHEN_CHANGED]


def test_a_trainee_co_lead_needs_a_lead_qualified_on_that_day():
    trained = [(1, "training_leader", MON), (1, "leader_in_training", None), (2, "leader_in_training", None)]
    world = _world((1, "scheduled", TUE_0030, 60), leaders={1: [(1, "lead"), (2, "co_lead")]}, trained=trained)
    codes = sorted(b.code for b in inv.changed_meeting_breaches(world, {1}))
    assert codes == [inv.ELIGIBLE_WHEN_CHANGED, inv.TRAINEE_BESIDE_QUALIFIED]
    assert [uid for uid, _text in inv.eligibility_breaches(world, 1)] == [1, 2]
    assert inv.unflagged_breaches(world, set(), {1: {1, 2}}) == []
    assert [b.code for b in inv.unflagged_breaches(world, set(), {1: {1}})] == [inv.FLAGGED_WHEN_INELIGIBLE]


@pytest.mark.parametrize(("rounds", "statuses", "new", "code"), [
    ({}, "HH", set(), inv.ROUND_OPENS_WHEN_DUE),
    ({7: (2, [1, 2], None)}, "HH", set(), inv.ROUNDS_NUMBERED),
    ({7: (1, [1], None)}, "HS", set(), inv.ROUND_SIZE),
    ({7: (1, [1, 2], None)}, "HS", {7}, inv.ROUND_SIZE),
    ({7: (1, [1, 2], None), 8: (2, [2, 3], None)}, "HHH", set(), inv.ROUNDS_DISJOINT),
    ({7: (1, [1, 2], None)}, "HC", set(), inv.ROUND_CORRECTION_NOTICE),
], ids=["no round for a full set", "numbering gap", "too small", "opened over a scheduled meeting", "overlapping sets",
        "correction without notice"])
def test_the_round_checks_report_each_breach_under_its_code(rounds, statuses, new, code):
    status = {"H": "held", "S": "scheduled", "C": "cancelled"}
    world = _world(*[(i + 1, status[c], MON_0900 + timedelta(hours=i), 60) for i, c in enumerate(statuses)],
                   rounds=rounds)
    assert code in [b.code for b in inv.round_breaches(world, new)]


def test_the_round_checks_pass_a_round_with_a_noted_correction_and_one_uncovered_meeting():
    statuses = ["held", "cancelled", "held"]
    world = _world(*[(i + 1, s, MON_0900 + timedelta(hours=i), 60) for i, s in enumerate(statuses)],
                   rounds={7: (1, [1, 2], "2")})
    assert inv.round_breaches(world, set()) == []


def test_the_world_is_read_from_the_database_as_the_services_wrote_it(db):
    org = programme.create_organisation(None, name="Check Hospital")
    group = programme.create_group(None, organisation_id=org.id, name="Check group", feedback_interval=3)
    coordinator = accounts.create_user(None, email="c@example.org", name="c", roles=["coordinator"])
    lena = accounts.create_user(None, email="lena@example.org", name="lena", roles=["leader"])
    accounts.add_training_record(coordinator, lena, kind="k", level="leader", issuer="i", completed_on=LONG_AGO,
                                 valid_until=TUE, verified=True)
    meeting = scheduling.add_extra_meeting(None, group, day=TUE, at=time(0, 30))
    scheduling.assign_leaders(None, meeting, lena)
    world = inv.load_world(db.session)
    assert world.meetings[meeting.id].local_day == TUE
    assert world.leaders == {meeting.id: [(lena.id, "lead")]}
    assert world.records[lena.id] == [inv.Record("leader", LONG_AGO, TUE, True)]
    assert world.intervals == {group.id: 3}
    assert world.leader_role == {lena.id}
    assert inv.leader_breaches(world) == inv.changed_meeting_breaches(world, {meeting.id}) == []
