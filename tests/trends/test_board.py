"""The programme board (app.trends.board_queries and its pages): each rule on real data, hidden rounds and concern
counts kept out, scope and the organisation filter, a constant number of statements, the page in both languages,
the home, the report and the export."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, timedelta

import pytest

from app import disclosure
from app.disclosure.services import refresh_round_aggregates
from app.extensions import db as _db
from app.feedback.models import FeedbackRound, RoundMeeting
from app.meetings.models import Attendance
from app.scheduling.models import Meeting, MeetingLeader
from app.trends import rules
from app.trends.board_queries import programme_board
from app.trends.rules import AMBER, GREEN, RED, Thresholds
from tests.factories import PULSE, make_group, make_instrument, make_leader, make_meeting, make_user, pulse_round
from tests.querylog import recorded_statements, work

NOW = datetime(2026, 6, 15, 4, 0)
T = Thresholds()
WELLBEING = "pulse/wellbeing"


@pytest.fixture
def instrument(db):
    return make_instrument(PULSE)


def add_round(group, number, instrument, scores, closed=True, opens_at=None):
    """A round of the group, a month after the one before: one response per wellbeing score."""
    return pulse_round(group, number, instrument, scores, opens_at or NOW - timedelta(days=400 - 30 * number),
                       closed=closed)


def held(group, days_ago: int, now=NOW) -> Meeting:
    meeting = Meeting(group_id=group.id, starts_at=now - timedelta(days=days_ago),
                      ends_at=now - timedelta(days=days_ago) + timedelta(hours=1), status="held")
    _db.session.add(meeting)
    _db.session.flush()
    return meeting


def board(scope=None, organisation=None, now=NOW, thresholds=T, k=3):
    return programme_board(scope, now, k, thresholds, organisation)


def row_of(result, group):
    return next(r for r in result.rows if r.group_id == group.id)


def raised(result, group) -> dict[str, str]:
    """The rules raised for the group, by rule (the worst status when a rule fires for several subscales)."""
    found: dict[str, str] = {}
    for f in row_of(result, group).findings:
        found[f.rule] = rules.worst([found.get(f.rule, GREEN), f.status])
    return found


# A slow slide in steps of a quarter point (too small for the consecutive-round drop warning).
SLIDE = [[4, 4, 5, 4, 4, 4], [4, 4, 4, 4, 3, 4], [4, 3, 4, 4, 3, 4], [3, 4, 3, 4, 3, 3],
         [3, 3, 3, 4, 3, 3], [3, 3, 3, 3, 2, 3], [3, 2, 3, 3, 2, 3], [2, 3, 2, 3, 2, 3]]


# --- the rules on real data --------------------------------------------------------------------

def test_a_slow_slide_is_red_by_both_decline_rules_and_a_steady_group_is_green(db, org, instrument):
    sliding, steady = make_group(org, "Sliding group"), make_group(org, "Steady group")
    for number, scores in enumerate(SLIDE, start=1):
        add_round(sliding, number, instrument, scores)
        add_round(steady, number, instrument, [4, 4, 3, 4, 5, 4])
    for group in (sliding, steady):
        held(group, 3)
    result = board()
    found = raised(result, sliding)
    assert found[rules.DECLINE_SLOPE] == RED and found[rules.DECLINE_CHANGE] == RED
    assert row_of(result, sliding).status == RED and row_of(result, steady).status == GREEN
    assert [r.group for r in result.rows] == ["Sliding group", "Steady group"]  # red first
    slope = next(f for f in row_of(result, sliding).findings if f.rule == rules.DECLINE_SLOPE)
    assert slope.detail["subscale"] == "Wellbeing"
    assert (slope.detail["first_round"], slope.detail["last_round"]) == (4, 8)
    # One group's board (an export for that group) is that group's row of the whole board, alone.
    for group in (sliding, steady):
        assert programme_board(None, NOW, 3, T, group_id=group.id).rows == [row_of(result, group)]
    # The same numbers read from the stored aggregates once the rounds are aggregated.
    refresh_round_aggregates()
    assert board().rows == result.rows


def test_a_hidden_round_gives_no_point_to_the_decline_and_no_concern_share(db, org, instrument):
    group = make_group(org, "Hidden fall group")
    for number in range(1, 5):
        add_round(group, number, instrument, [4, 4, 4, 3, 5])
    hidden = add_round(group, 5, instrument, [1, 1])  # below k: its collapse must not show through the board
    held(group, 3)
    with disclosure.observe() as seen:
        result = board()
    assert row_of(result, group).status == GREEN
    assert seen and not any(part.round_id == hidden.id for p in seen for part in p.parts)
    assert all(f.detail.get("last_round") != 5 for f in row_of(result, group).findings)


def test_an_open_round_counts_for_nothing(db, org, instrument):
    group = make_group(org, "Open round group")
    for number in range(1, 5):
        add_round(group, number, instrument, [4, 4, 4, 4, 3])
    add_round(group, 5, instrument, [1, 1, 1, 1, 1], closed=False, opens_at=NOW - timedelta(days=2))
    held(group, 3)
    assert row_of(board(), group).status == GREEN


@pytest.mark.parametrize(("scores", "status", "shown"), [
    ([1, 1, 1, 4, 4, 4], RED, True),  # 3 of 6 in the band (score <= 2.0): 50%
    ([2, 2, 1, 4, 4, 4, 4, 4, 5, 5], AMBER, True),  # 3 of 10: 30%
    ([1, 2, 4, 4, 4, 4, 4, 5], GREEN, False),  # 2 of 8: a count below k is not published, so no share
    ([2, 2, 2, 2, 2, 2, 1, 1, 1, 4], RED, False),  # 9 of 10: the one outside would follow, so no share
    ([4, 4, 4, 5, 5], GREEN, True),  # none in the band
])
def test_the_concern_share_counts_only_when_both_counts_may_be_published(db, org, instrument, scores, status, shown):
    group = make_group(org, "Concern group")
    add_round(group, 1, instrument, scores)
    held(group, 3)
    with disclosure.observe() as seen:
        result = board()
    shares = [p for p in seen if p.kind == "share"]
    assert bool(shares) == shown
    for p in shares:
        assert p.value.in_band in (0,) or p.value.in_band >= 3
        assert p.value.n - p.value.in_band == 0 or p.value.n - p.value.in_band >= 3
    expected = status if shown else GREEN
    assert raised(result, group).get(rules.CONCERN, GREEN) == expected


def test_a_response_between_two_items_scores_its_mean_against_the_band(db, org, instrument):
    group = make_group(org, "Mean group")
    add_round(group, 1, instrument, [(2, 3), (2, 3), (2, 3), (1, 3), (1, 3), (1, 3)])  # 2.5 twice, 2.0 three times
    held(group, 3)
    concern = next(f for f in row_of(board(), group).findings if f.rule == rules.CONCERN)
    assert (concern.detail["in_band"], concern.detail["n"], concern.status) == (3, 6, RED)


def test_published_concern_shares_equal_an_independent_count_on_random_rounds(db, org, instrument):
    rng = random.Random(20261207)
    truth: dict[int, list[tuple[int, int]]] = {}
    for g in range(6):
        group = make_group(org, f"Random concern {g}")
        held(group, 3)
        for number in range(1, 4):
            answers = [(rng.randint(1, 5), rng.randint(1, 5)) for _ in range(rng.randint(0, 12))]
            truth[add_round(group, number, instrument, answers).id] = answers
    refresh_round_aggregates()
    release = disclosure.Release(_db.session.query(FeedbackRound).all(), k=3, now=NOW)
    with disclosure.observe() as seen:
        shares = disclosure.concern_shares(release, list(truth))
    shown = 0
    for round_id, answers in truth.items():
        scores = [(a + b) / 2 for a, b in answers]
        in_band, n = sum(1 for s in scores if s <= 2.0), len(scores)
        share = shares.get((round_id, WELLBEING))
        publishable = n >= 3 and in_band in (0, *range(3, n + 1)) and n - in_band in (0, *range(3, n + 1))
        if n == 0:
            assert share is None
        elif publishable:
            assert (share.in_band, share.n) == (in_band, n)
            shown += 1
        else:
            assert share is not None and share.in_band is None and share.n is None and share.reason
    assert shown >= 3 and len([p for p in seen if p.kind == "share"]) == shown


def _eligible_round(group, instrument, eligible: int, responses: int):
    people = [make_user(f"{group.id}-p{i}@example.org") for i in range(eligible)]
    meeting = held(group, 40)
    _db.session.add_all(Attendance(meeting_id=meeting.id, user_id=p.id, status="present") for p in people)
    the_round = add_round(group, 1, instrument, [4] * responses)
    _db.session.add(RoundMeeting(round_id=the_round.id, meeting_id=meeting.id))
    held(group, 3)
    _db.session.flush()


@pytest.mark.parametrize(("responses", "status"), [(5, GREEN), (4, AMBER), (3, AMBER), (2, RED)])
def test_participation_of_the_latest_closed_round(db, org, instrument, responses, status):
    group = make_group(org, "Participation group")
    _eligible_round(group, instrument, 10, responses)
    assert raised(board(), group).get(rules.LOW_PARTICIPATION, GREEN) == status


@pytest.mark.parametrize(("days", "status"), [(44, GREEN), (45, AMBER), (89, AMBER), (90, RED)])
def test_days_since_the_last_held_meeting(db, org, days, status):
    group = make_group(org, "Quiet group")
    held(group, days)
    _db.session.add(Meeting(group_id=group.id, starts_at=NOW - timedelta(days=2), ends_at=NOW - timedelta(days=2)
                            + timedelta(hours=1), status="cancelled"))  # a cancelled meeting does not count
    _db.session.flush()
    assert raised(board(), group).get(rules.NO_MEETING, GREEN) == status


def test_a_group_that_never_met_counts_from_its_creation(db, org):
    group = make_group(org, "New group")
    group.created_at = NOW - timedelta(days=100)
    _db.session.flush()
    finding = next(f for f in row_of(board(), group).findings if f.rule == rules.NO_MEETING)
    assert finding.status == RED and finding.detail["never"]


@pytest.mark.parametrize(("days_ahead", "status"), [(5, RED), (14, RED), (15, AMBER), (60, AMBER), (61, GREEN)])
def test_a_meeting_ahead_without_a_lead(db, org, days_ahead, status):
    group = make_group(org, "Unled group")
    make_meeting(group, days_ahead=days_ahead)
    now = datetime.now(UTC).replace(tzinfo=None)
    held(group, 3, now=now)
    assert raised(board(now=now), group).get(rules.NO_ELIGIBLE_LEAD, GREEN) == status


def test_a_lead_whose_training_lapses_before_the_meeting_flags_it_and_an_eligible_lead_does_not(db, org):
    from app.accounts.models import TrainingRecord

    group, other = make_group(org, "Lapsing group"), make_group(org, "Led group")
    lapsing, fine = make_leader("lapse@example.org", "Lapse"), make_leader("fine@example.org", "Fine")
    meeting = make_meeting(group, leader=lapsing, days_ahead=20)
    make_meeting(other, leader=fine, days_ahead=20)
    now = datetime.now(UTC).replace(tzinfo=None)
    for g in (group, other):
        held(g, 3, now=now)
    record = _db.session.query(TrainingRecord).filter_by(user_id=lapsing.id).one()
    record.valid_until = (meeting.starts_at - timedelta(days=5)).date()
    _db.session.flush()
    result = board(now=now)
    assert raised(result, group) == {rules.NO_ELIGIBLE_LEAD: AMBER}
    assert row_of(result, other).status == GREEN
    assert _db.session.query(MeetingLeader).filter_by(meeting_id=meeting.id).count() == 1  # the data is kept


def test_the_board_keeps_to_the_scope_the_filter_and_active_groups(db, org, other_org):
    make_group(org, "Own")
    make_group(other_org, "Foreign")
    paused = make_group(org, "Paused")
    paused.status = "paused"
    _db.session.flush()
    assert {r.group for r in board(scope=org.id).rows} == {"Own"}
    assert {r.group for r in board().rows} == {"Own", "Foreign"}
    assert {r.group for r in board(organisation=other_org.id).rows} == {"Foreign"}
    assert board(scope=org.id, organisation=other_org.id).rows == []


def test_thresholds_from_settings_change_the_status(db, org, instrument):
    group = make_group(org, "Configurable group")
    _eligible_round(group, instrument, 10, 6)
    assert raised(board(), group).get(rules.LOW_PARTICIPATION, GREEN) == GREEN
    strict = Thresholds.from_config({"BOARD_PARTICIPATION_AMBER": 0.7})
    assert raised(board(thresholds=strict), group)[rules.LOW_PARTICIPATION] == AMBER


def _programme(org, instrument, groups: int, rounds: int, leader, first_day: int = 30) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    for g in range(groups):
        group = make_group(org, f"Group {groups}-{g}")
        for number in range(1, rounds + 1):
            add_round(group, number, instrument, [4, 3, 4, 2 + number % 3, 1])
        held(group, 3 + g, now=now)
        make_meeting(group, days_ahead=5 + g)
        make_meeting(group, leader=leader, days_ahead=first_day + g)  # one a day: the leader is never booked twice


def test_the_board_costs_the_same_statements_whatever_the_number_of_groups_rounds_and_meetings(db, org, instrument):
    leader = make_leader()
    _programme(org, instrument, 2, 2, leader)
    now = datetime.now(UTC).replace(tzinfo=None)
    with recorded_statements() as few:
        small = board(now=now)
    _programme(org, instrument, 12, 7, leader, first_day=32)
    with recorded_statements() as many:
        large = board(now=now)
    assert len(small.rows) == 2 and len(large.rows) == 14
    assert len(work(few)) == len(work(many)) <= 16


# --- the pages ---------------------------------------------------------------------------------

def _slide_for_the_pages(org, instrument):
    now = datetime.now(UTC).replace(tzinfo=None)
    sliding, steady = make_group(org, "Sliding group"), make_group(org, "Steady group")
    for number, scores in enumerate(SLIDE, start=1):
        add_round(sliding, number, instrument, scores, opens_at=now - timedelta(days=300 - 30 * number))
        add_round(steady, number, instrument, [4, 4, 3, 4, 5, 4], opens_at=now - timedelta(days=300 - 30 * number))
    for group in (sliding, steady):
        held(group, 3, now=now)
    _db.session.commit()
    return sliding, steady


def test_the_board_page_in_english_and_chinese(client, auth, db, org, coordinator, instrument):
    sliding, steady = _slide_for_the_pages(org, instrument)
    auth.login(coordinator)
    html = client.get("/board").get_data(as_text=True)
    assert f'data-board-group="{sliding.id}" data-board-status="red"' in html
    assert f'data-board-group="{steady.id}" data-board-status="green"' in html
    assert "Wellbeing has been falling over rounds 4–8" in html and "Programme board" in html
    client.post("/language", data={"lang": "zh_CN"})
    html = client.get("/board").get_data(as_text=True)
    assert f'data-board-group="{sliding.id}" data-board-status="red"' in html
    assert "项目状态看板" in html and "红色" in html and "绿色" in html
    assert "身心状态在第4–8轮持续下降" in html  # the reason in Chinese, with the subscale's Chinese title
    assert "<h1 class=\"h3 mb-3\">项目状态看板</h1>" in html


def test_the_board_filters_by_organisation_and_refuses_an_unknown_one_with_a_message(client, auth, db, org, other_org,
                                                                                      coordinator):
    make_group(org, "Own group")
    make_group(other_org, "Foreign group")
    _db.session.commit()
    auth.login(coordinator)
    html = client.get(f"/board?organisation={other_org.id}").get_data(as_text=True)
    assert "Foreign group" in html and "Own group" not in html
    response = client.get("/board?organisation=nope")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "data-filter-problem" in html and "Foreign group" in html and "Own group" in html


def test_a_coordinator_of_one_organisation_sees_only_its_groups(client, auth, db, org, other_org):
    from tests.factories import make_scoped_coordinator

    make_group(org, "Own group")
    make_group(other_org, "Foreign group")
    scoped = make_scoped_coordinator(org)
    auth.login(scoped)
    html = client.get(f"/board?organisation={other_org.id}").get_data(as_text=True)
    assert "Own group" in html and "Foreign group" not in html and "data-filter-problem" in html


def test_members_and_leaders_may_not_see_the_board(client, auth, db, member, leader):
    for person in (member, leader):
        auth.login(person)
        assert client.get("/board").status_code == 403
        assert client.get("/exports/board.csv").status_code == 403
        auth.logout()


def test_the_coordinators_home_shows_the_raised_groups_and_the_report_the_whole_board(client, auth, db, org,
                                                                                       coordinator, instrument, today):
    sliding, steady = _slide_for_the_pages(org, instrument)
    auth.login(coordinator)
    html = client.get("/").get_data(as_text=True)
    assert 'id="programme-board"' in html and f'data-board-group="{sliding.id}"' in html
    assert f'data-board-group="{steady.id}"' not in html  # the home lists only amber and red groups
    # The report of the quarter running now draws the board as it stands now (groups made today included).
    report = client.get(f"/reports/quarter?year={today.year}&quarter={(today.month - 1) // 3 + 1}").get_data(
        as_text=True)
    assert 'id="report-board"' in report and f'data-board-group="{steady.id}"' in report
    assert "Programme board on" in report and "at the end of the quarter" not in report


def test_the_home_lists_at_most_home_board_rows_raised_groups_and_says_how_many_more(app, client, auth, db, org,
                                                                                    coordinator, instrument,
                                                                                    monkeypatch):
    sliding, _steady = _slide_for_the_pages(org, instrument)
    quiet = [make_group(org, f"Quiet group {n}") for n in range(3)]
    for group in quiet:  # made 100 days ago and never met: red for days without a meeting
        group.created_at = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=100)
    _db.session.commit()
    monkeypatch.setitem(app.config, "HOME_BOARD_ROWS", 2)
    auth.login(coordinator)
    html = client.get("/").get_data(as_text=True)
    listed = [g for g in (sliding, *quiet) if f'data-board-group="{g.id}"' in html]
    assert len(listed) == 2 and 'id="home-board-more"' in html
    assert "2 more raised groups are on the whole board." in html
    assert '<span class="badge text-bg-danger" data-status="red">Red</span> 4' in html  # the counts cover them all
    board = client.get("/board").get_data(as_text=True)
    assert all(f'data-board-group="{g.id}"' in board for g in (sliding, *quiet))
    monkeypatch.setitem(app.config, "HOME_BOARD_ROWS", 20)
    assert 'id="home-board-more"' not in client.get("/").get_data(as_text=True)


def test_the_board_export_lists_every_reason_and_is_audited(client, auth, db, org, coordinator, instrument):
    from app.audit.models import AuditEntry

    sliding, _steady = _slide_for_the_pages(org, instrument)
    auth.login(coordinator)
    response = client.get("/exports/board.csv")
    assert response.status_code == 200 and "balint-board-" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Group", "Organisation", "Status", "Rule status", "Reason"]
    sliding_rows = [r for r in rows[1:] if r[0] == "Sliding group"]
    assert sliding_rows and all(r[2] == "Red" for r in sliding_rows)
    assert any("fell from" in r[4] for r in sliding_rows)
    assert [r[2:] for r in rows[1:] if r[0] == "Steady group"] == [["Green", "", ""]]
    assert client.get("/exports/board.xlsx").status_code == 200
    kinds = [e.detail.get("kind") for e in _db.session.query(AuditEntry).filter_by(action="export")]
    assert kinds.count("board") == 2
