"""Notification fixtures: the mail outbox, a meeting ten days ahead, and a throw-away PostgreSQL database."""

from __future__ import annotations

import uuid
from datetime import time, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from app import create_app
from app.extensions import db as _db
from app.scheduling import services as scheduling
from tests.conftest import TODAY

# The machines' PostgreSQL (trust auth); tests make their own database on it and drop it afterwards.
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def outbox(app):
    """The locmem backend's outbox, emptied (made before any thread sends, so all share one list)."""
    state = app.extensions["mailman"]
    state.outbox = []
    return state.outbox


def make_meeting(group, leader=None, days_ahead=10, at=time(14, 0), **kw):
    """A one-off meeting of `group` `days_ahead` days from today at `at` local time, led by `leader`."""
    kw.setdefault("location", "Room 5, Building 2")
    meeting = scheduling.add_extra_meeting(None, group, day=TODAY + timedelta(days=days_ahead), at=at, **kw)
    if leader is not None:
        scheduling.assign_leaders(None, meeting, leader)
    return meeting


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
