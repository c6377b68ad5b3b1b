"""The System page (programme-wide coordinators): background work, the outbox, questionnaires, database, migrations.

`operations_warnings(now)` is what the coordinator's home shows about the background work; `database_facts()`
is shared with `flask check`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import abort, current_app, render_template
from flask_babel import format_datetime, format_timedelta, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from app.extensions import db
from app.feedback.instruments import active_instruments, default_instrument
from app.feedback.models import Instrument
from app.main import bp
from app.notifications import queries
from app.notifications import rules as ops
from app.notifications.mail import base_url
from app.notifications.models import JobRun, Notification
from app.permissions import roles_required
from app.timeutil import utcnow

DATABASE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


# --- warnings for the coordinator's home and this page ---------------------------------------

@dataclass(frozen=True)
class OperationsWarning:
    """A warning about the background work: `kind` (app.notifications.rules), the text in the reader's language."""

    kind: str
    message: str
    problem: ops.OperationsProblem


def _when(moment: datetime | None) -> str:
    return format_datetime(moment, "short") if moment else "—"


def warning_text(problem: ops.OperationsProblem, now: datetime) -> str:
    """What a problem says to a coordinator, in the current language."""
    if problem.kind == ops.NEVER_RAN:
        return _("Reminders are not going out: `flask notify send-due` has never run. "
                 "Install its timer (deploy/balint-notify.timer) or a cron job.")
    if problem.kind == ops.LATE:
        return _("Reminders are not going out: `flask notify send-due` last ran %(when)s, %(ago)s ago. "
                 "Check its timer (systemctl status balint-notify.timer).",
                 when=_when(problem.at), ago=format_timedelta(now - problem.at, threshold=1))
    if problem.kind == ops.LAST_RUN_FAILED:
        return _("The last run of `flask notify send-due` (%(when)s) failed: %(error)s",
                 when=_when(problem.at), error=problem.error or "—")
    if problem.kind == ops.LAST_RUN_DIED:
        return _("The run of `flask notify send-due` that started %(when)s never finished: the process died "
                 "or was stopped. See its log (journalctl -u balint-notify.service).", when=_when(problem.at))
    if problem.kind == ops.MAIL_FAILING:
        return ngettext("Mail is failing: %(num)d message could not be sent in the last 24 hours. "
                        "Latest error: %(error)s",
                        "Mail is failing: %(num)d messages could not be sent in the last 24 hours. "
                        "Latest error: %(error)s", problem.count, error=problem.error or "—")
    return problem.kind


def operations_problems(now: datetime) -> list[ops.OperationsProblem]:
    """Everything wrong with the background work at `now` (naive UTC): send-due's runs, then mail failures."""
    problems = ops.send_due_problems(queries.last_run(ops.SEND_DUE), now)
    failures = queries.mail_failures(now)
    return problems + ops.mail_problems(failures.count, failures.last_at, failures.last_error)


def operations_warnings(now: datetime) -> list[OperationsWarning]:
    """The warnings the coordinator's home shows: send-due not running (never, or not for two hours), its last
    run failed or died, mail failing in the last 24 hours. Empty when all is well. Needs a request (language)."""
    return [OperationsWarning(p.kind, warning_text(p, now), p) for p in operations_problems(now)]


# --- the database ----------------------------------------------------------------------------

@dataclass
class DatabaseFacts:
    """Which database the app uses and whether its schema is at the migrations' head.

    `current` is None when the database has no alembic_version table (not made by `flask db upgrade`).
    `state`: current, behind (run `flask db upgrade`), ahead (the database is newer than this code),
    unmanaged (no migration table), or unreachable (`error` says why).
    """

    kind: str = ""
    version: str | None = None
    location: str = ""
    heads: tuple[str, ...] = ()
    current: tuple[str, ...] | None = None
    state: str = "unreachable"
    error: str | None = None


def migration_heads() -> tuple[str, ...]:
    """The head revision(s) of migrations/versions (one, unless two branches await a merge)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(current_app.extensions["migrate"].directory)
    return tuple(sorted(scripts.get_heads()))


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(current_app.extensions["migrate"].directory)
    return {script.revision for script in scripts.walk_revisions()}


def _location(url: sa.engine.URL) -> str:
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    port = f":{url.port}" if url.port else ""
    return f"{url.host or 'localhost'}{port}/{url.database or ''}"


def database_facts(engine: sa.engine.Engine | None = None) -> DatabaseFacts:
    """Kind, server version, location and migration state of the app's database (or `engine`'s).

    Never raises for a database that does not answer: `state` is then "unreachable" with the error.
    """
    engine = engine or db.engine
    backend = engine.url.get_backend_name()
    facts = DatabaseFacts(kind=DATABASE_NAMES.get(backend, backend), location=_location(engine.url),
                          heads=migration_heads())
    try:
        with engine.connect() as connection:
            if backend == "postgresql":
                facts.version = connection.execute(sa.text("SELECT current_setting('server_version')")).scalar()
            elif backend == "sqlite":
                facts.version = connection.execute(sa.text("SELECT sqlite_version()")).scalar()
            from alembic.runtime.migration import MigrationContext

            if sa.inspect(connection).has_table("alembic_version"):
                facts.current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    except Exception as exc:  # any failure to reach the database is a fact to show, never a 500
        facts.error = f"{type(exc).__name__}: {exc}"[:500]
        return facts
    if facts.current is None:
        facts.state = "unmanaged"
    elif set(facts.current) == set(facts.heads):
        facts.state = "current"
    elif set(facts.current) - _known_revisions():
        facts.state = "ahead"
    else:
        facts.state = "behind"
    return facts


# --- the page --------------------------------------------------------------------------------

@dataclass
class SystemOverview:
    """Everything the System page shows."""

    now: datetime
    warnings: list[OperationsWarning] = field(default_factory=list)
    last_run: JobRun | None = None
    last_finished: JobRun | None = None
    runs: list[JobRun] = field(default_factory=list)
    counts: queries.NotificationCounts | None = None
    failures: list[Notification] = field(default_factory=list)
    instruments: list[Instrument] = field(default_factory=list)
    default_instrument_id: int | None = None
    database: DatabaseFacts | None = None
    settings: dict[str, str | None] = field(default_factory=dict)


def storage_address(uri: str) -> str:
    """The rate-limit storage without credentials (redis://:secret@host → redis://host)."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return uri.split(":", 1)[0] + "://…"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _settings() -> dict[str, str | None]:
    config = current_app.config
    mail = config["MAIL_BACKEND"]
    if mail == "smtp":
        mail = f"smtp {config['MAIL_SERVER']}:{config['MAIL_PORT']}"
    return {
        "configuration": config.get("CONFIG_NAME"),
        "base_url": config.get("BASE_URL"),
        "links_to": base_url(),
        "mail": mail,
        "ratelimit_storage": storage_address(config.get("RATELIMIT_STORAGE_URI") or ""),
        "timezone": config["BABEL_DEFAULT_TIMEZONE"],
    }


def system_overview(now: datetime) -> SystemOverview:
    """Gather what the System page shows at `now` (naive UTC)."""
    default = default_instrument()
    return SystemOverview(
        now=now,
        warnings=operations_warnings(now),
        last_run=queries.last_run(ops.SEND_DUE),
        last_finished=queries.last_finished_run(ops.SEND_DUE),
        runs=queries.recent_runs(ops.SEND_DUE),
        counts=queries.notification_counts(now),
        failures=queries.recent_failures(now),
        instruments=active_instruments(),
        default_instrument_id=default.id if default else None,
        database=database_facts(),
        settings=_settings(),
    )


@bp.route("/system")
@roles_required("coordinator")
def system():
    """The System page: is the background work running, is mail going out, which questionnaire, which database."""
    if not current_user.is_programme_coordinator:
        abort(403)
    now = utcnow()
    return render_template("main/system.html", overview=system_overview(now), run_died=ops.run_died)
