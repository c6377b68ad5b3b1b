"""Configuration classes, the production guard, and `flask demo`."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import create_app
from app.accounts.models import User
from app.scheduling.models import Meeting, MeetingLeader


@pytest.mark.parametrize("name", ["development", "testing", "production"])
def test_every_configuration_honours_database_url(monkeypatch, name, tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SECRET_KEY", "a-long-random-production-secret")
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    import importlib

    import config

    importlib.reload(config)
    try:
        configured = config.CONFIGS[name]().SQLALCHEMY_DATABASE_URI
        assert configured == url
    finally:
        monkeypatch.undo()
        importlib.reload(config)


def test_production_refuses_to_start_without_a_real_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://x@127.0.0.1/x")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


@pytest.mark.parametrize(("secret", "starts"), [("a-long-random-production-secret", True),
                                                ("dev-only-not-secret", False)])
def test_production_starts_with_its_secrets_set_before_the_process_starts(tmp_path, secret, starts):
    """As under systemd or gunicorn: the environment exists before config.py is imported."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "FLASK_CONFIG": "production", "SECRET_KEY": secret,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}", "BASE_URL": "https://balint.example"}
    env.pop("TEST_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", "from app import create_app; create_app()"], env=env,
                          cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=120)
    assert (done.returncode == 0) is starts, done.stderr[-2000:]
    if not starts:
        assert "SECRET_KEY" in done.stderr


def test_production_refuses_to_start_without_database_url(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "a-long-random-production-secret")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="DATABASE_URL"):
        create_app("production")


def test_production_marks_cookies_secure(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "a-long-random-production-secret")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("BASE_URL", "https://balint.example")
    app = create_app("production")
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_an_unknown_configuration_is_refused():
    with pytest.raises(RuntimeError):
        create_app("staging")


def test_demo_if_empty_seeds_once_for_the_given_day_prints_the_logins_and_they_work(app, db, client):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "--if-empty", "--today", "2027-02-08"])
    assert result.exit_code == 0, result.output
    assert "Demo data created for 2027-02-08" in result.output
    assert "facilitates 儿科重症巴林特小组 on 2027-02-08 14:00" in result.output
    for email in ("coordinator@demo.test", "leader@demo.test", "member@demo.test"):
        assert email in result.output
        assert db.session.scalar(sa.select(User).where(User.email == email)).has_password
    assert db.session.scalar(sa.select(sa.func.count(Meeting.id))) > 100
    assert db.session.scalar(sa.select(sa.func.count(MeetingLeader.id))) > 100

    again = runner.invoke(args=["demo"])
    assert again.exit_code != 0
    quietly = runner.invoke(args=["demo", "--if-empty"])
    assert quietly.exit_code == 0 and "skipped" in quietly.output and "leader@demo.test" in quietly.output
    response = client.post("/login", data={"email": "leader@demo.test", "password": "balint-demo"})
    assert response.status_code == 302


def test_demo_refuses_a_malformed_day_and_seeds_nothing(app, db):
    result = app.test_cli_runner().invoke(args=["demo", "--today", "2027-02-30"])
    assert result.exit_code != 0 and "--today" in result.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_demo_without_a_day_is_fresh_now_a_round_to_answer_and_a_meeting_to_facilitate(app, db):
    """`make run` on any day: seeded for the local today at the current time (the one test that reads the clock)."""
    from app.feedback.services import rounds as feedback
    from app.timeutil import utcnow

    before = utcnow()
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    member = db.session.scalar(sa.select(User).where(User.email == "member@demo.test"))
    assert [r for r in feedback.open_rounds_for_member(member, utcnow()) if not feedback.has_responded(r, member)]
    leader = db.session.scalar(sa.select(User).where(User.email == "leader@demo.test"))
    assert db.session.scalar(sa.select(Meeting).where(
        Meeting.id.in_(sa.select(MeetingLeader.meeting_id).where(MeetingLeader.user_id == leader.id)),
        Meeting.status == "scheduled", Meeting.starts_at > before, Meeting.starts_at < before + timedelta(days=2)))


def test_demo_is_refused_under_production(app, db):
    app.config["CONFIG_NAME"] = "production"
    try:
        result = app.test_cli_runner().invoke(args=["demo"])
    finally:
        app.config["CONFIG_NAME"] = "testing"
    assert result.exit_code != 0 and "Production" in result.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_postgresql_connections_plan_for_solid_state_storage(app, db):
    pg = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    assert "-c random_page_cost=1.1" in pg.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["options"]
    assert pg.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"]
    off = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
                                 "PG_RANDOM_PAGE_COST": ""})
    assert "connect_args" not in off.config["SQLALCHEMY_ENGINE_OPTIONS"]
    if db.engine.dialect.name == "postgresql":  # the suite's own connections carry it too
        assert db.session.execute(sa.text("SHOW random_page_cost")).scalar() == "1.1"


def test_the_installed_flask_script_migrates_from_the_project_folder_and_from_elsewhere(tmp_path):
    """`make run` and the systemd units call the virtualenv's `flask` script, not `python -m flask`: that script
    puts no project folder on sys.path before it loads the `flask check` plugin, so config and wsgi must be
    importable as installed modules (they once were not, and every `flask` command failed)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    flask_script = Path(sys.executable).with_name("flask")
    assert flask_script.exists(), flask_script
    env = {k: v for k, v in os.environ.items() if k not in {"TEST_DATABASE_URL", "PYTHONPATH", "FLASK_CONFIG"}}
    env.update({"FLASK_APP": "wsgi", "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}"})
    for cwd in (Path(__file__).resolve().parent.parent, tmp_path):
        done = subprocess.run([str(flask_script), "db", "upgrade"], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, (cwd, done.stderr[-2000:])
    engine = sa.create_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT count(*) FROM instruments WHERE active")) == 1
    finally:
        engine.dispose()
