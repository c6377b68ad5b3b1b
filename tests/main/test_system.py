"""The System page and the operations warnings: is send-due running, is mail going out, questionnaire, database."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from babel.dates import format_datetime

from app.feedback.services.instruments import ensure_shipped_instrument
from app.main.queries import database_facts, migration_heads, operations_warnings
from app.notifications import rules
from app.notifications.models import JobRun, Notification
from app.timeutil import utcnow


def add_run(db, started_ago: timedelta, seconds: float = 2.5, status: str = "finished", error=None, **counts):
    started = utcnow() - started_ago
    finished = started + timedelta(seconds=seconds) if status != "running" else None
    run = JobRun(job=rules.SEND_DUE, host="web-1", started_at=started, finished_at=finished, status=status,
                 error=error, **counts)
    db.session.add(run)
    db.session.commit()
    return run


def add_notification(db, user, key, status, at_ago=timedelta(hours=1), error=None, attempts=1):
    at = utcnow() - at_ago
    n = Notification(key=key, kind="meeting_reminder", user_id=user.id, due_at=at, status=status, attempts=attempts,
                     claimed_at=at if status in ("failed", "sent", "sending") or error else None,
                     sent_at=at if status == "sent" else None, error=error)
    db.session.add(n)
    db.session.commit()
    return n


@pytest.fixture
def stamp(db):
    """Write an alembic_version table with the given revisions into the test database; removed afterwards."""

    def write(*revisions):
        with db.engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL "
                                 "PRIMARY KEY)"))
            conn.execute(sa.text("DELETE FROM alembic_version"))
            for revision in revisions:
                conn.execute(sa.text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})

    yield write
    db.session.rollback()
    with db.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


def kinds(page: str) -> list[str]:
    return re.findall(r'data-ops-warning="([a-z_]+)"', page)


# --- who may see it --------------------------------------------------------------------------

def test_only_programme_wide_coordinators_open_the_system_page(app, db, coordinator, org_coordinator, leader, member):
    db.session.commit()
    for user, status in ((coordinator, 200), (org_coordinator, 403), (leader, 403), (member, 403)):
        client = app.test_client()
        client.post("/login", data={"email": user.email, "password": "correct horse battery"})
        assert client.get("/system").status_code == status, user.email
    anonymous = app.test_client().get("/system")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_the_menu_links_to_the_system_page_for_programme_wide_coordinators_only(app, db, coordinator, org_coordinator):
    db.session.commit()
    for user, shown in ((coordinator, True), (org_coordinator, False)):
        client = app.test_client()
        client.post("/login", data={"email": user.email, "password": "correct horse battery"})
        assert ('href="/system"' in client.get("/").get_data(as_text=True)) is shown


# --- what it shows ---------------------------------------------------------------------------

def test_the_page_shows_the_last_run_how_long_it_took_and_what_it_did(client, auth, coordinator, db):
    add_run(db, timedelta(hours=1), seconds=9.0)
    last = add_run(db, timedelta(minutes=4), seconds=2.5, queued=3, sent=2, retrying=1, failed=0, dropped=0)
    auth.login(coordinator)
    page = client.get("/system").get_data(as_text=True)
    last_line = page.split('id="send-due-last"')[1].split("</dd>")[0]
    assert "2.5 s" in last_line and "finished" in last_line
    assert "sent 2, to retry 1, failed 0, dropped 0" in page
    assert page.count("data-run=") == 2 and f'data-run="{last.id}"' in page
    assert kinds(page) == [] and "data-ops-ok" in page


def test_the_page_counts_the_outbox_and_lists_recent_failures_with_their_error(client, auth, coordinator, member, db):
    add_run(db, timedelta(minutes=3))
    add_notification(db, member, "due", "pending", at_ago=timedelta(minutes=5))
    add_notification(db, member, "later", "pending", at_ago=-timedelta(days=1))
    add_notification(db, member, "retry", "pending", error="SMTPServerDisconnected: gone", at_ago=timedelta(hours=30))
    for i, days in enumerate((1, 2, 6, 8)):
        add_notification(db, member, f"sent-{i}", "sent", at_ago=timedelta(days=days))
    recent = add_notification(db, member, "failed-recent", "failed", at_ago=timedelta(days=3), attempts=3,
                              error="SMTPDataError: (554, b'Transaction failed')")
    add_notification(db, member, "failed-old", "failed", at_ago=timedelta(days=9), attempts=3, error="old error")
    auth.login(coordinator)
    page = client.get("/system").get_data(as_text=True)

    def count(name):
        return int(re.search(rf'id="count-{name}">(\d+)<', page).group(1))

    assert (count("pending"), count("retrying"), count("sent"), count("failed")) == (3, 1, 3, 1)
    assert "waiting (2 due now)" in page
    failures = page.split('id="failures"')[1].split("</table>")[0]
    assert f'data-notification="{recent.id}"' in failures and "Transaction failed" in failures
    assert "SMTPServerDisconnected" in failures and "old error" not in failures
    assert member.email in failures
    # The retry failed 30 hours ago and the failure 3 days ago: none in the last 24 hours, so no warning.
    assert kinds(page) == []


def test_the_page_warns_when_send_due_never_ran(client, auth, coordinator, db):
    auth.login(coordinator)
    page = client.get("/system").get_data(as_text=True)
    assert kinds(page) == [rules.NEVER_RAN] and "has never run" in page


def test_the_page_warns_when_send_due_is_late_and_when_mail_fails(client, auth, coordinator, member, db):
    add_run(db, timedelta(hours=2, minutes=10))
    add_notification(db, member, "failed", "failed", at_ago=timedelta(hours=23), attempts=3,
                     error="SMTPRecipientsRefused: no such user")
    auth.login(coordinator)
    page = client.get("/system").get_data(as_text=True)
    assert kinds(page) == [rules.LATE, rules.MAIL_FAILING]
    assert "1 message could not be sent in the last 24 hours" in page and "no such user" in page


def test_the_page_lists_the_active_questionnaire_or_says_there_is_none(client, auth, coordinator, db):
    auth.login(coordinator)
    assert 'id="no-questionnaire"' in client.get("/system").get_data(as_text=True)
    instrument = ensure_shipped_instrument()
    db.session.commit()
    page = client.get("/system").get_data(as_text=True)
    section = page.split('id="questionnaires"')[1].split("</section>")[0]
    assert f'data-instrument="{instrument.id}"' in section and instrument.title_en in section
    assert "default" in section and 'id="no-questionnaire"' not in page


def test_the_page_names_the_database_its_version_and_the_migration_state(client, auth, coordinator, db, stamp):
    auth.login(coordinator)
    kind = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[db.engine.dialect.name]
    version = db.session.execute(sa.text(
        "SELECT sqlite_version()" if kind == "SQLite" else "SELECT current_setting('server_version')")).scalar()
    page = client.get("/system").get_data(as_text=True)
    assert f"{kind} {version}" in page.split('id="database-kind"')[1].split("</dd>")[0]
    heads = migration_heads()
    assert all(h in page.split('id="migration-head"')[1].split("</dd>")[0] for h in heads)
    assert 'data-state="unmanaged"' in page  # the suite makes its tables without migrations

    stamp("3c61f1f1fe83")  # the first migration
    page = client.get("/system").get_data(as_text=True)
    assert 'data-state="behind"' in page and "flask db upgrade" in page
    stamp(*heads)
    page = client.get("/system").get_data(as_text=True)
    assert 'data-state="current"' in page and "up to date" in page
    stamp("0123456789ab")
    assert 'data-state="ahead"' in client.get("/system").get_data(as_text=True)


def test_database_facts_say_unreachable_instead_of_failing(app, db):
    engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", poolclass=sa.pool.NullPool)
    facts = database_facts(engine)
    assert facts.state == "unreachable" and facts.kind == "PostgreSQL" and "OperationalError" in facts.error
    assert facts.location == "127.0.0.1:1/none"


def test_the_page_reads_in_chinese_with_times_in_the_deployments_zone(client, auth, coordinator, db):
    run = add_run(db, timedelta(minutes=4))
    auth.login(coordinator)
    client.post("/language", data={"lang": "zh_CN", "next": "/"})
    response = client.get("/system")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'lang="zh-CN"' in page
    local = format_datetime(run.started_at.replace(tzinfo=ZoneInfo("UTC")), "short",
                            tzinfo=ZoneInfo("Asia/Shanghai"), locale="zh_CN")
    assert local in page.split('id="send-due-last"')[1].split("</dd>")[0]


def test_the_page_says_where_links_point(app, client, auth, coordinator, db, monkeypatch):
    auth.login(coordinator)
    assert "<code class=\"text-break\">http://localhost</code>" in client.get("/system").get_data(as_text=True)
    monkeypatch.setitem(app.config, "BASE_URL", None)
    page = client.get("/system").get_data(as_text=True)
    assert "BASE_URL is not set" in page


# --- the warnings function the coordinator's home uses ---------------------------------------

def test_operations_warnings_are_empty_when_send_due_ran_lately_and_mail_goes_out(app, db, member):
    add_run(db, timedelta(minutes=5))
    add_notification(db, member, "sent", "sent", at_ago=timedelta(hours=2))
    with app.test_request_context("/"):
        assert operations_warnings(utcnow()) == []


def test_operations_warnings_name_each_problem_in_words(app, db, member):
    with app.test_request_context("/"):
        [never] = operations_warnings(utcnow())
        assert never.kind == rules.NEVER_RAN and "never run" in never.message
    run = add_run(db, timedelta(hours=3), status="failed", error="OperationalError: the database went away")
    for i in range(2):
        add_notification(db, member, f"f{i}", "failed", at_ago=timedelta(hours=1 + i), attempts=3,
                         error=f"SMTPDataError: refused {i}")
    with app.test_request_context("/"):
        late, failed, mail = operations_warnings(utcnow())
    assert (late.kind, failed.kind, mail.kind) == (rules.LATE, rules.LAST_RUN_FAILED, rules.MAIL_FAILING)
    assert "3 hours ago" in late.message
    assert "the database went away" in failed.message and failed.problem.at == run.started_at
    assert "2 messages could not be sent" in mail.message and "refused 0" in mail.message


def test_a_failure_older_than_a_day_no_longer_warns(app, db, member):
    add_run(db, timedelta(minutes=5))
    add_notification(db, member, "f", "failed", at_ago=timedelta(hours=25), attempts=3, error="x")
    with app.test_request_context("/"):
        assert operations_warnings(utcnow()) == []


def test_the_coordinators_home_warns_when_send_due_has_not_run(client, auth, coordinator, db):
    auth.login(coordinator)
    page = client.get("/").get_data(as_text=True)
    assert kinds(page) == [rules.NEVER_RAN] and 'href="/system"' in page.split('id="operations-warnings"')[1]
    add_run(db, timedelta(minutes=5))
    assert 'id="operations-warnings"' not in client.get("/").get_data(as_text=True)
