"""The live facilitation view and the phase settings through HTTP."""

from __future__ import annotations

import html
import json
import re
from datetime import time, timedelta

import pytest

from app.meetings import services
from app.scheduling import services as scheduling
from tests.factories import give_training, make_group, make_user


def text(response) -> str:
    return response.get_data(as_text=True)


def state_of(page: str) -> dict:
    """The JSON the live page hands to its script."""
    match = re.search(r"data-state='([^']*)'", page)
    assert match, "the live page carries its state in data-state"
    return json.loads(html.unescape(match.group(1)))


@pytest.fixture
def meeting(db, group, crew, today):
    """A meeting of the persona group today, its eight members current."""
    m = scheduling.add_extra_meeting(None, group, day=today, at=time(14, 0))
    db.session.commit()
    return m


def post_state(client, meeting, state, **kw):
    return client.post(f"/meetings/{meeting.id}/live", json=state, **kw)


# --- the page --------------------------------------------------------------------------------

def test_a_leader_sees_every_member_and_the_phase_plan_on_the_live_page(client, auth, leader, meeting, crew):
    auth.login(leader)
    page = text(client.get(f"/meetings/{meeting.id}/live"))
    for person in crew:
        assert f'data-member-id="{person.id}" aria-pressed="false"' in page
        assert html.escape(person.name) in page
    for label in ("Case told", "Questions of fact", "Group discussion, presenter pushed back",
                  "Presenter returns", "Closing"):
        assert label in page
    data = state_of(page)
    assert data["plan"] == [5, 10, 30, 10, 5]
    assert data["phases"] == ["case", "questions", "discussion", "return", "closing"]
    assert sorted(data["members"]) == sorted(p.id for p in crew)
    assert data["saved"] == {}
    assert 'src="/static/js/live.js"' in page
    assert f'href="/meetings/{meeting.id}/record"' in page


def test_the_live_page_has_no_inline_script_style_or_event_handler(client, auth, leader, meeting):
    auth.login(leader)
    page = text(client.get(f"/meetings/{meeting.id}/live"))
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert not re.search(r"\sstyle=", page)
    assert not re.search(r"\son[a-z]+=", page)


def test_a_coordinator_may_open_the_live_page(client, auth, coordinator, meeting):
    auth.login(coordinator)
    assert client.get(f"/meetings/{meeting.id}/live").status_code == 200


@pytest.mark.parametrize("persona", ["member", "outsider"])
def test_members_and_outsiders_are_refused_the_live_page_and_its_saving(client, auth, meeting, crew, persona, request):
    auth.login(request.getfixturevalue(persona))
    assert client.get(f"/meetings/{meeting.id}/live").status_code == 403
    assert post_state(client, meeting, {"present": [crew[0].id]}).status_code == 403
    assert services.live_state(meeting) == {}


def test_a_leader_of_another_group_is_refused_the_live_page(client, auth, db, org, meeting, crew):
    other_leader = make_user("other-leader@example.org", roles=["leader"], name="Other Leader")
    give_training(other_leader, "leader")
    from app.programme import services as programme

    programme.add_group_leader(None, make_group(org, "Another group"), other_leader)
    db.session.commit()
    auth.login(other_leader)
    assert client.get(f"/meetings/{meeting.id}/live").status_code == 403
    assert post_state(client, meeting, {"present": [crew[0].id]}).status_code == 403


def test_the_live_page_suggests_who_presented_least_recently_first(client, auth, db, leader, crew, past_meetings):
    presenter = crew[0]
    attendance = {p.id: "present" for p in crew}
    services.record_meeting(None, past_meetings[0], status="held", now=past_meetings[0].starts_at + timedelta(hours=2),
                            attendance=attendance, presenter_id=presenter.id)
    db.session.commit()
    auth.login(leader)
    page = text(client.get(f"/meetings/{past_meetings[5].id}/live"))
    suggestion = page[page.index('id="presenter-heading"'):]
    order = [int(uid) for uid in re.findall(r'<li class="live-presenter-item" data-member-id="(\d+)"', suggestion)]
    assert sorted(order) == sorted(p.id for p in crew)
    assert order[-1] == presenter.id, "the one who presented comes last"
    assert suggestion.count("never presented") == len(crew) - 1
    assert "last presented" in suggestion


def test_the_meeting_page_links_to_the_live_view_for_its_leaders_only(client, auth, leader, member, meeting):
    auth.login(leader)
    assert f'href="/meetings/{meeting.id}/live"' in text(client.get(f"/meetings/{meeting.id}"))
    auth.logout()
    auth.login(member)
    assert f'href="/meetings/{meeting.id}/live"' not in text(client.get(f"/meetings/{meeting.id}"))


# --- saving the state ------------------------------------------------------------------------

def test_saved_state_is_what_live_state_then_returns(client, auth, leader, meeting, crew):
    auth.login(leader)
    state = {
        "present": [crew[0].id, crew[1].id, crew[2].id], "presenter_id": crew[1].id,
        "phase": "questions", "phase_started_at": "2031-01-08T06:05:00.000Z", "started_at": "2031-01-08T06:00:00.000Z",
        "phase_log": [
            {"phase": "case", "started_at": "2031-01-08T06:00:00.000Z", "ended_at": "2031-01-08T06:05:00.000Z"},
            {"phase": "questions", "started_at": "2031-01-08T06:05:00.000Z", "ended_at": None},
        ],
        "something_else": "dropped",
    }
    response = post_state(client, meeting, state)
    assert response.status_code == 200
    saved_at = response.get_json()["saved_at"]
    assert saved_at.endswith("Z")

    kept = services.live_state(meeting)
    assert kept["present"] == [crew[0].id, crew[1].id, crew[2].id]
    assert kept["presenter_id"] == crew[1].id
    assert kept["phase"] == "questions" and len(kept["phase_log"]) == 2
    assert kept["saved_at"] == saved_at
    assert "something_else" not in kept
    assert state_of(text(client.get(f"/meetings/{meeting.id}/live")))["saved"] == kept


def test_saving_again_replaces_the_state(client, auth, leader, meeting, crew):
    auth.login(leader)
    assert post_state(client, meeting, {"present": [crew[0].id]}).status_code == 200
    assert post_state(client, meeting, {"present": [crew[3].id, crew[3].id]}).status_code == 200
    assert services.live_state(meeting)["present"] == [crew[3].id]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("present=1", "application/x-www-form-urlencoded", 400),
        ("[1, 2]", "application/json", 422),
        ('{"present": "everyone"}', "application/json", 422),
        ('{"present": [true]}', "application/json", 422),
        ('{"present": [{"id": 1}]}', "application/json", 422),
        ('{"present": [], "phase": "coffee"}', "application/json", 422),
        ('{"present": [], "started_at": "yesterday"}', "application/json", 422),
        ('{"present": [], "phase_log": [{"phase": "case"}]}', "application/json", 422),
        ('{"present": [], "phase_log": "case"}', "application/json", 422),
    ],
)
def test_unreadable_state_is_refused_with_a_message_and_nothing_saved(client, auth, leader, meeting, body,
                                                                      content_type, status):
    auth.login(leader)
    response = client.post(f"/meetings/{meeting.id}/live", data=body, content_type=content_type)
    assert response.status_code == status
    assert response.get_json()["detail"]
    assert services.live_state(meeting) == {}


def test_a_state_nested_too_deeply_to_read_is_refused_not_a_500(client, auth, leader, meeting):
    """Found by fuzzing: thousands of nested brackets made the JSON reader raise RecursionError (a 500)."""
    auth.login(leader)
    response = client.post(f"/meetings/{meeting.id}/live", data="[" * 5000, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["detail"] == "The live state could not be read."
    assert services.live_state(meeting) == {}


def test_someone_outside_the_group_cannot_be_checked_in_or_present(client, auth, db, leader, meeting, crew, outsider):
    auth.login(leader)
    response = post_state(client, meeting, {"present": [crew[0].id, outsider.id]})
    assert response.status_code == 422
    assert response.get_json()["detail"] == "Check-in holds someone who is not a member of the group."
    response = post_state(client, meeting, {"present": [crew[0].id], "presenter_id": crew[1].id})
    assert response.status_code == 422
    assert response.get_json()["detail"] == "The presenter must be one of the members present."
    assert services.live_state(meeting) == {}


def test_the_refusal_comes_in_the_readers_language(client, auth, leader, meeting, outsider):
    auth.login(leader)
    client.post("/language", data={"lang": "zh_CN"})
    response = post_state(client, meeting, {"present": [outsider.id]}, headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 422
    detail = response.get_json()["detail"]
    assert detail and not detail.startswith("Check-in")


# --- phase lengths ---------------------------------------------------------------------------

def phase_form(case=5, questions=10, discussion=30, back=10, closing=5) -> dict:
    return {"case": str(case), "questions": str(questions), "discussion": str(discussion), "back": str(back),
            "closing": str(closing)}


def test_the_phases_form_shows_the_current_plan(client, auth, leader, group):
    auth.login(leader)
    page = text(client.get(f"/groups/{group.id}/phases"))
    assert 'name="discussion"' in page and 'value="30"' in page
    assert "60 minutes" in page


def test_the_phases_form_saves_a_plan_that_adds_up_and_the_live_page_uses_it(client, auth, leader, group, meeting):
    auth.login(leader)
    response = client.post(f"/groups/{group.id}/phases", data=phase_form(10, 10, 25, 10, 5))
    assert response.status_code == 302
    assert services.phase_plan(group) == [10, 10, 25, 10, 5]
    assert state_of(text(client.get(f"/meetings/{meeting.id}/live")))["plan"] == [10, 10, 25, 10, 5]


@pytest.mark.parametrize("data", [phase_form(10, 10, 30, 10, 5), phase_form(0, 10, 35, 10, 5),
                                  {**phase_form(), "closing": ""}, {**phase_form(), "case": "five"}])
def test_the_phases_form_refuses_a_plan_that_does_not_add_up(client, auth, leader, group, data):
    auth.login(leader)
    response = client.post(f"/groups/{group.id}/phases", data=data)
    assert response.status_code == 422
    assert "Nothing was saved" in text(response)
    assert services.phase_plan(group) == [5, 10, 30, 10, 5]


def test_a_sum_that_does_not_match_names_the_meeting_length(client, auth, leader, group):
    auth.login(leader)
    page = text(client.post(f"/groups/{group.id}/phases", data=phase_form(10, 10, 30, 10, 5)))
    assert "Give five phases of at least one minute that add up to 60 minutes." in page


def test_members_cannot_change_the_phases(client, auth, member, group):
    auth.login(member)
    assert client.get(f"/groups/{group.id}/phases").status_code == 403
    assert client.post(f"/groups/{group.id}/phases", data=phase_form(10, 10, 25, 10, 5)).status_code == 403
    assert services.phase_plan(group) == [5, 10, 30, 10, 5]


def test_the_schedule_page_links_its_leaders_to_the_phases(client, auth, leader, group):
    auth.login(leader)
    assert f'href="/groups/{group.id}/phases"' in text(client.get(f"/groups/{group.id}/schedule"))
