"""Sending one e-mail rendered from a template in the recipient's own language."""

from __future__ import annotations

from flask import current_app, render_template
from flask_babel import force_locale
from flask_mailman import EmailMessage


def send_templated_mail(user, subject_msgid_fn, template: str, **context) -> None:
    """Render `templates/<template>.txt` and the subject in the user's language and send it.

    `subject_msgid_fn` is a callable returning the translated subject (called inside the locale).
    Raises the mail backend's error when the server refuses the message.
    """
    locale = user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        subject = str(subject_msgid_fn())
        body = render_template(f"{template}.txt", user=user, **context)
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=current_app.config["MAIL_DEFAULT_SENDER"],
        to=[user.email],
    )
    message.send()


def absolute_url(endpoint: str, **values) -> str:
    """An absolute link for e-mails, built on BASE_URL (the app may sit behind a proxy)."""
    from flask import url_for

    path = url_for(endpoint, **values)
    return current_app.config["BASE_URL"].rstrip("/") + path
