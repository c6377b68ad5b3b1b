"""The four ways issue 13 showed fewer than k people's answers on the old main, each closed, tried as the
attacker would: through the pages, the exports, the quarterly report and the API."""

from __future__ import annotations

import csv
import io
from datetime import UTC
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from app.extensions import db as _db
from app.feedback.models import FeedbackRound
from app.feedback.services.responses import submit_response
from app.programme import services as programme
from app.timeutil import utcnow
from app.trends import programme_queries
from tests.disclosure.world import make_world
from tests.factories import GOOD, LOW, bearer_headers, make_members, open_round


def _round(responses, closed=True, month=1):
    return {"orgs": [{"groups": [{"rounds": [{"closed": closed, "mode": "questionnaire", "month": month,
                                              "responses": responses}]}]}]}


def _response(profession, **answers):
    return {"source": "questionnaire", "profession": profession, "answers": answers}


@pytest.fixture
def staff(db, coordinator, leader):
    """The coordinator and a leader, the leader standing with the world's group once it exists."""

    def join(world):
        programme.add_group_leader(None, world.groups[0], leader)
        _db.session.commit()
        return world

    return join


def _csv(response) -> list[list[str]]:
    return _csv_text(response.get_data(as_text=True))


def _csv_text(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


# --- 1. subtraction across filters ---------------------------------------------------------------

@pytest.mark.parametrize("lone", ["psychologist", None])
def test_subtracting_the_physicians_and_nurses_from_all_professions_no_longer_gives_the_lone_respondent(
        client, auth, db, staff, coordinator, lone):
    """3 physicians, 3 nurses and 1 psychologist (or 1 without a profession): the views for all, physicians and
    nurses were all shown, so all − physicians − nurses was the lone respondent's exact score."""
    answers = [_response("physician", a1=4, a2=2, a3=4, b1=6)] * 3 + [_response("nurse", a1=3, a2=3, a3=3, b1=5)] * 3
    world = staff(make_world(_round(answers + [_response(lone, a1=1, a2=5, a3=1, b1=0)])))
    the_round = world.rounds[0]

    everything = programme_queries.programme_trend(None, k=3)
    assert not everything.cell(world.groups[0].id, 1, "attack/B").suppressed  # the round as a whole shows
    for profession in ("physician", "nurse", "psychologist"):
        cell = programme_queries.programme_trend(None, profession=profession, k=3).cell(world.groups[0].id, 1,
                                                                                         "attack/B")
        assert cell.suppressed and cell.mean is None and cell.n is None and cell.responses is None
        assert cell.reason in (programme_queries.COMPLEMENT, programme_queries.BELOW_K)

    auth.login(coordinator)
    for profession in ("physician", "nurse"):
        page = client.get(f"/trends?profession={profession}&from=").get_data(as_text=True)
        assert "data-cell" not in page and 'data-suppressed="complement"' in page
    page = client.get("/trends?from=").get_data(as_text=True)
    assert "data-cell" in page
    # The group's page split by source publishes no profession either: the round is all questionnaires.
    assert the_round.status == "closed"


# --- 2. sub-threshold subscale cells -------------------------------------------------------------

def test_a_subscale_only_one_response_scored_is_hidden_on_the_results_page_exports_report_and_api(
        client, auth, db, staff, coordinator, leader):
    """Three responses, only one with enough answers for subscale A (its score 1.33): the results page, the
    aggregate export and the quarterly report used to show n = 1, mean = 1.33."""
    world = staff(make_world(_round([
        _response("nurse", a1=1, a2=5, a3=2, b1=4),  # A: (1 + (6 − 5) + 2) / 3 = 1.33
        _response("nurse", a1=2, b1=5), _response("nurse", a1=3, b1=6),  # one item of three: no A score
    ])))
    the_round, group = world.rounds[0], world.groups[0]
    auth.login(leader)
    page = client.get(f"/rounds/{the_round.id}/results").get_data(as_text=True)
    row = page.split('id="subscale-A"', 1)[1].split("</tr>", 1)[0]
    assert "1.33" not in row and "few_scores" in row
    assert "1.33" not in client.get(f"/groups/{group.id}/trends").get_data(as_text=True)
    body = client.get(f"/api/v1/groups/{group.id}/trends", headers=bearer_headers(leader)).get_json()
    assert body["rounds"][0]["subscales"]["A"] == {"n": None, "mean": None, "sd": None, "ci_low": None,
                                                   "ci_high": None, "alpha": None, "alpha_low": None,
                                                   "alpha_high": None, "alpha_flagged": None}
    assert body["rounds"][0]["subscales"]["B"]["n"] == 3  # the subscale all three scored still shows
    auth.logout()

    auth.login(coordinator)
    rows = _csv(client.get("/exports/aggregates.csv"))
    (a_row,) = [r for r in rows[1:] if r[11] == "A"]
    assert a_row[13:18] == ["", "", "", "", ""] and a_row[-1].startswith("yes")
    sheet = openpyxl.load_workbook(io.BytesIO(client.get("/exports/aggregates.xlsx").data)).worksheets[0]
    (xa,) = [r for r in sheet.iter_rows(min_row=2, values_only=True) if r[11] == "A"]
    assert all(v in (None, "") for v in xa[13:18])
    closed = the_round.closed_at.replace(tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    report = client.get(f"/reports/quarter?year={closed.year}&quarter={(closed.month - 1) // 3 + 1}")
    text = report.get_data(as_text=True)
    assert f"report-round-{group.id}-1" in text and "1.33" not in text
    assert "Fewer than 3 responses answered this" in text


# --- 3. subtraction over time --------------------------------------------------------------------

def test_results_of_an_open_round_stay_hidden_so_one_more_answer_cannot_be_worked_out(
        client, auth, db, group, leader, coordinator, member, today):
    """A leader looking at n = 3 and again at n = 4 learned the fourth person's answers: now an open round shows
    participation only, on every page, export and API call, until it closes."""
    people = [member] + make_members(group, 4, "p{i}@example.org", joined_on=today.replace(day=1))
    the_round = open_round(group, present=people)
    _db.session.commit()
    for person, answers in zip(people[:3], (GOOD, GOOD, LOW), strict=True):
        submit_response(person, the_round, answers, utcnow())
    _db.session.commit()

    def everything_a_leader_and_coordinator_see() -> tuple[str, list]:
        """Every page and file as text, and every JSON answer parsed."""
        auth.login(leader)
        pages = [client.get(f"/rounds/{the_round.id}/results").get_data(as_text=True),
                 client.get(f"/groups/{group.id}/trends?items=1").get_data(as_text=True)]
        documents = [client.get(f"/groups/{group.id}/trends.json").get_json(),
                     client.get(f"/api/v1/groups/{group.id}/trends", headers=bearer_headers(leader)).get_json()]
        auth.logout()
        auth.login(coordinator)
        pages += [client.get(path).get_data(as_text=True) for path in (
            "/trends?from=", "/trends?from=&by=quarter", "/exports/aggregates.csv", "/exports/responses.csv",
            "/exports/free-text.csv", f"/rounds/{the_round.id}/results")]
        documents.append(client.get("/api/v1/trends", headers=bearer_headers(coordinator)).get_json())
        auth.logout()
        return "\n".join(pages), documents

    def means(document) -> list:
        if isinstance(document, dict):
            return [v for k, v in document.items() if k == "mean"] + [m for v in document.values() for m in means(v)]
        if isinstance(document, list):
            return [m for v in document for m in means(v)]
        return []

    first = everything_a_leader_and_coordinator_see()
    submit_response(people[3], the_round, LOW, utcnow())
    _db.session.commit()
    second = everything_a_leader_and_coordinator_see()
    for pages, documents in (first, second):
        assert 'id="results-subscales"' not in pages and "trend-mean" not in pages and "data-cell" not in pages
        assert "Helpful group." not in pages  # nor free text
        assert "Results appear once the round has closed" in pages
        assert {m for document in documents for m in means(document)} <= {None}
        assert len(_csv_text(pages.split("Group,Organisation,Round,Opened")[1])) >= 1  # the round is listed
    assert 'id="results-responses">3<' in first[0] and 'id="results-responses">4<' in second[0]  # participation

    the_round.close(utcnow())
    _db.session.commit()
    auth.login(leader)
    page = client.get(f"/rounds/{the_round.id}/results").get_data(as_text=True)
    assert 'id="results-subscales"' in page  # once closed, the results appear, once
    assert client.post(f"/rounds/{the_round.id}/extend", data={}).status_code == 403  # leaders do not extend
    assert _db.session.get(FeedbackRound, the_round.id).status == "closed"


# --- 4. linking in exports -----------------------------------------------------------------------

def test_free_text_is_exported_apart_from_the_ratings_of_the_same_response(client, auth, db, staff, coordinator):
    """The anonymised-responses export put a response's released free text in the row of its ratings: a
    recognisable sentence de-anonymised the ratings beside it."""
    world = staff(make_world(_round([
        _response("nurse", a1=1 + i, a2=2, a3=3, b1=i, t1=f"Only I would write sentence {i}") for i in range(4)])))
    assert world.rounds[0].status == "closed"
    auth.login(coordinator)
    ratings = _csv(client.get("/exports/responses.csv"))
    assert ratings[0][-1] == "Answer" and "Free text" not in ratings[0]
    assert not any("sentence" in cell for row in ratings for cell in row)
    texts = _csv(client.get("/exports/free-text.csv"))
    assert texts[0] == ["Group", "Organisation", "Round", "Instrument", "Version", "Item", "Item text", "Free text"]
    assert sorted(r[-1] for r in texts[1:]) == [f"Only I would write sentence {i}" for i in range(4)]
    book = openpyxl.load_workbook(io.BytesIO(client.get("/exports/responses.xlsx").data))
    first, second = book.worksheets[0], book.worksheets[1]
    assert [c.value for c in first[1]][-1] == "Answer"
    assert second.title == "Free text" and [c.value for c in second[1]] == texts[0]
    assert not any("sentence" in str(v) for row in first.iter_rows(values_only=True) for v in row)
    # No number is shared: the text sheet has no row number, and the rating rows' numbers are per export.
    assert "Row" not in [c.value for c in second[1]]
