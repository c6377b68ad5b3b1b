"""The scheduling pages through HTTP: rules, generation, single meetings, leaders, holidays, my meetings."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from app.programme import services as programme
from app.scheduling import services
from app.scheduling.models import HolidayException, HolidayYear, Meeting, MeetingLeader, Schedule
from app.timeutil import local_date, local_today
from tests.factories import give_training, make_group, make_scoped_coordinator, make_user
from tests.querylog import recorded_statements


def text(response) -> str:
    return response.get_data(as_text=True)


def count(db, model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def meetings_of(db, group) -> list[Meeting]:
    db.session.expire_all()
    return db.session.scalars(
        sa.select(Meeting).where(Meeting.group_id == group.id).order_by(Meeting.starts_at)
    ).all()


def meeting_rows(page: str) -> int:
    """How many meetings a list shows (each links to its meeting page once)."""
    return len(re.findall(r'<td><a href="/meetings/\d+">', page))


def rule_data(**changes) -> dict:
    return {
        "rule-kind": "nth_weekday", "rule-weekday": "2", "rule-weeks": ["1", "3"], "rule-start_on": "",
        "rule-start_time": "14:00", "rule-holiday_policy": "move", **changes,
    }


def period(start: str, until: str) -> dict:
    return {"generate-start_on": start, "generate-until": until}


@pytest.fixture
def first_half_of_2031(db, scheduled_group):
    """Twelve meetings of the persona group: 1st and 3rd Wednesday, January to June 2031.

    1 January 2031 is New Year's Day: the first meeting moves to Thursday 2 January.
    """
    services.generate_meetings(None, scheduled_group, date(2031, 1, 1), date(2031, 6, 30))
    db.session.commit()
    return meetings_of(db, scheduled_group)


# --- rule and generation ---------------------------------------------------------------------


def test_a_group_leader_sets_a_rule_and_generates_six_months_of_twice_monthly_meetings(client, auth, leader, group,
                                                                                        db):
    auth.login(leader)
    response = client.post(f"/groups/{group.id}/schedule/rule", data=rule_data())
    assert response.status_code == 302
    response = client.post(f"/groups/{group.id}/schedule/generate", data=period("2031-01-01", "2031-06-30"))
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "12 created, 0 already there" in page
    assert meeting_rows(page) == 12
    assert "1st and 3rd Wednesday of each month, at 14:00" in page
    assert "On statutory holidays the meeting moves to the next working day." in page
    assert "14:00–15:00" in page
    meetings = meetings_of(db, group)
    assert len(meetings) == 12 and meetings[1].starts_at == datetime(2031, 1, 15, 6, 0)
    assert meetings[0].starts_at == datetime(2031, 1, 2, 6, 0)  # New Year's Day moved it
    assert "Moved from Jan 1, 2031: New Year&#39;s Day" in page


def test_the_group_page_and_the_menu_lead_to_the_schedule_my_meetings_and_the_holidays(
    client, auth, member, coordinator, group
):
    auth.login(member)
    page = text(client.get(f"/groups/{group.id}"))
    assert f'href="/groups/{group.id}/schedule"' in page and 'href="/my/meetings"' in page
    assert 'href="/holidays"' not in page
    auth.logout()
    auth.login(coordinator)
    assert 'href="/holidays"' in text(client.get("/"))


def test_the_schedule_page_offers_today_and_six_months_by_default(client, auth, leader, scheduled_group, today):
    auth.login(leader)
    page = text(client.get(f"/groups/{scheduled_group.id}/schedule"))
    start, until = services.default_period(today)
    assert f'name="generate-start_on" required type="date" value="{start.isoformat()}"' in page
    assert f'name="generate-until" required type="date" value="{until.isoformat()}"' in page


def test_a_fortnightly_rule_needs_its_first_date_and_keeps_what_was_typed(client, auth, leader, group, db):
    auth.login(leader)
    response = client.post(f"/groups/{group.id}/schedule/rule",
                           data=rule_data(**{"rule-kind": "biweekly", "rule-weekday": "3"}))
    assert response.status_code == 422
    page = text(response)
    assert "A fortnightly series needs a first date." in page
    assert '<option selected value="3">' in page and 'value="14:00"' in page
    assert count(db, Schedule) == 0
    response = client.post(f"/groups/{group.id}/schedule/rule",
                           data=rule_data(**{"rule-kind": "biweekly", "rule-weekday": "3",
                                             "rule-start_on": "2031-01-02"}))
    assert response.status_code == 302
    client.post(f"/groups/{group.id}/schedule/generate", data=period("2031-01-01", "2031-01-31"))
    assert [local_date(m.starts_at) for m in meetings_of(db, group)] == [
        date(2031, 1, 2), date(2031, 1, 16), date(2031, 1, 30)]


def test_extending_adds_the_next_months_and_generating_again_creates_no_duplicate(
    client, auth, leader, scheduled_group, db
):
    services.generate_meetings(None, scheduled_group, date(2031, 1, 1), date(2031, 3, 31))
    db.session.commit()
    auth.login(leader)
    response = client.post(f"/groups/{scheduled_group.id}/schedule/extend", data={"extend-months": "3"})
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "Extended until" in page and "6 created" in page
    assert len(meetings_of(db, scheduled_group)) == 12
    assert scheduled_group.schedule.generated_until == date(2031, 6, 30)
    response = client.post(f"/groups/{scheduled_group.id}/schedule/generate", data=period("2031-01-01", "2031-06-30"),
                           follow_redirects=True)
    assert "0 created, 12 already there" in text(response)
    assert len(meetings_of(db, scheduled_group)) == 12


def test_generating_again_leaves_an_edited_and_a_cancelled_meeting_as_they_are(
    client, auth, leader, first_half_of_2031, scheduled_group, db
):
    first, second = first_half_of_2031[:2]
    auth.login(leader)
    client.post(f"/meetings/{first.id}/reschedule", data={
        "reschedule-day": "2031-01-02", "reschedule-at": "09:30", "reschedule-duration_minutes": "90",
        "reschedule-mode": "online", "reschedule-reason": "Ward round moved",
    })
    client.post(f"/meetings/{second.id}/cancel", data={"cancel-reason": "Leader at a conference"})
    client.post(f"/groups/{scheduled_group.id}/schedule/generate", data=period("2031-01-01", "2031-06-30"))
    meetings = meetings_of(db, scheduled_group)
    assert len(meetings) == 12
    moved = db.session.get(Meeting, first.id)
    assert moved.starts_at == datetime(2031, 1, 2, 1, 30) and moved.mode == "online"
    assert db.session.get(Meeting, second.id).status == "cancelled"


def test_a_past_period_can_be_scheduled_and_is_listed_under_past(client, auth, leader, scheduled_group, db):
    auth.login(leader)
    response = client.post(f"/groups/{scheduled_group.id}/schedule/generate", data=period("2024-01-01", "2024-06-30"))
    assert response.status_code == 302
    assert len(meetings_of(db, scheduled_group)) == 12
    assert meeting_rows(text(client.get(f"/groups/{scheduled_group.id}/schedule"))) == 0
    assert meeting_rows(text(client.get(f"/groups/{scheduled_group.id}/schedule?show=past"))) == 12


def test_a_date_moved_for_a_holiday_says_why_on_the_schedule(client, auth, leader, scheduled_group, db):
    auth.login(leader)
    client.post(f"/groups/{scheduled_group.id}/schedule/rule",
                data=rule_data(**{"rule-weekday": "3", "rule-weeks": ["1"]}))
    response = client.post(f"/groups/{scheduled_group.id}/schedule/generate",
                           data=period("2026-10-01", "2026-10-31"), follow_redirects=True)
    summary = text(response)
    assert "Moved for a holiday" in summary and "National Day" in summary
    (meeting,) = meetings_of(db, scheduled_group)
    assert local_date(meeting.starts_at) == date(2026, 10, 8)
    listed = text(client.get(f"/groups/{scheduled_group.id}/schedule?show=past")) + text(
        client.get(f"/groups/{scheduled_group.id}/schedule"))
    assert "Moved from Oct 1, 2026: National Day" in listed


def test_a_skipped_date_is_named_in_the_summary(client, auth, leader, scheduled_group, db):
    auth.login(leader)
    client.post(f"/groups/{scheduled_group.id}/schedule/rule",
                data=rule_data(**{"rule-weekday": "3", "rule-weeks": ["1"], "rule-holiday_policy": "skip"}))
    page = text(client.post(f"/groups/{scheduled_group.id}/schedule/generate",
                            data=period("2026-10-01", "2026-10-31"), follow_redirects=True))
    assert "Skipped for a holiday" in page and "Oct 1, 2026: National Day" in page
    assert meetings_of(db, scheduled_group) == []


def test_a_coordinators_exception_day_moves_a_meeting_and_says_why(client, auth, coordinator, scheduled_group, db):
    auth.login(coordinator)
    client.post("/holidays", data={"day": "2031-01-15", "kind": "holiday", "name": "Hospital anniversary"})
    client.post(f"/groups/{scheduled_group.id}/schedule/generate", data=period("2031-01-01", "2031-01-31"))
    page = text(client.get(f"/groups/{scheduled_group.id}/schedule"))
    assert "Moved from Jan 15, 2031: Hospital anniversary" in page
    assert local_date(meetings_of(db, scheduled_group)[1].starts_at) == date(2031, 1, 16)


def test_a_year_without_an_official_holiday_schedule_warns_until_a_coordinator_marks_it_entered(
    client, auth, coordinator, scheduled_group, db
):
    auth.login(coordinator)
    page = text(client.post(f"/groups/{scheduled_group.id}/schedule/generate",
                            data=period("2099-01-01", "2099-02-28"), follow_redirects=True))
    assert "does not have the official holiday schedule for 2099" in page
    assert 'href="/holidays?year=2099"' in page
    response = client.post("/holidays/confirm", data={"year": "2099"}, follow_redirects=True)
    assert "2099 is marked as entered" in text(response)
    assert count(db, HolidayYear, HolidayYear.year == 2099) == 1
    page = text(client.post(f"/groups/{scheduled_group.id}/schedule/generate",
                            data=period("2099-01-01", "2099-02-28"), follow_redirects=True))
    assert "0 created, 4 already there" in page and "does not have the official holiday schedule" not in page


def test_a_leader_is_told_that_a_coordinator_enters_missing_holidays(client, auth, leader, scheduled_group):
    auth.login(leader)
    page = text(client.post(f"/groups/{scheduled_group.id}/schedule/generate",
                            data=period("2099-01-01", "2099-01-31"), follow_redirects=True))
    assert "official holiday schedule for 2099" in page and "A coordinator can enter them." in page
    assert 'href="/holidays' not in page


# --- who may do what -------------------------------------------------------------------------


def test_a_member_sees_the_schedule_read_only_and_is_refused_every_change(
    client, auth, member, first_half_of_2031, scheduled_group, db
):
    meeting = first_half_of_2031[0]
    auth.login(member)
    page = text(client.get(f"/groups/{scheduled_group.id}/schedule"))
    assert meeting_rows(page) == 12 and "Save the rule" not in page and "Generate meetings" not in page
    meeting_page = text(client.get(f"/meetings/{meeting.id}"))
    assert "Save leaders" not in meeting_page and "Cancel this meeting" not in meeting_page
    gid = scheduled_group.id
    assert client.post(f"/groups/{gid}/schedule/rule", data=rule_data()).status_code == 403
    assert client.post(f"/groups/{gid}/schedule/generate", data=period("2032-01-01", "2032-02-01")).status_code == 403
    assert client.post(f"/groups/{gid}/schedule/extend", data={"extend-months": "1"}).status_code == 403
    assert client.get(f"/groups/{gid}/meetings/new").status_code == 403
    assert client.get(f"/groups/{gid}/series-leaders").status_code == 403
    assert client.post(f"/meetings/{meeting.id}/cancel", data={"cancel-reason": "no"}).status_code == 403
    assert client.post(f"/meetings/{meeting.id}/leaders", data={"leaders-lead_id": member.id}).status_code == 403
    assert client.post(f"/meetings/{meeting.id}/reschedule", data={}).status_code == 403
    assert client.get("/holidays").status_code == 403
    assert len(meetings_of(db, scheduled_group)) == 12 and meetings_of(db, scheduled_group)[0].status == "scheduled"


def test_an_outsider_and_a_coordinator_of_another_organisation_are_refused(
    client, auth, outsider, other_org, first_half_of_2031, scheduled_group, db
):
    meeting = first_half_of_2031[0]
    other_coordinator = make_scoped_coordinator(other_org)
    for person in (outsider, other_coordinator):
        auth.login(person)
        assert client.get(f"/groups/{scheduled_group.id}/schedule").status_code == 403
        assert client.get(f"/meetings/{meeting.id}").status_code == 403
        auth.logout()
    auth.login(other_coordinator)
    assert client.post(f"/groups/{scheduled_group.id}/schedule/generate",
                       data=period("2032-01-01", "2032-02-01")).status_code == 403
    assert client.post(f"/meetings/{meeting.id}/cancel", data={"cancel-reason": "mine now"}).status_code == 403
    assert len(meetings_of(db, scheduled_group)) == 12 and meetings_of(db, scheduled_group)[0].status == "scheduled"


def test_a_coordinator_of_the_groups_organisation_schedules_it(client, auth, group, db):
    mine = make_scoped_coordinator(group.organisation)
    auth.login(mine)
    assert client.post(f"/groups/{group.id}/schedule/rule", data=rule_data()).status_code == 302
    assert client.post(f"/groups/{group.id}/schedule/generate",
                       data=period("2031-01-01", "2031-01-31")).status_code == 302
    assert len(meetings_of(db, group)) == 2


def test_unknown_ids_are_404(client, auth, coordinator, group):
    auth.login(coordinator)
    assert client.get("/groups/99999/schedule").status_code == 404
    assert client.get("/meetings/99999").status_code == 404
    assert client.post("/meetings/99999/leaders", data={}).status_code == 404
    assert client.post("/meetings/99999/cancel", data={"cancel-reason": "x"}).status_code == 404
    assert client.get("/meetings/" + "9" * 25).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, group):
    for url in (f"/groups/{group.id}/schedule", "/my/meetings", "/holidays"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- leaders ---------------------------------------------------------------------------------


def test_the_meeting_page_suggests_eligible_free_leaders_fairest_first(
    client, auth, leader, trainee_leader, first_half_of_2031, db, today
):
    busy = make_user("busy@example.org", roles=["leader"], name="Aaron Busy")
    give_training(busy)
    past = services.add_extra_meeting(None, make_group(first_half_of_2031[0].group.organisation, "Past"),
                                      day=today - timedelta(days=10), at=time(9, 0))
    services.assign_leaders(None, past, busy)
    db.session.commit()
    auth.login(leader)
    page = text(client.get(f"/meetings/{first_half_of_2031[0].id}"))
    leads = page[page.index("Suggested leads"):page.index("Suggested co-leads")]
    assert leads.index("Leader Li") < leads.index("Aaron Busy")
    assert "led 0 meetings in the last 90 days" in leads and "led 1 meeting in the last 90 days" in leads
    assert "Trainee Tang" not in leads
    # Without a lead yet, a leader in training cannot be suggested as co-lead.
    assert "Trainee Tang" not in page[page.index("Suggested co-leads"):]


def test_a_leader_assigns_a_lead_and_co_lead(client, auth, leader, trainee_leader, first_half_of_2031, db):
    meeting = first_half_of_2031[0]
    auth.login(leader)
    response = client.post(f"/meetings/{meeting.id}/leaders",
                           data={"leaders-lead_id": leader.id, "leaders-co_lead_id": trainee_leader.id})
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Meeting, meeting.id)
    assert saved.lead.id == leader.id and saved.co_lead.id == trainee_leader.id
    page = text(client.get(f"/groups/{meeting.group_id}/schedule"))
    assert "Lead: Leader Li" in page and "Co-lead: Trainee Tang" in page


def test_assigning_an_ineligible_lead_names_the_rule_and_saves_nothing(
    client, auth, leader, trainee_leader, first_half_of_2031, db
):
    meeting = first_half_of_2031[0]
    auth.login(leader)
    response = client.post(f"/meetings/{meeting.id}/leaders", data={"leaders-lead_id": trainee_leader.id})
    assert response.status_code == 422
    page = text(response)
    assert "Nothing was saved." in page and "Trainee Tang cannot be lead of this meeting" in page
    assert "The verified training is not of a level that qualifies for this role." in page
    assert "invalid-feedback" in page and f'<option selected value="{trainee_leader.id}">' in page
    assert count(db, MeetingLeader) == 0


def test_a_member_of_the_group_is_refused_as_its_lead(client, auth, coordinator, member, first_half_of_2031, db):
    give_training(member)
    db.session.commit()
    auth.login(coordinator)
    response = client.post(f"/meetings/{first_half_of_2031[0].id}/leaders", data={"leaders-lead_id": member.id})
    assert response.status_code == 422
    assert "A person never leads a group they are a member of." in text(response)
    assert count(db, MeetingLeader) == 0


def test_a_leader_booked_at_the_same_time_elsewhere_is_a_409_clash(client, auth, leader, org, first_half_of_2031, db):
    other = make_group(org, "Surgeons")
    clash = services.add_extra_meeting(None, other, day=date(2031, 1, 2), at=time(14, 30))
    services.assign_leaders(None, clash, leader)
    db.session.commit()
    auth.login(leader)
    response = client.post(f"/meetings/{first_half_of_2031[0].id}/leaders", data={"leaders-lead_id": leader.id})
    assert response.status_code == 409
    assert "already assigned to a meeting at an overlapping time" in text(response)
    assert count(db, MeetingLeader, MeetingLeader.meeting_id == first_half_of_2031[0].id) == 0


def test_assigning_a_leader_to_the_series_lists_the_meetings_that_cannot_take_them(
    client, auth, leader, first_half_of_2031, scheduled_group, db
):
    expiring = make_user("exp@example.org", roles=["leader"], name="Expiring Eve")
    give_training(expiring, "leader", completed_on=date(2020, 1, 1), valid_until=date(2031, 3, 1))
    db.session.commit()
    auth.login(leader)
    page = text(client.get(f"/groups/{scheduled_group.id}/series-leaders"))
    assert "Expiring Eve" in page
    response = client.post(f"/groups/{scheduled_group.id}/series-leaders",
                           data={"user_id": expiring.id, "role": "lead", "since": "2031-01-01"})
    assert response.status_code == 200
    page = text(response)
    assert "Expiring Eve was assigned to 4 meetings; 8 could not take them." in page
    assert page.count("The training is no longer valid on this date.") == 8
    assert count(db, MeetingLeader, MeetingLeader.user_id == expiring.id) == 4


def test_the_series_form_refuses_an_unknown_person_and_keeps_the_date(client, auth, leader, scheduled_group, db):
    auth.login(leader)
    response = client.post(f"/groups/{scheduled_group.id}/series-leaders",
                           data={"user_id": "99999", "role": "boss", "since": "2031-02-03"})
    assert response.status_code == 422
    page = text(response)
    assert "Not a valid choice" in page and 'value="2031-02-03"' in page
    assert count(db, MeetingLeader) == 0


# --- single meetings -------------------------------------------------------------------------


def test_cancelling_a_meeting_shows_the_reason_to_the_member_on_my_meetings(
    client, auth, leader, member, first_half_of_2031, db
):
    meeting = first_half_of_2031[1]
    auth.login(leader)
    response = client.post(f"/meetings/{meeting.id}/cancel", data={"cancel-reason": "Leader at a conference"})
    assert response.status_code == 302
    auth.logout()
    auth.login(member)
    page = text(client.get("/my/meetings"))
    assert meeting_rows(page) == 12
    assert "Cancelled: Leader at a conference" in page and "cancelled" in page
    assert "Cancelled: Leader at a conference" in text(client.get(f"/meetings/{meeting.id}"))


def test_a_rescheduled_meeting_shows_its_new_time_and_reason_to_members(
    client, auth, leader, member, first_half_of_2031, db
):
    meeting = first_half_of_2031[0]
    auth.login(leader)
    page = text(client.get(f"/meetings/{meeting.id}"))
    assert 'name="reschedule-day" required type="date" value="2031-01-02"' in page
    assert 'name="reschedule-at" required type="time" value="14:00"' in page
    response = client.post(f"/meetings/{meeting.id}/reschedule", data={
        "reschedule-day": "2031-01-02", "reschedule-at": "16:00", "reschedule-duration_minutes": "60",
        "reschedule-mode": "onsite", "reschedule-location": "Room 5", "reschedule-reason": "Ward round moved",
    })
    assert response.status_code == 302
    auth.logout()
    auth.login(member)
    page = text(client.get("/my/meetings"))
    assert "Changed: Ward round moved" in page and "16:00–17:00" in page


def test_rescheduling_onto_a_leaders_other_meeting_is_a_409(client, auth, leader, org, first_half_of_2031, db):
    other = make_group(org, "Surgeons")
    busy = services.add_extra_meeting(None, other, day=date(2031, 1, 2), at=time(9, 0))
    services.assign_leaders(None, busy, leader)
    services.assign_leaders(None, first_half_of_2031[0], leader)
    db.session.commit()
    auth.login(leader)
    response = client.post(f"/meetings/{first_half_of_2031[0].id}/reschedule", data={
        "reschedule-day": "2031-01-02", "reschedule-at": "09:30", "reschedule-duration_minutes": "60",
        "reschedule-mode": "onsite", "reschedule-reason": "Clash test",
    })
    assert response.status_code == 409
    assert "Leader Li is assigned to another meeting at that time." in text(response)
    assert db.session.get(Meeting, first_half_of_2031[0].id).starts_at == datetime(2031, 1, 2, 6, 0)


def test_a_cancelled_meeting_offers_no_changes_and_refuses_a_second_cancel(
    client, auth, leader, first_half_of_2031, db
):
    meeting = first_half_of_2031[0]
    auth.login(leader)
    client.post(f"/meetings/{meeting.id}/cancel", data={"cancel-reason": "Holiday"})
    page = text(client.get(f"/meetings/{meeting.id}"))
    assert "Save leaders" not in page and "Only a scheduled meeting can be changed here" in page
    response = client.post(f"/meetings/{meeting.id}/cancel", data={"cancel-reason": "again"})
    assert response.status_code == 409 and "this one is cancelled" in text(response)
    assert db.session.get(Meeting, meeting.id).cancel_reason == "Holiday"


def test_a_leader_adds_an_extra_meeting_with_the_groups_place(client, auth, leader, group, db):
    programme.update_group(None, group, location="Building 2, room 301")
    db.session.commit()
    auth.login(leader)
    page = text(client.get(f"/groups/{group.id}/meetings/new"))
    assert 'value="Building 2, room 301"' in page
    assert 'name="duration_minutes" required type="number" value="60"' in page
    response = client.post(f"/groups/{group.id}/meetings/new", data={
        "day": "2031-02-10", "at": "18:30", "duration_minutes": "75", "mode": "onsite",
        "location": "Building 2, room 301", "video_link": "",
    })
    assert response.status_code == 302
    (meeting,) = meetings_of(db, group)
    assert response.headers["Location"].endswith(f"/meetings/{meeting.id}")
    assert meeting.rule_date is None and meeting.starts_at == datetime(2031, 2, 10, 10, 30)
    assert meeting.duration_minutes == 75 and meeting.location == "Building 2, room 301"
    assert "Extra meeting" in text(client.get(f"/groups/{group.id}/schedule"))


# --- my meetings and the home page -----------------------------------------------------------


def test_my_meetings_lists_what_a_leader_leads_across_groups(client, auth, leader, org, first_half_of_2031, db):
    other = make_group(org, "Surgeons")
    programme.add_group_leader(None, other, leader)
    elsewhere = services.add_extra_meeting(None, other, day=date(2031, 1, 8), at=time(9, 0))
    services.assign_leaders(None, elsewhere, leader)
    services.assign_leaders(None, first_half_of_2031[0], leader)
    db.session.commit()
    auth.login(leader)
    page = text(client.get("/my/meetings"))
    assert meeting_rows(page) == 2
    assert "Surgeons" in page and "Paediatrics Balint group" in page and page.count(">Lead</td>") == 2


def test_a_former_member_no_longer_sees_the_groups_meetings(client, auth, member, first_half_of_2031, group, db, today):
    programme.end_membership(None, programme.open_membership(group, member), today)
    db.session.commit()
    auth.login(member)
    assert meeting_rows(text(client.get("/my/meetings"))) == 0
    assert client.get(f"/meetings/{first_half_of_2031[0].id}").status_code == 403


def test_the_home_page_shows_a_members_next_meetings(client, auth, member, group, db, today):
    meeting = services.add_extra_meeting(None, group, day=today + timedelta(days=3), at=time(14, 0))
    services.cancel_meeting(None, meeting, "Leader ill")
    db.session.commit()
    auth.login(member)
    page = text(client.get("/"))
    assert "Your next meetings" in page and "Cancelled: Leader ill" in page


def _soon(group, days, lead=None):
    meeting = services.add_extra_meeting(None, group, day=local_today() + timedelta(days=days), at=time(14, 0))
    if lead is not None:
        services.assign_leaders(None, meeting, lead)
    return meeting


def test_the_coordinators_home_highlights_meetings_without_an_eligible_lead(
    client, auth, coordinator, leader, group, other_org, db, today
):
    unled = _soon(group, 5)
    expiring = make_user("exp@example.org", roles=["leader"], name="Expiring Eve")
    record = give_training(expiring)
    ok = _soon(group, 10, expiring)
    lapsed = _soon(group, 30, expiring)
    _soon(group, 12, leader)
    too_late = _soon(group, 70)  # beyond the 60 days
    # Valid when assigned; now it expires after the first of Eve's meetings and before the second.
    record.valid_until = today + timedelta(days=20)
    db.session.commit()
    auth.login(coordinator)
    page = text(client.get("/"))
    section = page[page.index("Meetings that need a lead"):]
    assert f'href="/meetings/{unled.id}"' in section and f'href="/meetings/{too_late.id}"' not in section
    assert f'href="/meetings/{lapsed.id}"' in section and f'href="/meetings/{ok.id}"' not in section
    assert "The training is no longer valid on this date." in section
    auth.logout()
    auth.login(make_scoped_coordinator(other_org))
    page = text(client.get("/"))
    assert f'href="/meetings/{unled.id}"' not in page and "Every scheduled meeting of the next 60 days" in page


# --- holidays --------------------------------------------------------------------------------


def test_a_coordinator_adds_lists_and_deletes_an_exception_day(client, auth, coordinator, db):
    auth.login(coordinator)
    response = client.post("/holidays", data={"day": "2027-02-07", "kind": "workday", "name": "调休 Spring Festival"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/holidays?year=2027")
    page = text(client.get("/holidays?year=2027"))
    assert "调休 Spring Festival" in page and "Working day (make-up day" in page
    duplicate = client.post("/holidays", data={"day": "2027-02-07", "kind": "holiday", "name": "Again"})
    assert duplicate.status_code == 409 and "already has an exception" in text(duplicate)
    exception = db.session.scalar(sa.select(HolidayException))
    response = client.post("/holidays/delete", data={"exception_id": exception.id})
    assert response.status_code == 302
    assert count(db, HolidayException) == 0
    assert "No days entered for this year." in text(client.get("/holidays?year=2027"))


def test_the_holidays_page_shows_which_years_have_their_official_schedule(client, auth, coordinator, db, today):
    auth.login(coordinator)
    page = text(client.get("/holidays"))
    for year in (today.year, today.year + 1, today.year + 2):
        assert f'href="/holidays?year={year}">{year}</a>' in page
    assert "Mark 2099 as entered" in text(client.get("/holidays?year=2099"))
    client.post("/holidays/confirm", data={"year": "2099"})
    client.post("/holidays/confirm", data={"year": "2099"})  # twice changes nothing
    assert count(db, HolidayYear) == 1
    page = text(client.get("/holidays?year=2099"))
    assert "Mark 2099 as entered" not in page and "yes, on" in page


def test_leaders_may_not_change_the_holidays(client, auth, leader, db):
    auth.login(leader)
    assert client.get("/holidays").status_code == 403
    assert client.post("/holidays", data={"day": "2027-02-07", "kind": "holiday", "name": "x"}).status_code == 403
    assert client.post("/holidays/confirm", data={"year": "2099"}).status_code == 403
    assert count(db, HolidayException) == count(db, HolidayYear) == 0


# --- odd input -------------------------------------------------------------------------------

LONG = "x" * 10_000
ODD = ["", LONG, "🙂🙂", "<b>bold</b>", "abc", "-1", "9" * 30, "2031-02-30", "0001-01-01", "99999-01-01"]


@pytest.mark.parametrize("value", ODD)
def test_odd_input_in_any_scheduling_form_is_answered_beside_the_field_never_a_500(
    client, auth, coordinator, first_half_of_2031, scheduled_group, db, value
):
    meeting = first_half_of_2031[0]
    gid = scheduled_group.id
    auth.login(coordinator)
    posts = [
        (f"/groups/{gid}/schedule/rule", rule_data(**{"rule-weekday": value})),
        (f"/groups/{gid}/schedule/rule", rule_data(**{"rule-weeks": [value], "rule-start_time": value})),
        (f"/groups/{gid}/schedule/rule", rule_data(**{"rule-kind": value, "rule-holiday_policy": value})),
        (f"/groups/{gid}/schedule/rule", rule_data(**{"rule-kind": "biweekly", "rule-start_on": value})),
        (f"/groups/{gid}/schedule/generate", period(value, "2031-06-30")),
        (f"/groups/{gid}/schedule/generate", period("2031-01-01", value)),
        (f"/groups/{gid}/schedule/extend", {"extend-months": value}),
        (f"/groups/{gid}/meetings/new", {"day": value, "at": value, "duration_minutes": value, "mode": value,
                                         "location": value, "video_link": value}),
        (f"/groups/{gid}/series-leaders", {"user_id": value, "role": value, "since": value}),
        (f"/meetings/{meeting.id}/leaders", {"leaders-lead_id": value, "leaders-co_lead_id": value}),
        (f"/meetings/{meeting.id}/reschedule", {"reschedule-day": value, "reschedule-at": value,
                                                "reschedule-duration_minutes": value, "reschedule-mode": value,
                                                "reschedule-reason": value}),
        (f"/meetings/{meeting.id}/cancel", {"cancel-reason": value if value in (LONG, "<b>bold</b>") else ""}),
        ("/holidays", {"day": value, "kind": value, "name": value}),
    ]
    for url, data in posts:
        response = client.post(url, data=data)
        assert response.status_code == 422, f"{url} with {value!r}: {response.status_code}"
        assert "invalid-feedback" in text(response), url
    for url, data in [("/holidays/delete", {"exception_id": value}), ("/holidays/confirm", {"year": value})]:
        assert client.post(url, data=data).status_code == 302
    for url in (f"/groups/{gid}/schedule?show={value}&page={value}", f"/my/meetings?show={value}&page={value}",
                f"/holidays?year={value}"):
        assert client.get(url).status_code == 200
    db.session.expire_all()
    assert len(meetings_of(db, scheduled_group)) == 12 and count(db, MeetingLeader) == 0
    assert count(db, HolidayException) == 0 and meetings_of(db, scheduled_group)[0].status == "scheduled"


def test_a_period_ending_before_it_starts_or_longer_than_three_years_is_refused_beside_until(
    client, auth, leader, scheduled_group, db
):
    auth.login(leader)
    response = client.post(f"/groups/{scheduled_group.id}/schedule/generate", data=period("2031-06-30", "2031-01-01"))
    assert response.status_code == 422
    page = text(response)
    assert "must not be before its start" in page and 'value="2031-06-30"' in page
    response = client.post(f"/groups/{scheduled_group.id}/schedule/generate", data=period("2031-01-01", "2035-01-01"))
    assert response.status_code == 422 and "at most three years" in text(response)
    assert meetings_of(db, scheduled_group) == []


def test_typed_text_is_kept_when_a_form_comes_back(client, auth, leader, first_half_of_2031, db):
    auth.login(leader)
    response = client.post(f"/meetings/{first_half_of_2031[0].id}/cancel", data={"cancel-reason": "<b>bold</b>"})
    assert response.status_code == 422
    page = text(response)
    assert "Remove the HTML" in page and "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page


# --- no N+1 ----------------------------------------------------------------------------------


def statements_for(client, db, url) -> int:
    with recorded_statements(db.engine) as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def test_the_meeting_lists_need_the_same_number_of_queries_for_many_meetings(
    client, auth, coordinator, leader, member, scheduled_group, trainee_leader, db
):
    services.generate_meetings(None, scheduled_group, date(2031, 1, 1), date(2031, 1, 31))
    for m in meetings_of(db, scheduled_group):
        services.assign_leaders(None, m, leader, trainee_leader)
    _soon(scheduled_group, 1, leader)  # one of each kind the coordinator's highlights look at:
    _soon(scheduled_group, 2)  # with a lead and without one
    db.session.commit()
    urls = [f"/groups/{scheduled_group.id}/schedule", "/my/meetings", "/"]
    auth.login(member)
    few_member = [statements_for(client, db, url) for url in urls]
    auth.logout()
    auth.login(coordinator)
    few_coordinator = statements_for(client, db, "/")
    services.generate_meetings(None, scheduled_group, date(2031, 2, 1), date(2031, 6, 30))
    for m in meetings_of(db, scheduled_group):
        if not m.leaders:
            services.assign_leaders(None, m, leader, trainee_leader)
    for days in (3, 4, 5):
        _soon(scheduled_group, days)
        _soon(scheduled_group, days + 10, leader)
    db.session.commit()
    assert statements_for(client, db, "/") == few_coordinator
    auth.logout()
    auth.login(member)
    assert [statements_for(client, db, url) for url in urls] == few_member


def test_a_leader_assigned_to_one_meeting_may_open_and_record_it_without_leading_the_group(
    client, auth, db, scheduled_group, org
):
    from datetime import date as _date
    from datetime import time as _time

    from app.scheduling import services as scheduling
    from tests.factories import give_training, make_user

    guest_leader = make_user("guest.leader@example.org", roles=["leader"], name="Guest Leader")
    give_training(guest_leader, "leader", completed_on=_date(2020, 1, 1))
    meeting = scheduling.add_extra_meeting(None, scheduled_group, day=_date(2027, 3, 3), at=_time(14, 0))
    scheduling.assign_leaders(None, meeting, guest_leader)
    db.session.commit()
    auth.login(guest_leader)
    assert client.get(f"/meetings/{meeting.id}").status_code == 200
    assert client.get(f"/meetings/{meeting.id}/live").status_code == 200
