"""`flask check`: every misconfiguration of an install at once, each with what to do; non-zero exit on any FAIL.

An operator runs it after set-up (and monitoring may run it later). It reads the settings the app runs with,
connects to the database, the mail server and Redis with a short timeout, and looks at the data the app
needs (migrations at head, an active questionnaire, `flask notify send-due` running). Under the production
configuration the app refuses to start with a missing SECRET_KEY, DATABASE_URL or BASE_URL; `flask check`
still runs then and lists those problems beside the others.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import ScriptInfo

from config import (
    DEFAULT_DATABASE_URL,
    DEV_SECRET_KEY,
    ConfigurationError,
    base_url_problem,
    checking_only,
    secret_key_problem,
)

OK, WARN, FAIL = "OK", "WARN", "FAIL"
DEFAULT_TIMEOUT = 5.0
NEW_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
NOT_REAL_MAIL = {
    "console": "prints every e-mail to the terminal",
    "locmem": "keeps every e-mail in memory",
    "dummy": "throws every e-mail away",
    "file": "writes every e-mail to a file",
}


@dataclass(frozen=True)
class CheckResult:
    """One line of the report: OK, WARN or FAIL, what was checked, what was found and what to do."""

    status: str
    name: str
    message: str
    fix: str | None = None


@dataclass
class Context:
    """What the checks share: the app, the time, the connect timeout, and what the database check found."""

    app: Flask
    now: datetime
    timeout: float
    production: bool
    database_ready: bool = False
    database_problem: str = "the database could not be checked"


# --- settings --------------------------------------------------------------------------------

def check_configuration(ctx: Context) -> list[CheckResult]:
    """FLASK_CONFIG: anything but production is a warning on a server."""
    name = ctx.app.config.get("CONFIG_NAME", "?")
    if ctx.production:
        return [CheckResult(OK, "Configuration", "production")]
    return [CheckResult(WARN, "Configuration", f"{name}: for a laptop, not a server",
                        "set FLASK_CONFIG=production on a server")]


def check_secret_key(ctx: Context) -> list[CheckResult]:
    """SECRET_KEY: in production set, not the development value, 16+ characters."""
    secret = ctx.app.config.get("SECRET_KEY")
    if not ctx.production:
        note = "the development value (production refuses it)" if secret == DEV_SECRET_KEY else "set"
        return [CheckResult(OK, "SECRET_KEY", note)]
    problem = secret_key_problem(secret)
    if problem:
        return [CheckResult(FAIL, "SECRET_KEY", problem, f"SECRET_KEY=$({NEW_SECRET}) in the environment file")]
    return [CheckResult(OK, "SECRET_KEY", f"set ({len(secret)} characters)")]


def check_base_url(ctx: Context) -> list[CheckResult]:
    """BASE_URL: required in production, http(s) everywhere; plain http in production is a warning."""
    value = ctx.app.config.get("BASE_URL")
    problem = base_url_problem(value, required=ctx.production)
    if problem:
        return [CheckResult(FAIL, "BASE_URL", problem,
                            "BASE_URL=https://<the address people open> in the environment file")]
    if not value:
        return [CheckResult(OK, "BASE_URL", "not set: links follow the address the app is served on (development)")]
    if ctx.production and urlsplit(value).scheme != "https":
        return [CheckResult(WARN, "BASE_URL", f"{value}: links use plain http, but production cookies need HTTPS",
                            "serve through an HTTPS reverse proxy and set BASE_URL=https://...")]
    return [CheckResult(OK, "BASE_URL", value)]


def check_timezone(ctx: Context) -> list[CheckResult]:
    """APP_TIMEZONE names a timezone the system knows."""
    zone = ctx.app.config.get("BABEL_DEFAULT_TIMEZONE")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return [CheckResult(FAIL, "APP_TIMEZONE", f"{zone!r} is not a known timezone", "APP_TIMEZONE=Asia/Shanghai")]
    return [CheckResult(OK, "APP_TIMEZONE", zone)]


def check_translations(ctx: Context) -> list[CheckResult]:
    """Every catalogue is compiled (a missing .mo leaves pages in English without a word)."""
    folder = Path(ctx.app.root_path) / "translations"
    catalogues = sorted(folder.glob("*/LC_MESSAGES/messages.po"))
    if not catalogues:
        return [CheckResult(FAIL, "Translations", f"no catalogue under {folder}", "reinstall the app")]
    fix = "run `pybabel compile -d app/translations` (make install does it)"
    results = []
    for po in catalogues:
        mo = po.with_suffix(".mo")
        language = po.parent.parent.name
        if not mo.exists():
            results.append(CheckResult(FAIL, "Translations", f"{language} is not compiled: pages stay English", fix))
        elif mo.stat().st_mtime < po.stat().st_mtime:
            results.append(CheckResult(WARN, "Translations", f"{language} was compiled before its last change", fix))
        else:
            results.append(CheckResult(OK, "Translations", f"{language} compiled"))
    return results


# --- servers ---------------------------------------------------------------------------------

def _check_engine(url: sa.engine.URL, timeout: float) -> sa.engine.Engine:
    """An engine of its own for the check: one connection, a short connect timeout on PostgreSQL."""
    connect_args = {"connect_timeout": max(1, round(timeout))} if url.get_backend_name() == "postgresql" else {}
    return sa.create_engine(url, connect_args=connect_args, poolclass=sa.pool.NullPool)


def check_database(ctx: Context) -> list[CheckResult]:
    """DATABASE_URL set in production, the database reachable, and at the migrations' head."""
    from app.main.queries import database_facts

    uri = ctx.app.config["SQLALCHEMY_DATABASE_URI"]
    results = []
    if ctx.production and uri == DEFAULT_DATABASE_URL:  # never the intended database: not even opened
        ctx.database_problem = "DATABASE_URL is not set"
        return [CheckResult(FAIL, "DATABASE_URL", "not set: production would use the development SQLite file",
                            "DATABASE_URL=postgresql+psycopg://balint@127.0.0.1:5432/balint")]
    url = sa.engine.make_url(uri)
    engine = _check_engine(url, ctx.timeout)
    try:
        facts = database_facts(engine)
    finally:
        engine.dispose()
    where = f"{facts.kind} at {facts.location}"
    if facts.state == "unreachable":
        ctx.database_problem = "the database is not reachable"
        results.append(CheckResult(FAIL, "Database", f"cannot connect to {where}: {facts.error}",
                                   "check DATABASE_URL, that the server runs, and the user's rights"))
        return results
    results.append(CheckResult(OK, "Database", f"{where}, version {facts.version}"))
    heads = ", ".join(facts.heads)
    current = ", ".join(facts.current or ()) or "none"
    if len(facts.heads) > 1:
        ctx.database_problem = "the migrations have several heads"
        results.append(CheckResult(FAIL, "Migrations", f"this version of the app has several migration heads "
                                   f"({heads})", "install a released version (its migrations have one head)"))
    elif facts.state == "current":
        ctx.database_ready = True
        results.append(CheckResult(OK, "Migrations", f"the database is at the latest revision ({heads})"))
    elif facts.state == "behind":
        ctx.database_problem = "the database is not at the latest migration"
        results.append(CheckResult(FAIL, "Migrations", f"the database is at {current}, the app needs {heads}",
                                   "run `flask db upgrade`"))
    elif facts.state == "ahead":
        ctx.database_problem = "the database is newer than this version of the app"
        results.append(CheckResult(FAIL, "Migrations", f"the database is at {current}, which this version of the "
                                   f"app does not know (its latest is {heads})",
                                   "install the version of the app that made this database"))
    else:
        ctx.database_ready = _has_tables(ctx)
        if ctx.database_ready:
            results.append(CheckResult(WARN, "Migrations", "the tables were not made by `flask db upgrade` "
                                       "(no alembic_version table)",
                                       "if the schema matches the app, run `flask db stamp head`"))
        else:
            ctx.database_problem = "the database is empty"
            results.append(CheckResult(FAIL, "Migrations", "the database is empty", "run `flask db upgrade`"))
    return results


def _has_tables(ctx: Context) -> bool:
    from app.extensions import db

    return sa.inspect(db.engine).has_table("users")


def check_mail_server(ctx: Context) -> list[CheckResult]:
    """The SMTP server answers (with STARTTLS and log-in when configured); other backends send no real mail."""
    config = ctx.app.config
    backend = str(config.get("MAIL_BACKEND"))
    if backend in NOT_REAL_MAIL:
        return [CheckResult(WARN, "Mail", f"MAIL_BACKEND={backend}: not sending real mail (it "
                            f"{NOT_REAL_MAIL[backend]})", "MAIL_BACKEND=smtp and MAIL_SERVER=<your mail server>")]
    if backend != "smtp":
        return [CheckResult(WARN, "Mail", f"MAIL_BACKEND={backend}: a custom backend, not tested here")]
    host, port = config.get("MAIL_SERVER"), int(config.get("MAIL_PORT") or 25)
    if config.get("MAIL_USE_TLS") and config.get("MAIL_USE_SSL"):
        return [CheckResult(FAIL, "Mail", "MAIL_USE_TLS and MAIL_USE_SSL are both on",
                            "MAIL_USE_TLS=1 for STARTTLS (port 587), or MAIL_USE_SSL=1 for port 465, not both")]
    where = f"SMTP server {host}:{port}"
    timeout = min(ctx.timeout, float(config.get("MAIL_TIMEOUT") or ctx.timeout))
    try:
        client = smtplib.SMTP_SSL if config.get("MAIL_USE_SSL") else smtplib.SMTP
        with client(host, port, timeout=timeout) as smtp:
            smtp.ehlo()
            if config.get("MAIL_USE_TLS"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
            code, _reply = smtp.noop()
            if code != 250:
                raise smtplib.SMTPResponseException(code, _reply)
    except smtplib.SMTPAuthenticationError as exc:
        return [CheckResult(FAIL, "Mail", f"{where} refused the user name and password ({exc.smtp_code})",
                            "check MAIL_USERNAME and MAIL_PASSWORD")]
    except (OSError, smtplib.SMTPException) as exc:
        return [CheckResult(FAIL, "Mail", f"cannot reach the {where}: {type(exc).__name__}: {exc}",
                            "check MAIL_SERVER, MAIL_PORT, MAIL_USE_TLS/MAIL_USE_SSL and the firewall")]
    return [CheckResult(OK, "Mail", f"{where} answers" + (" (logged in)" if config.get("MAIL_USERNAME") else ""))]


def check_mail_sender(ctx: Context) -> list[CheckResult]:
    """MAIL_DEFAULT_SENDER is not the @localhost default in production."""
    sender = str(ctx.app.config.get("MAIL_DEFAULT_SENDER") or "")
    if ctx.production and (not sender or "@localhost" in sender):
        return [CheckResult(WARN, "Mail sender", f"MAIL_DEFAULT_SENDER is {sender!r}: many servers refuse it",
                            "MAIL_DEFAULT_SENDER='Balint Groups <balint@your-hospital.example>'")]
    return [CheckResult(OK, "Mail sender", sender)]


def check_rate_limit_storage(ctx: Context) -> list[CheckResult]:
    """Redis answers when the limiter uses it; memory:// in production is a warning."""
    config = ctx.app.config
    uri = str(config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if config.get("RATELIMIT_ENABLED") is False:
        return [CheckResult(WARN, "Rate limits", "RATELIMIT_ENABLED is off: log-in attempts are not limited",
                            "remove RATELIMIT_ENABLED from the environment")]
    scheme = uri.split(":", 1)[0]
    if scheme == "memory":
        if ctx.production:
            return [CheckResult(WARN, "Rate limits", "memory:// counts log-in attempts per worker process",
                                "RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0 with more than one worker")]
        return [CheckResult(OK, "Rate limits", "memory:// (one process)")]
    if scheme not in ("redis", "rediss"):
        return [CheckResult(WARN, "Rate limits", f"{scheme}:// storage, not tested here")]
    import redis

    from app.main.queries import storage_address

    try:
        client = redis.Redis.from_url(uri, socket_connect_timeout=ctx.timeout, socket_timeout=ctx.timeout)
    except ValueError as exc:
        return [CheckResult(FAIL, "Rate limits", f"RATELIMIT_STORAGE_URI is not a Redis address: {exc}",
                            "RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0")]
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return [CheckResult(FAIL, "Rate limits", f"cannot reach Redis at {storage_address(uri)}: {exc}",
                            "start Redis (systemctl start redis-server) or correct RATELIMIT_STORAGE_URI; "
                            "log-ins fail while it is unreachable")]
    finally:
        client.close()
    return [CheckResult(OK, "Rate limits", f"Redis at {storage_address(uri)} answers")]


# --- data the app needs ----------------------------------------------------------------------

def check_questionnaire(ctx: Context) -> list[CheckResult]:
    """At least one questionnaire is active, so feedback rounds can be answered."""
    from app.feedback.instrument_files import SHIPPED_FILE
    from app.feedback.services.instruments import active_instruments

    active = active_instruments()
    if not active:
        shipped = Path(SHIPPED_FILE).relative_to(Path(ctx.app.root_path).parent)
        return [CheckResult(FAIL, "Questionnaire", "none is active: members cannot answer feedback rounds",
                            f"run `flask instruments load {shipped} --activate`, or activate one under "
                            "Programme → Questionnaires")]
    names = ", ".join(f"{i.code} v{i.version}" for i in active)
    return [CheckResult(OK, "Questionnaire", f"active: {names}")]


def check_send_due(ctx: Context) -> list[CheckResult]:
    """`flask notify send-due` runs: never is a warning; late, failed or died is a failure in production."""
    from app.notifications import queries
    from app.notifications import rules as ops

    run = queries.last_run(ops.SEND_DUE)
    problems = ops.send_due_problems(run, ctx.now)
    timer = "systemctl enable --now balint-notify.timer (deploy/balint-notify.timer)"
    serious = FAIL if ctx.production else WARN
    results = []
    for p in problems:
        if p.kind == ops.NEVER_RAN:
            results.append(CheckResult(WARN, "send-due", "`flask notify send-due` has never run: no reminders, no "
                                       "feedback-round e-mails, rounds close only when read", timer))
        elif p.kind == ops.LATE:
            results.append(CheckResult(serious, "send-due", f"last ran {_ago(ctx.now, p.at)} ago ({_utc(p.at)}): "
                                       "its timer is not running", "systemctl status balint-notify.timer; " + timer))
        elif p.kind == ops.LAST_RUN_FAILED:
            results.append(CheckResult(serious, "send-due", f"the last run ({_utc(p.at)}) failed: {p.error}",
                                       "journalctl -u balint-notify.service"))
        elif p.kind == ops.LAST_RUN_DIED:
            results.append(CheckResult(serious, "send-due", f"the run started {_utc(p.at)} never finished (killed "
                                       "or crashed)", "journalctl -u balint-notify.service"))
    if not results:
        took = f", took {run.duration.total_seconds():.1f} s" if run.duration is not None else ""
        results.append(CheckResult(OK, "send-due", f"last ran {_ago(ctx.now, run.started_at)} ago{took}"))
    return results


def check_mail_failures(ctx: Context) -> list[CheckResult]:
    """No message failed in the last 24 hours."""
    from app.notifications import queries

    failures = queries.mail_failures(ctx.now)
    if failures.count:
        return [CheckResult(WARN, "Mail delivery", f"{failures.count} message(s) could not be sent in the last 24 "
                            f"hours; latest error: {failures.last_error}", "see the System page")]
    return [CheckResult(OK, "Mail delivery", "no failures in the last 24 hours")]


def check_chat_channels(ctx: Context) -> list[CheckResult]:
    """The chat channels that are on have their credentials; CHANNEL_SECRET_KEY, when set, is a Fernet key."""
    from app.notifications import dingtalk, rules, wecom

    config = ctx.app.config
    enabled = rules.parse_channels(config.get("NOTIFY_CHANNELS"))
    results = []
    if rules.WECOM in enabled and not wecom.configured():
        results.append(CheckResult(FAIL, "Chat channels", "NOTIFY_CHANNELS has wecom, but WeCom is not configured",
                                   "set WECOM_CORP_ID, WECOM_AGENT_ID and WECOM_SECRET"))
    if rules.DINGTALK in enabled and not dingtalk.configured():
        results.append(CheckResult(FAIL, "Chat channels", "NOTIFY_CHANNELS has dingtalk, but DingTalk is not "
                                   "configured", "set DINGTALK_APP_KEY, DINGTALK_APP_SECRET and DINGTALK_AGENT_ID"))
    key = config.get("CHANNEL_SECRET_KEY")
    if key:
        from cryptography.fernet import Fernet

        try:
            Fernet(key)
        except (ValueError, TypeError):
            results.append(CheckResult(FAIL, "Chat channels", "CHANNEL_SECRET_KEY is not a Fernet key",
                                       "make one with Fernet.generate_key() (see README)"))
    if not results:
        on = ", ".join(c for c in rules.CHANNELS if c == rules.EMAIL or c in enabled)
        results.append(CheckResult(OK, "Chat channels", f"on: {on}; test one with `flask notify test`"))
    return results


def _utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _ago(now: datetime, then: datetime) -> str:
    minutes = max(0, int((now - then).total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


# --- running them ----------------------------------------------------------------------------

Check = Callable[[Context], list[CheckResult]]
SETTINGS_CHECKS: tuple[tuple[str, Check], ...] = (
    ("Configuration", check_configuration),
    ("SECRET_KEY", check_secret_key),
    ("Database", check_database),
    ("BASE_URL", check_base_url),
    ("Mail", check_mail_server),
    ("Mail sender", check_mail_sender),
    ("Rate limits", check_rate_limit_storage),
    ("APP_TIMEZONE", check_timezone),
    ("Translations", check_translations),
    ("Chat channels", check_chat_channels),
)
DATA_CHECKS: tuple[tuple[str, Check], ...] = (
    ("Questionnaire", check_questionnaire),
    ("send-due", check_send_due),
    ("Mail delivery", check_mail_failures),
)


def run_checks(app: Flask, now: datetime, timeout: float = DEFAULT_TIMEOUT) -> list[CheckResult]:
    """Every check, in order (call it inside an app context of `app`); a check that breaks is a FAIL line.

    The data checks (questionnaire, send-due, mail delivery) run only when the database is reachable and
    migrated; otherwise each says it was not checked.
    """
    from app.extensions import db

    ctx = Context(app=app, now=now, timeout=timeout, production=app.config.get("CONFIG_NAME") == "production")
    results: list[CheckResult] = []
    for name, check in SETTINGS_CHECKS:
        results += _safely(name, check, ctx)
    for name, check in DATA_CHECKS:
        if not ctx.database_ready:
            results.append(CheckResult(WARN, name, f"not checked: {ctx.database_problem}"))
            continue
        results += _safely(name, check, ctx)
        db.session.rollback()
    return results


def _safely(name: str, check: Check, ctx: Context) -> list[CheckResult]:
    try:
        return check(ctx)
    except Exception as exc:  # a check that breaks is reported, and the others still run
        from app.extensions import db

        db.session.rollback()
        return [CheckResult(FAIL, name, f"could not be checked: {type(exc).__name__}: {exc}"[:500])]


def format_result(result: CheckResult) -> str:
    """`[ OK ] name: message`, and the fix on the next line."""
    tag = {OK: " OK ", WARN: "WARN", FAIL: "FAIL"}[result.status]
    line = f"[{tag}] {result.name}: {result.message}"
    if result.fix and result.status != OK:
        line += f"\n       → {result.fix}"
    return line


def _app_to_check(ctx: click.Context) -> Flask:
    """The app this command runs for; under a production environment that refuses to start, built anyway."""
    if current_app:
        return current_app._get_current_object()
    info = ctx.ensure_object(ScriptInfo)
    try:
        return info.load_app()
    except ConfigurationError:  # listed again below, with everything else
        with checking_only():
            return info.load_app()


@click.command("check")
@click.option("--timeout", type=float, default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds to wait for each server (database, mail, Redis).")
@click.pass_context
def check_command(ctx: click.Context, timeout: float) -> None:
    """Check the installation: settings, database and migrations, mail, Redis, questionnaire, reminders.

    Prints one line per check (OK, WARN or FAIL) with what to do; exits with 1 when anything FAILs.
    """
    from app.timeutil import utcnow

    app = _app_to_check(ctx)
    with app.app_context():
        results = run_checks(app, utcnow(), timeout)
    click.echo(f"Balint Groups: checking the {app.config.get('CONFIG_NAME', '?')} configuration")
    colours = {OK: "green", WARN: "yellow", FAIL: "red"}
    for result in results:
        click.secho(format_result(result), fg=colours[result.status])
    failures = sum(r.status == FAIL for r in results)
    warnings = sum(r.status == WARN for r in results)
    click.echo(f"{failures} failure(s), {warnings} warning(s), {len(results) - failures - warnings} OK.")
    if failures:
        ctx.exit(1)
