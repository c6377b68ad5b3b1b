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
    from app.meetings import display as meeting_display
    from app.scheduling import display as schedule_display
    from app.scheduling.models import status_label
    from app.timeutil import local_date

    app.add_template_filter(local_date, "localdate")
    app.add_template_global(status_label, "meeting_status_label")
    for helper in (meeting_display.can_record_meeting, meeting_display.can_read_leader_notes,
                   meeting_display.theme_name, meeting_display.attendance_label, meeting_display.format_hours,
                   meeting_display.format_rate):
        app.add_template_global(helper, helper.__name__)

    @app.context_processor
    def inject_meeting_names():
        """Translated names of the stored codes the meeting pages show (modes, roles, kinds, attendance)."""
        return {**schedule_display.code_names(), **meeting_display.code_names()}

    # --- feedback and trends (section kept by the feedback/trends restructuring) -----------------------
    from app.feedback import templating as feedback_templating
    from app.trends.templating import quarter_label, reason_text
    from app.trends.templating import status_label as board_status_label

    app.add_template_global(feedback_templating.member_open_rounds, "member_open_rounds")
    app.add_template_global(feedback_templating.member_answered_rounds, "member_answered_rounds")
    app.add_template_global(feedback_templating.in_language, "in_language")
    app.add_template_filter(quarter_label, "quarter_label")
    app.add_template_global(reason_text, "board_reason")
    app.add_template_global(board_status_label, "board_status_label")

    # --- accounts, programme, main (section kept by the accounts/programme/api/main restructuring) -----
    from app.accounts import display as account_display

    @app.context_processor
    def inject_account_names():
        """Translated names of roles, professions and training levels (the people pages show them)."""
        return account_display.code_names()
