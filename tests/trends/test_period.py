"""The period trends pages show first — a group's last 10 rounds, the programme's last two years — with the whole
history one click away; tables, charts and the chart data always cover the same rounds; and pages read the sums
stored for closed rounds instead of summing every score again."""

from __future__ import annotations

import html
import json
import re

import pytest

from app.disclosure.services import refresh_round_aggregates
from app.extensions import db as _db
from app.programme import services as programme
from app.trends.routes.group import DEFAULT_ROUNDS
from tests.disclosure.world import make_world
from tests.querylog import recorded_statements


def _spec(rounds: int, months_apart: int = 1) -> dict:
    """One group, `rounds` closed rounds of 3 responses, the oldest first (round n opened (rounds − n) months ago)."""
    return {"orgs": [{"groups": [{"rounds": [
        {"closed": True, "mode": "questionnaire", "month": months_apart * (rounds - number), "responses": [
            {"source": "questionnaire", "profession": "nurse", "answers": {"a1": 1 + number % 5, "b1": i}}
            for i in range(3)]}
        for number in range(1, rounds + 1)]}]}]}


TOTAL = DEFAULT_ROUNDS + 2


@pytest.fixture
def group_with_history(db, leader, coordinator):
    """A group with two rounds more than the default period shows."""
    world = make_world(_spec(TOTAL))
    programme.add_group_leader(None, world.groups[0], leader)
    _db.session.commit()
    return world.groups[0]


def table_rounds(page: str, key: str = "attack/A") -> list[int]:
    table = re.search(rf'<table[^>]*id="table-{re.escape(key)}".*?</table>', page, re.S).group(0)
    return [int(n) for n in re.findall(r'<th scope="row">(\d+)</th>', table)]


def chart_rounds(page: str) -> list[int]:
    data = json.loads(html.unescape(re.search(r'data-chart="([^"]*)"', page).group(1)))
    return [r["number"] for r in data["rounds"]]


def test_group_trends_show_the_last_rounds_first_and_every_round_one_click_away(client, auth, leader,
                                                                               group_with_history):
    auth.login(leader)
    page = client.get(f"/groups/{group_with_history.id}/trends").get_data(as_text=True)
    recent = list(range(TOTAL - DEFAULT_ROUNDS + 1, TOTAL + 1))
    assert table_rounds(page) == table_rounds(page, "attack/B") == chart_rounds(page) == recent
    data = client.get(f"/groups/{group_with_history.id}/trends.json").get_json()
    assert [r["number"] for r in data["rounds"]] == recent and data["total_rounds"] == TOTAL
    assert all(len(s["points"]) == DEFAULT_ROUNDS for s in data["series"])
    assert f"Showing the last {DEFAULT_ROUNDS} of {TOTAL} rounds" in page
    link = html.unescape(re.search(r'<a href="([^"]*)" id="trend-show-all"', page).group(1))
    assert "period=all" in link
    everything = client.get(link).get_data(as_text=True)
    assert table_rounds(everything) == chart_rounds(everything) == list(range(1, TOTAL + 1))
    assert [r["number"] for r in client.get(f"/groups/{group_with_history.id}/trends.json?period=all").get_json()
            ["rounds"]] == list(range(1, TOTAL + 1))
    # From every round, the way back; the source and item filters travel with the period.
    assert 'id="trend-show-recent"' in everything
    filtered = client.get(f"/groups/{group_with_history.id}/trends?source=questionnaire&items=1").get_data(as_text=True)
    link = html.unescape(re.search(r'<a href="([^"]*)" id="trend-show-all"', filtered).group(1))
    assert "source=questionnaire" in link and "items=1" in link and "period=all" in link
    assert 'name="period" value="all"' in client.get(link).get_data(as_text=True)


@pytest.mark.parametrize("period", ["", "ALL", "8", "last", "%00", "all,all"])
def test_a_bad_period_shows_the_default(client, auth, leader, group_with_history, period):
    auth.login(leader)
    response = client.get(f"/groups/{group_with_history.id}/trends?period={period}")
    if period == "%00":  # a NUL in the address is refused before any view, as everywhere in the app
        assert response.status_code == 400
        return
    assert response.status_code == 200
    assert table_rounds(response.get_data(as_text=True)) == list(range(3, TOTAL + 1))
    assert len(client.get(f"/groups/{group_with_history.id}/trends.json?period={period}").get_json()["rounds"]) == \
        DEFAULT_ROUNDS


def test_a_group_with_few_rounds_shows_them_all_without_a_link(client, auth, db, leader):
    world = make_world(_spec(3))
    programme.add_group_leader(None, world.groups[0], leader)
    _db.session.commit()
    auth.login(leader)
    page = client.get(f"/groups/{world.groups[0].id}/trends").get_data(as_text=True)
    assert table_rounds(page) == [1, 2, 3] and 'id="trend-period"' not in page


def test_the_change_compares_the_first_and_latest_round_of_the_period(db, group_with_history):
    from app.trends import group_queries

    trend = group_queries.group_trend(group_with_history, k=3, last=DEFAULT_ROUNDS)
    assert {(c.first_number, c.latest_number) for c in trend.changes} == {(3, TOTAL)}
    with pytest.raises(ValueError):
        group_queries.group_trend(group_with_history, k=3, last=0)


def test_programme_trends_show_two_years_first_and_every_round_one_click_away(client, auth, db, coordinator):
    make_world(_spec(3, months_apart=15))  # rounds opened 30, 15 and 0 months (and 20 days) ago
    _db.session.commit()
    auth.login(coordinator)
    for by, label in (("round", "Show all rounds"), ("quarter", "Show all quarters")):
        page = client.get(f"/trends?by={by}").get_data(as_text=True)
        assert 'id="trend-recent-only"' in page
        found = re.search(r'<a href="([^"]*)" id="trend-show-all">([^<]*)</a>', page)
        assert found.group(2) == label
        link = html.unescape(found.group(1))
        assert "from=" in link and f"by={by}" in link
        everything = client.get(link).get_data(as_text=True)
        assert 'id="trend-recent-only"' not in everything
        if by == "round":
            assert "Round 1" not in page and "Round 1" in everything


def _reads(statements: list[str], table: str) -> int:
    return sum(1 for s in statements if s.lstrip().upper().startswith("SELECT") and re.search(rf"\b{table}\b", s))


@pytest.mark.parametrize("url", ["/groups/{group}/trends", "/groups/{group}/trends.json", "/", "/trends"])
def test_pages_read_the_stored_sums_of_closed_rounds_and_no_score(client, auth, coordinator, group_with_history, url):
    """Before send-due stores them, the closed rounds are summed live from the stored scores; after, from their
    stored sums alone (the coordinator's home: its early warnings)."""
    auth.login(coordinator)
    url = url.format(group=group_with_history.id)
    with recorded_statements() as live:
        assert client.get(url).status_code == 200
    refresh_round_aggregates()
    _db.session.commit()
    with recorded_statements() as stored:
        assert client.get(url).status_code == 200
    assert _reads(live, "response_scores") > 0
    assert _reads(stored, "response_scores") == 0 and _reads(stored, "answers") == 0
    assert _reads(stored, "round_aggregates") > 0
