"""Queueing and sending reminders: the time window, exactly once, cancellations, opt-outs, failures, races."""

from __future__ import annotations

import threading
from datetime import time, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.notifications import services
from app.notifications.models import Notification
from app.programme import services as programme
from app.scheduling import services as scheduling
from app.timeutil import local_date, local_today, utcnow
from tests.factories import make_group, make_leader, make_meeting, make_org, make_user

HOUR = timedelta(hours=1)


def rows(db):
    db.session.expire_all()
    return db.session.scalars(sa.select(Notification).order_by(Notification.user_id, Notification.id)).all()


def run(db, now, commit=None):
    """One run as the CLI makes it: queue what is due, then send."""
    services.queue_due_reminders(now)
    return services.send_pending(now, commit=commit)


def recipients(outbox):
    return sorted(address for message in outbox for address in message.to)


# --- the time window -------------------------------------------------------------------------

def test_a_reminder_is_queued_24_hours_before_the_meeting_and_not_earlier(app, db, meeting, member, leader, outbox):
    assert app.config["REMINDER_HOURS_BEFORE"] == 24
    assert services.queue_due_reminders(meeting.starts_at - 24 * HOUR - timedelta(minutes=1)) == []
    assert rows(db) == []

    queued = services.queue_due_reminders(meeting.starts_at - 24 * HOUR)
    assert sorted(item.user.email for item in queued) == ["leader@example.org", "member@example.org"]
    found = rows(db)
    assert {n.user_id for n in found} == {member.id, leader.id}
    assert all(n.status == "pending" and n.due_at == meeting.starts_at - 24 * HOUR for n in found)
    assert all(n.meeting_id == meeting.id and n.kind == "meeting_reminder" for n in found)
    assert {n.key for n in found} == {
        f"meeting_reminder:{meeting.id}:{user.id}:{meeting.starts_at:%Y%m%dT%H%M}" for user in (member, leader)
    }


def test_the_lead_time_is_a_setting_of_the_deployment(app, db, meeting, monkeypatch):
    monkeypatch.setitem(app.config, "REMINDER_HOURS_BEFORE", 2)
    assert services.queue_due_reminders(meeting.starts_at - 3 * HOUR) == []
    assert len(services.queue_due_reminders(meeting.starts_at - 2 * HOUR)) == 2


def test_a_meeting_that_has_started_gets_no_reminder(db, meeting, outbox):
    assert services.queue_due_reminders(meeting.starts_at) == []
    assert services.queue_due_reminders(meeting.starts_at + timedelta(minutes=5)) == []
    # Queued in time but the run that would send it came too late: it is dropped, not sent.
    services.queue_due_reminders(meeting.starts_at - HOUR)
    result = services.send_pending(meeting.starts_at + timedelta(minutes=1))
    assert result.dropped == 2 and result.sent == 0 and outbox == []
    assert {n.error for n in rows(db)} == {"meeting already started"}


def test_members_are_reminded_of_meetings_on_days_they_belong_to_the_group(db, group, leader, outbox, today):
    later = make_user("later@example.org", name="Joins Later")
    gone = make_user("gone@example.org", name="Has Left")
    programme.add_member(None, group, later, joined_on=today + timedelta(days=20))
    left = programme.add_member(None, group, gone, joined_on=today - timedelta(days=60))
    programme.end_membership(None, left, today - timedelta(days=1))
    meeting = make_meeting(group, leader)
    db.session.commit()
    queued = services.queue_due_reminders(meeting.starts_at - HOUR)
    assert sorted(item.user.email for item in queued) == ["leader@example.org", "member@example.org"]


# --- exactly once ----------------------------------------------------------------------------

def test_repeated_runs_never_queue_or_send_a_reminder_twice(db, meeting, outbox):
    first_now = meeting.starts_at - 20 * HOUR
    first = run(db, first_now)
    assert first.sent == 2
    for minutes in (5, 10, 600):
        again = run(db, first_now + timedelta(minutes=minutes))
        assert again.sent == 0
    assert recipients(outbox) == ["leader@example.org", "member@example.org"]
    assert [n.status for n in rows(db)] == ["sent", "sent"]
    assert len(rows(db)) == 2


def test_queue_ignores_a_key_that_is_already_queued(db, member):
    now = utcnow()
    first = services.queue("meeting_reminder", member, "meeting_reminder:1:1:x", due_at=now)
    second = services.queue("meeting_reminder", member, "meeting_reminder:1:1:x", due_at=now + HOUR)
    assert first is not None and second is None
    assert [n.due_at for n in rows(db)] == [now]


def test_another_kind_of_notification_goes_through_the_same_queue(db, member, outbox, monkeypatch):
    """A later feature ("feedback round opened") registers a renderer and queues by key."""
    now = utcnow()

    def feedback_opened(notification, at):
        return services.Rendered(lambda: "Feedback is open", "notifications/reset", {"link": "L", "hours": 1})

    monkeypatch.setitem(services.RENDERERS, "feedback_opened", feedback_opened)
    assert services.queue("feedback_opened", member, "feedback_opened:7:1", due_at=now) is not None
    assert services.queue("feedback_opened", member, "feedback_opened:7:1", due_at=now) is None
    result = services.send_pending(now)
    assert result.sent == 1
    assert [m.subject for m in outbox] == ["Feedback is open"]
    with pytest.raises(ValueError):
        services.queue("no_such_kind", member, "x", due_at=now)


# --- what is not sent ------------------------------------------------------------------------

def test_a_cancelled_meeting_gets_no_reminder_and_its_pending_ones_are_dropped(db, group, leader, outbox):
    cancelled_early = make_meeting(group, leader, days_ahead=10)
    cancelled_late = make_meeting(group, leader, days_ahead=10, at=time(18, 0))
    scheduling.cancel_meeting(None, cancelled_early, "Leader ill")
    db.session.commit()
    now = cancelled_late.starts_at - 2 * HOUR
    assert [i.meeting.id for i in services.queue_due_reminders(now)] == [cancelled_late.id] * 2

    scheduling.cancel_meeting(None, cancelled_late, "Ward emergency")
    db.session.commit()
    result = run(db, now + timedelta(minutes=5))
    assert result.sent == 0 and outbox == []
    dropped = {(n.meeting_id, n.status, n.error) for n in rows(db)}
    assert dropped == {(cancelled_late.id, "dropped", "meeting cancelled")}


def test_people_who_turned_reminders_off_or_were_deactivated_get_none(db, meeting, member, leader, outbox):
    from app.accounts import services as accounts

    member.email_reminders = False
    db.session.commit()
    assert [i.user.email for i in services.queue_due_reminders(meeting.starts_at - HOUR)] == ["leader@example.org"]

    # Turned off (or deactivated) after the reminder was queued: dropped at sending time.
    member.email_reminders = True
    db.session.commit()
    services.queue_due_reminders(meeting.starts_at - HOUR)
    member.email_reminders = False
    accounts.set_active(None, leader, False)
    db.session.commit()
    result = services.send_pending(meeting.starts_at - HOUR)
    assert result.dropped == 2 and result.sent == 0 and outbox == []
    assert sorted(n.error for n in rows(db)) == ["reminders turned off", "user inactive"]


def test_a_rescheduled_meeting_gets_a_new_reminder_and_the_old_one_is_dropped(db, meeting, outbox):
    now = meeting.starts_at - 20 * HOUR
    assert run(db, now).sent == 2

    new_day = local_date(meeting.starts_at)
    scheduling.reschedule_meeting(None, meeting, day=new_day, at=time(16, 0), duration_minutes=60,
                                  reason="Room taken")
    db.session.commit()
    assert run(db, now + HOUR).sent == 2
    assert recipients(outbox) == ["leader@example.org", "leader@example.org", "member@example.org",
                                  "member@example.org"]
    assert "16:00" in outbox[-1].body and "Room taken" in outbox[-1].body

    # Queued for one time, moved before it went out: the stale one is dropped, the new one sent.
    queued_for = meeting.starts_at
    services.queue_due_reminders(now + 2 * HOUR)  # nothing new: already sent for 16:00
    scheduling.reschedule_meeting(None, meeting, day=new_day, at=time(17, 0), duration_minutes=60,
                                  reason="Later still")
    db.session.commit()
    assert meeting.starts_at != queued_for
    result = run(db, now + 3 * HOUR)
    assert result.sent == 2 and result.dropped == 0
    assert len(rows(db)) == 6


def test_a_reminder_queued_before_a_move_is_dropped_at_sending_time(db, meeting, outbox):
    now = meeting.starts_at - 20 * HOUR
    services.queue_due_reminders(now)
    scheduling.reschedule_meeting(None, meeting, day=local_date(meeting.starts_at), at=time(16, 0),
                                  duration_minutes=60, reason="Room taken")
    db.session.commit()
    result = services.send_pending(now)
    assert result.dropped == 2 and outbox == []
    assert {n.error for n in rows(db)} == {"meeting moved"}


# --- dry run ---------------------------------------------------------------------------------

def test_a_dry_run_sends_nothing_and_writes_nothing(db, meeting, outbox):
    now = meeting.starts_at - 20 * HOUR
    planned = services.queue_due_reminders(now, dry_run=True)
    assert sorted(p.user.email for p in planned) == ["leader@example.org", "member@example.org"]
    assert rows(db) == []

    services.queue_due_reminders(now)
    db.session.commit()
    result = services.send_pending(now, dry_run=True)
    assert sorted(email for email, _kind, _key in result.would_send) == ["leader@example.org", "member@example.org"]
    assert outbox == []
    assert [(n.status, n.attempts, n.claimed_at) for n in rows(db)] == [("pending", 0, None)] * 2


# --- the e-mail ------------------------------------------------------------------------------

def test_the_reminder_names_group_local_time_place_leaders_and_links(db, group, leader, member, outbox):
    meeting = make_meeting(group, leader, at=time(14, 30), video_link="https://meet.example.org/balint")
    db.session.commit()
    run(db, meeting.starts_at - HOUR)
    (message,) = [m for m in outbox if m.to == ["member@example.org"]]
    assert group.name in message.subject
    body = message.body
    assert "Hello Member Ma," in body
    assert group.name in body
    assert "14:30" in body and "15:30" in body  # Beijing time, not UTC (06:30)
    assert "06:30" not in body
    assert "Room 5, Building 2" in body and "https://meet.example.org/balint" in body
    assert "Leader Li" in body
    assert "http://localhost/my/meetings" in body
    assert "http://localhost/profile" in body
    assert f"http://localhost/meetings/{meeting.id}.ics" in body


# --- failures --------------------------------------------------------------------------------

def test_a_mail_failure_is_retried_on_later_runs_and_marked_failed_after_three_attempts(
    db, meeting, member, outbox, monkeypatch
):
    real_send = services.send_templated_mail

    def refuse_the_member(user, *args, **kwargs):
        if user.email == "member@example.org":
            raise ConnectionRefusedError("mail server down")
        return real_send(user, *args, **kwargs)

    monkeypatch.setattr(services, "send_templated_mail", refuse_the_member)
    now = meeting.starts_at - 20 * HOUR
    first = run(db, now)
    assert (first.sent, first.retrying, first.failed) == (1, 1, 0)
    failing = next(n for n in rows(db) if n.user_id == member.id)
    assert (failing.status, failing.attempts) == ("pending", 1)
    assert "mail server down" in failing.error

    second = run(db, now + timedelta(minutes=5))
    assert (second.sent, second.retrying, second.failed) == (0, 1, 0)
    third = run(db, now + timedelta(minutes=10))
    assert (third.sent, third.retrying, third.failed) == (0, 0, 1)
    failing = next(n for n in rows(db) if n.user_id == member.id)
    assert (failing.status, failing.attempts) == ("failed", 3)
    assert run(db, now + timedelta(minutes=15)).failed == 0  # given up: not tried a fourth time
    assert recipients(outbox) == ["leader@example.org"]


def test_a_claim_left_by_a_dead_run_is_taken_back_after_fifteen_minutes(db, meeting, outbox):
    now = meeting.starts_at - 20 * HOUR
    services.queue_due_reminders(now)
    db.session.commit()
    db.session.execute(sa.update(Notification).values(status="sending", claimed_at=now, attempts=1))
    db.session.commit()

    assert services.send_pending(now + timedelta(minutes=14)).sent == 0
    assert {n.status for n in rows(db)} == {"sending"}
    result = services.send_pending(now + timedelta(minutes=16))
    assert result.reclaimed == 2 and result.sent == 2
    assert {(n.status, n.attempts) for n in rows(db)} == {("sent", 2)}


# --- two runs at once ------------------------------------------------------------------------

def _race(app, now, monkeypatch):
    """Two send_pending runs in two threads, each with its own app context and session.

    Both list the due rows before either claims one, so every row is fought over.
    """
    barrier = threading.Barrier(2, timeout=30)
    listed = services.due_ids

    def list_then_wait(at):
        found = listed(at)
        barrier.wait()
        return found

    monkeypatch.setattr(services, "due_ids", list_then_wait)
    results, errors = [], []

    def worker():
        try:
            with app.app_context():
                results.append(services.send_pending(now, commit=_db.session.commit))
                _db.session.remove()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def _crowd(group, leader, meetings=3, members=6):
    for i in range(members):
        person = make_user(f"crowd{i}@example.org", name=f"Crowd {i}")
        programme.add_member(None, group, person, joined_on=local_today() - timedelta(days=10))
    return [make_meeting(group, leader, at=time(9 + 2 * i, 0)) for i in range(meetings)]


def test_two_runs_at_once_send_each_reminder_exactly_once_on_the_suites_database(
    app, db, group, leader, outbox, monkeypatch
):
    if db.engine.dialect.name == "sqlite":  # a file, so the two runs really use two connections
        assert db.engine.url.database not in (None, "", ":memory:")
    meetings = _crowd(group, leader)
    db.session.commit()
    now = meetings[0].starts_at - HOUR
    services.queue_due_reminders(now)
    db.session.commit()
    expected = len(rows(db))
    assert expected == 3 * 8

    results = _race(app, now, monkeypatch)
    db.session.rollback()  # end this session's read transaction, to see what the threads committed
    assert sum(r.sent for r in results) == expected
    assert sum(r.taken_elsewhere for r in results) == expected
    assert len(outbox) == expected
    sent_to = [(m.to[0], m.subject) for m in outbox]
    assert len(set(sent_to)) == expected
    assert {n.status for n in rows(db)} == {"sent"}


def test_two_runs_at_once_send_each_reminder_exactly_once_on_postgresql(pg_app, monkeypatch):
    with pg_app.app_context():
        org = make_org()
        leader = make_leader()
        group = make_group(org, leader=leader)
        meetings = _crowd(group, leader)
        _db.session.commit()
        now = meetings[0].starts_at - HOUR
        services.queue_due_reminders(now)
        _db.session.commit()
        expected = _db.session.scalar(sa.select(sa.func.count(Notification.id)))
        _db.session.remove()
    assert expected == 3 * 7

    results = _race(pg_app, now, monkeypatch)
    outbox = pg_app.extensions["mailman"].outbox
    assert sum(r.sent for r in results) == expected
    assert sum(r.taken_elsewhere for r in results) == expected
    assert len(outbox) == expected
    assert len({(m.to[0], m.subject) for m in outbox}) == expected
    with pg_app.app_context():
        assert set(_db.session.scalars(sa.select(Notification.status))) == {"sent"}
        _db.session.remove()
