"""Invitations through the outbox: queued once per person, sent by send-due with a fresh link, never twice."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _

from app.accounts import services as accounts
from app.audit.models import AuditEntry
from app.notifications.invitations import INVITATION, queue_invitation, queue_invitations
from app.notifications.models import Notification
from app.notifications.services import send_pending
from app.timeutil import utcnow


def test_an_invitation_is_queued_once_and_marks_the_person_invited(db, coordinator, outbox):
    person = accounts.create_user(coordinator, email="new@example.org", name="New Person", roles=["member"])
    now = utcnow()
    assert queue_invitation(person, coordinator, now) is not None
    assert queue_invitation(person, coordinator, now) is None
    assert queue_invitations([person], coordinator, now) == 0
    db.session.commit()
    assert person.invited_at is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)
                             .where(Notification.kind == INVITATION)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "user_invited")) == 1
    assert outbox == []
    assert send_pending(now + timedelta(seconds=1), commit=db.session.commit).sent == 1
    assert outbox[0].to == ["new@example.org"] and "/invite/" in outbox[0].body


def test_invitations_of_the_system_name_the_coordinators_in_the_recipients_language(app, db, outbox):
    person = accounts.create_user(None, email="neu@example.org", name="王芳", roles=["member"], locale="zh_CN")
    assert queue_invitations([person], None, utcnow()) == 1
    db.session.commit()
    send_pending(utcnow() + timedelta(seconds=1), commit=db.session.commit)
    with app.test_request_context(), force_locale("zh_CN"):
        hello, inviter = _("Hello %(name)s,", name="王芳"), _("The coordinators of the programme")
    assert hello.startswith("王芳") or "您好" in hello
    assert hello in outbox[0].body and inviter in outbox[0].body
