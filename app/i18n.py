"""Language choice: the user's preference, else the session's, else the browser's."""

import functools
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from babel import Locale
from babel.dates import format_date as babel_format_date
from flask import current_app, has_request_context, request, session
from flask_babel import format_date as flask_babel_format_date
from flask_babel import format_percent, get_locale
from flask_login import current_user

from app.timeutil import local_date

LANGUAGE_NAMES = {"en": "English", "zh_CN": "简体中文"}


def select_locale() -> str:
    """The locale for this request, one of the configured LANGUAGES."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands and jobs: the default, or force_locale()
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    if session.get("lang") in languages:
        return session["lang"]
    best = request.accept_languages.best_match(["en", "zh_CN", "zh"])
    if best and best.startswith("zh"):
        return "zh_CN"
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def html_lang(locale: str) -> str:
    """The value for <html lang>: BCP 47 with a hyphen."""
    return locale.replace("_", "-")


_CENT = Decimal("0.01")


@functools.lru_cache(maxsize=16)
def _symbols(locale: str) -> tuple[str, str]:
    symbols = Locale.parse(locale).number_symbols.get("latn", {})
    return symbols.get("decimal", "."), symbols.get("group", ",")


@functools.lru_cache(maxsize=16)
def _percent_sign(locale: str) -> str | None:
    """The locale's percent sign when its pattern is the plain "#,##0%" (en, zh_CN), else None."""
    parsed = Locale.parse(locale)
    if parsed.percent_formats.get(None).pattern != "#,##0%":
        return None
    return parsed.number_symbols.get("latn", {}).get("percentSign", "%")


def _localise_digits(text: str, locale: str) -> str:
    decimal, group = _symbols(locale)
    if (decimal, group) == (".", ","):
        return text
    return text.replace(",", "\0").replace(".", decimal).replace("\0", group)


def format_pct(value: float | None) -> str:
    """A share as a whole percentage in the reader's language ("—" for none), as Babel's format_percent prints it."""
    if value is None:
        return "—"
    locale = str(get_locale() or "en")
    sign = _percent_sign(locale)
    if sign is None:
        return format_percent(value)
    whole = (Decimal(repr(float(value))) * 100).quantize(Decimal(1), ROUND_HALF_EVEN)
    return _localise_digits(f"{whole:,f}", locale) + sign


@functools.lru_cache(maxsize=8192)
def _date_text(day, width: str, locale: str) -> str:
    return babel_format_date(day, format=width, locale=locale)


def format_day(day, width: str = "medium") -> str:
    """A date in the reader's language (Babel's format_date), remembered: trend tables repeat the same dates.

    A datetime is a stored time (naive UTC): it is shown as its date in the deployment's timezone, never
    as its UTC date (00:30 on 1 April in Beijing is 31 March in UTC).
    """
    if isinstance(day, datetime):
        day = local_date(day)
    return _date_text(day, width, str(get_locale() or "en"))


def format_2dp(value: float | None) -> str:
    """A number with two decimals and grouped thousands in the reader's language ("—" for none).

    The same text as Babel's `format_decimal(value, format="#,##0.00")`, at a fraction of the cost: trend
    tables print thousands of numbers.
    """
    if value is None:
        return "—"
    # Rounded as Babel rounds: the shortest decimal form of the float, half to even.
    text = f"{Decimal(repr(float(value))).quantize(_CENT, ROUND_HALF_EVEN):,.2f}"
    return _localise_digits(text, str(get_locale() or "en"))


def dateformat_filter(value, format: str = "medium") -> str:  # noqa: A002 - Flask-Babel's parameter name
    """The `dateformat` template filter: plain dates through the remembered format_day, the rest as Flask-Babel."""
    if type(value) is date and format in ("short", "medium", "long", "full"):
        return format_day(value, format)
    return flask_babel_format_date(value, format)
