"""Shared fixtures: the app on SQLite (or TEST_DATABASE_URL), a clean database per test, `today`, personas,
the persona group's crew and past meetings, and the app on a loopback server. The factories are in
tests/factories.py."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db as _db
from app.extensions import limiter
from app.programme import services as programme
from tests.factories import (
    PASSWORD,
    make_group,
    make_leader,
    make_org,
    make_past_meetings,
    make_scoped_coordinator,
    make_user,
)
from tests.loopback import serve_threaded


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


@pytest.fixture
def empty_database_url(tmp_path):
    """A brand-new empty database of the kind the suite runs on (SQLite file or a new PostgreSQL database)."""
    test_url = os.environ.get("TEST_DATABASE_URL", "")
    if not test_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"empty_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(test_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(test_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _wipe(engine) -> None:
    """Empty every table, children first, and (PostgreSQL) restart every id sequence at 1.

    On PostgreSQL only the tables holding rows are emptied, with DELETE: a TRUNCATE of all ~40 tables costs
    about 120 ms whatever they hold, and a test leaves rows in a few small ones (this takes a few ms).
    """
    tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            filled = conn.execute(sa.text("SELECT " + ", ".join(f'EXISTS (SELECT 1 FROM "{t}")' for t in tables)))
            for table, has_rows in zip(tables, filled.one(), strict=True):
                if has_rows:
                    conn.execute(sa.text(f'DELETE FROM "{table}"'))
            conn.execute(sa.text("SELECT setval(c.oid, 1, false) FROM pg_class c JOIN pg_namespace n "
                                 "ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND n.nspname = current_schema()"))
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
def rate_limits_of_the_suites_app(app):
    """Give the rate limiter back to the suite's app after each test.

    The limiter is one object (app.extensions) and `create_app` re-initialises it: after a test that builds a
    production app, its Redis storage would hold the suite's counts, where time travel cannot expire them.
    (Flask-Limiter keeps the storage and strategy on private attributes.)
    """
    saved = (limiter.enabled, limiter._storage, limiter._limiter)
    yield
    limiter.enabled, limiter._storage, limiter._limiter = saved


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


@pytest.fixture
def today(app):
    """Today as the hospital sees it: the date in the deployment's timezone, not the server's, when the test runs."""
    return datetime.now(ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])).date()


@pytest.fixture
def outbox(app):
    """The locmem mail backend's outbox (Flask-Mailman keeps it on the app's mail state), emptied; made before any
    thread sends, so all share one list."""
    state = app.extensions["mailman"]
    state.outbox = []
    return state.outbox


@pytest.fixture
def smtp_server(app, monkeypatch):
    """A real SMTP server on loopback that keeps what arrives (its Inbox), with the app sending to it."""
    from tests.mailserver import Inbox, smtp_to

    inbox = Inbox()
    controller = smtp_to(app, monkeypatch, inbox)
    yield inbox
    controller.stop()


@pytest.fixture
def served(app, db):
    """The test app (CSRF off) on a threaded loopback server: its base URL."""
    with serve_threaded(app) as base:
        yield base


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
    return make_scoped_coordinator(org, email="orgcoord@example.org", name="Org Coordinator", commit=False)


@pytest.fixture
def leader(db, org):
    return make_leader(organisation_id=org.id)


@pytest.fixture
def trainee_leader(db, org):
    return make_leader("trainee@example.org", "Trainee Tang", "leader_in_training", organisation_id=org.id)


@pytest.fixture
def member(db, org):
    return make_user("member@example.org", roles=["member"], name="Member Ma", organisation_id=org.id)


@pytest.fixture
def outsider(db, org):
    return make_user("outsider@example.org", roles=["member"], name="Outsider Ou", organisation_id=org.id)


@pytest.fixture
def group(db, org, leader, member, today):
    g = make_group(org, "Paediatrics Balint group", leader=leader)
    programme.add_member(None, g, member, joined_on=today - timedelta(days=30))
    _db.session.commit()
    return g


@pytest.fixture
def crew(db, group, member, today):
    """The persona group's members: the persona member and seven more, all since a year ago."""
    people = [member]
    for i in range(7):
        person = make_user(f"m{i}@example.org", roles=["member"], name=f"Member {i}")
        programme.add_member(None, group, person, joined_on=today - timedelta(days=400))
        people.append(person)
    for ms in group.memberships:
        ms.joined_on = today - timedelta(days=400)
    db.session.flush()
    return people


@pytest.fixture
def past_meetings(db, group, crew, leader, today):
    """Twelve past meetings of the group (1st and 3rd Wednesday), led by the persona leader."""
    return make_past_meetings(group, leader, on=today)


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


# --- sign-in providers: a real directory (slapd) and a real OpenID Connect provider, once per session -----------

@pytest.fixture(scope="session")
def directory(tmp_path_factory):
    """Debian's slapd on a loopback port, serving the generated directory of tests/ldapserver.py."""
    from tests import ldapserver

    if not ldapserver.available():
        pytest.skip("slapd not installed (apt-get install slapd ldap-utils)")
    server = ldapserver.Directory.create(tmp_path_factory.mktemp("slapd"))
    yield server
    server.stop()


@pytest.fixture
def ldap_on(app, directory, monkeypatch):
    """The app signs in through the directory (search-then-bind); the directory is serving again after the test."""
    from tests import ldapserver

    for key, value in ldapserver.settings(directory).items():
        monkeypatch.setitem(app.config, key, value)
    yield directory
    if directory.process is None:
        directory.start()


OIDC_REDIRECT = "http://localhost/login/oidc/callback"
OIDC_AFTER_LOGOUT = "http://localhost/login"


@pytest.fixture(scope="session")
def oidc_provider():
    """The npm package oidc-provider, run with Node on a loopback port, with a client for the test app."""
    from tests import oidcserver

    if not oidcserver.available():
        pytest.skip("node or node_modules/oidc-provider missing (npm ci)")
    provider = oidcserver.Provider.start([OIDC_REDIRECT], [OIDC_AFTER_LOGOUT])
    yield provider
    provider.stop()


@pytest.fixture
def oidc_on(app, oidc_provider, monkeypatch):
    """The app offers single sign-on through the test provider."""
    for key, value in oidc_provider.settings(OIDC_REDIRECT, OIDC_AFTER_LOGOUT).items():
        monkeypatch.setitem(app.config, key, value)
    return oidc_provider
