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
    headers: dict | None = None, rule: str | None = None,
) -> Response:
    """An application/problem+json answer: {type, title, status, detail, errors?, rule?}.

    `detail` is already translated (a DomainError's .message); without it a translated sentence for the
    status is used, naming the fields of `errors` when there are some. `rule` is the code of the domain rule
    a refusal names (e.g. `training_expired`, `held_without_lead`, `member_of_group`). A 401 carries
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
    if rule:
        body["rule"] = rule
    response = current_app.response_class(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def field_errors(field: str | None, message: str) -> dict | None:
    """The `errors` member for a domain error on one field (None when it names no field)."""
    return {"json": {field: [message]}} if field else None


def domain_problem(exc) -> Response:
    """The API's answer to a DomainError: its status, translated message and field, and the rule it names.

    Registered on the API blueprint (resources_scheduling), so it answers for every /api/v1 view in place of the
    site-wide handler, which knows nothing of `rule`. Nothing of the refused request is kept (rollback).
    """
    from app.extensions import db

    db.session.rollback()
    return problem(exc.status_code, exc.message, errors=field_errors(exc.field, exc.message),
                   rule=getattr(exc, "rule", None))
