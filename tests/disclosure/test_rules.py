"""The disclosure policy without a database: the cell rule, one split per round, distribution counts, questions
beside their subscale, and no reopening — each restated from DOMAIN.md and checked over many cases."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given
from hypothesis import strategies as st

from app.disclosure import rules

K = 3
counts_st = st.dictionaries(st.sampled_from(["physician", "nurse", "psychologist", "unknown"]),
                            st.integers(0, 12), min_size=1)


def decide(closed=True, round_total=9, measure_total=9, categories=None, dimension=None, category=None,
           round_split=None, k=K):
    return rules.cell_decision(closed=closed, round_total=round_total, measure_total=measure_total,
                               categories=categories or {}, dimension=dimension, category=category,
                               round_split=round_split, k=k)


def test_an_open_round_publishes_nothing_whatever_its_size():
    assert decide(closed=False, round_total=50, measure_total=50).reason == rules.OPEN


def test_a_round_or_measure_below_k_publishes_nothing():
    assert decide(round_total=2, measure_total=2).reason == rules.BELOW_K
    assert decide(round_total=9, measure_total=2).reason == rules.FEW_SCORES
    assert decide(round_total=3, measure_total=3).shown


def test_the_issues_round_of_three_physicians_three_nurses_and_one_psychologist_shows_no_profession():
    split = {"physician": 3, "nurse": 3, "psychologist": 1}
    round_split = rules.published_split({rules.PROFESSION: split}, K)
    assert round_split is None
    for profession in split:
        found = decide(round_total=7, measure_total=7, categories=split, dimension=rules.PROFESSION,
                       category=profession, round_split=round_split)
        assert found.hidden and found.reason in (rules.BELOW_K, rules.COMPLEMENT)
    assert decide(round_total=7, measure_total=7).shown  # the round as a whole still shows


def test_unknown_professions_are_a_category_like_any_other():
    split = {"physician": 3, "nurse": 3, "unknown": 2}
    assert rules.published_split({rules.PROFESSION: split}, K) is None


@given(counts_st, counts_st)
def test_at_most_one_split_is_published_and_only_when_every_category_passes(sources, professions):
    found = rules.published_split({rules.SOURCE: sources, rules.PROFESSION: professions}, K)
    if found is not None:
        chosen = {rules.SOURCE: sources, rules.PROFESSION: professions}[found]
        assert sum(1 for n in chosen.values() if n) >= 2
        assert all(n == 0 or n >= K for n in chosen.values())
    # The source split comes first when both could be published.
    if rules.all_categories_pass(sources, K) and rules.is_split(sources):
        assert found == rules.SOURCE


@given(counts_st, st.booleans())
def test_every_published_category_cell_is_k_or_more_or_the_whole_measure(categories, split_published):
    total = sum(categories.values())
    round_split = rules.PROFESSION if split_published else None
    for category, n in categories.items():
        found = decide(round_total=total, measure_total=total, categories=categories, dimension=rules.PROFESSION,
                       category=category, round_split=round_split)
        if found.shown:
            assert n >= K
            assert n == total or (split_published and rules.all_categories_pass(categories, K))


@given(st.dictionaries(st.integers(0, 10), st.integers(0, 15), min_size=1), st.integers(1, 5))
def test_hidden_distribution_counts_hold_k_together_and_no_shown_count_is_small(counts, k):
    hidden = rules.hidden_counts(counts, k)
    assert all(counts[v] > 0 for v in hidden)  # zeros stay shown
    assert all(counts[v] == 0 or counts[v] >= k for v in counts if v not in hidden)
    if hidden:
        everything_else_hidden = all(counts[v] == 0 for v in counts if v not in hidden)
        assert sum(counts[v] for v in hidden) >= k or everything_else_hidden
    # Secondary suppression takes the smallest counts: nothing hidden is larger than a shown one it could replace.
    if hidden and any(counts[v] >= k for v in counts if v not in hidden):
        assert max(counts[v] for v in hidden) <= min(counts[v] for v in counts if v not in hidden and counts[v])


def test_one_small_count_is_not_left_alone_to_be_worked_out_from_the_total():
    assert rules.hidden_counts({1: 1, 2: 4, 3: 5}, 3) == {1, 2}
    assert rules.hidden_counts({1: 0, 2: 3, 3: 5}, 3) == set()
    assert rules.hidden_counts({1: 1, 2: 1, 3: 1}, 3) == {1, 2, 3}


def test_questions_show_beside_their_subscale_only_when_no_one_answered_part_of_it():
    assert rules.items_publishable(0)
    assert not rules.items_publishable(1) and not rules.items_publishable(7)


def test_a_round_may_be_extended_only_while_open():
    assert rules.may_extend(closed=False) and not rules.may_extend(closed=True)


@given(st.lists(st.integers(0, 6), min_size=2, max_size=5))
def test_published_category_cells_never_difference_down_below_k(sizes):
    """Any sum and difference of the published cells of one round (total and categories) covers 0 or k+ people."""
    categories = {f"c{i}": n for i, n in enumerate(sizes)}
    total = sum(sizes)
    round_split = rules.published_split({rules.PROFESSION: categories}, K)
    shown = [frozenset(range(total))] if rules.passes(total, K) else []
    start = 0
    members = {}
    for name, n in categories.items():
        members[name] = frozenset(range(start, start + n))
        start += n
        if decide(round_total=total, measure_total=total, categories=categories, dimension=rules.PROFESSION,
                  category=name, round_split=round_split).shown:
            shown.append(members[name])
    # Differences of nested published sets, and unions of disjoint ones: never 1..k-1 people.
    for a, b in combinations(shown, 2):
        for derived in (a - b, b - a, a | b):
            assert len(derived) == 0 or len(derived) >= K
