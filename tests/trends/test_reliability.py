"""Cronbach's alpha on group trends: each round's and the pooled alpha against numpy/scipy on generated answers,
only where the round's results are shown, flagged below 0.7, on the page and in the API."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from app import disclosure
from app.extensions import db as _db
from app.feedback.models import Answer, FeedbackRound, Response
from app.trends import group_queries
from tests.factories import alpha_questionnaire, bearer_headers, make_instrument
from tests.reference_stats import numpy_alpha

K = 3
RELIABLE = alpha_questionnaire("alpha-test", "Alpha test")


class Rounds:
    """Closed rounds of the group written to the tables; each response's item scores kept (a2 reversed)."""

    def __init__(self, group, seed=18):
        self.group = group
        self.rng = np.random.default_rng(seed)
        self.instrument = make_instrument(RELIABLE)
        self.scores: dict[int, list[dict]] = {}
        self.start = datetime(2025, 3, 3, 6, 0)

    def round(self, number: int, responses: int, skip: bool = False):
        opens = self.start + timedelta(days=60 * number)
        the_round = FeedbackRound(group_id=self.group.id, number=number, status="closed", opens_at=opens,
                                  closes_at=opens + timedelta(days=14), instrument_id=self.instrument.id)
        _db.session.add(the_round)
        _db.session.flush()
        kept = []
        for i in range(responses):
            trait = self.rng.normal(3, 1)
            answers = {code: int(np.clip(np.rint(trait + self.rng.normal(0, 0.7)), 1, 5)) for code in ("a1", "a3")}
            answers["a2"] = 6 - int(np.clip(np.rint(trait + self.rng.normal(0, 0.7)), 1, 5))  # reverse-scored
            answers.update({code: int(self.rng.integers(1, 6)) for code in ("u1", "u2", "s1")})
            if skip and i == 0:
                del answers["a3"]  # answered part of subscale A
            response = Response(round_id=the_round.id, instrument_id=self.instrument.id, source="questionnaire")
            _db.session.add(response)
            _db.session.flush()
            for code, value in answers.items():
                _db.session.add(Answer(response_id=response.id, item_code=code, value=value))
            scored = dict(answers)
            if "a2" in scored:
                scored["a2"] = 6 - scored["a2"]
            kept.append(scored)
        self.scores[number] = kept
        _db.session.flush()
        return the_round

    def matrix(self, numbers, codes):
        return [[s[c] for c in codes] for n in numbers for s in self.scores[n]]


@pytest.fixture
def built(db, group):
    rounds = Rounds(group)
    rounds.round(1, 9)
    rounds.round(2, 2)  # below k: nothing shown
    rounds.round(3, 12)
    rounds.round(4, 6, skip=True)  # someone skipped a question of A: A's questions and its alpha are hidden
    rounds.round(5, 7)
    db.session.commit()
    return rounds


def close(value):
    return pytest.approx(value, abs=1e-9)


def test_each_rounds_alpha_equals_numpy_and_scipy_and_hidden_rounds_give_none(db, group, built):
    with disclosure.observe():
        trend = group_queries.group_trend(group, k=K)
    checked = 0
    for r in trend.rounds:
        if r.number == 2:
            assert r.suppressed and r.subscales == []
            continue
        a = r.subscale("alpha-test/A")
        if r.number == 4:
            assert not a.hidden and a.alpha is None and a.alpha_reason == disclosure.PARTIAL
            continue
        for key, codes in (("alpha-test/A", ("a1", "a2", "a3")), ("alpha-test/U", ("u1", "u2"))):
            point = r.subscale(key)
            alpha, low, high = numpy_alpha(built.matrix([r.number], codes))
            assert point.alpha.n == len(built.scores[r.number]) and point.alpha.items == len(codes)
            assert point.alpha.alpha == close(alpha)
            assert point.alpha.low == close(low) and point.alpha.high == close(high)
            assert point.alpha.flagged == (alpha < 0.7)
            checked += 1
        single = r.subscale("alpha-test/S")
        assert single.alpha.alpha is None and single.alpha.reason == "one_item"
    assert checked == 6
    assert any(r.subscale("alpha-test/A").alpha.alpha > 0.7 for r in trend.rounds if r.number in (1, 3, 5))
    assert all(r.subscale("alpha-test/U").alpha.flagged for r in trend.rounds if r.number in (1, 3, 5))


def test_the_pooled_alpha_takes_the_rounds_whose_own_alpha_is_shown(db, group, built):
    trend = group_queries.group_trend(group, k=K)
    pooled = {p.key: p for p in trend.reliability}
    assert pooled["alpha-test/A"].rounds == (1, 3, 5)  # not 2 (below k) nor 4 (a question skipped)
    assert pooled["alpha-test/U"].rounds == (1, 3, 4, 5)
    for key, codes in (("alpha-test/A", ("a1", "a2", "a3")), ("alpha-test/U", ("u1", "u2"))):
        alpha, low, high = numpy_alpha(built.matrix(pooled[key].rounds, codes))
        got = pooled[key].alpha
        assert got.n == sum(len(built.scores[n]) for n in pooled[key].rounds)
        assert got.alpha == close(alpha) and got.low == close(low) and got.high == close(high)
    assert pooled["alpha-test/S"].alpha.alpha is None


def test_no_alpha_when_the_round_is_below_k_whatever_the_threshold(db, group, built):
    trend = group_queries.group_trend(group, k=10)
    shown = [r.number for r in trend.rounds if not r.suppressed]
    assert shown == [3]
    assert {p.rounds for p in trend.reliability} == {(3,)}
    data = group_queries.chart_data(trend)
    for series in data["series"]:
        for r, point in zip(trend.rounds, series["points"], strict=True):
            assert (point is None) == (r.number != 3)


def test_the_page_shows_alpha_beside_the_means_and_flags_it(db, client, auth, group, coordinator, built):
    auth.login(coordinator)
    html = client.get(f"/groups/{group.id}/trends").get_data(as_text=True)
    assert "Cronbach" in html and 'id="reliability-pooled"' in html
    assert 'data-flagged="1"' in html and "below 0.7" in html
    trend = group_queries.group_trend(group, k=K)
    first = trend.rounds[0].subscale("alpha-test/A").alpha
    assert f'data-alpha="{first.alpha}"' in html


def test_the_api_gives_alpha_per_round_and_pooled_and_null_where_hidden(db, client, group, coordinator, built):
    body = client.get(f"/api/v1/groups/{group.id}/trends", headers=bearer_headers(coordinator)).get_json()
    by_number = {r["number"]: r for r in body["rounds"]}
    assert by_number[2]["subscales"]["A"]["alpha"] is None
    assert by_number[4]["subscales"]["A"]["alpha"] is None and by_number[4]["subscales"]["U"]["alpha"] is not None
    alpha, low, high = numpy_alpha(built.matrix([3], ("a1", "a2", "a3")))
    assert by_number[3]["subscales"]["A"]["alpha"] == close(alpha)
    assert by_number[3]["subscales"]["A"]["alpha_low"] == close(low)
    pooled = {p["subscale"]: p for p in body["reliability"]}
    assert pooled["A"]["rounds"] == [1, 3, 5]
    assert pooled["A"]["alpha"] == close(numpy_alpha(built.matrix([1, 3, 5], ("a1", "a2", "a3")))[0])
