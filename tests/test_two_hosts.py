"""Two app hosts, one PostgreSQL and one Redis: whichever host a request reaches, the app behaves as one.

Two gunicorn servers (A and B: 2 worker processes × 4 threads each, CSRF on) on different loopback ports share
SECRET_KEY, a PostgreSQL database of this module's own and Redis for the rate limiter, as two machines behind
a load balancer would. Over real HTTP, with CSRF tokens read from the pages:
1. a session started on A (log-in) is valid on B;
2. failed log-ins spread over A and B are refused (429) after exactly the configured number in total;
3. a draft of a feedback answer autosaved through A is restored on the answer page opened through B;
4. a round opened through A (a leader records the fifth held meeting) is answered through B, stored once;
5. `flask notify send-due` started twice at once (as both hosts' timers would) sends each message exactly once
   to a real SMTP server on loopback;
6. the 200-member submission burst, each member signed in on one host and submitting on the other, stores
   exactly 200 responses.

The module always makes its own PostgreSQL database (beside TEST_DATABASE_URL's when that is PostgreSQL, else
on 127.0.0.1:5432; TWO_HOSTS_PG_URL names another server or admin database) and drops it afterwards, so it
runs alike in the suite's SQLite and PostgreSQL passes. Redis: TEST_REDIS_URL (default db 14), flushed
before and after. The servers start once for the module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import pytest
import redis
import sqlalchemy as sa
from limits import parse as parse_limit
from sqlalchemy.exc import OperationalError

from app import create_app
from app.extensions import db as _db
from app.feedback.models import Answer, Completion, Draft, FeedbackRound, Response, RoundMeeting
from app.notifications.models import JobRun, Notification
from app.programme import services as programme
from app.timeutil import local_today, to_local
from tests.browsing import Browser, at_once, form_values
from tests.factories import (
    GOOD,
    groups_with_open_rounds,
    make_group,
    make_leader,
    make_meeting,
    make_org,
    make_past_meetings,
    make_user,
    open_round,
    pulse_instrument,
    record_held,
)
from tests.gunicorn_server import ROOT, Server
from tests.loopback import free_port
from tests.mailserver import Inbox

DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
SHARED_SECRET = f"two-hosts-shared-secret-{uuid.uuid4().hex}"  # one environment file, copied to both hosts
BURST_GROUPS, BURST_PER_GROUP = 20, 10
SUBMISSION = {**{f"a-{code}": value for code, value in GOOD.items()}, "action": "submit"}


# --- the shared database and Redis ------------------------------------------------------------------

def _admin_url() -> sa.engine.URL:
    """Where the module's database is made: TWO_HOSTS_PG_URL, else TEST_DATABASE_URL if it is PostgreSQL."""
    test_url = os.environ.get("TEST_DATABASE_URL", "")
    chosen = os.environ.get("TWO_HOSTS_PG_URL") or (test_url if test_url.startswith("postgresql") else "")
    return sa.engine.make_url(chosen or DEFAULT_PG_ADMIN_URL)


@pytest.fixture(scope="module")
def database_url():
    """A PostgreSQL database of the module's own (named after the admin database), dropped afterwards."""
    admin_url = _admin_url()
    prefix = "" if admin_url.database in (None, "postgres") else f"{admin_url.database}_"
    name = f"{prefix}two_hosts_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {admin_url.render_as_string()} ({exc.orig})")
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def redis_url():
    """The Redis database both hosts keep their rate-limit counters in, empty at the start and left empty."""
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        client.close()
        pytest.skip(f"Redis is not reachable at {url} ({exc})")
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


# --- what the hosts serve ---------------------------------------------------------------------------

@dataclass
class World:
    """The people and rounds the scenarios use, each scenario its own (so any one can run alone)."""

    walker: str  # a member who signs in on A and goes on on B
    limited: str  # the account whose wrong passwords are tried on both hosts
    drafter: str
    draft_round_id: int
    leader: str
    fifth_meeting_id: int  # the round group's fifth past meeting, not yet recorded
    round_group_id: int
    respondent: str  # present at all five meetings
    reminder_starts_at: datetime  # the reminder group's next meeting (naive UTC)
    reminder_recipients: list[str]
    burst: list[tuple[str, int]]  # (member e-mail, round id)


def _seed() -> World:
    today = local_today()
    org = make_org("Two Hosts Hospital")
    pulse_instrument()  # the active questionnaire: the round the fifth record opens asks it
    walker = make_user("walker@two-hosts.test", name="Walker Wu", organisation_id=org.id)
    limited = make_user("limited@two-hosts.test", organisation_id=org.id)

    drafter = make_user("drafter@two-hosts.test", organisation_id=org.id)
    draft_group = make_group(org, "Draft group")
    programme.add_member(None, draft_group, drafter, joined_on=today - timedelta(days=60))
    draft_round = open_round(draft_group, present=[drafter])

    leader = make_leader("leader@two-hosts.test", organisation_id=org.id)
    round_group = make_group(org, "Round group", leader=leader)
    crew = [make_user(f"crew{i}@two-hosts.test", organisation_id=org.id) for i in range(6)]
    for person in crew:
        programme.add_member(None, round_group, person, joined_on=today - timedelta(days=400))
    meetings = make_past_meetings(round_group, leader, on=today, count=5)
    for meeting in meetings[:4]:
        record_held(meeting, crew)

    second_leader = make_leader("leader2@two-hosts.test", "Leader Lu", organisation_id=org.id)
    reminder_group = make_group(org, "Reminder group", leader=second_leader)
    reminded = [make_user(f"reminded{i}@two-hosts.test", organisation_id=org.id) for i in range(10)]
    for person in reminded:
        programme.add_member(None, reminder_group, person, joined_on=today - timedelta(days=60))
    upcoming = make_meeting(reminder_group, second_leader, days_ahead=2, at=time(14, 0))

    burst = groups_with_open_rounds("Burst Hospital", BURST_GROUPS, BURST_PER_GROUP, "m{g:02d}{i:02d}@burst.test")
    _db.session.commit()
    return World(
        walker=walker.email, limited=limited.email, drafter=drafter.email, draft_round_id=draft_round.id,
        leader=leader.email, fifth_meeting_id=meetings[4].id, round_group_id=round_group.id,
        respondent=crew[0].email, reminder_starts_at=upcoming.starts_at,
        reminder_recipients=sorted([second_leader.email, *(p.email for p in reminded)]), burst=burst,
    )


@pytest.fixture(scope="module")
def shared_app(database_url):
    """The app on the shared database, for setting up and for reading what the hosts stored."""
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        _db.create_all()
    try:
        yield app
    finally:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()


@pytest.fixture(scope="module")
def world(shared_app) -> World:
    with shared_app.app_context():
        try:
            return _seed()
        finally:
            _db.session.remove()


@dataclass
class Hosts:
    a: str
    b: str

    def alternate(self, i: int) -> tuple[str, str]:
        """(one host, the other) by the parity of i."""
        return (self.a, self.b) if i % 2 == 0 else (self.b, self.a)


@pytest.fixture(scope="module")
def hosts(world, database_url, redis_url):
    """Hosts A and B: the same SECRET_KEY, database and Redis; started together, once for the module."""
    overrides = {"SECRET_KEY": SHARED_SECRET, "RATELIMIT_STORAGE_URI": redis_url}
    servers = [Server(database_url, workers=2, threads=4, overrides=overrides) for _ in range(2)]
    try:
        for server in servers:
            server.wait_ready()
        yield Hosts(servers[0].url, servers[1].url)
    finally:
        with ThreadPoolExecutor(len(servers)) as pool:  # each waits for its workers to finish: stop both at once
            list(pool.map(Server.stop, servers))


@pytest.fixture
def read(shared_app):
    """An app context on the shared database for the test's checks, fresh for each read."""
    with shared_app.app_context():
        yield _db.session
        _db.session.remove()


def _count(session, statement) -> int:
    session.rollback()  # see what the hosts committed since
    return session.scalar(sa.select(sa.func.count()).select_from(statement.subquery()))


# --- the scenarios ------------------------------------------------------------------------------

def test_a_session_started_on_one_host_is_valid_on_the_other(hosts, world):
    stranger = Browser(hosts.b)
    assert stranger.request("/")[0] == 302  # B lets no one in without a session

    browser = Browser(hosts.a)
    assert browser.sign_in(world.walker) == 302
    status, page = browser.request("/", base=hosts.b)
    assert status == 200 and "Walker Wu" in page
    # And back on A with the cookie B sent back (a permanent session is re-signed on every answer).
    status, page = browser.request("/", base=hosts.a)
    assert status == 200 and "Walker Wu" in page


def test_failed_log_ins_count_against_one_limit_across_both_hosts(hosts, world, shared_app):
    allowed = parse_limit(shared_app.config["LOGIN_LIMIT_PER_ACCOUNT"]).amount
    assert allowed < parse_limit(shared_app.config["LOGIN_LIMIT_PER_ADDRESS"]).amount  # the account's limit binds
    browser = Browser(hosts.a)
    statuses = [browser.sign_in(world.limited, "wrong password", base=hosts.alternate(i)[0])
                for i in range(allowed + 2)]
    # Every attempt up to the limit is refused as a wrong password; the next, on either host, is stopped.
    assert statuses == [200] * allowed + [429, 429]


def test_a_draft_saved_through_one_host_is_restored_through_the_other(hosts, world, read):
    browser = Browser(hosts.a)
    assert browser.sign_in(world.drafter) == 302
    answer_path = f"/rounds/{world.draft_round_id}/answer"
    status, page = browser.request(answer_path)
    assert status == 200
    token = page.split('data-csrf="', 1)[1].split('"', 1)[0]
    status, saved = browser.request(f"/rounds/{world.draft_round_id}/draft", headers={"X-CSRFToken": token},
                                    json_body={"answers": {"recovery": "4", "comment": "Written through host A"}})
    assert status == 200 and json.loads(saved) == {"saved": 2}

    status, page = browser.request(answer_path, base=hosts.b)
    assert status == 200
    shown = dict(form_values(page))
    assert shown["a-recovery"] == "4" and shown["a-comment"] == "Written through host A"
    assert _count(read, sa.select(Draft).where(Draft.round_id == world.draft_round_id)) == 1


def test_a_round_opened_through_one_host_is_answered_through_the_other(hosts, world, read):
    leader = Browser(hosts.a)
    assert leader.sign_in(world.leader) == 302
    record_path = f"/meetings/{world.fifth_meeting_id}/record"
    status, page = leader.request(record_path)
    assert status == 200
    fields = dict(form_values(page))
    assert fields["status"] == "held"  # as the form offers it: held, everyone present
    status, _ = leader.request(record_path, fields)
    assert status == 302

    read.rollback()
    opened = read.scalars(sa.select(FeedbackRound).where(FeedbackRound.group_id == world.round_group_id)).one()
    assert _count(read, sa.select(RoundMeeting).where(RoundMeeting.round_id == opened.id)) == 5

    member = Browser(hosts.b)
    assert member.sign_in(world.respondent) == 302
    answer_path = f"/rounds/{opened.id}/answer"
    token = member.csrf(answer_path)
    assert member.request(answer_path, {**SUBMISSION, "csrf_token": token})[0] == 200
    # Submitting again, now through A, is refused: one response per member, whichever host takes it.
    assert member.request(answer_path, {**SUBMISSION, "csrf_token": token}, base=hosts.a)[0] == 409
    assert _count(read, sa.select(Response).where(Response.round_id == opened.id)) == 1
    assert _count(read, sa.select(Completion).where(Completion.round_id == opened.id)) == 1


def test_send_due_started_on_both_hosts_at_once_sends_each_message_exactly_once(hosts, world, read, database_url,
                                                                               redis_url):
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()  # aiosmtpd's Controller(port=0) fails its own start-up check
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    now = world.reminder_starts_at - timedelta(hours=3)  # inside the reminder's lead time
    # The environment file both hosts share; only the host name differs.
    env = {**os.environ, "FLASK_APP": "wsgi", "FLASK_CONFIG": "production", "SECRET_KEY": SHARED_SECRET,
           "DATABASE_URL": database_url, "BASE_URL": "https://balint.hospital.test",
           "RATELIMIT_STORAGE_URI": redis_url, "MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1",
           "MAIL_PORT": str(port), "MAIL_USE_TLS": "false"}
    env.pop("TEST_DATABASE_URL", None)
    command = [sys.executable, "-m", "flask", "notify", "send-due", "--now", to_local(now).isoformat()]
    try:
        runs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for _ in range(2)]
        outputs = [run.communicate(timeout=120) for run in runs]
    finally:
        controller.stop()
    assert [run.returncode for run in runs] == [0, 0], [err.decode()[-2000:] for _, err in outputs]

    read.rollback()
    sent = read.scalars(sa.select(Notification).where(Notification.sent_at == now)).all()
    reminders = sorted(n.user.email for n in sent if n.kind == "meeting_reminder")
    assert reminders == world.reminder_recipients
    # Nothing due is left waiting or half-sent (a round's e-mail to someone who has answered is dropped, unsent).
    assert _count(read, sa.select(Notification).where(Notification.status.in_(["pending", "sending"]),
                                                      Notification.due_at <= now)) == 0
    # What the SMTP server received: one message per row marked sent, to its recipient, none twice.
    received = sorted(rcpt for envelope in inbox.envelopes for rcpt in envelope.rcpt_tos)
    assert received == sorted(n.user.email for n in sent)
    assert all(n.status == "sent" for n in sent)
    # Both runs are recorded: one sent everything, the other found the lock held (or, started after, nothing due).
    done = read.scalars(sa.select(JobRun).order_by(JobRun.id)).all()
    assert len(done) == 2 and sum(r.sent or 0 for r in done) == len(sent)
    assert sorted(r.status for r in done) in (["finished", "skipped"], ["finished", "finished"])


def test_two_hundred_members_across_both_hosts_store_exactly_two_hundred_responses(hosts, world, read):
    def prepare(i: int) -> tuple[Browser, str, str]:
        email, round_id = world.burst[i]
        here, there = hosts.alternate(i)
        browser = Browser(here)
        assert browser.sign_in(email) == 302
        path = f"/rounds/{round_id}/answer"
        return browser, path, browser.csrf(path)

    with ThreadPoolExecutor(16) as pool:
        prepared = list(pool.map(prepare, range(len(world.burst))))
    # Each member signed in (and got the form) on one host and submits on the other.
    jobs = [lambda i=i, b=b, p=p, t=t: b.request(p, {**SUBMISSION, "csrf_token": t}, base=hosts.alternate(i)[1])[0]
            for i, (b, p, t) in enumerate(prepared)]
    statuses = at_once(jobs)
    assert Counter(statuses) == {200: len(world.burst)}

    rounds = sorted({round_id for _, round_id in world.burst})
    assert _count(read, sa.select(Response).where(Response.round_id.in_(rounds))) == len(world.burst)
    assert _count(read, sa.select(Completion).where(Completion.round_id.in_(rounds))) == len(world.burst)
    per_response = read.execute(
        sa.select(Answer.response_id, sa.func.count()).join(Response, Response.id == Answer.response_id)
        .where(Response.round_id.in_(rounds)).group_by(Answer.response_id)
    ).all()
    assert len(per_response) == len(world.burst) and {n for _, n in per_response} == {len(GOOD)}
