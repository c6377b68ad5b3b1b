"""Read-only aggregates of a round's answers, in SQL: counts, means, SDs and CIs, and the free text."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.extensions import db
from app.feedback import rules, services
from app.feedback.models import Answer, FeedbackRound, Response
from app.feedback.review import text_ref
from app.feedback.stats import summary

SOURCES = ("all", "questionnaire", "interview")
TEXT_FILTERS = ("all", "released")
# Interview notes are stored as a free-text answer under this reserved item code.
INTERVIEW_NOTES = "_interview_notes"

_shuffle = random.SystemRandom().shuffle


@dataclass(frozen=True)
class SubscaleSummary:
    """One subscale over the round's responses that have a score for it."""

    code: str
    title: str
    n: int
    mean: float | None
    sd: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class ItemSummary:
    """One item's answers on its own scale (reverse-scored items are shown as answered)."""

    code: str
    text: str
    type: str
    reverse: bool
    n: int
    mean: float | None
    sd: float | None
    distribution: dict[int | str, int]
    scale: tuple = ()


@dataclass(frozen=True)
class FreeText:
    """One free-text answer; `ref` names it for the review buttons without naming its response."""

    item_code: str
    item_text: str
    text: str
    review: str
    ref: str


@dataclass
class RoundResults:
    """What a results page may show of a round; when `suppressed`, only the counts are filled in."""

    eligible: int
    responses: int
    participation: float | None
    suppressed: bool
    k: int
    sources: str = "all"
    subscales: list[SubscaleSummary] = field(default_factory=list)
    items: list[ItemSummary] = field(default_factory=list)
    free_text: list[FreeText] = field(default_factory=list)


def _responses_of(feedback_round: FeedbackRound, sources: str) -> sa.Select:
    query = sa.select(Response.id).where(Response.round_id == feedback_round.id)
    if sources != "all":
        query = query.where(Response.source == sources)
    return query


def _definition(feedback_round: FeedbackRound) -> rules.Definition | None:
    from app.feedback.responses import round_instrument

    instrument = round_instrument(feedback_round)
    return rules.definition_from_dict(instrument.definition) if instrument is not None else None


def _item_summaries(definition: rules.Definition, response_ids: sa.Select, locale: str) -> list[ItemSummary]:
    """Count, sum and sum of squares per rated item; the distribution of every rated or choice item."""
    rated = [i.code for i in definition.rated_items]
    choice = [i.code for i in definition.items if i.type == "choice"]
    sums = {}
    if rated:
        for code, n, total, total_sq in db.session.execute(
            sa.select(Answer.item_code, sa.func.count(Answer.value), sa.func.sum(Answer.value),
                      sa.func.sum(Answer.value * Answer.value))
            .where(Answer.response_id.in_(response_ids), Answer.item_code.in_(rated), Answer.value.is_not(None))
            .group_by(Answer.item_code)
        ):
            sums[code] = (n, float(total or 0), float(total_sq or 0))
    distribution: dict[str, dict[int, int]] = {}
    if rated or choice:
        # A choice is stored as its position in the item's list of choices, a rating as the integer answered.
        for code, value, n in db.session.execute(
            sa.select(Answer.item_code, Answer.value, sa.func.count())
            .where(Answer.response_id.in_(response_ids), Answer.item_code.in_(rated + choice),
                   Answer.value.is_not(None))
            .group_by(Answer.item_code, Answer.value)
        ):
            distribution.setdefault(code, {})[value] = n
    summaries = []
    for item in definition.items:
        if item.code not in rated and item.code not in choice:
            continue
        counts = distribution.get(item.code, {})
        if item.is_numeric:
            n, total, total_sq = sums.get(item.code, (0, 0, 0))
            mean, sd, _low, _high = summary(n, total, total_sq)
            scale = tuple(item.values)
            counts = {v: counts.get(v, 0) for v in scale}
        else:
            n, mean, sd = sum(counts.values()), None, None
            scale = tuple(rules.localised(c.label, locale) for c in item.choices)
            counts = {label: counts.get(position, 0) for position, label in enumerate(scale)}
        summaries.append(ItemSummary(
            code=item.code, text=rules.localised(item.text, locale), type=item.type, reverse=item.reverse,
            n=n, mean=mean, sd=sd, distribution=counts, scale=scale,
        ))
    return summaries


def _scoring_rows(definition: rules.Definition) -> list[tuple]:
    rows = []
    for sub in definition.subscales:
        for code in sub.items:
            item = definition.item(code)
            if item is not None and item.is_numeric:
                rows.append((code, sub.code, len(sub.items), 1 if item.reverse else 0, item.min + item.max))
    return rows


def scoring_table(rows: list[tuple]) -> sa.Subquery:
    """The scoring rows (instrument id, item code, subscale key, subscale size, flip, min + max) as a subquery.

    A UNION ALL of literal rows: VALUES with column names is not portable to SQLite.
    """
    return sa.union_all(*(
        sa.select(
            sa.literal(instrument_id, sa.Integer).label("instrument_id"),
            sa.cast(sa.literal(code), sa.String).label("item_code"),
            sa.cast(sa.literal(key), sa.String).label("subscale"),
            sa.literal(size, sa.Integer).label("size"),
            sa.literal(flip, sa.Integer).label("flip"),
            sa.literal(min_plus_max, sa.Integer).label("min_plus_max"),
        )
        for instrument_id, code, key, size, flip, min_plus_max in rows
    )).subquery("scoring")


def subscale_sums_by_round(definition: rules.Definition, response_ids: sa.Select) -> dict[tuple[int, str], tuple]:
    """{(round id, subscale code): (n, sum, sum of squares)} of per-response subscale scores, in one statement.

    Each response's score is the mean of its answered items of the subscale, reverse-scored items flipped
    (min + max - answer); a response missing more than half of a subscale's items has no score for it.
    """
    rows = _scoring_rows(definition)
    if not rows:
        return {}
    # The scoring table as a UNION ALL of literal rows (VALUES with column names is not portable to SQLite).
    scoring = sa.union_all(*(
        sa.select(
            sa.cast(sa.literal(code), sa.String).label("item_code"),
            sa.cast(sa.literal(sub_code), sa.String).label("subscale"),
            sa.literal(size, sa.Integer).label("size"),
            sa.literal(flip, sa.Integer).label("flip"),
            sa.literal(min_plus_max, sa.Integer).label("min_plus_max"),
        )
        for code, sub_code, size, flip, min_plus_max in rows
    )).subquery("scoring")
    # DOMAIN.md: a reverse-scored item on a min..max scale scores min + max - answer.
    scored = sa.case((scoring.c.flip == 1, scoring.c.min_plus_max - Answer.value), else_=Answer.value)
    per_response = (
        sa.select(
            Response.round_id.label("round_id"),
            scoring.c.subscale.label("subscale"),
            (sa.func.sum(scored) * 1.0 / sa.func.count(Answer.value)).label("score"),
        )
        .join(Response, Response.id == Answer.response_id)
        .join(scoring, scoring.c.item_code == Answer.item_code)
        .where(Answer.response_id.in_(response_ids), Answer.value.is_not(None))
        .group_by(Response.round_id, Answer.response_id, scoring.c.subscale, scoring.c.size)
        .having(sa.func.count(Answer.value) * 2 >= scoring.c.size)
        .subquery()
    )
    score = per_response.c.score
    return {
        (round_id, code): (int(n), float(total or 0.0), float(total_sq or 0.0))
        for round_id, code, n, total, total_sq in db.session.execute(
            sa.select(per_response.c.round_id, per_response.c.subscale, sa.func.count(score), sa.func.sum(score),
                      sa.func.sum(score * score))
            .group_by(per_response.c.round_id, per_response.c.subscale)
        )
    }


def subscale_summaries(definition: rules.Definition, sums: dict[str, tuple], locale: str) -> list[SubscaleSummary]:
    """Every subscale of the definition, in its order, from {code: (n, sum, sum of squares)}."""
    out = []
    for sub in definition.subscales:
        n, total, total_sq = sums.get(sub.code, (0, 0.0, 0.0))
        mean, sd, low, high = summary(n, total, total_sq)
        out.append(SubscaleSummary(sub.code, rules.localised(sub.title, locale), n, mean, sd, low, high))
    return out


def _subscale_summaries(definition: rules.Definition, response_ids: sa.Select, locale: str) -> list[SubscaleSummary]:
    sums = {code: value for (_round, code), value in subscale_sums_by_round(definition, response_ids).items()}
    return subscale_summaries(definition, sums, locale)


def _free_text(definition: rules.Definition | None, response_ids: sa.Select, text_filter: str,
               locale: str, notes_label: str) -> list[FreeText]:
    """The free-text answers (text items and interview notes), shuffled so order says nothing."""
    labels = {i.code: rules.localised(i.text, locale) for i in definition.text_items} if definition else {}
    codes = [*labels, INTERVIEW_NOTES]
    query = sa.select(Answer.response_id, Answer.item_code, Answer.text, Answer.review).where(
        Answer.response_id.in_(response_ids), Answer.item_code.in_(codes),
        Answer.text.is_not(None), Answer.text != "",
    )
    if text_filter == "released":
        query = query.where(Answer.review == "released")
    found = [
        FreeText(code, labels.get(code, notes_label), text, review, text_ref(response_id, code))
        for response_id, code, text, review in db.session.execute(query)
    ]
    _shuffle(found)
    return found


def round_results(
    feedback_round: FeedbackRound, k: int, include_text: bool = True, text_filter: str = "released",
    sources: str = "all", locale: str = "en", notes_label: str = "Interview notes",
) -> RoundResults:
    """The round's results for one view; below k responses (after the source filter) nothing but the counts.

    `text_filter` is "released" for leaders (only text a coordinator released) or "all" for coordinators.
    Raises ValueError on an unknown source or text filter.
    """
    if sources not in SOURCES or text_filter not in TEXT_FILTERS:
        raise ValueError(f"unknown filter {sources!r} / {text_filter!r}")
    response_ids = _responses_of(feedback_round, sources)
    eligible = services.eligible_count(feedback_round)
    responses = db.session.scalar(sa.select(sa.func.count()).select_from(response_ids.subquery())) or 0
    results = RoundResults(
        eligible=eligible, responses=responses, participation=responses / eligible if eligible else None,
        suppressed=responses < k, k=k, sources=sources,
    )
    if results.suppressed:
        return results
    definition = _definition(feedback_round)
    if definition is not None:
        results.subscales = _subscale_summaries(definition, response_ids, locale)
        results.items = _item_summaries(definition, response_ids, locale)
    if include_text:
        results.free_text = _free_text(definition, response_ids, text_filter, locale, notes_label)
    return results
