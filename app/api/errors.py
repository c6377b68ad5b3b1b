"""Problem details (RFC 9457): the one shape of every error answer on /api/v1."""

from __future__ import annotations

from http import HTTPStatus

from flask import Response, current_app, json
from flask_babel import gettext as _

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
    headers: dict | None = None,
) -> Response:
    """An application/problem+json answer: {type, title, status, detail, errors?}.

    `detail` is already translated (a DomainError's .message); without it a translated sentence for the
    status is used, naming the fields of `errors` when there are some. A 401 carries
    `WWW-Authenticate: Bearer`.
    """
    from app.main.errors import status_message

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
    response = current_app.response_class(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def field_errors(field: str | None, message: str) -> dict | None:
    """The `errors` member for a domain error on one field (None when it names no field)."""
    return {"json": {field: [message]}} if field else None
