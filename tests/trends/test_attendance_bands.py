"""Benefit by attendance: subscale means by attendance band and the slope across bands, against numpy/scipy on
generated answers, through the anonymity rules (no band from fewer than k, no round whose other split is shown)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from scipy import stats as scipy_stats

from app import disclosure
from app.extensions import db as _db
from app.feedback.instrument_files import InstrumentError, parse_instrument
from app.feedback.models import Answer, FeedbackRound, Response
from app.feedback.stats import attendance_band, band_position
from app.trends import group_queries
from tests.factories import AGREE, bearer_headers, likert, make_instrument, questionnaire, scale, subscale, t

K = 3
ATTENDED = scale("att", t("How many of this round's meetings did you attend?"), min=1, max=5, standard="attendance",
                 required=False)
DOSE = questionnaire(
    "dose-test", t("Dose test"),
    items=[ATTENDED, likert("a1", t("A one"), anchors=AGREE), likert("a2", t("A two"), anchors=AGREE)],
    subscales=[subscale("A", t("Benefit"), "a1", "a2")],
)


class Rounds:
    """Closed rounds written to the tables: each response's attendance answer, source and A score kept."""

    def __init__(self, group, seed=4):
        self.group = group
        self.rng = np.random.default_rng(seed)
        self.instrument = make_instrument(DOSE)
        self.kept: dict[int, list[tuple[int | None, float]]] = {}
        self.start = datetime(2025, 1, 6, 6, 0)

    def round(self, number: int, attended: list[int | None], interviews: int = 0):
        opens = self.start + timedelta(days=60 * number)
        the_round = FeedbackRound(group_id=self.group.id, number=number, status="closed", opens_at=opens,
                                  closes_at=opens + timedelta(days=14), instrument_id=self.instrument.id)
        _db.session.add(the_round)
        _db.session.flush()
        kept = []
        for i, meetings in enumerate(attended):
            answers = {"a1": int(self.rng.integers(1, 6)), "a2": int(self.rng.integers(1, 6))}
            if meetings is not None:
                answers["att"] = meetings
            source = "interview" if i < interviews else "questionnaire"
            response = Response(round_id=the_round.id, instrument_id=self.instrument.id, source=source)
            _db.session.add(response)
            _db.session.flush()
            for code, value in answers.items():
                _db.session.add(Answer(response_id=response.id, item_code=code, value=value))
            kept.append((meetings, (answers["a1"] + answers["a2"]) / 2))
        self.kept[number] = kept
        _db.session.flush()


@pytest.fixture
def built(db, group):
    rounds = Rounds(group)
    rounds.round(1, [1, 2, 1, 2, 3, 4, 3, 4, 5, 5, 5, 6])  # three bands of four: shown
    rounds.round(2, [1, 1, 3, 3, 3, 5, 5, 5, 5, 5])  # 1–2 has two: the round shows no band
    rounds.round(3, [1, 1, 1, 3, 3, 3, 5, 5, 5], interviews=3)  # its sources are published: no band
    rounds.round(4, [5, 5, 5, 5, 6, 5, 5])  # everyone in band 5: the round's own cell
    rounds.round(5, [1, 5])  # below k
    rounds.round(6, [1, 2, 2, 1, None, None, None, None])  # 1–2 and "did not answer", four each: shown
    db.session.commit()
    return rounds


def close(value):
    return pytest.approx(value, abs=1e-9)


def expected_rounds():
    return (1, 4, 6)


def test_band_means_and_the_slope_equal_numpy_and_scipy(db, group, built):
    with disclosure.observe() as seen:
        trend = group_queries.group_trend(group, k=K)
    [dose] = trend.by_attendance
    assert dose.rounds == expected_rounds()
    assert dict(trend.attendance_hidden) == {2: disclosure.COMPLEMENT, 3: disclosure.OTHER_SPLIT,
                                             5: disclosure.BELOW_K}
    xs, ys = [], []
    for point in dose.bands:
        values = [score for number in expected_rounds() for meetings, score in built.kept[number]
                  if attendance_band(meetings) == point.band]
        data = np.asarray(values)
        assert point.n == len(values) >= K
        low, high = scipy_stats.t.interval(0.95, len(data) - 1, loc=data.mean(), scale=scipy_stats.sem(data))
        assert point.mean == close(data.mean()) and point.sd == close(data.std(ddof=1))
        assert point.ci_low == close(low) and point.ci_high == close(high)
        xs += [band_position(point.band)] * len(values)
        ys += values
    fit = scipy_stats.linregress(xs, ys)
    half = scipy_stats.t.ppf(0.975, len(xs) - 2) * fit.stderr
    assert dose.slope.slope == close(fit.slope)
    assert dose.slope.low == close(fit.slope - half) and dose.slope.high == close(fit.slope + half)
    # What was published by band: each cell k or more, and only from the rounds that show bands.
    banded = [p for p in seen if any(part.dimension == disclosure.ATTENDANCE for part in p.parts)]
    assert banded and all(p.value.n >= K for p in banded)
    ids = {r.number: r.id for r in trend.rounds}
    assert {part.round_id for p in banded for part in p.parts} == {ids[n] for n in expected_rounds()}


def test_every_published_band_cell_of_a_round_covers_all_its_answered_bands(db, group, built):
    """No differencing: a round publishes all of its bands or none, so the round's total minus its shown bands
    leaves only those who did not answer the question, themselves k or more."""
    with disclosure.observe() as seen:
        trend = group_queries.group_trend(group, k=K)
    ids = {r.id: r.number for r in trend.rounds}
    per_round: dict[int, set[str]] = {}
    for p in seen:
        for part in p.parts:
            if part.dimension == disclosure.ATTENDANCE and len(p.parts) == 1:
                per_round.setdefault(ids[part.round_id], set()).add(part.category)
    for number, bands in per_round.items():
        answered = {attendance_band(m) for m, _s in built.kept[number] if m is not None}
        assert bands == answered
        missing = sum(1 for m, _s in built.kept[number] if m is None)
        assert missing == 0 or missing >= K


def test_a_larger_threshold_hides_more_rounds_and_never_shows_a_small_band(db, group, built):
    trend = group_queries.group_trend(group, k=5)
    for dose in trend.by_attendance:
        assert all(b.n is None or b.n >= 5 for b in dose.bands)
        assert 6 not in dose.rounds and 1 not in dose.rounds  # bands of four


def test_the_page_and_the_api_show_the_bands_and_the_slope(db, client, auth, group, coordinator, built):
    auth.login(coordinator)
    html = client.get(f"/groups/{group.id}/trends").get_data(as_text=True)
    assert 'id="by-attendance"' in html and 'id="dose-table"' in html and "data-slope=" in html
    auth.logout()
    body = client.get(f"/api/v1/groups/{group.id}/trends", headers=bearer_headers(coordinator)).get_json()
    [dose] = body["by_attendance"]
    assert dose["subscale"] == "A" and dose["rounds"] == list(expected_rounds())
    assert [b["band"] for b in dose["bands"]] == ["1-2", "3-4", "5"] and dose["slope"] is not None


def test_a_group_without_the_attendance_question_shows_no_such_section(db, client, auth, group, coordinator):
    auth.login(coordinator)
    html = client.get(f"/groups/{group.id}/trends").get_data(as_text=True)
    assert 'id="by-attendance"' not in html


def test_the_standard_marker_is_read_from_a_file_and_refused_where_it_makes_no_sense():
    import json

    good = {**DOSE, "subscales": [subscale("benefit", t("Benefit"), "a1", "a2")]}
    definition = parse_instrument(json.dumps(good), "dose.json")
    assert definition.attendance_item.code == "att" and definition.attendance_item.subscale is None
    bad = [
        {**good, "items": [{**ATTENDED, "standard": "age"}, *DOSE["items"][1:]]},
        {**good, "items": [{**ATTENDED, "reverse": True}, *DOSE["items"][1:]]},
        {**good, "items": [*DOSE["items"], {**ATTENDED, "code": "att2"}]},
        {**good, "subscales": [subscale("benefit", t("Benefit"), "a1", "a2", "att")]},
        {**good, "items": [*DOSE["items"], {"code": "txt", "type": "text", "text": t("x"),
                                            "standard": "attendance"}]},
    ]
    for data in bad:
        with pytest.raises(InstrumentError) as refused:
            parse_instrument(json.dumps(data), "bad.json")
        assert "standard" in " ".join(refused.value.messages)
