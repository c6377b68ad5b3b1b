"""Language choice: the user's preference, else the session's, else the browser's."""

from flask import current_app, has_request_context, request, session
from flask_login import current_user

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
