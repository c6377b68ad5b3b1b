"""The attacker test: everything every role can read, from every view, filter, export, report and API call, put
together — and no set of fewer than k responses has a sum (or any other linear combination) that follows.

For generated programmes (random rounds of 2–12 responses, professions, sources, organisations, periods, items
left out, rounds open and closed) the test calls what each page, export, report and API call calls, collects
every number app.disclosure announces, checks each against the truth (so an announcement cannot hide what was
shown), and then asks linear algebra: with the published sums as rows of a matrix over the responses' values,
is any vector supported on fewer than k responses in its row space? Such a vector is something an attacker
could compute about fewer than k people by adding and subtracting published numbers.

Two models: per measure (each response one unknown: its subscale score, or its answer to a question — the
rank test against indicator vectors the issue names), and across measures (each response's answers to every
rated question as unknowns; a subscale row weighs each answered question 1/m, as a score is the mean of the m
questions answered — this catches questions set against their subscale).
"""

from __future__ import annotations

import os
from collections import defaultdict
from itertools import combinations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import disclosure
from app.disclosure.services import refresh_round_aggregates
from app.extensions import db as _db
from tests.disclosure.world import COUNTED, DEF, NUMERIC, SUBSCALES, K, make_world, programmes, read_everything

EXAMPLES = int(os.environ.get("ATTACKER_EXAMPLES", "200"))


# --- the checks ----------------------------------------------------------------------------------

def check_every_number_is_true_and_rests_on_k(world, seen) -> None:
    """Each published number equals the truth for the cell it names, rests on k or more responses, and comes
    from a closed round: an announcement cannot misdescribe what a view printed."""
    closed = {r.id for r in world.rounds if r.status == "closed"}
    for item in seen:
        assert {p.round_id for p in item.parts} <= closed, item
        covered = world.in_parts(item.parts, item.measure if item.kind != "text" else disclosure.RESPONSES)
        if item.kind == "stat":
            values = [r.value(item.measure) for r in covered]
            assert item.value.n == len(values) >= K, item
            if item.measure != disclosure.RESPONSES:
                assert item.value.mean == pytest.approx(float(np.mean(values)), abs=1e-9), item
        elif item.kind == "distribution":
            truth = defaultdict(int)
            for r in covered:
                truth[int(r.value(item.measure))] += 1
            hidden = {v for v, n in item.value.items() if n is None}
            for value, n in item.value.items():
                assert n is None or n == truth[value], item
                assert n is None or n == 0 or n >= K, item
            assert not hidden or sum(truth[v] for v in hidden) >= K or all(truth[v] == 0 for v in item.value
                                                                             if v not in hidden), item
        elif item.kind == "share":  # responses in a concern band, of those scored: neither side below k
            assert item.value.n == len(covered), item
            assert item.value.in_band in range(0, item.value.n + 1), item
            for side in (item.value.in_band, item.value.n - item.value.in_band):
                assert side == 0 or side >= K, item
        else:  # free text or anonymised rows: only of cells of k or more responses
            assert len(world.in_parts(item.parts, disclosure.RESPONSES)) >= K, item


def null_space(rows: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the null space of the rows (columns of the result, one per unknown's row)."""
    if rows.size == 0:
        return np.eye(rows.shape[1])
    _u, s, vt = np.linalg.svd(rows, full_matrices=True)
    rank = int((s > 1e-9 * max(1.0, s.max(initial=0.0))).sum())
    return vt[rank:].T


def isolated_sets(rows: list[np.ndarray], owners: list[str], rounds: dict[str, int]) -> list[tuple[str, ...]]:
    """The sets of fewer than K responses (singletons and pairs, K = 3) about which the rows determine something.

    `owners[i]` is the response unknown i belongs to, `rounds` each response's round. A vector supported on a
    set's unknowns lies in the row space exactly when it is orthogonal to the null space, i.e. when the
    null-space basis restricted to those unknowns has rank below their number. Pairs are looked for within a
    round: every row over several rounds is a sum of single-round rows also published
    (check_sums_of_several_rounds), so the row space is a sum of one space per round, and a vector on two
    rounds' responses would need each half in its own round's space — a determined singleton.
    """
    assert K == 3, "the check enumerates sets of one and two responses"
    basis = null_space(np.array(rows, dtype=float).reshape(len(rows), len(owners)))
    index: dict[str, list[int]] = defaultdict(list)
    for i, owner in enumerate(owners):
        index[owner].append(i)

    def determined(members: tuple[str, ...]) -> bool:
        idx = [i for m in members for i in index[m]]
        block = basis[idx, :]
        return block.shape[1] == 0 or np.linalg.matrix_rank(block, tol=1e-7) < len(idx)

    found = [(person,) for person in sorted(index) if determined((person,))]
    single = {p for (p,) in found}
    by_round: dict[int, list[str]] = defaultdict(list)
    for person in sorted(index):
        if person not in single:
            by_round[rounds[person]].append(person)
    for people in by_round.values():
        found.extend(pair for pair in combinations(people, 2) if determined(pair))
    return found


def check_sums_of_several_rounds(seen) -> None:
    """Every published cell over several rounds (a quarter, a pool) adds up cells each published on its own."""
    single = {(p.measure, p.parts[0]) for p in seen if p.kind == "stat" and len(p.parts) == 1}
    for p in seen:
        if p.kind == "stat" and len(p.parts) > 1:
            assert all((p.measure, part) in single for part in p.parts), p


def per_measure_model(world, seen) -> dict[str, list]:
    """Per measure, the sets of fewer than K responses whose values' combination the published cells determine."""
    by_measure: dict[str, list] = defaultdict(list)
    for item in seen:
        if item.kind in ("stat", "distribution") and item.measure != disclosure.RESPONSES:
            by_measure[item.measure].append(item)
    problems = {}
    for measure, items in by_measure.items():
        population = [r for r in world.responses if r.value(measure) is not None]
        ids = [r.id for r in population]
        position = {rid: i for i, rid in enumerate(ids)}
        rows = []
        for item in items:
            row = np.zeros(len(ids))
            for r in world.in_parts(item.parts, measure):
                row[position[r.id]] = 1.0
            rows.append(row)
        found = isolated_sets(rows, ids, {r.id: r.round_id for r in population})
        if found:
            problems[measure] = found
    return problems


def cross_measure_model(world, seen) -> list:
    """Every rated answer an unknown; subscale cells weigh each answered question 1/m; question cells weigh 1."""
    unknowns = [(r.id, code) for r in world.responses for code in NUMERIC if code in r.answers]
    position = {u: i for i, u in enumerate(unknowns)}
    rows = []
    for item in seen:
        if item.kind != "stat" or item.measure == disclosure.RESPONSES:
            continue
        kind, _sep, key = item.measure.partition(":")
        if kind == "item" and key not in NUMERIC:
            continue
        row = np.zeros(len(unknowns))
        for r in world.in_parts(item.parts, item.measure):
            if kind == "item":
                row[position[(r.id, key)]] = 1.0
            else:
                answered = [c for c in SUBSCALES[key].items if c in r.answers]
                for code in answered:
                    row[position[(r.id, code)]] = 1.0 / len(answered)
        rows.append(row)
    # Reverse-scoring shifts a score by a constant (min + max − answer): it changes no rank, so it is left out.
    return isolated_sets(rows, [owner for owner, _code in unknowns], {r.id: r.round_id for r in world.responses})


# --- the test ------------------------------------------------------------------------------------

@settings(max_examples=EXAMPLES, deadline=None, derandomize=bool(os.environ.get("CI")),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(spec=programmes, aggregated=st.booleans())
def test_no_combination_of_published_numbers_reveals_fewer_than_k_responses(app, db, spec, aggregated):
    with app.test_request_context():
        try:
            world = make_world(spec, attendance=True)
            if aggregated:  # the closed rounds' sums stored, as after they closed (else read live)
                refresh_round_aggregates()
            seen = read_everything(world)
            check_every_number_is_true_and_rests_on_k(world, seen)
            check_sums_of_several_rounds(seen)
            assert per_measure_model(world, seen) == {}
            assert cross_measure_model(world, seen) == []
        finally:
            _db.session.rollback()


def test_the_attacker_test_finds_what_the_old_filters_gave_away(app, db):
    """The check itself can fail: fed the cells the programme page used to show for a round of 3 physicians,
    3 nurses and 1 psychologist (all, physicians, nurses), it finds the psychologist."""
    spec = {"orgs": [{"groups": [{"rounds": [{"closed": True, "mode": "questionnaire", "month": 1, "responses": [
        {"source": "questionnaire", "profession": p, "answers": {"a1": 1 + i, "b1": i}}
        for i, p in enumerate(["physician"] * 3 + ["nurse"] * 3 + ["psychologist"])]}]}]}]}
    with app.test_request_context():
        try:
            world = make_world(spec)
            r = world.rounds[0]
            old = [disclosure.Published("stat", "subscale:attack/B", (disclosure.Part(r.id, *cell),), None)
                   for cell in ((None, None), ("profession", "physician"), ("profession", "nurse"))]
            (lone,) = [t.id for t in world.responses if t.profession == "psychologist"]
            assert per_measure_model(world, old) == {"subscale:attack/B": [(lone,)]}
            # And what the app publishes now for those three views is safe.
            assert per_measure_model(world, read_everything(world)) == {}
        finally:
            _db.session.rollback()


def test_the_cross_measure_model_finds_a_question_set_against_its_subscale(app, db):
    """Questions a1, a2 and a3 published beside subscale A when one response skipped a3: the question totals
    against the subscale total isolate that response. The app hides the questions (rule 6); the model sees it."""
    complete = {"a1": 4, "a2": 2, "a3": 3}
    spec = {"orgs": [{"groups": [{"rounds": [{"closed": True, "mode": "questionnaire", "month": 1, "responses": [
        {"source": "questionnaire", "profession": "nurse", "answers": dict(complete, a1=1 + i)} for i in range(3)
    ] + [{"source": "questionnaire", "profession": "nurse", "answers": {"a1": 5, "a2": 1}}]}]}]}]}
    with app.test_request_context():
        try:
            world = make_world(spec)
            part = (disclosure.Part(world.rounds[0].id),)
            old = [disclosure.Published("stat", m, part, None)
                   for m in ("subscale:attack/A", "item:a1", "item:a2", "item:a3")]
            (skipper,) = [t.id for t in world.responses if "a3" not in t.answers]
            assert (skipper,) in cross_measure_model(world, old)
            published = read_everything(world)
            assert not any(p.measure.startswith("item:a") for p in published if p.kind == "stat")
            assert cross_measure_model(world, published) == []
        finally:
            _db.session.rollback()


def test_a_programme_where_every_category_passes_publishes_the_split(app, db):
    """Not everything is hidden: with every profession at k or more the profession cells are shown."""
    spec = {"orgs": [{"groups": [{"rounds": [{"closed": True, "mode": "questionnaire", "month": 1, "responses": [
        {"source": "questionnaire", "profession": p, "answers": {"a1": 1 + i % 5, "b1": i}}
        for i, p in enumerate(["physician"] * 3 + ["nurse"] * 4)]}]}]}]}
    with app.test_request_context():
        try:
            world = make_world(spec)
            seen = read_everything(world)
            shown = {p.parts[0].category for p in seen if p.kind == "stat" and p.measure == "subscale:attack/B"
                     and len(p.parts) == 1 and p.parts[0].dimension == "profession"}
            assert shown == {"physician", "nurse"}
            check_every_number_is_true_and_rests_on_k(world, seen)
            assert per_measure_model(world, seen) == {} and cross_measure_model(world, seen) == []
        finally:
            _db.session.rollback()


def _banded(seen) -> set[tuple[int, str]]:
    return {(p.parts[0].round_id, p.parts[0].category) for p in seen if p.kind == "stat" and len(p.parts) == 1
            and p.parts[0].dimension == disclosure.ATTENDANCE}


def test_a_round_whose_every_attendance_band_passes_publishes_its_bands(app, db):
    """Not everything is hidden: one profession, one source, and bands 1–2 and 5 of three and four responses."""
    spec = {"orgs": [{"groups": [{"rounds": [{"closed": True, "mode": "questionnaire", "month": 1, "responses": [
        {"source": "questionnaire", "profession": "nurse", "answers": {"a1": 1 + i % 5, "b1": i, "m1": m}}
        for i, m in enumerate([1, 2, 1, 5, 5, 5, 5])]}]}]}]}
    with app.test_request_context():
        try:
            world = make_world(spec, attendance=True)
            seen = read_everything(world)
            assert {band for _r, band in _banded(seen)} == {"1-2", "5"}
            check_every_number_is_true_and_rests_on_k(world, seen)
            check_sums_of_several_rounds(seen)
            assert per_measure_model(world, seen) == {} and cross_measure_model(world, seen) == []
        finally:
            _db.session.rollback()


def test_attendance_bands_beside_published_professions_would_isolate_one_and_are_not_published(app, db):
    """Three physicians who all came once or twice, four nurses of whom one did: the professions and the bands
    each hold three or more, but published together the nurses minus band 5 is that one nurse. The round
    publishes its professions (the first split that passes), so it shows no band."""
    spec = {"orgs": [{"groups": [{"rounds": [{"closed": True, "mode": "questionnaire", "month": 1, "responses": [
        {"source": "questionnaire", "profession": p, "answers": {"a1": 1 + i % 5, "b1": i, "m1": m}}
        for i, (p, m) in enumerate([("physician", 1)] * 3 + [("nurse", 2)] + [("nurse", 5)] * 3)]}]}]}]}
    with app.test_request_context():
        try:
            world = make_world(spec, attendance=True)
            r = world.rounds[0]
            both = [disclosure.Published("stat", "subscale:attack/B", (disclosure.Part(r.id, *cell),), None)
                    for cell in ((None, None), ("profession", "physician"), ("profession", "nurse"),
                                 ("attendance", "1-2"), ("attendance", "5"))]
            (lone,) = [t.id for t in world.responses if t.profession == "nurse" and t.answers["m1"] == 2]
            assert per_measure_model(world, both) == {"subscale:attack/B": [(lone,)]}
            seen = read_everything(world)
            assert _banded(seen) == set()
            assert per_measure_model(world, seen) == {}
        finally:
            _db.session.rollback()


assert set(COUNTED) >= set(NUMERIC) and DEF.code == "attack"
