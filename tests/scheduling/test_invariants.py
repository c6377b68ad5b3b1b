"""Every door keeps the meeting invariants (issue 12): the side doors that used to let a rule be broken, and the
changes to people that keep their data and flag the meetings they affect. Services only, no HTTP."""

from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from app.accounts import rules as eligibility
from app.accounts import services as accounts
from app.errors import Conflict, DomainError
from app.meetings import services as meetings
from app.programme import services as programme
from app.scheduling import rules, services
from app.scheduling.models import Meeting, MeetingLeader
from app.scheduling.services import ClashError, EligibilityError, InvariantError, invariants
from app.timeutil import local_date
from tests.factories import give_training, make_group, make_user

NOW = datetime(2031, 3, 20, 4, 0)  # 20 March 2031, noon in Beijing: after the March meetings below


def codes(meeting) -> set[str]:
    return {p.code for p in services.meeting_problems(meeting)}


@pytest.fixture
def expiring(db, org):
    """A qualified leader whose training is valid until 10 March 2031 (a Monday)."""
    person = make_user("eve@example.org", roles=["leader"], name="Expiring Eve", organisation_id=org.id)
    give_training(person, "leader", completed_on=date(2020, 1, 1), valid_until=date(2031, 3, 10))
    return person


def extra(group, day, at=time(14, 0), minutes=60):
    return services.add_extra_meeting(None, group, day=day, at=at, duration_minutes=minutes)


# --- rescheduling ---------------------------------------------------------------------------------

def test_rescheduling_to_a_date_after_the_leads_training_expired_is_refused(db, group, expiring):
    meeting = extra(group, date(2031, 3, 5))
    services.assign_leaders(None, meeting, expiring)
    with pytest.raises(EligibilityError) as refused:
        services.reschedule_meeting(None, meeting, day=date(2031, 3, 12), at=time(14, 0), duration_minutes=60,
                                    reason="The room is taken")
    assert refused.value.rule == eligibility.TRAINING_EXPIRED and refused.value.field == "day"
    assert "Expiring Eve cannot be lead of this meeting on" in refused.value.message
    assert "The training is no longer valid on this date." in refused.value.message
    db.session.expire_all()
    assert local_date(db.session.get(Meeting, meeting.id).starts_at) == date(2031, 3, 5)


def test_rescheduling_past_local_midnight_is_judged_on_the_local_date_not_the_utc_one(db, group, expiring):
    meeting = extra(group, date(2031, 3, 10))
    services.assign_leaders(None, meeting, expiring)
    # 00:30 on 11 March in Beijing is still 10 March in UTC: the lead's training has expired by then.
    with pytest.raises(EligibilityError):
        services.reschedule_meeting(None, meeting, day=date(2031, 3, 11), at=time(0, 30), duration_minutes=60,
                                    reason="Night shift")
    services.reschedule_meeting(None, meeting, day=date(2031, 3, 10), at=time(23, 0), duration_minutes=60,
                                reason="Night shift")
    assert codes(meeting) == set()


def test_rescheduling_keeps_the_co_lead_beside_a_qualified_lead(db, group, expiring, trainee_leader):
    meeting = extra(group, date(2031, 3, 5))
    services.assign_leaders(None, meeting, expiring, trainee_leader)
    with pytest.raises(EligibilityError) as refused:
        services.reschedule_meeting(None, meeting, day=date(2031, 3, 19), at=time(14, 0), duration_minutes=60,
                                    reason="Moved")
    assert refused.value.field == "day" and "Expiring Eve" in refused.value.message


def test_rescheduling_a_leader_onto_their_other_meeting_is_a_clash(db, org, group, leader):
    other = extra(make_group(org, "Surgeons"), date(2031, 3, 6), at=time(9, 0))
    services.assign_leaders(None, other, leader)
    meeting = extra(group, date(2031, 3, 5))
    services.assign_leaders(None, meeting, leader)
    with pytest.raises(ClashError) as refused:
        services.reschedule_meeting(None, meeting, day=date(2031, 3, 6), at=time(9, 30), duration_minutes=60,
                                    reason="Moved")
    assert refused.value.rule == eligibility.OVERLAPPING_MEETING
    assert refused.value.message == "Leader Li is assigned to another meeting at that time."


@pytest.mark.parametrize("reason", ["患者住院号123456 电话13812345678", "12床患儿 出生日期：2019-05-01"])
def test_cancel_and_reschedule_reasons_holding_patient_identifiers_are_refused(db, group, reason):
    meeting = extra(group, date(2031, 3, 5))
    with pytest.raises(DomainError) as refused:
        services.cancel_meeting(None, meeting, reason)
    assert refused.value.field == "reason" and "Records hold no patient identifiers" in refused.value.message
    with pytest.raises(DomainError) as refused:
        services.reschedule_meeting(None, meeting, day=date(2031, 3, 6), at=time(14, 0), duration_minutes=60,
                                    reason=reason)
    assert refused.value.field == "reason" and "Records hold no patient identifiers" in refused.value.message
    db.session.expire_all()
    kept = db.session.get(Meeting, meeting.id)
    assert kept.status == "scheduled" and kept.cancel_reason is None and kept.change_reason is None


# --- recording and correcting ---------------------------------------------------------------------

def test_a_meeting_cannot_be_recorded_as_held_without_a_lead(db, group, member):
    meeting = extra(group, date(2031, 3, 5))
    with pytest.raises(InvariantError) as refused:
        meetings.record_meeting(None, meeting, status="held", now=NOW, attendance={member.id: "present"})
    assert refused.value.rule == rules.HELD_WITHOUT_LEAD and refused.value.field == "status"
    assert refused.value.message == "Recording a meeting as held requires an eligible lead on that date."
    db.session.expire_all()
    kept = db.session.get(Meeting, meeting.id)
    assert kept.status == "scheduled" and kept.record is None and kept.attendances == []


def test_a_meeting_cannot_be_recorded_as_held_when_its_lead_is_not_eligible_that_day(db, group, member, expiring):
    meeting = extra(group, date(2031, 3, 5))
    services.assign_leaders(None, meeting, expiring)
    meetings.record_meeting(None, meeting, status="cancelled", now=NOW, cancel_reason="Ward emergency")
    later = extra(group, date(2031, 3, 12))
    services.assign_leaders(None, later, make_leader("sam@example.org"))
    accounts.update_training_record(None, expiring.training_records[0], valid_until=date(2031, 3, 4))
    with pytest.raises(EligibilityError) as refused:
        meetings.record_meeting(None, meeting, status="held", now=NOW, attendance={member.id: "present"})
    assert refused.value.field == "status" and refused.value.rule == eligibility.NO_VERIFIED_TRAINING
    assert refused.value.message.startswith("Recording a meeting as held requires eligible leaders on that date.")


def make_leader(email, name=None):
    person = make_user(email, roles=["leader"], name=name)
    give_training(person, "leader", completed_on=date(2020, 1, 1))
    return person


def test_a_cancelled_meeting_corrected_back_to_held_cannot_double_book_its_lead(db, org, group, leader, member):
    x = extra(group, date(2031, 3, 5))
    services.assign_leaders(None, x, leader)
    meetings.record_meeting(None, x, status="cancelled", now=NOW, cancel_reason="Nobody could come")
    y = extra(make_group(org, "Surgeons"), date(2031, 3, 5), at=time(14, 30))
    services.assign_leaders(None, y, leader)  # x is cancelled: its time is free again
    with pytest.raises(ClashError) as refused:
        meetings.record_meeting(None, x, status="held", now=NOW, attendance={member.id: "present"})
    assert refused.value.field == "status" and "Leader Li" in refused.value.message
    db.session.expire_all()
    assert db.session.get(Meeting, x.id).status == "cancelled"


def test_held_corrected_to_cancelled_frees_the_leader_and_back_to_held_is_checked_again(
    db, org, group, leader, member
):
    x = extra(group, date(2031, 3, 5))
    services.assign_leaders(None, x, leader)
    meetings.record_meeting(None, x, status="held", now=NOW, attendance={member.id: "present"})
    meetings.record_meeting(None, x, status="cancelled", now=NOW, cancel_reason="Recorded by mistake")
    assert codes(x) == set()
    meetings.record_meeting(None, x, status="held", now=NOW, attendance={member.id: "present"})
    assert x.status == "held" and codes(x) == set()


def test_a_held_meeting_whose_lead_has_since_left_can_have_its_record_corrected_but_not_worsened(
        db, group, leader, member):
    """Deactivating the lead keeps the data (and flags it): correcting that meeting's attendance is still allowed,
    because the correction brings no new problem; cancelling and recording it as held again is not."""
    meeting = extra(group, date(2031, 3, 5))
    services.assign_leaders(None, meeting, leader)
    meetings.record_meeting(None, meeting, status="held", now=NOW, attendance={member.id: "present"})
    accounts.set_active(None, leader, False)
    assert eligibility.INACTIVE in codes(meeting)
    meetings.record_meeting(None, meeting, status="held", now=NOW, attendance={member.id: "excused"})
    assert {a.status for a in meeting.attendances} == {"excused"}
    meetings.record_meeting(None, meeting, status="cancelled", now=NOW, cancel_reason="Recorded by mistake")
    with pytest.raises(EligibilityError) as refused:
        meetings.record_meeting(None, meeting, status="held", now=NOW, attendance={member.id: "present"})
    assert refused.value.rule == eligibility.INACTIVE


def test_a_held_meeting_keeps_its_invariants_when_its_leaders_change(db, group, leader, member, trainee_leader):
    x = extra(group, date(2031, 3, 5))
    services.assign_leaders(None, x, leader)
    meetings.record_meeting(None, x, status="held", now=NOW, attendance={member.id: "present"})
    with pytest.raises(EligibilityError):
        services.assign_leaders(None, x, trainee_leader)
    assert x.lead.id == leader.id


# --- memberships and standing leaders -------------------------------------------------------------

def test_a_person_leading_a_groups_meeting_cannot_then_join_it_as_a_member(db, org, group):
    guest = make_leader("guest@example.org", "Guest Gao")
    meeting = extra(group, date(2031, 3, 5))
    services.assign_leaders(None, meeting, guest)
    with pytest.raises(InvariantError) as refused:
        programme.add_member(None, group, guest, date(2031, 3, 1))
    assert refused.value.rule == eligibility.MEMBER_OF_GROUP and refused.value.field == "user_id"
    assert "Guest Gao leads this group's meeting of" in refused.value.message
    assert programme.open_membership(group, guest) is None
    assert not guest.has_role("member")


def test_a_membership_that_starts_after_the_meetings_a_person_led_is_allowed(db, group):
    guest = make_leader("guest@example.org")
    meeting = extra(group, date(2031, 3, 5))
    services.assign_leaders(None, meeting, guest)
    programme.add_member(None, group, guest, date(2031, 3, 6))
    assert codes(meeting) == set()


def test_a_cancelled_meeting_does_not_stop_a_membership_but_is_checked_when_corrected_back(db, group, member):
    guest = make_leader("guest@example.org")
    meeting = extra(group, date(2031, 3, 5))
    services.assign_leaders(None, meeting, guest)
    services.cancel_meeting(None, meeting, "Holiday")
    programme.add_member(None, group, guest, date(2031, 3, 1))
    with pytest.raises(EligibilityError) as refused:
        meetings.record_meeting(None, meeting, status="held", now=NOW,
                                attendance={guest.id: "present", member.id: "present"})
    assert refused.value.rule == eligibility.MEMBER_OF_GROUP


def test_a_standing_leader_cannot_join_and_a_member_until_later_cannot_become_a_standing_leader(
    db, group, leader, member, today
):
    with pytest.raises(programme.MembershipConflict) as refused:
        programme.add_member(None, group, leader, today)
    assert refused.value.rule == programme.STANDING_LEADER
    accounts.set_roles(None, member, ["member", "leader"])
    programme.end_membership(None, programme.open_membership(group, member), today + timedelta(days=30))
    with pytest.raises(programme.MembershipConflict) as refused:
        programme.add_group_leader(None, group, member)
    assert refused.value.rule == programme.MEMBER_OF_GROUP
    programme.add_group_leader(None, group, member, today=today + timedelta(days=31))


# --- changes to people: kept, and the meetings flagged --------------------------------------------

@pytest.fixture
def eves_month(db, group, expiring, trainee_leader):
    """Three scheduled meetings led by Expiring Eve on 5 and 19 March and 2 April 2031, a trainee beside her."""
    found = []
    for day in (date(2031, 3, 5), date(2031, 3, 19), date(2031, 4, 2)):
        meeting = extra(group, day)
        if day < date(2031, 3, 10):
            services.assign_leaders(None, meeting, expiring, trainee_leader)
        found.append(meeting)
    accounts.update_training_record(None, expiring.training_records[0], valid_until=None)
    accounts.verify_training_record(make_user("c@example.org", roles=["coordinator"]), expiring.training_records[0])
    for meeting in found[1:]:
        services.assign_leaders(None, meeting, expiring, trainee_leader)
    db.session.flush()
    return found


def test_shortening_a_training_record_is_kept_and_flags_the_meetings_after_it(db, expiring, eves_month):
    coordinator = make_user("c2@example.org", roles=["coordinator"])
    record = expiring.training_records[0]
    accounts.update_training_record(coordinator, record, valid_until=date(2031, 3, 10))
    accounts.verify_training_record(coordinator, record)
    assert record.valid_until == date(2031, 3, 10)
    flagged = services.flagged_meetings_of(expiring.id, datetime(2031, 3, 1))
    assert [f.meeting.id for f in flagged] == [m.id for m in eves_month[1:]]
    assert {(p.code, p.role) for p in flagged[0].problems} == {
        (eligibility.TRAINING_EXPIRED, "lead"), (eligibility.TRAINEE_NEEDS_QUALIFIED_LEAD, "co_lead")}
    messages = services.problem_messages(flagged[0].meeting, flagged[0].problems)
    assert "Lead no longer eligible on this date: Expiring Eve. The training is no longer valid on this date." in (
        messages)
    assert codes(eves_month[0]) == set()


@pytest.mark.parametrize("change", ["unverify", "delete", "deactivate", "leader_role"])
def test_changes_to_a_leader_are_kept_and_flag_every_upcoming_meeting_they_lead(db, expiring, eves_month, change):
    coordinator = make_user("c2@example.org", roles=["coordinator"])
    record = expiring.training_records[0]
    expected = {
        "unverify": eligibility.NO_VERIFIED_TRAINING, "delete": eligibility.NO_VERIFIED_TRAINING,
        "deactivate": eligibility.INACTIVE, "leader_role": rules.NO_LEADER_ROLE,
    }[change]
    if change == "unverify":
        accounts.unverify_training_record(coordinator, record)
    elif change == "delete":
        accounts.delete_training_record(coordinator, record)
    elif change == "deactivate":
        accounts.set_active(coordinator, expiring, False)
    else:
        accounts.set_roles(coordinator, expiring, ["member"])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MeetingLeader)
                             .where(MeetingLeader.user_id == expiring.id)) == 3
    flagged = services.flagged_meetings_of(expiring.id, datetime(2031, 3, 1))
    assert len(flagged) == 3
    assert all((expected, "lead", expiring.id) in {(p.code, p.role, p.user_id) for p in f.problems} for f in flagged)
    assert services.flagged_meetings_of(expiring.id, datetime(2031, 3, 25)) == flagged[2:]


def test_a_flagged_meeting_can_be_cancelled_or_given_an_eligible_lead_but_not_recorded_as_held(
    db, group, leader, member, expiring, eves_month
):
    accounts.set_active(None, expiring, False)
    first, second, _third = eves_month
    with pytest.raises(EligibilityError):
        meetings.record_meeting(None, first, status="held", now=NOW, attendance={member.id: "present"})
    services.assign_leaders(None, first, leader)
    meetings.record_meeting(None, first, status="held", now=NOW, attendance={member.id: "present"})
    services.cancel_meeting(None, second, "The lead has left")
    assert codes(first) == set() and codes(second) == set()


def test_adding_a_one_off_meeting_leaves_it_flagged_without_a_lead(db, group):
    meeting = extra(group, date(2031, 3, 5))
    assert [p.code for p in services.meeting_problems(meeting)] == [rules.NO_LEAD]


def test_assigning_someone_without_the_leader_role_is_refused_naming_it(db, group, member, org):
    trained = make_user("t@example.org", roles=["member"], name="Trained Tan", organisation_id=org.id)
    give_training(trained, "leader")
    meeting = extra(group, date(2031, 3, 5))
    with pytest.raises(EligibilityError) as refused:
        services.assign_leaders(None, meeting, trained)
    assert refused.value.rule == rules.NO_LEADER_ROLE and "leader role" in refused.value.message


def test_a_refused_assignment_changes_nothing_and_a_series_lists_each_refusal(db, group, expiring, leader):
    meeting = extra(group, date(2031, 3, 19))
    services.assign_leaders(None, meeting, leader)
    with pytest.raises(EligibilityError):
        services.assign_leaders(None, meeting, expiring)
    assert meeting.lead.id == leader.id and meeting.sequence == 1
    result = services.assign_series(None, group, expiring, "lead", since=datetime(2031, 3, 1))
    assert result.assigned == [] and [m.id for m, _ in result.refused] == [meeting.id]
    assert "no longer valid" in result.refused[0][1]


# --- the booking copy the database keeps ----------------------------------------------------------

def booking(db, meeting_id: int, user_id: int):
    return db.session.execute(sa.text(
        "SELECT starts_at, ends_at, live FROM meeting_leaders WHERE meeting_id = :m AND user_id = :u"
    ), {"m": meeting_id, "u": user_id}).one()


def as_datetime(value):
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def test_the_database_keeps_each_leaders_booking_in_step_with_the_meeting(db, group, leader, member):
    meeting = extra(group, date(2031, 3, 5))
    services.assign_leaders(None, meeting, leader)
    db.session.flush()
    starts, ends, live = booking(db, meeting.id, leader.id)
    assert (as_datetime(starts), as_datetime(ends), bool(live)) == (meeting.starts_at, meeting.ends_at, True)
    services.reschedule_meeting(None, meeting, day=date(2031, 3, 6), at=time(9, 0), duration_minutes=90,
                                reason="Moved")
    starts, ends, live = booking(db, meeting.id, leader.id)
    assert (as_datetime(starts), as_datetime(ends)) == (datetime(2031, 3, 6, 1, 0), datetime(2031, 3, 6, 2, 30))
    meetings.record_meeting(None, meeting, status="cancelled", now=NOW, cancel_reason="Ward emergency")
    assert not booking(db, meeting.id, leader.id)[2]
    meetings.record_meeting(None, meeting, status="held", now=NOW, attendance={member.id: "present"})
    assert booking(db, meeting.id, leader.id)[2]


def test_the_database_itself_refuses_a_double_booking_on_postgresql(db, org, group, leader):
    """PostgreSQL's exclusion constraint holds even for a write that skips every application check; SQLite
    has none (its writers are serialised and checked by the application)."""
    x = extra(group, date(2031, 3, 5))
    y = extra(make_group(org, "Surgeons"), date(2031, 3, 5), at=time(14, 30))
    services.assign_leaders(None, x, leader)
    db.session.commit()
    insert = sa.text("INSERT INTO meeting_leaders (meeting_id, user_id, role) VALUES (:m, :u, 'lead')")
    if db.engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.IntegrityError) as refused:
            db.session.execute(insert, {"m": y.id, "u": leader.id})
        assert invariants._booking_clash_user(refused.value) == leader.id
        db.session.rollback()
    else:
        db.session.execute(insert, {"m": y.id, "u": leader.id})
        db.session.expire(y)
        assert {p.code for p in services.meeting_problems(y)} == {eligibility.OVERLAPPING_MEETING}
        db.session.rollback()


def test_a_conflict_from_the_database_becomes_the_same_clash_as_the_applications(db, org, group, leader):
    x = extra(group, date(2031, 3, 5))
    services.assign_leaders(None, x, leader)
    y = extra(make_group(org, "Surgeons"), date(2031, 3, 5), at=time(14, 30))
    db.session.flush()
    if db.engine.dialect.name == "postgresql":
        # The constraint fires at the flush, before the application's own check could see the clash.
        with pytest.raises(ClashError) as refused, services.keeping_invariants(y, field="lead_id", context="assign"):
            y.leaders.append(MeetingLeader(user_id=leader.id, role="lead", user=leader))
        assert refused.value.message == (
            "Leader Li cannot be lead of this meeting: They are already assigned to a meeting at an overlapping time.")
    else:
        with pytest.raises(ClashError) as refused:
            services.assign_leaders(None, y, leader)
        assert "already assigned to a meeting at an overlapping time" in refused.value.message
    assert y.leaders == [] and x.lead.id == leader.id


def test_conflict_is_still_a_409_and_eligibility_a_422(db):
    assert ClashError("x").status_code == 409 and issubclass(ClashError, Conflict)
    assert EligibilityError("x", ["training_expired"], "lead_id").status_code == 422
