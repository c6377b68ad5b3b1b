"""Shared fixtures: the app on SQLite (or TEST_DATABASE_URL), a clean database per test, personas."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app import create_app
from app.accounts import services as accounts
from app.extensions import db as _db
from app.extensions import limiter
from app.programme import services as programme

PASSWORD = "correct horse battery"
# "Today" as the hospital sees it: the deployment's timezone, not the server's.
TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives real Chromium through Playwright")


def pytest_sessionfinish(session, exitstatus):
    """In CI no test may skip: a skip turns the run red."""
    if os.environ.get("CI") and exitstatus == 0:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        skipped = reporter.stats.get("skipped", []) if reporter else []
        if skipped:
            reporter.write_line(f"CI: {len(skipped)} skipped test(s); no test may skip in CI.", red=True)
            session.exitstatus = 1


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        _db.drop_all()
        _db.create_all()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.drop_all()
        _db.engine.dispose()


def _wipe(engine) -> None:
    tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(sa.text(f'DELETE FROM "{t}"'))


@pytest.fixture
def db(app):
    """A clean database inside an app context for each test."""
    with app.app_context():
        _wipe(_db.engine)
        limiter.reset()
        yield _db
        _db.session.rollback()
        _db.session.remove()


@pytest.fixture(autouse=True)
def fresh_g_per_request(app):
    """Give every test request an empty `g`, as a real server does.

    The `db` fixture keeps an app context pushed and Flask reuses it for test requests, so without
    this the user Flask-Login cached in `g` by one client would answer the next client too.
    """
    from flask import g, request_started

    def clear(sender, **extra):
        for key in list(g):
            g.pop(key)

    request_started.connect(clear, app)
    yield
    request_started.disconnect(clear, app)


@pytest.fixture
def client(app, db):
    return app.test_client()


# --- factories -------------------------------------------------------------------------------

def make_org(name="Test Hospital", **kw):
    return programme.create_organisation(None, name=name, **kw)


def make_user(email, roles=("member",), name=None, password=PASSWORD, **kw):
    return accounts.create_user(
        None, email=email, name=name or email.split("@")[0].title(), roles=list(roles), password=password, **kw
    )


def make_group(org, name="Group A", **kw):
    return programme.create_group(None, organisation_id=org.id, name=name, **kw)


def give_training(user, level="leader", completed_on=None, valid_until=None, verified=True, verifier=None):
    """A training record added straight to the database (verified unless told otherwise)."""
    from app.accounts.models import TrainingRecord
    from app.timeutil import utcnow

    record = TrainingRecord(
        user=user, kind="Balint leader training", level=level, issuer="Balint Society",
        completed_on=completed_on or TODAY - timedelta(days=365), valid_until=valid_until,
        verified_by=verifier, verified_at=utcnow() if verified else None,
    )
    _db.session.add(record)
    _db.session.flush()
    return record


# --- personas --------------------------------------------------------------------------------

@pytest.fixture
def org(db):
    return make_org()


@pytest.fixture
def other_org(db):
    return make_org("Other Hospital")


@pytest.fixture
def coordinator(db, org):
    return make_user("coordinator@example.org", roles=["coordinator"], name="Coordinator Chen")


@pytest.fixture
def org_coordinator(db, org):
    return accounts.create_user(
        None, email="orgcoord@example.org", name="Org Coordinator", roles=["coordinator"], password=PASSWORD,
        organisation_id=org.id, coordinator_org_id=org.id,
    )


@pytest.fixture
def leader(db, org):
    user = make_user("leader@example.org", roles=["leader"], name="Leader Li", organisation_id=org.id)
    give_training(user, "leader")
    return user


@pytest.fixture
def trainee_leader(db, org):
    user = make_user("trainee@example.org", roles=["leader"], name="Trainee Tang", organisation_id=org.id)
    give_training(user, "leader_in_training")
    return user


@pytest.fixture
def member(db, org):
    return make_user("member@example.org", roles=["member"], name="Member Ma", organisation_id=org.id)


@pytest.fixture
def outsider(db, org):
    return make_user("outsider@example.org", roles=["member"], name="Outsider Ou", organisation_id=org.id)


@pytest.fixture
def group(db, org, leader, member):
    g = make_group(org, "Paediatrics Balint group")
    programme.add_group_leader(None, g, leader)
    programme.add_member(None, g, member, joined_on=TODAY - timedelta(days=30))
    _db.session.commit()
    return g


class Auth:
    """Log personas in and out through the real log-in form."""

    def __init__(self, client):
        self.client = client

    def login(self, user_or_email, password=PASSWORD):
        email = getattr(user_or_email, "email", user_or_email)
        return self.client.post("/login", data={"email": email, "password": password})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client, db):
    _db.session.commit()
    return Auth(client)
