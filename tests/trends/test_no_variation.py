"""The issue's rounds through the database: everyone gives the same score twice, and no g of millions appears."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest

from app.feedback.models import Answer, FeedbackRound, Response, RoundMeeting
from app.meetings.models import Attendance, MeetingRecord
from app.scheduling.models import Meeting
from app.trends import group_queries
from tests.factories import SAME_SCORE, make_instrument, make_user

K = 3
RESPONSES = 10


@pytest.fixture
def same_scores(db, group):
    """Two closed rounds of ten responses: all (3, 3, 2) = 8/3, then all (2, 2, 3) = 7/3."""
    people = [make_user(f"p{i}@example.org", name=f"Person {i}") for i in range(RESPONSES)]  # present, eligible
    instrument = make_instrument(SAME_SCORE)
    start = datetime(2024, 3, 6, 6, 0)
    for number, answers in ((1, (3, 3, 2)), (2, (2, 2, 3))):
        when = start + timedelta(days=70 * (number - 1))
        the_round = FeedbackRound(group_id=group.id, number=number, status="closed", instrument_id=instrument.id,
                                  opens_at=when + timedelta(days=30), closes_at=when + timedelta(days=44),
                                  closed_at=when + timedelta(days=44))
        db.session.add(the_round)
        db.session.flush()
        for i in range(5):
            at = when + timedelta(days=7 * i)
            meeting = Meeting(group_id=group.id, starts_at=at, ends_at=at + timedelta(minutes=60), status="held")
            db.session.add(meeting)
            db.session.flush()
            db.session.add(MeetingRecord(meeting_id=meeting.id, started_at=at, duration_minutes=60, mode="onsite"))
            db.session.add_all([Attendance(meeting_id=meeting.id, user_id=p.id, status="present") for p in people])
            db.session.add(RoundMeeting(round_id=the_round.id, meeting_id=meeting.id))
        for _ in range(RESPONSES):
            response = Response(round_id=the_round.id, instrument_id=instrument.id, source="questionnaire")
            db.session.add(response)
            db.session.flush()
            db.session.add_all([Answer(response_id=response.id, item_code=f"i{n}", value=value)
                                for n, value in zip((1, 2, 3), answers, strict=True)])
    db.session.commit()
    return group


def test_rounds_where_everyone_gives_the_same_score_have_sd_zero_and_no_effect_size(db, same_scores):
    trend = group_queries.group_trend(same_scores, k=K)
    (line,) = trend.series
    points = [r.subscale(line.key) for r in trend.rounds]
    assert [p.n for p in points] == [RESPONSES, RESPONSES]
    assert [p.sd for p in points] == [0.0, 0.0]
    assert [(p.ci_low, p.ci_high) for p in points] == [(p.mean, p.mean) for p in points]
    assert [p.mean for p in points] == [pytest.approx(8 / 3), pytest.approx(7 / 3)]
    (change,) = trend.changes
    assert change.difference == pytest.approx(-1 / 3)
    assert (change.g, change.g_low, change.g_high) == (None, None, None)
    data = group_queries.chart_data(trend)
    assert [(c["g"], c["g_low"], c["g_high"]) for c in data["changes"]] == [(None, None, None)]


def test_the_trends_page_and_its_data_show_no_huge_effect_size(client, auth, db, same_scores, coordinator):
    auth.login(coordinator)
    page = client.get(f"/groups/{same_scores.id}/trends").get_data(as_text=True)
    table = page.split('id="changes"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    numbers = [float(n.replace(",", "")) for n in re.findall(r"-?\d[\d,]*(?:\.\d+)?", table)]
    assert numbers and max(abs(n) for n in numbers) < 10  # means, rounds and difference; before: 9,277,048.62
    data = json.loads(client.get(f"/groups/{same_scores.id}/trends.json").get_data(as_text=True))
    assert [c["g"] for c in data["changes"]] == [None]
