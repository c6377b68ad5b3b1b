"""What every writing view does the same way: one transaction per request, and a refusal shown beside its field.

    outcome = attempt(lambda: services.create_group(current_user, **values), form=form, field="name")
    if outcome.ok:
        flash(_("Group “%(name)s” created.", name=outcome.result.name), "success")
        return redirect(...)
    return render_template(..., form=form), outcome.status_code

`attempt` runs the service call, commits once when it succeeds and rolls back when it refuses (a DomainError):
nothing of a refused request is saved, and the message lands beside the form field it names (or `field`), or
is flashed when the view has no form. An action outside the user's scope (NotAllowed) stays a 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import flash

from app.errors import DomainError, NotAllowed
from app.extensions import db


def refusal_to_field(form, exc: DomainError, default: str | None, aliases: dict[str, str] | None = None) -> int:
    """Put a service's refusal beside its field (the error names it, else `default`); flash it when the form has
    neither. Returns the status to answer with. Re-raises NotAllowed (the 403 handler answers it).

    `aliases` maps a service's field name to the form's (`{"start": "start_on"}`).
    """
    if isinstance(exc, NotAllowed):
        raise exc
    name = (aliases or {}).get(exc.field, exc.field) if exc.field else None
    target = (getattr(form, name, None) if (form is not None and name) else None) or (
        getattr(form, default, None) if (form is not None and default) else None)
    if target is not None and hasattr(target, "errors"):
        target.errors = [*target.errors, exc.message]
    else:
        flash(exc.message, "error")
    return exc.status_code


@dataclass
class Outcome:
    """What a writing view learns from `attempt`: the call's result, or the refusal and the status to answer."""

    result: Any = None
    error: DomainError | None = None
    status_code: int = 200

    @property
    def ok(self) -> bool:
        return self.error is None


def attempt(call: Callable[[], Any], *, form=None, field: str | None = None,
            aliases: dict[str, str] | None = None) -> Outcome:
    """Run `call` as the request's one transaction: commit when it succeeds, roll back when it refuses.

    A refusal (DomainError) is put beside its form field (refusal_to_field) and comes back with the status to
    answer with; NotAllowed is re-raised (the 403 handler answers it). Anything else propagates untouched.
    """
    try:
        result = call()
    except DomainError as exc:
        db.session.rollback()
        return Outcome(error=exc, status_code=refusal_to_field(form, exc, field, aliases))
    db.session.commit()
    return Outcome(result=result)
