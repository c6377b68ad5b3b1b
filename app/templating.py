"""The one place that gives templates their globals, filters and context: every feature's helpers are
registered here (the functions live in the feature that owns them; no route module registers any)."""

from __future__ import annotations

from flask import Flask


def register_template_helpers(app: Flask) -> None:
    """Values, functions and filters every template may use."""
    from flask_babel import get_locale

    from app.i18n import LANGUAGE_NAMES, dateformat_filter, html_lang

    app.jinja_env.filters["dateformat"] = dateformat_filter

    @app.context_processor
    def inject_language():
        locale = str(get_locale() or "en")
        locale = "zh_CN" if locale.startswith("zh") else locale
        return {"current_language": locale, "language_names": LANGUAGE_NAMES, "html_lang": html_lang(locale)}

    # --- scheduling and meetings (section kept by the scheduling/meetings restructuring) -----------------

    # --- feedback and trends (section kept by the feedback/trends restructuring) -----------------------

    # --- accounts, programme, main (section kept by the accounts/programme/api/main restructuring) -----
