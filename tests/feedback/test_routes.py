"""Feedback rounds through HTTP: the home banner, the rounds page, corrections and extending a window."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.feedback.models import FeedbackRound
from app.meetings import services
from app.timeutil import local_date, to_local, utcnow
from tests.factories import make_org, make_scoped_coordinator, record_held


def text(response) -> str:
    return response.get_data(as_text=True)


def the_round(db, group) -> FeedbackRound:
    db.session.expire_all()
    return db.session.scalars(sa.select(FeedbackRound).where(FeedbackRound.group_id == group.id)).one()


@pytest.fixture
def opened(db, group, crew, past_meetings):
    """Round 1 opened now by five held meetings; the last member of the crew missed all five."""
    for meeting in past_meetings[:5]:
        record_held(meeting, crew, present=crew[:-1])
    db.session.commit()
    return the_round(db, group)


def end_window(feedback_round: FeedbackRound) -> None:
    """Move the round's window into the past, as if it had opened two weeks ago."""
    feedback_round.opens_at = utcnow() - timedelta(days=15)
    feedback_round.closes_at = utcnow() - timedelta(days=1)


def extend_data(round_id: int, day, at: str = "18:00") -> dict:
    return {f"extend-{round_id}-closes_on": str(day), f"extend-{round_id}-closes_time": at}


# --- the home banner -------------------------------------------------------------------------

def test_an_eligible_member_sees_the_open_round_on_their_home_page(client, auth, opened, member, group):
    auth.login(member)
    page = text(client.get("/"))
    assert f'id="open-round-{opened.id}"' in page
    assert "Feedback round 1 of" in page and group.name in page


def test_a_member_who_attended_none_of_the_rounds_meetings_sees_no_banner(client, auth, opened, crew):
    auth.login(crew[-1])
    assert f'id="open-round-{opened.id}"' not in text(client.get("/"))


def test_the_banner_goes_once_the_window_has_ended(client, auth, db, opened, member):
    end_window(opened)
    db.session.commit()
    auth.login(member)
    assert f'id="open-round-{opened.id}"' not in text(client.get("/"))


# --- the rounds page -------------------------------------------------------------------------

def test_the_rounds_page_shows_meetings_covered_eligible_members_and_responses(
    client, auth, opened, leader, group, past_meetings, crew
):
    auth.login(leader)
    response = client.get(f"/groups/{group.id}/rounds")
    page = text(response)
    assert response.status_code == 200
    assert "Round 1" in page
    assert f'id="round-{opened.id}-eligible">{len(crew) - 1}<' in page
    assert f'id="round-{opened.id}-responses">0 of {len(crew) - 1}<' in page
    for meeting in past_meetings[:5]:
        assert f'href="/meetings/{meeting.id}"' in page
    assert f'href="/meetings/{past_meetings[5].id}"' not in page
    assert "extend-" not in page  # only coordinators extend a window


def test_a_round_past_its_deadline_is_closed_when_the_page_is_read(client, auth, db, opened, leader, group):
    end_window(opened)
    db.session.commit()
    auth.login(leader)
    assert client.get(f"/groups/{group.id}/rounds").status_code == 200
    assert the_round(db, group).status == "closed"


def test_a_meeting_corrected_to_cancelled_shows_a_notice_to_coordinators(
    client, auth, db, opened, group, leader, coordinator, past_meetings
):
    corrected = past_meetings[2]
    services.record_meeting(None, corrected, status="cancelled", now=utcnow(), cancel_reason="Recorded by mistake")
    db.session.commit()
    notice = "was later corrected to cancelled; it stays in this round"
    auth.login(coordinator)
    page = text(client.get(f"/groups/{group.id}/rounds"))
    assert notice in page
    day = local_date(corrected.starts_at)
    assert f"{day:%b} {day.day}, {day.year}" in page.split(notice)[0].rsplit("<div>", 1)[1]
    auth.logout()
    auth.login(leader)
    assert notice not in text(client.get(f"/groups/{group.id}/rounds"))


def test_members_and_outsiders_cannot_open_the_rounds_page(client, auth, opened, group, member, db):
    auth.login(member)
    assert client.get(f"/groups/{group.id}/rounds").status_code == 403
    auth.logout()
    outside = make_scoped_coordinator(make_org("Elsewhere Hospital"))
    auth.login(outside)
    assert client.get(f"/groups/{group.id}/rounds").status_code == 403


# --- extending a round's window --------------------------------------------------------------

def test_a_coordinator_extends_a_rounds_window(client, auth, db, opened, coordinator, group, today):
    new_day = today + timedelta(days=30)
    auth.login(coordinator)
    response = client.post(f"/rounds/{opened.id}/extend", data=extend_data(opened.id, new_day, "18:30"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/groups/{group.id}/rounds#round-{opened.id}")
    closes = to_local(the_round(db, group).closes_at)
    assert (closes.date(), closes.hour, closes.minute) == (new_day, 18, 30)


@pytest.mark.parametrize("stored_status", ["closed", "open"])
def test_a_closed_round_is_never_reopened(client, auth, db, opened, coordinator, group, stored_status, today):
    """Its results may have been read: answers added after reopening could be worked out by comparing readings.

    Also when the window has ended but the stored status has not caught up yet.
    """
    end_window(opened)
    if stored_status == "closed":
        opened.close(utcnow())
    db.session.commit()
    before = opened.closes_at
    auth.login(coordinator)
    response = client.post(f"/rounds/{opened.id}/extend", data=extend_data(opened.id, today + timedelta(days=7)))
    assert response.status_code == 422
    assert "cannot be reopened" in text(response)
    assert the_round(db, group).closes_at == before and not the_round(db, group).is_open(utcnow())
    assert 'name="extend-' not in text(client.get(f"/groups/{group.id}/rounds"))


@pytest.mark.parametrize(
    "day",
    ["{yesterday}", "yesterday", "2025-02-30", "99999-01-01", "1999-12-31", ""],
)
def test_extending_to_a_past_or_unreadable_date_is_refused_beside_the_field(
    client, auth, db, opened, coordinator, group, day, today
):
    day = day.format(yesterday=today - timedelta(days=1))
    before = opened.closes_at
    auth.login(coordinator)
    response = client.post(f"/rounds/{opened.id}/extend", data=extend_data(opened.id, day))
    page = text(response)
    assert response.status_code == 422
    assert 'class="invalid-feedback d-block"' in page
    assert the_round(db, group).closes_at == before


def test_extending_to_a_time_earlier_than_the_current_closing_is_refused(client, auth, db, opened, coordinator, group):
    before = opened.closes_at
    earlier = to_local(before - timedelta(days=1))
    auth.login(coordinator)
    response = client.post(f"/rounds/{opened.id}/extend",
                           data=extend_data(opened.id, earlier.date(), earlier.strftime("%H:%M")))
    assert response.status_code == 422
    assert "must be later than the current one" in text(response)
    assert the_round(db, group).closes_at == before


def test_only_coordinators_in_scope_extend_a_round(client, auth, db, opened, leader, member, group, today):
    data = extend_data(opened.id, today + timedelta(days=30))
    before = opened.closes_at
    outside = make_scoped_coordinator(make_org("Elsewhere Hospital"))
    for person in (leader, member, outside):
        auth.login(person)
        assert client.post(f"/rounds/{opened.id}/extend", data=data).status_code == 403, person.email
        auth.logout()
    assert the_round(db, group).closes_at == before


def test_extending_an_unknown_round_is_not_found(client, auth, coordinator):
    auth.login(coordinator)
    assert client.post("/rounds/999999/extend", data={}).status_code == 404
    assert client.post("/rounds/99999999999999999999/extend", data={}).status_code == 404
