"""Disclosure control: the one place through which every published aggregate of feedback answers passes.

rules.py holds the policy (pure), queries.py the only SQL that sums answers, release.py the cells views ask
for. Pages, exports, the quarterly report, charts, early warnings and the JSON API read answers only here.
"""

from app.disclosure.release import (
    RESPONSES,
    Distribution,
    Part,
    Published,
    Release,
    Share,
    Stat,
    Text,
    alpha_of,
    anonymised_rows,
    anonymised_texts,
    attendance_cells,
    combine,
    concern_shares,
    item_measure,
    observe,
    pooled_alpha,
    published_rounds,
    subscale_measure,
    whole_round_cells,
)
from app.disclosure.rules import (
    ATTENDANCE,
    BELOW_K,
    COMPLEMENT,
    FEW_SCORES,
    OPEN,
    OTHER_SPLIT,
    PARTIAL,
    PROFESSION,
    REASONS,
    SOURCE,
)

__all__ = [
    "ATTENDANCE", "BELOW_K", "COMPLEMENT", "FEW_SCORES", "OPEN", "OTHER_SPLIT", "PARTIAL", "PROFESSION", "REASONS",
    "RESPONSES", "SOURCE", "Distribution", "Part", "Published", "Release", "Share", "Stat", "Text", "alpha_of",
    "anonymised_rows", "anonymised_texts", "attendance_cells", "combine", "concern_shares", "item_measure", "observe",
    "pooled_alpha", "published_rounds", "subscale_measure", "whole_round_cells",
]
