"""Paired change between two rounds of one group, through self-generated codes (pure: no Flask, no database).

A member who builds the same code in two rounds (same facts, same programme key) gives two responses that can be
paired without knowing who they are. Per subscale this module gives, over the pairs: the mean difference (second
minus first) with its 95 % CI (t distribution, n − 1 df), and the Jacobson–Truax reliable change index of each
pair, RCI = (x₂ − x₁) / S_diff with S_diff = √2 · SD₁ · √(1 − α) — SD₁ the sample SD of the pairs' first-round
scores, α the subscale's Cronbach's α in the first round — counted as reliably higher (RCI > 1.96), no
reliable change, or reliably lower (RCI < −1.96).

Anonymity (app.disclosure.rules.pairs_publishable and change_counts_publishable): no figure rests on fewer than k
pairs; the responses of either round left unpaired are 0 or at least k (otherwise a round's published mean minus
the pairs' would single them out); the three RCI counts are shown only when each is 0 or at least k. How many
pairs there are, and the match rate, are counts of responses, not answers: they are always shown. The data is
read by app.disclosure.paired (the one door to the answers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.disclosure import rules
from app.feedback.stats import reliability, summary

RELIABLE = 1.96  # |RCI| above this is reliable change (p < .05, two-sided)

# Why a pair of rounds' figures are hidden (the policy is app.disclosure.rules')
FEW_PAIRS = rules.FEW_PAIRS
FEW_UNPAIRED = rules.FEW_UNPAIRED
SMALL_COUNT = rules.SMALL_COUNT


def cronbach_alpha(rows: Sequence[Sequence[float]]) -> float | None:
    """Cronbach's α of complete rows (one per response, one value per item), by the same computation as the
    reliability shown beside the means (app.feedback.stats.reliability, from the items' and scores' sums).
    None with fewer than two items or two rows, or when the total score does not vary."""
    rows = [list(map(float, r)) for r in rows]
    if len(rows) < 2 or not rows[0] or len(rows[0]) < 2:
        return None
    items = len(rows[0])
    if any(len(r) != items for r in rows):
        raise ValueError("every row needs one value per item")
    n = len(rows)
    item_sums = [(n, math.fsum(r[i] for r in rows), math.fsum(r[i] * r[i] for r in rows)) for i in range(items)]
    scores = [math.fsum(r) / items for r in rows]
    return reliability(items, item_sums, (n, math.fsum(scores), math.fsum(s * s for s in scores))).alpha


def sample_sd(values: Sequence[float]) -> float | None:
    """The sample SD (n − 1), None below two values."""
    if len(values) < 2:
        return None
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def s_diff(first: Sequence[float], alpha: float | None) -> float | None:
    """S_diff = √2 · SD₁ · √(1 − α); None when α is unknown or ≥ 1, or the first scores do not vary."""
    sd = sample_sd(first)
    if alpha is None or alpha >= 1 or sd is None or sd <= 0:
        return None
    return math.sqrt(2) * sd * math.sqrt(1 - alpha)


def rci_counts(first: Sequence[float], second: Sequence[float], alpha: float | None) -> tuple[int, int, int] | None:
    """(reliably higher, no reliable change, reliably lower) over the pairs; None when S_diff is undefined."""
    spread = s_diff(first, alpha)
    if spread is None:
        return None
    higher = lower = 0
    for x1, x2 in zip(first, second, strict=True):
        index = (x2 - x1) / spread
        if index > RELIABLE:
            higher += 1
        elif index < -RELIABLE:
            lower += 1
    return higher, len(first) - higher - lower, lower


@dataclass(frozen=True)
class PairedChange:
    """One subscale's paired change between two rounds; the figures are None when hidden (`reason` says why)."""

    pairs: int
    mean_diff: float | None = None
    sd_diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    alpha: float | None = None
    counts: tuple[int, int, int] | None = None  # reliably higher, unchanged, reliably lower
    reason: str | None = None
    counts_reason: str | None = None

    @property
    def shown(self) -> bool:
        return self.reason is None


def paired_change(first: Sequence[float], second: Sequence[float], alpha: float | None, *, scored_first: int,
                  scored_second: int, k: int) -> PairedChange:
    """The paired change of one subscale: `first`/`second` the pairs' scores in order (pair i in both),
    `scored_first`/`scored_second` how many responses of each round have a score for the subscale."""
    if len(first) != len(second):
        raise ValueError("first and second must hold the same pairs")
    n = len(first)
    reason = rules.pairs_publishable(n, scored_first - n, scored_second - n, k)
    if reason:
        return PairedChange(n, reason=reason)
    diffs = [x2 - x1 for x1, x2 in zip(first, second, strict=True)]
    mean, sd, low, high = summary(n, math.fsum(diffs), math.fsum(d * d for d in diffs))
    counts = rci_counts(first, second, alpha)
    counts_reason = None
    if counts is not None and not rules.change_counts_publishable(counts, k):
        counts, counts_reason = None, SMALL_COUNT
    return PairedChange(n, mean, sd, low, high, alpha, counts, None, counts_reason)


def unique_codes(codes: Sequence[str]) -> set[str]:
    """The codes given by exactly one response of a round (a code given twice cannot tell its two people apart,
    so neither is paired)."""
    seen: dict[str, int] = {}
    for code in codes:
        seen[code] = seen.get(code, 0) + 1
    return {code for code, times in seen.items() if times == 1}
