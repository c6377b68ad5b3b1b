"""Paired change of a group's consecutive rounds through self-generated codes: the data, in four statements.

Only rounds whose instrument version asks for codes (`self_generated_code: true`) take part; each pair of
consecutive such rounds in view gives a RoundPair. It reads the stored scores and answers, so it lives behind the
one door (app.disclosure); the statistics are app.trends.paired's, what may be shown app.disclosure.rules'.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from app.disclosure.release import Part, announce, subscale_measure
from app.extensions import db
from app.feedback import scoring
from app.feedback.models import Answer, FeedbackRound, Response, ResponseScore
from app.trends import paired

ROUND_HIDDEN = "round_hidden"  # one of the two rounds publishes nothing (open, or fewer than k responses)


@dataclass(frozen=True)
class SubscalePairs:
    key: str
    title: str
    change: paired.PairedChange


@dataclass
class RoundPair:
    """Two consecutive rounds of the group that asked for codes: how many responses pair, and the change."""

    first_number: int
    second_number: int
    pairs: int  # codes given once in each of the two rounds
    responses_first: int
    responses_second: int
    reason: str | None = None  # why no figure is shown for the whole pair of rounds
    subscales: list[SubscalePairs] = field(default_factory=list)

    @property
    def match_rate(self) -> float | None:
        """The share of the second round's responses paired with one of the first's."""
        return self.pairs / self.responses_second if self.responses_second else None


def asks_codes(definition: scoring.Definition | None) -> bool:
    return definition is not None and definition.self_generated_code


def _coded_scores(round_ids: list[int]) -> dict[int, dict[str, dict[str, float | None]]]:
    """Per round, per code: the response's subscale scores (key → score)."""
    out: dict[int, dict[str, dict[str, float | None]]] = defaultdict(lambda: defaultdict(dict))
    rows = db.session.execute(
        sa.select(Response.round_id, Response.code, ResponseScore.subscale, ResponseScore.score)
        .join(ResponseScore, ResponseScore.response_id == Response.id)
        .where(Response.round_id.in_(round_ids), Response.code.is_not(None))
    )
    for round_id, code, key, score in rows:
        out[round_id][code][key] = score
    return out


def round_codes(round_ids) -> tuple[dict[int, list[str]], dict[int, int]]:
    """Per round: the codes given (one per coded response) and how many responses it has in all. `round_ids` is a
    list of ids or a select of them."""
    codes: dict[int, list[str]] = defaultdict(list)
    totals: dict[int, int] = defaultdict(int)
    for round_id, code in db.session.execute(
        sa.select(Response.round_id, Response.code).where(Response.round_id.in_(round_ids))
    ):
        totals[round_id] += 1
        if code is not None:
            codes[round_id].append(code)
    return codes, totals


def _scored(round_ids: list[int]) -> dict[tuple[int, str], int]:
    """Per round and subscale key: the responses with a score."""
    return {(r, key): n for r, key, n in db.session.execute(
        sa.select(Response.round_id, ResponseScore.subscale, sa.func.count())
        .join(ResponseScore, ResponseScore.response_id == Response.id)
        .where(Response.round_id.in_(round_ids), ResponseScore.score.is_not(None))
        .group_by(Response.round_id, ResponseScore.subscale)
    )}


def _item_rows(round_ids: list[int]) -> dict[int, dict[str, dict[str, int]]]:
    """Per round, per response: its rated answers (item code → stored value)."""
    out: dict[int, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for round_id, response_id, code, value in db.session.execute(
        sa.select(Response.round_id, Answer.response_id, Answer.item_code, Answer.value)
        .join(Answer, Answer.response_id == Response.id)
        .where(Response.round_id.in_(round_ids), Answer.value.is_not(None))
    ):
        out[round_id][response_id][code] = value
    return out


def subscale_alpha(definition: scoring.Definition, subscale: scoring.Subscale,
                   responses: dict[str, dict[str, int]]) -> float | None:
    """Cronbach's α of a subscale over the responses that scored every one of its items (reverse items reversed)."""
    items = [definition.item(code) for code in subscale.items]
    rows = []
    for given in responses.values():
        row = [scoring.item_score(item, given.get(item.code)) for item in items if item is not None]
        if len(row) == len(subscale.items) and all(v is not None for v in row):
            rows.append(row)
    return paired.cronbach_alpha(rows)


def group_pairs(rounds: Sequence[FeedbackRound], definitions: dict[int, scoring.Definition], *, k: int,
                now: datetime, locale: str) -> list[RoundPair]:
    """The RoundPairs of consecutive rounds (in the given order) that both asked for codes.

    `definitions` maps each round's id to the definition it asked. No statement is run when no round asks.
    """
    couples = [(a, b) for a, b in zip(rounds, rounds[1:], strict=False)
               if asks_codes(definitions.get(a.id)) and asks_codes(definitions.get(b.id))]
    if not couples:
        return []
    ids = sorted({r.id for couple in couples for r in couple})
    codes, totals = round_codes(ids)
    scores = _coded_scores(ids)
    scored = _scored(ids)
    items = _item_rows(sorted({a.id for a, _b in couples}))
    out = []
    for first, second in couples:
        pair = RoundPair(first.number, second.number, 0, totals.get(first.id, 0), totals.get(second.id, 0))
        common = paired.unique_codes(codes.get(first.id, [])) & paired.unique_codes(codes.get(second.id, []))
        pair.pairs = len(common)
        if first.is_open(now) or second.is_open(now) or pair.responses_first < k or pair.responses_second < k:
            pair.reason = ROUND_HIDDEN
            out.append(pair)
            continue
        definition, later = definitions[first.id], definitions[second.id]
        later_keys = {scoring.subscale_key(later.code, s.code) for s in later.subscales}
        for sub in definition.subscales:
            key = scoring.subscale_key(definition.code, sub.code)
            if key not in later_keys:
                continue
            x1, x2 = [], []
            for code in sorted(common):
                a, b = scores[first.id][code].get(key), scores[second.id][code].get(key)
                if a is not None and b is not None:
                    x1.append(a)
                    x2.append(b)
            alpha = subscale_alpha(definition, sub, items.get(first.id, {}))
            change = paired.paired_change(x1, x2, alpha, scored_first=scored.get((first.id, key), 0),
                                          scored_second=scored.get((second.id, key), 0), k=k)
            if change.shown:  # told to observers like every other published figure (app.disclosure.observe)
                announce("pairs", subscale_measure(key), (Part(first.id), Part(second.id)), change)
            pair.subscales.append(SubscalePairs(key, scoring.localised(sub.title, locale), change))
        out.append(pair)
    return out
