"""Configuration classes: Development, Testing and Production; every one honours DATABASE_URL."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"
DEV_SECRET_KEY = "dev-only-not-secret"  # never accepted by Production
DEFAULT_DATABASE_URL = f"sqlite:///{INSTANCE_DIR / 'balint.db'}"
MIN_SECRET_KEY_LENGTH = 16


class ConfigurationError(RuntimeError):
    """The environment lacks what this configuration needs; `problems` lists every one (not just the first)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__(
            "Production refuses to start:\n" + "\n".join(f"- {p}" for p in self.problems)
            + "\nFix these (see deploy/balint-groups.env.example), then run `flask check` to test the rest."
        )


def secret_key_problem(value: str | None) -> str | None:
    """Why SECRET_KEY is not fit for production (None when it is): missing, the development value, or short."""
    if not value:
        return "SECRET_KEY is not set: set it to a long random value."
    if value == DEV_SECRET_KEY:
        return "SECRET_KEY is not set, or is the development value: set it to a long random value."
    if len(value) < MIN_SECRET_KEY_LENGTH:
        return f"SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters: set it to a long random value."
    return None


def base_url_problem(value: str | None, required: bool) -> str | None:
    """Why BASE_URL is wrong (None when fine): unset where required, or not an http(s) address with a host."""
    from urllib.parse import urlsplit

    if not value:
        return ("BASE_URL is not set: set it to the address people open, e.g. https://balint.hospital.internal."
                if required else None)
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return f"BASE_URL {value!r} is not an http(s) address: use e.g. https://balint.hospital.internal."
    if parts.query or parts.fragment:
        return f"BASE_URL {value!r} has a query or fragment: give only the scheme, host and path."
    return None


def local_base_url() -> str:
    """Where links point when BASE_URL is unset and no request says better: http://127.0.0.1:$PORT (5000)."""
    port = os.environ.get("PORT") or os.environ.get("FLASK_RUN_PORT") or "5000"
    return f"http://127.0.0.1:{port}"


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


class Config:
    """Settings shared by every environment; each can be overridden by an environment variable."""

    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # PostgreSQL planner cost of a random page read; 1.1 suits SSDs (empty: leave the server's setting)
    PG_RANDOM_PAGE_COST = os.environ.get("PG_RANDOM_PAGE_COST", "1.1")

    # Language, time
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = os.environ.get("APP_TIMEZONE", "Asia/Shanghai")
    LANGUAGES = ("en", "zh_CN")

    # Sessions and cookies
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = timedelta(days=14)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    # Passwords (argon2id): OWASP's recommended minimum (19 MiB, 2 passes, 1 lane), ~60 ms a hash here. Every
    # log-in being checked at once holds ARGON2_MEMORY_COST KiB in its worker; raise it with that in mind.
    # Hashes made with other settings are re-made at the next log-in. Lowered only in Testing.
    ARGON2_TIME_COST = _int("ARGON2_TIME_COST", 2)
    ARGON2_MEMORY_COST = _int("ARGON2_MEMORY_COST", 19456)
    ARGON2_PARALLELISM = _int("ARGON2_PARALLELISM", 1)
    # Blocks of this many bytes or more go back to the system when freed (glibc; 0 leaves malloc alone):
    # otherwise every thread that once checked a password keeps argon2's working memory (app/memory.py).
    MALLOC_MMAP_THRESHOLD = _int("MALLOC_MMAP_THRESHOLD", 1024 * 1024)
    INVITE_MAX_AGE = timedelta(days=_int("INVITE_MAX_AGE_DAYS", 7))
    RESET_MAX_AGE = timedelta(hours=_int("RESET_MAX_AGE_HOURS", 2))

    # Rate limits (Flask-Limiter)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_LIMIT_PER_ADDRESS = os.environ.get("LOGIN_LIMIT_PER_ADDRESS", "20 per 10 minutes")
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "5 per 10 minutes")
    RESET_LIMIT = os.environ.get("RESET_LIMIT", "5 per hour")  # reset requests per address
    RESET_LIMIT_PER_ACCOUNT = os.environ.get("RESET_LIMIT_PER_ACCOUNT", "3 per hour")  # per e-mail address asked for
    # The JSON API: requests per token (or per address without one), and failed token checks per address
    API_LIMIT_PER_TOKEN = os.environ.get("API_LIMIT_PER_TOKEN", "600 per minute")
    API_BAD_TOKEN_LIMIT = os.environ.get("API_BAD_TOKEN_LIMIT", "20 per 10 minutes")
    # Reverse proxies in front of gunicorn that each add the address they were reached from to X-Forwarded-For
    # (nginx on the host: 1; a load balancer before it: 2). The limits per address then count the client's
    # address, not the proxy's (which would put every user behind one counter). 0: the header is not trusted.
    PROXY_HOPS = _int("PROXY_HOPS", 0)

    # Mail (Flask-Mailman)
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "smtp")
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_USE_TLS = _bool("MAIL_USE_TLS")
    MAIL_USE_SSL = _bool("MAIL_USE_SSL")
    MAIL_TIMEOUT = _int("MAIL_TIMEOUT", 10)
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Balint Groups <noreply@localhost>")
    # The address e-mailed links and calendar addresses start with (the app may sit behind a proxy). Production
    # requires it; left unset elsewhere, links follow the address each request came to, and outside a request
    # (`flask notify send-due`) http://127.0.0.1:$PORT (app/notifications/mail.py).
    BASE_URL = os.environ.get("BASE_URL") or None

    # Sign-in methods (app/accounts/providers; README "Signing in with the hospital's accounts"). Local passwords
    # can be switched off; the directory (LDAP / Active Directory) and OpenID Connect are on when their address is set.
    LOCAL_LOGIN_ENABLED = _bool("LOCAL_LOGIN_ENABLED", True)
    # First sign-in through a provider: link to the account with the same e-mail address when the provider says the
    # address is verified (a directory's addresses count as verified), and create an account when none matches.
    EXTERNAL_MATCH_EMAIL = _bool("EXTERNAL_MATCH_EMAIL", True)
    EXTERNAL_CREATE_ACCOUNTS = _bool("EXTERNAL_CREATE_ACCOUNTS", False)
    EXTERNAL_DEFAULT_ORGANISATION = os.environ.get("EXTERNAL_DEFAULT_ORGANISATION") or None
    LDAP_URL = os.environ.get("LDAP_URL") or None  # ldap://dc1.hospital.internal or ldaps://…:636
    LDAP_START_TLS = _bool("LDAP_START_TLS")
    LDAP_TLS_VERIFY = _bool("LDAP_TLS_VERIFY", True)
    LDAP_CA_FILE = os.environ.get("LDAP_CA_FILE") or None
    LDAP_TIMEOUT = _int("LDAP_TIMEOUT", 5)
    # Direct bind: the person's DN (or AD user principal name) made from what they type, e.g. "{username}@hosp.local".
    LDAP_BIND_TEMPLATE = os.environ.get("LDAP_BIND_TEMPLATE") or None
    # Search then bind (or, after a direct bind, where the person's own entry is read): a service account, a base
    # and a filter with {username} (escaped); a person the filter does not find cannot sign in.
    LDAP_SERVICE_DN = os.environ.get("LDAP_SERVICE_DN") or None
    LDAP_SERVICE_PASSWORD = os.environ.get("LDAP_SERVICE_PASSWORD") or None
    LDAP_SEARCH_BASE = os.environ.get("LDAP_SEARCH_BASE", "")
    LDAP_USER_FILTER = os.environ.get("LDAP_USER_FILTER", "(&(objectClass=person)(uid={username}))")
    LDAP_ATTR_ID = os.environ.get("LDAP_ATTR_ID", "entryUUID")  # objectGUID in Active Directory
    LDAP_ATTR_EMAIL = os.environ.get("LDAP_ATTR_EMAIL", "mail")
    LDAP_ATTR_NAME = os.environ.get("LDAP_ATTR_NAME", "displayName")
    LDAP_ATTR_STAFF_NUMBER = os.environ.get("LDAP_ATTR_STAFF_NUMBER", "employeeNumber")
    LDAP_ATTR_DEPARTMENT = os.environ.get("LDAP_ATTR_DEPARTMENT", "departmentNumber")
    LDAP_ATTR_ORGANISATION = os.environ.get("LDAP_ATTR_ORGANISATION", "o")
    # Groups: an attribute of the person listing group DNs (memberOf), or groups found under a base by member=DN.
    LDAP_ATTR_GROUPS = os.environ.get("LDAP_ATTR_GROUPS") or None
    LDAP_GROUP_SEARCH_BASE = os.environ.get("LDAP_GROUP_SEARCH_BASE") or None
    LDAP_GROUP_ROLES = os.environ.get("LDAP_GROUP_ROLES", "")  # "cn=leaders,ou=groups,dc=h=leader; …"
    OIDC_ISSUER = os.environ.get("OIDC_ISSUER") or None  # discovery: $OIDC_ISSUER/.well-known/openid-configuration
    OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID") or None
    OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET") or None
    OIDC_REDIRECT_URI = os.environ.get("OIDC_REDIRECT_URI") or None  # default: BASE_URL + /login/oidc/callback
    OIDC_POST_LOGOUT_REDIRECT_URI = os.environ.get("OIDC_POST_LOGOUT_REDIRECT_URI") or None  # default: …/login
    OIDC_SCOPES = os.environ.get("OIDC_SCOPES", "openid email profile")
    OIDC_TIMEOUT = _int("OIDC_TIMEOUT", 10)
    OIDC_CLAIM_EMAIL = os.environ.get("OIDC_CLAIM_EMAIL", "email")
    OIDC_CLAIM_NAME = os.environ.get("OIDC_CLAIM_NAME", "name")
    OIDC_CLAIM_STAFF_NUMBER = os.environ.get("OIDC_CLAIM_STAFF_NUMBER", "employee_number")
    OIDC_CLAIM_DEPARTMENT = os.environ.get("OIDC_CLAIM_DEPARTMENT", "department")
    OIDC_CLAIM_ORGANISATION = os.environ.get("OIDC_CLAIM_ORGANISATION", "organisation")
    OIDC_CLAIM_ROLES = os.environ.get("OIDC_CLAIM_ROLES") or None  # e.g. "roles"
    OIDC_ROLE_MAP = os.environ.get("OIDC_ROLE_MAP", "")  # "balint-leader=leader; balint-member=member"
    # Chat channels beside e-mail (app/notifications/wecom.py, dingtalk.py). NOTIFY_CHANNELS: the channels that
    # are on (e-mail always is); NOTIFY_DEFAULT_CHANNELS: what a person who chose nothing gets.
    NOTIFY_CHANNELS = os.environ.get("NOTIFY_CHANNELS", "email")
    NOTIFY_DEFAULT_CHANNELS = os.environ.get("NOTIFY_DEFAULT_CHANNELS", "email")
    WECOM_CORP_ID = os.environ.get("WECOM_CORP_ID")
    WECOM_AGENT_ID = os.environ.get("WECOM_AGENT_ID")
    WECOM_SECRET = os.environ.get("WECOM_SECRET")
    WECOM_API_BASE = os.environ.get("WECOM_API_BASE", "https://qyapi.weixin.qq.com")
    DINGTALK_APP_KEY = os.environ.get("DINGTALK_APP_KEY")
    DINGTALK_APP_SECRET = os.environ.get("DINGTALK_APP_SECRET")
    DINGTALK_AGENT_ID = os.environ.get("DINGTALK_AGENT_ID")
    DINGTALK_API_BASE = os.environ.get("DINGTALK_API_BASE", "https://oapi.dingtalk.com")
    # An HTTP(S) proxy to reach the platforms through (e.g. http://proxy.hospital.local:3128), unset: direct.
    CHAT_PROXY = os.environ.get("CHAT_PROXY") or None
    CHAT_TIMEOUT = _int("CHAT_TIMEOUT", 10)
    # The Fernet key group robots' webhook addresses and secrets are encrypted with
    # (`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`).
    CHANNEL_SECRET_KEY = os.environ.get("CHANNEL_SECRET_KEY") or None
    # How long one send-due run spends waiting for group robots' slots (20 posts a minute each) before it leaves
    # the rest to the next run.
    ROBOT_MAX_WAIT_SECONDS = _int("ROBOT_MAX_WAIT_SECONDS", 240)

    # Front end
    BOOTSTRAP_SERVE_LOCAL = True

    # JSON API (flask-smorest builds the OpenAPI document): the document at /api/v1/openapi.json and the docs page
    # at /api/v1/docs are our own routes (app/api/docs.py; swagger-ui-bundle's files, never a CDN), so no
    # OPENAPI_URL_PREFIX (flask-smorest's own docs blueprint) and no OPENAPI_*_UI_PATH is set here.
    API_TITLE = "Balint Groups API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    API_SPEC_OPTIONS = {
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "info": {"description": "Send `Authorization: Bearer <token>`; create a token with `flask api-token create`."},
    }
    API_MAX_PER_PAGE = 100

    # Programme
    MIN_RESPONSES = _int("MIN_RESPONSES", 3)
    # The programme key of self-generated response codes (instrument versions with `self_generated_code: true`);
    # empty: derived from SECRET_KEY. Keep it for the programme's lifetime: a new key stops later codes pairing.
    RESPONSE_CODE_KEY = os.environ.get("RESPONSE_CODE_KEY", "")
    # The server-only key that re-keys those codes in the evaluator export (never sent to a browser); empty: derived
    # from SECRET_KEY. Must differ from the programme key. A new key gives every code a new value in later exports.
    EVALUATOR_CODE_KEY = os.environ.get("EVALUATOR_CODE_KEY", "")
    PAGE_SIZE = 20
    # Meeting reminders: how many hours before a meeting `flask notify send-due` e-mails members and leaders.
    REMINDER_HOURS_BEFORE = _int("REMINDER_HOURS_BEFORE", 24)
    # Feedback rounds: a reminder to those who have not answered this many days before the window closes
    ROUND_REMINDER_DAYS_BEFORE = _int("ROUND_REMINDER_DAYS_BEFORE", 3)
    # Shown privately to a respondent whose answers fall in a concern band (one per line or separated by ';')
    SUPPORT_CONTACTS = os.environ.get("SUPPORT_CONTACTS", "Staff psychological support hotline: ext. 6688")
    # Early warnings on the coordinator's home page: a subscale mean falling by more than WARNING_DROP points
    # (on the subscale's own scale) between consecutive rounds, participation below WARNING_PARTICIPATION,
    # no held meeting for WARNING_DAYS_WITHOUT_MEETING days.
    WARNING_DROP = _float("WARNING_DROP", 0.5)
    WARNING_PARTICIPATION = _float("WARNING_PARTICIPATION", 0.5)
    WARNING_DAYS_WITHOUT_MEETING = _int("WARNING_DAYS_WITHOUT_MEETING", 45)
    # The programme board (red/amber/green per group, app.trends.rules): each rule's amber and red thresholds.
    # Sustained decline: the least-squares slope of a subscale's means over the last BOARD_DECLINE_ROUNDS closed
    # rounds shown, amber when its 95% CI lies below 0, red when also the slope is BOARD_DECLINE_SLOPE_RED points
    # a round or steeper; or the latest shown round against the group's first, Hedges' g at or below
    # BOARD_DECLINE_G_AMBER (red: BOARD_DECLINE_G_RED) with its 95% CI below 0.
    # The coordinator's home lists at most this many raised (red, then amber) groups of the board; the counts cover
    # them all, and the board's own page (/board) lists every group.
    HOME_BOARD_ROWS = _int("HOME_BOARD_ROWS", 20)
    BOARD_DECLINE_ROUNDS = _int("BOARD_DECLINE_ROUNDS", 5)
    BOARD_DECLINE_SLOPE_RED = _float("BOARD_DECLINE_SLOPE_RED", 0.2)
    BOARD_DECLINE_G_AMBER = _float("BOARD_DECLINE_G_AMBER", -0.5)
    BOARD_DECLINE_G_RED = _float("BOARD_DECLINE_G_RED", -0.8)
    # Share of the latest shown round's responses whose subscale score lies in a concern band of the instrument.
    BOARD_CONCERN_AMBER = _float("BOARD_CONCERN_AMBER", 0.25)
    BOARD_CONCERN_RED = _float("BOARD_CONCERN_RED", 0.5)
    # Participation (responses / eligible) of the latest closed round below these shares.
    BOARD_PARTICIPATION_AMBER = _float("BOARD_PARTICIPATION_AMBER", 0.5)
    BOARD_PARTICIPATION_RED = _float("BOARD_PARTICIPATION_RED", 0.3)
    # Days since the group's last held meeting (or since it was created, never held).
    BOARD_DAYS_AMBER = _int("BOARD_DAYS_AMBER", 45)
    BOARD_DAYS_RED = _int("BOARD_DAYS_RED", 90)
    # Scheduled meetings without an eligible lead: amber within BOARD_LEAD_DAYS_AMBER days, red within
    # BOARD_LEAD_DAYS_RED days.
    BOARD_LEAD_DAYS_AMBER = _int("BOARD_LEAD_DAYS_AMBER", 60)
    BOARD_LEAD_DAYS_RED = _int("BOARD_LEAD_DAYS_RED", 14)


class DevelopmentConfig(Config):
    """Local development: console mail so invite links show in the terminal."""

    DEBUG = True
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "console")


class TestingConfig(Config):
    """The test suite: separate database, cheap password hashing, in-memory mail."""

    TESTING = True
    SECRET_KEY = "testing-secret"
    # The suite passes TEST_DATABASE_URL (or a throw-away SQLite file) explicitly, so it never wipes DATABASE_URL.
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL") or "sqlite://"
    WTF_CSRF_ENABLED = False
    MAIL_BACKEND = "locmem"
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    BASE_URL = "http://localhost"


# Set only by `flask check` (app/checks.py), in its own process, so that it can list every problem of an
# environment that production refuses to start with. Never read from the environment.
_checking_only: ContextVar[bool] = ContextVar("checking_only", default=False)


@contextmanager
def checking_only() -> Iterator[None]:
    """Inside this block ProductionConfig.check() does not raise: for `flask check`, which serves nothing."""
    token = _checking_only.set(True)
    try:
        yield
    finally:
        _checking_only.reset(token)


class ProductionConfig(Config):
    """Production: refuses to start without a real SECRET_KEY, DATABASE_URL and BASE_URL."""

    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0")
    PROXY_HOPS = _int("PROXY_HOPS", 1)  # deploy/balint-web.service: gunicorn on 127.0.0.1 behind one reverse proxy

    @classmethod
    def problems(cls) -> list[str]:
        """Every reason the environment is not fit for production (empty when it is)."""
        found = [secret_key_problem(os.environ.get("SECRET_KEY"))]
        if not os.environ.get("DATABASE_URL"):
            found.append("DATABASE_URL is not set: set it, e.g. postgresql+psycopg://balint@127.0.0.1:5432/balint.")
        found.append(base_url_problem(os.environ.get("BASE_URL"), required=True))
        return [p for p in found if p]

    @classmethod
    def check(cls) -> None:
        """Raise ConfigurationError (a RuntimeError) listing every problem when production cannot start."""
        problems = cls.problems()
        if problems and not _checking_only.get():
            raise ConfigurationError(problems)


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
