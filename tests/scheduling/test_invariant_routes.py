"""The invariants through the pages: refusals beside their field with nothing saved or lost, and the meetings
flagged by changes to people — on the coordinator's home page, the group's schedule and the meeting page."""

from __future__ import annotations

import re
from datetime import date, time, timedelta

import pytest
import sqlalchemy as sa

from app.meetings.models import MeetingRecord, Theme
from app.programme.models import Group, Membership
from app.scheduling import services
from app.scheduling.models import Meeting, MeetingLeader
from app.timeutil import to_local
from tests.factories import give_training, make_user
from tests.querylog import recorded_statements

IDENTIFIERS = "患者住院号123456 电话13812345678"
GROUP_FIELDS = {
    "name": "Paediatrics Balint group", "description": "", "capacity": "10", "mode": "onsite", "location": "",
    "video_link": "", "duration_minutes": "60", "feedback_interval": "5", "feedback_window_days": "14",
    "status": "active",
}


def text(response) -> str:
    return response.get_data(as_text=True)


def errors_beside(page: str, field_id: str) -> str:
    """The invalid-feedback messages between the field with this id and the next form control."""
    start = page.find(f'id="{field_id}"')
    assert start >= 0, field_id
    following = re.compile(r"<(?:input|select|textarea|button)\b").search(page, page.find(">", start))
    segment = page[start:following.start() if following else len(page)]
    return " ".join(re.findall(r'<div class="invalid-feedback d-block">(.*?)</div>', segment, flags=re.S))


def fresh(db, model, object_id):
    db.session.expire_all()
    return db.session.get(model, object_id)


@pytest.fixture
def expiring(db, org):
    """A qualified leader whose training ends on 10 March 2031."""
    person = make_user("eve@example.org", roles=["leader"], name="Expiring Eve", organisation_id=org.id)
    give_training(person, "leader", completed_on=date(2020, 1, 1), valid_until=date(2031, 3, 10))
    return person


def reschedule_data(day: str, reason: str = "The room is taken", at: str = "14:00") -> dict:
    return {"reschedule-day": day, "reschedule-at": at, "reschedule-duration_minutes": "60",
            "reschedule-mode": "onsite", "reschedule-location": "Room 5", "reschedule-reason": reason}


def test_a_reschedule_past_the_leads_training_is_refused_beside_the_date_and_nothing_is_lost(
    client, auth, db, leader, group, expiring
):
    meeting = services.add_extra_meeting(None, group, day=date(2031, 3, 5), at=time(14, 0))
    services.assign_leaders(None, meeting, expiring)
    db.session.commit()
    auth.login(leader)
    response = client.post(f"/meetings/{meeting.id}/reschedule", data=reschedule_data("2031-03-12"))
    assert response.status_code == 422
    page = text(response)
    assert "Nothing was saved." in page
    assert "The training is no longer valid on this date." in errors_beside(page, "reschedule-day")
    assert 'value="2031-03-12"' in page and "The room is taken</textarea>" in page  # what was typed is kept
    assert to_local(fresh(db, Meeting, meeting.id).starts_at).date() == date(2031, 3, 5)


@pytest.mark.parametrize("reason", [IDENTIFIERS, "12床患儿 出生日期：2019-05-01"])
def test_cancel_and_reschedule_reasons_with_patient_identifiers_are_refused_on_the_meeting_page(
    client, auth, db, leader, group, reason
):
    meeting = services.add_extra_meeting(None, group, day=date(2031, 3, 5), at=time(14, 0))
    db.session.commit()
    auth.login(leader)
    response = client.post(f"/meetings/{meeting.id}/cancel", data={"cancel-reason": reason})
    assert response.status_code == 422
    page = text(response)
    assert "Records hold no patient identifiers." in errors_beside(page, "cancel-reason")
    assert f"{reason}</textarea>" in page
    response = client.post(f"/meetings/{meeting.id}/reschedule", data=reschedule_data("2031-03-06", reason))
    assert response.status_code == 422
    assert "Records hold no patient identifiers." in errors_beside(text(response), "reschedule-reason")
    kept = fresh(db, Meeting, meeting.id)
    assert kept.status == "scheduled" and kept.cancel_reason is None and kept.change_reason is None


def test_the_record_form_refuses_a_held_meeting_without_a_lead_beside_the_status(
    client, auth, db, coordinator, group, member, today
):
    meeting = services.add_extra_meeting(None, group, day=today - timedelta(days=2), at=time(9, 0))
    db.session.commit()
    auth.login(coordinator)
    start = to_local(meeting.starts_at)
    response = client.post(f"/meetings/{meeting.id}/record", data={
        "status": "held", "started_on": start.date().isoformat(), "started_at": start.strftime("%H:%M"),
        "duration_minutes": "60", "mode": "onsite", "guest_count": "0", "presenter_id": "",
        "summary": "The group stayed with a father's anger.", "cancel_reason": "", f"attendance-{member.id}": "present",
    })
    assert response.status_code == 422
    page = text(response)
    assert "Recording a meeting as held requires an eligible lead on that date." in page
    assert "The group stayed with a father&#39;s anger.</textarea>" in page
    assert fresh(db, Meeting, meeting.id).status == "scheduled"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MeetingRecord)) == 0


def test_a_person_leading_a_meeting_of_the_group_is_refused_as_its_member_beside_the_person(
    client, auth, db, coordinator, group, org, today
):
    guest = make_user("guest@example.org", roles=["leader"], name="Guest Gao", organisation_id=org.id)
    give_training(guest, "leader", completed_on=date(2020, 1, 1))
    meeting = services.add_extra_meeting(None, group, day=today + timedelta(days=7), at=time(14, 0))
    services.assign_leaders(None, meeting, guest)
    db.session.commit()
    auth.login(coordinator)
    response = client.post(f"/groups/{group.id}/members",
                           data={"member-user_id": guest.id, "member-joined_on": today.isoformat()})
    assert response.status_code == 422
    assert "Guest Gao leads this group&#39;s meeting of" in errors_beside(text(response), "member-user_id")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(
        Membership.user_id == guest.id)) == 0


# --- flagged meetings -----------------------------------------------------------------------------

@pytest.fixture
def eves_meetings(db, group, org, today):
    """Eve leads two scheduled meetings of the persona group in the next weeks; her training has no end."""
    eve = make_user("eve@example.org", roles=["leader"], name="Expiring Eve", organisation_id=org.id)
    give_training(eve, "leader", completed_on=date(2020, 1, 1))
    found = []
    for days in (5, 20):
        meeting = services.add_extra_meeting(None, group, day=today + timedelta(days=days), at=time(14, 0))
        services.assign_leaders(None, meeting, eve)
        found.append(meeting)
    db.session.commit()
    return eve, found


def test_deleting_a_training_record_keeps_it_deleted_and_flags_the_meetings_everywhere_a_coordinator_looks(
    client, auth, db, coordinator, group, eves_meetings
):
    eve, (first, second) = eves_meetings
    auth.login(coordinator)
    record_id = eve.training_records[0].id
    response = client.post(f"/people/{eve.id}/training/{record_id}/delete", follow_redirects=True)
    page = text(response)
    assert "The training record is deleted." in page
    assert ("2 upcoming meetings of Expiring Eve now have a leader who is not eligible on their date; they are "
            "flagged on the coordinators&#39; home page and on the groups&#39; schedules.") in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MeetingLeader)) == 2

    home = text(client.get("/"))
    flagged = home[home.index('id="flagged-meetings"'):]
    for meeting in (first, second):
        assert f'data-flagged-meeting="{meeting.id}"' in flagged
    assert "Lead no longer eligible on this date: Expiring Eve. No verified leader training is on record." in flagged

    schedule = text(client.get(f"/groups/{group.id}/schedule"))
    assert schedule.count("Lead no longer eligible on this date: Expiring Eve.") == 2
    assert "Lead no longer eligible on this date" in text(client.get(f"/meetings/{first.id}"))


def test_deactivating_a_leader_and_removing_the_leader_role_say_how_many_meetings_are_flagged(
    client, auth, db, coordinator, org, eves_meetings
):
    eve, _meetings = eves_meetings
    auth.login(coordinator)
    page = text(client.post(f"/people/{eve.id}/edit", follow_redirects=True, data={
        "name": "Expiring Eve", "roles": ["member"], "organisation_id": str(org.id), "coordinator_org_id": "0",
    }))
    assert "2 upcoming meetings of Expiring Eve now have a leader who is not eligible" in page
    home = text(client.get("/"))
    assert "They do not hold the leader role, so they cannot open the meeting&#39;s pages." in home
    page = text(client.post(f"/people/{eve.id}/active", data={"active": "0"}, follow_redirects=True))
    assert "Expiring Eve is deactivated and signed out." in page
    assert "2 upcoming meetings of Expiring Eve now have a leader who is not eligible" in page
    assert "The account is deactivated." in text(client.get("/"))


def test_unticking_verified_on_the_training_form_withdraws_it_and_flags_the_meetings(
    client, auth, db, coordinator, eves_meetings
):
    eve, _meetings = eves_meetings
    record = eve.training_records[0]
    auth.login(coordinator)
    page = text(client.post(f"/people/{eve.id}/training/{record.id}/edit", follow_redirects=True, data={
        "kind": record.kind, "level": record.level, "issuer": record.issuer,
        "completed_on": record.completed_on.isoformat(), "valid_until": "", "note": "",
    }))
    assert "2 upcoming meetings of Expiring Eve now have a leader who is not eligible" in page
    assert not fresh(db, type(record), record.id).verified


def test_a_change_that_leaves_every_meeting_eligible_says_nothing_about_meetings(
    client, auth, db, coordinator, eves_meetings
):
    eve, _meetings = eves_meetings
    auth.login(coordinator)
    page = text(client.post(f"/people/{eve.id}/training/new", follow_redirects=True, data={
        "kind": "Supervision course", "level": "leader", "issuer": "Balint Society",
        "completed_on": "2021-01-01", "valid_until": "", "note": "", "verified": "y",
    }))
    assert "The training record is saved." in page and "now have a leader" not in page


# --- the identifier guard on free text of coordinators ----------------------------------------------

def test_a_group_description_or_name_with_a_patient_identifier_is_refused_beside_it(client, auth, db, coordinator,
                                                                                   group, org):
    auth.login(coordinator)
    data = {**GROUP_FIELDS, "organisation_id": str(org.id), "description": "For the staff of 12床 and 13床."}
    response = client.post(f"/groups/{group.id}/edit", data=data)
    assert response.status_code == 422
    assert "Records hold no patient identifiers." in errors_beside(text(response), "description")
    response = client.post(f"/groups/{group.id}/edit", data={**data, "description": "", "name": "病历号12345 group"})
    assert response.status_code == 422
    assert fresh(db, Group, group.id).name == "Paediatrics Balint group"


def test_a_theme_named_with_a_patient_identifier_is_refused(client, auth, db, coordinator):
    auth.login(coordinator)
    response = client.post("/themes", data={"code": "bed_12", "name_en": "Bed 12", "name_zh": "12床"})
    assert response.status_code == 422
    assert "Records hold no patient identifiers." in text(response)
    assert db.session.scalar(sa.select(Theme.id).where(Theme.code == "bed_12")) is None


def test_a_training_note_with_a_patient_identifier_is_refused_beside_the_note(client, auth, db, coordinator, member):
    auth.login(coordinator)
    response = client.post(f"/people/{member.id}/training/new", data={
        "kind": "Balint leader training", "level": "leader", "issuer": "Balint Society",
        "completed_on": "2021-01-01", "valid_until": "", "note": "Supervised case: 电话13812345678",
    })
    assert response.status_code == 422
    assert "a mobile number" in errors_beside(text(response), "note")
    assert fresh(db, type(member), member.id).training_records == []


def test_query_counts_of_the_flagged_pages_do_not_grow_with_the_meetings(client, auth, db, coordinator, group,
                                                                       eves_meetings, today):

    eve, _meetings = eves_meetings
    record_class, eve_id = type(eve.training_records[0]), eve.id

    def statements(url: str) -> int:
        db.session.expunge_all()  # as a fresh request starts: nothing known yet
        with recorded_statements(db.engine) as seen:
            assert client.get(url).status_code == 200
        return len([s for s in seen if not s.startswith("BEGIN")])  # SQLite's transaction start, as a statement

    db.session.execute(sa.update(record_class).where(record_class.user_id == eve_id)
                       .values(valid_until=today + timedelta(days=1)))
    db.session.commit()
    auth.login(coordinator)
    urls = ["/", f"/groups/{group.id}/schedule"]
    few = [statements(url) for url in urls]
    for days in range(6, 18):
        meeting = services.add_extra_meeting(None, group, day=today + timedelta(days=days), at=time(9, 0))
        services.assign_leaders(None, meeting, make_leader(f"l{days}@example.org"))
    db.session.commit()
    db.session.execute(sa.update(record_class).values(valid_until=today + timedelta(days=1)))
    db.session.commit()
    assert [statements(url) for url in urls] == few


def make_leader(email):
    person = make_user(email, roles=["leader"])
    give_training(person, "leader", completed_on=date(2020, 1, 1))
    return person


def test_the_record_form_says_beforehand_why_the_meeting_cannot_be_recorded_as_held(
    client, auth, db, coordinator, group, leader, today
):
    unled = services.add_extra_meeting(None, group, day=today - timedelta(days=2), at=time(9, 0))
    led = services.add_extra_meeting(None, group, day=today - timedelta(days=3), at=time(9, 0))
    services.assign_leaders(None, led, leader)
    db.session.commit()
    auth.login(coordinator)
    page = text(client.get(f"/meetings/{unled.id}/record"))
    assert "data-held-problems" in page and "Held without a lead." in page
    assert "data-held-problems" not in text(client.get(f"/meetings/{led.id}/record"))
