"""E-mail over real SMTP: a password-reset link reaches a server listening on loopback."""

from __future__ import annotations

import re
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import PASSWORD

NEW_PASSWORD = "a password sent by smtp"


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    # aiosmtpd's Controller(port=0) fails its own start-up check, so pick a port first.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(app, monkeypatch):
    """A real SMTP server on loopback, with the app sending to it (settings restored afterwards)."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings = {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port,
                "MAIL_USE_TLS": False, "MAIL_USE_SSL": False, "MAIL_USERNAME": None, "MAIL_PASSWORD": None}
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    # Flask-Mailman reads the settings once, in init_app(), into app.extensions["mailman"]:
    # changing app.config alone would leave the locmem backend in place.
    state = app.extensions["mailman"]
    for attribute, value in {"backend": "smtp", "server": "127.0.0.1", "port": port, "use_tls": False,
                             "use_ssl": False, "username": None, "password": None, "timeout": 10}.items():
        monkeypatch.setattr(state, attribute, value)
    yield inbox
    controller.stop()


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
