"""`flask demo`: a demonstration programme dated from the day it is seeded (refused under the Production config).

Every date is placed relative to `today` (`flask demo --today YYYY-MM-DD`, default the local today in
APP_TIMEZONE), so the demo never goes stale. On that day it holds:

- a fictional children's hospital in Beijing (北京禾苗儿童医院) and a community health centre, people with
  Chinese names, two Balint groups with Chinese names and descriptions; the logins stay ASCII
  (coordinator@demo.test, leader@demo.test, member@demo.test);
- about two years of meetings behind today and six months ahead, made from each group's rule by the
  scheduling services with the Chinese holiday calendar (the ICU group every other week, moved off holidays;
  the emergency group on two weekdays of each month, skipping holidays), leaders assigned through the
  services, past meetings recorded through the record service (a few cancelled), so feedback rounds open by
  the five-meeting rule;
- for the leader (王磊): a meeting today or tomorrow to facilitate, and the group's previous meeting held but not
  yet recorded — recording it completes a set of five and opens a round;
- for the member (陈静): a feedback round opened in the last twelve days that they have not answered, and that
  meeting today or tomorrow;
- eight closed rounds in each group, answered by most members: the ICU group's "understanding the patient"
  rises from about 2.8 to 4.3, the emergency group's "coping and wellbeing" falls from about 4.2 to 2.5 in
  steps of about a quarter point (never half a point).

When no rule date can give the leader a meeting today or tomorrow (a Saturday, or a public holiday such as New
Year's Day, Spring Festival or National Day), the ICU group gets a one-off online meeting on the first of the two
days, as a group might hold for staff on holiday duty; its series stays on the rule (on the weekday of the latest
working day, whose meeting is then the one held but unrecorded). That meeting is also the member's meeting in the
coming days: the member belongs to both groups.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from app.accounts import services as accounts
from app.accounts.models import User
from app.errors import DomainError
from app.extensions import db
from app.feedback.services import instruments as feedback_instruments
from app.programme import services as programme
from app.programme.models import Group
from app.scheduling import rules as schedule_rules
from app.timeutil import local_date, local_today, to_utc, utcnow

if TYPE_CHECKING:
    from app.feedback.models import FeedbackRound
    from app.scheduling.models import Meeting

DEMO_PASSWORD = "balint-demo"
DEMO_LOGINS = (
    ("coordinator@demo.test", "coordinator"),
    ("leader@demo.test", "leader"),
    ("member@demo.test", "member"),
)
#: `--today` seeds the demo as it is at this local time of that day (reproducible whatever the clock says).
DEMO_TIME = time(10, 0)

HOSPITAL = "北京禾苗儿童医院"  # fictional
HEALTH_CENTRE = "北京市青禾社区卫生服务中心"  # fictional
TRAINING_KIND = "巴林特小组组长培训"
TRAINING_ISSUER = "京华巴林特培训中心"  # fictional

COORDINATOR = ("coordinator@demo.test", "赵敏", "psychologist", "职工心理关爱办公室")
LEADER = ("leader@demo.test", "王磊", "physician", "精神心理科")
CO_LEADER = ("coleader@demo.test", "李娜", "physician", "精神心理科")
MEMBER = ("member@demo.test", "陈静", "nurse", "儿科重症监护室")
STAFF = (  # name, profession, department; e-mails staff01@demo.test ...
    ("刘洋", "physician", "儿科急诊"), ("孙慧", "nurse", "新生儿科"), ("周强", "physician", "血液科"),
    ("吴芳", "nurse", "儿科重症监护室"), ("徐明", "physician", "心内科"), ("马丽", "nurse", "肿瘤科"),
    ("胡军", "physician", "神经内科"), ("郭霞", "nurse", "急诊科"), ("林涛", "physician", "呼吸科"),
    ("何燕", "psychologist", "心理科"), ("高伟", "nurse", "外科"), ("罗平", "physician", "感染科"),
    ("郑红", "nurse", "门诊部"), ("梁波", "physician", "肾内科"), ("韩雪", "nurse", "急诊科"),
)

ICU_START, ICU_MINUTES = time(14, 0), 90
ER_START, ER_MINUTES = time(18, 30), 60
ICU_VIDEO = "https://meeting.example.invalid/balint-picu"
ER_VIDEO = "https://meeting.example.invalid/balint-er"
MONTHS_AHEAD = 6
# Past meetings of each group: rounds of five held meetings, and the held meetings after the last round.
ICU_ROUNDS, ICU_UNCOVERED = 8, 4  # all eight closed; recording the unrecorded meeting makes the ninth set
ER_ROUNDS = 9  # eight closed and the latest, completed by its last meeting, open
HISTORY_DAYS = 1090  # the emergency group's history starts at most this far back (a generation takes three years)
# The emergency group's last meeting lies at most this many days back, so its round (14 days) is open two days
# more at least. Spring Festival 2026 left no working weekday from 14 to 23 February: ten days are too few.
ER_RECENT_DAYS = 12
CANCEL_RATE = 0.06
RECORDED_AFTER = timedelta(minutes=30)  # the leader records a meeting half an hour after it ends
ER_RULES = tuple((weekday, weeks) for weeks in ((1, 3), (2, 4), (2, schedule_rules.LAST_WEEK))
                 for weekday in range(5))
TRAINEE_SINCE_DAYS = 300  # 李娜 finished leader-in-training this many days ago and co-leads the ICU group since

SUMMARIES = (
    "一位护士讲述夜班时被一位父亲大声吼叫的经历；小组探讨了父亲的恐惧和她自己的羞愧。",
    "一位医生讲述一名长期住院的患儿，母亲已经很少来探视；小组陪伴着这份悲伤，没有急于给出建议。",
    "一位住院医师谈到一次抢救无效的死亡，以及回家后无法向家人开口的感受。",
    "一位护士描述了一个拒绝治疗方案的家庭；小组尝试从祖父母的角度理解他们的担忧。",
    "一位医生对同事交接班的方式感到愤怒；小组讨论了忠诚与疲惫之间的张力。",
    "小组讨论了一位青少年患者只信任一名护士、排斥其他医护人员的情况。",
    "一位医生讲述在门诊被家属投诉后的委屈和自我怀疑；小组关注了医患双方共同的无力感。",
    "一位护士谈到反复为同一名患儿穿刺时的内疚；小组探讨了疼痛如何在孩子、家长和护士之间传递。",
)
DEMO_COMMENTS = (  # the first six read well, the last six are worn; bench/generate.py draws from them too
    "听到其他人面对类似家庭时的感受，我觉得自己不再那么孤单。",
    "我现在能更早地察觉到自己开始回避某位患儿的家长。",
    "有时讨论刚刚深入，一个小时就结束了。",
    "推回环节一开始很难受，但只听不答让我学到了很多。",
    "希望能有更多时间讨论夜班遇到的案例。",
    "每次活动结束时，我都比来的时候平静。",
    "加班和额外排班太多，很难按时参加，我觉得和小组的联系变少了。",
    "如果活动不安排在夜班后的第二天就好了。",
)
CANCEL_REASONS = (
    "组长临时参加院内急会诊，本次活动取消。",
    "医院安排应急演练，本次活动暂停。",
    "科室人手紧张，本次活动取消。",
)
FUTURE_CANCEL_REASON = "医院年度应急演练，本次线上活动取消，下次照常进行。"
LEADER_NOTES = (
    ("reflection", "本次案例提供者在推回阶段明显紧张，下次开场时可以先重申保密约定。"),
    ("debrief", "与协同组长复盘：讨论几次滑向解决方案，下次要更早把焦点拉回医患关系本身。"),
)
SUPERVISION = ("张敏教授（外院督导）", "讨论了如何在推回阶段保护案例提供者，以及新成员加入后的小组安全感。")

# Subscale means per closed round, first -> last (the chosen subscales move most; the others drift).
ICU_TARGETS = {"understanding": (2.8, 4.3), "own_feelings": (3.0, 4.0), "wellbeing": (3.3, 3.8),
               "group_climate": (3.6, 4.4), "facilitation": (3.9, 4.5)}
ER_TARGETS = {"wellbeing": (4.2, 2.5), "own_feelings": (3.9, 3.3), "understanding": (3.7, 3.5),
              "group_climate": (4.1, 3.6), "facilitation": (4.3, 4.0)}
ICU_CHOSEN, ER_CHOSEN = "understanding", "wellbeing"


def print_logins() -> None:
    """The demo's log-ins and their shared password (printed by every `flask demo`, seeded or skipped)."""
    click.echo(f"Demo logins (password: {DEMO_PASSWORD}):")
    for email, role in DEMO_LOGINS:
        click.echo(f"  {role:<12} {email}")


@dataclass
class DemoSeed:
    """What the demo placed around `today`: the leader's meetings and the member's open round."""

    today: date
    now: datetime
    groups: list[Group]
    facilitate: Meeting  # the leader's meeting today or tomorrow
    unrecorded: Meeting  # held, not yet recorded
    open_round: FeedbackRound  # the member has not answered it
    extra_meetings: list[Meeting]  # one-off meetings the rules could not give


def demo_now(today: date) -> datetime:
    """The moment (naive UTC) `seed_demo(today)` takes as now: 10:00 local on that day."""
    return to_utc(today, DEMO_TIME)


def seed_demo(today: date | None = None, now: datetime | None = None, months_ahead: int = MONTHS_AHEAD) -> DemoSeed:
    """Create the demo programme around `today` (local date; default the local today) through the services.

    `now` (naive UTC, on `today`) defaults to 10:00 local on `today`; meetings are generated `months_ahead`
    months ahead (tests seed fewer to stay quick). Flushes, never commits. Raises RuntimeError when a service
    refuses something the demo needs (a demo that breaks an invariant is a bug).
    """
    today = today or local_today()
    now = now or demo_now(today)
    feedback_instruments.ensure_shipped_instrument()  # the questionnaire the demo rounds ask
    from app.meetings import services as meetings

    meetings.ensure_default_themes()
    people = _seed_people(today)
    groups = _seed_groups(people, today)
    seed = _seed_schedules(people, groups, today, now, months_ahead)
    _seed_responses(groups, today, now)
    _seed_extras(people, groups, seed, now)
    db.session.flush()
    return seed


# --- people, organisations, groups -----------------------------------------------------------

@dataclass
class People:
    coordinator: User
    leader: User
    co_leader: User
    member: User
    staff: list[User]
    co_leader_since: date


def _seed_people(today: date) -> People:
    email, name, profession, department = COORDINATOR
    coordinator = accounts.create_user(None, email=email, name=name, roles=["coordinator"], password=DEMO_PASSWORD,
                                       profession=profession, department=department)
    hospital = programme.create_organisation(coordinator, name=HOSPITAL)
    programme.create_organisation(coordinator, name=HEALTH_CENTRE, kind="other")
    coordinator.organisation_id = hospital.id

    def person(row, roles, email=None):
        address, name, profession, department = row if email is None else (email, *row)
        return accounts.create_user(coordinator, email=address, name=name, roles=roles, password=DEMO_PASSWORD,
                                    profession=profession, department=department, organisation_id=hospital.id)

    leader = person(LEADER, ["leader"])
    # Trained long before the oldest demo meeting and valid well after the last one.
    accounts.add_training_record(coordinator, leader, kind=TRAINING_KIND, level="leader", issuer=TRAINING_ISSUER,
                                 completed_on=today - timedelta(days=1500), valid_until=today + timedelta(days=1500),
                                 verified=True)
    co_leader = person(CO_LEADER, ["leader"])
    co_leader_since = today - timedelta(days=TRAINEE_SINCE_DAYS)
    accounts.add_training_record(coordinator, co_leader, kind=TRAINING_KIND, level="leader_in_training",
                                 issuer=TRAINING_ISSUER, completed_on=co_leader_since, verified=True)
    member = person(MEMBER, ["member"])
    staff = [person(row, ["member"], email=f"staff{i:02d}@demo.test") for i, row in enumerate(STAFF, start=1)]
    return People(coordinator, leader, co_leader, member, staff, co_leader_since)


def _seed_groups(people: People, today: date) -> list[Group]:
    coordinator = people.coordinator
    hospital_id = coordinator.organisation_id
    icu = programme.create_group(
        coordinator, organisation_id=hospital_id, name="儿科重症巴林特小组",
        description="儿科重症监护室和新生儿科的医生与护士，每两周一次，在3号楼心灵驿站线下活动。",
        capacity=10, mode="onsite", location="3号楼心灵驿站", duration_minutes=ICU_MINUTES,
    )
    er = programme.create_group(
        coordinator, organisation_id=hospital_id, name="急诊与门诊巴林特小组",
        description="急诊科与门诊的医护人员，每月两次，在傍晚线上活动，方便下夜班的同事参加。",
        capacity=10, mode="online", video_link=ER_VIDEO, duration_minutes=ER_MINUTES,
    )
    joined = today - timedelta(days=3 * 365)
    staff = people.staff
    for group in (icu, er):
        group.created_at = to_utc(joined, DEMO_TIME)  # the groups are as old as their history, whatever the clock
        programme.add_group_leader(coordinator, group, people.leader, today=today)
    programme.add_group_leader(coordinator, icu, people.co_leader, today=today)
    for person in (people.member, *staff[:7]):
        programme.add_member(coordinator, icu, person, joined_on=joined)
    er_members = [programme.add_member(coordinator, er, person, joined_on=joined)
                  for person in (people.member, *staff[7:14])]
    # One colleague left for a placement elsewhere half a year ago; another joined in their place.
    programme.end_membership(coordinator, er_members[5], left_on=today - timedelta(days=180))
    programme.add_member(coordinator, er, staff[14], joined_on=today - timedelta(days=170))
    return [icu, er]


# --- schedules and history -------------------------------------------------------------------

def _meeting_day(day: date, calendar) -> bool:
    """A weekday that is a working day and no statutory holiday: a day the groups' rules would meet on."""
    return day.weekday() < 5 and calendar.holiday_name(day) is None and calendar.is_working_day(day)


@dataclass
class GroupPlan:
    rule: schedule_rules.Rule
    policy: str
    first: date  # the first nominal date of the history: the period generated starts here
    statuses: list[str]  # past meetings, newest first: "unrecorded", "held" or "cancelled"
    extra: date | None  # a one-off meeting the rule could not give


def _decide(past: list[date], unrecorded: int, uncovered: int, rounds: int, rng: random.Random) -> list[str]:
    """What happened at each past meeting (newest first) so that the held meetings make exactly `rounds` sets of
    five and `uncovered` more: the newest `unrecorded` are not recorded yet, the newest recorded one is held (it
    may complete a set), a few of the others were cancelled. Raises RuntimeError when `past` is too short."""
    statuses = ["unrecorded"] * unrecorded
    held, target = 0, uncovered + 5 * rounds
    while held < target:
        if len(statuses) >= len(past):
            raise RuntimeError("the demo's history is too short for its rounds")
        if len(statuses) > unrecorded and rng.random() < CANCEL_RATE:
            statuses.append("cancelled")
        else:
            statuses.append("held")
            held += 1
    return statuses


def _plan_icu(today: date, now: datetime, calendar_of) -> GroupPlan:
    """Every other week on the weekday of today or tomorrow (a meeting to facilitate); holidays move the meeting.

    On a weekend or holiday with no working day today or tomorrow, the series keeps the weekday of the latest
    working day already past (its meeting is the one held but unrecorded) and a one-off meeting is added.
    """
    duration = timedelta(minutes=ICU_MINUTES)
    calendar = calendar_of(today - timedelta(days=40), today + timedelta(days=2))
    candidates = [d for d in (today, today + timedelta(days=1)) if to_utc(d, ICU_START) > now]
    anchor = next((d for d in candidates if _meeting_day(d, calendar)), None)
    extra = None
    if anchor is None:
        extra = candidates[0]
        anchor = next(d for d in (today - timedelta(days=i) for i in range(40))
                      if _meeting_day(d, calendar) and to_utc(d, ICU_START) + duration <= now)
    far = anchor - timedelta(days=14 * 75)
    rule = schedule_rules.Rule(kind=schedule_rules.BIWEEKLY, weekday=anchor.weekday(), start=far)
    until = today + timedelta(days=45)  # a later rule date moved back to before today is in too
    plan = schedule_rules.plan(rule, far, until, schedule_rules.MOVE, calendar_of(far, until))
    past = sorted(((p.actual, p.nominal) for p in plan.dates
                   if p.actual is not None and to_utc(p.actual, ICU_START) + duration <= now), reverse=True)
    statuses = _decide([d for d, _n in past], 1, ICU_UNCOVERED, ICU_ROUNDS, random.Random(f"icu/{today}"))
    first = min(nominal for _d, nominal in past[:len(statuses)])
    completed = [d for (d, _n), s in zip(past, statuses, strict=False) if s == "held"][ICU_UNCOVERED]
    if to_utc(completed, ICU_START) + duration + RECORDED_AFTER + timedelta(days=15) > now:  # its round has closed
        raise RuntimeError("the ICU group's last round would still be open")
    return GroupPlan(schedule_rules.Rule(kind=rule.kind, weekday=rule.weekday, start=first),
                     schedule_rules.MOVE, first, statuses, extra)


def _plan_er(today: date, now: datetime, calendar_of) -> GroupPlan:
    """Two weekdays a month (skipping holidays): of the rules on the 1st and 3rd, 2nd and 4th, or 2nd and last
    weekday, the one whose latest past meeting is the most recent. That meeting completes a set of five, so its
    round is open today. Every span of ER_RECENT_DAYS days holds a working weekday, which one of these rules
    names, even around Spring Festival or National Day: raises RuntimeError otherwise (a calendar no year has had).
    """
    duration = timedelta(minutes=ER_MINUTES)
    far = today - timedelta(days=HISTORY_DAYS)
    calendar = calendar_of(far, today)
    best: tuple[date, schedule_rules.Rule, list[tuple[date, date]]] | None = None
    for weekday, weeks in ER_RULES:
        rule = schedule_rules.Rule(kind=schedule_rules.NTH_WEEKDAY, weekday=weekday, weeks=weeks)
        plan = schedule_rules.plan(rule, far, today, schedule_rules.SKIP, calendar)
        past = sorted(((p.actual, p.nominal) for p in plan.dates
                       if p.actual is not None and to_utc(p.actual, ER_START) + duration <= now), reverse=True)
        if past and (best is None or past[0][0] > best[0]):
            best = (past[0][0], rule, past)
    if best is None or best[0] < today - timedelta(days=ER_RECENT_DAYS):
        raise RuntimeError(f"no rule gives the emergency group a meeting in the last {ER_RECENT_DAYS} days")
    _latest, rule, past = best
    statuses = _decide([d for d, _n in past], 0, 0, ER_ROUNDS, random.Random(f"er/{today}"))
    first = past[len(statuses) - 1][1]
    return GroupPlan(rule, schedule_rules.SKIP, first, statuses, None)


def _calendar_loader():
    from app.scheduling.holidays import ChinaCalendar

    return ChinaCalendar.load


def _seed_schedules(people: People, groups: list[Group], today: date, now: datetime, months_ahead: int) -> DemoSeed:
    """Save each group's rule, generate its meetings from the first history date to `months_ahead` months ahead,
    add the one-off meeting, assign leaders to every meeting, then record the past ones."""
    from app.scheduling import services as scheduling
    from app.scheduling.models import Meeting

    coordinator, leader = people.coordinator, people.leader
    icu, er = groups
    calendar_of = _calendar_loader()
    plans = {icu.id: _plan_icu(today, now, calendar_of), er.id: _plan_er(today, now, calendar_of)}
    until = scheduling.add_months(today, months_ahead) - timedelta(days=1)
    starts = {icu.id: ICU_START, er.id: ER_START}
    extras = []
    for group in groups:
        plan = plans[group.id]
        scheduling.save_schedule(coordinator, group, kind=plan.rule.kind, weekday=plan.rule.weekday,
                                 weeks=plan.rule.weeks, start_on=plan.rule.start, start_time=starts[group.id],
                                 holiday_policy=plan.policy)
        # The history and the months ahead are two periods: together they may be longer than one generation takes.
        scheduling.generate_meetings(coordinator, group, plan.first, today)
        scheduling.generate_meetings(coordinator, group, today + timedelta(days=1), until)
        if plan.extra is not None:  # a weekend or holiday session of the ICU group, online
            extras.append(scheduling.add_extra_meeting(coordinator, group, day=plan.extra, at=starts[group.id],
                                                       mode="online", video_link=ICU_VIDEO))
    # The leader leads every meeting; 李娜 co-leads the ICU group's since her training (one call per meeting, each
    # checked against every invariant by the service).
    co_lead_from = to_utc(people.co_leader_since, time(0))
    for meeting in db.session.scalars(sa.select(Meeting).where(Meeting.group_id.in_([icu.id, er.id]))
                                      .order_by(Meeting.starts_at, Meeting.id)).all():
        co_lead = people.co_leader if meeting.group_id == icu.id and meeting.starts_at >= co_lead_from else None
        try:
            scheduling.assign_leaders(coordinator, meeting, leader, co_lead)
        except DomainError as exc:
            raise RuntimeError(f"the demo's leaders could not be assigned to meeting {meeting.id}: {exc.message}") \
                from exc

    def past_of(group: Group) -> list[Meeting]:
        return list(db.session.scalars(
            sa.select(Meeting).where(Meeting.group_id == group.id, Meeting.ends_at <= now)
            .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
        ))

    unrecorded = None
    for index, group in enumerate(groups):
        past = past_of(group)
        statuses = plans[group.id].statuses
        if len(past) != len(statuses):
            raise RuntimeError(f"{group.name}: {len(past)} past meetings generated, {len(statuses)} planned")
        _record_history(leader, group, list(reversed(past)), list(reversed(statuses)), index,
                        people.member.id if group.id == er.id else None, now)
        if statuses[0] == "unrecorded":
            unrecorded = past[0]
    facilitate = db.session.scalar(
        sa.select(Meeting).where(Meeting.group_id == icu.id, Meeting.starts_at > now, Meeting.status == "scheduled")
        .order_by(Meeting.starts_at).limit(1)
    )
    from app.feedback.models import FeedbackRound

    open_round = db.session.scalar(
        sa.select(FeedbackRound).where(FeedbackRound.group_id == er.id).order_by(FeedbackRound.number.desc()).limit(1)
    )
    return DemoSeed(today, now, groups, facilitate, unrecorded, open_round, extras)


def _record_history(leader: User, group: Group, meetings: list, statuses: list[str], group_index: int,
                    always_present: int | None, now: datetime) -> None:
    """Record the past meetings (oldest first) through the record service, as the leader did soon after each:
    attendance, presenter, themes and a summary, or the reason it was cancelled. The newest meeting of the
    emergency group has `always_present` (the demo member) present, so its round asks them."""
    from app.meetings import services as meetings_service
    from app.meetings.models import Theme

    themes = db.session.scalars(sa.select(Theme).order_by(Theme.code)).all()
    rng = random.Random(f"history/{group_index}")
    recorded = [(m, s) for m, s in zip(meetings, statuses, strict=True) if s != "unrecorded"]
    for i, (meeting, status) in enumerate(recorded):
        when = min(meeting.ends_at + RECORDED_AFTER, now)
        if status == "cancelled":
            meetings_service.record_meeting(leader, meeting, status="cancelled", now=when,
                                            cancel_reason=rng.choice(CANCEL_REASONS))
            continue
        members = meetings_service.current_members(group.id, local_date(meeting.starts_at))
        # Attendance drifts: the ICU group settles in, the emergency group thins out with the extra shifts.
        progress = i / max(len(recorded) - 1, 1)
        rate = 0.75 + 0.15 * progress if group_index == 0 else 0.9 - 0.25 * progress
        attendance = {m.id: ("present" if rng.random() < rate else rng.choice(["absent", "excused"]))
                      for m in members}
        if i == len(recorded) - 1 and always_present in attendance:
            attendance[always_present] = "present"
        present = [uid for uid, state in attendance.items() if state == "present"]
        meetings_service.record_meeting(
            leader, meeting, status="held", now=when, attendance=attendance,
            presenter_id=rng.choice(present) if present else None,
            theme_ids=[t.id for t in rng.sample(themes, k=rng.choice([1, 1, 2]))],
            summary=rng.choice(SUMMARIES) if rng.random() < 0.7 else None, guest_count=rng.choice([0, 0, 0, 1]),
        )


# --- answers ---------------------------------------------------------------------------------

def _target(targets: dict[str, tuple[float, float]], chosen: str, position: int, closed: int,
            rng: random.Random) -> dict[str, float]:
    """Each subscale's mean for the round at `position` (0-based) of `closed` closed rounds: a straight line from
    first to last, with a small wobble (the chosen subscale's stays small enough to keep every step one way)."""
    share = position / max(closed - 1, 1)
    found = {}
    for code, (first, last) in targets.items():
        wobble = rng.uniform(-0.06, 0.06) if code == chosen else rng.uniform(-0.12, 0.12)
        found[code] = min(max(first + (last - first) * share + wobble, 1.3), 4.7)
    return found


def _ratings(definition, means: dict[str, float], respondents: int, rng: random.Random) -> list[dict[str, int]]:
    """Answers to the rated items for `respondents` people whose subscale scores average exactly the target
    (to the nearest 1/(3n)): each person a little above or below it, then single points moved until the totals
    match. Reverse-scored items are answered the other way round."""
    items = {item.code: item for item in definition.items if item.is_numeric}
    answers: list[dict[str, int]] = [{} for _ in range(respondents)]
    spread = [(-0.7 + 1.4 * j / max(respondents - 1, 1)) for j in range(respondents)]
    rng.shuffle(spread)
    for subscale in definition.subscales:
        codes = [c for c in subscale.items if c in items]
        low, high = items[codes[0]].min, items[codes[0]].max
        mean = means.get(subscale.code, (low + high) / 2)
        scores = [[min(max(round(mean + spread[j] + rng.uniform(-0.5, 0.5)), low), high) for _c in codes]
                  for j in range(respondents)]
        total = round(mean * len(codes) * respondents)
        cells = [(j, c) for j in range(respondents) for c in range(len(codes))]
        while sum(map(sum, scores)) != total:
            step = 1 if sum(map(sum, scores)) < total else -1
            rng.shuffle(cells)
            j, c = next((j, c) for j, c in cells if low <= scores[j][c] + step <= high)
            scores[j][c] += step
        for j in range(respondents):
            for c, code in enumerate(codes):
                item = items[code]
                answers[j][code] = item.min + item.max - scores[j][c] if item.reverse else scores[j][c]
    return answers


def _seed_responses(groups: list[Group], today: date, now: datetime) -> None:
    """Answer the rounds through the members' own submission service during each round's window: most eligible
    members answer every closed round (the demo member too); the open round has a few answers so far, not the
    demo member's. Closed rounds follow ICU_TARGETS and ER_TARGETS."""
    from app.feedback.models import FeedbackRound
    from app.feedback.services import rounds as feedback
    from app.feedback.services.responses import round_definition, submit_response

    member_id = db.session.scalar(sa.select(User.id).where(User.email == MEMBER[0]))
    for group_index, group in enumerate(groups):
        rng = random.Random(f"answers/{group_index}/{today}")
        targets, chosen = (ICU_TARGETS, ICU_CHOSEN) if group_index == 0 else (ER_TARGETS, ER_CHOSEN)
        rounds = db.session.scalars(
            sa.select(FeedbackRound).where(FeedbackRound.group_id == group.id).order_by(FeedbackRound.number)
        ).all()
        closed = sum(1 for r in rounds if not r.is_open(now))
        for position, feedback_round in enumerate(rounds):
            definition = round_definition(feedback_round)
            eligible = feedback.eligible_user_ids(feedback_round)
            still_open = feedback_round.is_open(now)
            if still_open:  # a few answers so far; the demo member's is left for the browser
                others = [uid for uid in eligible if uid != member_id]
                answering = rng.sample(others, k=min(3, len(others)))
            else:
                share = (0.8 + 0.1 * position / max(closed - 1, 1)) if group_index == 0 else (
                    0.9 - 0.2 * position / max(closed - 1, 1))
                answering = [uid for uid in eligible if uid == member_id or rng.random() < share]
                if len(answering) < 5:  # enough for every subscale cell to show (k = 3) with room to spare
                    answering = sorted(set(answering) | set(rng.sample(eligible, k=min(5, len(eligible)))))
            means = _target(targets, chosen, position, closed, rng)
            ratings = _ratings(definition, means, len(answering), rng)
            texts = [item for item in definition.items if item.type == "text"]
            window = (min(feedback_round.closes_at, now) - feedback_round.opens_at).total_seconds()
            for user_id, answers in zip(answering, ratings, strict=True):
                for item in texts:
                    if rng.random() < 0.3:
                        pool = DEMO_COMMENTS[:6] if group_index == 0 or position < closed / 2 else DEMO_COMMENTS[2:]
                        answers[item.code] = rng.choice(pool)[: item.max_length]
                when = feedback_round.opens_at + timedelta(seconds=rng.uniform(0.02, 0.9) * window)
                submit_response(db.session.get(User, user_id), feedback_round, answers, when)
    feedback.close_due_rounds(now)


# --- the finishing touches -------------------------------------------------------------------

def _seed_extras(people: People, groups: list[Group], seed: DemoSeed, now: datetime) -> None:
    """Free text released for all but each group's latest closed round (that one waits for the coordinator's
    review), private leader notes, supervision in the leader's portfolio, a future meeting cancelled."""
    from app.feedback.models import FeedbackRound
    from app.feedback.services import review
    from app.meetings import services as meetings
    from app.scheduling import services as scheduling
    from app.scheduling.models import Meeting

    for group in groups:
        closed = db.session.scalars(
            sa.select(FeedbackRound).where(FeedbackRound.group_id == group.id, FeedbackRound.status == "closed")
            .order_by(FeedbackRound.number)
        ).all()
        for feedback_round in closed[:-1]:
            review.release_all_pending(people.coordinator, feedback_round)
    icu, er = groups
    held = db.session.scalars(
        sa.select(Meeting).where(Meeting.group_id == icu.id, Meeting.status == "held")
        .order_by(Meeting.starts_at.desc()).limit(len(LEADER_NOTES))
    ).all()
    for meeting, (kind, text) in zip(held, LEADER_NOTES, strict=False):
        meetings.add_leader_note(people.leader, meeting, kind, text)
    supervisor, note = SUPERVISION
    meetings.add_supervision(people.coordinator, people.leader, held_on=seed.today - timedelta(days=30),
                             supervisor=supervisor, minutes=90, note=note)
    later = db.session.scalar(
        sa.select(Meeting).where(Meeting.group_id == er.id, Meeting.status == "scheduled",
                                 Meeting.starts_at > now + timedelta(days=21))
        .order_by(Meeting.starts_at).limit(1)
    )
    if later is not None:
        scheduling.cancel_meeting(people.coordinator, later, FUTURE_CANCEL_REASON)


# --- the command -----------------------------------------------------------------------------

@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Seed only when the database has no users yet.")
@click.option("--today", "today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Seed as if today were this date (YYYY-MM-DD, in APP_TIMEZONE), as it is at 10:00 that day. "
                   "Default: now.")
@with_appcontext
def demo_command(if_empty, today):
    """Seed demo data dated from today and print the demo logins."""
    if current_app.config["CONFIG_NAME"] == "production":
        raise click.ClickException("Demo data is never seeded under the Production config.")
    has_users = db.session.scalar(sa.select(sa.func.count(User.id))) > 0
    if has_users:
        if not if_empty:
            raise click.ClickException("The database already holds users; demo data is seeded only once.")
        click.echo("Database already has data; demo seeding skipped.")
    else:
        day, now = (today.date(), None) if today is not None else (local_today(), utcnow())
        seed = seed_demo(day, now)
        db.session.commit()
        _describe(seed)
    print_logins()


def _describe(seed: DemoSeed) -> None:
    """Say what the demo holds today, so a first visit knows where to look."""
    from app.timeutil import to_local

    zone = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    click.echo(f"Demo data created for {seed.today.isoformat()} ({zone}).")
    meeting, past, open_round = seed.facilitate, seed.unrecorded, seed.open_round
    if meeting is not None:
        click.echo(f"  leader@demo.test facilitates {meeting.group.name} on "
                   f"{to_local(meeting.starts_at):%Y-%m-%d %H:%M}; the meeting of "
                   f"{to_local(past.starts_at):%Y-%m-%d} is held but not yet recorded.")
    if open_round is not None:
        click.echo(f"  member@demo.test can answer feedback round {open_round.number} of {open_round.group.name} "
                   f"until {to_local(open_round.closes_at):%Y-%m-%d %H:%M}.")
