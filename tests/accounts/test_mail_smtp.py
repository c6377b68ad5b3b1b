"""E-mail over real SMTP: a password-reset link reaches a server listening on loopback."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

from tests.factories import PASSWORD

NEW_PASSWORD = "a password sent by smtp"


def test_password_reset_link_arrives_over_smtp_and_works(app, client, db, member, smtp_server):
    db.session.commit()
    outbox_before = list(getattr(app.extensions["mailman"], "outbox", []))

    response = client.post("/password/forgot", data={"email": "member@example.org"})
    assert response.status_code == 302

    assert len(smtp_server.envelopes) == 1
    envelope = smtp_server.envelopes[0]
    assert envelope.rcpt_tos == ["member@example.org"]
    message = message_from_bytes(envelope.content, policy=policy.default)
    assert message["To"] == "member@example.org"
    assert "Balint Groups" in message["From"]
    assert "password" in message["Subject"].lower()
    body = message.get_content()
    match = re.search(r"http://localhost(/password/reset/\S+)", body)
    assert match, body
    assert list(getattr(app.extensions["mailman"], "outbox", [])) == outbox_before  # not the locmem backend

    response = client.post(match.group(1), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert client.post("/login", data={"email": "member@example.org", "password": PASSWORD}).status_code == 200
    assert client.post("/login", data={"email": "member@example.org", "password": NEW_PASSWORD}).status_code == 302


def test_mail_settings_are_back_to_locmem_after_the_smtp_test(app):
    assert app.config["MAIL_BACKEND"] == "locmem"
    assert app.extensions["mailman"].backend == "locmem"
