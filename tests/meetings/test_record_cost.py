"""The record page drawn and saved for less: the members' selects and the theme boxes in plain markup exactly as
WTForms draws them, presenters read only for a page drawn, and a correction judged once when it breaks nothing."""

from __future__ import annotations

import re

import pytest
from markupsafe import Markup

from app.accounts import services as accounts
from app.meetings import services
from app.meetings.forms import record_form_class
from app.meetings.models import Attendance
from app.scheduling.services import EligibilityError
from app.timeutil import local_date
from tests.meetings.test_routes import record_data, text, theme_id
from tests.querylog import recorded_statements, work


def overlap_checks(statements: list[str]) -> int:
    """The invariants' overlapping-bookings statements (one per check), as either database writes them."""
    return sum(bool(re.search(r'WITH "?window"? AS', s)) for s in statements)


@pytest.fixture
def signed_in_leader(auth, leader):
    auth.login(leader)
    return leader


def wtforms_markup(app, meeting, crew, formdata: dict | None, themes: list[tuple[int, str]]) -> list[str]:
    """What WTForms itself draws for the members' labels and selects and the theme boxes, for the same data."""
    from werkzeug.datastructures import MultiDict

    form_class = record_form_class(services.members_on(meeting.group_id, local_date(meeting.starts_at)))
    method = "POST" if formdata is not None else "GET"
    with app.test_request_context(method=method, data=formdata or {}):
        form = form_class(formdata=MultiDict(formdata) if formdata is not None else None, meta={"csrf": False},
                          data=None if formdata is not None else {f"attendance-{p.id}": "present" for p in crew})
        form.theme_ids.choices = themes
        form.presenter_id.choices = []
        if formdata is not None:
            form.validate()
        parts = []
        for _member, f in form.attendance_fields():
            parts.append(str(f.label(class_="form-label mb-0 text-break")))
            parts.append(str(f(class_="form-select form-select-sm" + (" is-invalid" if f.errors else ""))))
        for option in form.theme_ids:
            invalid = " is-invalid" if form.theme_ids.errors else ""
            parts.append(str(option(id=f"theme_ids-{option.data}", class_="form-check-input" + invalid)))
            parts.append(str(option.label(for_=f"theme_ids-{option.data}", class_="form-check-label")))
        return parts


def offered_themes(page: str) -> list[tuple[int, str]]:
    return [(int(v), Markup(label).unescape()) for v, label in
            re.findall(r'<label class="form-check-label" for="theme_ids-(\d+)">(.*?)</label>', page)]


def test_the_members_selects_and_theme_boxes_are_drawn_exactly_as_wtforms_draws_them(
    app, client, db, crew, past_meetings, signed_in_leader
):
    meeting = past_meetings[0]
    page = text(client.get(f"/meetings/{meeting.id}/record"))
    themes = offered_themes(page)
    assert len(themes) == 10
    for part in wtforms_markup(app, meeting, crew, None, themes):
        assert part in page, part


def test_a_refused_record_redraws_the_choices_errors_and_ticks_exactly_as_wtforms_does(
    app, client, db, crew, past_meetings, signed_in_leader
):
    meeting = past_meetings[0]
    parents = theme_id(db, "difficult_parents")
    data = record_data(meeting, crew, absent=[crew[2]], excused=[crew[3]], themes=[parents])
    data[f"attendance-{crew[1].id}"] = "asleep"  # refused beside that member
    data["theme_ids"] = [str(parents), "999999"]  # not offered: the boxes are marked invalid
    response = client.post(f"/meetings/{meeting.id}/record", data=data)
    assert response.status_code == 422
    page = text(response)
    assert "Attendance is present, absent or excused." in page
    assert 'class="form-check-input is-invalid"' in page and 'class="form-select form-select-sm is-invalid"' in page
    for part in wtforms_markup(app, meeting, crew, data, offered_themes(page)):
        assert part in page, part


def test_a_record_that_saves_does_not_read_when_members_last_presented(client, db, crew, past_meetings,
                                                                      signed_in_leader):
    meeting = past_meetings[0]
    with recorded_statements() as seen:
        response = client.post(f"/meetings/{meeting.id}/record", data=record_data(meeting, crew))
    assert response.status_code == 302
    assert not [s for s in seen if "max(meetings.starts_at)" in s]
    page = text(client.get(f"/meetings/{meeting.id}/record"))
    assert "has not presented yet" in page  # the page drawn still offers the presenters with their hint


def test_a_correction_that_breaks_nothing_is_judged_once(client, db, crew, past_meetings, signed_in_leader):
    meeting = past_meetings[0]
    assert client.post(f"/meetings/{meeting.id}/record", data=record_data(meeting, crew)).status_code == 302
    with recorded_statements() as seen:
        response = client.post(f"/meetings/{meeting.id}/record", data=record_data(meeting, crew, absent=[crew[1]]))
    assert response.status_code == 302
    assert overlap_checks(seen) == 1
    with recorded_statements() as again:
        client.post(f"/meetings/{meeting.id}/record", data=record_data(meeting, crew, absent=[crew[2]]))
    assert len(work(again)) == len(work(seen))


def test_a_correction_of_a_meeting_whose_lead_has_since_left_is_judged_before_and_after_and_saved_once(
    db, group, crew, past_meetings, leader, today
):
    """The strict try is refused (the lead is inactive); the tolerant check from the start keeps the correction,
    with each attendance stored once and the record audited as one correction."""
    meeting = past_meetings[0]
    services.record_meeting(None, meeting, status="held", now=meeting.ends_at,
                            attendance={p.id: "present" for p in crew})
    accounts.set_active(None, leader, False)
    db.session.flush()
    with recorded_statements() as seen:
        result = services.record_meeting(None, meeting, status="held", now=meeting.ends_at,
                                         attendance={p.id: ("absent" if p is crew[0] else "present") for p in crew})
    assert result.corrected
    assert overlap_checks(seen) == 3  # strict (refused), then before and after
    db.session.flush()
    rows = db.session.query(Attendance).filter_by(meeting_id=meeting.id).all()
    assert len(rows) == len(crew) and {r.user_id: r.status for r in rows}[crew[0].id] == "absent"
    services.record_meeting(None, meeting, status="cancelled", now=meeting.ends_at, cancel_reason="By mistake")
    with pytest.raises(EligibilityError):  # and nothing may make it worse
        services.record_meeting(None, meeting, status="held", now=meeting.ends_at,
                                attendance={p.id: "present" for p in crew})
