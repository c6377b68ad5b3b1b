"""The demo seeded on fixed days (a Sunday, New Year's Eve, before and during Spring Festival, National Day): the
member has a round to answer and a meeting soon, the leader a meeting to facilitate and one to record, the trends
move, every meeting invariant holds and the names read as Chinese.

Each day is seeded once for the module at a fixed local hour (`seed_demo(day, now)`); the tests read it with
that `now`, never the real clock. Meetings are generated two months ahead instead of six, to stay quick.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
import sqlalchemy as sa
import time_machine

from app.accounts.models import User
from app.demo import DEMO_PASSWORD, seed_demo
from app.extensions import db, limiter
from app.feedback.models import Answer, Completion, FeedbackRound
from app.feedback.services import rounds as feedback
from app.meetings.identifiers import find_identifiers
from app.meetings.models import LeaderNote, MeetingRecord, Supervision
from app.programme.models import Group, Membership, Organisation
from app.scheduling.models import Meeting, MeetingLeader
from app.trends.board_queries import programme_board
from app.trends.group_queries import group_trend
from app.trends.rules import AMBER, DECLINE_CHANGE, DECLINE_SLOPE, GREEN, RED, Thresholds
from tests.conftest import _wipe
from tests.invariant_checks import changed_meeting_breaches, leader_breaches, load_world, round_breaches

LOCAL = ZoneInfo("Asia/Shanghai")
CJK = re.compile(r"[\u4e00-\u9fff]")
DAYS = {  # the day and the local hour it is seeded at
    "a-sunday": (date(2026, 12, 6), 10),  # the meeting to facilitate is tomorrow's, by the rule
    "new-years-eve-late": (date(2026, 12, 31), 22),  # today's meetings are over; tomorrow is New Year's Day
    "before-spring-festival": (date(2027, 2, 4), 10),  # a working Thursday: the rule's meeting is today
    "during-spring-festival": (date(2027, 2, 8), 10),  # 5-10 Feb 2027 are holidays in the holidays library
    "national-day": (date(2027, 10, 2), 10),  # a Saturday in the National Day holiday
}
ICU, ER = "儿科重症巴林特小组", "急诊与门诊巴林特小组"


@dataclass(frozen=True)
class Seeded:
    today: date
    now: datetime  # naive UTC, on `today` local


def local_day(moment: datetime) -> date:
    return moment.replace(tzinfo=UTC).astimezone(LOCAL).date()


@pytest.fixture(scope="module", params=list(DAYS.values()), ids=list(DAYS))
def seeded(request, app):
    """The demo seeded on one fixed day and hour, kept for every test of that day (read only)."""
    today, hour = request.param
    now = datetime.combine(today, time(hour), LOCAL).astimezone(UTC).replace(tzinfo=None)
    with app.app_context():
        db.session.remove()
        _wipe(db.engine)
        limiter.reset()
        seed_demo(today, now, months_ahead=2)
        db.session.commit()
        yield Seeded(today, now)
        db.session.rollback()
        db.session.remove()


def user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def group_named(name: str) -> Group:
    return db.session.scalar(sa.select(Group).where(Group.name == name))


def led_by(email: str):
    return sa.select(MeetingLeader.meeting_id).join(User, User.id == MeetingLeader.user_id).where(User.email == email)


# --- the member ------------------------------------------------------------------------------

def test_the_member_has_exactly_one_open_round_left_to_answer(seeded):
    member = user("member@demo.test")
    waiting = [r for r in feedback.open_rounds_for_member(member, seeded.now) if not feedback.has_responded(r, member)]
    assert len(waiting) == 1, [(r.group.name, r.number) for r in waiting]
    open_round = waiting[0]
    assert open_round.group.name == ER and open_round.mode == "questionnaire" and open_round.instrument_id
    assert open_round.opens_at <= seeded.now and open_round.closes_at - seeded.now >= timedelta(days=2)
    # A few colleagues have answered already: participation shows while results wait for the round to close.
    answered = db.session.scalar(sa.select(sa.func.count()).select_from(Completion).where(
        Completion.round_id == open_round.id))
    assert 0 < answered < feedback.eligible_count(open_round)


def test_the_member_has_a_meeting_in_the_next_eight_days(seeded):
    member = user("member@demo.test")
    groups = sa.select(Membership.group_id).where(
        Membership.user_id == member.id, Membership.joined_on <= seeded.today,
        sa.or_(Membership.left_on.is_(None), Membership.left_on >= seeded.today))
    soon = db.session.scalars(sa.select(Meeting).where(
        Meeting.group_id.in_(groups), Meeting.status == "scheduled",
        Meeting.starts_at >= seeded.now, Meeting.starts_at <= seeded.now + timedelta(days=8))).all()
    assert soon


# --- the leader ------------------------------------------------------------------------------

def test_the_leader_has_a_meeting_to_facilitate_today_or_tomorrow(seeded):
    meetings = db.session.scalars(sa.select(Meeting).where(
        Meeting.id.in_(led_by("leader@demo.test")), Meeting.status == "scheduled", Meeting.starts_at >= seeded.now,
        Meeting.starts_at < seeded.now + timedelta(days=2))).all()
    days = {local_day(m.starts_at) for m in meetings}
    assert days & {seeded.today, seeded.today + timedelta(days=1)}, days


def test_the_leader_has_one_past_meeting_held_but_not_yet_recorded(seeded):
    unrecorded = db.session.scalars(sa.select(Meeting).where(
        Meeting.id.in_(led_by("leader@demo.test")), Meeting.status == "scheduled", Meeting.ends_at <= seeded.now,
        ~sa.select(MeetingRecord.id).where(MeetingRecord.meeting_id == Meeting.id).exists())).all()
    assert len(unrecorded) == 1
    assert unrecorded[0].group.name == ICU and seeded.now - unrecorded[0].starts_at < timedelta(days=40)


# --- trends ----------------------------------------------------------------------------------

def closed_means(name: str, subscale: str, now: datetime) -> list[float]:
    trend = group_trend(group_named(name), k=3, items=True, now=now)
    closed = [r for r in trend.rounds if r.reason is None]
    for r in closed:  # every closed round shows numbers for every subscale and every question
        assert r.subscales and all(p.mean is not None for p in r.subscales), (name, r.number)
        assert r.items and all(p.mean is not None for p in r.items), (name, r.number)
    return [next(p.mean for p in r.subscales if p.code == subscale) for r in closed]


def test_each_group_has_at_least_eight_closed_rounds_whose_trend_shows_numbers(seeded):
    for name in (ICU, ER):
        group = group_named(name)
        closed = db.session.scalar(sa.select(sa.func.count()).select_from(FeedbackRound).where(
            FeedbackRound.group_id == group.id, FeedbackRound.status == "closed",
            FeedbackRound.closes_at <= seeded.now))
        assert closed >= 8, name
        assert len(closed_means(name, "understanding", seeded.now)) >= 8, name


def test_the_icu_group_improves_and_the_emergency_group_declines_in_steps_under_half_a_point(seeded):
    rising = closed_means(ICU, "understanding", seeded.now)
    falling = closed_means(ER, "wellbeing", seeded.now)
    rises = [b - a for a, b in zip(rising, rising[1:], strict=False)]
    falls = [b - a for a, b in zip(falling, falling[1:], strict=False)]
    assert all(step > 0 for step in rises) and rising[-1] - rising[0] >= 1.0, rising
    assert all(-0.5 < step < 0 for step in falls), falling
    assert falling[0] == pytest.approx(4.2, abs=0.15) and falling[-1] == pytest.approx(2.5, abs=0.15), falling


# --- rules and invariants --------------------------------------------------------------------

def test_every_meeting_invariant_holds(seeded):
    world = load_world(db.session)
    breaches = (leader_breaches(world) + changed_meeting_breaches(world, set(world.meetings))
                + round_breaches(world, set()))
    assert not breaches, "\n".join(map(str, breaches[:10]))
    held = [m for m in world.meetings.values() if m.status == "held"]
    assert len(held) >= 80 and all(any(role == "lead" for _uid, role in world.leaders.get(m.id, [])) for m in held)


def test_meetings_follow_their_groups_rules_and_the_holiday_calendar(seeded):
    official = holidays.China(years=range(seeded.today.year - 3, seeded.today.year + 2))
    for name in (ICU, ER):
        group = group_named(name)
        meetings = db.session.scalars(sa.select(Meeting).where(Meeting.group_id == group.id)).all()
        ruled = [m for m in meetings if m.rule_date is not None]
        extras = [m for m in meetings if m.rule_date is None]
        assert len(ruled) >= 45 and len(extras) <= (1 if name == ICU else 0), name
        for meeting in ruled:  # on a working day (调休 included), never on a holiday (moved or skipped instead)
            day = local_day(meeting.starts_at)
            working = (day.weekday() < 5 and day not in official) or day in official.weekend_workdays
            assert working, (name, day, official.get(day))
        for meeting in extras:  # a one-off only where the rule leaves today and tomorrow without a meeting to come
            day = local_day(meeting.starts_at)
            assert day in (seeded.today, seeded.today + timedelta(days=1)) and meeting.starts_at > seeded.now
            assert not [m for m in ruled if seeded.today <= local_day(m.starts_at) <= seeded.today
                        + timedelta(days=1) and m.starts_at > seeded.now]


def test_no_leader_is_a_member_of_a_group_and_leaders_are_trained(seeded):
    leaders = set(db.session.scalars(sa.select(MeetingLeader.user_id)))
    members = set(db.session.scalars(sa.select(Membership.user_id)))
    assert leaders and not leaders & members
    assert {u.email for u in db.session.scalars(sa.select(User).where(User.id.in_(leaders)))} == {
        "leader@demo.test", "coleader@demo.test"}


# --- names and text --------------------------------------------------------------------------

def test_people_organisations_and_groups_have_chinese_names_and_ascii_logins(seeded):
    people = db.session.scalars(sa.select(User)).all()
    assert len(people) >= 15
    for person in people:
        assert CJK.search(person.name) and person.email.isascii() and person.email.endswith("@demo.test")
        assert person.department is None or CJK.search(person.department)
    for name in [*db.session.scalars(sa.select(Organisation.name)), *db.session.scalars(sa.select(Group.name))]:
        assert CJK.search(name), name
    assert {"coordinator@demo.test", "leader@demo.test", "member@demo.test"} <= {p.email for p in people}


def test_every_free_text_is_chinese_and_passes_the_patient_identifier_guard(seeded):
    texts = [
        *db.session.scalars(sa.select(MeetingRecord.summary).where(MeetingRecord.summary.is_not(None))),
        *db.session.scalars(sa.select(Meeting.cancel_reason).where(Meeting.cancel_reason.is_not(None))),
        *db.session.scalars(sa.select(LeaderNote.text)),
        *db.session.scalars(sa.select(Supervision.note).where(Supervision.note.is_not(None))),
        *db.session.scalars(sa.select(Group.description)),
        *db.session.scalars(sa.select(Answer.text).where(Answer.text.is_not(None))),
    ]
    assert len(texts) > 50
    for text in texts:
        assert CJK.search(text) and not find_identifiers(text), text


# --- the pages -------------------------------------------------------------------------------

def test_the_member_sees_the_round_and_the_leader_the_meeting_on_their_home_pages(seeded, app):
    member = user("member@demo.test")
    waiting = next(r for r in feedback.open_rounds_for_member(member, seeded.now)
                   if not feedback.has_responded(r, member))
    facilitate = db.session.scalar(sa.select(Meeting).where(
        Meeting.id.in_(led_by("leader@demo.test")), Meeting.status == "scheduled", Meeting.starts_at >= seeded.now)
        .order_by(Meeting.starts_at).limit(1))
    with time_machine.travel(seeded.now.replace(tzinfo=UTC), tick=False):
        client = app.test_client()
        assert client.post("/login", data={"email": "member@demo.test", "password": DEMO_PASSWORD}).status_code == 302
        home = client.get("/").get_data(as_text=True)
        assert f'id="open-round-{waiting.id}"' in home and ER in home
        assert client.get(f"/rounds/{waiting.id}/answer").status_code == 200
        client = app.test_client()
        assert client.post("/login", data={"email": "leader@demo.test", "password": DEMO_PASSWORD}).status_code == 302
        home = client.get("/").get_data(as_text=True)
        assert f"/meetings/{facilitate.id}" in home
        assert client.get(f"/meetings/{facilitate.id}/live").status_code == 200


def test_the_board_flags_the_declining_group_with_its_reason_and_shows_the_improving_one_green(seeded, app):
    icu, er = group_named(ICU), group_named(ER)
    with time_machine.travel(seeded.now.replace(tzinfo=UTC), tick=False):
        client = app.test_client()
        assert client.post("/login", data={"email": "coordinator@demo.test",
                                           "password": DEMO_PASSWORD}).status_code == 302
        page = client.get("/board").get_data(as_text=True)
        home = client.get("/").get_data(as_text=True)
    board = programme_board(None, seeded.now, 3, Thresholds.from_config(app.config))
    rows = {row.group_id: row for row in board.rows}
    assert rows[icu.id].status == GREEN and rows[icu.id].findings == ()
    declining = rows[er.id]
    assert declining.status in (AMBER, RED)
    decline = [f for f in declining.findings if f.rule in (DECLINE_SLOPE, DECLINE_CHANGE)]
    assert {f.detail["key"] for f in decline} >= {"balint-feedback/wellbeing"}
    assert f'data-board-group="{er.id}" data-board-status="{declining.status}"' in page
    assert f'data-board-group="{icu.id}" data-board-status="green"' in page
    assert 'data-board-rule="decline_slope"' in home and ER in home
