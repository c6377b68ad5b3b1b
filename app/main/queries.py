"""Read-only summaries for the home pages and the System page.

- `home_summary(user)`: what a home page shows (groups by role, next meetings; counts, highlights and warnings for
  coordinators);
- `operations_warnings(now)`: what is wrong with the background work (send-due, mail), for the coordinator's home
  and the System page;
- `database_facts()`: which database, and whether its schema is at the migrations' head (shared with `flask
  check`);
- `system_overview(now)`: everything the System page shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import format_datetime, format_timedelta, get_locale, ngettext
from flask_babel import gettext as _

from app.accounts.models import User
from app.extensions import db
from app.feedback.models import Instrument
from app.feedback.queries import MissingQuestionnaire, missing_questionnaire
from app.feedback.services.instruments import active_instruments, default_instrument
from app.notifications import queries as outbox
from app.notifications import rules as ops
from app.notifications.mail import base_url
from app.notifications.models import JobRun, Notification
from app.programme.models import Group, GroupLeader, Membership, Organisation
from app.scheduling import queries as scheduling
from app.timeutil import utcnow
from app.trends import signals
from app.trends.board_queries import Board
from app.trends.rules import Thresholds
from app.trends.warnings import early_warnings

# --- home pages ----------------------------------------------------------------------------------


@dataclass
class HomeSummary:
    """What a home page shows: the user's groups by role, and programme counts for coordinators."""

    led_groups: list[Group] = field(default_factory=list)
    member_groups: list[Group] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    # The user's next meetings across groups (as lead, co-lead or member).
    upcoming: list = field(default_factory=list)
    # For coordinators: meetings of the next 60 days with no lead, or a lead no longer eligible.
    highlights: scheduling.Highlights | None = None
    # For coordinators: the programme board (every active group red, amber or green, with the reasons), from the
    # stored group signals.
    board: Board | None = None
    # For coordinators: early warnings (a subscale fell, low participation, no held meeting for long).
    warnings: list = field(default_factory=list)
    # For coordinators, when no questionnaire is active: rounds waiting for one, groups about to open one.
    missing_questionnaire: MissingQuestionnaire | None = None


def home_summary(user: User, today: date | None = None) -> HomeSummary:
    """Groups the user leads and belongs to, their next meetings; counts and highlights for a coordinator."""
    summary = HomeSummary()
    now = utcnow()
    summary.upcoming = scheduling.my_upcoming(user, now)
    summary.led_groups = list(
        db.session.scalars(
            sa.select(Group).join(GroupLeader).where(GroupLeader.user_id == user.id).order_by(Group.name)
        )
    )
    summary.member_groups = list(
        db.session.scalars(
            sa.select(Group)
            .join(Membership)
            .where(Membership.user_id == user.id, Membership.left_on.is_(None))
            .order_by(Group.name)
        )
    )
    if user.has_role("coordinator"):
        scope = user.coordinator_scope
        groups = sa.select(sa.func.count(Group.id)).where(Group.status == "active")
        members = (
            sa.select(sa.func.count(sa.distinct(Membership.user_id)))
            .join(Group)
            .where(Membership.left_on.is_(None), Group.status == "active")
        )
        orgs = sa.select(sa.func.count(Organisation.id)).where(Organisation.active.is_(True))
        if scope is not None:
            groups = groups.where(Group.organisation_id == scope)
            members = members.where(Group.organisation_id == scope)
            orgs = orgs.where(Organisation.id == scope)
        summary.counts = {
            "organisations": db.session.scalar(orgs) or 0,
            "groups": db.session.scalar(groups) or 0,
            "members": db.session.scalar(members) or 0,
        }
        config = current_app.config
        # Each group's signals, stored where valid (app.trends.signals): the highlights judge only the meetings
        # they flag, the warnings apply their thresholds to them.
        thresholds = Thresholds.from_config(config)
        current = signals.current(scope, now, config["MIN_RESPONSES"], thresholds=thresholds)
        summary.highlights = scheduling.coordinator_highlights(scope, now, among=signals.flagged_ids(current[1], now))
        summary.missing_questionnaire = missing_questionnaire(scope)
        summary.board = signals.board(scope, now, config["MIN_RESPONSES"], thresholds, str(get_locale()),
                                      current_signals=current)
        summary.warnings = early_warnings(
            now, scope, drop=config["WARNING_DROP"], participation=config["WARNING_PARTICIPATION"],
            days=config["WARNING_DAYS_WITHOUT_MEETING"], k=config["MIN_RESPONSES"], locale=str(get_locale()),
            current=current,
        )
    return summary


# --- the background work: warnings for the coordinator's home and the System page ----------------

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
    problems = ops.send_due_problems(outbox.last_run(ops.SEND_DUE), now)
    failures = outbox.mail_failures(now)
    return problems + ops.mail_problems(failures.count, failures.last_at, failures.last_error)


def operations_warnings(now: datetime) -> list[OperationsWarning]:
    """The warnings the coordinator's home shows: send-due not running (never, or not for two hours), its last
    run failed or died, mail failing in the last 24 hours. Empty when all is well. Needs a request (language)."""
    return [OperationsWarning(p.kind, warning_text(p, now), p) for p in operations_problems(now)]


# --- the database ----------------------------------------------------------------------------

DATABASE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


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


# --- the System page --------------------------------------------------------------------------

@dataclass
class SystemOverview:
    """Everything the System page shows."""

    now: datetime
    warnings: list[OperationsWarning] = field(default_factory=list)
    last_run: JobRun | None = None
    last_finished: JobRun | None = None
    runs: list[JobRun] = field(default_factory=list)
    counts: outbox.NotificationCounts | None = None
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
        last_run=outbox.last_run(ops.SEND_DUE),
        last_finished=outbox.last_finished_run(ops.SEND_DUE),
        runs=outbox.recent_runs(ops.SEND_DUE),
        counts=outbox.notification_counts(now),
        failures=outbox.recent_failures(now),
        instruments=active_instruments(),
        default_instrument_id=default.id if default else None,
        database=database_facts(),
        settings=_settings(),
    )
