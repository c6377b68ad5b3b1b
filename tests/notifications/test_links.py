"""Absolute links (e-mails, calendar addresses): BASE_URL when set; unset in development, the address in use."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from app import create_app
from app.timeutil import to_local
from config import ConfigurationError
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
PORT_8000 = "http://127.0.0.1:8000"


@pytest.fixture
def no_base_url(app, monkeypatch):
    """BASE_URL left unset, as in development."""
    monkeypatch.setitem(app.config, "BASE_URL", None)


def _log_in(client, user, base_url):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD}, base_url=base_url)
    assert response.status_code == 302


def test_without_base_url_a_reset_link_follows_the_address_the_app_is_served_on(
    app, db, client, member, outbox, no_base_url
):
    db.session.commit()
    client.post("/password/forgot", data={"email": member.email}, base_url=PORT_8000)
    [message] = outbox
    assert f"{PORT_8000}/password/reset/" in message.body


def test_without_base_url_the_calendar_address_follows_the_address_the_page_was_opened_at(
    app, db, client, member, no_base_url
):
    db.session.commit()
    _log_in(client, member, PORT_8000)
    page = client.get("/profile", base_url=PORT_8000).get_data(as_text=True)
    assert f'value="{PORT_8000}/calendar/' in page


def test_a_configured_base_url_wins_over_the_address_a_request_came_to(app, db, client, member, outbox, monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", "https://balint.hospital.example/")
    db.session.commit()
    client.post("/password/forgot", data={"email": member.email}, base_url="http://evil.example:8000")
    [message] = outbox
    assert "https://balint.hospital.example/password/reset/" in message.body and "evil" not in message.body
    _log_in(client, member, PORT_8000)
    page = client.get("/profile", base_url=PORT_8000).get_data(as_text=True)
    assert 'value="https://balint.hospital.example/calendar/' in page


@pytest.mark.parametrize(("port", "expected"), [("8000", PORT_8000), (None, "http://127.0.0.1:5000")])
def test_without_base_url_reminders_sent_from_the_command_line_link_to_the_local_port(
    app, db, meeting, outbox, no_base_url, monkeypatch, port, expected
):
    monkeypatch.delenv("FLASK_RUN_PORT", raising=False)
    if port:
        monkeypatch.setenv("PORT", port)
    else:
        monkeypatch.delenv("PORT", raising=False)
    now = to_local(meeting.starts_at - timedelta(hours=3)).isoformat()
    result = app.test_cli_runner().invoke(args=["notify", "send-due", "--now", now])
    assert result.exit_code == 0, result.output
    assert outbox and all(f"{expected}/my/meetings" in m.body for m in outbox)


@pytest.mark.parametrize("base_url", [None, "", "balint.hospital.example", "ftp://balint.hospital.example",
                                      "https://"])
def test_production_refuses_to_start_without_an_http_base_url(monkeypatch, base_url):
    monkeypatch.setenv("SECRET_KEY", "a-long-random-production-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://x@127.0.0.1/x")
    if base_url is None:
        monkeypatch.delenv("BASE_URL", raising=False)
    else:
        monkeypatch.setenv("BASE_URL", base_url)
    with pytest.raises(ConfigurationError, match="BASE_URL") as refused:
        create_app("production")
    assert len(refused.value.problems) == 1


def test_production_lists_every_missing_setting_at_once(monkeypatch):
    for name in ("SECRET_KEY", "DATABASE_URL", "BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError) as refused:
        create_app("production")
    text = str(refused.value)
    assert "SECRET_KEY" in text and "DATABASE_URL" in text and "BASE_URL" in text and "flask check" in text


def test_production_starts_with_base_url_set_and_uses_it(tmp_path):
    """In a process of its own, as under systemd (the environment is there before config.py is imported)."""
    env = {**os.environ, "FLASK_CONFIG": "production", "SECRET_KEY": "a-long-random-production-secret",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}", "BASE_URL": "https://balint.hospital.example"}
    env.pop("TEST_DATABASE_URL", None)
    code = ("from app import create_app; app = create_app()\n"
            "with app.test_request_context('/', base_url='http://10.0.0.5:8000'):\n"
            "    from app.notifications.mail import absolute_url; print(absolute_url('accounts.profile'))")
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "https://balint.hospital.example/profile"
