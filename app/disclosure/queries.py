"""The only SQL that reads the answers of feedback responses, and the scores stored from them, for publication:
sums per round and category.

Everything is summed per *atom* — one round, or (when a view can split a round) one round × source ×
profession — in a fixed number of statements whatever the number of rounds. app.disclosure.release adds
atoms up into the cells a view asks for and decides, by app.disclosure.rules, which of them may be shown.
No other module aggregates answers (a test walks every page, export and API call and checks where each
statement that reads the answers table comes from).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
import sqlalchemy.orm  # noqa: F401  (sa.orm.aliased)

from app.extensions import db
from app.feedback.models import Answer, FeedbackRound, Instrument, Response, ResponseScore, RoundAggregate
from app.feedback.scoring import subscale_key  # noqa: F401  (the views build the keys of the sums with it)

#: Stands for "every source" / "every profession" in the atoms of a view that does not split rounds.
ANY = "*"
#: The profession category of responses whose respondent gave none (and of interviews).
UNKNOWN = "unknown"

#: The measure of the stored round aggregates that counts responses (subscale keys always hold a "/").
RESPONSES = "responses"
#: The stored measures of single questions are "item:<item code>" (item codes hold neither "/" nor ":").
ITEM = "item:"

Atom = tuple[int, str, str]  # (round id, source, profession)
Counts = dict[Atom, int]
SubscaleSums = dict[tuple[Atom, str], tuple[int, float, float, int]]
ItemSums = dict[tuple[Atom, str], tuple[int, float, float]]


def _atom_columns(source, profession, split: bool) -> list:
    if not split:
        return [sa.literal(ANY).label("source"), sa.literal(ANY).label("profession")]
    return [source.label("source"), sa.func.coalesce(profession, UNKNOWN).label("profession")]


def instruments_answered(round_ids: Sequence[int]) -> dict[int, Instrument]:
    """The instrument versions the rounds asked and their responses answered, by id."""
    if not round_ids:
        return {}
    answered = sa.select(Response.instrument_id).where(Response.round_id.in_(round_ids))
    asked = sa.select(FeedbackRound.instrument_id).where(FeedbackRound.id.in_(round_ids))
    return {i.id: i for i in db.session.scalars(
        sa.select(Instrument).where(sa.or_(Instrument.id.in_(answered), Instrument.id.in_(asked)))
    )}


def response_counts(round_ids: Sequence[int], split: bool) -> dict[Atom, int]:
    """Responses per atom."""
    if not round_ids:
        return {}
    columns = _atom_columns(Response.source, Response.profession, split)
    query = sa.select(Response.round_id, *columns, sa.func.count()).where(Response.round_id.in_(round_ids))
    query = query.group_by(Response.round_id, *((Response.source, Response.profession) if split else ()))
    counts: dict[Atom, int] = defaultdict(int)
    for round_id, source, profession, n in db.session.execute(query):
        counts[(round_id, source, profession)] += int(n)
    return dict(counts)


def subscale_sums(round_ids: Sequence[int], split: bool) -> dict[tuple[Atom, str], tuple[int, float, float, int]]:
    """Per atom and subscale key: (n, sum, sum of squares) of the responses' subscale scores, and `partial`.

    One statement over the scores stored when each response was written (app.feedback.models.ResponseScore):
    a response's subscale score is the mean of its answered items of the subscale, reverse-scored items flipped
    (min + max − answer); a response missing more than half the items has no score. Only responses that answered
    at least one of the subscale's items count toward a key. `partial` counts the responses that answered some
    but not all of the subscale's items (app.disclosure.rules rule 6).
    """
    if not round_ids:
        return {}
    s = ResponseScore.__table__.c
    score = s.score
    columns = _atom_columns(Response.source, Response.profession, split)
    query = (
        sa.select(Response.round_id, *columns, s.subscale, sa.func.count(score), sa.func.sum(score),
                  sa.func.sum(score * score), sa.func.sum(sa.case((s.missing > 0, 1), else_=0)))
        .join(ResponseScore.__table__, s.response_id == Response.id)
        .where(Response.round_id.in_(round_ids), s.answered > 0)
        .group_by(Response.round_id, *((Response.source, Response.profession) if split else ()), s.subscale)
    )
    out: dict[tuple[Atom, str], list] = defaultdict(lambda: [0, 0.0, 0.0, 0])
    for round_id, source, profession, key, n, total, total_sq, partial in db.session.execute(query):
        cell = out[((round_id, source, profession), key)]
        cell[0] += int(n or 0)
        cell[1] += float(total or 0.0)
        cell[2] += float(total_sq or 0.0)
        cell[3] += int(partial or 0)
    return {key: tuple(value) for key, value in out.items()}


def aggregate_rows(round_ids: Sequence[int]) -> list[dict]:
    """The rows of round_aggregates for these rounds, computed live: whole-round and split atoms alike.

    Six statements (counts, subscale sums and question sums, unsplit and split) whatever the number of rounds, by
    the very functions the live readers use, so stored and live sums are the same numbers. Every round gets its
    whole-round "responses" row, with n = 0 when nobody answered (the mark that its sums are stored). A question's
    row (measure "item:<code>") holds the n, sum and sum of squares of its answers as given: a subscale's alpha is
    made of them, so a page showing it need not read the answers of a closed round again.
    """
    round_ids = sorted(set(round_ids))
    if not round_ids:
        return []
    rows = {(rid, ANY, ANY, RESPONSES): {"round_id": rid, "source": ANY, "profession": ANY, "measure": RESPONSES,
                                         "n": 0, "total": 0.0, "total_sq": 0.0, "partial": 0} for rid in round_ids}
    for split in (False, True):
        for (rid, source, profession), n in response_counts(round_ids, split).items():
            rows[(rid, source, profession, RESPONSES)] = {
                "round_id": rid, "source": source, "profession": profession, "measure": RESPONSES, "n": n,
                "total": 0.0, "total_sq": 0.0, "partial": 0}
        for ((rid, source, profession), key), (n, total, total_sq, partial) in subscale_sums(round_ids, split).items():
            rows[(rid, source, profession, key)] = {
                "round_id": rid, "source": source, "profession": profession, "measure": key, "n": n,
                "total": total, "total_sq": total_sq, "partial": partial}
        for ((rid, source, profession), code), (n, total, total_sq) in item_sums(round_ids, None, split).items():
            rows[(rid, source, profession, ITEM + code)] = {
                "round_id": rid, "source": source, "profession": profession, "measure": ITEM + code, "n": n,
                "total": total, "total_sq": total_sq, "partial": 0}
    return [rows[key] for key in sorted(rows)]


def stored_sums(round_ids: Sequence[int], split: bool, subscales: bool = True, items: bool = False
                ) -> tuple[set[int], Counts, SubscaleSums, ItemSums]:
    """The sums stored for those of the rounds that were aggregated: (their ids, responses per atom, subscale sums,
    question sums — the last only with `items`, by item code).

    One statement. Atoms as `response_counts`, `subscale_sums` and `item_sums` give them: whole rounds, or (split)
    each source × profession; a round nobody answered is aggregated with no atom.
    """
    if not round_ids:
        return set(), {}, {}, {}
    a = RoundAggregate.__table__.c
    whole = a.source == ANY
    query = sa.select(a.round_id, a.source, a.profession, a.measure, a.n, a.total, a.total_sq, a.partial).where(
        a.round_id.in_(list(round_ids)),
        sa.and_(whole, a.measure == RESPONSES) | (~whole if split else whole),
    )
    is_item = a.measure.startswith(ITEM, autoescape=True)
    wanted = [a.measure == RESPONSES]
    if subscales:
        wanted.append(sa.and_(a.measure != RESPONSES, ~is_item))
    if items:
        wanted.append(is_item)
    query = query.where(sa.or_(*wanted))
    found: set[int] = set()
    counts: Counts = {}
    sums: SubscaleSums = {}
    questions: ItemSums = {}
    for rid, source, profession, measure, n, total, total_sq, partial in db.session.execute(query):
        if source == ANY and measure == RESPONSES:
            found.add(rid)
            if split:
                continue
        atom = (rid, source, profession)
        if measure == RESPONSES:
            if n:
                counts[atom] = int(n)
        elif measure.startswith(ITEM):
            questions[(atom, measure[len(ITEM):])] = (int(n), float(total), float(total_sq))
        else:
            sums[(atom, measure)] = (int(n), float(total), float(total_sq), int(partial))
    return found, counts, sums, questions


def round_sums(round_ids: Sequence[int], split: bool, closed_ids: Iterable[int], subscales: bool = True
               ) -> tuple[Counts, SubscaleSums]:
    """Responses per atom and subscale sums of the rounds: stored for the closed rounds that were aggregated,
    live (from the responses and their stored scores) for the others.

    At most three statements whatever the number of rounds. A closed round not yet aggregated (closed a moment
    ago by its deadline, or its sums invalidated) is read live, so a number never disappears nor differs.
    """
    counts, sums, _items = round_sums_with_items(round_ids, split, closed_ids, subscales)
    return counts, sums


def round_sums_with_items(round_ids: Sequence[int], split: bool, closed_ids: Iterable[int], subscales: bool = True,
                          items: bool = False) -> tuple[Counts, SubscaleSums, ItemSums]:
    """`round_sums`, and with `items` the question sums of every question too (stored or live like the rest).

    At most four statements whatever the number of rounds.
    """
    closed_ids = set(closed_ids)
    closed = [rid for rid in round_ids if rid in closed_ids]
    found, counts, sums, questions = (stored_sums(closed, split, subscales, items) if closed
                                      else (set(), {}, {}, {}))
    rest = [rid for rid in round_ids if rid not in found]
    if rest:
        counts.update(response_counts(rest, split))
        if subscales:
            sums.update(subscale_sums(rest, split))
        if items:
            questions.update(item_sums(rest, None, split))
    return counts, sums, questions


def item_sums(round_ids: Sequence[int], codes: Iterable[str] | None, split: bool
              ) -> dict[tuple[Atom, str], tuple[int, float, float]]:
    """Per atom and item code: (n, sum, sum of squares) of the answers given (as answered, not reversed)."""
    if not round_ids:
        return {}
    value = Answer.value
    columns = _atom_columns(Response.source, Response.profession, split)
    query = (
        sa.select(Response.round_id, *columns, Answer.item_code, sa.func.count(value), sa.func.sum(value),
                  sa.func.sum(value * value))
        .join(Response, Response.id == Answer.response_id)
        .where(Response.round_id.in_(round_ids), value.is_not(None))
        .group_by(Response.round_id, *((Response.source, Response.profession) if split else ()), Answer.item_code)
    )
    if codes is not None:
        query = query.where(Answer.item_code.in_(list(codes)))
    out: dict[tuple[Atom, str], list] = defaultdict(lambda: [0, 0.0, 0.0])
    for round_id, source, profession, code, n, total, total_sq in db.session.execute(query):
        cell = out[((round_id, source, profession), code)]
        cell[0] += int(n)
        cell[1] += float(total or 0)
        cell[2] += float(total_sq or 0)
    return {key: tuple(v) for key, v in out.items()}


def option_counts(round_ids: Sequence[int], codes: Iterable[str], split: bool) -> dict[tuple[Atom, str, int], int]:
    """Per atom, item code and stored value (a rating, or a choice's position): how many gave it."""
    codes = list(codes)
    if not round_ids or not codes:
        return {}
    columns = _atom_columns(Response.source, Response.profession, split)
    query = (
        sa.select(Response.round_id, *columns, Answer.item_code, Answer.value, sa.func.count())
        .join(Response, Response.id == Answer.response_id)
        .where(Response.round_id.in_(round_ids), Answer.item_code.in_(codes), Answer.value.is_not(None))
        .group_by(Response.round_id, *((Response.source, Response.profession) if split else ()), Answer.item_code,
                  Answer.value)
    )
    out: dict[tuple[Atom, str, int], int] = defaultdict(int)
    for round_id, source, profession, code, value, n in db.session.execute(query):
        out[((round_id, source, profession), code, int(value))] += int(n)
    return dict(out)


def text_answers(round_ids: Sequence[int], codes: Iterable[str], released_only: bool
                 ) -> list[tuple[Atom, str, str, str, str]]:
    """Every free-text answer of the rounds: (atom, response id, item code, text, review state), unordered."""
    codes = list(codes)
    if not round_ids or not codes:
        return []
    query = (
        sa.select(Response.round_id, Response.source, sa.func.coalesce(Response.profession, UNKNOWN),
                  Answer.response_id, Answer.item_code, Answer.text, Answer.review)
        .join(Response, Response.id == Answer.response_id)
        .where(Response.round_id.in_(round_ids), Answer.item_code.in_(codes), Answer.text.is_not(None),
               Answer.text != "")
    )
    if released_only:
        query = query.where(Answer.review == "released")
    return [((rid, source, profession), response_id, code, text, review)
            for rid, source, profession, response_id, code, text, review in db.session.execute(query)]


def rated_answers(round_ids: Sequence[int]) -> dict[int, dict[str, list[tuple[str, int]]]]:
    """Per round and response: the answers with a value (item code, value) — for the anonymised export only."""
    out: dict[int, dict[str, list[tuple[str, int]]]] = defaultdict(lambda: defaultdict(list))
    if not round_ids:
        return {}
    for round_id, response_id, code, value in db.session.execute(
        sa.select(Response.round_id, Answer.response_id, Answer.item_code, Answer.value)
        .join(Response, Response.id == Answer.response_id)
        .where(Response.round_id.in_(round_ids), Answer.value.is_not(None))
    ):
        out[round_id][response_id].append((code, int(value)))
    return out


def attendance_counts(round_ids: Sequence[int], codes: Iterable[str]
                      ) -> dict[tuple[int, str, str, int | None], int]:
    """Responses per round, source, profession and answer to the attendance question (None: not answered).

    `codes` are the item codes of the standard attendance question in the rounds' instrument versions. One
    statement.
    """
    codes = list(codes)
    if not round_ids or not codes:
        return {}
    given = sa.orm.aliased(Answer)
    query = (
        sa.select(Response.round_id, Response.source, Response.profession, given.value, sa.func.count())
        .outerjoin(given, sa.and_(given.response_id == Response.id, given.item_code.in_(codes)))
        .where(Response.round_id.in_(round_ids))
        .group_by(Response.round_id, Response.source, Response.profession, given.value)
    )
    out: dict[tuple[int, str, str, int | None], int] = defaultdict(int)
    for round_id, source, profession, value, n in db.session.execute(query):
        out[(round_id, source, profession or UNKNOWN, None if value is None else int(value))] += int(n)
    return dict(out)


def attendance_subscale_sums(round_ids: Sequence[int], codes: Iterable[str]
                             ) -> dict[tuple[int, int | None, str], tuple[int, float, float]]:
    """Per round, answer to the attendance question (None: not answered) and subscale key: (n, Σ, Σ²) of the
    responses' stored subscale scores (those with a score). One statement."""
    codes = list(codes)
    if not round_ids or not codes:
        return {}
    given = sa.orm.aliased(Answer)
    s = ResponseScore.__table__.c
    score = s.score
    query = (
        sa.select(Response.round_id, given.value, s.subscale, sa.func.count(score), sa.func.sum(score),
                  sa.func.sum(score * score))
        .join(ResponseScore.__table__, s.response_id == Response.id)
        .outerjoin(given, sa.and_(given.response_id == Response.id, given.item_code.in_(codes)))
        .where(Response.round_id.in_(round_ids), score.is_not(None))
        .group_by(Response.round_id, given.value, s.subscale)
    )
    return {(round_id, None if value is None else int(value), key): (int(n), float(total or 0), float(total_sq or 0))
            for round_id, value, key, n, total, total_sq in db.session.execute(query)}
ConcernBands = dict[tuple[int, str], list[tuple[float | None, float | None]]]


def concern_counts(round_ids: Sequence[int], bands: ConcernBands) -> dict[tuple[int, str], tuple[int, int]]:
    """Per round and subscale key with a concern band: (responses whose stored score lies in one of its concern
    bands, responses with a score), whole rounds only.

    `bands` maps (instrument version id, subscale key) to the concern bands' (min, max), bounds inclusive and None
    open, as app.feedback.scoring.Band defines them; a response is judged by the bands of the version it answered.
    One statement over the stored scores (app.feedback.models.ResponseScore), counted as `subscale_sums` counts
    them (responses that answered at least one of the subscale's items and have a score).
    """
    bands = {key: limits for key, limits in bands.items() if limits}
    if not round_ids or not bands:
        return {}
    s = ResponseScore.__table__.c
    in_band = []
    for (instrument_id, key), limits in sorted(bands.items(), key=lambda pair: (pair[0][0], pair[0][1])):
        ranges = []
        for low, high in limits:
            condition = sa.true()
            if low is not None:
                condition = sa.and_(condition, s.score >= low)
            if high is not None:
                condition = sa.and_(condition, s.score <= high)
            ranges.append(condition)
        in_band.append(sa.and_(Response.instrument_id == instrument_id, s.subscale == key, sa.or_(*ranges)))
    query = (
        sa.select(Response.round_id, s.subscale, sa.func.sum(sa.case((sa.or_(*in_band), 1), else_=0)),
                  sa.func.count(s.score))
        .join(ResponseScore.__table__, s.response_id == Response.id)
        .where(Response.round_id.in_(list(round_ids)), s.answered > 0, s.score.is_not(None),
               s.subscale.in_(sorted({key for _iid, key in bands})))
        .group_by(Response.round_id, s.subscale)
    )
    return {(rid, key): (int(found or 0), int(n)) for rid, key, found, n in db.session.execute(query)}
