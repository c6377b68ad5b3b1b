"""Recording meetings and the five-meeting feedback rule, without HTTP."""

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.audit.models import AuditEntry
from app.errors import Conflict, DomainError
from app.feedback.models import FeedbackRound, RoundMeeting
from app.feedback.services import rounds as feedback
from app.meetings import services
from app.meetings.models import Theme
from app.scheduling.models import Meeting


def now_after(meeting) -> datetime:
    return meeting.starts_at + timedelta(hours=2)


def record_held(meeting, crew, present=None, now=None, **kw):
    present = crew if present is None else present
    attendance = {p.id: ("present" if p in present else "absent") for p in crew}
    return services.record_meeting(None, meeting, status="held", now=now or now_after(meeting),
                                   attendance=attendance, **kw)


def rounds(db, group):
    return db.session.scalars(
        sa.select(FeedbackRound).where(FeedbackRound.group_id == group.id).order_by(FeedbackRound.number)
    ).all()


def test_the_fifth_held_meeting_opens_one_round_for_exactly_those_five(db, group, crew, past_meetings):
    for meeting in past_meetings[:4]:
        assert record_held(meeting, crew).opened_rounds == []
    result = record_held(past_meetings[4], crew)
    (opened,) = result.opened_rounds
    assert opened.number == 1 and opened.meeting_ids == sorted(m.id for m in past_meetings[:5])
    assert opened.closes_at - opened.opens_at == timedelta(days=group.feedback_window_days)
    assert rounds(db, group) == [opened]


def test_recording_the_same_meeting_twice_opens_no_second_round(db, group, crew, past_meetings):
    for meeting in past_meetings[:5]:
        record_held(meeting, crew)
    again = record_held(past_meetings[4], crew, summary="A corrected summary.")
    assert again.opened_rounds == [] and again.corrected
    assert len(rounds(db, group)) == 1


def test_out_of_order_records_still_open_one_round_per_five(db, group, crew, past_meetings):
    for meeting in reversed(past_meetings[:10]):
        record_held(meeting, crew, now=now_after(past_meetings[11]))
    assert [len(r.meeting_ids) for r in rounds(db, group)] == [5, 5]
    assert [r.number for r in rounds(db, group)] == [1, 2]


def test_cancelled_meetings_do_not_count(db, group, crew, past_meetings):
    services.record_meeting(None, past_meetings[0], status="cancelled", now=now_after(past_meetings[0]),
                            cancel_reason="Leader ill")
    for meeting in past_meetings[1:5]:
        record_held(meeting, crew)
    assert rounds(db, group) == []
    record_held(past_meetings[5], crew)
    assert len(rounds(db, group)) == 1


def test_a_round_meeting_corrected_to_cancelled_keeps_the_round_with_a_notice(db, group, crew, past_meetings):
    for meeting in past_meetings[:5]:
        record_held(meeting, crew)
    (first,) = rounds(db, group)
    services.record_meeting(None, past_meetings[2], status="cancelled", now=now_after(past_meetings[5]),
                            cancel_reason="Recorded by mistake")
    assert past_meetings[2].id in first.meeting_ids
    assert feedback.corrected_meeting_ids(first) == [past_meetings[2].id]
    for meeting in past_meetings[5:9]:
        record_held(meeting, crew)
    assert len(rounds(db, group)) == 1  # the corrected one no longer counts toward the next round
    record_held(past_meetings[9], crew)
    assert [r.number for r in rounds(db, group)] == [1, 2]


def test_eligible_respondents_are_the_members_present_at_any_meeting_of_the_round(db, group, crew, past_meetings):
    absent_all_along = crew[-1]
    for meeting in past_meetings[:5]:
        record_held(meeting, crew, present=crew[:-1])
    (opened,) = rounds(db, group)
    assert absent_all_along.id not in feedback.eligible_user_ids(opened)
    assert set(feedback.eligible_user_ids(opened)) == {p.id for p in crew[:-1]}


def test_a_meeting_cannot_be_recorded_as_held_before_it_starts(db, crew, past_meetings):
    meeting = past_meetings[0]
    with pytest.raises(Conflict):
        record_held(meeting, crew, now=meeting.starts_at - timedelta(minutes=1))


def test_every_member_needs_an_attendance_status(db, crew, past_meetings):
    with pytest.raises(DomainError) as error:
        services.record_meeting(None, past_meetings[0], status="held", now=now_after(past_meetings[0]),
                                attendance={crew[0].id: "present"})
    assert error.value.field == "attendance" and crew[1].name in error.value.message


def test_the_presenter_must_be_present(db, crew, past_meetings):
    with pytest.raises(DomainError) as error:
        record_held(past_meetings[0], crew, present=crew[1:], presenter_id=crew[0].id)
    assert error.value.field == "presenter_id"


def test_a_summary_with_a_phone_number_is_refused_and_says_what_to_remove(db, crew, past_meetings):
    with pytest.raises(DomainError) as error:
        record_held(past_meetings[0], crew, summary="The mother (13812345678) shouted at the nurse.")
    assert error.value.field == "summary" and "13812345678" in error.value.message
    assert past_meetings[0].status == "scheduled"


def test_themes_are_recorded_and_unknown_ones_refused(db, crew, past_meetings):
    services.ensure_default_themes()
    theme = db.session.scalar(sa.select(Theme).where(Theme.code == "difficult_parents"))
    record_held(past_meetings[0], crew, theme_ids=[theme.id])
    assert [t.code for t in past_meetings[0].themes] == ["difficult_parents"]
    with pytest.raises(DomainError):
        record_held(past_meetings[1], crew, theme_ids=[999999])


def test_a_correction_is_audited_with_what_changed(db, crew, past_meetings):
    record_held(past_meetings[0], crew, summary="First version.")
    record_held(past_meetings[0], crew, summary="Second version.")
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "meeting_corrected").order_by(AuditEntry.id.desc())
    ).first()
    assert entry.detail["changes"]["summary"] == ["First version.", "Second version."]


def test_presenters_who_presented_least_recently_are_suggested_first(db, crew, past_meetings):
    record_held(past_meetings[0], crew, presenter_id=crew[0].id)
    record_held(past_meetings[1], crew, presenter_id=crew[1].id)
    order = services.suggested_presenters(past_meetings[2])
    assert order[-1] == crew[1] and order[-2] == crew[0]


def test_leader_notes_are_only_for_the_groups_leaders(db, crew, past_meetings, leader, member):
    from app.errors import NotAllowed

    note = services.add_leader_note(leader, past_meetings[0], "debrief", "We overran the discussion.")
    assert note.id
    with pytest.raises(NotAllowed):
        services.add_leader_note(member, past_meetings[0], "debrief", "x")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.tuples(st.integers(0, 11), st.sampled_from(["held", "held", "held", "cancelled"])),
                    max_size=30))
def test_any_sequence_of_records_keeps_rounds_disjoint_full_and_none_overdue(db, group, crew, past_meetings, ops):
    """For any order of records, corrections and cancellations the five-meeting rule holds."""
    for feedback_round in rounds(db, group):
        db.session.delete(feedback_round)
    for meeting in past_meetings:
        meeting.status = "scheduled"
    db.session.flush()
    late = now_after(past_meetings[-1])
    for index, status in ops:
        meeting = past_meetings[index]
        if status == "held":
            record_held(meeting, crew, now=late)
        else:
            services.record_meeting(None, meeting, status="cancelled", now=late, cancel_reason="x")
        covered = db.session.scalars(
            sa.select(RoundMeeting.meeting_id).join(FeedbackRound).where(FeedbackRound.group_id == group.id)
        ).all()
        assert len(covered) == len(set(covered))
        for r in rounds(db, group):
            assert len(r.meeting_ids) == group.feedback_interval
        uncovered_held = [m for m in past_meetings if m.status == "held" and m.id not in covered]
        assert len(uncovered_held) < group.feedback_interval
    assert [r.number for r in rounds(db, group)] == list(range(1, len(rounds(db, group)) + 1))
    assert db.session.scalar(sa.select(sa.func.count(Meeting.id)).where(Meeting.group_id == group.id)) >= 12


def test_when_a_round_opens_each_eligible_member_is_told_now_and_reminded_before_it_closes(
    db, app, group, crew, past_meetings
):
    from app.notifications import services as notifications
    from app.notifications.models import Notification

    for meeting in past_meetings[:5]:
        record_held(meeting, crew, present=crew[:-1])
    (opened,) = rounds(db, group)
    queued = db.session.scalars(sa.select(Notification).where(Notification.round_id == opened.id)).all()
    kinds = sorted({n.kind for n in queued})
    assert kinds == ["round_closing", "round_opened"]
    assert {n.user_id for n in queued} == {p.id for p in crew[:-1]}
    closing = [n for n in queued if n.kind == "round_closing"][0]
    assert closing.due_at == opened.closes_at - timedelta(days=3)

    app.extensions["mailman"].outbox = []
    result = notifications.send_pending(opened.opens_at + timedelta(minutes=1))
    assert result.sent == len(crew) - 1
    assert all(group.name in message.subject for message in app.extensions["mailman"].outbox)


def test_a_round_closes_itself_at_the_end_of_its_window(db, group, crew, past_meetings):
    for meeting in past_meetings[:5]:
        record_held(meeting, crew)
    (opened,) = rounds(db, group)
    assert feedback.close_due_rounds(opened.closes_at - timedelta(seconds=1)) == 0
    assert feedback.close_due_rounds(opened.closes_at) == 1
    db.session.refresh(opened)
    assert opened.status == "closed"
