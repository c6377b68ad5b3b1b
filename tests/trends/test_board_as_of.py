"""The quarterly report's board is the board as it stood at the quarter's end: rounds closed and meetings held by
then, groups that existed then. A group that turned red after the quarter is not red in that quarter's report,
on the page or in the board export the report offers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db as _db
from app.scheduling.models import Meeting
from app.trends import rules
from app.trends.board_queries import programme_board
from tests.factories import PULSE, make_group, make_instrument, pulse_round

# 2025 Q2 in Beijing ends at 2025-07-01 00:00 +08:00, that is 2025-06-30 16:00 UTC.
QUARTER_END = datetime(2025, 6, 30, 16, 0)
STEADY = [[4, 4, 3, 4, 5, 4]] * 5
# After the quarter: a fall of half a point a round (red by both decline rules).
FALL = [[4, 3, 4, 3, 3, 4], [3, 3, 3, 4, 3, 2], [3, 2, 2, 3, 2, 3], [2, 2, 1, 2, 3, 2]]


def held(group, starts_at):
    _db.session.add(Meeting(group_id=group.id, starts_at=starts_at, ends_at=starts_at + timedelta(hours=1),
                            status="held"))
    _db.session.flush()


@pytest.fixture
def turned_red(db, org):
    """A group steady through 2025 Q2 (five rounds closed by mid-June, a meeting ten days before the end) that
    slid after it: a round open across the quarter's end, then three more, each lower."""
    instrument = make_instrument(PULSE)
    group = make_group(org, "Turned red group")
    group.created_at = datetime(2024, 1, 1)
    for number, scores in enumerate(STEADY, start=1):
        pulse_round(group, number, instrument, scores, datetime(2024, 6, 1) + timedelta(days=70 * (number - 1)))
    pulse_round(group, 6, instrument, FALL[0], datetime(2025, 6, 25, 2, 0))  # open at the quarter's end
    for number, scores in enumerate(FALL[1:], start=7):
        pulse_round(group, number, instrument, scores, datetime(2025, 8, 1) + timedelta(days=60 * (number - 7)))
    held(group, QUARTER_END - timedelta(days=10))
    now = datetime.now(UTC).replace(tzinfo=None)
    held(group, now - timedelta(days=3))
    _db.session.commit()
    return group


def _row(board, group):
    return next(r for r in board.rows if r.group_id == group.id)


def test_the_board_at_the_quarters_end_counts_only_what_had_closed_and_been_held_by_then(app, db, turned_red):
    k, thresholds = app.config["MIN_RESPONSES"], rules.Thresholds()
    then = programme_board(None, QUARTER_END - timedelta(microseconds=1), k, thresholds, as_of=True)
    today = programme_board(None, datetime.now(UTC).replace(tzinfo=None), k, thresholds)
    assert _row(then, turned_red).status == rules.GREEN and _row(then, turned_red).findings == ()
    now_row = _row(today, turned_red)
    assert now_row.status == rules.RED
    assert {f.rule for f in now_row.findings} >= {rules.DECLINE_SLOPE, rules.DECLINE_CHANGE}
    # Ten days without a meeting at the quarter's end, not the months since.
    assert then.rows and not any(f.rule == rules.NO_MEETING for f in _row(then, turned_red).findings)


def test_a_group_created_after_the_quarter_is_not_on_its_board(app, db, turned_red, org):
    newcomer = make_group(org, "Newcomer group")
    _db.session.commit()
    then = programme_board(None, QUARTER_END, app.config["MIN_RESPONSES"], rules.Thresholds(), as_of=True)
    assert [r.group_id for r in then.rows] == [turned_red.id]
    assert newcomer.id in {r.group_id for r in programme_board(
        None, datetime.now(UTC).replace(tzinfo=None), app.config["MIN_RESPONSES"], rules.Thresholds()).rows}


def test_the_quarterly_report_shows_the_board_of_its_quarters_end(client, auth, db, coordinator, turned_red):
    auth.login(coordinator)
    report = client.get("/reports/quarter?year=2025&quarter=2").get_data(as_text=True)
    assert 'id="report-board"' in report and "June 30, 2025" in report
    assert f'data-board-group="{turned_red.id}" data-board-status="green"' in report
    assert client.get("/board").get_data(as_text=True).count(
        f'data-board-group="{turned_red.id}" data-board-status="red"') == 1
    later = client.get("/reports/quarter?year=2025&quarter=4").get_data(as_text=True)
    assert f'data-board-group="{turned_red.id}" data-board-status="red"' in later


def _board_csv(client, query: str) -> list[list[str]]:
    response = client.get(f"/exports/board.csv{query}")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_the_reports_board_export_is_the_board_of_its_quarters_end(client, auth, db, coordinator, turned_red):
    from app.audit.models import AuditEntry

    auth.login(coordinator)
    then = [r for r in _board_csv(client, "?year=2025&quarter=2")[1:] if r[0] == "Turned red group"]
    now = [r for r in _board_csv(client, "")[1:] if r[0] == "Turned red group"]
    assert [r[2] for r in then] == ["Green"] and now and all(r[2] == "Red" for r in now)
    quarters = [e.detail["filters"].get("quarter") for e in _db.session.query(AuditEntry).filter_by(action="export")]
    assert sorted(quarters, key=str) == ["2025-Q2", None]
    page = client.get("/reports/quarter?year=2025&quarter=2").get_data(as_text=True)
    assert '<input type="hidden" name="year" value="2025"><input type="hidden" name="quarter" value="2">' in page


@pytest.mark.parametrize("query", ["?year=2025&quarter=5", "?year=abc&quarter=1", "?year=2025", "?year=1999&quarter=1"])
def test_a_bad_quarter_for_the_board_export_goes_back_to_the_report_with_a_message(client, auth, db, coordinator,
                                                                                  query):
    auth.login(coordinator)
    response = client.get(f"/exports/board.csv{query}")
    assert response.status_code == 302 and response.headers["Location"].endswith("/reports/quarter")
    page = client.get("/reports/quarter").get_data(as_text=True)
    assert "Choose a year from 2000 and a quarter from 1 to 4." in page
