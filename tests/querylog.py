"""The SQL statements a block of code runs, for the tests that keep a page's or a query's statement count constant
(no N+1): `with recorded_statements() as statements: ...`, then filter or count the list."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@contextmanager
def recorded_statements(engine=None) -> Iterator[list[str]]:
    """Every statement the engine (default: the app's) sends inside the block, in order, SQLite's BEGIN included."""
    if engine is None:
        from app.extensions import db

        engine = db.engine
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def work(statements: list[str]) -> list[str]:
    """The statements that do the work: transaction control (which follows the session's state) left out."""
    return [s for s in statements if not s.lstrip().upper().startswith(TRANSACTION_CONTROL)]
