"""Problem details (RFC 9457): the one shape of every error answer on /api/v1.

The API's own surface: `problem()` writes the answer; `handle_errors(bp)` makes the API blueprint answer its
domain errors (with the `rule` they name) and HTTP errors (with webargs' invalid fields) this way, and adds the
problem+json surface for /api/ to the site-wide handlers (app.main.errors), which answer what no API view saw
(an unknown address, a method not allowed, a NUL character, an unexpected failure). The status sentences and
`field_errors` come from app.main.errors; nothing there imports this module.
"""

from __future__ import annotations

from http import HTTPStatus

from flask import Response, current_app, json
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from app.api.auth import API_PREFIX
from app.errors import DomainError
from app.extensions import db
from app.main.errors import add_error_surface, field_errors, status_message

PROBLEM_TYPE = "application/problem+json"


def _fields(errors: dict) -> list[str]:
    """The field names in webargs' messages ({location: {field: [...]}}, or {field: [...]})."""
    names: list[str] = []
    for key, value in errors.items():
        if key in ("json", "query", "path", "form", "headers", "files", "cookies") and isinstance(value, dict):
            names.extend(str(k) for k in value)
        elif key != "json":
            names.append(str(key))
    return names


def problem(
    status: int, detail: str | None = None, *, errors: dict | None = None, title: str | None = None,
    headers: dict | None = None, rule: str | None = None,
) -> Response:
    """An application/problem+json answer: {type, title, status, detail, errors?, rule?}.

    `detail` is already translated (a DomainError's .message); without it a translated sentence for the
    status is used, naming the fields of `errors` when there are some. `rule` is the code of the domain rule
    a refusal names (e.g. `training_expired`, `held_without_lead`, `member_of_group`). A 401 carries
    `WWW-Authenticate: Bearer`.
    """
    if detail is None:
        detail = status_message(status)
        names = _fields(errors or {})
        if names:
            detail = _("Check these fields: %(fields)s.", fields=", ".join(sorted(set(names))))
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body: dict = {"type": "about:blank", "title": title or phrase, "status": status, "detail": str(detail)}
    if errors:
        body["errors"] = errors
    if rule:
        body["rule"] = rule
    response = current_app.response_class(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def domain_problem(exc: DomainError) -> Response:
    """The API's answer to a DomainError: its status, translated message and field, and the rule it names.

    Nothing of the refused request is kept (rollback).
    """
    db.session.rollback()
    return problem(exc.status_code, exc.message, errors=field_errors(exc.field, exc.message),
                   rule=getattr(exc, "rule", None))


def http_problem(exc: HTTPException):
    """The API's answer to an HTTP error inside its views: webargs (through flask-smorest) leaves the invalid
    fields in exc.data["messages"], which the answer names. Nothing of the request is kept (rollback)."""
    code = exc.code or 500
    if code < 400:  # routing redirects travel as exceptions too
        return exc
    db.session.rollback()
    data = getattr(exc, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    return problem(code, data.get("message"), errors=errors if isinstance(errors, dict) else None)


def handle_errors(bp) -> None:
    """Answer every error of the API blueprint's views as problem+json, and, once the blueprint is registered on
    an app, every error the site-wide handlers see under /api/."""
    bp.register_error_handler(DomainError, domain_problem)
    bp.register_error_handler(HTTPException, http_problem)
    bp.record_once(lambda state: add_error_surface(state.app, API_PREFIX, problem))
