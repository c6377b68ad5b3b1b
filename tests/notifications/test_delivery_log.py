"""The delivery log (coordinators) and the channels' health on the System page, in both languages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet

from app.extensions import db as _db
from app.notifications import robots, services
from tests.factories import make_org, make_scoped_coordinator, make_user
from tests.querylog import recorded_statements

HOUR = timedelta(hours=1)
WECOM_SEND = "/cgi-bin/message/send"


@pytest.fixture
def delivered(app, db, meeting, member, leader, platforms, monkeypatch):
    """A reminder sent by e-mail to the leader, and to the member on WeCom after a refusal (failed, 81013)."""
    services.set_channels(None, member, "wx-nobody", None, ["wecom"])
    services.set_channels(None, leader, "wx-leader", None, ["email", "wecom"])
    db.session.commit()
    now = meeting.starts_at - HOUR
    services.queue_due_reminders(now)
    db.session.commit()
    services.send_pending(now)
    db.session.commit()
    return now


def test_the_log_shows_each_message_per_channel_with_its_state_attempts_and_reason(
        client, auth, coordinator, delivered, member):
    _db.session.commit()
    auth.login(coordinator)
    page = client.get("/deliveries").get_data(as_text=True)
    assert page.count("data-delivery=") == 3
    assert 'data-status="failed"' in page and "81013" in page and "user &amp; party &amp; tag all invalid" in page
    failed = client.get("/deliveries?status=failed").get_data(as_text=True)
    assert failed.count("data-delivery=") == 1 and member.name in failed
    wecom = client.get("/deliveries?channel=wecom&kind=meeting_reminder").get_data(as_text=True)
    assert wecom.count("data-delivery=") == 2
    assert client.get("/deliveries?channel=sms").status_code == 422


def test_the_log_is_in_chinese_for_a_chinese_reader(client, auth, coordinator, delivered):
    coordinator.locale = "zh_CN"
    _db.session.commit()
    auth.login(coordinator)
    page = client.get("/deliveries").get_data(as_text=True)
    assert 'lang="zh' in page


def test_a_coordinator_of_one_organisation_sees_only_its_peoples_messages(client, auth, db, delivered, platforms):
    other = make_org("Other Hospital")
    scoped = make_scoped_coordinator(other)
    outsider = make_user("far@example.org", organisation_id=other.id)
    _db.session.commit()
    auth.login(scoped)
    page = client.get("/deliveries").get_data(as_text=True)
    assert "data-delivery=" not in page and outsider.email not in page


def test_the_log_lists_group_robot_posts_and_pages_keep_their_query_count(
        app, client, auth, db, coordinator, group, meeting, platforms, clock, monkeypatch):
    monkeypatch.setitem(app.config, "CHANNEL_SECRET_KEY", Fernet.generate_key().decode())
    platforms.wecom_robots.add("k1")
    robots.set_robot(None, group, "wecom", f"{platforms.base}/cgi-bin/webhook/send?key=k1", None)
    db.session.commit()
    clock.current = meeting.starts_at - HOUR
    services.queue_due_reminders(clock.current)
    db.session.commit()
    robots.send_due_posts(clock)
    db.session.commit()
    auth.login(coordinator)
    page = client.get("/deliveries?channel=robot").get_data(as_text=True)
    assert page.count("data-delivery=") == 1 and group.name in page and 'data-status="sent"' in page
    db.session.commit()  # the requests share this session: measure both from the same state
    with recorded_statements() as few:
        client.get("/deliveries")
    for i in range(15):
        person = make_user(f"many{i}@example.org")
        services.queue("meeting_reminder", person, f"k:{i}", clock.current, meeting_id=meeting.id)
    db.session.commit()
    with recorded_statements() as many:
        client.get("/deliveries")
    assert len(many) == len(few), "\n".join(s[:90] for s in few) + "\n---\n" + "\n".join(s[:90] for s in many)


def test_the_system_page_shows_each_channels_health(client, auth, coordinator, delivered):
    _db.session.commit()
    auth.login(coordinator)
    page = client.get("/system").get_data(as_text=True)
    assert 'data-channel="wecom"' in page and 'data-health="failing"' in page
    assert "81013" in page
