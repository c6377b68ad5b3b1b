"""SQLite transaction mode: writers take the write lock when they begin, readers do not."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import has_request_context, request

_write_intent: ContextVar[bool] = ContextVar("sqlite_write_intent", default=False)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@contextmanager
def write_intent() -> Iterator[None]:
    """Mark transactions begun inside as writers (CLI commands, jobs and threads outside a request)."""
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


def begin_statement() -> str:
    """BEGIN IMMEDIATE for a transaction that will write, plain BEGIN for one that only reads."""
    if _write_intent.get() or (has_request_context() and request.method not in READ_METHODS):
        return "BEGIN IMMEDIATE"
    return "BEGIN"
