"""Programme trends and early warnings: numbers against an independent computation, quarters, the anonymity
threshold under every filter, scope, a constant number of queries, and who may see the page."""

from __future__ import annotations

import json
import random
import re
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from html import unescape

import numpy as np
import pytest
import sqlalchemy as sa
from scipy import stats as scipy_stats

from app.disclosure.services import refresh_round_aggregates
from app.extensions import db as _db
from app.feedback import scoring
from app.feedback.models import Answer, FeedbackRound, Response, RoundMeeting
from app.meetings.models import Attendance
from app.programme.models import Group
from app.scheduling.models import Meeting
from app.trends import programme_queries as queries
from app.trends import signals, warnings
from tests.factories import PROGRAMME_TREND, make_group, make_instrument, make_user
from tests.querylog import recorded_statements, work

DEF = scoring.definition_from_dict(PROGRAMME_TREND)
A, B = "trend-test/A", "trend-test/B"
NOW = datetime(2026, 6, 15, 12, 0)


# --- building rounds straight in the database ------------------------------------------------

@pytest.fixture
def instrument(db):
    return make_instrument(PROGRAMME_TREND)


def add_round(group, number, instrument, answers, opens_at=None, professions=None, closed=True):
    """A round of the group with one response per answer dict (professions in the same order)."""
    opens_at = opens_at or NOW - timedelta(days=200 - 30 * number)
    the_round = FeedbackRound(
        group_id=group.id, number=number, opens_at=opens_at, closes_at=opens_at + timedelta(days=14),
        status="closed" if closed else "open", instrument_id=instrument.id,
    )
    _db.session.add(the_round)
    _db.session.flush()
    for i, given in enumerate(answers):
        profession = professions[i] if professions else None
        response = Response(round_id=the_round.id, instrument_id=instrument.id, profession=profession,
                            answers=[Answer(item_code=c, value=v) for c, v in given.items()])
        _db.session.add(response)
    _db.session.flush()
    return the_round


def random_answers(rng: random.Random) -> dict:
    given = {"a1": rng.randint(1, 5), "b1": rng.randint(0, 10)}
    for code in ("a2", "a3", "a4"):
        if rng.random() < 0.7:  # some responses leave optional items out, a few too many of them
            given[code] = rng.randint(1, 5)
    return given


def independent_scores(answer_sets: list[dict], subscale: str) -> list[float]:
    """Each response's subscale score, computed in Python from the raw answers."""
    sub = next(s for s in DEF.subscales if s.code == subscale)
    scores = []
    for given in answer_sets:
        values = []
        for code in sub.items:
            if code in given:
                item = DEF.item(code)
                values.append(item.min + item.max - given[code] if item.reverse else given[code])
        if values and (len(sub.items) - len(values)) * 2 <= len(sub.items):
            scores.append(float(np.mean(values)))
    return scores


def expected(scores: list[float]) -> tuple:
    x = np.array(scores)
    mean, sd = x.mean(), x.std(ddof=1)
    low, high = scipy_stats.t.interval(0.95, len(x) - 1, loc=mean, scale=sd / np.sqrt(len(x)))
    return len(x), mean, sd, low, high


@contextmanager
def counted_queries():
    """The statements doing the work, filled in when the block ends (transaction control depends on the session's
    state, not on the page's work)."""
    done: list[str] = []
    with recorded_statements(_db.engine) as statements:
        yield done
    done.extend(work(statements))


def page(response) -> str:
    return response.get_data(as_text=True)


def chart_of(html: str) -> dict:
    return json.loads(unescape(re.search(r"data-chart='([^']*)'", html).group(1)))


# --- numbers ---------------------------------------------------------------------------------

def test_every_shown_cell_matches_numpy_and_scipy_on_random_answers(db, org, instrument):
    rng = random.Random(20260615)
    raw: dict[tuple[int, int], list[dict]] = {}
    for g in range(4):
        group = make_group(org, f"Random group {g}")
        for number in range(1, 5):
            answer_sets = [random_answers(rng) for _ in range(rng.randint(0, 9))]
            add_round(group, number, instrument, answer_sets)
            raw[(group.id, number)] = answer_sets
    trend = queries.programme_trend(None, k=3)
    shown = hidden = 0
    for (group_id, number), answer_sets in raw.items():
        for key, code in ((A, "A"), (B, "B")):
            cell = trend.cell(group_id, number, key)
            assert cell is not None
            scores = independent_scores(answer_sets, code)
            if len(answer_sets) < 3 or len(scores) < 3:
                assert cell.suppressed and cell.mean is None and cell.sd is None and cell.n is None
                assert cell.reason == (queries.BELOW_K if len(answer_sets) < 3 else queries.FEW_SCORES)
                hidden += 1
                continue
            n, mean, sd, low, high = expected(scores)
            assert not cell.suppressed
            assert cell.n == n
            assert cell.mean == pytest.approx(mean)
            assert cell.sd == pytest.approx(sd)
            assert (cell.ci_low, cell.ci_high) == (pytest.approx(low), pytest.approx(high))
            shown += 1
    assert shown > 10 and hidden > 0  # the random data exercised both paths


def test_the_heat_map_holds_the_means_and_leaves_hidden_cells_empty_with_their_reason(db, org, instrument):
    group = make_group(org, "Heat group")
    add_round(group, 1, instrument, [{"a1": 5, "b1": 4}, {"a1": 3, "b1": 6}, {"a1": 4, "b1": 8}])
    add_round(group, 2, instrument, [{"a1": 2, "b1": 1}, {"a1": 2, "b1": 1}])
    heat = queries.programme_trend(None, k=3).heatmap(B)
    assert heat.x == [1, 2] and heat.y == ["Heat group"]
    assert heat.z == [[pytest.approx(6.0), None]]
    assert heat.n == [[3, None]]
    assert heat.reason == [[None, queries.BELOW_K]]


def test_by_quarter_combines_the_rounds_that_opened_in_the_same_quarter(db, org, instrument):
    group = make_group(org, "Quarterly group")
    first = [{"a1": 5, "b1": 2}, {"a1": 4, "b1": 3}, {"a1": 3, "b1": 4}]
    second = [{"a1": 1, "b1": 9}, {"a1": 2, "b1": 10}, {"a1": 2, "b1": 8}, {"a1": 1, "b1": 7}]
    third = [{"a1": 3, "b1": 5}, {"a1": 3, "b1": 6}, {"a1": 4, "b1": 5}]
    add_round(group, 1, instrument, first, opens_at=datetime(2026, 1, 10, 8))
    add_round(group, 2, instrument, second, opens_at=datetime(2026, 3, 30, 8))
    add_round(group, 3, instrument, third, opens_at=datetime(2026, 4, 2, 8))
    trend = queries.programme_trend(None, by="quarter", k=3)
    assert trend.columns == ["2026-Q1", "2026-Q2"]
    q1 = trend.cell(group.id, "2026-Q1", B)
    n, mean, sd, low, high = expected(independent_scores(first + second, "B"))
    assert (q1.n, q1.rounds) == (7, (1, 2))
    assert (q1.mean, q1.sd, q1.ci_low, q1.ci_high) == (
        pytest.approx(mean), pytest.approx(sd), pytest.approx(low), pytest.approx(high))
    q2 = trend.cell(group.id, "2026-Q2", B)
    assert (q2.n, q2.rounds) == (3, (3,))
    assert q2.mean == pytest.approx(np.mean(independent_scores(third, "B")))


def test_a_quarter_is_read_in_the_deployments_timezone(db, org, instrument):
    from zoneinfo import ZoneInfo

    group = make_group(org, "Midnight group")
    answers = [{"a1": 3, "b1": 3}] * 3
    # 31 March 20:00 UTC is already 1 April 04:00 in Beijing: by default the deployment's zone decides.
    add_round(group, 1, instrument, answers, opens_at=datetime(2026, 3, 31, 20))
    assert queries.programme_trend(None, by="quarter", k=3).columns == ["2026-Q2"]
    assert queries.programme_trend(None, by="quarter", k=3, zone=ZoneInfo("Asia/Shanghai")).columns == ["2026-Q2"]
    assert queries.programme_trend(None, by="quarter", k=3, zone=ZoneInfo("UTC")).columns == ["2026-Q1"]


def test_a_quarter_never_includes_a_round_hidden_on_its_own(db, org, instrument):
    group = make_group(org, "Partly hidden group")
    shown = [{"a1": 3, "b1": 2}, {"a1": 3, "b1": 4}, {"a1": 3, "b1": 6}]
    add_round(group, 1, instrument, shown, opens_at=datetime(2026, 1, 10))
    add_round(group, 2, instrument, [{"a1": 1, "b1": 10}, {"a1": 1, "b1": 10}], opens_at=datetime(2026, 2, 20))
    cell = queries.programme_trend(None, by="quarter", k=3).cell(group.id, "2026-Q1", B)
    assert (cell.n, cell.mean, cell.left_out) == (3, pytest.approx(4.0), 1)


def test_a_quarter_of_hidden_rounds_only_is_hidden(db, org, instrument):
    group = make_group(org, "Hidden quarter group")
    add_round(group, 1, instrument, [{"a1": 1, "b1": 10}] * 2, opens_at=datetime(2026, 1, 10))
    add_round(group, 2, instrument, [{"a1": 1, "b1": 10}] * 2, opens_at=datetime(2026, 2, 10))
    cell = queries.programme_trend(None, by="quarter", k=3).cell(group.id, "2026-Q1", B)
    assert cell.suppressed and cell.mean is None and cell.reason == queries.BELOW_K


# --- the anonymity threshold under filters ---------------------------------------------------

def test_the_profession_filter_hides_rounds_where_the_filtered_count_is_below_k(db, org, instrument):
    group = make_group(org, "Mixed group")
    professions = ["nurse"] * 3 + ["physician"] * 2
    answers = [{"a1": 4, "b1": v} for v in (2, 4, 6, 9, 9)]
    add_round(group, 1, instrument, answers, professions=professions)
    physicians = queries.programme_trend(None, profession="physician", k=3).cell(group.id, 1, B)
    assert physicians.suppressed and physicians.reason == queries.BELOW_K and physicians.mean is None
    # Three nurses meet k, but showing them would give the two physicians away by subtraction.
    nurses = queries.programme_trend(None, profession="nurse", k=3).cell(group.id, 1, B)
    assert nurses.suppressed and nurses.reason == queries.COMPLEMENT
    everyone = queries.programme_trend(None, k=3).cell(group.id, 1, B)
    assert not everyone.suppressed and everyone.mean == pytest.approx(6.0)


def test_the_profession_filter_shows_a_round_where_k_is_still_met(db, org, instrument):
    group = make_group(org, "Balanced group")
    professions = ["nurse"] * 3 + ["physician"] * 3
    answers = [{"a1": 4, "b1": v} for v in (2, 4, 6, 9, 9, 9)]
    add_round(group, 1, instrument, answers, professions=professions)
    nurses = queries.programme_trend(None, profession="nurse", k=3).cell(group.id, 1, B)
    assert (nurses.suppressed, nurses.n, nurses.mean) == (False, 3, pytest.approx(4.0))


def test_the_page_says_why_a_filtered_round_is_hidden(client, auth, db, org, coordinator, instrument):
    group = make_group(org, "Mixed page group")
    add_round(group, 1, instrument, [{"a1": 4, "b1": 5}] * 4, professions=["nurse"] * 3 + ["physician"])
    db.session.commit()
    auth.login(coordinator)
    html = page(client.get("/trends?profession=physician"))
    assert "Fewer than 3 responses: hidden to protect anonymity." in html
    assert 'data-suppressed="below_k"' in html and "data-cell" not in html
    assert chart_of(html)["subscales"][0]["z"] == [[None]]
    shown = page(client.get("/trends"))
    assert "data-cell" in shown and "5.00" in shown


def test_the_organisation_and_period_filters_keep_only_matching_rounds(db, org, other_org, instrument):
    here, there = make_group(org, "Here group"), make_group(other_org, "There group")
    answers = [{"a1": 3, "b1": 5}] * 3
    add_round(here, 1, instrument, answers, opens_at=datetime(2026, 1, 10))
    add_round(here, 2, instrument, answers, opens_at=datetime(2026, 5, 10))
    add_round(there, 1, instrument, answers, opens_at=datetime(2026, 1, 10))
    by_org = queries.programme_trend(None, organisation_id=other_org.id, k=3)
    assert [g.name for g in by_org.groups] == ["There group"]
    in_period = queries.programme_trend(None, start=date(2026, 4, 1), end=date(2026, 6, 30), k=3)
    assert [g.name for g in in_period.groups] == ["Here group"] and in_period.columns == [2]


# --- the page: access, scope, filters, queries -----------------------------------------------

def test_a_scoped_coordinator_sees_only_their_organisation(client, auth, db, org, other_org, org_coordinator,
                                                           instrument):
    add_round(make_group(org, "Own group"), 1, instrument, [{"a1": 3, "b1": 5}] * 3)
    add_round(make_group(other_org, "Foreign group"), 1, instrument, [{"a1": 3, "b1": 5}] * 3)
    db.session.commit()
    auth.login(org_coordinator)
    html = page(client.get("/trends"))
    assert "Own group" in html and "Foreign group" not in html and "Other Hospital" not in html
    asked = client.get(f"/trends?organisation={other_org.id}")
    assert asked.status_code == 200
    assert "Foreign group" not in page(asked) and "not one you can see" in page(asked)


def test_a_programme_coordinator_sees_every_organisation(client, auth, db, org, other_org, coordinator,
                                                         instrument):
    add_round(make_group(org, "Own group"), 1, instrument, [{"a1": 3, "b1": 5}] * 3)
    add_round(make_group(other_org, "Foreign group"), 1, instrument, [{"a1": 3, "b1": 5}] * 3)
    db.session.commit()
    auth.login(coordinator)
    html = page(client.get("/trends"))
    assert "Own group" in html and "Foreign group" in html


@pytest.mark.parametrize("query, message", [
    ("organisation=abc", "not one you can see"),
    ("organisation=999999", "not one you can see"),
    ("organisation=%C2%B3", "not one you can see"),
    ("profession=astronaut", "Unknown profession"),
    ("from=2026-13-45", "is not a date"),
    ("until=yesterday", "is not a date"),
    ("from=2026-05-01&until=2026-01-01", "ends before it starts"),
    ("by=week", "by round or by quarter"),
])
def test_a_bad_filter_value_gives_a_message_not_an_error(client, auth, db, coordinator, query, message):
    auth.login(coordinator)
    response = client.get(f"/trends?{query}")
    assert response.status_code == 200
    assert message in unescape(page(response))


def test_leaders_and_members_may_not_open_programme_trends(client, auth, db, leader, member):
    for persona in (leader, member):
        auth.login(persona)
        assert client.get("/trends").status_code == 403
        auth.logout()


def test_the_page_has_no_inline_script_and_loads_its_own_files(client, auth, db, org, coordinator, instrument):
    add_round(make_group(org, "Chart group"), 1, instrument, [{"a1": 3, "b1": 5}] * 3)
    db.session.commit()
    auth.login(coordinator)
    html = page(client.get("/trends"))
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert not re.search(r"\son[a-z]+=", html) and " style=" not in html
    assert "/static/js/heatmap.js" in html and "/vendor/plotly.min.js" in html


def _groups_with_rounds(org, instrument, first: int, count: int, rng: random.Random) -> None:
    for g in range(first, first + count):
        group = make_group(org, f"Counted group {g:02d}")
        for number in range(1, 4):
            add_round(group, number, instrument, [random_answers(rng) for _ in range(rng.randint(2, 6))])
    refresh_round_aggregates()  # the closed rounds' sums stored, as when they closed
    _db.session.commit()


def test_the_query_count_is_the_same_for_two_groups_as_for_twenty(client, auth, db, org, coordinator,
                                                                  instrument):
    rng = random.Random(7)
    auth.login(coordinator)
    _groups_with_rounds(org, instrument, 0, 2, rng)
    client.get("/trends")  # the same state for both counts: the signed-in user loaded once before
    with counted_queries() as few:
        queries.programme_trend(None, k=3)
    with counted_queries() as few_page:
        assert client.get("/trends?by=quarter").status_code == 200
    _groups_with_rounds(org, instrument, 2, 18, rng)
    client.get("/trends")
    with counted_queries() as many:
        trend = queries.programme_trend(None, k=3)
    with counted_queries() as many_page:
        assert client.get("/trends?by=quarter").status_code == 200
    assert len(trend.groups) == 20
    assert len(few) == len(many) <= 3  # the rounds, their instruments, their stored sums
    assert len(few_page) == len(many_page)


# --- early warnings --------------------------------------------------------------------------

def _warn(scope=None, drop=0.5, participation=0.5, days=45, now=NOW):
    """The warnings computed live — and the same read from the signals stored at `now` (app.trends.signals)."""
    live = warnings.early_warnings(now, scope, drop=drop, participation=participation, days=days, k=3, stored=False)
    signals.store(list(_db.session.scalars(sa.select(Group.id))), now, 3)
    stored = warnings.early_warnings(now, scope, drop=drop, participation=participation, days=days, k=3)
    assert [(w.group.id, w.kind, w.detail) for w in stored] == [(w.group.id, w.kind, w.detail) for w in live]
    return live


def _kinds(found, group) -> list[str]:
    return [w.kind for w in found if w.group.id == group.id]


def test_a_fall_larger_than_the_setting_between_consecutive_rounds_warns(db, org, instrument):
    group = make_group(org, "Falling group")
    add_round(group, 1, instrument, [{"a1": 3, "b1": 7}] * 3)
    add_round(group, 2, instrument, [{"a1": 3, "b1": 6}] * 3)  # B fell by exactly 1.0
    found = [w for w in _warn(drop=0.99) if w.kind == warnings.DROP]
    assert len(found) == 1 and found[0].group.id == group.id
    assert found[0].detail["subscale"] == "Subscale B" and found[0].detail["fall"] == pytest.approx(1.0)
    assert _kinds(_warn(drop=1.0), group) == []  # not more than the setting


def test_a_fall_next_to_a_round_below_k_does_not_warn(db, org, instrument):
    group = make_group(org, "Hidden fall group")
    add_round(group, 1, instrument, [{"a1": 5, "b1": 10}] * 3)
    add_round(group, 2, instrument, [{"a1": 1, "b1": 0}] * 2)
    assert _kinds(_warn(drop=0.5), group) == []


def test_only_the_latest_two_closed_rounds_are_compared(db, org, instrument):
    group = make_group(org, "Recovered group")
    add_round(group, 1, instrument, [{"a1": 5, "b1": 10}] * 3)
    add_round(group, 2, instrument, [{"a1": 5, "b1": 2}] * 3)
    add_round(group, 3, instrument, [{"a1": 5, "b1": 9}] * 3)
    add_round(group, 4, instrument, [{"a1": 5, "b1": 0}] * 3, opens_at=NOW - timedelta(days=2), closed=False)
    assert _kinds(_warn(drop=0.5), group) == []


def _round_with_attendance(db, group, instrument, eligible: int, responses: int):
    people = [make_user(f"{group.id}-p{i}@example.org") for i in range(eligible)]
    meeting = Meeting(group_id=group.id, starts_at=NOW - timedelta(days=30), ends_at=NOW - timedelta(days=30, hours=-1),
                      status="held")
    db.session.add(meeting)
    db.session.flush()
    db.session.add_all(Attendance(meeting_id=meeting.id, user_id=p.id, status="present") for p in people)
    db.session.add(Attendance(meeting_id=meeting.id, user_id=make_user(f"{group.id}-x@example.org").id,
                              status="absent"))
    the_round = add_round(group, 1, instrument, [{"a1": 3, "b1": 5}] * responses)
    db.session.add(RoundMeeting(round_id=the_round.id, meeting_id=meeting.id))
    db.session.flush()
    return the_round


def test_participation_below_half_warns_and_half_does_not(db, org, instrument):
    low, half = make_group(org, "Quiet group"), make_group(org, "Half group")
    _round_with_attendance(db, low, instrument, eligible=10, responses=4)
    _round_with_attendance(db, half, instrument, eligible=10, responses=5)
    found = _warn()
    assert _kinds(found, low) == [warnings.PARTICIPATION] and _kinds(found, half) == []
    detail = next(w.detail for w in found if w.group.id == low.id)
    assert (detail["responses"], detail["eligible"], detail["participation"]) == (4, 10, pytest.approx(0.4))


def _held(db, group, at: datetime) -> None:
    db.session.add(Meeting(group_id=group.id, starts_at=at, ends_at=at + timedelta(hours=1), status="held"))
    db.session.flush()


def test_forty_five_days_without_a_held_meeting_warns_and_just_under_does_not(db, org):
    idle, recent = make_group(org, "Idle group"), make_group(org, "Recent group")
    _held(db, idle, NOW - timedelta(days=45))
    _held(db, recent, NOW - timedelta(days=45) + timedelta(minutes=1))
    # A later meeting that was cancelled or is only scheduled does not count.
    db.session.add(Meeting(group_id=idle.id, starts_at=NOW - timedelta(days=3), ends_at=NOW - timedelta(days=3) +
                           timedelta(hours=1), status="cancelled"))
    db.session.flush()
    found = _warn()
    assert _kinds(found, idle) == [warnings.NO_MEETING] and _kinds(found, recent) == []
    assert next(w for w in found if w.group.id == idle.id).detail["days"] == 45


def test_a_group_that_never_met_warns_once_it_is_old_enough(db, org):
    group = make_group(org, "Never met group")
    group.created_at = NOW - timedelta(days=50)
    db.session.flush()
    found = [w for w in _warn() if w.group.id == group.id]
    assert [w.kind for w in found] == [warnings.NO_MEETING] and found[0].detail["never"]
    group.created_at = NOW - timedelta(days=10)
    db.session.flush()
    assert _kinds(_warn(), group) == []


def test_warnings_keep_to_the_coordinators_organisation_and_to_active_groups(db, org, other_org):
    own, foreign, paused = make_group(org, "Own idle"), make_group(other_org, "Foreign idle"), make_group(org, "Paused")
    for group in (own, foreign, paused):
        group.created_at = NOW - timedelta(days=100)
    paused.status = "paused"
    db.session.flush()
    assert {w.group.name for w in _warn(scope=org.id)} == {"Own idle"}
    assert {w.group.name for w in _warn(scope=None)} == {"Own idle", "Foreign idle"}


def test_the_coordinators_home_lists_early_warnings(client, auth, db, org, coordinator):
    group = make_group(org, "Forgotten group")
    group.created_at = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=80)
    db.session.commit()
    auth.login(coordinator)
    html = page(client.get("/"))
    assert "Early warnings" in html and 'data-warning="no_meeting"' in html and "Forgotten group" in html


def test_the_home_page_has_no_warnings_for_a_member(client, auth, db, member):
    auth.login(member)
    assert "Early warnings" not in page(client.get("/"))


# --- the page: recent years first, a page of groups at a time --------------------------------

def test_a_first_visit_shows_the_last_two_years_and_clearing_the_date_shows_all(client, auth, db, org, coordinator,
                                                                                 instrument):
    rng = random.Random(3)
    group = make_group(org, "Long-running group")
    today = datetime.now(UTC).replace(tzinfo=None)
    add_round(group, 1, instrument, [random_answers(rng) for _ in range(4)], opens_at=today - timedelta(days=900))
    add_round(group, 2, instrument, [random_answers(rng) for _ in range(4)], opens_at=today - timedelta(days=30))
    db.session.commit()
    auth.login(coordinator)
    first = page(client.get("/trends"))
    assert 'id="trend-recent-only"' in first
    assert chart_of(first)["subscales"][0]["x"] == ["Round 2"]
    everything = page(client.get("/trends?from=&until="))
    assert 'id="trend-recent-only"' not in everything
    assert chart_of(everything)["subscales"][0]["x"] == ["Round 1", "Round 2"]


def test_groups_come_a_page_at_a_time_by_name(app, client, auth, db, org, coordinator, instrument):
    rng = random.Random(5)
    size = app.config["PAGE_SIZE"]
    for i in range(size + 3):
        add_round(make_group(org, f"Group {i:03d}"), 1, instrument, [random_answers(rng) for _ in range(3)],
                  opens_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(days=10))
    db.session.commit()
    auth.login(coordinator)
    first = page(client.get("/trends"))
    assert chart_of(first)["subscales"][0]["y"] == [f"Group {i:03d}" for i in range(size)]
    assert f"of {size + 3}" in first and "page=2" in first
    second = page(client.get("/trends?page=2"))
    assert chart_of(second)["subscales"][0]["y"] == [f"Group {i:03d}" for i in range(size, size + 3)]
    beyond = client.get("/trends?page=99")
    assert beyond.status_code == 200 and 'id="trend-empty"' in page(beyond)
