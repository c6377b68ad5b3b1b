"""Per-response subscale scores for the evaluator export (app.trends.evaluator), behind the one door.

A per-response file lists numbers that rest on one response each, so it goes only as far as the published cells do
(app.disclosure.rules): only rounds whose responses are published (closed, k or more); a subscale's scores only
where its whole-round cell is shown; a response's profession only where every profession cell of the round — its
count and each shown subscale's scores — is shown (rule 3: then no profession of the round holds fewer than k, and
the round publishes no other split); self-generated codes only in rounds that `rules.linkable_rounds` keeps, and
never beside a profession (a code followed from a round that shows professions into one that hides them would tell
who, there, belongs to a small profession). No response id leaves this module; responses come shuffled.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from app.disclosure import paired as coded_rounds
from app.disclosure import queries, rules
from app.disclosure.release import RESPONSES, Part, Release, announce, subscale_measure
from app.extensions import db
from app.feedback.models import FeedbackRound, Response, ResponseScore
from app.trends.paired import unique_codes

_shuffle = random.SystemRandom().shuffle


@dataclass
class EvaluatorResponse:
    """One response of a published round: what the export may show of it (no id, no time)."""

    instrument_id: int
    profession: str | None  # None: not shown; queries.UNKNOWN when the respondent gave none
    code: str | None  # re-keyed; None when not shown or not given
    scores: dict[str, float | None] = field(default_factory=dict)  # subscale key → score (None: not scored)


@dataclass
class EvaluatorRound:
    """A published round's responses (shuffled) and the subscales whose scores are withheld."""

    round_id: int
    responses: list[EvaluatorResponse]
    withheld: set[str]
    professions_shown: bool
    codes_shown: bool


def _linked_rounds(k: int, now: datetime) -> set[int]:
    """Every round of the programme whose codes may be shown (rules.linkable_rounds over every published round with
    a code, in the order they closed, whatever the export covers: two exports of different scopes or periods then
    never show codes of two rounds that one export would not). Two statements."""
    codes, totals = coded_rounds.round_codes(sa.select(Response.round_id).where(Response.code.is_not(None)).distinct())
    if not totals:
        return set()
    published = [r for r in db.session.scalars(sa.select(FeedbackRound).where(FeedbackRound.id.in_(list(totals))))
                 if not r.is_open(now) and rules.passes(totals[r.id], k)]
    # The moment each became published: closed early by hand, or its deadline passed (a round closed later by
    # close_if_due was published from its deadline). Fixed once published, so the order of past rounds never changes.
    order = [r.id for r in sorted(published, key=lambda r: (min(r.closed_at or r.closes_at, r.closes_at), r.id))]
    return set(rules.linkable_rounds(order, {rid: unique_codes(c) for rid, c in codes.items()}, totals, k))


def _professions_shown(release: Release, round_id: int, professions: dict[str, dict[str, int]]) -> bool:
    """Whether every profession cell of the round is shown: the count of each, and the scores of each shown subscale.

    `professions` maps each measure (RESPONSES, or a shown subscale's) to the round's values of it per profession.
    """
    return all(
        release.decision(round_id, measure, rules.PROFESSION, profession).shown
        for measure, per_profession in professions.items()
        for profession, n in per_profession.items() if n > 0
    )


def evaluator_responses(rounds: Sequence[FeedbackRound], *, k: int, now: datetime,
                        rekey: Callable[[str], str]) -> dict[int, EvaluatorRound]:
    """Per published round (closed, k or more responses) of `rounds`: its responses with what may be shown.

    `rekey` turns a stored code into the one the export shows. A round below k or still open is absent. At most
    eleven statements, whatever the number of rounds.
    """
    if not rounds:
        return {}
    release = Release(rounds, k=k, now=now, split=True)
    published = [r for r in rounds if release.decision(r.id, RESPONSES).shown]
    if not published:
        return {}
    found: dict[int, dict[str, dict]] = defaultdict(dict)
    s = ResponseScore.__table__.c
    for round_id, response_id, instrument_id, profession, code, key, score in db.session.execute(
        sa.select(Response.round_id, Response.id, Response.instrument_id, Response.profession, Response.code,
                  s.subscale, s.score)
        .outerjoin(ResponseScore.__table__, s.response_id == Response.id)
        .where(Response.round_id.in_([r.id for r in published]))
    ):
        row = found[round_id].setdefault(response_id, {
            "instrument_id": instrument_id, "profession": profession or queries.UNKNOWN, "code": code, "scores": {}})
        if key is not None:
            row["scores"][key] = None if score is None else float(score)
    # A round takes codes when its version asks for them, or (its version since changed) a response holds one.
    asks_codes = {r.id for r in published
                  if getattr(release.definitions.get(r.instrument_id), "self_generated_code", False)
                  or any(row["code"] is not None for row in found.get(r.id, {}).values())}
    linked = _linked_rounds(k, now) if asks_codes else set()
    out: dict[int, EvaluatorRound] = {}
    for r in published:
        given = list(found.get(r.id, {}).values())
        keys = sorted({key for row in given for key in row["scores"]})
        withheld = {key for key in keys if release.decision(r.id, subscale_measure(key)).hidden}
        per_measure: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in given:
            per_measure[RESPONSES][row["profession"]] += 1
            for key, score in row["scores"].items():
                if key not in withheld and score is not None:
                    per_measure[subscale_measure(key)][row["profession"]] += 1
        codes_shown = r.id in asks_codes and r.id in linked
        professions_shown = r.id not in asks_codes and _professions_shown(release, r.id, per_measure)
        once = unique_codes([row["code"] for row in given if row["code"] is not None]) if codes_shown else set()
        responses = [
            EvaluatorResponse(
                row["instrument_id"], row["profession"] if professions_shown else None,
                rekey(row["code"]) if row["code"] in once else None,
                {key: (None if key in withheld else score) for key, score in row["scores"].items()})
            for row in given
        ]
        _shuffle(responses)
        out[r.id] = EvaluatorRound(r.id, responses, withheld, professions_shown, codes_shown)
        announce("rows", RESPONSES, (Part(r.id),), len(responses))
        if professions_shown:
            for profession, n in sorted(per_measure[RESPONSES].items()):
                announce("rows", RESPONSES, (Part(r.id, rules.PROFESSION, profession),), n)
    return out
