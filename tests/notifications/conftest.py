"""Notification fixtures: a meeting ten days ahead (tests/factories.make_meeting) and a throw-away PostgreSQL
database; the mail outbox is in tests/conftest.py."""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from app import create_app
from app.extensions import db as _db
from app.timeutil import utcnow
from tests.chatplatforms import FakeClock, platform_config, serve_platforms
from tests.factories import make_meeting

# The machines' PostgreSQL (trust auth); tests make their own database on it and drop it afterwards. The
# suite's own PostgreSQL database (TEST_DATABASE_URL) is where they connect to make it, when there is one.
_TEST_URL = os.environ.get("TEST_DATABASE_URL", "")
PG_ADMIN_URL = _TEST_URL if _TEST_URL.startswith("postgresql") else "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def clock():
    """A test clock at the current time (naive UTC), moved on only by the test or by the code's sleeps."""
    return FakeClock(utcnow().replace(microsecond=0))


@pytest.fixture
def platforms(app, clock, monkeypatch):
    """Loopback WeCom and DingTalk (tests/chatplatforms.py), with the app configured for them and channels on."""
    with serve_platforms(clock) as found:
        for key, value in platform_config(found.base).items():
            monkeypatch.setitem(app.config, key, value)
        yield found


@pytest.fixture
def meeting(db, group, leader):
    """The persona group's meeting ten days ahead at 14:00 Beijing time, led by the persona leader."""
    found = make_meeting(group, leader)
    db.session.commit()
    return found


@pytest.fixture
def pg_app():
    """The app on a PostgreSQL database of its own, created for the test and dropped afterwards."""
    name = f"notify_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432 ({exc.orig})")
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    app.extensions["mailman"].outbox = []
    try:
        with app.app_context():
            _db.create_all()
        yield app
    finally:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
