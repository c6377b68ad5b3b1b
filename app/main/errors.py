"""Error pages and JSON errors: every failure answers with a clear, translated message, never a 500 page of a stack.

This module owns what every error surface shares — the sentence for each status (`status_message`), the `errors`
member naming a refused field (`field_errors`) — and the site-wide handlers. Another surface (the JSON API's
problem+json) imports these and adds itself with `add_error_surface(app, prefix, render)`; nothing here imports
it back.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import current_app, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.errors import DomainError
from app.extensions import db


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood."),
        401: _("Please log in."),
        403: _("You do not have permission to open this page."),
        404: _("This page does not exist."),
        405: _("This action is not allowed here."),
        409: _("This conflicts with what is already saved."),
        413: _("What you sent is too large."),
        422: _("Some of what you entered is not valid."),
        429: _("Too many attempts. Please wait a few minutes and try again."),
        500: _("Something went wrong on our side. Nothing you saved before is lost; please try again."),
    }


def status_message(code: int) -> str:
    """The translated sentence for an HTTP error status."""
    messages = _messages()
    return messages.get(code, messages[500] if code >= 500 else messages[400])


def field_errors(field: str | None, message: str) -> dict | None:
    """The `errors` member of an error answer for a refusal of one field (None when it names no field)."""
    return {"json": {field: [message]}} if field else None


# --- surfaces: a path prefix whose errors another module answers in its own form ------------------------

#: What a surface renders with: render(status, detail or None, errors=dict or None) -> response.
ErrorRenderer = Callable[..., object]
_SURFACES = "error_surfaces"


def add_error_surface(app, prefix: str, render: ErrorRenderer) -> None:
    """Let `render` answer every error under `prefix` that the site-wide handlers see (an unknown address, a
    method not allowed, a NUL character, an unexpected failure), e.g. the API's problem+json under /api/."""
    app.extensions.setdefault(_SURFACES, {})[prefix] = render


def _surface() -> ErrorRenderer | None:
    for prefix, render in current_app.extensions.get(_SURFACES, {}).items():
        if request.path.startswith(prefix):
            return render
    return None


def _wants_json() -> bool:
    return request.path == "/healthz" or request.accept_mimetypes.best == "application/json"


def render_error(code: int, message: str | None = None, errors: dict | None = None):
    """An error answer in the form the client wants: its surface's (problem+json on /api/), JSON for machines,
    else a page."""
    render = _surface()
    if render is not None:
        return render(code, message, errors=errors)
    message = message or _messages().get(code, _messages()[400])
    if _wants_json():
        return jsonify(status=code, detail=message), code
    return render_template("errors/error.html", code=code, message=message), code


def _has_nul() -> bool:
    values = list(request.args.values())
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
        "application/x-www-form-urlencoded", "multipart/form-data"
    ):
        values += [v for _key, items in request.form.lists() for v in items]
    if request.is_json:
        # JSON spells a NUL as \u0000; PostgreSQL cannot store it in text either.
        values.append(request.get_data(as_text=True).replace("\\u0000", "\x00").replace("\\U0000", "\x00"))
    return any("\x00" in v for v in values)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that two kinds of document are invalid JSON (a ValueError, so `request.get_json()`
    answers 400 and `get_json(silent=True)` None): one nested too deeply to read (a RecursionError, a 500),
    and one holding a lone surrogate (JSON may spell "\\ud800", but it is no text: once stored, every page
    that shows it fails to encode)."""

    def loads(self, s, **kwargs):
        try:
            data = super().loads(s, **kwargs)
            text = s.decode("utf-8", "replace") if isinstance(s, bytes | bytearray) else s
            if "\\ud" in text.lower():
                json.dumps(data, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError: a lone surrogate
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc
        except UnicodeEncodeError as exc:
            raise ValueError("JSON holds a lone surrogate") from exc
        return data


def register(app) -> None:
    """Install the handlers on the app."""
    app.json = JSONProvider(app)

    @app.before_request
    def refuse_nul_characters():
        # No database stores a NUL inside text (PostgreSQL refuses it): answer clearly instead of failing later.
        if _has_nul():
            return render_error(400, _("What you sent contains an invisible NUL character. Remove it and try again."))

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_error(400, _("The form has expired or was sent from elsewhere. Please try again."))

    @app.errorhandler(DomainError)
    def domain_error(exc):
        db.session.rollback()
        return render_error(exc.status_code, exc.message, field_errors(exc.field, exc.message))

    @app.errorhandler(HTTPException)
    def http_error(exc):
        code = exc.code or 500
        if code < 400:  # routing redirects travel as exceptions too
            return exc
        return render_error(code)

    @app.errorhandler(Exception)
    def unexpected(exc):
        db.session.rollback()
        app.logger.exception("Unhandled error")
        return render_error(500)
