"""Benchmark data: a realistic Balint-group programme, built through the app's services and bulk inserts.

Two named scales: `hospital` (1 organisation, 50 groups, 10 years ending today; SQLite) and `city`
(40 organisations, 1,000 groups, 10 years; PostgreSQL). A size factor shrinks the groups and the years
together (hospital at 0.1: 5 groups x 1 year; never fewer than 2 groups and 1 year).

The small, rule-heavy parts go through the services: the programme-wide coordinator, organisations, the
shipped questionnaire and themes, the benchmark personas (their training, membership and calendar feed),
groups, standing leaders and schedule rules. Everything that grows with time is simulated by the same rules
and written in bulk (COPY on PostgreSQL): people (one argon2 hash shared by all), training records,
memberships, twice-monthly meetings placed by the group's rule and China's holiday calendar, their leaders
(verified, unexpired training; never two overlapping meetings; never a member of the group), records,
attendance, themes, the feedback rounds the five-meeting rule opens, and anonymous responses (random ids,
shuffled apart from the completions, no user and no time) with their completions.

    python -m bench.generate --scale hospital --factor 1.0 \\
        --database-url sqlite:///bench/data/hospital.db --manifest bench/data/hospital.json
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "bench" / "data"
DEFAULT_URLS = {
    "hospital": f"sqlite:///{DATA_DIR / 'hospital.db'}",
    "city": "postgresql+psycopg://postgres@127.0.0.1:5432/bench",
}


@dataclass(frozen=True)
class Scale:
    """A named size: organisations, groups and years of history at factor 1."""

    organisations: int
    groups: int
    years: int


SCALES = {"hospital": Scale(1, 50, 10), "city": Scale(40, 1000, 10)}
PASSWORD = "balint-bench-2026"  # every generated person's password (one hash, shared)
BURST_SIZE = 400  # members who can each submit one open round once, at factor 1
EMAIL_DOMAIN = "bench.test"
COORDINATOR_EMAIL = f"coordinator@{EMAIL_DOMAIN}"
LEADER_EMAIL = f"leader@{EMAIL_DOMAIN}"
MEMBER_EMAIL = f"member@{EMAIL_DOMAIN}"
LEADER_GROUP = 0  # group indexes of the personas: both have the full history
MEMBER_GROUP = 1

INTERVAL = 5  # the groups keep the default feedback interval: every round covers five held meetings
# Start times far enough apart that a leader's meetings in two slots never overlap (meetings last <= 90 min).
SLOT_TIMES = (clock(12, 30), clock(14, 30), clock(16, 30), clock(18, 30))
FUTURE_DAYS = 90  # meetings scheduled ahead of today
CANCEL_RATE = 0.05
BATCH_GROUPS = 25  # groups written per transaction
CHUNK = 5000  # rows per INSERT on SQLite

CANCEL_REASONS = (
    "Leader on emergency duty",
    "Too few members available: night shifts after the flu wave",
    "Hospital-wide accreditation inspection",
    "Staff training day",
    "Heavy snow warning: the meeting room building closed",
    "Both leaders ill",
)
EXTRA_COMMENTS = (
    "Talking about the case let me sleep again after weeks of going over it.",
    "I understand my colleagues in other departments better now.",
    "More nurses should be able to come; the shift plan makes it hard.",
    "The online meetings feel more distant than the ones in the room.",
)
SURNAMES = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma", "Zhu",
            "Hu", "Guo", "He", "Gao", "Lin", "Luo", "Zheng", "Liang", "Xie", "Song", "Tang", "Han", "Feng", "Deng",
            "Cao", "Peng")
GIVEN_NAMES = ("Wei", "Fang", "Na", "Min", "Jing", "Li", "Qiang", "Lei", "Jun", "Yang", "Yong", "Yan", "Jie", "Tao",
               "Ming", "Chao", "Xiu", "Xia", "Ping", "Gang", "Hui", "Hong", "Bo", "Lan", "Hua", "Yu", "Ting", "Xin",
               "Hao", "Yun", "Jia", "Rui", "Lu", "Shan", "Qing")
DEPARTMENTS = ("Paediatric ICU", "Neonatology", "Emergency", "Oncology", "Haematology", "Cardiology", "Neurology",
               "Nephrology", "Respiratory", "Surgery", "Orthopaedics", "Obstetrics", "Gynaecology", "Geriatrics",
               "General Practice", "Infectious Diseases", "Outpatients", "Anaesthesiology", "Palliative Care",
               "Endocrinology", "Gastroenterology", "Rehabilitation", "Dermatology", "Ophthalmology", "ENT",
               "Psychiatry", "Intensive Care", "Radiology", "Paediatrics", "Traditional Chinese Medicine")
LEADER_DEPARTMENTS = ("Psychiatry", "Medical Psychology", "Psychosomatic Medicine", "Psychology", "General Practice")
DISTRICTS = ("Dongcheng", "Xicheng", "Chaoyang", "Haidian", "Fengtai", "Shijingshan", "Tongzhou", "Shunyi",
             "Changping", "Daxing", "Fangshan", "Mentougou", "Huairou", "Pinggu", "Miyun", "Yanqing")
ORG_KINDS = (  # (name pattern, kind, how many groups it tends to run)
    ("{} District Hospital", "hospital", 3.0),
    ("{} Maternal and Child Health Hospital", "hospital", 2.0),
    ("{} Hospital of Traditional Chinese Medicine", "hospital", 1.5),
    ("Community Health Centre, {}", "other", 0.7),
)


# --- the plan ----------------------------------------------------------------------------------

@dataclass
class Person:
    """Someone the generator creates: traits steer their attendance, participation and ratings."""

    id: int
    email: str
    name: str
    profession: str
    department: str
    org: int  # organisation index
    roles: tuple[str, ...]
    created_at: datetime
    bulk: bool = True  # False for the personas, made through the services
    coordinator_org: int | None = None
    active: bool = True
    locale: str | None = None
    attend: float = 0.0
    answer: float = 0.0
    level: float = 0.0
    last_left: date | None = None
    current: bool = False


@dataclass
class LeaderPlan:
    """A trained leader: the start-time slots taken (one group per slot, so never two meetings at once)."""

    person: Person
    level: str
    slots: set[int] = field(default_factory=set)
    first_day: date | None = None


@dataclass
class Tenure:
    """One membership: from the day a member joined to the day they left (None: still a member)."""

    user_id: int
    joined: date
    left: date | None
    bulk: bool = True


@dataclass
class GroupPlan:
    """A group, its rule, leaders and members over the years, and the tendencies of its history."""

    index: int
    org: int
    name: str
    capacity: int
    mode: str
    location: str | None
    video_link: str | None
    duration: int
    window: int
    slot: int
    kind: str
    weekday: int
    weeks: tuple[int, ...]
    policy: str
    first_day: date
    lead: LeaderPlan
    co_lead: LeaderPlan | None
    tenures: list[Tenure] = field(default_factory=list)
    attend: float = 0.8
    answer: float = 0.7
    base: float = 0.6
    slope: float = 0.0
    offsets: dict[str, float] = field(default_factory=dict)
    id: int = 0


@dataclass
class SimMeeting:
    """One meeting as the history made it."""

    day: date
    nominal: date
    holiday: str | None
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    uid: str
    status: str = "scheduled"
    updated_at: datetime | None = None
    edited: bool = False
    sequence: int = 1  # leaders were assigned when the series was generated
    cancel_reason: str | None = None
    record: tuple | None = None  # (started_at, duration, presenter_id, summary, guests, recorded_at)
    attendance: list[tuple[int, str]] = field(default_factory=list)
    themes: list[int] = field(default_factory=list)
    id: int = 0


@dataclass
class SimRound:
    """A round the five-meeting rule opened: its meetings, window and eligible members."""

    number: int
    meetings: list[SimMeeting]
    opens_at: datetime
    closes_at: datetime
    eligible: list[int]
    id: int = 0


@dataclass
class History:
    """A group's simulated meetings and the rounds they opened."""

    meetings: list[SimMeeting]
    rounds: list[SimRound]


@dataclass
class Context:
    """Everything the simulation reads: the clock, sizes, ids made by the services and the plan."""

    scale: str
    factor: float
    seed: int
    now: datetime
    today: date
    start: date
    until: date
    years: int
    organisations: int
    groups: int
    burst_target: int
    shared_hash: str = ""
    coordinator_id: int = 0
    org_ids: list[int] = field(default_factory=list)
    instrument_id: int = 0
    definition: object = None
    theme_ids: list[int] = field(default_factory=list)
    calendar: object = None
    org_weights: list[float] = field(default_factory=list)
    leader_persona: Person | None = None
    member_persona: Person | None = None
    leader_plan: LeaderPlan | None = None
    people: dict[int, Person] = field(default_factory=dict)
    leaders: list[LeaderPlan] = field(default_factory=list)
    plans: list[GroupPlan] = field(default_factory=list)
    extended: dict[int, datetime] = field(default_factory=dict)  # group index -> new closing time of its last round
    reserved: dict[int, set[int]] = field(default_factory=dict)  # group index -> burst members of its last round
    burst: list[tuple[int, int]] = field(default_factory=list)  # (user id, group index)


def _clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return low if value < low else high if value > high else value


def _uid(rng: random.Random) -> str:
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def sizes(scale: str, factor: float) -> tuple[int, int, int]:
    """(organisations, groups, years) of a scale at a factor: groups and years shrink together."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; use one of {', '.join(SCALES)}")
    if not factor > 0:
        raise ValueError("the factor must be positive")
    base = SCALES[scale]
    return (max(1, round(base.organisations * factor)), max(2, round(base.groups * factor)),
            max(1, round(base.years * factor)))


def _name(rng: random.Random) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(GIVEN_NAMES)}{rng.choice(('', '', rng.choice(GIVEN_NAMES).lower()))}"


class Planner:
    """Plans people, leaders, groups and memberships (ids assigned from the tables' next free ids)."""

    def __init__(self, ctx: Context, next_user_id: int):
        self.ctx = ctx
        self.rng = random.Random(f"{ctx.seed}/plan")
        self.next_user_id = next_user_id
        self.members_by_org: dict[int, list[int]] = {}
        self.counters = {"member": 0, "leader": 0}
        self.leaders_by_org: dict[int, list[LeaderPlan]] = {}

    def _person(self, email: str, org: int, roles: tuple[str, ...], profession: str, department: str,
                created: date) -> Person:
        rng = self.rng
        person = Person(
            id=self.next_user_id, email=email, name=_name(rng), profession=profession, department=department,
            org=org, roles=roles,
            created_at=datetime.combine(created, clock(9)) + timedelta(minutes=rng.randint(0, 480)),
            locale=rng.choice((None, "zh_CN", "zh_CN")), attend=rng.gauss(0, 0.08), answer=rng.gauss(0, 0.15),
            level=rng.gauss(0, 0.12),
        )
        self.next_user_id += 1
        self.ctx.people[person.id] = person
        return person

    def new_member(self, org: int, day: date) -> Person:
        self.counters["member"] += 1
        profession = self.rng.choices(("nurse", "physician", "psychologist", "other"), weights=(45, 40, 5, 10))[0]
        person = self._person(f"member{self.counters['member']:05d}@{EMAIL_DOMAIN}", org, ("member",), profession,
                              self.rng.choice(DEPARTMENTS), day - timedelta(days=self.rng.randint(1, 40)))
        self.members_by_org.setdefault(org, []).append(person.id)
        return person

    def new_leader(self, org: int, level: str, day: date) -> LeaderPlan:
        self.counters["leader"] += 1
        profession = self.rng.choices(("physician", "psychologist", "nurse"), weights=(55, 35, 10))[0]
        person = self._person(f"leader{self.counters['leader']:04d}@{EMAIL_DOMAIN}", org, ("leader",), profession,
                              self.rng.choice(LEADER_DEPARTMENTS), day - timedelta(days=self.rng.randint(60, 400)))
        plan = LeaderPlan(person, level)
        self.leaders_by_org.setdefault(org, []).append(plan)
        self.ctx.leaders.append(plan)
        return plan

    def coordinators(self) -> None:
        """One coordinator per organisation, limited to it (only where there are several organisations)."""
        if self.ctx.organisations < 2:
            return
        for org in range(self.ctx.organisations):
            person = self._person(f"coordinator{org + 1:02d}@{EMAIL_DOMAIN}", org, ("coordinator",), "psychologist",
                                  "Staff wellbeing office", self.ctx.start - timedelta(days=30))
            person.coordinator_org = org

    def _leader(self, org: int, slot: int, level: str, day: date, exclude: LeaderPlan | None = None) -> LeaderPlan:
        """A leader of this level free in the slot (most lead one to three groups), else a new one."""
        qualified = level != "leader_in_training"
        pool = [p for p in self.leaders_by_org.get(org, [])
                if (p.level != "leader_in_training") == qualified and slot not in p.slots and len(p.slots) < 3
                and p is not exclude]
        if pool and self.rng.random() < 0.65:
            return self.rng.choice(pool)
        if qualified:
            level = self.rng.choices(("leader", "training_leader"), weights=(80, 20))[0]
        return self.new_leader(org, level, day)

    def groups(self) -> None:
        ctx, rng = self.ctx, self.rng
        weights = ctx.org_weights
        orgs = [0, 0] + list(range(ctx.organisations))
        orgs += rng.choices(range(ctx.organisations), weights=weights, k=max(0, ctx.groups - len(orgs)))
        orgs = orgs[:ctx.groups]
        span = (ctx.today - ctx.start).days
        names: dict[int, set[str]] = {}
        for index, org in enumerate(orgs):
            full = index in (LEADER_GROUP, MEMBER_GROUP) or rng.random() < 0.8
            first_day = ctx.start + timedelta(days=rng.randint(0, 20) if full else rng.randint(0, int(span * 0.6)))
            department = rng.choice(DEPARTMENTS)
            name, n = f"{department} Balint group", 1
            while name in names.setdefault(org, set()):
                n += 1
                name = f"{department} Balint group {n}"
            names[org].add(name)
            mode = rng.choices(("onsite", "online", "hybrid"), weights=(70, 15, 15))[0]
            slot = rng.randrange(len(SLOT_TIMES))
            lead = ctx.leader_plan if index == LEADER_GROUP else self._leader(org, slot, "leader", first_day)
            co_lead = None
            if rng.random() < 0.6:
                co_level = "leader_in_training" if rng.random() < 0.5 else "leader"
                co_lead = self._leader(org, slot, co_level, first_day, exclude=lead)
            for plan in (lead, co_lead):
                if plan is not None:
                    plan.slots.add(slot)
                    plan.first_day = min(plan.first_day or first_day, first_day)
            kind = "nth_weekday" if rng.random() < 0.9 else "biweekly"
            group = GroupPlan(
                index=index, org=org, name=name, capacity=rng.choice((10, 10, 12)), mode=mode,
                location=None if mode == "online" else f"Staff wellbeing room, building {rng.randint(1, 12)}",
                video_link=None if mode == "onsite" else f"https://meeting.example.invalid/balint-{index + 1}",
                duration=rng.choice((60, 75, 90, 90, 90)), window=rng.choices((14, 21), weights=(85, 15))[0],
                slot=slot, kind=kind, weekday=rng.randrange(5), weeks=rng.choice(((1, 3), (2, 4), (1, 3), (2, -1))),
                policy=rng.choices(("move", "skip", "keep"), weights=(80, 12, 8))[0], first_day=first_day,
                lead=lead, co_lead=co_lead, attend=rng.uniform(0.72, 0.9), answer=rng.uniform(0.55, 0.85),
                base=rng.uniform(0.45, 0.72), slope=_clamp(rng.gauss(0.05, 0.2), -0.4, 0.4),
                offsets={sub.code: rng.gauss(0, 0.07) for sub in ctx.definition.subscales},
            )
            self._members(group)
            ctx.plans.append(group)

    def _members(self, group: GroupPlan) -> None:
        """About eight seats; each seat's members come and go over the years (a few sit in two groups)."""
        ctx, rng = self.ctx, self.rng
        in_group: set[int] = set()
        for seat in range(rng.choice((7, 8, 8, 8, 9))):
            day = group.first_day - timedelta(days=rng.randint(0, 20))
            while day <= ctx.today:
                if seat == 0 and group.index == MEMBER_GROUP:
                    person, length = ctx.member_persona, None
                else:
                    person = self._existing(group.org, in_group, day) if rng.random() < 0.12 else None
                    person = person or self.new_member(group.org, day)
                    length = max(120, int(rng.expovariate(1 / (4 * 365))))
                left = None if length is None or day + timedelta(days=length) >= ctx.today else \
                    day + timedelta(days=length)
                group.tenures.append(Tenure(person.id, day, left, bulk=person.bulk))
                in_group.add(person.id)
                if left is None:
                    person.current = True
                    break
                person.last_left = max(person.last_left or left, left)
                day = left + timedelta(days=rng.randint(1, 45))

    def _existing(self, org: int, in_group: set[int], day: date) -> Person | None:
        """A member of another group of the organisation who also joins this one (never twice the same group)."""
        pool = self.members_by_org.get(org, [])
        for _ in range(5):
            if not pool:
                return None
            person = self.ctx.people[self.rng.choice(pool)]
            if person.id not in in_group and person.created_at.date() < day:
                return person
        return None

    def finish(self) -> None:
        """Former members who left more than a year ago: about half have been deactivated."""
        for person in self.ctx.people.values():
            if (person.bulk and "member" in person.roles and not person.current and person.last_left
                    and person.last_left < self.ctx.today - timedelta(days=365) and self.rng.random() < 0.5):
                person.active = False


# --- simulating a group's history --------------------------------------------------------------

def simulate(ctx: Context, group: GroupPlan) -> History:
    """The group's meetings from its first day to FUTURE_DAYS ahead, records, attendance and rounds.

    Dates come from the group's rule and holiday policy (the app's own `scheduling.rules.plan`), times are
    naive UTC as `to_utc` stores them; a past meeting is held (recorded a little after it ended) or, now
    and then, cancelled; the record that completes a set of five held meetings opens a round at that
    moment. Deterministic for a seed and group.
    """
    from app.demo import SUMMARIES
    from app.scheduling import rules as schedule_rules
    from app.timeutil import to_utc

    rng = random.Random(f"{ctx.seed}/history/{group.index}")
    nth = group.kind == "nth_weekday"
    rule = schedule_rules.Rule(kind=group.kind, weekday=group.weekday, weeks=group.weeks if nth else (),
                               start=None if nth else group.first_day)
    plan = schedule_rules.plan(rule, group.first_day, ctx.until, group.policy, ctx.calendar)
    length = timedelta(minutes=group.duration)
    seats = [(t.user_id, t.joined, t.left) for t in group.tenures]
    member_id = ctx.member_persona.id
    recent = ctx.today - timedelta(days=200)
    created_floor = datetime.combine(group.first_day - timedelta(days=30), clock(8))
    meetings: list[SimMeeting] = []
    rounds: list[SimRound] = []
    uncovered: list[SimMeeting] = []
    for planned in plan.dates:
        if planned.actual is None:
            continue
        starts_at = to_utc(planned.actual, SLOT_TIMES[group.slot])
        ends_at = starts_at + length
        created = min(max(starts_at - timedelta(days=rng.randint(20, 170), minutes=rng.randint(0, 600)),
                          created_floor), ctx.now - timedelta(hours=rng.randint(2, 300)))
        meeting = SimMeeting(day=planned.actual, nominal=planned.nominal, holiday=planned.holiday,
                             starts_at=starts_at, ends_at=ends_at, created_at=created, updated_at=created,
                             uid=f"{_uid(rng)}@balint-groups")
        meetings.append(meeting)
        if starts_at > ctx.now:
            continue
        if rng.random() < CANCEL_RATE:
            meeting.status, meeting.sequence = "cancelled", 2
            meeting.cancel_reason = rng.choice(CANCEL_REASONS)
            if rng.random() < 0.6:  # cancelled ahead through the schedule page
                meeting.edited = True
                meeting.updated_at = max(created, starts_at - timedelta(days=rng.randint(1, 10)))
            else:  # recorded as cancelled afterwards
                meeting.updated_at = min(ends_at + timedelta(hours=rng.randint(1, 30)), ctx.now)
            continue
        recorded_at = ends_at + timedelta(minutes=rng.randint(15, 2880))
        if recorded_at > ctx.now:
            continue  # held a moment ago; the leader has not recorded it yet
        present = []
        for user_id, joined, left in seats:
            if joined > planned.actual or (left is not None and left < planned.actual):
                continue
            if user_id == member_id and planned.actual >= recent:
                here = True
            else:
                here = rng.random() < _clamp(group.attend + ctx.people[user_id].attend, 0.25, 0.98)
            status = "present" if here else ("absent" if rng.random() < 0.6 else "excused")
            meeting.attendance.append((user_id, status))
            if here:
                present.append(user_id)
        presenter = rng.choice(present) if present and rng.random() < 0.92 else None
        summary = rng.choice(SUMMARIES) if rng.random() < 0.55 else None
        guests = rng.choices((0, 1, 2), weights=(88, 9, 3))[0]
        started = starts_at + timedelta(minutes=rng.choice((0, 0, 0, 2, 5, 8)))
        duration = group.duration + rng.choice((0, 0, 0, 0, -5, 5, 10))
        meeting.record = (started, duration, presenter, summary, guests, recorded_at)
        meeting.themes = rng.sample(ctx.theme_ids, k=min(len(ctx.theme_ids), rng.choice((0, 1, 1, 1, 2, 2, 3))))
        meeting.status, meeting.sequence, meeting.updated_at = "held", 2, recorded_at
        uncovered.append(meeting)
        if len(uncovered) == INTERVAL:  # the record that completes the set opens the round, at that moment
            eligible = sorted({uid for m in uncovered for uid, status in m.attendance if status == "present"})
            rounds.append(SimRound(len(rounds) + 1, uncovered, recorded_at,
                                   recorded_at + timedelta(days=group.window), eligible))
            uncovered = []
    return History(meetings, rounds)


def decide_burst(ctx: Context, latest: dict[int, SimRound], log: Callable[[str], None]) -> None:
    """Choose the open rounds the load test answers, and the members who answer them (each once).

    Rounds open now (closing at least two days ahead) come first; when they hold too few members a
    coordinator has extended the most recently closed last rounds of other groups. The member persona's
    group always has an open round, which the persona has not answered.
    """
    rng = random.Random(f"{ctx.seed}/burst")
    member_id = ctx.member_persona.id
    soon = ctx.now + timedelta(days=2)

    def new_closing() -> datetime:
        return (ctx.now + timedelta(days=rng.randint(5, 12), hours=rng.randint(0, 23))).replace(second=0,
                                                                                                  microsecond=0)

    candidates = [gi for gi in sorted(latest) if latest[gi].closes_at > soon]
    if MEMBER_GROUP in latest and MEMBER_GROUP not in candidates:
        ctx.extended[MEMBER_GROUP] = new_closing()
        candidates.append(MEMBER_GROUP)
    pool = {uid for gi in candidates for uid in latest[gi].eligible if uid != member_id}
    closed = sorted((gi for gi in latest if gi not in candidates), key=lambda gi: latest[gi].closes_at, reverse=True)
    while len(pool) < ctx.burst_target and closed:
        gi = closed.pop(0)
        ctx.extended[gi] = new_closing()
        candidates.append(gi)
        pool.update(uid for uid in latest[gi].eligible if uid != member_id)
    share = min(1.0, ctx.burst_target / len(pool)) if pool else 0.0
    chosen: dict[int, int] = {}
    for sweep in (share, 1.0):
        for gi in candidates:
            free = [uid for uid in latest[gi].eligible if uid != member_id and uid not in chosen]
            rng.shuffle(free)
            for uid in free[:math.ceil(sweep * len(free))]:
                if len(chosen) < ctx.burst_target:
                    chosen[uid] = gi
    ctx.burst = list(chosen.items())
    for uid, gi in ctx.burst:
        ctx.reserved.setdefault(gi, set()).add(uid)
    log(f"  burst: {len(ctx.burst)} members over {len(ctx.reserved)} open rounds "
        f"({len(candidates) - len(ctx.extended)} open now, {len(ctx.extended)} extended by the coordinator)")


# --- writing -------------------------------------------------------------------------------------

COLUMNS = {
    "users": ("id", "email", "name", "password_hash", "active", "profession", "department", "locale",
              "email_reminders", "organisation_id", "session_version", "created_at", "invited_at", "last_login_at"),
    "role_assignments": ("id", "user_id", "role", "organisation_id"),
    "training_records": ("id", "user_id", "kind", "level", "issuer", "completed_on", "valid_until", "verified_by_id",
                         "verified_at", "note", "created_at"),
    "memberships": ("id", "group_id", "user_id", "joined_on", "left_on"),
    "meetings": ("id", "group_id", "starts_at", "ends_at", "status", "mode", "location", "video_link", "rule_date",
                 "holiday_note", "edited", "sequence", "uid", "change_reason", "cancel_reason", "created_at",
                 "updated_at"),
    "meeting_leaders": ("id", "meeting_id", "user_id", "role"),
    "meeting_records": ("id", "meeting_id", "started_at", "duration_minutes", "mode", "presenter_id", "summary",
                        "guest_count", "recorded_by_id", "recorded_at", "updated_at"),
    "attendances": ("id", "meeting_id", "user_id", "status"),
    "meeting_themes": ("meeting_id", "theme_id"),
    "feedback_rounds": ("id", "group_id", "number", "status", "mode", "opens_at", "closes_at", "closed_at",
                        "instrument_id", "correction_notice"),
    "round_meetings": ("id", "round_id", "meeting_id"),
    "responses": ("id", "round_id", "instrument_id", "source", "profession"),
    "answers": ("response_id", "item_code", "value", "text", "review"),
    "response_scores": ("response_id", "subscale", "score", "answered", "missing"),
    "completions": ("round_id", "user_id"),
    "drafts": ("round_id", "user_id", "answers", "updated_at"),
    "notifications": ("id", "key", "kind", "user_id", "meeting_id", "round_id", "due_at", "status", "attempts",
                      "claimed_at", "sent_at", "error", "created_at"),
}
ORDER = tuple(COLUMNS)  # foreign keys point only to earlier tables (or to rows written before)


# Columns the database fills itself: each leader row's copy of its meeting's times and liveness (the triggers of
# migration 2026_12_06_meeting_leader_bookings keep them in step, on COPY and INSERT alike).
FILLED_BY_DATABASE = {"meeting_leaders": {"starts_at", "ends_at", "live"}}
# Columns the generated programme leaves to their default (NULL, or the server default): people's chat ids and
# channels (the programme default, e-mail), responses' self-generated codes (no generated instrument asks for one),
# and each notification's channel ('email') and platform error code.
LEFT_TO_DEFAULT = {
    "users": {"wecom_userid", "dingtalk_userid", "channels"},
    "responses": {"code"},
    "notifications": {"channel", "error_code"},
}


class Writer:
    """Buffers rows per table and writes them in the session's transaction: COPY on PostgreSQL, INSERT on SQLite."""

    def __init__(self, session):
        from app.extensions import db

        self.session = session
        self.dialect = session.get_bind().dialect.name
        self.tables = db.metadata.tables
        self.rows: dict[str, list[tuple]] = {name: [] for name in COLUMNS}
        self.counts: dict[str, int] = dict.fromkeys(COLUMNS, 0)
        for name, columns in COLUMNS.items():  # every column the table has (but those filled or left), no other
            filled = FILLED_BY_DATABASE.get(name, set()) | LEFT_TO_DEFAULT.get(name, set())
            assert set(columns) == {c.name for c in self.tables[name].columns} - filled, name

    def add(self, table: str, row: tuple) -> None:
        self.rows[table].append(row)

    def flush(self) -> None:
        connection = self.session.connection()
        for table in ORDER:
            rows = self.rows[table]
            if not rows:
                continue
            if self.dialect == "postgresql":
                self._copy(connection, table, rows)
            else:
                self._insert(connection, table, rows)
            self.counts[table] += len(rows)
            self.rows[table] = []

    def _copy(self, connection, table: str, rows: list[tuple]) -> None:
        columns = COLUMNS[table]
        json_columns = [i for i, name in enumerate(columns) if isinstance(self.tables[table].c[name].type, sa.JSON)]
        raw = connection.connection.driver_connection
        quoted = ", ".join(f'"{c}"' for c in columns)
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                if json_columns:
                    row = tuple(json.dumps(v) if i in json_columns else v for i, v in enumerate(row))
                copy.write_row(row)

    def _insert(self, connection, table: str, rows: list[tuple]) -> None:
        """The driver's executemany, with values as SQLAlchemy's SQLite types store them (text dates, 0/1, JSON)."""
        columns = COLUMNS[table]
        converters = [(i, _sqlite_converter(self.tables[table].c[name].type)) for i, name in enumerate(columns)]
        converters = [(i, convert) for i, convert in converters if convert is not None]
        quoted = ", ".join(f'"{c}"' for c in columns)
        statement = f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join("?" * len(columns))})'
        cursor = connection.connection.driver_connection.cursor()
        try:
            for start in range(0, len(rows), CHUNK):
                chunk = rows[start:start + CHUNK]
                if converters:
                    chunk = [_converted(row, converters) for row in chunk]
                cursor.executemany(statement, chunk)
        finally:
            cursor.close()


def _sqlite_converter(column_type) -> Callable | None:
    """How SQLAlchemy's SQLite dialect stores a value of this type (None: as the driver does)."""
    if isinstance(column_type, sa.DateTime):
        return lambda v: None if v is None else v.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(column_type, sa.Date):
        return lambda v: None if v is None else v.isoformat()
    if isinstance(column_type, sa.Boolean):
        return lambda v: None if v is None else int(v)
    if isinstance(column_type, sa.JSON):
        return lambda v: None if v is None else json.dumps(v)
    return None


def _converted(row: tuple, converters: list[tuple[int, Callable]]) -> tuple:
    values = list(row)
    for i, convert in converters:
        values[i] = convert(values[i])
    return tuple(values)


class Ids:
    """The next free id of each table with an integer key (the bulk rows carry their ids)."""

    def __init__(self, session, tables: Iterable[str]):
        self.next = {t: (session.execute(sa.text(f'SELECT MAX(id) FROM "{t}"')).scalar() or 0) + 1 for t in tables}

    def take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


# --- the phases --------------------------------------------------------------------------------

def _reset_schema(database_url: str, log: Callable[[str], None]) -> None:
    """Drop everything: delete the SQLite file, or drop and recreate PostgreSQL's public schema."""
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            path = Path(url.database)
            path.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"unsupported database {url.get_backend_name()!r}")
    if (url.database or "") == "test" or (url.database or "").startswith("test_"):
        raise ValueError("refusing to wipe a test database")
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    log(f"  dropped and recreated the public schema of {url.database}")


def _absolute(database_url: str) -> str:
    """SQLite paths as absolute paths (Flask-SQLAlchemy would read a relative one under instance/)."""
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return url.set(database=str(Path(url.database).resolve())).render_as_string(hide_password=False)
    return database_url


def _setup(ctx: Context, log: Callable[[str], None]) -> None:
    """Through the services: coordinator, organisations, questionnaire, themes, the leader and member personas."""
    from app.accounts import services as accounts
    from app.extensions import db
    from app.feedback.scoring import definition_from_dict
    from app.feedback.services import instruments
    from app.meetings import services as meetings
    from app.meetings.models import Theme
    from app.programme import services as programme
    from app.scheduling.holidays import ChinaCalendar

    coordinator = accounts.create_user(None, email=COORDINATOR_EMAIL, name="Zhao Min (coordinator)",
                                       roles=["coordinator"], password=PASSWORD, profession="psychologist",
                                       department="Staff wellbeing office")
    ctx.shared_hash, ctx.coordinator_id = coordinator.password_hash, coordinator.id
    rng = random.Random(f"{ctx.seed}/organisations")
    if ctx.organisations == 1:
        names = [("Beijing Municipal General Hospital", "hospital", 1.0)]
    else:  # every district with each kind of organisation in turn: the names never repeat
        names = [(pattern.format(DISTRICTS[i % len(DISTRICTS)]), kind, weight)
                 for i in range(ctx.organisations)
                 for pattern, kind, weight in [ORG_KINDS[(i // len(DISTRICTS) + i) % len(ORG_KINDS)]]]
        rng.shuffle(names)
    for name, kind, weight in names:
        ctx.org_ids.append(programme.create_organisation(coordinator, name=name, kind=kind).id)
        ctx.org_weights.append(weight)
    coordinator.organisation_id = ctx.org_ids[0]
    instrument = instruments.ensure_shipped_instrument()
    ctx.instrument_id, ctx.definition = instrument.id, definition_from_dict(instrument.definition)
    meetings.ensure_default_themes()
    ctx.theme_ids = list(db.session.scalars(sa.select(Theme.id).order_by(Theme.id)))
    ctx.calendar = ChinaCalendar.load(ctx.start - timedelta(days=40), ctx.until)

    leader = accounts.create_user(coordinator, email=LEADER_EMAIL, name="Dr Wang Lei", roles=["leader"],
                                  profession="physician", department="Psychiatry", organisation_id=ctx.org_ids[0])
    member = accounts.create_user(coordinator, email=MEMBER_EMAIL, name="Chen Jing", roles=["member"],
                                  profession="nurse", department="Paediatric ICU", organisation_id=ctx.org_ids[0])
    for person in (leader, member):
        person.password_hash = ctx.shared_hash  # the one hash every generated person shares
    accounts.add_training_record(coordinator, leader, kind="Balint group leader training", level="training_leader",
                                 issuer="Chinese Balint Federation", completed_on=ctx.start - timedelta(days=400),
                                 verified=True)
    db.session.flush()
    created = datetime.combine(ctx.start - timedelta(days=60), clock(10))
    ctx.leader_persona = Person(leader.id, LEADER_EMAIL, leader.name, "physician", "Psychiatry", 0, ("leader",),
                                created, bulk=False)
    ctx.member_persona = Person(member.id, MEMBER_EMAIL, member.name, "nurse", "Paediatric ICU", 0, ("member",),
                                created, bulk=False, attend=0.1, answer=0.2, level=0.05)
    for person in (ctx.leader_persona, ctx.member_persona):
        ctx.people[person.id] = person
    ctx.leader_plan = LeaderPlan(ctx.leader_persona, "training_leader")
    ctx.leaders.append(ctx.leader_plan)
    log(f"  coordinator, {len(ctx.org_ids)} organisations, questionnaire {instrument.code} v{instrument.version}, "
        f"{len(ctx.theme_ids)} themes, personas")


def _plan(ctx: Context) -> None:
    from app.extensions import db

    next_user = (db.session.execute(sa.text("SELECT MAX(id) FROM users")).scalar() or 0) + 1
    planner = Planner(ctx, next_user)
    planner.leaders_by_org[0] = [ctx.leader_plan]
    planner.coordinators()
    planner.groups()
    planner.finish()


def _write_people(ctx: Context, writer: Writer, ids: Ids) -> None:
    """People (the shared hash), their roles, and leaders' verified training in force on every meeting day."""
    rng = random.Random(f"{ctx.seed}/people")
    for person in ctx.people.values():
        if not person.bulk:
            continue
        last_login = None
        if rng.random() < 0.8:
            last_login = min(person.created_at + timedelta(days=rng.randint(1, 3000)), ctx.now - timedelta(hours=1))
        writer.add("users", (
            person.id, person.email, person.name, ctx.shared_hash, person.active, person.profession,
            person.department, person.locale, rng.random() < 0.9, ctx.org_ids[person.org],
            1 if person.active else 2, person.created_at, person.created_at, last_login,
        ))
        for role in person.roles:
            scope = ctx.org_ids[person.coordinator_org] if role == "coordinator" else None
            writer.add("role_assignments", (ids.take("role_assignments"), person.id, role, scope))
    for plan in ctx.leaders:
        if not plan.person.bulk:
            continue
        first = plan.first_day or ctx.today
        if plan.level == "leader_in_training":
            completed = first - timedelta(days=rng.randint(30, 400))
            records = [("leader_in_training", completed, None)]
        else:
            completed = first - timedelta(days=rng.randint(60, 1500))
            valid = None if rng.random() < 0.6 else ctx.until + timedelta(days=rng.randint(200, 2000))
            records = [(plan.level, completed, valid)]
            if rng.random() < 0.3:
                records.append(("leader_in_training", completed - timedelta(days=rng.randint(365, 900)), None))
        for level, completed, valid in records:
            verified = datetime.combine(completed + timedelta(days=rng.randint(1, 20)), clock(10))
            writer.add("training_records", (
                ids.take("training_records"), plan.person.id, "Balint group leader training", level,
                "Chinese Balint Federation", completed, valid, ctx.coordinator_id, min(verified, ctx.now), None,
                min(verified, ctx.now),
            ))


def _write_programme(ctx: Context, writer: Writer, log: Callable[[str], None]) -> None:
    """Groups, standing leaders and schedule rules through the services; memberships in bulk (the persona's
    through the service)."""
    from app.accounts.models import User
    from app.extensions import db
    from app.programme import services as programme
    from app.programme.models import Group
    from app.scheduling import services as scheduling
    from app.scheduling.services import feeds as calendars

    coordinator = db.session.get(User, ctx.coordinator_id)
    for plan in ctx.plans:
        group = programme.create_group(
            coordinator, organisation_id=ctx.org_ids[plan.org], name=plan.name,
            description="A Balint group of the benchmark programme.", capacity=plan.capacity, mode=plan.mode,
            location=plan.location, video_link=plan.video_link, duration_minutes=plan.duration,
            feedback_interval=INTERVAL, feedback_window_days=plan.window,
        )
        plan.id = group.id
    leader_ids = {p.person.id for p in ctx.leaders}
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(leader_ids)))}
    groups = {g.id: g for g in db.session.scalars(sa.select(Group))}
    for plan in ctx.plans:
        group = groups[plan.id]
        for leader in (plan.lead, plan.co_lead):
            if leader is not None:
                programme.add_group_leader(coordinator, group, users[leader.person.id])
        scheduling.save_schedule(
            coordinator, group, kind=plan.kind, weekday=plan.weekday,
            weeks=plan.weeks if plan.kind == "nth_weekday" else (),
            start_on=plan.first_day if plan.kind == "biweekly" else None, start_time=SLOT_TIMES[plan.slot],
            holiday_policy=plan.policy,
        )
    member = db.session.get(User, ctx.member_persona.id)
    for plan in ctx.plans:
        for tenure in plan.tenures:
            if not tenure.bulk:
                programme.add_member(coordinator, groups[plan.id], member, joined_on=tenure.joined)
    calendars.personal_feed(member)
    db.session.flush()
    ids = Ids(db.session, ("memberships",))
    for plan in ctx.plans:
        for tenure in plan.tenures:
            if tenure.bulk:
                writer.add("memberships", (ids.take("memberships"), plan.id, tenure.user_id, tenure.joined,
                                           tenure.left))
    writer.flush()
    # The programme's history began years ago: groups, organisations and schedules say so.
    groups_table = Group.__table__
    db.session.connection().execute(
        sa.update(groups_table).where(groups_table.c.id == sa.bindparam("gid")).values(created_at=sa.bindparam("at")),
        [{"gid": p.id, "at": datetime.combine(p.first_day - timedelta(days=30), clock(9))} for p in ctx.plans])
    db.session.execute(sa.text("UPDATE organisations SET created_at = :at"),
                       {"at": datetime.combine(ctx.start - timedelta(days=60), clock(9))})
    db.session.execute(sa.text("UPDATE schedules SET generated_until = :until"), {"until": ctx.until})
    log(f"  {len(ctx.plans)} groups, {sum(1 for p in ctx.plans for x in (p.lead, p.co_lead) if x)} standing "
        f"leaders, {writer.counts['memberships'] + 1} memberships, {len(ctx.people)} people")


@dataclass
class Written:
    """What the history pass remembers: ids for the manifest, and each group's last round until the burst is chosen."""

    last_round_ids: dict[int, int] = field(default_factory=dict)
    last_rounds: dict[int, SimRound] = field(default_factory=dict)
    leader_meeting_id: int | None = None


class Answers:
    """Writes a round's anonymous responses, its completions and, while it is open, drafts and round notices."""

    def __init__(self, ctx: Context, writer: Writer, ids: Ids):
        from app.demo import DEMO_COMMENTS
        from app.feedback.scoring import subscale_results
        from app.feedback.services.rounds import ROUND_CLOSING, ROUND_OPENED

        self.ctx, self.writer, self.ids = ctx, writer, ids
        definition = ctx.definition
        subscale_of = {code: sub.code for sub in definition.subscales for code in sub.items}
        self.rated = [(item.code, subscale_of.get(item.code), item.min, item.max - item.min, item.reverse)
                      for item in definition.rated_items]
        self.ranges = [(item.code, item.min, item.max) for item in definition.rated_items]
        self.texts = [(item.code, 0.14 if n == 0 else 0.08, item.max_length)
                      for n, item in enumerate(definition.text_items)]
        self.good = DEMO_COMMENTS[:6] + EXTRA_COMMENTS[:2]
        self.poor = DEMO_COMMENTS[2:] + EXTRA_COMMENTS[2:]
        self.opened, self.closing = ROUND_OPENED, ROUND_CLOSING
        self.definition, self.score = definition, subscale_results
        self.reminder = timedelta(days=_config("ROUND_REMINDER_DAYS_BEFORE"))

    def write(self, group: GroupPlan, r: SimRound, rng: random.Random, last: bool) -> None:
        ctx, add = self.ctx, self.writer.add
        extended = last and group.index in ctx.extended
        open_now = r.closes_at > ctx.now or extended
        skip = set(ctx.reserved.get(group.index, ())) if last else set()
        if last and group.index == MEMBER_GROUP:
            skip.add(ctx.member_persona.id)
        pace = 1.0
        if open_now and not extended:  # answers still coming in
            pace = _clamp((ctx.now - r.opens_at) / (r.closes_at - r.opens_at)) ** 0.6
        people = ctx.people
        respondents = [uid for uid in r.eligible if uid not in skip
                       and rng.random() < _clamp(group.answer + people[uid].answer, 0.05, 0.97) * pace]
        trend = group.base + group.slope * (r.opens_at.date() - group.first_day).days / \
            max(1, (ctx.today - group.first_day).days)
        centre = {sub: trend + offset for sub, offset in group.offsets.items()}
        gauss, random_ = rng.gauss, rng.random
        sets = []
        for uid in respondents:
            person = people[uid]
            answers = []
            for code, subscale, low, span, reverse in self.rated:
                level = centre.get(subscale, trend) + person.level + gauss(0, 0.13)
                value = low + round(span * (0.0 if level < 0 else 1.0 if level > 1 else level))
                answers.append((code, 2 * low + span - value if reverse else value, None, "pending"))
            for code, chance, max_length in self.texts:
                if random_() < chance:
                    pool = self.good if trend + person.level >= 0.55 else self.poor
                    review = "pending" if open_now else rng.choices(("released", "withheld", "pending"),
                                                                   weights=(75, 5, 20))[0]
                    answers.append((code, None, rng.choice(pool)[:max_length], review))
            sets.append((person.profession, answers))
        rng.shuffle(sets)  # the storage order of responses says nothing about the order of completions
        for profession, answers in sets:
            response_id = _uid(rng)
            add("responses", (response_id, r.id, ctx.instrument_id, "questionnaire", profession))
            for code, value, text, review in answers:
                add("answers", (response_id, code, value, text, review))
            # The subscale scores the app stores with every response, computed as it computes them.
            rated = {code: value for code, value, _text, _review in answers if value is not None}
            for result in self.score(self.definition, rated):
                add("response_scores", (response_id, result.subscale, result.score, result.answered, result.missing))
        for uid in respondents:
            add("completions", (r.id, uid))
        if open_now:
            self._open_round(r, set(respondents), skip, rng)

    def _open_round(self, r: SimRound, answered: set[int], skip: set[int], rng: random.Random) -> None:
        """The notices `tell_eligible_members` queued when the round opened, and answers saved for later."""
        ctx, add, take = self.ctx, self.writer.add, self.ids.take
        reminder_at = r.closes_at - self.reminder
        for uid in r.eligible:
            if not ctx.people[uid].active:
                continue
            sent = min(r.opens_at + timedelta(minutes=rng.randint(1, 6)), ctx.now)
            add("notifications", (take("notifications"), f"{self.opened}:{r.id}:{uid}", self.opened, uid, None, r.id,
                                  r.opens_at, "sent", 1, sent, sent, None, r.opens_at))
            if reminder_at > r.opens_at:
                if uid in answered:
                    state, sent_at, error = "dropped", None, "already responded"
                elif reminder_at <= ctx.now:
                    state, sent_at, error = "sent", reminder_at + timedelta(minutes=rng.randint(1, 6)), None
                else:
                    state, sent_at, error = "pending", None, None
                add("notifications", (take("notifications"), f"{self.closing}:{r.id}:{uid}", self.closing, uid,
                                      None, r.id, reminder_at, state, 1 if sent_at else 0, sent_at, sent_at, error,
                                      r.opens_at))
            if uid not in answered and uid not in skip and rng.random() < 0.12:
                given = {code: rng.randint(low, high) for code, low, high in self.ranges[:rng.randint(1, 15)]}
                when = r.opens_at + (min(ctx.now, r.closes_at) - r.opens_at) * rng.random()
                add("drafts", (r.id, uid, given, when))


def _write_history(ctx: Context, group: GroupPlan, history: History, writer: Writer, ids: Ids,
                   answers: Answers, written: Written) -> None:
    """Meetings, leaders, records, attendance, themes and rounds; the answers of every round but the last."""
    rng = random.Random(f"{ctx.seed}/responses/{group.index}")
    add, take = writer.add, ids.take
    lead, co_lead = group.lead.person.id, group.co_lead.person.id if group.co_lead else None
    for m in history.meetings:
        m.id = take("meetings")
        add("meetings", (m.id, group.id, m.starts_at, m.ends_at, m.status, group.mode, group.location,
                         group.video_link, m.nominal, m.holiday, m.edited, m.sequence, m.uid, None, m.cancel_reason,
                         m.created_at, m.updated_at))
        add("meeting_leaders", (take("meeting_leaders"), m.id, lead, "lead"))
        if co_lead is not None:
            add("meeting_leaders", (take("meeting_leaders"), m.id, co_lead, "co_lead"))
        if m.record is not None:
            started, duration, presenter, summary, guests, recorded_at = m.record
            add("meeting_records", (take("meeting_records"), m.id, started, duration, group.mode, presenter, summary,
                                    guests, lead, recorded_at, recorded_at))
            for user_id, status in m.attendance:
                add("attendances", (take("attendances"), m.id, user_id, status))
            for theme_id in m.themes:
                add("meeting_themes", (m.id, theme_id))
    for r in history.rounds:
        r.id = take("feedback_rounds")
        if r.closes_at > ctx.now:
            status, closed_at = "open", None
        else:  # closed by the next `flask notify send-due` (every five minutes)
            status, closed_at = "closed", min(r.closes_at + timedelta(seconds=rng.randint(5, 300)), ctx.now)
        add("feedback_rounds", (r.id, group.id, r.number, status, "questionnaire", r.opens_at, r.closes_at,
                                closed_at, ctx.instrument_id, None))
        for m in r.meetings:
            add("round_meetings", (take("round_meetings"), r.id, m.id))
        if r is not history.rounds[-1]:
            answers.write(group, r, rng, last=False)
    if history.rounds:
        written.last_round_ids[group.index] = history.rounds[-1].id
        written.last_rounds[group.index] = history.rounds[-1]
    if group.index == LEADER_GROUP:
        closed = [r for r in history.rounds[:-1] if r.closes_at <= ctx.now] or history.rounds[:1]
        written.leader_meeting_id = closed[-1].meetings[-1].id if closed else next(
            (m.id for m in reversed(history.meetings) if m.status == "held"), None)
    history.meetings.clear()  # only the last round (and its eligible members) is kept


def _config(key: str):
    from flask import current_app

    return current_app.config[key]


def _history(ctx: Context, log: Callable[[str], None]) -> Written:
    """One pass over the groups writes everything but the answers to each group's last round; once every last
    round is known, the burst is chosen and those answers are written."""
    from app.extensions import db

    started = time.perf_counter()
    writer = Writer(db.session)
    ids = Ids(db.session, ("meetings", "meeting_leaders", "meeting_records", "attendances", "feedback_rounds",
                           "round_meetings", "notifications"))
    answers = Answers(ctx, writer, ids)
    written = Written()
    for n, group in enumerate(ctx.plans, start=1):
        _write_history(ctx, group, simulate(ctx, group), writer, ids, answers, written)
        if n % BATCH_GROUPS == 0 or n == len(ctx.plans):
            writer.flush()
            db.session.commit()
            if n % (BATCH_GROUPS * 8) == 0 or n == len(ctx.plans):
                log(f"  {n}/{len(ctx.plans)} groups written ({time.perf_counter() - started:.1f}s; "
                    f"{writer.counts['meetings']} meetings, {writer.counts['answers']} answers)")
    decide_burst(ctx, written.last_rounds, log)
    by_index = {group.index: group for group in ctx.plans}
    for gi, last in written.last_rounds.items():
        answers.write(by_index[gi], last, random.Random(f"{ctx.seed}/last-round/{gi}"), last=True)
    writer.flush()
    db.session.commit()
    log(f"  last rounds answered ({time.perf_counter() - started:.1f}s; {writer.counts['answers']} answers)")
    return written


def _finish(ctx: Context, written: Written, log: Callable[[str], None]) -> None:
    """Rounds the coordinator extended (through the service), the used questionnaire locked, the closed rounds'
    sums stored, sequences, ANALYZE."""
    from app.accounts.models import User
    from app.extensions import db
    from app.feedback.models import FeedbackRound, Instrument
    from app.feedback.services import rounds as feedback

    coordinator = db.session.get(User, ctx.coordinator_id)
    for gi, closes_at in sorted(ctx.extended.items()):
        feedback_round = db.session.get(FeedbackRound, written.last_round_ids[gi])
        # The coordinator extended it shortly before its window ended (a closed round is never reopened): the
        # history is written as if it never closed, and the extension made an hour before the old deadline.
        feedback_round.status, feedback_round.closed_at = "open", None
        when = min(ctx.now, feedback_round.closes_at - timedelta(hours=1))
        feedback.extend_round(coordinator, feedback_round, closes_at, when)
    db.session.get(Instrument, ctx.instrument_id).locked = True
    db.session.flush()
    # The sums of the closed rounds, stored as their closing (or `flask notify send-due`) would have.
    from app.disclosure.services import refresh_round_aggregates

    refresh_round_aggregates()
    # Every group's signals for the coordinator's home, stored as `flask notify send-due` (or `flask trends
    # refresh-signals`) would have: group_signals is not written row by row (the Writer leaves it).
    from flask import current_app

    from app.trends.signals import refresh as refresh_signals

    refresh_signals(ctx.now, current_app.config["MIN_RESPONSES"], everything=True)
    if db.session.get_bind().dialect.name == "postgresql":
        for table in db.metadata.sorted_tables:
            if "id" in table.c and isinstance(table.c.id.type, sa.Integer):
                db.session.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM \"{table.name}\"), 0) + 1, false) "
                    f"WHERE pg_get_serial_sequence('{table.name}', 'id') IS NOT NULL"))
    db.session.commit()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        log("  sequences set, ANALYZE done")
    else:  # everything into the database file, outside any transaction
        raw = db.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()


def table_counts() -> dict[str, int]:
    """Rows in every table of the app."""
    from app.extensions import db

    return {t.name: db.session.execute(sa.text(f'SELECT COUNT(*) FROM "{t.name}"')).scalar()
            for t in db.metadata.sorted_tables}


def _manifest(ctx: Context, written: Written, database_url: str) -> dict:
    from app.extensions import db
    from app.scheduling.models import CalendarFeed

    by_index = {p.index: p for p in ctx.plans}
    token = db.session.scalar(sa.select(CalendarFeed.token).where(CalendarFeed.user_id == ctx.member_persona.id,
                                                                  CalendarFeed.group_id.is_(None)))
    leader_group = by_index[LEADER_GROUP].id
    burst_rounds = [written.last_round_ids[gi] for _, gi in ctx.burst]
    common = max(set(burst_rounds), key=burst_rounds.count) if burst_rounds else None
    return {
        "database_url": database_url,
        "scale": ctx.scale,
        "factor": ctx.factor,
        "seed": ctx.seed,
        "generated_at": ctx.now.isoformat(timespec="seconds") + "Z",
        "groups": len(ctx.plans),
        "years": ctx.years,
        "password": PASSWORD,
        "coordinator": COORDINATOR_EMAIL,
        "leader": LEADER_EMAIL,
        "leader_group_id": leader_group,
        "leader_meeting_id": written.leader_meeting_id,
        "member": MEMBER_EMAIL,
        "member_group_id": by_index[MEMBER_GROUP].id,
        "open_round_id": written.last_round_ids.get(MEMBER_GROUP),
        "feed_path": f"/calendar/{token}.ics",
        # burst_members[i] may submit round burst_round_ids[i] once; burst_round_id is the round most of them share.
        "burst_members": [ctx.people[uid].email for uid, _ in ctx.burst],
        "burst_round_ids": burst_rounds,
        "burst_round_id": common,
        "group_trends_path": f"/groups/{leader_group}/trends",
        "programme_trends_path": "/trends",
        "xlsx_export_path": f"/exports/aggregates.xlsx?group={leader_group}",
        "xlsx_responses_export_path": f"/exports/responses.xlsx?group={leader_group}",
    }


def generate(database_url: str | None, scale: str, factor: float = 1.0, seed: int = 1, *, app=None,
             reset_schema: bool | None = None, verify_pages: bool = False, manifest_path: str | Path | None = None,
             log: Callable[[str], None] | None = None) -> dict:
    """Build the benchmark programme and return its manifest (also written to `manifest_path` as JSON).

    Without `app`, the app is created with the Development config on `database_url`, and the schema is
    dropped and rebuilt by the real migrations; with `app` (the test suite's), its database is used as it is
    (empty, schema in place). `verify_pages` requests every page of the manifest and checks the invariants.
    Raises ValueError for an unknown scale or a non-positive factor, RuntimeError when verification fails.
    """
    from app import create_app
    from app.extensions import db
    from app.sqlite import write_intent
    from app.timeutil import local_today, utcnow

    log = log or (lambda message: print(message, flush=True))
    organisations, groups, years = sizes(scale, factor)
    seconds: dict[str, float] = {}
    clock_start = time.perf_counter()

    def phase(name: str, since: float) -> float:
        seconds[name] = round(time.perf_counter() - since, 2)
        log(f"[{time.perf_counter() - clock_start:7.1f}s] {name} done in {seconds[name]:.1f}s")
        return time.perf_counter()

    mark = time.perf_counter()
    if app is None:
        database_url = _absolute(database_url or DEFAULT_URLS[scale])
        if reset_schema is None or reset_schema:
            _reset_schema(database_url, log)
        app = create_app("development", {"SQLALCHEMY_DATABASE_URI": database_url})
        reset_schema = True if reset_schema is None else reset_schema
    else:
        database_url = app.config["SQLALCHEMY_DATABASE_URI"]
        reset_schema = bool(reset_schema)
    log(f"Generating {scale} x {factor}: {organisations} organisations, {groups} groups, {years} years "
        f"on {sa.engine.make_url(database_url).render_as_string(hide_password=True)}")
    with app.app_context(), write_intent():
        if reset_schema:
            import flask_migrate

            flask_migrate.upgrade()
        mark = phase("schema", mark)
        today, now = local_today(), utcnow()
        ctx = Context(scale=scale, factor=factor, seed=seed, now=now, today=today,
                      start=_years_before(today, years), until=today + timedelta(days=FUTURE_DAYS), years=years,
                      organisations=organisations, groups=groups,
                      burst_target=BURST_SIZE if factor >= 1 else max(4, round(BURST_SIZE * factor)))
        _setup(ctx, log)
        _plan(ctx)
        writer = Writer(db.session)
        _write_people(ctx, writer, Ids(db.session, ("role_assignments", "training_records")))
        writer.flush()
        _write_programme(ctx, writer, log)
        db.session.commit()
        mark = phase("setup", mark)
        written = _history(ctx, log)
        mark = phase("history", mark)
        _finish(ctx, written, log)
        mark = phase("finish", mark)
        seconds["total"] = round(sum(v for k, v in seconds.items()), 2)
        manifest = _manifest(ctx, written, database_url)
        manifest["counts"] = table_counts()
        db.session.commit()
    manifest["seconds"] = seconds
    log(f"Generated in {seconds['total']:.1f}s: " + ", ".join(
        f"{name} {manifest['counts'][name]}" for name in ("users", "groups", "memberships", "meetings", "attendances",
                                                           "feedback_rounds", "responses", "answers", "completions")))
    _write_manifest(manifest, manifest_path, log)
    if verify_pages:
        mark = time.perf_counter()
        own = app  # the verification client posts the log-in form directly: it needs CSRF protection off
        if app.config.get("WTF_CSRF_ENABLED", True):
            own = create_app("development", {"SQLALCHEMY_DATABASE_URI": database_url, "WTF_CSRF_ENABLED": False})
        manifest["verification"] = verify(manifest, own, log)
        seconds["verify"] = round(time.perf_counter() - mark, 2)
        _write_manifest(manifest, manifest_path, log)
    return manifest


def _write_manifest(manifest: dict, manifest_path: str | Path | None, log: Callable[[str], None]) -> None:
    if manifest_path:
        path = Path(manifest_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        log(f"Manifest written to {path}")


# --- checking what was generated ---------------------------------------------------------------

def invariant_queries(dialect: str) -> dict[str, str]:
    """SQL counting the rows that break a rule of the app (each must count 0)."""
    day = "CAST(m.starts_at AS DATE)" if dialect == "postgresql" else "date(m.starts_at)"
    current = f"ms.joined_on <= {day} AND (ms.left_on IS NULL OR ms.left_on >= {day})"
    return {
        "rounds_not_covering_exactly_five_held_meetings_of_their_group": """
            SELECT COUNT(*) FROM feedback_rounds r JOIN "groups" g ON g.id = r.group_id
            WHERE (SELECT COUNT(*) FROM round_meetings rm JOIN meetings m ON m.id = rm.meeting_id
                   WHERE rm.round_id = r.id AND m.status = 'held' AND m.group_id = r.group_id) <> g.feedback_interval
               OR (SELECT COUNT(*) FROM round_meetings rm WHERE rm.round_id = r.id) <> g.feedback_interval""",
        "groups_whose_round_numbers_are_not_1_to_n": """
            SELECT COUNT(*) FROM (SELECT group_id FROM feedback_rounds GROUP BY group_id
                                  HAVING MIN(number) <> 1 OR MAX(number) <> COUNT(*)) x""",
        "groups_with_a_complete_set_of_uncovered_held_meetings": """
            SELECT COUNT(*) FROM "groups" g WHERE (
                SELECT COUNT(*) FROM meetings m WHERE m.group_id = g.id AND m.status = 'held'
                AND NOT EXISTS (SELECT 1 FROM round_meetings rm WHERE rm.meeting_id = m.id)) >= g.feedback_interval""",
        "round_meetings_out_of_chronological_sets": """
            SELECT COUNT(*) FROM round_meetings rm
            JOIN feedback_rounds r ON r.id = rm.round_id JOIN "groups" g ON g.id = r.group_id
            JOIN (SELECT m.id, ROW_NUMBER() OVER (PARTITION BY m.group_id ORDER BY m.starts_at, m.id) AS k
                  FROM meetings m WHERE m.status = 'held') ranked ON ranked.id = rm.meeting_id
            WHERE (ranked.k - 1) / g.feedback_interval + 1 <> r.number""",
        "rounds_with_more_responses_than_eligible_members": """
            SELECT COUNT(*) FROM feedback_rounds r
            WHERE (SELECT COUNT(*) FROM responses s WHERE s.round_id = r.id) > (
                SELECT COUNT(DISTINCT a.user_id) FROM round_meetings rm
                JOIN attendances a ON a.meeting_id = rm.meeting_id AND a.status = 'present'
                WHERE rm.round_id = r.id)""",
        "rounds_whose_responses_differ_from_completions": """
            SELECT COUNT(*) FROM feedback_rounds r
            WHERE (SELECT COUNT(*) FROM responses s WHERE s.round_id = r.id)
               <> (SELECT COUNT(*) FROM completions c WHERE c.round_id = r.id)""",
        "completions_by_members_not_eligible": """
            SELECT COUNT(*) FROM completions c WHERE NOT EXISTS (
                SELECT 1 FROM round_meetings rm JOIN attendances a ON a.meeting_id = rm.meeting_id
                WHERE rm.round_id = c.round_id AND a.user_id = c.user_id AND a.status = 'present')""",
        "responses_without_every_rated_answer_in_range": """
            SELECT COUNT(*) FROM responses s WHERE (
                SELECT COUNT(*) FROM answers a WHERE a.response_id = s.id AND a.value BETWEEN 1 AND 5) <> :rated""",
        "held_meetings_without_a_record_or_records_of_other_meetings": """
            SELECT COUNT(*) FROM meetings m LEFT JOIN meeting_records r ON r.meeting_id = m.id
            WHERE (m.status = 'held' AND r.id IS NULL) OR (m.status <> 'held' AND r.id IS NOT NULL)""",
        "held_meetings_in_the_future": "SELECT COUNT(*) FROM meetings m WHERE m.status = 'held' AND m.starts_at > :now",
        "meetings_without_exactly_one_lead": """
            SELECT COUNT(*) FROM meetings m WHERE (
                SELECT COUNT(*) FROM meeting_leaders ml WHERE ml.meeting_id = m.id AND ml.role = 'lead') <> 1""",
        "leaders_without_valid_verified_training": f"""
            SELECT COUNT(*) FROM meeting_leaders ml JOIN meetings m ON m.id = ml.meeting_id
            WHERE m.status <> 'cancelled' AND NOT EXISTS (
                SELECT 1 FROM training_records t WHERE t.user_id = ml.user_id AND t.verified_at IS NOT NULL
                AND t.completed_on <= {day} AND (t.valid_until IS NULL OR t.valid_until >= {day})
                AND (ml.role = 'co_lead' OR t.level IN ('leader', 'training_leader')))""",
        "leaders_who_are_members_of_the_group": f"""
            SELECT COUNT(*) FROM meeting_leaders ml JOIN meetings m ON m.id = ml.meeting_id
            JOIN memberships ms ON ms.group_id = m.group_id AND ms.user_id = ml.user_id WHERE {current}""",
        "leaders_in_overlapping_meetings": """
            SELECT COUNT(*) FROM (
                SELECT m.starts_at, MAX(m.ends_at) OVER (PARTITION BY ml.user_id ORDER BY m.starts_at, m.id
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS previous_end
                FROM meeting_leaders ml JOIN meetings m ON m.id = ml.meeting_id WHERE m.status <> 'cancelled') x
            WHERE x.previous_end > x.starts_at""",
        "attendance_of_people_not_members_that_day": f"""
            SELECT COUNT(*) FROM attendances a JOIN meetings m ON m.id = a.meeting_id WHERE NOT EXISTS (
                SELECT 1 FROM memberships ms
                WHERE ms.group_id = m.group_id AND ms.user_id = a.user_id AND {current})""",
        "members_missing_from_a_held_meetings_attendance": f"""
            SELECT COUNT(*) FROM meetings m JOIN memberships ms ON ms.group_id = m.group_id AND {current}
            WHERE m.status = 'held' AND NOT EXISTS (
                SELECT 1 FROM attendances a WHERE a.meeting_id = m.id AND a.user_id = ms.user_id)""",
        "presenters_not_present": """
            SELECT COUNT(*) FROM meeting_records r WHERE r.presenter_id IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM attendances a WHERE a.meeting_id = r.meeting_id AND a.user_id = r.presenter_id
                AND a.status = 'present')""",
        "groups_over_capacity": """
            SELECT COUNT(*) FROM "groups" g WHERE g.capacity < (
                SELECT COUNT(*) FROM memberships ms WHERE ms.group_id = g.id AND ms.left_on IS NULL)""",
        "open_rounds_past_their_window": """
            SELECT COUNT(*) FROM feedback_rounds WHERE status = 'open' AND closes_at <= :now""",
    }


def check_invariants() -> dict[str, int]:
    """Count the rows breaking each rule (inside an app context); every count is 0 for a sound database."""
    from app.extensions import db
    from app.feedback.scoring import definition_from_dict
    from app.feedback.services.instruments import default_instrument
    from app.feedback.services.scores import verify_scores
    from app.timeutil import utcnow

    instrument = default_instrument()
    rated = len(definition_from_dict(instrument.definition).rated_items) if instrument else 0
    params = {"rated": rated, "now": utcnow()}
    dialect = db.session.get_bind().dialect.name
    counts = {name: db.session.execute(sa.text(sql).bindparams(**{k: v for k, v in params.items() if f":{k}" in sql}))
              .scalar() for name, sql in invariant_queries(dialect).items()}
    # What `flask feedback verify-scores` reports: stored scores that differ from the answers' (0 when sound).
    counts["stored_scores_differing_from_the_answers"] = verify_scores().differences
    return counts


def manifest_pages(manifest: dict) -> list[tuple[str | None, str]]:
    """(who logs in, path) for every page the load test relies on; None for the calendar feed (no log-in)."""
    pages = [  # the coordinator's home is left out: at city scale its early warnings take many minutes
        (manifest["coordinator"], manifest["group_trends_path"]),
        (manifest["coordinator"], manifest["programme_trends_path"]),
        (manifest["coordinator"], manifest["xlsx_export_path"]),
        (manifest["leader"], "/"),
        (manifest["leader"], f"/meetings/{manifest['leader_meeting_id']}/record"),
        (manifest["leader"], manifest["group_trends_path"]),
        (manifest["member"], "/"),
        (manifest["member"], f"/rounds/{manifest['open_round_id']}/answer"),
        (None, manifest["feed_path"]),
    ]
    if manifest["burst_members"]:
        pages.append((manifest["burst_members"][0], f"/rounds/{manifest['burst_round_ids'][0]}/answer"))
    return pages


def verify(manifest: dict, app, log: Callable[[str], None] | None = None) -> dict:
    """Request every page of the manifest as its persona (200 each) and check the invariants.

    The app must have CSRF protection off (the log-in is posted directly). Returns {page: [status, seconds]}
    and the invariant counts. Raises RuntimeError naming what failed.
    """
    log = log or (lambda message: print(message, flush=True))
    results: dict[str, list] = {}
    clients: dict[str | None, object] = {}
    failures = []
    for who, path in manifest_pages(manifest):
        if who not in clients:
            clients[who] = app.test_client()
            if who is not None:
                answer = clients[who].post("/login", data={"email": who, "password": manifest["password"]})
                if answer.status_code != 302:
                    failures.append(f"log-in of {who} answered {answer.status_code}")
        started = time.perf_counter()
        answer = clients[who].get(path)
        page = f"{who or 'anonymous'} GET {path}"
        results[page] = [answer.status_code, round(time.perf_counter() - started, 3)]
        log(f"  {answer.status_code} {results[page][1]:7.3f}s {page}")
        if answer.status_code != 200:
            failures.append(f"{who} GET {path} answered {answer.status_code}")
    started = time.perf_counter()
    with app.app_context():
        problems = check_invariants()
    failures += [f"{name}: {count}" for name, count in problems.items() if count]
    log(f"  invariants ({time.perf_counter() - started:.1f}s): "
        f"{'all hold' if not any(problems.values()) else problems}")
    if failures:
        raise RuntimeError("verification failed: " + "; ".join(failures))
    return {"pages": results, "invariants": problems}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), required=True)
    parser.add_argument("--factor", type=float, default=1.0, help="size factor: groups and years shrink together")
    parser.add_argument("--database-url", help="default: bench/data/hospital.db, or the `bench` PostgreSQL database")
    parser.add_argument("--manifest", help="where to write the manifest (default: bench/data/<scale>.json)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-verify", action="store_true", help="skip requesting the pages and checking invariants")
    args = parser.parse_args(argv)
    manifest = generate(args.database_url, args.scale, args.factor, args.seed, verify_pages=not args.no_verify,
                        manifest_path=args.manifest or DATA_DIR / f"{args.scale}.json")
    print(json.dumps({"seconds": manifest["seconds"], "counts": manifest["counts"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
