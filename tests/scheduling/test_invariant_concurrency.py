"""Two requests at the same moment that together would break a meeting invariant: exactly one is accepted.

Real threads, each with its own connection and transaction, released together by a barrier — on SQLite (writers
take the write lock when they begin) and on PostgreSQL (the booking exclusion constraint, and a lock on the
person's users row taken by both assigning and adding a member).
"""

import threading
import time as clock
from datetime import date, time

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.errors import DomainError
from app.extensions import db as _db
from app.programme import services as programme
from app.programme.models import Group, Membership
from app.scheduling import services
from app.scheduling.models import Meeting, MeetingLeader
from app.sqlite import write_intent
from tests.factories import give_training, make_group, make_user


def _run(app, barrier, outcomes, action):
    with app.app_context(), write_intent():
        try:
            barrier.wait(timeout=10)
            action()
            _db.session.commit()
            outcomes.append("accepted")
        except DomainError as exc:
            _db.session.rollback()
            outcomes.append(exc)
        except Exception as exc:  # anything else is a failure the test reports
            _db.session.rollback()
            outcomes.append(exc)
        finally:
            _db.session.remove()


def race(app, *actions) -> list:
    barrier = threading.Barrier(len(actions))
    outcomes: list = []
    threads = [threading.Thread(target=_run, args=(app, barrier, outcomes, a)) for a in actions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.fixture
def two_groups_at_the_same_time(db, org, group, leader):
    """Meetings of two groups overlapping on 5 March 2031 (14:00 and 14:30), neither with a lead yet."""
    x = services.add_extra_meeting(None, group, day=date(2031, 3, 5), at=time(14, 0))
    y = services.add_extra_meeting(None, make_group(org, "Surgeons"), day=date(2031, 3, 5), at=time(14, 30))
    db.session.commit()
    return x.id, y.id


def assign(meeting_id, user_id):
    def action():
        services.assign_leaders(None, _db.session.get(Meeting, meeting_id), _db.session.get(User, user_id))
    return action


def bookings(db, user_id) -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(MeetingLeader).where(
        MeetingLeader.user_id == user_id))


@pytest.mark.parametrize("attempt", range(3))
def test_the_same_leader_assigned_to_two_overlapping_meetings_at_once_is_booked_once(
    app, db, leader, two_groups_at_the_same_time, attempt
):
    x, y = two_groups_at_the_same_time
    outcomes = race(app, assign(x, leader.id), assign(y, leader.id))
    assert sorted(map(str, outcomes)).count("accepted") == 1, outcomes
    (refused,) = [o for o in outcomes if o != "accepted"]
    assert isinstance(refused, services.ClashError), refused
    assert "Leader Li" in refused.message
    assert bookings(db, leader.id) == 1


@pytest.mark.parametrize("attempt", range(3))
def test_a_booking_written_at_the_same_moment_past_every_check_still_leaves_one_of_the_two(
    app, db, leader, two_groups_at_the_same_time, attempt
):
    """A writer that skips the application's checks and locks (here raw SQL) holds its booking uncommitted while
    assign_leaders runs: PostgreSQL's exclusion constraint makes assign_leaders wait and then refuses it with the
    application's own clash; SQLite's write lock makes it wait and its check sees the booking."""
    x, y = two_groups_at_the_same_time
    started = threading.Event()

    def raw_booking():
        with app.app_context(), write_intent():
            _db.session.execute(sa.text("INSERT INTO meeting_leaders (meeting_id, user_id, role) "
                                        "VALUES (:m, :u, 'lead')"), {"m": x, "u": leader.id})
            started.set()
            clock.sleep(0.5)  # meanwhile the other writer reaches the database and waits on this one
            _db.session.commit()
            _db.session.remove()

    writer = threading.Thread(target=raw_booking)
    writer.start()
    assert started.wait(timeout=10)
    outcomes = race(app, assign(y, leader.id))
    writer.join(timeout=30)
    (refused,) = outcomes
    assert isinstance(refused, services.ClashError), refused
    assert "Leader Li" in refused.message
    if db.engine.dialect.name == "postgresql":  # refused by the exclusion constraint, not by a check that saw it
        assert isinstance(refused.__context__, sa.exc.IntegrityError)
    assert bookings(db, leader.id) == 1


@pytest.mark.parametrize("attempt", range(3))
def test_a_person_added_as_member_while_assigned_as_lead_of_the_group_ends_as_one_of_the_two(
    app, db, org, group, attempt
):
    guest = make_user("guest@example.org", roles=["leader"], name="Guest Gao", organisation_id=org.id)
    give_training(guest, "leader", completed_on=date(2020, 1, 1))
    meeting = services.add_extra_meeting(None, group, day=date(2031, 3, 5), at=time(14, 0))
    db.session.commit()
    group_id, guest_id, meeting_id = group.id, guest.id, meeting.id

    def join():
        programme.add_member(None, _db.session.get(Group, group_id), _db.session.get(User, guest_id),
                             date(2031, 3, 1))

    outcomes = race(app, join, assign(meeting_id, guest_id))
    assert [o for o in outcomes if not isinstance(o, DomainError)] == ["accepted"], outcomes
    db.session.rollback()
    member = db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(
        Membership.group_id == group_id, Membership.user_id == guest_id))
    leads = db.session.scalar(sa.select(sa.func.count()).select_from(MeetingLeader).where(
        MeetingLeader.meeting_id == meeting_id, MeetingLeader.user_id == guest_id))
    assert member + leads == 1
    refused = next(o for o in outcomes if isinstance(o, DomainError))
    assert refused.rule == "member_of_group"
