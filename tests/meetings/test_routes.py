"""The record form, the leaders' private notes and the theme list through HTTP."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEntry
from app.meetings import services
from app.meetings.models import Attendance, LeaderNote, MeetingRecord, Theme
from app.programme import services as programme
from app.scheduling import services as scheduling
from app.timeutil import to_local
from tests.factories import give_training, make_group, make_leader, make_members, make_past_meetings, make_user
from tests.querylog import recorded_statements, work

PHONE_SUMMARY = "The mother (13812345678) shouted at the night nurse."


def text(response) -> str:
    return response.get_data(as_text=True)


def count(db, model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def theme_id(db, code: str) -> int:
    services.ensure_default_themes()
    db.session.commit()
    return db.session.scalar(sa.select(Theme.id).where(Theme.code == code))


def record_data(meeting, crew, *, absent=(), excused=(), presenter=None, themes=(), summary="", **changes) -> dict:
    """A complete record form as a browser sends it: everyone present unless told otherwise."""
    start = to_local(meeting.starts_at)
    data = {
        "status": "held", "started_on": start.date().isoformat(), "started_at": start.strftime("%H:%M"),
        "duration_minutes": "60", "mode": "onsite", "guest_count": "0",
        "presenter_id": str(presenter.id) if presenter else "", "theme_ids": [str(t) for t in themes],
        "summary": summary, "cancel_reason": "",
    }
    for person in crew:
        data[f"attendance-{person.id}"] = (
            "absent" if person in absent else "excused" if person in excused else "present"
        )
    data.update(changes)
    return data


def reload(db, meeting):
    db.session.expire_all()
    return db.session.get(type(meeting), meeting.id)


def checked(page: str, element_id: str) -> bool:
    """Whether the radio or checkbox with this id is ticked."""
    tag = re.search(rf'<input[^>]*\bid="{re.escape(element_id)}"[^>]*>', page)
    return bool(tag) and " checked" in tag.group(0)


def selected(page: str, select_id: str, value: str) -> bool:
    """Whether the select with this id shows this value."""
    select = re.search(rf'<select[^>]*\bid="{re.escape(select_id)}".*?</select>', page, flags=re.S)
    return bool(select) and f'<option selected value="{value}">' in select.group(0)


def field_error(page: str, field_id: str) -> str:
    """The error messages shown beside the element with this id: after it, before the next form control.

    For a fieldset (a group of radios or checkboxes), the messages inside it.
    """
    start = page.find(f'id="{field_id}"')
    if start < 0:
        return ""
    tag = re.match(r"<(\w+)", page[page.rfind("<", 0, start):]).group(1)
    if tag == "fieldset":
        segment = page[start:page.find("</fieldset>", start)]
    else:
        end = page.find(f"</{tag}>", start) if tag in ("textarea", "select") else page.find(">", start)
        following = re.compile(r"<(?:input|select|textarea|button)\b").search(page, end)
        segment = page[end:following.start() if following else len(page)]
    return " ".join(re.findall(r'<div class="invalid-feedback d-block">(.*?)</div>', segment, flags=re.S))


@pytest.fixture
def signed_in_leader(auth, leader):
    auth.login(leader)
    return leader


# --- recording -------------------------------------------------------------------------------


def test_the_record_form_offers_stable_field_ids_and_prefills_everyone_as_present(
    client, db, crew, past_meetings, signed_in_leader
):
    meeting = past_meetings[0]
    page = text(client.get(f"/meetings/{meeting.id}/record"))
    for field_id in ("status-held", "status-cancelled", "started_on", "started_at", "duration_minutes", "mode",
                     "guest_count", "presenter_id", "summary", "cancel_reason"):
        assert f'id="{field_id}"' in page, field_id
    assert "Save record" in page
    assert checked(page, "status-held")
    for person in crew:
        assert selected(page, f"attendance-{person.id}", "present"), person.name
        assert f'name="attendance-{person.id}"' in page
    assert 'name="theme_ids"' in page and "Difficult parents" in page
    assert f'value="{to_local(meeting.starts_at).date().isoformat()}"' in page


def test_a_leader_records_a_past_meeting_as_held_in_one_post(client, db, crew, past_meetings, signed_in_leader):
    meeting = past_meetings[0]
    parents, boundaries = theme_id(db, "difficult_parents"), theme_id(db, "boundaries")
    response = client.post(f"/meetings/{meeting.id}/record", data=record_data(
        meeting, crew, absent=[crew[1]], excused=[crew[2]], presenter=crew[3], themes=[parents, boundaries],
        summary="A father questioned every decision; the nurse felt she could do nothing right.", guest_count="2",
        mode="online",
    ))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/meetings/{meeting.id}")
    page = text(client.get(response.headers["Location"]))
    assert "Meeting recorded." in page and "Feedback round" not in page
    assert "A father questioned every decision" in page and "Difficult parents" in page

    meeting = reload(db, meeting)
    assert meeting.status == "held"
    assert meeting.record.presenter_id == crew[3].id and meeting.record.guest_count == 2
    assert meeting.record.mode == "online" and meeting.record.recorded_by_id == signed_in_leader.id
    states = {a.user_id: a.status for a in meeting.attendances}
    assert states[crew[1].id] == "absent" and states[crew[2].id] == "excused" and states[crew[0].id] == "present"
    assert len(states) == len(crew)
    assert sorted(t.code for t in meeting.themes) == ["boundaries", "difficult_parents"]


def test_a_multipart_part_without_a_name_does_not_break_the_record_form(client, db, crew, past_meetings,
                                                                       signed_in_leader):
    """Werkzeug files a nameless multipart part under the key None; the form must still be read."""
    meeting = past_meetings[0]
    boundary = "fuzz-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data\r\n\r\nnameless\r\n']
    for key, value in record_data(meeting, crew).items():
        for item in value if isinstance(value, list) else [value]:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{item}\r\n')
    body = "".join(parts) + f"--{boundary}--\r\n"
    response = client.post(f"/meetings/{meeting.id}/record", data=body.encode(),
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 302
    assert reload(db, meeting).status == "held"


def test_the_fifth_record_flashes_the_feedback_round_it_opened(client, db, crew, past_meetings, signed_in_leader):
    for meeting in past_meetings[:4]:
        response = client.post(f"/meetings/{meeting.id}/record", data=record_data(meeting, crew), follow_redirects=True)
        assert "Meeting recorded." in text(response) and "Feedback round" not in text(response)
    response = client.post(f"/meetings/{past_meetings[4].id}/record", data=record_data(past_meetings[4], crew),
                           follow_redirects=True)
    assert "Meeting recorded." in text(response)
    assert "Feedback round 1 is now open for this group." in text(response)


def test_a_phone_number_in_the_summary_is_refused_beside_the_field_and_nothing_is_saved(
    client, db, crew, past_meetings, signed_in_leader
):
    meeting = past_meetings[0]
    response = client.post(f"/meetings/{meeting.id}/record",
                           data=record_data(meeting, crew, absent=[crew[1]], summary=PHONE_SUMMARY))
    assert response.status_code == 422
    page = text(response)
    assert "a mobile number" in field_error(page, "summary") and "13812345678" in field_error(page, "summary")
    assert "The mother (13812345678) shouted at the night nurse.</textarea>" in page  # what was typed is kept
    assert selected(page, f"attendance-{crew[1].id}", "absent")
    assert reload(db, meeting).status == "scheduled"
    assert count(db, MeetingRecord) == 0 and count(db, Attendance) == 0


def test_a_meeting_cannot_be_recorded_as_held_before_it_starts(client, db, group, crew, leader, signed_in_leader,
                                                               today):
    future = scheduling.add_extra_meeting(None, group, day=today + timedelta(days=7), at=time(14, 0))
    scheduling.assign_leaders(None, future, leader)
    db.session.commit()
    page = text(client.get(f"/meetings/{future.id}/record"))
    assert "has not started yet" in page
    data = record_data(future, crew, started_on=(today - timedelta(days=1)).isoformat())
    response = client.post(f"/meetings/{future.id}/record", data=data)
    assert response.status_code == 409
    assert "cannot be recorded as held before its start time" in field_error(text(response), "status-cancelled")
    assert reload(db, future).status == "scheduled"


def test_an_actual_start_in_the_future_is_refused(client, db, crew, past_meetings, signed_in_leader, today):
    meeting = past_meetings[0]
    response = client.post(f"/meetings/{meeting.id}/record",
                           data=record_data(meeting, crew, started_on=(today + timedelta(days=2)).isoformat()))
    assert response.status_code == 422
    assert "cannot be in the future" in field_error(text(response), "started_at")


def test_a_meeting_recorded_as_cancelled_needs_a_reason_and_ignores_the_rest_of_the_form(
    client, db, crew, past_meetings, signed_in_leader
):
    meeting = past_meetings[0]
    data = record_data(meeting, crew, status="cancelled", started_on="not a date", duration_minutes="-4")
    response = client.post(f"/meetings/{meeting.id}/record", data=data)
    assert response.status_code == 422
    assert "Give the reason" in field_error(text(response), "cancel_reason")

    data["cancel_reason"] = "The leader was called to an emergency."
    response = client.post(f"/meetings/{meeting.id}/record", data=data, follow_redirects=True)
    assert response.status_code == 200 and "Meeting recorded." in text(response)
    meeting = reload(db, meeting)
    assert meeting.status == "cancelled" and meeting.cancel_reason == "The leader was called to an emergency."
    assert meeting.record is None


def test_a_correction_is_prefilled_and_audited_with_who_changed_what(
    client, db, crew, past_meetings, signed_in_leader
):
    meeting = past_meetings[0]
    parents = theme_id(db, "difficult_parents")
    client.post(f"/meetings/{meeting.id}/record", data=record_data(
        meeting, crew, absent=[crew[4]], presenter=crew[2], themes=[parents], summary="First version."))
    page = text(client.get(f"/meetings/{meeting.id}/record"))
    assert "Correct the record" in page and "First version.</textarea>" in page
    assert selected(page, f"attendance-{crew[4].id}", "absent")
    assert selected(page, "presenter_id", str(crew[2].id))
    assert checked(page, f"theme_ids-{parents}")

    response = client.post(f"/meetings/{meeting.id}/record", data=record_data(
        meeting, crew, absent=[crew[4]], presenter=crew[2], themes=[parents], summary="Second version."),
        follow_redirects=True)
    assert "The record was corrected." in text(response)
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "meeting_corrected").order_by(AuditEntry.id.desc())
    ).first()
    assert entry.actor_id == signed_in_leader.id and entry.object_id == meeting.id
    assert entry.detail["changes"]["summary"] == ["First version.", "Second version."]
    assert reload(db, meeting).record.summary == "Second version."


def _correction(lead, meeting, people, themes) -> tuple[str, str, dict, dict]:
    """Who signs in, the record URL, a first record and a correction that changes attendance and themes."""
    first = record_data(meeting, people, absent=people[:1], themes=themes[:1], summary="First version.")
    second = record_data(meeting, people, absent=people[1:3], excused=people[3:4], themes=themes[1:],
                         summary="Second version.")
    return lead.email, f"/meetings/{meeting.id}/record", first, second


def _correction_statements(client, auth, db, email, url, first, second) -> list[str]:
    """The statements of the correction, sent after the first record, with nothing left in the session."""
    auth.login(email)
    assert client.post(url, data=first).status_code == 302
    db.session.expunge_all()  # the request loads what it needs itself, as it does in production
    with recorded_statements() as statements:
        assert client.post(url, data=second).status_code == 302
    auth.logout()
    return work(statements)


def test_a_correction_runs_as_many_statements_in_a_small_group_as_in_a_large_one_with_a_co_lead(
    client, auth, db, org, today
):
    themes = [theme_id(db, "difficult_parents"), theme_id(db, "boundaries"), theme_id(db, "aggression")]
    small_lead = make_leader("small-lead@example.org", "Lead Small", organisation_id=org.id)
    small = make_group(org, "Small group", leader=small_lead)
    small_people = make_members(small, 4, email="s{i}@example.org", joined_on=today - timedelta(days=400))
    small_meetings = make_past_meetings(small, small_lead, on=today, count=2)

    large_lead = make_leader("large-lead@example.org", "Lead Large", organisation_id=org.id)
    co_lead = make_leader("co-lead@example.org", "Co Lead", organisation_id=org.id)
    large = make_group(org, "Large group", leader=large_lead, capacity=20)
    large_people = make_members(large, 14, email="l{i}@example.org", joined_on=today - timedelta(days=400))
    large_meetings = make_past_meetings(large, large_lead, on=today, count=12)
    scheduling.assign_leaders(None, large_meetings[-1], large_lead, co_lead)
    for meeting in large_meetings[:-1]:
        services.record_meeting(None, meeting, status="held", now=meeting.ends_at,
                                attendance={p.id: "present" for p in large_people}, summary="Earlier.")
    db.session.commit()
    small_case = _correction(small_lead, small_meetings[-1], small_people, themes)
    large_case = _correction(large_lead, large_meetings[-1], large_people, themes)

    small_run = _correction_statements(client, auth, db, *small_case)
    large_run = _correction_statements(client, auth, db, *large_case)
    assert len(small_run) == len(large_run), "\n".join(large_run)


def test_the_form_starts_from_the_live_views_check_in_and_presenter(client, db, crew, past_meetings,
                                                                     signed_in_leader):
    meeting = past_meetings[0]
    services.save_live_state(meeting, {"present": [p.id for p in crew[1:]], "presenter_id": crew[5].id})
    db.session.commit()
    page = text(client.get(f"/meetings/{meeting.id}/record"))
    assert selected(page, f"attendance-{crew[0].id}", "absent")
    assert selected(page, f"attendance-{crew[1].id}", "present")
    assert selected(page, "presenter_id", str(crew[5].id))


def test_the_presenter_who_presented_least_recently_is_suggested_first(client, db, crew, past_meetings,
                                                                        signed_in_leader):
    for meeting, person in zip(past_meetings[:len(crew)], crew, strict=False):
        services.record_meeting(None, meeting, status="held", now=meeting.starts_at + timedelta(hours=2),
                                attendance={p.id: "present" for p in crew}, presenter_id=person.id)
    db.session.commit()
    # crew[0] presented longest ago: the next meeting suggests them first, with when they last presented,
    # but chooses nobody, so marking someone absent never clashes with a presenter the leader did not pick.
    page = text(client.get(f"/meetings/{past_meetings[len(crew)].id}/record"))
    assert selected(page, "presenter_id", "")
    options = re.findall(r'<option (?:selected )?value="(\d+)"', page)
    assert [int(o) for o in options[:2]] == [crew[0].id, crew[1].id]
    assert "last presented" in page


# --- who may record and read notes -----------------------------------------------------------


@pytest.mark.parametrize("persona", ["member", "outsider"])
def test_a_member_and_an_outsider_are_refused_the_record_form_and_the_notes(
    client, auth, db, crew, past_meetings, persona, request
):
    meeting = past_meetings[0]
    auth.login(request.getfixturevalue(persona))
    for url in (f"/meetings/{meeting.id}/record", f"/meetings/{meeting.id}/notes"):
        assert client.get(url).status_code == 403
        assert client.post(url, data={"status": "held", "kind": "debrief", "text": "x"}).status_code == 403
    assert reload(db, meeting).status == "scheduled" and count(db, LeaderNote) == 0


def test_a_leader_of_another_group_may_not_record_this_groups_meeting(client, auth, db, org, crew, past_meetings):
    stranger = make_user("other-leader@example.org", roles=["leader"], name="Other Leader")
    give_training(stranger, "leader")
    programme.add_group_leader(None, make_group(org, "Another group"), stranger)
    db.session.commit()
    auth.login(stranger)
    meeting = past_meetings[0]
    assert client.get(f"/meetings/{meeting.id}/record").status_code == 403
    assert client.post(f"/meetings/{meeting.id}/record", data=record_data(meeting, crew)).status_code == 403
    assert client.get(f"/meetings/{meeting.id}/notes").status_code == 403
    assert reload(db, meeting).status == "scheduled"


def test_a_coordinator_may_record_but_not_read_the_leaders_notes(client, auth, db, crew, past_meetings, leader,
                                                                  coordinator):
    meeting = past_meetings[0]
    services.add_leader_note(leader, meeting, "debrief", "We both felt pulled into rescuing the presenter.")
    db.session.commit()
    auth.login(coordinator)
    assert client.get(f"/meetings/{meeting.id}/record").status_code == 200
    response = client.post(f"/meetings/{meeting.id}/record", data=record_data(meeting, crew))
    assert response.status_code == 302 and reload(db, meeting).status == "held"
    assert client.get(f"/meetings/{meeting.id}/notes").status_code == 403
    assert client.post(f"/meetings/{meeting.id}/notes", data={"kind": "debrief", "text": "x"}).status_code == 403
    page = text(client.get(f"/meetings/{meeting.id}"))
    assert "pulled into rescuing" not in page and f"/meetings/{meeting.id}/notes" not in page
    assert "Correct the record" in page


def test_leaders_keep_private_notes_that_no_page_a_member_opens_shows(client, auth, db, crew, past_meetings, member):
    meeting = past_meetings[0]
    services.record_meeting(None, meeting, status="held", now=meeting.starts_at + timedelta(hours=2),
                            attendance={p.id: "present" for p in crew}, summary="Shared summary of the case.")
    db.session.commit()
    auth.login("leader@example.org")
    response = client.post(f"/meetings/{meeting.id}/notes",
                           data={"kind": "supervision", "text": "Ask about my urge to reassure the presenter."})
    assert response.status_code == 302
    notes_page = client.get(f"/meetings/{meeting.id}/notes")
    assert "Ask about my urge to reassure" in text(notes_page) and "Points for supervision" in text(notes_page)
    assert notes_page.headers["Cache-Control"] == "no-store"
    assert f"/meetings/{meeting.id}/notes" in text(client.get(f"/meetings/{meeting.id}"))
    auth.logout()

    auth.login(member)
    for url in (f"/meetings/{meeting.id}", "/", "/my-meetings", f"/groups/{meeting.group_id}/schedule"):
        response = client.get(url, follow_redirects=True)
        assert response.status_code in (200, 404), url
        assert "urge to reassure" not in text(response), url
        assert f"/meetings/{meeting.id}/notes" not in text(response), url
    meeting_page = text(client.get(f"/meetings/{meeting.id}"))
    assert "Shared summary of the case." in meeting_page and "You: Present" in meeting_page


@pytest.mark.parametrize(("data", "message"), [
    ({"kind": "debrief", "text": ""}, "Write the note."),
    ({"kind": "gossip", "text": "Fine."}, "Choose the kind of note."),
    ({"kind": "debrief", "text": "Bed 12 again."}, "a bed number"),
    ({"kind": "debrief", "text": "x" * 10001}, "at most 10000 characters"),
    ({"kind": "debrief", "text": "<script>alert(1)</script>"}, "Remove the HTML"),
])
def test_a_bad_note_is_refused_beside_its_field(client, db, past_meetings, signed_in_leader, data, message):
    response = client.post(f"/meetings/{past_meetings[0].id}/notes", data=data)
    assert response.status_code == 422 and message in text(response)
    assert count(db, LeaderNote) == 0


# --- odd input -------------------------------------------------------------------------------


ODD_INPUT = [
    ({"status": ""}, "status-cancelled", "Choose held or cancelled."),
    ({"status": "postponed"}, "status-cancelled", "Choose held or cancelled."),
    ({"summary": "x" * 10000}, "summary", "at most 4000 characters"),
    ({"summary": "<b>Loud</b> father"}, "summary", "Remove the HTML"),
    ({"summary": "He was born on 2015-03-02."}, "summary", "a date of birth"),
    ({"summary": "住院号 123456, 12床"}, "summary", "a bed number"),
    ({"theme_ids": ["999999"]}, "theme_ids", "Choose themes from the list."),
    ({"theme_ids": ["boundaries"]}, "theme_ids", "Choose themes from the list."),
    ({"presenter_id": "999999"}, "presenter_id", "Choose the presenter from the list."),
    ({"presenter_id": "nobody"}, "presenter_id", "Choose the presenter from the list."),
    ({"started_on": "2024-02-30"}, "started_on", "Enter a date."),
    ({"started_on": "1899-01-01"}, "started_on", "Enter a date from 2000 to 2100."),
    ({"started_at": "25:61"}, "started_at", "Enter a time"),
    ({"duration_minutes": "-5"}, "duration_minutes", "between 5 and 600 minutes"),
    ({"duration_minutes": "ninety"}, "duration_minutes", "Enter a number."),
    ({"duration_minutes": "99999999999999999999999"}, "duration_minutes", "between 5 and 600 minutes"),
    ({"guest_count": "51"}, "guest_count", "between 0 and 50"),
    ({"mode": "teleport"}, "mode", "Choose on site, online or hybrid."),
    ({"attendance-999999": "present"}, "attendance", "only for members of the group"),
]


@pytest.mark.parametrize(("changes", "field_id", "message"), ODD_INPUT, ids=[c[1] + "-" + str(i)
                                                                               for i, c in enumerate(ODD_INPUT)])
def test_odd_input_is_refused_beside_its_field_never_with_a_server_error(
    client, db, crew, past_meetings, signed_in_leader, changes, field_id, message
):
    meeting = past_meetings[0]
    response = client.post(f"/meetings/{meeting.id}/record", data=record_data(meeting, crew, **changes))
    assert response.status_code == 422
    page = text(response)
    if field_id == "attendance":
        assert message in page
    else:
        assert message in field_error(page, field_id), field_error(page, field_id)
    assert reload(db, meeting).status == "scheduled"


def test_attendance_must_be_given_for_every_member_as_present_absent_or_excused(
    client, db, crew, past_meetings, signed_in_leader
):
    meeting = past_meetings[0]
    data = record_data(meeting, crew)
    del data[f"attendance-{crew[0].id}"]
    data[f"attendance-{crew[1].id}"] = "asleep"
    response = client.post(f"/meetings/{meeting.id}/record", data=data)
    assert response.status_code == 422
    page = text(response)
    for person in crew[:2]:
        assert "Attendance is present, absent or excused." in field_error(page, f"attendance-{person.id}")
    assert reload(db, meeting).status == "scheduled"


def test_an_absent_presenter_is_refused(client, db, crew, past_meetings, signed_in_leader):
    meeting = past_meetings[0]
    response = client.post(f"/meetings/{meeting.id}/record",
                           data=record_data(meeting, crew, absent=[crew[2]], presenter=crew[2]))
    assert response.status_code == 422
    assert "must be one of the members present" in field_error(text(response), "presenter_id")


def test_emoji_and_chinese_in_the_summary_are_fine(client, db, crew, past_meetings, signed_in_leader):
    meeting = past_meetings[0]
    summary = "家长很焦虑，护士感到无力 😔"
    response = client.post(f"/meetings/{meeting.id}/record", data=record_data(meeting, crew, summary=summary))
    assert response.status_code == 302
    assert reload(db, meeting).record.summary == summary


def test_an_unknown_meeting_is_not_found(client, db, signed_in_leader):
    assert client.get("/meetings/999999/record").status_code == 404
    assert client.get("/meetings/999999/notes").status_code == 404


# --- the theme list --------------------------------------------------------------------------


def test_a_coordinator_adds_a_theme_and_takes_it_out_of_use_while_meetings_keep_it(
    client, auth, db, crew, past_meetings, coordinator
):
    auth.login(coordinator)
    page = text(client.get("/themes"))
    assert "Difficult parents" in page and "难以沟通的家长" in page
    response = client.post("/themes", data={"code": "Night shifts", "name_en": "Night shifts", "name_zh": "夜班"})
    assert response.status_code == 302
    theme = db.session.scalar(sa.select(Theme).where(Theme.code == "night_shifts"))
    assert theme.name_zh == "夜班" and theme.active

    meeting = past_meetings[0]
    assert f'id="theme_ids-{theme.id}"' in text(client.get(f"/meetings/{meeting.id}/record"))
    client.post(f"/meetings/{meeting.id}/record", data=record_data(meeting, crew, themes=[theme.id]))
    assert [t.code for t in reload(db, meeting).themes] == ["night_shifts"]

    response = client.post(f"/themes/{theme.id}/active", data={"active": "0"}, follow_redirects=True)
    assert "no longer offered" in text(response)
    assert reload(db, theme).active is False
    assert f'id="theme_ids-{theme.id}"' not in text(client.get(f"/meetings/{past_meetings[1].id}/record"))
    # The meeting that has it keeps it, and its correction form still shows it ticked.
    assert checked(text(client.get(f"/meetings/{meeting.id}/record")), f"theme_ids-{theme.id}")

    client.post(f"/themes/{theme.id}/active", data={"active": "1"})
    assert reload(db, theme).active is True
    actions = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_type == "Theme")).all()
    assert {"theme_added", "theme_deactivated", "theme_reactivated"} <= set(actions)


@pytest.mark.parametrize(("data", "message", "status"), [
    ({"code": "", "name_en": "A", "name_zh": "甲"}, "Enter a code.", 422),
    ({"code": "x", "name_en": "A", "name_zh": "甲"}, "Use 2 to 40", 422),
    ({"code": "ok_code", "name_en": "", "name_zh": "甲"}, "Enter a name.", 422),
    ({"code": "ok_code", "name_en": "<i>A</i>", "name_zh": "甲"}, "Remove the HTML", 422),
    ({"code": "ok_code", "name_en": "A" * 500, "name_zh": "甲"}, "at most 120 characters", 422),
    ({"code": "boundaries", "name_en": "Limits", "name_zh": "界限"}, "already exists", 409),
])
def test_a_bad_theme_is_refused_beside_its_field(client, auth, db, coordinator, data, message, status):
    auth.login(coordinator)
    client.get("/themes")
    before = count(db, Theme)
    response = client.post("/themes", data=data)
    assert response.status_code == status and message in text(response)
    assert count(db, Theme) == before


def test_an_odd_theme_switch_is_refused_and_an_unknown_theme_is_not_found(client, auth, db, coordinator):
    auth.login(coordinator)
    theme = db.session.get(Theme, theme_id(db, "aggression"))
    assert client.post(f"/themes/{theme.id}/active", data={"active": "maybe"}).status_code == 422
    assert client.post(f"/themes/{theme.id}/active", data={}).status_code == 422
    assert reload(db, theme).active is True
    assert client.post("/themes/999999/active", data={"active": "0"}).status_code == 404


@pytest.mark.parametrize("persona", ["leader", "member"])
def test_only_coordinators_change_the_theme_list(client, auth, db, persona, request):
    auth.login(request.getfixturevalue(persona))
    theme = theme_id(db, "aggression")
    assert client.get("/themes").status_code == 403
    assert client.post("/themes", data={"code": "abc", "name_en": "A", "name_zh": "甲"}).status_code == 403
    assert client.post(f"/themes/{theme}/active", data={"active": "0"}).status_code == 403
    assert db.session.get(Theme, theme).active is True
