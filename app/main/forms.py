"""Forms of the main pages: the delivery log's filters."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField


def channel_labels() -> dict[str, str]:
    """Channels of the delivery log, named in the reader's language."""
    return {"email": _l("E-mail"), "wecom": _l("WeCom (企业微信)"), "dingtalk": _l("DingTalk (钉钉)"),
            "robot": _l("Group chat robot")}


def status_labels() -> dict[str, str]:
    """The states of a message, in the reader's language."""
    return {"pending": _l("queued"), "sending": _l("being sent"), "sent": _l("sent"), "failed": _l("failed"),
            "dropped": _l("not sent (no longer due)")}


def kind_labels() -> dict[str, str]:
    """The kinds of message, in the reader's language."""
    return {
        "meeting_reminder": _l("Meeting reminder"), "round_opened": _l("Feedback round opened"),
        "round_closing": _l("Feedback round closing"), "invitation": _l("Invitation"),
        "group_meeting_reminder": _l("Meeting reminder to the group chat"),
        "group_round_opened": _l("Feedback round opened, to the group chat"),
    }


class DeliveryFilterForm(FlaskForm):
    """The delivery log's filters (sent by GET, so no CSRF token)."""

    class Meta:
        csrf = False

    channel = SelectField(_l("Channel"), default="", invalid_choice_message=_l("Choose from the list."),
                          choices=lambda: [("", _l("Every person's channel"))] + list(channel_labels().items()))
    status = SelectField(_l("State"), default="", invalid_choice_message=_l("Choose from the list."),
                         choices=lambda: [("", _l("Any state"))] + list(status_labels().items()))
    kind = SelectField(_l("Kind"), default="", invalid_choice_message=_l("Choose from the list."),
                       choices=lambda: [("", _l("Any kind"))] + list(kind_labels().items()))
