"""Writing audit entries; called by every service that changes programme data."""

from __future__ import annotations

from datetime import date, datetime

from app.audit.models import AuditEntry
from app.extensions import db


def _jsonable(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def record_action(actor, action: str, obj, **detail) -> AuditEntry:
    """Add an audit entry for `actor` doing `action` to `obj` (a model instance); flushes."""
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        action=action,
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=getattr(obj, "id", None),
        detail=_jsonable(detail),
    )
    db.session.add(entry)
    db.session.flush()
    return entry
