"""Sending one e-mail rendered from a template in the recipient's own language."""

from __future__ import annotations

import contextlib

from flask import current_app, has_request_context, render_template, request, url_for
from flask_babel import force_locale
from flask_mailman import EmailMessage

from config import local_base_url


def render_in_language(user, subject_msgid_fn, template: str, **context) -> tuple[str, str]:
    """The subject and `templates/<template>.txt` rendered in the user's language (the programme's by default).

    The template sees `channel` ("email" unless the context gives another), so a chat message can leave out
    what only fits an e-mail.
    """
    locale = user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    context.setdefault("channel", "email")
    with force_locale(locale):
        subject = str(subject_msgid_fn())
        body = render_template(f"{template}.txt", user=user, **context)
    return subject, body


def send_templated_mail(user, subject_msgid_fn, template: str, **context) -> None:
    """Render `templates/<template>.txt` and the subject in the user's language and send it.

    `subject_msgid_fn` is a callable returning the translated subject (called inside the locale).
    Raises the mail backend's error when the server refuses the message.
    """
    subject, body = render_in_language(user, subject_msgid_fn, template, **context)
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=current_app.config["MAIL_DEFAULT_SENDER"],
        to=[user.email],
    )
    message.send()


def base_url() -> str:
    """Where absolute links start, without a trailing slash.

    BASE_URL when configured (production requires it). Otherwise (development) the address the current
    request came to, so `PORT=8000 make run` gives links on port 8000; outside a request (a CLI command),
    http://127.0.0.1:$PORT (5000 unless PORT is set).
    """
    configured = current_app.config.get("BASE_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return local_base_url()


def links_context():
    """A request context for building links outside a request (CLI runs, threads); none needed inside one.

    Its address is http://127.0.0.1:$PORT, so base_url() inside it is that when BASE_URL is unset.
    """
    if has_request_context():
        return contextlib.nullcontext()
    return current_app.test_request_context("/", base_url=local_base_url())


def absolute_url(endpoint: str, **values) -> str:
    """An absolute link for e-mails and calendar addresses, built on base_url() (see there)."""
    with links_context():
        return base_url() + url_for(endpoint, **values)
