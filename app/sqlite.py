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


@contextmanager
def write_after_read() -> Iterator[None]:
    """Inside a request that began by reading (a GET), write in a transaction of its own and commit it.

    On SQLite a read transaction cannot become a writer once another connection has committed since it
    began ("database is locked" at once, whatever the busy timeout), so the read is ended first and the
    block runs as a writer (BEGIN IMMEDIATE). Objects loaded before are expired and reload on use.
    In a writing request (POST...) or inside write_intent() the transaction is a writer already: the block
    just runs, and the request commits as usual.
    """
    from app.extensions import db

    if _write_intent.get() or (has_request_context() and request.method not in READ_METHODS):
        yield
        return
    db.session.rollback()
    with write_intent():
        yield
        db.session.commit()
