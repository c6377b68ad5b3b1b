"""The group trends page's remembered figure cells (app/trends/fragments.py): the same HTML as the Jinja macros
drew, a hit for the same figures, a miss for any change of what the key holds (each figure, language, k, the
markup's version), a bounded cache, and the page showing what app.disclosure publishes now — after a repair of
a closed round's answers, or another k — never what it published before."""

from __future__ import annotations

import re

import pytest
from flask import render_template_string
from flask_babel import force_locale

from app.feedback.models import Answer, FeedbackRound, Response
from app.feedback.stats import Reliability
from app.feedback.templating import reason_labels
from app.i18n import format_2dp
from app.trends import fragments, group_queries
from app.trends.group_queries import SubscalePoint
from tests.factories import make_user
from tests.trends.test_group import Builder, K

# What templates/trends/group.html drew before the cells were drawn in Python (its stat_cells macro and the alpha
# cell of _reliability.html), to check that the page did not change.
MACROS = """{% from "trends/_reliability.html" import alpha_cell with context %}
{% macro stat_cells(s) %}<td>{{ s.n }}</td>
        <td class="trend-mean">{{ number(s.mean) }}</td>
        <td>{{ number(s.sd) }}</td>
        <td>{{ number(s.ci_low) }} – {{ number(s.ci_high) }}</td>{% endmacro %}
{{ stat_cells(p) }}
{{ alpha_cell(p.alpha, p.alpha_reason, reasons[p.alpha_reason] if p.alpha_reason else '') }}"""


def point(**changes) -> SubscalePoint:
    values = {"key": "x/A", "code": "A", "title": "A", "n": 12, "mean": 3.456, "sd": 0.789, "ci_low": 2.95,
              "ci_high": 3.96, "alpha": Reliability(0.8123, 0.61, 0.92, 12, 3)}
    values.update(changes)
    return SubscalePoint(**values)


POINTS = {
    "shown": point(),
    "flagged": point(alpha=Reliability(0.41, -0.2, 0.75, 12, 3)),
    "negative alpha": point(alpha=Reliability(-0.35, -1.9, 0.2, 12, 3)),
    "one question": point(alpha=Reliability(None, None, None, 12, 1, "one_item")),
    "no variation": point(alpha=Reliability(None, None, None, 12, 3, "no_variation")),
    "too few": point(alpha=Reliability(None, None, None, 1, 3, "too_few_scores")),
    "unequal": point(alpha=Reliability(None, None, None, 12, 3, "unequal")),
    "no alpha": point(alpha=None),
    "alpha hidden": point(alpha=None, alpha_reason="partial"),
    "big numbers": point(n=1234, mean=1234.5678, sd=0.0, ci_low=-0.004, ci_high=10.0),
}


def squeeze(html: str) -> str:
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", str(html))).strip()


@pytest.fixture
def request_context(app):
    fragments.clear()
    with app.test_request_context("/"):
        yield
    fragments.clear()


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
@pytest.mark.parametrize("name", sorted(POINTS))
def test_the_cells_are_those_the_macros_drew(request_context, name, locale):
    with force_locale(locale):
        reasons = reason_labels(K)
        drawn = render_template_string(MACROS, p=POINTS[name], reasons=reasons, number=format_2dp)
        assert squeeze(fragments.figure_cells(POINTS[name], reasons, K)) == squeeze(drawn)
        # Remembered: the same again.
        assert squeeze(fragments.figure_cells(POINTS[name], reasons, K)) == squeeze(drawn)


def test_the_same_figures_are_a_hit(request_context):
    reasons = reason_labels(K)
    first = fragments.figure_cells(point(), reasons, K)
    assert fragments.stats == {"hits": 0, "misses": 1}
    assert fragments.figure_cells(point(), reasons, K) is first
    assert fragments.stats == {"hits": 1, "misses": 1}


CHANGES = {
    "n": {"n": 13},
    "mean": {"mean": 3.471},
    "sd": {"sd": 0.801},
    "ci_low": {"ci_low": 2.96},
    "ci_high": {"ci_high": 3.95},
    "alpha": {"alpha": Reliability(0.8124, 0.61, 0.92, 12, 3)},
    "alpha_low": {"alpha": Reliability(0.8123, 0.62, 0.92, 12, 3)},
    "alpha_high": {"alpha": Reliability(0.8123, 0.61, 0.93, 12, 3)},
    "alpha reason": {"alpha": Reliability(None, None, None, 12, 3, "no_variation")},
    "no alpha": {"alpha": None},
    "alpha hidden": {"alpha": None, "alpha_reason": "partial"},
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_any_other_figure_is_a_miss_and_shows_that_figure(request_context, name):
    reasons = reason_labels(K)
    before = fragments.figure_cells(point(), reasons, K)
    changed = point(**CHANGES[name])
    after = fragments.figure_cells(changed, reasons, K)
    assert fragments.stats == {"hits": 0, "misses": 2}
    assert squeeze(after) == squeeze(render_template_string(MACROS, p=changed, reasons=reasons, number=format_2dp))
    assert after != before


def test_zero_and_minus_zero_are_different_keys(request_context):
    reasons = reason_labels(K)
    plus = fragments.figure_cells(point(ci_low=0.0), reasons, K)
    minus = fragments.figure_cells(point(ci_low=-0.0), reasons, K)
    assert f"<td>{format_2dp(0.0)} – " in plus and f"<td>{format_2dp(-0.0)} – " in minus
    assert fragments.stats["misses"] == 2


def test_another_language_is_a_miss(request_context):
    with force_locale("en"):
        english = fragments.figure_cells(POINTS["flagged"], reason_labels(K), K)
    with force_locale("zh_CN"):
        chinese = fragments.figure_cells(POINTS["flagged"], reason_labels(K), K)
        assert squeeze(chinese) == squeeze(render_template_string(
            MACROS, p=POINTS["flagged"], reasons=reason_labels(K), number=format_2dp))
    assert fragments.stats == {"hits": 0, "misses": 2}
    assert "below 0.7" in english and "below 0.7" not in chinese


def test_another_k_is_a_miss_and_names_its_k(request_context):
    hidden = point(alpha=None, alpha_reason="few_scores")
    three = fragments.figure_cells(hidden, reason_labels(3), 3)
    five = fragments.figure_cells(hidden, reason_labels(5), 5)
    assert fragments.stats == {"hits": 0, "misses": 2}
    assert reason_labels(3)["few_scores"] in three and reason_labels(5)["few_scores"] not in three
    assert reason_labels(5)["few_scores"] in five


def test_a_new_markup_version_is_a_miss(request_context, monkeypatch):
    reasons = reason_labels(K)
    fragments.figure_cells(point(), reasons, K)
    monkeypatch.setattr(fragments, "FRAGMENT_VERSION", fragments.FRAGMENT_VERSION + 1)
    fragments.figure_cells(point(), reasons, K)
    assert fragments.stats == {"hits": 0, "misses": 2}


def test_the_cache_is_bounded(request_context, monkeypatch):
    monkeypatch.setattr(fragments, "FRAGMENT_CACHE_SIZE", 3)
    reasons = reason_labels(K)
    for n in range(10):
        fragments.figure_cells(point(n=n + 3), reasons, K)
        assert len(fragments._cache) <= 3
    assert fragments.figure_cells(point(n=12), reasons, K).startswith("<td>12</td>")


# --- the page --------------------------------------------------------------------------------

@pytest.fixture
def built(db, group, member):
    people = [member] + [make_user(f"f{i}@example.org") for i in range(7)]
    builder = Builder(db, group, people, seed=7)
    builder.round(1, 7)
    builder.round(2, 2)
    builder.round(3, 6)
    builder.round(4, 8, version=2)
    db.session.commit()
    fragments.clear()
    yield builder
    fragments.clear()


def table_cells(page: str) -> dict[tuple[str, str], str]:
    """Per (subscale key, round number): the row's figure cells as shown (squeezed)."""
    out = {}
    for match in re.finditer(r'<table[^>]*id="table-([^"]+)"(.*?)</table>', page, flags=re.S):
        for number, rest in re.findall(r'<th scope="row">(\d+)</th>(.*?)</tr>', match.group(2), flags=re.S):
            out[(match.group(1), number)] = squeeze(rest)
    return out


def expected_means(group, k: int) -> dict[tuple[str, str], str]:
    trend = group_queries.group_trend(group, k=k)
    return {(p.key, str(r.number)): format_2dp(p.mean)
            for r in trend.rounds if not r.suppressed for p in r.subscales if not p.hidden}


def test_the_page_is_the_same_from_the_cache(client, auth, group, built, leader):
    auth.login(leader)
    first = client.get(f"/groups/{group.id}/trends").get_data(as_text=True)
    misses = fragments.stats["misses"]
    assert misses > 0 and fragments.stats["hits"] == 0
    second = client.get(f"/groups/{group.id}/trends").get_data(as_text=True)
    assert fragments.stats == {"hits": misses, "misses": misses}
    strip = re.compile(r'(nonce|value)="[^"]*"')
    assert strip.sub("", first) == strip.sub("", second)


def test_a_repaired_closed_round_shows_its_new_figures(client, auth, db, group, built, leader):
    auth.login(leader)
    before = table_cells(client.get(f"/groups/{group.id}/trends").get_data(as_text=True))
    means = expected_means(group, K)
    assert all(f'class="trend-mean">{mean}<' in before[cell] for cell, mean in means.items())
    # A repair by hand of a closed round's answers (the app offers no way; flask feedback verify-scores --fix
    # after a scoring fix would change stored scores alike): every response of round 3 now gives b1 = 0.
    round_3 = db.session.query(FeedbackRound).filter_by(group_id=group.id, number=3).one()
    for answer in (db.session.query(Answer).join(Response, Response.id == Answer.response_id)
                   .filter(Response.round_id == round_3.id, Answer.item_code == "b1")):
        answer.value = 0
    db.session.commit()
    after = table_cells(client.get(f"/groups/{group.id}/trends").get_data(as_text=True))
    repaired = expected_means(group, K)
    changed = [cell for cell in repaired if cell[1] == "3" and cell[0].endswith("/B")]
    assert changed and all(repaired[cell] == format_2dp(0.0) for cell in changed)
    assert all(f'class="trend-mean">{mean}<' in after[cell] for cell, mean in repaired.items())
    assert all(after[cell] != before[cell] for cell in changed)


def test_another_k_shows_what_that_k_publishes(app, client, auth, group, built, leader):
    auth.login(leader)
    shown = table_cells(client.get(f"/groups/{group.id}/trends").get_data(as_text=True))
    assert any(number == "3" and "trend-mean" in cells for (_key, number), cells in shown.items())
    app.config["MIN_RESPONSES"] = 7
    try:
        hidden = table_cells(client.get(f"/groups/{group.id}/trends").get_data(as_text=True))
    finally:
        app.config["MIN_RESPONSES"] = K
    # Round 3 has 6 responses: below 7 it shows no figure, only the reason (naming 7).
    rows = [cells for (_key, number), cells in hidden.items() if number == "3"]
    assert rows and all("trend-mean" not in cells and "Fewer than 7 responses" in cells for cells in rows)
    assert any(number == "1" and "trend-mean" in cells for (_key, number), cells in hidden.items())
