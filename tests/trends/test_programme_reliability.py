"""Cronbach's alpha pooled per subscale over every round in view of the programme (or one organisation), through
app.disclosure's pooled_alpha: equal to numpy/scipy on generated answers within 1e-9, only rounds whose own alpha
is shown, flagged below 0.7 — on the programme trends page, in the quarterly report and in the aggregates workbook."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import numpy as np
import pytest
from openpyxl import load_workbook

from app import disclosure
from app.extensions import db as _db
from app.feedback.models import Answer, FeedbackRound, Response
from app.trends import programme_queries
from tests.factories import (
    alpha_questionnaire,
    make_group,
    make_instrument,
    make_scoped_coordinator,
)
from tests.reference_stats import numpy_alpha

K = 3
TOGETHER, APART, ALONE = "alpha-prog/A", "alpha-prog/U", "alpha-prog/S"
CODES = {TOGETHER: ("a1", "a2", "a3"), APART: ("u1", "u2")}
INSTRUMENT = alpha_questionnaire("alpha-prog", "Alpha programme")


class Programme:
    """Closed rounds of several groups written to the tables, each response's scores kept (a2 reversed)."""

    def __init__(self, seed: int = 1807):
        self.rng = np.random.default_rng(seed)
        self.instrument = make_instrument(INSTRUMENT)
        self.responses: dict[int, list[tuple[str, dict]]] = {}  # round id -> [(profession, scores)]
        self.rounds: dict[tuple[str, int], FeedbackRound] = {}

    def round(self, label: str, group, number: int, opens_at: datetime, responses: int, skip: bool = False):
        the_round = FeedbackRound(group_id=group.id, number=number, status="closed", opens_at=opens_at,
                                  closes_at=opens_at + timedelta(days=14), closed_at=opens_at + timedelta(days=14),
                                  instrument_id=self.instrument.id)
        _db.session.add(the_round)
        _db.session.flush()
        kept = []
        for i in range(responses):
            trait = self.rng.normal(3, 1)
            answers = {code: int(np.clip(np.rint(trait + self.rng.normal(0, 0.8)), 1, 5)) for code in ("a1", "a3")}
            answers["a2"] = 6 - int(np.clip(np.rint(trait + self.rng.normal(0, 0.8)), 1, 5))  # reverse-scored
            answers.update({code: int(self.rng.integers(1, 6)) for code in ("u1", "u2", "s1")})
            if skip and i == 0:
                del answers["a3"]  # answered part of subscale A: A's questions (and its alpha) are hidden
            profession = "physician" if i < (responses + 1) // 2 else "nurse"
            response = Response(round_id=the_round.id, instrument_id=self.instrument.id, source="questionnaire",
                                profession=profession)
            _db.session.add(response)
            _db.session.flush()
            for code, value in answers.items():
                _db.session.add(Answer(response_id=response.id, item_code=code, value=value))
            scored = dict(answers)
            if "a2" in scored:
                scored["a2"] = 6 - scored["a2"]
            kept.append((profession, scored))
        _db.session.flush()
        self.responses[the_round.id] = kept
        self.rounds[(label, number)] = the_round
        return the_round

    def matrix(self, labels, codes, profession=None):
        return [[s[c] for c in codes] for key in labels for p, s in self.responses[self.rounds[key].id]
                if profession is None or p == profession]


@pytest.fixture
def built(db, org, other_org):
    """Two groups in `org`, one in `other_org`, every round opened in July and August 2025 (2025 Q3)."""
    made = Programme()
    one, two = make_group(org, "Alpha one"), make_group(org, "Alpha two")
    three = make_group(other_org, "Alpha three")
    start = datetime(2025, 7, 1, 2, 0)
    made.round("one", one, 1, start, 9)
    made.round("one", one, 2, start + timedelta(days=15), 2)  # below k: nothing shown
    made.round("one", one, 3, start + timedelta(days=30), 8, skip=True)  # A's questions hidden (rule 6)
    made.round("two", two, 1, start + timedelta(days=5), 7)
    made.round("two", two, 2, start + timedelta(days=35), 10)
    made.round("three", three, 1, start + timedelta(days=10), 6)
    db.session.commit()
    made.groups = {"one": one, "two": two, "three": three}
    return made


def close(value):
    return pytest.approx(value, abs=1e-9)


# The rounds each subscale's pooled alpha takes, programme-wide.
POOLED = {TOGETHER: [("one", 1), ("two", 1), ("two", 2), ("three", 1)],
          APART: [("one", 1), ("one", 3), ("two", 1), ("two", 2), ("three", 1)]}


def test_the_programmes_pooled_alpha_equals_numpy_over_the_rounds_whose_own_alpha_is_shown(db, built):
    with disclosure.observe() as seen:
        found = {a.key: a for a in programme_queries.programme_reliability(None, k=K)}
    assert set(found) == {TOGETHER, APART, ALONE}
    for key, rounds in POOLED.items():
        alpha, low, high = numpy_alpha(built.matrix(rounds, CODES[key]))
        got = found[key]
        assert got.alpha.n == len(built.matrix(rounds, CODES[key])) and got.alpha.items == len(CODES[key])
        assert got.alpha.alpha == close(alpha) and got.alpha.low == close(low) and got.alpha.high == close(high)
        assert got.flagged == (alpha < 0.7)
        assert (got.rounds, got.groups, got.left_out) == (len(rounds), 3, 6 - len(rounds))
    assert found[TOGETHER].alpha.alpha > 0.7 and not found[TOGETHER].flagged
    assert found[APART].flagged  # two unrelated questions
    assert found[ALONE].alpha.alpha is None and found[ALONE].alpha.reason == "one_item"
    hidden = built.rounds[("one", 2)].id
    assert seen and not any(part.round_id == hidden for p in seen for part in p.parts)


def test_an_organisation_pools_only_its_own_rounds_and_a_profession_only_its_own_answers(db, built, org):
    mine = {a.key: a for a in programme_queries.programme_reliability(org.id, k=K)}
    rounds = [key for key in POOLED[TOGETHER] if key[0] != "three"]
    assert mine[TOGETHER].alpha.alpha == close(numpy_alpha(built.matrix(rounds, CODES[TOGETHER]))[0])
    assert (mine[TOGETHER].rounds, mine[TOGETHER].groups) == (3, 2)
    physicians = {a.key: a for a in programme_queries.programme_reliability(None, profession="physician", k=K)}
    got = physicians[TOGETHER].alpha
    alpha, low, high = numpy_alpha(built.matrix(POOLED[TOGETHER], CODES[TOGETHER], profession="physician"))
    assert got.alpha == close(alpha) and got.low == close(low) and got.high == close(high)


def test_no_pooled_alpha_where_no_round_shows_its_own(db, built):
    assert programme_queries.programme_reliability(None, k=11) == []
    only_big = {a.key: a for a in programme_queries.programme_reliability(None, k=10)}
    assert only_big[APART].rounds == 1  # the one round of ten responses
    assert only_big[APART].alpha.alpha == close(numpy_alpha(built.matrix([("two", 2)], CODES[APART]))[0])


def test_the_programme_page_shows_the_pooled_alpha_and_flags_it(app, client, auth, db, built, coordinator, org,
                                                                 monkeypatch):
    auth.login(coordinator)
    # Computed when asked for: it reads every question's sums of every round in view.
    first = client.get("/trends?from=2025-01-01&by=quarter").get_data(as_text=True)
    assert 'id="programme-reliability-show"' in first and "data-alpha=" not in first
    assert 'href="/trends?from=2025-01-01&amp;by=quarter&amp;reliability=1#programme-reliability"' in first
    html = client.get("/trends?from=2025-01-01&reliability=1").get_data(as_text=True)
    assert 'id="programme-reliability"' in html and 'id="programme-reliability-show"' not in html
    expected = programme_queries.programme_reliability(None, k=K)
    together = next(a for a in expected if a.key == TOGETHER)
    assert f'id="programme-alpha-{TOGETHER}" data-key="{TOGETHER}"' in html
    assert f'data-alpha="{together.alpha.alpha}"' in html
    assert 'data-flagged="1"' in html and "below 0.7" in html and 'data-alpha-reason="one_item"' in html
    # A page of groups at a time, but the alpha of every group in view.
    monkeypatch.setitem(app.config, "PAGE_SIZE", 1)
    paged = client.get("/trends?from=2025-01-01&page=2&reliability=1").get_data(as_text=True)
    assert "Alpha three" in paged and "Alpha one</th>" not in paged.replace(" <span", "</th>")  # one group shown
    assert f'data-alpha="{together.alpha.alpha}"' in paged
    monkeypatch.undo()
    scoped = make_scoped_coordinator(org, email="alpha-scope@example.org")
    auth.logout()
    auth.login(scoped)
    mine = next(a for a in programme_queries.programme_reliability(org.id, k=K) if a.key == TOGETHER)
    assert f'data-alpha="{mine.alpha.alpha}"' in client.get("/trends?from=2025-01-01&reliability=1").get_data(
        as_text=True)
    assert client.get("/trends?from=2025-01-01&profession=physician&reliability=1").status_code == 200
    assert 'id="programme-reliability-none"' in client.get(
        "/trends?from=2025-01-01&reliability=1&profession=psychologist").get_data(as_text=True)


def test_the_quarterly_report_pools_the_rounds_closed_in_its_quarter(client, auth, db, built, coordinator):
    auth.login(coordinator)
    html = client.get("/reports/quarter?year=2025&quarter=3").get_data(as_text=True)
    assert 'id="report-reliability"' in html
    alpha = numpy_alpha(built.matrix(POOLED[TOGETHER], CODES[TOGETHER]))[0]
    assert f'id="report-alpha-{TOGETHER}"' in html
    cell = html.split(f'id="report-alpha-{TOGETHER}"')[1].split("</tr>")[0]
    assert float(cell.split('data-alpha="')[1].split('"')[0]) == close(alpha)
    empty = client.get("/reports/quarter?year=2025&quarter=1").get_data(as_text=True)
    assert 'id="report-alpha' not in empty and "No round closed in the quarter shows its reliability." in empty


def _sheet(workbook, title):
    sheet = workbook[title]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    return rows[0], {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}


def test_the_aggregates_workbook_has_the_pooled_alpha_and_the_board(client, auth, db, built, coordinator):
    auth.login(coordinator)
    workbook = load_workbook(io.BytesIO(client.get("/exports/aggregates.xlsx").get_data()))
    assert workbook.sheetnames == ["Round aggregates", "Reliability", "Programme board", "Items"]
    header, rows = _sheet(workbook, "Reliability")
    assert header[:3] == ["Subscale", "Subscale title", "Rounds pooled"]
    alpha, low, high = numpy_alpha(built.matrix(POOLED[TOGETHER], CODES[TOGETHER]))
    assert rows[TOGETHER]["Cronbach's alpha"] == pytest.approx(alpha, abs=1e-4)
    assert rows[TOGETHER]["95% CI low"] == pytest.approx(low, abs=1e-4)
    assert rows[TOGETHER]["Below 0.7"] == "no" and rows[APART]["Below 0.7"] == "yes"
    assert rows[ALONE]["Cronbach's alpha"] is None and rows[ALONE]["Below 0.7"] is None
    _header, board = _sheet(workbook, "Programme board")
    assert set(board) == {"Alpha one", "Alpha two", "Alpha three"}
    # One group's export pools that group's rounds and boards that group only.
    one = built.groups["one"]
    workbook = load_workbook(io.BytesIO(client.get(f"/exports/aggregates.xlsx?group={one.id}").get_data()))
    _header, rows = _sheet(workbook, "Reliability")
    assert rows[TOGETHER]["Rounds pooled"] == 1 and rows[TOGETHER]["Rounds left out"] == 2
    assert rows[TOGETHER]["Cronbach's alpha"] == pytest.approx(
        numpy_alpha(built.matrix([("one", 1)], CODES[TOGETHER]))[0], abs=1e-4)
    assert set(_sheet(workbook, "Programme board")[1]) == {"Alpha one"}
    # The CSV stays one table (the board has its own file).
    assert client.get("/exports/aggregates.csv").status_code == 200
