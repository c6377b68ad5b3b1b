"""Reminders over real SMTP: they arrive in each recipient's language; a refusing server is survived."""

from __future__ import annotations

import gc
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa
from babel.dates import format_date

from app.notifications.models import Notification
from app.timeutil import to_local
from tests.factories import make_meeting
from tests.mailserver import Inbox, smtp_to


@pytest.fixture
def refusing_smtp_server(app, monkeypatch):
    inbox = Inbox(refuse="554 Transaction failed: no reminders today")
    controller = smtp_to(app, monkeypatch, inbox)
    yield inbox
    controller.stop()


def _send_due(app, meeting):
    now = to_local(meeting.starts_at - timedelta(hours=2)).isoformat()
    result = app.test_cli_runner().invoke(args=["notify", "send-due", "--now", now])
    assert result.exit_code == 0, result.output
    return result


def _messages(inbox):
    return {
        envelope.rcpt_tos[0]: message_from_bytes(envelope.content, policy=policy.default)
        for envelope in inbox.envelopes
    }


def test_reminders_arrive_over_smtp_each_in_the_recipients_language(app, db, group, leader, member, smtp_server):
    member.locale = "zh_CN"
    leader.locale = "en"
    meeting = make_meeting(group, leader)
    db.session.commit()

    _send_due(app, meeting)

    messages = _messages(smtp_server)
    assert sorted(messages) == ["leader@example.org", "member@example.org"]
    day = to_local(meeting.starts_at).date()
    for address, locale in (("member@example.org", "zh_CN"), ("leader@example.org", "en")):
        message = messages[address]
        assert message["To"] == address and "Balint Groups" in message["From"]
        assert message.get_content_type() == "text/plain"
        assert message.get_content_charset() == "utf-8"
        body = message.get_content()
        # The structure, whatever the catalogue holds: the date written the recipient's way (CLDR),
        # the local time, the place, the leader, and the absolute links.
        assert format_date(day, "full", locale=locale) in body, body
        assert "14:00" in body and "15:00" in body
        assert "Room 5, Building 2" in body and "Leader Li" in body
        assert "http://localhost/my/meetings" in body and "http://localhost/profile" in body
        assert group.name in message["Subject"]
    assert format_date(day, "full", locale="en") not in messages["member@example.org"].get_content()
    assert db.session.scalars(sa.select(Notification.status)).all() == ["sent", "sent"]


# Flask-Mailman's SMTP backend leaves its socket to the garbage collector when the server refuses a
# message (it closes only after a success); the collection below happens while this filter holds.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_refusing_mail_server_marks_attempts_then_failure_and_never_crashes(
    app, db, meeting, refusing_smtp_server
):
    for attempt in (1, 2, 3):
        result = _send_due(app, meeting)
        db.session.rollback()
        found = db.session.scalars(sa.select(Notification)).all()
        assert len(found) == 2
        assert {n.attempts for n in found} == {attempt}
        assert all("554" in n.error for n in found)
        if attempt < 3:
            assert {n.status for n in found} == {"pending"} and "to retry 2" in result.output
        else:
            assert {n.status for n in found} == {"failed"} and "failed 2" in result.output
    assert refusing_smtp_server.envelopes == []
    _send_due(app, meeting)
    db.session.rollback()
    assert {n.attempts for n in db.session.scalars(sa.select(Notification))} == {3}
    gc.collect()


def test_mail_settings_are_back_to_locmem_after_the_smtp_tests(app):
    assert app.config["MAIL_BACKEND"] == "locmem"
    assert app.extensions["mailman"].backend == "locmem"
