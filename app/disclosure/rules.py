"""The disclosure policy, pure: which aggregate of anonymous answers may be published, and which must not.

No Flask, no database; counts and the threshold k are passed in. Every page, export, report, chart and API
call that shows numbers computed from answers gets them through app.disclosure, which applies these rules.

The policy in plain words (README, "Anonymity"):

1. *Closed rounds only.* A round's answers are published only once it has closed; while it is open only
   participation (how many have answered) shows. Otherwise looking before and after one more submission
   gives that person's answers away.
2. *Cell rule.* No published number (count, mean, SD, confidence interval, distribution count) rests on
   fewer than k responses: a round below k publishes nothing; a subscale or question that fewer than k
   responses answered publishes nothing.
3. *One breakdown per round.* A round's responses can be split by the respondents' profession or by source
   (questionnaire, interview). A round publishes the cells of at most one such split, the same for every
   measure, and only where every non-empty category of it holds k or more responses (statistical offices
   call this publishing only category sets in which every cell passes). Then every published cell of a
   round is a union of categories of k or more responses, and no sum, difference or other combination of
   published cells can isolate fewer than k responses.
4. *Aggregates of several rounds* (quarters, pools over groups, organisations, periods) add up only cells
   that are published on their own, so a hidden round or category never enters a total from which it
   could be subtracted.
5. *Distribution counts.* A count of answers below k is hidden, and so are the smallest other counts of
   the same question until the hidden ones hold k or more answers together (secondary suppression), so
   no hidden count follows from the total minus the shown ones.
6. *Questions beside their subscale.* Each response scores the mean of the subscale questions it answered,
   so the question totals set against the subscale's total leave a combination of the responses that
   answered only part of the subscale. A subscale's questions are therefore published only in rounds where
   every response that answered any of them answered all of them.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

# Why a number is not published (the pages turn each code into a sentence).
OPEN = "open"  # the round has not closed yet: only participation shows
BELOW_K = "below_k"  # fewer than k responses in the round or in the chosen category
COMPLEMENT = "complement"  # another category of the same split is below k: it could be worked out
FEW_SCORES = "few_scores"  # k responses or more, but fewer than k of them answered this subscale or question
PARTIAL = "partial"  # someone answered part of the subscale: its questions could be set against its score
OTHER_SPLIT = "other_split"  # the round publishes another split (sources or professions): no attendance bands
REASONS = (OPEN, BELOW_K, COMPLEMENT, FEW_SCORES, PARTIAL, OTHER_SPLIT)

# The ways a round's responses can be split, in the order a round's one published split is chosen.
SOURCE = "source"
PROFESSION = "profession"
DIMENSIONS = (SOURCE, PROFESSION)
# The answer to the standard attendance question (its band, or none) splits a round too. It comes last: a round
# publishes its attendance bands only when neither its sources nor its professions are published, so adding it
# never changes which of those a round publishes (rule 3 holds across all three).
ATTENDANCE = "attendance"
ALL_DIMENSIONS = (*DIMENSIONS, ATTENDANCE)


def passes(n: int, k: int) -> bool:
    """Whether a cell of n responses may be published on its own (n >= k, and k is at least 1)."""
    return n >= max(k, 1)


def all_categories_pass(counts: Mapping[Hashable, int], k: int) -> bool:
    """Whether every non-empty category holds k or more responses (empty categories are harmless)."""
    return all(n == 0 or passes(n, k) for n in counts.values())


def is_split(counts: Mapping[Hashable, int]) -> bool:
    """Whether the categories really split the responses (two or more of them are non-empty)."""
    return sum(1 for n in counts.values() if n > 0) >= 2


def published_split(splits: Mapping[str, Mapping[Hashable, int]], k: int,
                    order: tuple[str, ...] = DIMENSIONS) -> str | None:
    """The one split of a round whose categories may be published, or None.

    `splits` maps each dimension to its categories' response counts (the round's responses). A dimension
    that does not split the responses (one non-empty category) publishes nothing the total does not, so it
    never counts. Of the dimensions that do split them, the first in `order` whose every non-empty category
    passes is published; no second one is, because two splits together can isolate their intersections (the
    physicians among the interviewed, say). Every measure of the round uses this same split (or none).
    """
    for dimension in order:
        counts = splits.get(dimension, {})
        if is_split(counts) and all_categories_pass(counts, k):
            return dimension
    return None


@dataclass(frozen=True)
class Decision:
    """Whether one cell may be published, and why not."""

    shown: bool
    reason: str | None = None

    @property
    def hidden(self) -> bool:
        return not self.shown


SHOWN = Decision(True)


def cell_decision(*, closed: bool, round_total: int, measure_total: int, categories: Mapping[Hashable, int],
                  dimension: str | None, category: Hashable | None, round_split: str | None, k: int) -> Decision:
    """May the cell (one round, one measure, optionally one category of one split) be published?

    `round_total` is the round's responses, `measure_total` those with a value for the measure (every response
    for the count of responses), `categories` the measure's counts per category of `dimension` (empty without
    one), `round_split` the round's published split (published_split of its responses). Raises ValueError
    for an unknown dimension.
    """
    if dimension is not None and dimension not in ALL_DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    if not closed:
        return Decision(False, OPEN)
    if not passes(round_total, k):
        return Decision(False, BELOW_K)
    if not passes(measure_total, k):
        return Decision(False, FEW_SCORES)
    if dimension is None:
        return SHOWN
    n = categories.get(category, 0)
    if not is_split(categories):
        # The category holds all of the measure's values or none: the same number as the total, or no number.
        return SHOWN if n > 0 else Decision(False, BELOW_K)
    if not passes(n, k):
        return Decision(False, BELOW_K)
    if round_split != dimension or not all_categories_pass(categories, k):
        return Decision(False, COMPLEMENT)
    return SHOWN


def hidden_counts(counts: Mapping[Hashable, int], k: int) -> set[Hashable]:
    """The distribution counts to hide: those below k, then the smallest others until the hidden hold k or more.

    Zero counts stay shown (no one chose the option). When the hidden counts cannot reach k even with every
    other count hidden, everything non-zero is hidden. Ties are broken by the key's order, so the result is
    the same on every call.
    """
    hidden = {key for key, n in counts.items() if 0 < n < k}
    if not hidden:
        return hidden
    others = sorted((n, str(key), key) for key, n in counts.items() if n >= k)
    while sum(counts[key] for key in hidden) < k and others:
        hidden.add(others.pop(0)[2])
    return hidden


def items_publishable(partial: int) -> bool:
    """Whether a subscale's questions may be published beside its score.

    `partial` counts the round's responses that answered some but not all of the subscale's questions. With
    none, every response that answered the subscale answered all of its questions, so the subscale's total is
    exactly the questions' totals divided by their number and adds nothing to them. With some, the question
    totals set against the subscale's total (each response scoring the mean of the questions it answered)
    leave a combination of a few responses — those who skipped, or those who answered a question that is
    itself hidden for having fewer than k answers.
    """
    return partial == 0


def may_extend(closed: bool) -> bool:
    """A round may get a later closing time only while it is open: once closed its results may have been read,
    and answers added after that could be worked out by comparing the two readings."""
    return not closed


# --- paired change (self-generated codes: app.trends.paired) ---------------------------------------

FEW_PAIRS = "few_pairs"
FEW_UNPAIRED = "few_unpaired"
SMALL_COUNT = "small_count"


def pairs_publishable(pairs: int, unpaired_first: int, unpaired_second: int, k: int) -> str | None:
    """Why the paired figures may not be shown (None: they may): at least k pairs, and the unpaired responses of
    each round either none or at least k."""
    if pairs < k:
        return FEW_PAIRS
    if 0 < unpaired_first < k or 0 < unpaired_second < k:
        return FEW_UNPAIRED
    return None


def change_counts_publishable(counts: tuple[int, int, int], k: int) -> bool:
    """The RCI counts are shown only when each is 0 or at least k (one small count could be found from the rest)."""
    return all(c == 0 or c >= k for c in counts)


def linkable_rounds(order: Sequence[Hashable], codes: Mapping[Hashable, set[str]], totals: Mapping[Hashable, int],
                    k: int) -> list[Hashable]:
    """The rounds whose codes a per-response export may show, taken one by one in `order` (the order they closed).

    A code shown in two rounds pairs their responses as the paired change of group trends does, so every two rounds
    that share a code must pass `pairs_publishable` (k or more pairs; the responses of each left unpaired none or k
    or more) — otherwise a person who answered both rounds (or only one) would stand out. A round is kept when it
    passes with every round kept before it (rounds sharing no code link nobody); one that does not shows no code.
    Taking rounds in the order they closed makes the choice of an earlier round never change when later rounds
    close, so two exports made at different times cannot be combined into a pair of rounds that neither shows.
    `codes` are each round's codes given once (app.trends.paired.unique_codes), `totals` its responses.
    """
    kept: list[Hashable] = []
    for round_id in order:
        mine = codes.get(round_id, set())
        fits = True
        for other in kept:
            pairs = len(mine & codes.get(other, set()))
            if pairs and pairs_publishable(pairs, totals.get(other, 0) - pairs, totals.get(round_id, 0) - pairs, k):
                fits = False
                break
        if fits:
            kept.append(round_id)
    return kept
