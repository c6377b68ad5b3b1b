"""`flask check`: a misconfigured install hears of every problem at once; a good one and the demo pass.

Reachability is tested for real: an SMTP server (aiosmtpd) and Redis on loopback, closed ports for the
unreachable ones.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from app.feedback.services.instruments import ensure_shipped_instrument
from app.main.queries import migration_heads
from app.notifications import rules
from app.notifications.models import JobRun
from app.timeutil import utcnow
from config import DEFAULT_DATABASE_URL
from tests.loopback import free_port

ROOT = Path(__file__).resolve().parents[1]
GOOD_SECRET = "a-long-random-production-secret"


class Inbox:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


def _authenticator(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=(auth_data.login, auth_data.password) == (b"balint", b"right password"), handled=False)


@pytest.fixture
def smtp_port():
    """A real SMTP server on loopback that accepts the login balint / 'right password' (no TLS, as in tests)."""
    port = free_port()
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port, authenticator=_authenticator,
                            auth_require_tls=False)
    controller.start()
    yield port
    controller.stop()


@pytest.fixture
def stamped(db):
    """The test database marked as migrated to the head(s), as `flask db upgrade` leaves it; unmarked afterwards."""
    with db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL "
                             "PRIMARY KEY)"))
        conn.execute(sa.text("DELETE FROM alembic_version"))
        for head in migration_heads():
            conn.execute(sa.text("INSERT INTO alembic_version VALUES (:r)"), {"r": head})
    yield
    db.session.rollback()
    with db.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


def configure(app, monkeypatch, **settings):
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)


def production_settings(smtp_port: int) -> dict:
    return {
        "CONFIG_NAME": "production", "SECRET_KEY": GOOD_SECRET, "BASE_URL": "https://balint.hospital.example",
        "MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port, "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False, "MAIL_USERNAME": "balint", "MAIL_PASSWORD": "right password",
        "MAIL_DEFAULT_SENDER": "Balint Groups <balint@hospital.example>",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15",
    }


def run_check(app):
    result = app.test_cli_runner().invoke(args=["check", "--timeout", "3"])
    return result.exit_code, result.output


def statuses(output: str) -> dict[str, list[str]]:
    """Check name → the statuses it reported."""
    found: dict[str, list[str]] = {}
    for status, name in re.findall(r"^\[\s*(OK|WARN|FAIL)\s*\] ([^:]+):", output, re.M):
        found.setdefault(name, []).append(status)
    return found


def test_a_misconfigured_install_hears_of_every_problem_at_once_and_the_command_fails(app, db, monkeypatch):
    configure(app, monkeypatch, CONFIG_NAME="production", SECRET_KEY="short", BASE_URL="ftp://balint.example",
              SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none",
              MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_USERNAME=None,
              RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0", BABEL_DEFAULT_TIMEZONE="Mars/Olympus_Mons",
              MAIL_DEFAULT_SENDER="Balint Groups <noreply@localhost>")
    code, output = run_check(app)

    assert code == 1, output
    found = statuses(output)
    for name in ("SECRET_KEY", "BASE_URL", "Database", "Mail", "Rate limits", "APP_TIMEZONE"):
        assert found.get(name) == ["FAIL"], (name, output)
    assert found["Mail sender"] == ["WARN"]
    assert "shorter than 16 characters" in output and "not an http(s) address" in output
    assert "cannot connect to PostgreSQL" in output and "cannot reach the SMTP server" in output
    assert "cannot reach Redis" in output and "'Mars/Olympus_Mons' is not a known timezone" in output
    # Each failure says what to do.
    assert output.count("→") >= 7
    for name in ("Questionnaire", "send-due", "Mail delivery"):
        assert found[name] == ["WARN"] and f"{name}: not checked: the database is not reachable" in output
    assert re.search(r"^6 failure\(s\)", output, re.M)


def test_production_without_database_url_fails_without_opening_the_development_file(app, db, monkeypatch):
    configure(app, monkeypatch, CONFIG_NAME="production", SQLALCHEMY_DATABASE_URI=DEFAULT_DATABASE_URL)
    existed = Path(DEFAULT_DATABASE_URL.removeprefix("sqlite:///")).exists()
    code, output = run_check(app)
    assert code == 1 and statuses(output)["DATABASE_URL"] == ["FAIL"]
    assert "Questionnaire: not checked: DATABASE_URL is not set" in output
    assert Path(DEFAULT_DATABASE_URL.removeprefix("sqlite:///")).exists() is existed


def test_a_well_configured_install_passes_with_real_mail_and_redis(app, db, monkeypatch, smtp_port, stamped):
    configure(app, monkeypatch, **production_settings(smtp_port))
    ensure_shipped_instrument()
    db.session.commit()
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "locmem")  # the run below sends nothing; keep the suite's
    ran = app.test_cli_runner().invoke(args=["notify", "send-due"])
    assert ran.exit_code == 0, ran.output
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")

    code, output = run_check(app)

    assert code == 0, output
    found = statuses(output)
    assert "FAIL" not in output and not [n for n, s in found.items() if s != ["OK"] and n != "Translations"], output
    assert "SMTP server 127.0.0.1:" in output and "answers (logged in)" in output
    assert "Redis at redis://127.0.0.1:6379/15 answers" in output
    assert "the database is at the latest revision" in output and "active: balint-feedback v1" in output
    assert re.search(r"send-due: last ran 0 min ago, took \d+\.\d s", output)


def test_a_mail_server_that_refuses_the_password_fails_the_check(app, db, monkeypatch, smtp_port, stamped):
    configure(app, monkeypatch, **production_settings(smtp_port))
    monkeypatch.setitem(app.config, "MAIL_PASSWORD", "wrong password")
    code, output = run_check(app)
    assert code == 1 and statuses(output)["Mail"] == ["FAIL"]
    assert "refused the user name and password (535)" in output and "MAIL_PASSWORD" in output


def test_console_mail_warns_that_no_real_mail_goes_out(app, db, monkeypatch, stamped):
    configure(app, monkeypatch, CONFIG_NAME="development", MAIL_BACKEND="console", BASE_URL=None)
    code, output = run_check(app)
    found = statuses(output)
    assert found["Mail"] == ["WARN"] and "not sending real mail" in output
    assert found["BASE_URL"] == ["OK"] and "links follow the address the app is served on" in output
    assert found["Questionnaire"] == ["FAIL"] and "flask instruments load" in output
    assert code == 1  # no questionnaire


@pytest.mark.parametrize(("config_name", "status"), [("production", "FAIL"), ("development", "WARN")])
def test_a_send_due_that_stopped_running_fails_in_production_and_warns_in_development(
    app, db, monkeypatch, stamped, config_name, status
):
    configure(app, monkeypatch, CONFIG_NAME=config_name)
    from datetime import timedelta

    db.session.add(JobRun(job=rules.SEND_DUE, host="web-1", started_at=utcnow() - timedelta(hours=3),
                          finished_at=utcnow() - timedelta(hours=3), status="finished"))
    db.session.commit()
    _code, output = run_check(app)
    assert statuses(output)["send-due"] == [status]
    assert re.search(r"send-due: last ran 3 h ago \(.* UTC\): its timer is not running", output)
    assert "systemctl status balint-notify.timer" in output


def _flask(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_demo_passes_the_check(tmp_path):
    env = {**os.environ, "FLASK_APP": "wsgi", "FLASK_CONFIG": "development",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    for name in ("TEST_DATABASE_URL", "BASE_URL", "MAIL_BACKEND", "SECRET_KEY", "RATELIMIT_STORAGE_URI"):
        env.pop(name, None)
    for step in (("db", "upgrade"), ("demo",)):
        done = _flask(env, *step)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    done = _flask(env, "check")

    assert done.returncode == 0, done.stdout + done.stderr
    found = statuses(done.stdout)
    assert "FAIL" not in done.stdout
    assert found["Mail"] == ["WARN"] and found["send-due"] == ["WARN"] and found["Questionnaire"] == ["OK"]
    assert found["Migrations"] == ["OK"] and found["Database"] == ["OK"]


def test_a_production_environment_that_refuses_to_start_is_still_checked_in_full(tmp_path):
    """As `flask check` runs when installed as a Flask command plugin: found before the app is loaded."""
    env = {**os.environ, "FLASK_CONFIG": "production", "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(free_port()),
           "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{free_port()}/0"}
    for name in ("TEST_DATABASE_URL", "SECRET_KEY", "BASE_URL", "MAIL_BACKEND"):
        env.pop(name, None)
    code = ("from flask.cli import ScriptInfo\n"
            "from app.checks import check_command\n"
            "check_command.main(args=['--timeout', '3'], obj=ScriptInfo(app_import_path='wsgi'))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    found = statuses(done.stdout)
    for name in ("SECRET_KEY", "BASE_URL", "Mail", "Rate limits", "Migrations"):
        assert found.get(name) == ["FAIL"], (name, done.stdout)
    assert "SECRET_KEY is not set" in done.stdout and "BASE_URL is not set" in done.stdout
    assert "the database is empty" in done.stdout and "run `flask db upgrade`" in done.stdout


# --- deploy/: the environment file and the systemd units -------------------------------------

DEPLOY = ROOT / "deploy"
DEVELOPMENT_ONLY = {"TEST_DATABASE_URL", "PORT", "FLASK_RUN_PORT"}


def _settings_read_by_config() -> set[str]:
    text = (ROOT / "config.py").read_text(encoding="utf-8")
    return set(re.findall(r'(?:os\.environ\.get|_int|_bool|_float)\("([A-Z][A-Z0-9_]+)"', text)) - DEVELOPMENT_ONLY


def _environment_file(include_defaults: bool) -> dict[str, str]:
    """KEY=value lines of the example as systemd reads them (surrounding double quotes removed)."""
    values = {}
    for line in (DEPLOY / "balint-groups.env.example").read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"(#?)([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match and (include_defaults or not match.group(1)):
            value = match.group(3)
            values[match.group(2)] = value[1:-1] if len(value) > 1 and value[0] == value[-1] == '"' else value
    return values


def test_the_environment_file_example_lists_every_setting_the_app_reads():
    settings = _settings_read_by_config()
    assert {"SECRET_KEY", "DATABASE_URL", "BASE_URL", "MAIL_SERVER", "RATELIMIT_STORAGE_URI"} <= settings
    missing = settings - set(_environment_file(include_defaults=True))
    assert not missing, f"deploy/balint-groups.env.example does not mention {sorted(missing)}"
    required = _environment_file(include_defaults=False)
    assert required["FLASK_CONFIG"] == "production" and required["SECRET_KEY"] == ""


def test_the_environment_file_example_starts_production_once_its_secret_is_filled(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in _settings_read_by_config() | {"TEST_DATABASE_URL"}}
    env.update(_environment_file(include_defaults=True))
    env.update({"SECRET_KEY": GOOD_SECRET, "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}"})
    code = ("from app import create_app; app = create_app(); c = app.config\n"
            "print(c['CONFIG_NAME'], c['BASE_URL'], c['MAIL_DEFAULT_SENDER'], c['LOGIN_LIMIT_PER_ADDRESS'], "
            "c['MAIL_USE_TLS'], c['MIN_RESPONSES'], sep='|')")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ("production|https://balint.hospital.internal|Balint Groups "
                                   "<balint@hospital.example>|20 per 10 minutes|False|3")


def _unit(name: str):
    import configparser

    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text(encoding="utf-8").replace("\\\n", " "))
    return parser


def test_the_systemd_units_run_the_app_s_own_commands_with_the_environment_file():
    import shlex
    import shutil

    web, notify, timer = _unit("balint-web.service"), _unit("balint-notify.service"), _unit("balint-notify.timer")
    for service in (web, notify):
        assert service["Service"]["EnvironmentFile"] == "/etc/balint-groups.env"
        assert service["Service"]["WorkingDirectory"] == "/srv/balint-groups"
        assert service["Service"]["User"] == "balint"
        assert "/srv/balint-groups/instance" in service["Service"]["ReadWritePaths"]
    gunicorn = shlex.split(web["Service"]["ExecStart"])
    assert gunicorn[0] == "/srv/balint-groups/.venv/bin/gunicorn" and gunicorn[-1] == "wsgi:app"
    assert "127.0.0.1:8000" in gunicorn and web["Install"]["WantedBy"] == "multi-user.target"
    assert shlex.split(notify["Service"]["ExecStart"]) == ["/srv/balint-groups/.venv/bin/flask", "notify", "send-due"]
    assert notify["Service"]["Type"] == "oneshot" and "Install" not in notify
    assert timer["Timer"]["OnCalendar"] == "*:0/5" and timer["Install"]["WantedBy"] == "timers.target"
    # The commands exist in an installed tree (this one, standing in for /srv/balint-groups).
    for command in (gunicorn[0], "/srv/balint-groups/.venv/bin/flask"):
        assert Path(command.replace("/srv/balint-groups", str(ROOT))).exists(), command
    if shutil.which("systemd-analyze"):  # Debian has it; it finds unknown keys and bad values
        done = subprocess.run(["systemd-analyze", "verify", "--man=no",
                               *(str(DEPLOY / n) for n in ("balint-web.service", "balint-notify.service",
                                                           "balint-notify.timer"))],
                              capture_output=True, text=True, timeout=60)
        problems = [line for line in (done.stdout + done.stderr).splitlines()
                    if line.strip() and "is not executable: No such file or directory" not in line]
        assert problems == [], problems
