"""Stored round aggregates: the sums of each closed round, written once so pages need not sum history again.

A closed round takes no more answers (late submissions and interviews are refused, a closed round is never
reopened), so its sums are fixed: they are stored in round_aggregates (app.feedback.models.RoundAggregate) in the
transaction that closes it (app.feedback.services.rounds) and by `flask notify send-due` for every closed round
still without them (`refresh_round_aggregates`). Anything that changes a stored score or a response of a round
drops its rows in the same flush (app.feedback.models.invalidate_round_aggregates); readers then sum it live
until the next refresh. The sums are computed by app.disclosure.queries, the same SQL the live readers run, and
published only through app.disclosure.release. Flush, never commit.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from app.disclosure import queries
from app.extensions import db
from app.feedback.models import FeedbackRound, RoundAggregate

BATCH = 500  # rounds aggregated per round trip


def store_round_aggregates(round_ids: Iterable[int]) -> int:
    """Compute the rounds' sums and store them, replacing any stored; returns how many rows were written.

    Only closed rounds are stored (an open one still changes): other ids are ignored. Nine statements per
    `BATCH` rounds.
    """
    ids = sorted(set(round_ids))
    table = RoundAggregate.__table__
    written = 0
    for start in range(0, len(ids), BATCH):
        chunk = list(db.session.scalars(
            sa.select(FeedbackRound.id).where(FeedbackRound.id.in_(ids[start:start + BATCH]),
                                              FeedbackRound.status == "closed")))
        if not chunk:
            continue
        rows = queries.aggregate_rows(chunk)
        db.session.execute(sa.delete(table).where(table.c.round_id.in_(chunk)))
        db.session.execute(sa.insert(table), rows)
        written += len(rows)
    db.session.flush()
    return written


def rounds_without_aggregates(limit: int | None = None) -> list[int]:
    """Ids of closed rounds whose sums are not stored (never aggregated, or invalidated), oldest id first."""
    a = RoundAggregate.__table__.c
    stored = sa.select(a.round_id).where(a.round_id == FeedbackRound.id, a.source == queries.ANY,
                                         a.measure == queries.RESPONSES).exists()
    query = sa.select(FeedbackRound.id).where(FeedbackRound.status == "closed", ~stored).order_by(FeedbackRound.id)
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def refresh_round_aggregates(batch: int = BATCH) -> int:
    """Store the sums of every closed round that lacks them; returns how many rounds were aggregated.

    Idempotent: a second run finds nothing to do. Run by `flask notify send-due` after it closes the rounds
    whose window ended, so rounds closed by their deadline (and rounds whose sums a correction dropped) are
    stored within minutes. A fixed number of statements per `batch` rounds.
    """
    done = 0
    while True:
        ids = rounds_without_aggregates(batch)
        if not ids:
            return done
        store_round_aggregates(ids)
        done += len(ids)
