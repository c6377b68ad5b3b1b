"""The five-meeting rule under real concurrent connections: exactly one round per completed set."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db as _db
from app.feedback.models import FeedbackRound, RoundMeeting
from app.meetings import services
from app.scheduling.models import Meeting
from app.sqlite import write_intent


def _record_in_thread(app, meeting_id, crew_ids, barrier, errors):
    with app.app_context(), write_intent():
        try:
            barrier.wait(timeout=10)
            meeting = _db.session.get(Meeting, meeting_id)
            services.record_meeting(
                None, meeting, status="held", now=meeting.starts_at + timedelta(hours=2),
                attendance={uid: "present" for uid in crew_ids},
            )
            _db.session.commit()
        except Exception as exc:  # collected and asserted on by the test
            _db.session.rollback()
            errors.append(exc)
        finally:
            _db.session.remove()


def _race(app, meeting_ids, crew_ids):
    barrier = threading.Barrier(len(meeting_ids))
    errors: list[Exception] = []
    threads = [
        threading.Thread(target=_record_in_thread, args=(app, mid, crew_ids, barrier, errors)) for mid in meeting_ids
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def _rounds(db, group):
    db.session.rollback()
    return db.session.scalars(
        sa.select(FeedbackRound).where(FeedbackRound.group_id == group.id).order_by(FeedbackRound.number)
    ).all()


@pytest.mark.parametrize("attempt", range(3))
def test_two_leaders_recording_the_fifth_and_sixth_at_once_open_exactly_one_round(
    app, db, group, crew, past_meetings, attempt
):
    crew_ids = [p.id for p in crew]
    for meeting in past_meetings[:4]:
        services.record_meeting(None, meeting, status="held", now=meeting.starts_at + timedelta(hours=2),
                                attendance={uid: "present" for uid in crew_ids})
    db.session.commit()

    errors = _race(app, [past_meetings[4].id, past_meetings[5].id], crew_ids)
    assert errors == []
    (only,) = _rounds(db, group)
    assert only.number == 1 and len(only.meeting_ids) == 5
    held = db.session.scalars(sa.select(Meeting.id).where(Meeting.group_id == group.id, Meeting.status == "held"))
    assert len(set(held) - set(only.meeting_ids)) == 1


def test_the_same_meeting_recorded_from_two_connections_at_once_opens_one_round(app, db, group, crew, past_meetings):
    crew_ids = [p.id for p in crew]
    for meeting in past_meetings[:4]:
        services.record_meeting(None, meeting, status="held", now=meeting.starts_at + timedelta(hours=2),
                                attendance={uid: "present" for uid in crew_ids})
    db.session.commit()
    errors = _race(app, [past_meetings[4].id] * 4, crew_ids)
    assert errors == []
    assert len(_rounds(db, group)) == 1


def test_the_database_refuses_a_second_round_with_the_same_number(db, group, crew, past_meetings):
    first = past_meetings[0]
    db.session.add(FeedbackRound(group_id=group.id, number=1, opens_at=first.starts_at,
                                 closes_at=first.starts_at + timedelta(days=14)))
    db.session.commit()
    db.session.add(FeedbackRound(group_id=group.id, number=1, opens_at=first.starts_at,
                                 closes_at=first.starts_at + timedelta(days=14)))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_the_database_refuses_a_meeting_in_two_rounds(db, group, crew, past_meetings):
    first = past_meetings[0]
    rounds = [
        FeedbackRound(group_id=group.id, number=n, opens_at=first.starts_at,
                      closes_at=first.starts_at + timedelta(days=14))
        for n in (1, 2)
    ]
    db.session.add_all(rounds)
    db.session.flush()
    db.session.add(RoundMeeting(round_id=rounds[0].id, meeting_id=first.id))
    db.session.commit()
    db.session.add(RoundMeeting(round_id=rounds[1].id, meeting_id=first.id))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
