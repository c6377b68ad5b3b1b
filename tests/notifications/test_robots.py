"""Group announcements through WeCom and DingTalk group robots: secrets stored encrypted and shown masked, posts
signed, spaced to 20 a minute with a test clock (never dropped, never twice), nothing personal in them."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from app.errors import DomainError
from app.feedback.services import rounds
from app.notifications import robots, services
from app.notifications.models import GroupPost, GroupRobot
from tests.factories import open_round

HOUR = timedelta(hours=1)
WECOM_ROBOT = "/cgi-bin/webhook/send"
DING_ROBOT = "/robot/send"


@pytest.fixture
def fernet_key(app, monkeypatch):
    key = Fernet.generate_key().decode()
    monkeypatch.setitem(app.config, "CHANNEL_SECRET_KEY", key)
    return key


def wecom_robot(db, platforms, group, key="robot-key-0001"):
    platforms.wecom_robots.add(key)
    robot = robots.set_robot(None, group, "wecom", f"{platforms.base}/cgi-bin/webhook/send?key={key}", None)
    db.session.commit()
    return robot


def ding_robot(db, platforms, group, token="ding-robot-token", secret="SECabcdef0123456789"):
    platforms.ding_robots[token] = secret
    robot = robots.set_robot(None, group, "dingtalk", f"{platforms.base}/robot/send?access_token={token}", secret)
    db.session.commit()
    return robot


def posts(db):
    db.session.expire_all()
    return db.session.scalars(sa.select(GroupPost).order_by(GroupPost.id)).all()


def test_the_webhook_and_secret_are_stored_encrypted_and_shown_masked(app, db, group, platforms, fernet_key):
    robot = ding_robot(db, platforms, group)
    assert "ding-robot-token" not in robot.webhook_encrypted and "SECabc" not in (robot.secret_encrypted or "")
    assert robots.decrypt(robot.webhook_encrypted).endswith("access_token=ding-robot-token")
    assert robot.webhook_hint.endswith("oken") and "ding-robot" not in robot.webhook_hint


def test_a_robot_address_must_be_the_platforms_and_a_dingtalk_robot_needs_its_secret(
        app, db, group, platforms, fernet_key, monkeypatch):
    with pytest.raises(DomainError) as refused:
        robots.set_robot(None, group, "wecom", "http://evil.example/cgi-bin/webhook/send?key=x", None)
    assert refused.value.field == "webhook"
    with pytest.raises(DomainError) as refused:
        robots.set_robot(None, group, "dingtalk", f"{platforms.base}/robot/send?access_token=t", None)
    assert refused.value.field == "secret"
    monkeypatch.setitem(app.config, "CHANNEL_SECRET_KEY", None)
    with pytest.raises(DomainError):
        robots.set_robot(None, group, "wecom", f"{platforms.base}/cgi-bin/webhook/send?key=x", None)


def test_the_meeting_reminder_and_the_round_opening_are_posted_signed_and_name_nobody(
        app, db, group, meeting, member, leader, platforms, fernet_key, clock):
    ding_robot(db, platforms, group)
    now = meeting.starts_at - HOUR
    clock.current = now
    services.queue_due_reminders(now)
    feedback_round = open_round(group, present=[member])
    rounds.tell_eligible_members(feedback_round, now)
    db.session.commit()
    counts = robots.send_due_posts(clock)
    db.session.commit()
    assert counts == {"sent": 2}
    sent = platforms.messages(DING_ROBOT)
    assert len(sent) == 2 and all(r.params["sign"] and r.params["timestamp"] for r in sent)
    texts = " ".join(r.body["markdown"]["title"] + r.body["markdown"]["text"] for r in sent)
    assert group.name in texts and f"/rounds/{feedback_round.id}/answer" in texts
    for person in (member, leader):
        assert person.name not in texts and person.email not in texts
    assert (meeting.video_link or "no-link") not in texts
    # Run again: nothing twice.
    assert robots.send_due_posts(clock) == {} and len(platforms.messages(DING_ROBOT)) == 2


def test_a_wrong_signing_secret_fails_with_the_platforms_code(app, db, group, meeting, platforms, fernet_key, clock):
    ding_robot(db, platforms, group)
    platforms.ding_robots["ding-robot-token"] = "SECsomething-else"
    clock.current = meeting.starts_at - HOUR
    services.queue_due_reminders(clock.current)
    db.session.commit()
    assert robots.send_due_posts(clock) == {"failed": 1}
    [item] = posts(db)
    assert item.status == "failed" and item.error_code == "310000" and "sign not match" in item.error


def _queue_many(db, group, meeting, count):
    db.session.execute(sa.insert(GroupPost), [
        {"kind": robots.MEETING_POST, "group_id": group.id, "meeting_id": meeting.id,
         "key": f"{robots.MEETING_POST}:{meeting.id}:{meeting.starts_at:%Y%m%dT%H%M}" if i == 0 else f"many:{i}",
         "due_at": meeting.starts_at - 2 * HOUR} for i in range(count)
    ])
    db.session.commit()


def test_500_posts_to_one_robot_all_go_spaced_at_20_a_minute_none_twice(
        app, db, group, meeting, platforms, fernet_key, clock, monkeypatch):
    wecom_robot(db, platforms, group)
    # Posts render as the meeting's reminder; only the first has the meeting's own key, so let all through.
    monkeypatch.setattr(robots, "render_post", lambda post, now: ("Reminder", f"post {post.id}"))
    _queue_many(db, group, meeting, 500)
    clock.current = meeting.starts_at - 2 * HOUR
    monkeypatch.setitem(app.config, "ROBOT_MAX_WAIT_SECONDS", 240)
    runs = 0
    while any(p.status != "sent" for p in posts(db)):
        counts = robots.send_due_posts(clock, commit=db.session.commit)
        assert "failed" not in counts and "dropped" not in counts
        clock.advance(minutes=5)  # the timer's next run
        runs += 1
        assert runs < 30
    sent = platforms.messages(WECOM_ROBOT)
    assert len(sent) == 500 and len({r.body["markdown"]["content"] for r in sent}) == 500
    assert all(r.errcode == 0 for r in platforms.received)  # never over the limit, so never refused
    times = sorted(p.sent_at for p in posts(db))
    assert all(later - earlier >= timedelta(seconds=3) for earlier, later in zip(times, times[1:], strict=False))
    assert all(times[i + 20] - times[i] >= timedelta(minutes=1) for i in range(len(times) - 20))
    assert all(p.attempts == 1 for p in posts(db)) and runs == 7  # 81 posts fit in a run's 240 seconds


def test_a_robot_over_its_limit_is_retried_later_not_dropped(app, db, group, meeting, platforms, fernet_key, clock):
    wecom_robot(db, platforms, group)
    clock.current = meeting.starts_at - HOUR
    services.queue_due_reminders(clock.current)
    db.session.commit()
    platforms.fail_next(WECOM_ROBOT, (200, {"errcode": 45009, "errmsg": "api freq out of limit"}))
    assert robots.send_due_posts(clock) == {"retrying": 1}
    [item] = posts(db)
    assert item.status == "pending" and item.error_code == "45009"
    clock.advance(minutes=1)
    assert robots.send_due_posts(clock) == {"sent": 1}


def test_removing_the_robot_drops_its_pending_posts(app, db, group, meeting, platforms, fernet_key, clock):
    wecom_robot(db, platforms, group)
    services.queue_due_reminders(meeting.starts_at - HOUR)
    db.session.commit()
    assert robots.remove_robot(None, group)
    db.session.commit()
    assert [p.status for p in posts(db)] == ["dropped"]
    assert db.session.scalar(sa.select(sa.func.count(GroupRobot.id))) == 0


# --- the coordinators' page ------------------------------------------------------------------

def test_a_coordinator_sets_a_groups_robot_and_sees_it_masked(client, auth, app, db, coordinator, group, platforms,
                                                              fernet_key):
    db.session.commit()
    auth.login(coordinator)
    assert "/robot" in client.get(f"/groups/{group.id}").get_data(as_text=True)
    webhook = f"{platforms.base}/robot/send?access_token=secret-robot-token-9876"
    refused = client.post(f"/groups/{group.id}/robot", data={"platform": "dingtalk", "webhook": webhook})
    assert refused.status_code == 422 and "SEC" in refused.get_data(as_text=True)
    saved = client.post(f"/groups/{group.id}/robot",
                        data={"platform": "dingtalk", "webhook": webhook, "secret": "SECsigning-secret"})
    assert saved.status_code == 302
    page = client.get(f"/groups/{group.id}/robot").get_data(as_text=True)
    assert "9876" in page and "secret-robot-token" not in page and "SECsigning-secret" not in page
    assert client.post(f"/groups/{group.id}/robot/remove").status_code == 302
    assert robots.robot_of(group.id) is None


def test_a_leader_may_not_set_a_robot(client, auth, db, leader, group, fernet_key):
    db.session.commit()
    auth.login(leader)
    assert client.get(f"/groups/{group.id}/robot").status_code == 403


def test_send_due_sends_chat_messages_and_group_posts_and_says_so(app, db, group, meeting, member, platforms,
                                                                  fernet_key, outbox):
    wecom_robot(db, platforms, group)
    services.set_channels(None, member, "wx-member", None, ["wecom"])
    db.session.commit()
    at = (meeting.starts_at - HOUR).strftime("%Y-%m-%dT%H:%M+00:00")
    result = app.test_cli_runner().invoke(args=["notify", "send-due", "--now", at])
    assert result.exit_code == 0, result.output
    assert "Group posts: sent 1." in result.output
    assert len(platforms.messages("/cgi-bin/message/send")) == 1 and len(platforms.messages(WECOM_ROBOT)) == 1
    assert member.email not in [m.to[0] for m in outbox]
