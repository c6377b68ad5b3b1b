"""Stored subscale scores checked against the answers, and stored round aggregates against the stored scores
(`flask feedback verify-scores`). Flush, never commit.

Every response's scores are stored when its answers are written (app.feedback.models.ResponseScore). This
recomputes them from the stored answers with the scoring code of today and compares: a row missing, a row
extra, or a row whose score (beyond TOLERANCE), count of answered or missing items differs. With `fix`, the
responses that differ are scored again and stored — the way a bug in the scoring code itself is corrected once
the code is (a corrected instrument definition is a new version, so stored scores never go stale otherwise).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.disclosure import queries as disclosure_queries
from app.disclosure import services as aggregates
from app.extensions import db
from app.feedback import scoring
from app.feedback.models import Response, ResponseScore, RoundAggregate, computed_scores, store_scores

TOLERANCE = 1e-9  # scores are means of integers: anything beyond floating-point noise is a difference
BATCH = 500  # responses read per round trip
MISSING, EXTRA, DIFFERENT = "missing", "extra", "different"

Stored = tuple[float | None, int, int]  # (score, answered, missing) of one response and subscale


@dataclass(frozen=True)
class Difference:
    """One stored row that does not match the scores recomputed from the answers."""

    response_id: str
    subscale: str
    kind: str  # MISSING (not stored), EXTRA (stored, not expected) or DIFFERENT
    stored: Stored | None
    expected: Stored | None

    def describe(self) -> str:
        """One line for the operator (the response id says nothing about who answered)."""
        return f"{self.kind}: response {self.response_id} {self.subscale}: stored {self.stored}, " \
               f"expected {self.expected}"


@dataclass
class Verification:
    """What verify_scores found: how much it checked, how many rows differ and the first few differences."""

    responses: int = 0
    rows: int = 0
    differences: int = 0
    responses_differing: int = 0
    fixed: int = 0  # responses whose scores were stored again (with fix)
    first: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.differences == 0


def _same(stored: Stored, expected: Stored) -> bool:
    (score, answered, missing), (want, want_answered, want_missing) = stored, expected
    if (answered, missing) != (want_answered, want_missing) or (score is None) != (want is None):
        return False
    return score is None or abs(score - want) <= TOLERANCE


def differences(response_id: str, stored: dict[str, Stored], expected: list[scoring.SubscaleResult]
                ) -> list[Difference]:
    """How one response's stored rows (by subscale key) differ from its recomputed results (pure)."""
    found = []
    wanted = {r.subscale: (r.score, r.answered, r.missing) for r in expected}
    for key, want in wanted.items():
        if key not in stored:
            found.append(Difference(response_id, key, MISSING, None, want))
        elif not _same(stored[key], want):
            found.append(Difference(response_id, key, DIFFERENT, stored[key], want))
    found += [Difference(response_id, key, EXTRA, row, None) for key, row in stored.items() if key not in wanted]
    return found


def _stored(connection: sa.Connection, response_ids: list[str]) -> dict[str, dict[str, Stored]]:
    s = ResponseScore.__table__.c
    rows: dict[str, dict[str, Stored]] = defaultdict(dict)
    for response_id, key, score, answered, missing in connection.execute(
        sa.select(s.response_id, s.subscale, s.score, s.answered, s.missing).where(s.response_id.in_(response_ids))
    ):
        rows[response_id][key] = (None if score is None else float(score), int(answered), int(missing))
    return rows


def verify_scores(*, fix: bool = False, keep: int = 10, batch: int = BATCH) -> Verification:
    """Recompute every response's scores from its answers and compare them with the stored rows.

    Reads the responses in batches in the order of their (random) ids, a fixed number of statements per batch,
    so memory stays flat on a city's database. `keep` differences are kept to show; all are counted. With
    `fix`, each response that differs has its scores stored again (the caller commits).
    """
    connection = db.session.connection()
    result = Verification()
    last = ""
    while True:
        ids = list(db.session.scalars(
            sa.select(Response.id).where(Response.id > last).order_by(Response.id).limit(batch)))
        if not ids:
            return result
        expected = computed_scores(connection, ids)
        stored = _stored(connection, ids)
        differing = []
        for response_id in ids:
            found = differences(response_id, stored.get(response_id, {}), expected.get(response_id, []))
            result.rows += len(stored.get(response_id, {}))
            if found:
                differing.append(response_id)
                result.differences += len(found)
                result.first.extend(found[:max(0, keep - len(result.first))])
        result.responses += len(ids)
        result.responses_differing += len(differing)
        if fix and differing:
            store_scores(connection, differing)
            result.fixed += len(differing)
        last = ids[-1]


AggregateKey = tuple[int, str, str, str]  # (round id, source, profession, measure)
AggregateRow = tuple[int, float, float, int]  # (n, sum, sum of squares, partial)


@dataclass(frozen=True)
class AggregateDifference:
    """One stored round aggregate row that does not match the sums recomputed from the stored scores."""

    key: AggregateKey
    kind: str  # MISSING, EXTRA or DIFFERENT
    stored: AggregateRow | None
    expected: AggregateRow | None

    def describe(self) -> str:
        """One line for the operator."""
        round_id, source, profession, measure = self.key
        return f"{self.kind}: round {round_id} {source}/{profession} {measure}: stored {self.stored}, " \
               f"expected {self.expected}"


@dataclass
class AggregateVerification:
    """What verify_round_aggregates found: rounds checked, rows that differ, closed rounds not yet aggregated."""

    rounds: int = 0
    rows: int = 0
    differences: int = 0
    rounds_differing: int = 0
    not_aggregated: int = 0  # closed rounds read live until the next send-due stores them (not an error)
    fixed: int = 0  # rounds aggregated again (with fix), the not-yet-aggregated ones included
    first: list[AggregateDifference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.differences == 0


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b))


def aggregate_differences(stored: dict[AggregateKey, AggregateRow], expected: dict[AggregateKey, AggregateRow]
                          ) -> list[AggregateDifference]:
    """How one batch of stored aggregate rows differs from the recomputed ones (pure); sums compared relatively
    within TOLERANCE (a sum of scores added in another order may differ in its last bits)."""
    found = []
    for key in sorted(expected.keys() | stored.keys()):
        have, want = stored.get(key), expected.get(key)
        if have is None:
            found.append(AggregateDifference(key, MISSING, None, want))
        elif want is None:
            found.append(AggregateDifference(key, EXTRA, have, None))
        elif (have[0], have[3]) != (want[0], want[3]) or not _close(have[1], want[1]) or not _close(have[2], want[2]):
            found.append(AggregateDifference(key, DIFFERENT, have, want))
    return found


def verify_round_aggregates(*, fix: bool = False, keep: int = 10, batch: int = aggregates.BATCH
                            ) -> AggregateVerification:
    """Recompute the sums of every aggregated round from the stored scores and compare them with the stored rows.

    A fixed number of statements per batch of rounds. With `fix`, the rounds that differ are aggregated again, and
    so is every closed round still without its sums (the caller commits).
    """
    result = AggregateVerification()
    a = RoundAggregate.__table__.c
    marked = sa.select(a.round_id).where(a.source == disclosure_queries.ANY, a.measure == disclosure_queries.RESPONSES)
    last = 0
    while True:
        ids = list(db.session.scalars(marked.where(a.round_id > last).order_by(a.round_id).limit(batch)))
        if not ids:
            break
        stored = {(rid, source, profession, measure): (int(n), float(total), float(total_sq), int(partial))
                  for rid, source, profession, measure, n, total, total_sq, partial in db.session.execute(
                      sa.select(a.round_id, a.source, a.profession, a.measure, a.n, a.total, a.total_sq, a.partial)
                      .where(a.round_id.in_(ids)))}
        expected = {(r["round_id"], r["source"], r["profession"], r["measure"]):
                    (r["n"], r["total"], r["total_sq"], r["partial"])
                    for r in disclosure_queries.aggregate_rows(ids)}
        found = aggregate_differences(stored, expected)
        differing = sorted({d.key[0] for d in found})
        result.rounds += len(ids)
        result.rows += len(stored)
        result.differences += len(found)
        result.rounds_differing += len(differing)
        result.first.extend(found[:max(0, keep - len(result.first))])
        if fix and differing:
            aggregates.store_round_aggregates(differing)
            result.fixed += len(differing)
        last = ids[-1]
    result.not_aggregated = len(aggregates.rounds_without_aggregates())
    if fix and result.not_aggregated:
        result.fixed += aggregates.refresh_round_aggregates()
    return result
