"""Scheduling operations without HTTP: generation, extension, changes and leader assignment."""

from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import Conflict, DomainError
from app.scheduling import services
from app.scheduling.models import Meeting
from app.scheduling.services import ClashError, EligibilityError
from app.timeutil import local_date, to_local, to_utc
from tests.factories import give_training, make_group, make_user


def meetings_of(db, group):
    return db.session.scalars(sa.select(Meeting).where(Meeting.group_id == group.id).order_by(Meeting.starts_at)).all()


def test_six_months_give_twelve_meetings_at_the_local_time_in_utc(db, scheduled_group):
    result = services.generate_meetings(None, scheduled_group, date(2027, 1, 1), date(2027, 6, 30))
    meetings = meetings_of(db, scheduled_group)
    assert len(meetings) == len(result.created) == 12
    first = meetings[0]
    assert first.starts_at == datetime(2027, 1, 6, 6, 0)  # 14:00 in Beijing is 06:00 UTC
    assert first.ends_at - first.starts_at == timedelta(minutes=60)
    assert to_local(first.starts_at).hour == 14


def test_generating_twice_creates_no_duplicate(db, scheduled_group):
    services.generate_meetings(None, scheduled_group, date(2027, 1, 1), date(2027, 3, 31))
    again = services.generate_meetings(None, scheduled_group, date(2027, 1, 1), date(2027, 3, 31))
    assert again.created == [] and again.kept == 6
    assert len(meetings_of(db, scheduled_group)) == 6


def test_extension_never_touches_edited_or_cancelled_meetings(db, scheduled_group):
    services.generate_meetings(None, scheduled_group, date(2027, 1, 1), date(2027, 1, 31))
    first, second = meetings_of(db, scheduled_group)
    services.reschedule_meeting(None, first, day=date(2027, 1, 8), at=time(9, 0), duration_minutes=90,
                                reason="Ward round moved")
    services.cancel_meeting(None, second, "Leader ill")
    services.generate_meetings(None, scheduled_group, date(2027, 1, 1), date(2027, 2, 28))
    meetings = meetings_of(db, scheduled_group)
    assert len(meetings) == 4
    assert first.starts_at == datetime(2027, 1, 8, 1, 0) and first.sequence == 1 and first.edited
    assert second.status == "cancelled" and second.cancel_reason == "Leader ill"


def test_extend_continues_after_the_last_generated_date(db, scheduled_group):
    services.generate_meetings(None, scheduled_group, date(2027, 1, 1), date(2027, 1, 31))
    result = services.extend_schedule(None, scheduled_group, 2, today=date(2026, 12, 1))
    assert [local_date(m.starts_at).month for m in result.created] == [2, 2, 3, 3]
    assert scheduled_group.schedule.generated_until == date(2027, 3, 31)


def test_past_periods_can_be_scheduled_for_history(db, scheduled_group):
    result = services.generate_meetings(None, scheduled_group, date(2024, 1, 1), date(2024, 12, 31))
    assert len(result.created) == 24


def test_a_moved_date_says_why(db, scheduled_group):
    services.save_schedule(None, scheduled_group, kind="nth_weekday", weekday=3, weeks=[1], start_time=time(14, 0))
    result = services.generate_meetings(None, scheduled_group, date(2026, 10, 1), date(2026, 10, 31))
    (meeting,) = result.created
    assert meeting.rule_date == date(2026, 10, 1) and meeting.holiday_note == "National Day"
    assert local_date(meeting.starts_at) == date(2026, 10, 8)


def test_a_year_without_an_official_schedule_is_reported(db, scheduled_group):
    result = services.generate_meetings(None, scheduled_group, date(2026, 12, 1), date(2027, 2, 28))
    assert result.years_without_schedule in ([2027], [])  # [] once the library carries 2027's schedule


def test_a_bad_rule_is_refused_naming_the_field(db, group):
    with pytest.raises(DomainError) as error:
        services.save_schedule(None, group, kind="nth_weekday", weekday=2, weeks=[], start_time=time(9))
    assert error.value.field == "weeks"


def test_generation_needs_a_rule_and_a_sane_period(db, group, scheduled_group):
    other = make_group(group.organisation, "No rule yet")
    with pytest.raises(DomainError):
        services.generate_meetings(None, other, date(2027, 1, 1), date(2027, 2, 1))
    with pytest.raises(DomainError):
        services.generate_meetings(None, scheduled_group, date(2027, 2, 1), date(2027, 1, 1))


def test_cancel_and_reschedule_need_a_reason(db, scheduled_group):
    services.generate_meetings(None, scheduled_group, date(2027, 1, 1), date(2027, 1, 31))
    meeting = meetings_of(db, scheduled_group)[0]
    with pytest.raises(DomainError):
        services.cancel_meeting(None, meeting, "  ")
    services.cancel_meeting(None, meeting, "Holiday")
    with pytest.raises(Conflict):
        services.cancel_meeting(None, meeting, "again")


# --- leaders ---------------------------------------------------------------------------------

@pytest.fixture
def january(db, scheduled_group):
    services.generate_meetings(None, scheduled_group, date(2027, 1, 1), date(2027, 1, 31))
    return meetings_of(db, scheduled_group)


def test_an_eligible_lead_and_co_lead_are_assigned(db, january, leader, trainee_leader):
    services.assign_leaders(None, january[0], leader, trainee_leader)
    assert january[0].lead is leader and january[0].co_lead is trainee_leader


def test_a_trainee_may_not_lead_and_the_message_says_why(db, january, trainee_leader):
    with pytest.raises(EligibilityError) as error:
        services.assign_leaders(None, january[0], trainee_leader)
    assert "level" in error.value.message and error.value.field == "lead_id"


def test_a_trainee_co_leads_only_beside_a_qualified_lead(db, january, trainee_leader):
    other_trainee = make_user("t2@example.org", roles=["leader"])
    give_training(other_trainee, "leader_in_training")
    qualified_lead_needed = make_user("q@example.org", roles=["leader"])
    give_training(qualified_lead_needed, "training_leader")
    services.assign_leaders(None, january[0], qualified_lead_needed, trainee_leader)
    with pytest.raises(EligibilityError):
        services.assign_leaders(None, january[1], other_trainee, trainee_leader)


def test_a_member_of_the_group_never_leads_it(db, january, member):
    give_training(member, "leader")
    with pytest.raises(EligibilityError) as error:
        services.assign_leaders(None, january[0], member)
    assert "member" in error.value.message


def test_expired_training_on_the_meeting_date_is_refused(db, january):
    expiring = make_user("exp@example.org", roles=["leader"])
    give_training(expiring, "leader", completed_on=date(2020, 1, 1), valid_until=date(2027, 1, 10))
    services.assign_leaders(None, january[0], expiring)  # 6 January: still valid
    with pytest.raises(EligibilityError) as error:
        services.assign_leaders(None, january[1], expiring)  # 20 January: expired
    assert "no longer valid" in error.value.message


def test_a_leader_is_never_booked_into_two_overlapping_meetings(db, january, leader, org):
    other = make_group(org, "Other group")
    clash = services.add_extra_meeting(None, other, day=date(2027, 1, 6), at=time(14, 30))
    services.assign_leaders(None, january[0], leader)
    with pytest.raises(ClashError) as error:
        services.assign_leaders(None, clash, leader)
    assert "overlapping" in error.value.message


def test_rescheduling_onto_a_leaders_other_meeting_is_refused(db, january, leader, org):
    other = make_group(org, "Other group")
    extra = services.add_extra_meeting(None, other, day=date(2027, 1, 8), at=time(9, 0))
    services.assign_leaders(None, extra, leader)
    services.assign_leaders(None, january[0], leader)
    with pytest.raises(Conflict):
        services.reschedule_meeting(None, january[0], day=date(2027, 1, 8), at=time(9, 30), duration_minutes=60,
                                    reason="clash")


def test_a_co_lead_without_a_lead_and_the_same_person_twice_are_refused(db, january, leader):
    with pytest.raises(DomainError):
        services.assign_leaders(None, january[0], None, leader)
    with pytest.raises(DomainError):
        services.assign_leaders(None, january[0], leader, leader)


def test_assigning_a_series_lists_the_meetings_that_cannot_take_the_leader(db, january, org):
    expiring = make_user("exp@example.org", roles=["leader"])
    give_training(expiring, "leader", completed_on=date(2020, 1, 1), valid_until=date(2027, 1, 10))
    result = services.assign_series(None, january[0].group, expiring, "lead", since=datetime(2027, 1, 1))
    assert result.assigned == [january[0]]
    assert [m for m, _reason in result.refused] == [january[1]]


def test_suggestions_are_eligible_free_and_fairest_first(db, january, leader, org):
    busy = make_user("busy@example.org", roles=["leader"], name="Aaron Busy")
    give_training(busy, "leader")
    past = services.add_extra_meeting(None, make_group(org, "Past"), day=date(2026, 11, 1), at=time(9, 0))
    services.assign_leaders(None, past, busy)
    suggestions = services.suggest_leaders(january[0], "lead", now=datetime(2026, 11, 28))
    names = [s.user.name for s in suggestions]
    assert names.index(leader.name) < names.index(busy.name)
    assert {s.led_recently for s in suggestions if s.user is busy} == {1}


def test_times_round_trip_through_utc(db):
    moment = to_utc(date(2027, 1, 6), time(14, 0))
    assert moment == datetime(2027, 1, 6, 6, 0)
    assert to_local(moment).replace(tzinfo=None) == datetime(2027, 1, 6, 14, 0)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(st.integers(1, 6), min_size=1, max_size=5),
    weekday=st.integers(0, 4),
    weeks=st.sampled_from([[1, 3], [2, 4], [1, -1]]),
    start=st.dates(date(2026, 1, 1), date(2027, 6, 30)),
)
def test_repeated_extension_never_duplicates_and_keeps_two_a_month(db, group, steps, weekday, weeks, start):
    db.session.execute(sa.delete(Meeting).where(Meeting.group_id == group.id))
    if group.schedule is not None:
        group.schedule.generated_until = None
    services.save_schedule(None, group, kind="nth_weekday", weekday=weekday, weeks=weeks, start_time=time(14, 0))
    first = date(start.year, start.month, 1)
    for months in steps:
        services.extend_schedule(None, group, months, today=first)
    again = services.generate_meetings(None, group, first, group.schedule.generated_until)
    assert again.created == []
    meetings = meetings_of(db, group)
    rule_dates = [m.rule_date for m in meetings]
    assert len(rule_dates) == len(set(rule_dates))
    per_month = {}
    for m in meetings:
        day = local_date(m.starts_at)
        per_month[(day.year, day.month)] = per_month.get((day.year, day.month), 0) + 1
    assert set(per_month.values()) == {2}
    assert len(per_month) == sum(steps)
