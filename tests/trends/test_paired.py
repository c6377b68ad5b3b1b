"""Paired change through self-generated codes: the statistics against numpy/scipy, the anonymity of pairs, the
code's life from the answer page to the stored response, and the group trends page."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from app.disclosure import paired as paired_queries
from app.disclosure import rules as disclosure_rules
from app.errors import DomainError
from app.extensions import db as _db
from app.feedback import rules as feedback_rules
from app.feedback.models import Draft, Response
from app.feedback.services.responses import submit_response
from app.timeutil import utcnow
from app.trends import group_queries, paired
from tests.factories import CODED, bearer_headers, code_of, consecutive_rounds, make_instrument
from tests.querylog import recorded_statements
from tests.reference_stats import numpy_alpha

K = 3


def code(*facts: str) -> str:
    return code_of(*facts, key="tests")

# --- pure: the statistics against an independent computation ------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=3, max_value=40), st.integers(min_value=2, max_value=8), st.integers(0, 10**6))
def test_alpha_equals_numpy(n, items, seed):
    rng = np.random.default_rng(seed)
    trait = rng.normal(size=(n, 1))
    rows = np.clip(np.round(3 + trait + rng.normal(scale=0.8, size=(n, items))), 1, 5)
    expected = numpy_alpha(rows)[0] if rows.sum(axis=1).var(ddof=1) > 0 else None
    got = paired.cronbach_alpha(rows.tolist())
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-9)


def test_alpha_undefined_cases():
    assert paired.cronbach_alpha([[1, 2]]) is None  # one response
    assert paired.cronbach_alpha([[1], [2], [3]]) is None  # one item
    assert paired.cronbach_alpha([[2, 2], [2, 2], [2, 2]]) is None  # no variation
    with pytest.raises(ValueError):
        paired.cronbach_alpha([[1, 2], [1]])


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=3, max_value=30), st.integers(0, 10**6), st.floats(min_value=-0.5, max_value=0.95))
def test_paired_change_equals_scipy(n, seed, alpha):
    rng = np.random.default_rng(seed)
    first = rng.integers(1, 6, size=n) + rng.integers(0, 3, size=n) / 3
    second = first + rng.normal(scale=1.2, size=n)
    change = paired.paired_change(first.tolist(), second.tolist(), alpha, scored_first=n, scored_second=n, k=K)
    diffs = second - first
    assert change.pairs == n
    assert change.mean_diff == pytest.approx(diffs.mean(), abs=1e-9)
    if np.isclose(diffs.std(ddof=1), 0):
        return
    half = scipy_stats.t.ppf(0.975, n - 1) * diffs.std(ddof=1) / math.sqrt(n)
    assert change.ci_low == pytest.approx(diffs.mean() - half, abs=1e-9)
    assert change.ci_high == pytest.approx(diffs.mean() + half, abs=1e-9)
    sd1 = first.std(ddof=1)
    if sd1 == 0:
        assert change.counts is None and change.counts_reason is None
        return
    rci = diffs / (math.sqrt(2) * sd1 * math.sqrt(1 - alpha))
    expected = (int((rci > 1.96).sum()), int((np.abs(rci) <= 1.96).sum()), int((rci < -1.96).sum()))
    if all(c == 0 or c >= K for c in expected):
        assert change.counts == expected
    else:
        assert change.counts is None and change.counts_reason == paired.SMALL_COUNT


@pytest.mark.parametrize(("pairs", "first", "second", "reason"), [
    (2, 2, 2, paired.FEW_PAIRS),          # below k pairs
    (3, 3, 3, None),                      # k pairs, nobody unpaired
    (3, 4, 3, paired.FEW_UNPAIRED),       # one of the first round unpaired: the pairs' mean would single them out
    (3, 3, 5, paired.FEW_UNPAIRED),       # two of the second round
    (3, 6, 6, None),                      # k unpaired in each
])
def test_figures_need_k_pairs_and_no_small_remainder(pairs, first, second, reason):
    assert disclosure_rules.pairs_publishable(pairs, first - pairs, second - pairs, K) == reason


@pytest.mark.parametrize(("counts", "shown"), [((0, 5, 0), True), ((3, 3, 3), True), ((1, 4, 0), False),
                                                ((0, 7, 2), False), ((0, 0, 0), True)])
def test_rci_counts_shown_only_when_each_is_zero_or_k(counts, shown):
    assert disclosure_rules.change_counts_publishable(counts, K) is shown


def test_a_code_given_twice_in_a_round_pairs_nobody():
    assert paired.unique_codes(["x", "y", "x", "z"]) == {"y", "z"}


@pytest.mark.parametrize(("asked", "value", "stored"), [
    (False, "a" * 64, None), (True, None, None), (True, "  ", None), (True, "AB" * 32, "ab" * 32),
])
def test_response_code_rule(asked, value, stored):
    assert feedback_rules.response_code(asked, value) == stored


@pytest.mark.parametrize("value", ["xyz", "g" * 64, "a" * 63, "a" * 65])
def test_response_code_rule_refuses_what_the_page_cannot_make(value):
    with pytest.raises(ValueError):
        feedback_rules.response_code(True, value)


def test_code_key_is_configured_or_derived_from_the_secret():
    assert feedback_rules.code_key("programme-key", "secret") == "programme-key"
    derived = feedback_rules.code_key("", "secret")
    assert derived == feedback_rules.code_key(None, "secret") != feedback_rules.code_key("", "other secret")


# --- with the database -----------------------------------------------------------------------------


def answers_from(rng, n):
    return [{code: str(int(v)) for code, v in zip(("a1", "a2", "a3", "b1", "b2"), rng.integers(1, 6, size=5),
                                                   strict=True)} for _ in range(n)]


def submit_all(feedback_round, people, answers, codes, close=True):
    for person, given_answers, code in zip(people, answers, codes, strict=True):
        submit_response(person, feedback_round, given_answers, utcnow(), code=code)
    if close:
        feedback_round.close(utcnow())
    _db.session.flush()


def scores_of(answers, sub):
    """The subscale score of each response, computed here from the answers (a2 reversed on 1..5)."""
    out = []
    for given_answers in answers:
        values = [6 - int(given_answers[c]) if c == "a2" else int(given_answers[c]) for c in sub]
        out.append(sum(values) / len(values))
    return np.array(out)


@pytest.fixture
def people(db, group, crew):
    return crew  # eight members


def test_paired_figures_equal_numpy_on_the_database(db, group, people, coordinator):
    instrument = make_instrument(CODED)
    first, second = consecutive_rounds(group, people, instrument)
    rng = np.random.default_rng(7)
    answers1, answers2 = answers_from(rng, 8), answers_from(rng, 8)
    codes = [code(str(i), "12", "x") for i in range(8)]
    submit_all(first, people, answers1, codes)
    submit_all(second, people, answers2, list(reversed(codes)))  # the same people, answering in another order
    trend = group_queries.group_trend(group, k=K)
    [pair] = trend.pairs
    assert (pair.first_number, pair.second_number, pair.pairs, pair.match_rate) == (1, 2, 8, 1.0)
    by_key = {s.key: s.change for s in pair.subscales}
    a1, a2 = scores_of(answers1, ("a1", "a2", "a3")), scores_of(answers2, ("a1", "a2", "a3"))
    # Pairs by code: person i answered round 2 as the (7 - i)th submission, with the same code.
    x1, x2 = a1, a2[::-1]
    diffs = x2 - x1
    change = by_key["coded/A"]
    assert change.shown
    assert change.mean_diff == pytest.approx(diffs.mean(), abs=1e-9)
    half = scipy_stats.t.ppf(0.975, 7) * diffs.std(ddof=1) / math.sqrt(8)
    assert (change.ci_low, change.ci_high) == (pytest.approx(diffs.mean() - half, abs=1e-9),
                                               pytest.approx(diffs.mean() + half, abs=1e-9))
    rows = np.array([[int(a["a1"]), 6 - int(a["a2"]), int(a["a3"])] for a in answers1])
    assert change.alpha == pytest.approx(numpy_alpha(rows)[0], abs=1e-9)


def test_shown_paired_figures_are_announced_with_both_rounds_and_hidden_ones_are_not(db, group, people):
    from app import disclosure

    instrument = make_instrument(CODED)
    first, second = consecutive_rounds(group, people, instrument)
    rng = np.random.default_rng(13)
    codes = [code(str(i), "5", "w") for i in range(8)]
    submit_all(first, people, answers_from(rng, 8), codes)
    submit_all(second, people, answers_from(rng, 8), codes)
    with disclosure.observe() as seen:
        [pair] = group_queries.group_trend(group, k=K).pairs
    told = {(p.measure, p.parts): p.value for p in seen if p.kind == "pairs"}
    both = (disclosure.Part(first.id), disclosure.Part(second.id))
    assert told == {(disclosure.subscale_measure(s.key), both): s.change for s in pair.subscales}
    assert len(told) == 2 and all(change.pairs == 8 for change in told.values())
    with disclosure.observe() as seen:
        group_queries.group_trend(group, k=9)  # fewer than k pairs: nothing shown, nothing told
    assert [p for p in seen if p.kind == "pairs"] == []


def test_codes_pair_only_the_same_facts_and_small_remainders_hide_figures(db, group, people):
    instrument = make_instrument(CODED)
    first, second = consecutive_rounds(group, people, instrument)
    rng = np.random.default_rng(3)
    same = [code(str(i), "3", "y") for i in range(8)]
    changed = [*same[:7], code("other", "facts", "z")]  # the last person gave other facts in round 2
    submit_all(first, people, answers_from(rng, 8), same)
    submit_all(second, people, answers_from(rng, 8), changed)
    [pair] = group_queries.group_trend(group, k=K).pairs
    assert pair.pairs == 7
    # One response of each round is left unpaired: the figures would single it out.
    assert {s.change.reason for s in pair.subscales} == {paired.FEW_UNPAIRED}


def test_open_rounds_and_instruments_without_codes_show_no_figures(db, group, people):
    plain = make_instrument({**CODED, "code": "plain", "self_generated_code": False})
    first, second = consecutive_rounds(group, people, plain)
    rng = np.random.default_rng(5)
    codes = [code(str(i), "1", "a") for i in range(8)]
    submit_all(first, people, answers_from(rng, 8), codes)
    assert _db.session.scalars(sa.select(Response.code).where(Response.round_id == first.id)).all() == [None] * 8
    with recorded_statements(_db.engine) as statements:
        trend = group_queries.group_trend(group, k=K)
    assert trend.pairs == []
    assert not any("responses.code" in s for s in statements)  # no statement of the pairing runs


def test_a_still_open_round_hides_the_pair(db, group, people):
    instrument = make_instrument(CODED)
    first, second = consecutive_rounds(group, people, instrument)
    rng = np.random.default_rng(9)
    codes = [code(str(i), "9", "q") for i in range(8)]
    submit_all(first, people, answers_from(rng, 8), codes)
    submit_all(second, people, answers_from(rng, 8), codes, close=False)
    [pair] = group_queries.group_trend(group, k=K).pairs
    assert pair.pairs == 8 and pair.reason == paired_queries.ROUND_HIDDEN and pair.subscales == []


def test_a_malformed_code_is_refused_and_nothing_is_stored(db, group, people):
    instrument = make_instrument(CODED)
    first, _second = consecutive_rounds(group, people, instrument)
    with pytest.raises(DomainError) as refused:
        submit_response(people[0], first, answers_from(np.random.default_rng(1), 1)[0], utcnow(), code="not-a-code")
    assert refused.value.field == "code"
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 0


def test_the_answer_page_sends_the_code_and_drafts_never_hold_it(db, group, people, auth, client):
    instrument = make_instrument(CODED)
    first, _second = consecutive_rounds(group, people, instrument)
    _db.session.commit()
    auth.login(people[0])
    page = client.get(f"/rounds/{first.id}/answer")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="personal-code"' in html and 'name="code"' in html
    assert 'id="code-mother"' in html and 'name="code-mother"' not in html  # the facts have no name: never sent
    answers = {f"a-{k}": v for k, v in answers_from(np.random.default_rng(2), 1)[0].items()}
    built = code("li", "7", "京")
    saved = client.post(f"/rounds/{first.id}/answer", data={**answers, "code": built, "action": "save"})
    assert saved.status_code == 302
    draft = _db.session.scalar(sa.select(Draft).where(Draft.round_id == first.id))
    assert built not in str(draft.answers)
    refused = client.post(f"/rounds/{first.id}/answer", data={**answers, "code": "zz", "action": "submit"})
    assert refused.status_code == 422
    assert "personal code" in refused.get_data(as_text=True)
    done = client.post(f"/rounds/{first.id}/answer", data={**answers, "code": built.upper(), "action": "submit"})
    assert done.status_code == 200
    assert _db.session.scalars(sa.select(Response.code).where(Response.round_id == first.id)).all() == [built]


def test_the_page_without_codes_has_no_code_fields(db, group, people, auth, client):
    plain = make_instrument({**CODED, "code": "plain", "self_generated_code": False})
    first, _second = consecutive_rounds(group, people, plain)
    _db.session.commit()
    auth.login(people[0])
    html = client.get(f"/rounds/{first.id}/answer").get_data(as_text=True)
    assert "personal-code" not in html and 'name="code"' not in html


def test_group_trends_page_shows_the_pairs_in_both_languages(db, group, people, coordinator, auth, client):
    instrument = make_instrument(CODED)
    first, second = consecutive_rounds(group, people, instrument)
    rng = np.random.default_rng(11)
    codes = [code(str(i), "5", "w") for i in range(8)]
    submit_all(first, people, answers_from(rng, 8), codes)
    submit_all(second, people, answers_from(rng, 8), codes)
    _db.session.commit()
    auth.login(coordinator)
    html = client.get(f"/groups/{group.id}/trends").get_data(as_text=True)
    assert 'id="paired"' in html and 'data-pair-count="8"' in html and "8 pairs" in html
    assert 'data-subscale="coded/A"' in html
    zh = client.get(f"/groups/{group.id}/trends", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "配对" in zh



def test_the_api_gives_the_key_and_takes_the_code(db, group, people, app):
    instrument = make_instrument(CODED)
    first, _second = consecutive_rounds(group, people, instrument)
    _db.session.commit()
    client = app.test_client()
    headers = bearer_headers(people[2])
    detail = client.get(f"/api/v1/feedback-rounds/{first.id}", headers=headers).get_json()
    assert detail["instrument"]["self_generated_code"] is True
    key = feedback_rules.code_key(app.config.get("RESPONSE_CODE_KEY"), app.config["SECRET_KEY"])
    assert detail["instrument"]["code_key"] == key
    answers = answers_from(np.random.default_rng(4), 1)[0]
    bad = client.post(f"/api/v1/feedback-rounds/{first.id}/responses", headers=headers,
                      json={"answers": answers, "code": "12"})
    assert bad.status_code == 422
    built = code_of("zhang", "30", "tianjin", key=key)
    done = client.post(f"/api/v1/feedback-rounds/{first.id}/responses", headers=headers,
                       json={"answers": answers, "code": built})
    assert done.status_code == 201
    assert _db.session.scalars(sa.select(Response.code)).all() == [built]
