"""Published aggregates of anonymous answers: the cells views ask for, each either shown or hidden with a reason.

A `Release` reads the sums of a set of rounds once (app.disclosure.queries) and answers every cell a page,
export, report or API call shows: a round's count of responses, a subscale's or a question's n, mean, SD and
95% CI, a question's distribution, the free text — for the whole round or for one category of one split
(source, profession) — and sums of published cells over several rounds (quarters, pools). Every decision is
app.disclosure.rules'; every published cell is announced to observers (the attacker test collects them).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from app.disclosure import queries, rules
from app.feedback import scoring as feedback_rules
from app.feedback.stats import Reliability, attendance_band, reliability, summary

RESPONSES = "responses"
#: The attendance category of responses that did not answer the attendance question.
NO_BAND = "none"


def subscale_measure(key: str) -> str:
    """The measure name of a subscale (key "<instrument code>/<subscale code>")."""
    return f"subscale:{key}"


def item_measure(code: str) -> str:
    """The measure name of a question (by item code)."""
    return f"item:{code}"


@dataclass(frozen=True)
class Part:
    """The responses of one round, or of one category of one split of it."""

    round_id: int
    dimension: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class Stat:
    """One published cell: n, mean, SD and 95% CI of a measure over some parts; all None when hidden."""

    measure: str
    parts: tuple[Part, ...]
    n: int | None = None
    mean: float | None = None
    sd: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    reason: str | None = None  # why it is hidden; None when shown
    sums: tuple[int, float, float] | None = field(default=None, repr=False, compare=False)

    @property
    def shown(self) -> bool:
        return self.reason is None

    @property
    def hidden(self) -> bool:
        return self.reason is not None


@dataclass(frozen=True)
class Distribution:
    """How many gave each stored value of a question (None: hidden); `reason` when the whole question is hidden."""

    measure: str
    parts: tuple[Part, ...]
    counts: dict[int, int | None]
    reason: str | None = None


@dataclass(frozen=True)
class Text:
    """One free-text answer published with a cell; `response_id` never leaves the server (refs are made of it)."""

    item_code: str
    text: str
    review: str
    response_id: str = field(repr=False)


@dataclass(frozen=True)
class Share:
    """How many of a cell's scored responses lie in a concern band of the subscale, of how many; both None when
    hidden (`reason`)."""

    measure: str
    parts: tuple[Part, ...]
    in_band: int | None = None
    n: int | None = None
    reason: str | None = None

    @property
    def shown(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class Published:
    """What observers hear: a shown Stat, a Distribution or the free text of a cell."""

    kind: str  # "stat" | "distribution" | "share" | "text" | "rows" | "pairs" (paired change of two rounds)
    measure: str
    parts: tuple[Part, ...]
    value: object


_observers: list[Callable[[Published], None]] = []
_shuffle = random.SystemRandom().shuffle


@contextmanager
def observe() -> Iterator[list[Published]]:
    """Collect everything published while the block runs (for tests of the policy)."""
    seen: list[Published] = []
    _observers.append(seen.append)
    try:
        yield seen
    finally:
        _observers.remove(seen.append)


def announce(kind: str, measure: str, parts: tuple[Part, ...], value: object) -> None:
    """Tell the observers (`observe`) that a figure of these parts is published."""
    for observer in list(_observers):
        observer(Published(kind, measure, parts, value))


class Release:
    """Every cell of a set of rounds that a view may publish.

    `split` reads the rounds per source and profession (needed only by views that filter on them); `items`
    adds per-question sums and `options` their distributions (the codes of the questions, or all). Rounds
    still open at `now` publish nothing but participation. Seven statements at most, whatever the number of
    rounds.
    """

    def __init__(self, rounds: Sequence, *, k: int, now: datetime, split: bool = False, subscales: bool = True,
                 items: bool = False, options: Iterable[str] | None = None):
        self.k = k
        self.split = split
        self.closed = {r.id: not r.is_open(now) for r in rounds}
        ids = list(self.closed)
        self.instruments = queries.instruments_answered(ids)
        self.definitions = {iid: feedback_rules.definition_from_dict(i.definition)
                            for iid, i in self.instruments.items()}
        # Closed rounds read the sums stored when they closed (app.disclosure.services), the others live.
        stored = [r.id for r in rounds if r.status == "closed"]
        self._counts, self._subscales, self._items = queries.round_sums_with_items(
            ids, split, stored, subscales=subscales or items, items=items)
        options = list(options or ())
        self._options = queries.option_counts(ids, options, split) if options else {}
        self._atoms: dict[int, list[queries.Atom]] = defaultdict(list)
        for atom in self._counts:
            self._atoms[atom[0]].append(atom)
        self._round_split: dict[int, str | None] = {}
        self._options_of: dict[tuple[int, str], list[tuple[queries.Atom, int, int]]] = defaultdict(list)
        for (atom, code, value), n in self._options.items():
            self._options_of[(atom[0], code)].append((atom, value, n))
        # Which subscale each question counts toward (by code), for rule 6.
        self._subscale_of: dict[str, str] = {}
        for definition in self.definitions.values():
            for sub in definition.subscales:
                for code in sub.items:
                    self._subscale_of.setdefault(code, queries.subscale_key(definition.code, sub.code))

    # --- counts ----------------------------------------------------------------------------------

    def subscale_keys(self) -> dict[int, set[str]]:
        """Per round, the subscale keys its responses scored (whatever the instrument version they answered)."""
        keys: dict[int, set[str]] = defaultdict(set)
        for atom, key in self._subscales:
            keys[atom[0]].add(key)
        return keys

    def participation(self, round_id: int) -> int:
        """How many have answered the round: shown while it is open and below k (it says nothing of answers)."""
        return sum(self._counts.get(atom, 0) for atom in self._atoms.get(round_id, ()))

    def _measure_counts(self, round_id: int, measure: str) -> dict[queries.Atom, tuple]:
        """Per atom of the round: the measure's (n, sum, sum of squares)."""
        atoms = self._atoms.get(round_id, ())
        if measure == RESPONSES:
            return {a: (self._counts.get(a, 0), 0.0, 0.0) for a in atoms}
        kind, _sep, key = measure.partition(":")
        source = self._subscales if kind == "subscale" else self._items
        return {a: source[(a, key)][:3] for a in atoms if (a, key) in source}

    @staticmethod
    def _index(dimension: str) -> int:
        return 1 if dimension == rules.SOURCE else 2

    def _categories(self, per_atom: dict[queries.Atom, tuple], dimension: str | None) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        if dimension is not None:
            for atom, value in per_atom.items():
                counts[atom[self._index(dimension)]] += value[0]
        return counts

    def round_split(self, round_id: int) -> str | None:
        """The one split (source or profession) the round publishes for every measure, or None."""
        if not self.split:
            return None
        if round_id not in self._round_split:
            per_atom = self._measure_counts(round_id, RESPONSES)
            splits = {d: self._categories(per_atom, d) for d in rules.DIMENSIONS}
            self._round_split[round_id] = rules.published_split(splits, self.k)
        return self._round_split[round_id]

    def decision(self, round_id: int, measure: str, dimension: str | None = None,
                 category: str | None = None) -> rules.Decision:
        """Whether the cell may be published (rules.cell_decision, plus rule 6 for questions)."""
        if dimension is not None and not self.split:
            raise ValueError("this release does not split rounds")
        per_atom = self._measure_counts(round_id, measure)
        decision = rules.cell_decision(
            closed=self.closed.get(round_id, False), round_total=self.participation(round_id),
            measure_total=sum(v[0] for v in per_atom.values()), categories=self._categories(per_atom, dimension),
            dimension=dimension, category=category, round_split=self.round_split(round_id), k=self.k,
        )
        if decision.shown and measure.startswith("item:"):
            key = self._subscale_of.get(measure.partition(":")[2])
            if key is not None and not rules.items_publishable(self._partial(round_id, key)):
                return rules.Decision(False, rules.PARTIAL)
        return decision

    def _partial(self, round_id: int, key: str) -> int:
        """The round's responses that answered some but not all of the subscale's questions."""
        return sum(self._subscales.get((atom, key), (0, 0.0, 0.0, 0))[3] for atom in self._atoms.get(round_id, ()))

    @staticmethod
    def _in(atom: queries.Atom, dimension: str | None, category: str | None) -> bool:
        if dimension is None:
            return True
        return atom[Release._index(dimension)] == category

    # --- cells -----------------------------------------------------------------------------------

    def stat(self, round_id: int, measure: str, dimension: str | None = None, category: str | None = None) -> Stat:
        """One round's cell of a measure (the whole round, or one category of one split), shown or hidden."""
        parts = (Part(round_id, dimension, category),)
        decision = self.decision(round_id, measure, dimension, category)
        if decision.hidden:
            return Stat(measure, parts, reason=decision.reason)
        n, total, total_sq = 0, 0.0, 0.0
        for atom, (an, at, asq) in self._measure_counts(round_id, measure).items():
            if self._in(atom, dimension, category):
                n, total, total_sq = n + an, total + at, total_sq + asq
        return self._shown(measure, parts, (n, total, total_sq))

    def _shown(self, measure: str, parts: tuple[Part, ...], sums: tuple[int, float, float]) -> Stat:
        return _shown(measure, parts, sums)

    def combine(self, stats: Iterable[Stat]) -> Stat:
        """The sum of published cells of one measure (see `combine`)."""
        return combine(stats)

    def distribution(self, round_id: int, code: str, values: Sequence[int], dimension: str | None = None,
                     category: str | None = None) -> Distribution:
        """How many gave each value of the question in the cell; small counts hidden (rules.hidden_counts)."""
        measure = item_measure(code)
        parts = (Part(round_id, dimension, category),)
        decision = self.decision(round_id, measure, dimension, category)
        if decision.hidden:
            return Distribution(measure, parts, {v: None for v in values}, decision.reason)
        counts = {v: 0 for v in values}
        for atom, value, n in self._options_of.get((round_id, code), ()):
            if self._in(atom, dimension, category):
                counts[value] = counts.get(value, 0) + n
        hidden = rules.hidden_counts(counts, self.k)
        shown = {v: (None if v in hidden else n) for v, n in counts.items()}
        announce("distribution", measure, parts, shown)
        return Distribution(measure, parts, shown)

    def texts(self, round_id: int, codes: Iterable[str], *, released_only: bool, dimension: str | None = None,
              category: str | None = None) -> list[Text] | None:
        """The free-text answers of the cell in random order, or None when the cell is hidden."""
        parts = (Part(round_id, dimension, category),)
        if self.decision(round_id, RESPONSES, dimension, category).hidden:
            return None
        found = [
            Text(code, text, review, response_id)
            for atom, response_id, code, text, review in queries.text_answers([round_id], codes, released_only)
            if self._in(atom, dimension, category)
        ]
        _shuffle(found)
        announce("text", RESPONSES, parts, len(found))
        return found


def _shown(measure: str, parts: tuple[Part, ...], sums: tuple[int, float, float]) -> Stat:
    n, total, total_sq = sums
    if measure == RESPONSES:
        stat = Stat(measure, parts, n=n, sums=sums)
    else:
        mean, sd, low, high = summary(n, total, total_sq)
        stat = Stat(measure, parts, n, mean, sd, low, high, sums=sums)
    announce("stat", measure, parts, stat)
    return stat


def combine(stats: Iterable[Stat]) -> Stat:
    """The cell of several published cells of one measure (a quarter, a pool of groups): only shown cells add up.

    Hidden cells never enter (they could be recovered by subtraction); when none is shown the result is
    hidden with the first one's reason. Shown cells hold k or more responses each, so their sum does too.
    Raises ValueError for cells of different measures.
    """
    stats = list(stats)
    measures = {s.measure for s in stats}
    if len(measures) > 1:
        raise ValueError("cells of different measures do not add up")
    shown = [s for s in stats if s.shown]
    measure = measures.pop() if measures else RESPONSES
    if not shown:
        return Stat(measure, (), reason=stats[0].reason if stats else rules.BELOW_K)
    parts = tuple(p for s in shown for p in s.parts)
    n, total, total_sq = (sum(s.sums[i] for s in shown) for i in range(3))
    return _shown(measure, parts, (int(n), float(total), float(total_sq)))


def whole_round_cells(rounds: Sequence, *, k: int, now: datetime) -> dict[int, dict[str, Stat]]:
    """Per round, each subscale's whole-round cell (no category, no split), shown or hidden — what
    `Release(rounds, split=False).stat(round_id, subscale_measure(key))` gives, for many rounds at little cost.

    For pages that need only whole rounds' subscale means of thousands of rounds (the coordinator's early
    warnings): the same sums (stored for closed rounds, live for the others; at most three statements) and the
    same decision (rules.cell_decision), without the per-category machinery. `rounds` need `id`, `status` and
    `is_open(now)`.
    """
    closed = {r.id: not r.is_open(now) for r in rounds}
    counts, sums = queries.round_sums(list(closed), False, [r.id for r in rounds if r.status == "closed"])
    responses: dict[int, int] = defaultdict(int)
    for atom, n in counts.items():
        responses[atom[0]] += n
    totals: dict[tuple[int, str], list] = {}
    for (atom, key), (n, total, total_sq, _partial) in sums.items():
        cell = totals.setdefault((atom[0], key), [0, 0.0, 0.0])
        cell[0], cell[1], cell[2] = cell[0] + n, cell[1] + total, cell[2] + total_sq
    out: dict[int, dict[str, Stat]] = defaultdict(dict)
    for (round_id, key), (n, total, total_sq) in sorted(totals.items()):  # one order, whatever the rows' order
        measure, parts = subscale_measure(key), (Part(round_id),)
        decision = rules.cell_decision(closed=closed[round_id], round_total=responses.get(round_id, 0),
                                       measure_total=n, categories={}, dimension=None, category=None,
                                       round_split=None, k=k)
        out[round_id][key] = (_shown(measure, parts, (n, total, total_sq)) if decision.shown
                              else Stat(measure, parts, reason=decision.reason))
    return dict(out)
@dataclass(frozen=True)
class AttendanceCells:
    """One round's subscale cells by attendance band: `cells[(band, subscale key)]`, or hidden with `reason`."""

    round_id: int
    cells: dict[tuple[str, str], Stat]
    reason: str | None = None


def attendance_cells(release: Release, codes: Iterable[str]) -> dict[int, AttendanceCells]:
    """Per round of the release, its subscales' cells by band of the answer to the standard attendance question.

    The bands split a round like its sources and professions do, so the same rules hold: the round must be closed
    with k or more responses; when the answers fall in two or more categories (the bands, and "none" for those
    who did not answer), the attendance split must be the one split the round publishes
    (rules.published_split over source, profession and attendance, in that order: a round whose sources or
    professions are published shows no band) and every non-empty category, "none" included, must hold k or
    more; each subscale's cell needs k or more scores in every category. When every response falls in one band
    that band's cell is the round's own. Hidden rounds publish nothing (reason), and no band of a shown round
    is left out, so no sum or difference of the published cells isolates fewer than k responses. Two
    statements, whatever the number of rounds; none when `codes` is empty.
    """
    codes = list(codes)
    ids = list(release.closed)
    counts = queries.attendance_counts(ids, codes)
    sums = queries.attendance_subscale_sums(ids, codes)
    by_round: dict[int, dict[str, dict[str, int]]] = defaultdict(
        lambda: {d: defaultdict(int) for d in rules.ALL_DIMENSIONS})
    for (rid, source, profession, value), n in counts.items():
        split = by_round[rid]
        split[rules.SOURCE][source] += n
        split[rules.PROFESSION][profession] += n
        split[rules.ATTENDANCE][attendance_band(value) or NO_BAND] += n
    measures: dict[tuple[int, str], dict[str, list]] = defaultdict(lambda: defaultdict(lambda: [0, 0.0, 0.0]))
    for (rid, value, key), (n, total, total_sq) in sums.items():
        cell = measures[(rid, key)][attendance_band(value) or NO_BAND]
        cell[0], cell[1], cell[2] = cell[0] + n, cell[1] + total, cell[2] + total_sq
    out: dict[int, AttendanceCells] = {}
    for rid in ids:
        splits = by_round.get(rid)
        if not splits:
            continue
        bands = splits[rules.ATTENDANCE]
        total = sum(bands.values())
        round_split = rules.published_split(splits, release.k, order=rules.ALL_DIMENSIONS)
        reason = None
        if not release.closed[rid]:
            reason = rules.OPEN
        elif not rules.passes(total, release.k):
            reason = rules.BELOW_K
        elif rules.is_split(bands) and round_split != rules.ATTENDANCE:
            # Some band (or those who did not answer) holds fewer than k, or the round's sources or professions
            # are published, and bands beside them could isolate their intersections.
            reason = rules.COMPLEMENT if round_split is None else rules.OTHER_SPLIT
        if reason is not None:
            out[rid] = AttendanceCells(rid, {}, reason)
            continue
        cells: dict[tuple[str, str], Stat] = {}
        for (mrid, key), per_band in measures.items():
            if mrid != rid:
                continue
            categories = {band: value[0] for band, value in per_band.items()}
            for band, value in per_band.items():
                if band == NO_BAND:
                    continue
                parts = (Part(rid, rules.ATTENDANCE, band),)
                shown = rules.cell_decision(
                    closed=True, round_total=total, measure_total=sum(categories.values()), categories=categories,
                    dimension=rules.ATTENDANCE, category=band, round_split=round_split, k=release.k)
                cells[(band, key)] = (_shown(subscale_measure(key), parts, tuple(value)) if shown.shown
                                      else Stat(subscale_measure(key), parts, reason=shown.reason))
        out[rid] = AttendanceCells(rid, cells)
    return out


def alpha_of(score: Stat, items: Sequence[Stat]) -> tuple[Reliability | None, str | None]:
    """Cronbach's alpha of a subscale from its published cell and its questions' published cells (same parts).

    Alpha is a function of the questions' spreads and the score's spread, so it publishes nothing those cells do
    not: it is given only when the score and every question of the subscale are shown (a question is shown beside
    its subscale only when nobody answered part of it, rule 6, so all come from the same responses). Returns
    (reliability, None), or (None, the reason of the first hidden cell).
    """
    for cell in (score, *items):
        if cell.hidden:
            return None, cell.reason
    return reliability(len(items), [cell.sums for cell in items], score.sums), None


def pooled_alpha(cells: Iterable[tuple[Stat, Sequence[Stat]]]) -> Reliability | None:
    """Alpha of the responses of several rounds together, from the rounds whose alpha is published on its own.

    `cells` holds each round's (score cell, question cells), the questions in one order. Only rounds whose every
    cell is shown enter (`combine` adds published cells only), so a pool never rests on a hidden round. None when
    no round enters.
    """
    kept = [(score, items) for score, items in cells if score.shown and all(i.shown for i in items)]
    if not kept:
        return None
    width = len(kept[0][1])
    score = combine(s for s, _items in kept)
    items = [combine(its[i] for _s, its in kept) for i in range(width)]
    return reliability(width, [cell.sums for cell in items], score.sums)


def published_rounds(rounds: Sequence, *, k: int, now: datetime) -> list:
    """The rounds whose answers may be exported one by one (closed, k or more responses), in the given order."""
    release = Release(rounds, k=k, now=now, subscales=False)
    return [r for r in rounds if release.decision(r.id, RESPONSES).shown]


def anonymised_rows(rounds: Sequence, *, k: int, now: datetime) -> dict[int, list[list[tuple[str, int]]]]:
    """Per published round, each response's rated answers [(item code, value)] — shuffled, with no response id.

    Only closed rounds of k or more responses; the order says nothing of who answered or when.
    """
    kept = published_rounds(rounds, k=k, now=now)
    answers = queries.rated_answers([r.id for r in kept])
    out: dict[int, list[list[tuple[str, int]]]] = {}
    for r in kept:
        rows = [sorted(given) for given in answers.get(r.id, {}).values()]
        _shuffle(rows)
        out[r.id] = rows
        announce("rows", RESPONSES, (Part(r.id),), len(rows))
    return out


def anonymised_texts(rounds: Sequence, codes: Iterable[str], *, k: int, now: datetime) -> dict[int, list[Text]]:
    """Per published round, its released free text, shuffled — to be exported apart from any rating."""
    kept = published_rounds(rounds, k=k, now=now)
    out: dict[int, list[Text]] = defaultdict(list)
    for atom, response_id, code, text, review in queries.text_answers([r.id for r in kept], codes, True):
        out[atom[0]].append(Text(code, text, review, response_id))
    for round_id, texts in out.items():
        _shuffle(texts)
        announce("text", RESPONSES, (Part(round_id),), len(texts))
    return dict(out)


def concern_shares(release: Release, round_ids: Iterable[int]) -> dict[tuple[int, str], Share]:
    """Per round (of the release) and subscale with a concern band: how many of its scored responses lie in a
    concern band — shown only where the subscale's cell is (rules.cell_decision) and where neither the count in
    the band nor the count outside it is between 1 and k − 1 (rules.hidden_counts over the two: otherwise the
    one follows from the other and the subscale's n). One statement.
    """
    round_ids = [rid for rid in round_ids if rid in release.closed]
    bands = {
        (iid, queries.subscale_key(d.code, sub.code)): [(b.min, b.max) for b in sub.bands if b.concern]
        for iid, d in release.definitions.items() for sub in d.subscales
    }
    out: dict[tuple[int, str], Share] = {}
    for (round_id, key), (in_band, n) in sorted(queries.concern_counts(round_ids, bands).items()):
        measure = subscale_measure(key)
        parts = (Part(round_id),)
        decision = release.decision(round_id, measure)
        if decision.hidden:
            out[(round_id, key)] = Share(measure, parts, reason=decision.reason)
            continue
        if rules.hidden_counts({"in": in_band, "out": n - in_band}, release.k):
            out[(round_id, key)] = Share(measure, parts, reason=rules.BELOW_K)
            continue
        share = Share(measure, parts, in_band, n)
        announce("share", measure, parts, share)
        out[(round_id, key)] = share
    return out
