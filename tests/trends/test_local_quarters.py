"""Trends, exports and the quarterly report put a meeting or a round on its Beijing date, never the UTC one:
meetings at 00:30 on 1 April and 23:30 on 31 March (local) fall in the second and the first quarter."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.extensions import db as _db
from app.feedback.models import Answer, FeedbackRound, Response, RoundMeeting
from app.meetings.models import Attendance, MeetingRecord, Theme
from app.scheduling.models import Meeting
from app.trends import export_queries as eq
from app.trends import group_queries, programme_queries
from tests.factories import ATTACK, make_instrument, make_members

BEIJING = ZoneInfo("Asia/Shanghai")


def utc(year, month, day, hour, minute) -> datetime:
    """A Beijing wall-clock time as the naive UTC the database stores."""
    return datetime(year, month, day, hour, minute, tzinfo=BEIJING).astimezone(UTC).replace(tzinfo=None)


EARLY = utc(2025, 4, 1, 0, 30)  # 16:30 UTC on 31 March: Q2 in Beijing, Q1 by its UTC date
LATE = utc(2025, 3, 31, 23, 30)  # 15:30 UTC on 31 March: Q1 either way
NEW_YEAR = utc(2025, 1, 1, 0, 30)  # 16:30 UTC on 31 December 2024


@pytest.fixture
def edges(db, group, member):
    """Held meetings at the quarter edges, each tagged with its own theme, and a round opened at 00:30 on 1 April."""
    people = [member] + make_members(group, 3, "q{i}@example.org", joined_on=datetime(2024, 1, 1).date())
    meetings = {}
    for name, at in (("early", EARLY), ("late", LATE), ("new_year", NEW_YEAR)):
        meeting = Meeting(group_id=group.id, starts_at=at, ends_at=at + timedelta(minutes=60), status="held")
        theme = Theme(code=f"edge_{name}", name_en=f"Edge {name}", name_zh=f"边界 {name}")
        meeting.themes.append(theme)
        _db.session.add(meeting)
        _db.session.flush()
        _db.session.add(MeetingRecord(meeting_id=meeting.id, started_at=at, duration_minutes=60, mode="onsite"))
        for person in people:
            _db.session.add(Attendance(meeting_id=meeting.id, user_id=person.id, status="present"))
        meetings[name] = meeting
    instrument = make_instrument(ATTACK, title_en="Attack", title_zh="Attack")
    the_round = FeedbackRound(group_id=group.id, number=1, status="closed", opens_at=EARLY,
                              closes_at=EARLY + timedelta(days=14), closed_at=EARLY + timedelta(days=14),
                              instrument_id=instrument.id,
                              round_meetings=[RoundMeeting(meeting_id=m.id) for m in meetings.values()])
    _db.session.add(the_round)
    _db.session.flush()
    for i in range(4):
        _db.session.add(Response(round_id=the_round.id, instrument_id=instrument.id, source="questionnaire",
                                 answers=[Answer(item_code="a1", value=1 + i), Answer(item_code="b1", value=i)]))
    _db.session.commit()
    return meetings, the_round


def test_group_trends_put_themes_in_the_local_quarter_and_chart_local_dates(db, group, edges):
    trend = group_queries.group_trend(group, k=3)
    quarters = {label: dict(themes) for label, themes in ((q.label, q.themes) for q in trend.themes)}
    assert set(quarters) == {"2025 Q1", "2025 Q2"}  # none in 2024 Q4, where the UTC date of 1 January is
    assert quarters["2025 Q2"] == {"Edge early": 1}
    assert quarters["2025 Q1"] == {"Edge late": 1, "Edge new_year": 1}
    data = group_queries.chart_data(trend)
    assert sorted(m["date"] for m in data["meetings"]) == ["2025-01-01", "2025-03-31", "2025-04-01"]
    assert data["rounds"][0]["opens_at"] == "2025-04-01"


def test_the_programme_puts_a_round_opened_at_half_past_midnight_in_its_local_quarter(db, group, edges):
    assert programme_queries.programme_trend(None, by="quarter", k=3).columns == ["2025-Q2"]


def test_the_quarterly_report_counts_meetings_by_their_local_date(client, auth, db, group, edges, coordinator):
    auth.login(coordinator)
    q1 = client.get("/reports/quarter?year=2025&quarter=1").get_data(as_text=True)
    q2 = client.get("/reports/quarter?year=2025&quarter=2").get_data(as_text=True)
    q4 = client.get("/reports/quarter?year=2024&quarter=4").get_data(as_text=True)
    held = {}
    for name, page in (("q1", q1), ("q2", q2), ("q4", q4)):
        row = page.split(f"{group.name}</th>", 1)[1].split("</tr>", 1)[0]
        held[name] = int(row.split('class="text-end">', 1)[1].split("<", 1)[0])
    assert held == {"q1": 2, "q2": 1, "q4": 0}
    assert f"report-round-{group.id}-1" in q2 and f"report-round-{group.id}-1" not in q1


def test_exports_write_local_times(client, auth, db, group, edges, coordinator):
    auth.login(coordinator)
    rows = list(csv.reader(io.StringIO(client.get("/exports/aggregates.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1][3] == "2025-04-01 00:30"
    rows = eq.aggregate_rows(eq.Filters(since=eq.local_day_start_utc(EARLY.date().replace(day=1, month=4),
                                                                      BEIJING)), k=3)
    assert len(rows) == 1  # "from 1 April" takes the round opened at 00:30 on 1 April (31 March in UTC)
