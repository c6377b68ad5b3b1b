"""Application factory: create_app() wires config, extensions, blueprints, error handlers, commands."""

from __future__ import annotations

import os

from flask import Flask

from app.templating import register_template_helpers
from config import CONFIGS


def create_app(config_name: str | None = None, overrides: dict | None = None) -> Flask:
    """Build the app for `development`, `testing` or `production` (default: FLASK_CONFIG).

    `overrides` replaces settings after the config class is loaded (tests, benchmarks).
    Raises RuntimeError for an unknown configuration, a production environment that lacks secrets, or programme
    board thresholds (BOARD_*) that contradict each other, or an EVALUATOR_CODE_KEY equal to the programme key.
    """
    name = config_name or os.environ.get("FLASK_CONFIG", "development")
    if name not in CONFIGS:
        raise RuntimeError(f"Unknown configuration {name!r}; use one of {', '.join(CONFIGS)}.")
    config = CONFIGS[name]
    if hasattr(config, "check"):
        config.check()

    app = Flask(__name__, template_folder="../templates", instance_relative_config=True)
    app.config.from_object(config)
    app.config["CONFIG_NAME"] = name
    app.config.update(overrides or {})
    check_board_thresholds(app.config)
    check_export_code_key(app.config)
    os.makedirs(app.instance_path, exist_ok=True)

    if app.config.get("MALLOC_MMAP_THRESHOLD"):
        from app.memory import set_mmap_threshold

        set_mmap_threshold(int(app.config["MALLOC_MMAP_THRESHOLD"]))
    register_extensions(app)
    register_url_converters(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)
    register_proxies(app)
    return app


def check_board_thresholds(config) -> None:
    """Refuse to start with BOARD_* thresholds that contradict each other (a red milder than its amber), rather than
    fail on every coordinator's home page later. Raises RuntimeError naming the variables."""
    from app.trends.rules import Thresholds

    try:
        Thresholds.from_config(config)
    except (ValueError, TypeError) as problem:
        raise RuntimeError(f"Programme board thresholds: {problem}") from None


def check_export_code_key(config) -> None:
    """Refuse to start when EVALUATOR_CODE_KEY is the programme key (RESPONSE_CODE_KEY, or the key derived from
    SECRET_KEY): every member's page carries that one, so re-keyed codes could be recomputed from a person's facts.
    Raises RuntimeError naming the variables."""
    from app.feedback.rules import code_key

    configured = config.get("EVALUATOR_CODE_KEY")
    if configured and configured == code_key(config.get("RESPONSE_CODE_KEY"), config["SECRET_KEY"]):
        raise RuntimeError("EVALUATOR_CODE_KEY must differ from the programme key (RESPONSE_CODE_KEY, or the key "
                           "derived from SECRET_KEY): leave it empty or set a key of its own.")


def register_proxies(app: Flask) -> None:
    """Behind PROXY_HOPS reverse proxies, the client's address is the one they put in X-Forwarded-For.

    Only that many entries from the right are trusted (each proxy appends the address it was reached from), so a
    client cannot choose its address by sending the header itself; the rate limits per address count clients.
    """
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=0, x_host=0, x_port=0, x_prefix=0)


def register_extensions(app: Flask) -> None:
    """Bind every extension to the app."""
    from app import models  # noqa: F401  (every table known to SQLAlchemy and Alembic)
    from app.accounts.services import load_user_from_session
    from app.api.auth import load_user_from_bearer
    from app.extensions import api, babel, bootstrap, csrf, db, limiter, login_manager, mail, migrate
    from app.i18n import select_locale

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        _tune_postgresql(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    bootstrap.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message_category = "warning"
    login_manager.user_loader(_session_loader(load_user_from_session))
    login_manager.request_loader(load_user_from_bearer)

    from flask_babel import lazy_gettext as _l

    login_manager.login_message = _l("Please log in to see this page.")

    # Its HTTPException handler is replaced by ours (register_errorhandlers), which answers problem+json on /api.
    api.init_app(app)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _tune_sqlite(app)


def _session_loader(load):
    """The session's user, except on /api paths: the API authenticates by bearer token only."""
    from app.api.auth import is_api_request

    def loader(session_id: str):
        return None if is_api_request() else load(session_id)

    return loader


def _tune_sqlite(app: Flask) -> None:
    """Foreign keys on, WAL, a busy timeout, and write transactions that take the write lock first.

    pysqlite's own transaction handling is switched off so that SAVEPOINTs work, and a transaction
    that will write (any request but GET/HEAD/OPTIONS, or code inside `app.sqlite.write_intent()`)
    begins with BEGIN IMMEDIATE: concurrent writers then wait their turn (busy timeout) instead of
    failing with "database is locked" when a read snapshot cannot be upgraded.
    """
    from sqlalchemy import event

    from app.extensions import db
    from app.sqlite import begin_statement

    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=15000")
            if engine.url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection):
            connection.exec_driver_sql(begin_statement())


def _tune_postgresql(app: Flask) -> None:
    """Planner costs for solid-state storage on every connection (PG_RANDOM_PAGE_COST, default 1.1).

    PostgreSQL's default random_page_cost of 4 models spinning disks; with it the planner scans every
    answer of the programme instead of reading one page's rounds through their indexes.
    """
    cost = app.config.get("PG_RANDOM_PAGE_COST")
    if not cost:
        return
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = dict(options.get("connect_args") or {})
    connect_args["options"] = f"{connect_args.get('options', '')} -c random_page_cost={float(cost)}".strip()
    options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def register_url_converters(app: Flask) -> None:
    """<int:...> takes only numbers an id column can hold: a larger one is a 404, never a database error."""
    from werkzeug.routing import IntegerConverter

    class DatabaseIdConverter(IntegerConverter):
        def __init__(self, url_map, *args, **kwargs):
            kwargs.setdefault("max", 2_147_483_647)
            super().__init__(url_map, *args, **kwargs)

    app.url_map.converters["int"] = DatabaseIdConverter


def register_blueprints(app: Flask) -> None:
    """Register every feature's blueprint."""
    from app.accounts import bp as accounts_bp
    from app.api import bp as api_bp
    from app.api.docs import bp as api_docs_bp
    from app.audit import bp as audit_bp
    from app.feedback import bp as feedback_bp
    from app.main import bp as main_bp
    from app.meetings import bp as meetings_bp
    from app.programme import bp as programme_bp
    from app.scheduling import bp as scheduling_bp
    from app.trends import bp as trends_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(programme_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(scheduling_bp)
    app.register_blueprint(meetings_bp)
    app.register_blueprint(feedback_bp)
    app.register_blueprint(trends_bp)
    if app.config.get("BENCH_ENDPOINTS"):
        from app.main import floors_bp

        app.register_blueprint(floors_bp)

    from app.extensions import api, csrf

    csrf.exempt(api_bp)  # no cookies are honoured there, so there is nothing to forge
    api.register_blueprint(api_bp)
    app.register_blueprint(api_docs_bp)  # the OpenAPI document and its Swagger UI page


def register_errorhandlers(app: Flask) -> None:
    """One handler per error surface: pages for people, JSON for machines; security headers on every answer."""
    from app import security
    from app.main.errors import register

    register(app)
    security.register(app)


def register_commands(app: Flask) -> None:
    """Operator commands: flask users ..., flask demo, flask notify ..., flask schedule ..., flask feedback ..."""
    from app.accounts.cli import users_cli
    from app.accounts.people_import.cli import people_cli
    from app.api.cli import api_token_cli
    from app.backup import backup_command
    from app.checks import check_command
    from app.demo import demo_command
    from app.feedback.cli import feedback_cli, instruments_cli
    from app.notifications.cli import notify_cli
    from app.programme.cli import organisations_cli
    from app.scheduling.cli import schedule_cli
    from app.trends.cli import trends_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(people_cli)
    app.cli.add_command(api_token_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(check_command)
    app.cli.add_command(instruments_cli)
    app.cli.add_command(feedback_cli)
    app.cli.add_command(notify_cli)
    app.cli.add_command(organisations_cli)
    app.cli.add_command(schedule_cli)
    app.cli.add_command(trends_cli)
