"""Portfolios, certificates, timelines and attendance pages through HTTP."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, time, timedelta

import pytest
import sqlalchemy as sa

from app.csvutil import safe_cell
from app.meetings import services
from app.meetings.models import Supervision, Theme
from app.programme import services as programme
from app.scheduling import services as scheduling
from app.timeutil import local_date, utcnow
from tests.factories import give_training, make_group, make_org, make_scoped_coordinator, make_user
from tests.querylog import recorded_statements


def text(response) -> str:
    return response.get_data(as_text=True)


def record_held(meeting, crew, present=None, minutes=60, **kw):
    present = crew if present is None else present
    attendance = {p.id: ("present" if p in present else "absent") for p in crew}
    return services.record_meeting(None, meeting, status="held", now=utcnow(), attendance=attendance,
                                   duration_minutes=minutes, **kw)


def shown(page: str, element_id: str) -> str:
    """The text of the element with this id (a <dd> or <td> of the page)."""
    found = re.search(rf'id="{element_id}">([^<]*)<', page)
    assert found, f"no #{element_id} on the page"
    return found.group(1).strip()


def body_rows(page: str, table_id: str) -> int:
    """How many rows the table's body has."""
    table = page.split(f'id="{table_id}"', 1)[1]
    tbody = table.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return tbody.count("<tr>")


def hours(minutes: int) -> str:
    """How the pages write hours in English: 225 minutes -> 3.75, 120 -> 2."""
    return f"{minutes / 60:.2f}".rstrip("0").rstrip(".")


@pytest.fixture
def co_leader(db, trainee_leader, today):
    """The persona trainee, trained long enough ago to co-lead every past meeting."""
    give_training(trainee_leader, "leader_in_training", completed_on=today - timedelta(days=3000))
    return trainee_leader


# --- the leader's portfolio ------------------------------------------------------------------

def test_the_portfolio_counts_held_meetings_hours_and_co_leaders_as_recorded(
    client, auth, db, group, crew, past_meetings, leader, co_leader
):
    minutes = [60, 90, 75, 45, 120]
    for meeting, length in zip(past_meetings[:5], minutes, strict=True):
        record_held(meeting, crew, minutes=length)
    for meeting in past_meetings[:2]:
        scheduling.assign_leaders(None, meeting, leader, co_leader)
    services.record_meeting(None, past_meetings[5], status="cancelled", now=utcnow(), cancel_reason="Leader ill")
    db.session.commit()
    # Counted independently: held meetings the leader leads; hours from what was recorded.
    expected_minutes = sum(minutes)

    auth.login(leader)
    page = text(client.get(f"/leaders/{leader.id}/portfolio"))
    assert shown(page, "total-led") == "5"
    assert shown(page, "total-co-led") == "0"
    assert shown(page, "total-hours") == hours(expected_minutes)
    assert page.count(co_leader.name) == 2  # "with whom" for the two co-led meetings
    assert "Leader ill" not in page

    auth.logout()
    auth.login(co_leader)
    page = text(client.get(f"/leaders/{co_leader.id}/portfolio"))
    assert shown(page, "total-led") == "0"
    assert shown(page, "total-co-led") == "2"
    assert shown(page, "total-hours") == hours(60 + 90)
    assert page.count(leader.name) == 2


def test_supervision_received_is_listed_with_its_total_hours(client, auth, db, leader):
    auth.login(leader)
    for day, minutes in (("2025-01-10", 90), ("2025-03-07", 60)):
        response = client.post(f"/leaders/{leader.id}/supervision",
                               data={"held_on": day, "supervisor": "Dr. Balint", "minutes": str(minutes)})
        assert response.status_code == 302
    page = text(client.get(f"/leaders/{leader.id}/portfolio"))
    assert shown(page, "supervision-hours") == hours(150)
    assert page.count("Dr. Balint") == 2


@pytest.mark.parametrize(
    ("data", "field_message"),
    [
        ({"held_on": "2025-01-10", "supervisor": "", "minutes": "60"}, "Name the supervisor."),
        ({"held_on": "2025-01-10", "supervisor": "Dr. B", "minutes": "abc"}, None),
        ({"held_on": "2025-01-10", "supervisor": "Dr. B", "minutes": "99999999999999999999999"}, None),
        ({"held_on": "2025-01-10", "supervisor": "Dr. B", "minutes": "2"}, "Enter a whole number from 5 to 1440."),
        ({"held_on": "2025-13-45", "supervisor": "Dr. B", "minutes": "60"}, None),
        ({"held_on": "99999-01-01", "supervisor": "Dr. B", "minutes": "60"}, None),
        ({"held_on": "{in_three_days}", "supervisor": "Dr. B", "minutes": "60"}, "choose today or earlier"),
        ({"held_on": "2025-01-10", "supervisor": "<script>x</script>", "minutes": "60"}, "Remove the HTML"),
    ],
)
def test_bad_supervision_input_is_refused_beside_its_field_and_nothing_is_saved(
    client, auth, db, leader, data, field_message, today
):
    data = {k: v.format(in_three_days=today + timedelta(days=3)) for k, v in data.items()}
    auth.login(leader)
    response = client.post(f"/leaders/{leader.id}/supervision", data=data)
    assert response.status_code == 422
    assert "invalid-feedback" in text(response)
    if field_message:
        assert field_message in text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Supervision)) == 0


def test_the_portfolio_and_its_csv_never_show_private_notes(client, auth, db, group, crew, past_meetings, leader):
    record_held(past_meetings[0], crew, summary="The group talked about a difficult night shift.")
    services.add_leader_note(leader, past_meetings[0], "debrief", "PRIVATE-DEBRIEF-NOTE")
    services.add_supervision(leader, leader, held_on=date(2025, 2, 1), supervisor="Dr. B", minutes=60,
                             note="PRIVATE-SUPERVISION-NOTE")
    db.session.commit()
    auth.login(leader)
    for url in (f"/leaders/{leader.id}/portfolio", f"/leaders/{leader.id}/portfolio.csv"):
        body = text(client.get(url))
        assert "Dr. B" in body
        assert "PRIVATE-DEBRIEF-NOTE" not in body and "PRIVATE-SUPERVISION-NOTE" not in body
        assert "difficult night shift" not in body


def test_the_portfolio_csv_has_a_bom_a_header_and_one_row_per_meeting_and_supervision(
    client, auth, db, group, crew, past_meetings, leader
):
    for meeting in past_meetings[:3]:
        record_held(meeting, crew, minutes=90)
    services.add_supervision(leader, leader, held_on=date(2025, 2, 1), supervisor="Dr. B", minutes=60)
    db.session.commit()
    auth.login(leader)
    response = client.get(f"/leaders/{leader.id}/portfolio.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == ["Kind", "Date", "Group", "Role", "Minutes", "With whom", "Members present"]
    meetings = [r for r in rows[1:] if r[0] == "Meeting"]
    assert len(meetings) == 3 and {r[4] for r in meetings} == {"90"} and {r[6] for r in meetings} == {"8"}
    assert [r[5] for r in rows[1:] if r[0] == "Supervision"] == ["Dr. B"]


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_come_out_quoted(client, auth, db, org, crew, leader, today):
    evil = make_group(org, '=HYPERLINK("http://evil.example","click")')
    programme.add_group_leader(None, evil, leader)
    for person in crew:
        programme.add_member(None, evil, person, joined_on=today - timedelta(days=400))
    meeting = scheduling.add_extra_meeting(None, evil, day=today - timedelta(days=7), at=time(14, 0))
    scheduling.assign_leaders(None, meeting, leader)
    record_held(meeting, crew)
    for name in ("+SUM(A1:A9)", "-2+3", "@cmd", "Dr. Plain"):
        services.add_supervision(leader, leader, held_on=date(2025, 2, 1), supervisor=name, minutes=60)
    db.session.commit()
    auth.login(leader)
    rows = list(csv.reader(io.StringIO(client.get(f"/leaders/{leader.id}/portfolio.csv").data.decode("utf-8-sig"))))
    cells = [cell for row in rows for cell in row]
    assert "'" + evil.name in cells
    assert {"'+SUM(A1:A9)", "'-2+3", "'@cmd", "Dr. Plain"} <= set(cells)
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_the_formula_guard_quotes_only_text_that_starts_like_a_formula():
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("\rx") == "'\rx"
    assert safe_cell("a=b") == "a=b"
    assert safe_cell(-3) == -3 and safe_cell(None) == ""


def test_another_leader_and_a_member_are_refused_someones_portfolio(client, auth, db, leader, member):
    other = make_user("other-leader@example.org", roles=["leader"], name="Other Leader")
    give_training(other, "leader")
    db.session.commit()
    for person in (other, member):
        auth.login(person)
        for url in (f"/leaders/{leader.id}/portfolio", f"/leaders/{leader.id}/portfolio.csv"):
            assert client.get(url).status_code == 403, (person.email, url)
        assert client.post(f"/leaders/{leader.id}/supervision",
                           data={"held_on": "2025-01-10", "supervisor": "X", "minutes": "60"}).status_code == 403
        auth.logout()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Supervision)) == 0


def test_a_coordinator_in_scope_sees_a_portfolio_and_one_out_of_scope_does_not(
    client, auth, db, org, leader, coordinator
):
    inside = make_scoped_coordinator(org)
    outside = make_scoped_coordinator(make_org("Elsewhere Hospital"), email="elsewhere@example.org")
    for person, status in ((coordinator, 200), (inside, 200), (outside, 403)):
        auth.login(person)
        assert client.get(f"/leaders/{leader.id}/portfolio").status_code == status
        assert client.get(f"/leaders/{leader.id}/portfolio.csv").status_code == status
        auth.logout()


def test_someone_who_never_led_has_no_portfolio(client, auth, coordinator, member):
    auth.login(coordinator)
    assert client.get(f"/leaders/{member.id}/portfolio").status_code == 404
    assert client.get("/leaders/2147483647/portfolio").status_code == 404


# --- the member's certificate ----------------------------------------------------------------

@pytest.fixture
def attended(db, group, crew, past_meetings, member):
    """Five held meetings; the persona member present at three of them (60, 90, 75 minutes)."""
    plan = [("present", 60), ("present", 90), ("absent", 120), ("present", 75), ("excused", 45)]
    for meeting, (state, minutes) in zip(past_meetings[:5], plan, strict=True):
        attendance = {p.id: "present" for p in crew}
        attendance[member.id] = state
        services.record_meeting(None, meeting, status="held", now=utcnow(), attendance=attendance,
                                duration_minutes=minutes)
    db.session.commit()
    return {"present_minutes": sum(m for state, m in plan if state == "present"),
            "present": sum(1 for state, _m in plan if state == "present"), "meetings": past_meetings[:5]}


def test_the_certificate_lists_only_meetings_attended_and_their_hours(client, auth, attended, member, group):
    auth.login(member)
    response = client.get(f"/members/{member.id}/certificate")
    page = text(response)
    assert response.status_code == 200
    assert body_rows(page, "certificate-meetings") == attended["present"]
    assert shown(page, "certificate-total-hours") == hours(attended["present_minutes"])
    assert shown(page, "certificate-name") == member.name
    assert group.organisation.name in page  # the group's organisation issues it when the member prints it
    assert 'media="print"' in page and "print.css" in page


def test_the_certificate_is_in_the_members_own_language(client, auth, db, attended, member, coordinator):
    member.locale = "zh_CN"
    db.session.commit()
    auth.login(coordinator)  # an English-speaking coordinator prints it
    page = text(client.get(f"/members/{member.id}/certificate"))
    assert 'lang="zh-CN"' in page
    assert shown(page, "certificate-total-hours") == hours(attended["present_minutes"])
    assert body_rows(page, "certificate-meetings") == attended["present"]
    # The coordinator's own pages stay in English.
    assert 'lang="en"' in text(client.get("/"))


def test_a_scoped_coordinators_organisation_issues_the_certificate(client, auth, db, org, attended, member):
    inside = make_scoped_coordinator(org)
    auth.login(inside)
    page = text(client.get(f"/members/{member.id}/certificate"))
    assert shown(page, "certificate-issuer") == org.name


def test_the_certificate_period_limits_the_meetings(client, auth, attended, member):
    first = local_date(attended["meetings"][0].starts_at)
    auth.login(member)
    page = text(client.get(f"/members/{member.id}/certificate?from={first}&until={first}"))
    assert body_rows(page, "certificate-meetings") == 1
    assert shown(page, "certificate-total-hours") == hours(60)


@pytest.mark.parametrize(
    "query",
    ["from=2025-02-30", "from=not-a-date", "until=99999-01-01", "from=1900-01-01",
     "from=2026-05-01&until=2026-04-01", "from=" + "9" * 500],
)
def test_a_bad_certificate_period_gets_a_message_not_a_certificate(client, auth, attended, member, query):
    auth.login(member)
    response = client.get(f"/members/{member.id}/certificate?{query}")
    assert response.status_code == 422
    assert "invalid-feedback" in text(response) and "certificate-meetings" not in text(response)


def test_only_the_member_and_coordinators_in_scope_open_a_certificate(
    client, auth, db, org, member, outsider, leader, coordinator
):
    outside = make_scoped_coordinator(make_org("Elsewhere Hospital"), email="elsewhere@example.org")
    for person, status in ((member, 200), (coordinator, 200), (outsider, 403), (leader, 403), (outside, 403)):
        auth.login(person)
        assert client.get(f"/members/{member.id}/certificate").status_code == status, person.email
        auth.logout()


# --- my attendance ---------------------------------------------------------------------------

def test_my_attendance_lists_each_held_meeting_with_totals_and_a_certificate_link(client, auth, attended, member):
    auth.login(member)
    page = text(client.get("/my/attendance"))
    assert shown(page, "total-meetings") == "5"
    assert (shown(page, "total-present"), shown(page, "total-absent"), shown(page, "total-excused")) == ("3", "1", "1")
    assert shown(page, "total-hours") == hours(attended["present_minutes"])
    assert f"/members/{member.id}/certificate" in page


# --- the group's timeline and statistics -----------------------------------------------------

def test_the_timeline_shows_status_leaders_attendance_presenter_themes_and_round(
    client, auth, db, group, crew, past_meetings, member, leader
):
    services.ensure_default_themes()
    theme = db.session.scalar(sa.select(Theme).where(Theme.code == "boundaries"))
    presenter = crew[3]
    for meeting in past_meetings[:5]:
        record_held(meeting, crew, present=crew[:7], presenter_id=presenter.id, theme_ids=[theme.id])
    services.record_meeting(None, past_meetings[5], status="cancelled", now=utcnow(), cancel_reason="Holiday")
    db.session.commit()
    auth.login(member)
    response = client.get(f"/groups/{group.id}/timeline")
    page = text(response)
    assert response.status_code == 200
    assert page.count("7 of 8") == 5
    assert page.count(presenter.name) == 5
    assert page.count(theme.name_en) == 5
    assert page.count("Round 1") == 5
    assert leader.name in page and "cancelled" in page
    newest_first = [m.group(1) for m in re.finditer(r'href="/meetings/(\d+)"', page)]
    assert newest_first.index(str(past_meetings[5].id)) < newest_first.index(str(past_meetings[0].id))


def test_the_attendance_statistics_give_rates_presenters_and_cancellations(
    client, auth, db, group, crew, past_meetings, leader, member
):
    record_held(past_meetings[0], crew, present=crew[:6], presenter_id=crew[0].id)  # 6 of 8
    record_held(past_meetings[1], crew, present=crew[:8], presenter_id=crew[1].id)  # 8 of 8
    record_held(past_meetings[2], crew, present=crew[:4], presenter_id=crew[0].id)  # 4 of 8
    services.record_meeting(None, past_meetings[3], status="cancelled", now=utcnow(), cancel_reason="Ill")
    db.session.commit()
    auth.login(leader)
    page = text(client.get(f"/groups/{group.id}/attendance"))
    assert shown(page, "count-held") == "3"
    assert shown(page, "count-cancelled") == "1"
    assert shown(page, "distinct-presenters") == "2"
    assert shown(page, "overall-rate").startswith(f"{round((6 + 8 + 4) / 24 * 100)}%")
    for rate in ("75%", "100%", "50%"):
        assert f"<td>{rate}</td>" in page
    auth.logout()
    auth.login(member)
    assert client.get(f"/groups/{group.id}/attendance").status_code == 403


def test_someone_outside_the_group_cannot_open_its_timeline(client, auth, group, outsider):
    auth.login(outsider)
    assert client.get(f"/groups/{group.id}/timeline").status_code == 403


# --- the same number of queries for few meetings or many -------------------------------------

def _measure(client, db, url: str) -> int:
    db.session.commit()  # expires every object loaded in the set-up: each load the page needs is counted
    with recorded_statements(db.engine) as statements:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(statements)


@pytest.mark.parametrize("page", ["portfolio", "timeline", "certificate", "my_attendance", "stats"])
def test_pages_run_the_same_number_of_queries_for_two_meetings_or_twelve(
    client, auth, db, group, crew, past_meetings, leader, co_leader, member, coordinator, page
):
    services.ensure_default_themes()
    themes = db.session.scalars(sa.select(Theme.id)).all()
    urls = {
        "portfolio": f"/leaders/{leader.id}/portfolio", "timeline": f"/groups/{group.id}/timeline",
        "certificate": f"/members/{member.id}/certificate", "my_attendance": "/my/attendance",
        "stats": f"/groups/{group.id}/attendance",
    }
    viewer = {"my_attendance": member, "certificate": member}.get(page, coordinator)

    def record(meetings):
        for i, meeting in enumerate(meetings):
            scheduling.assign_leaders(None, meeting, leader, co_leader)
            record_held(meeting, crew, presenter_id=crew[i % len(crew)].id, theme_ids=themes[: 1 + i % 3])

    record(past_meetings[:2])
    services.add_supervision(leader, leader, held_on=date(2025, 2, 1), supervisor="Dr. B", minutes=60)
    auth.login(viewer)
    few = _measure(client, db, urls[page])
    record(past_meetings[2:])
    for day in range(5):
        services.add_supervision(leader, leader, held_on=date(2025, 3, 1 + day), supervisor="Dr. C", minutes=60)
    many = _measure(client, db, urls[page])
    assert many == few


# --- odd input never fails -------------------------------------------------------------------

@pytest.mark.parametrize(
    "query",
    ["page=-1", "page=0", "page=abc", "page=99999999999999999999999", "from=abc", "until=2025-02-30",
     "from=0001-01-01", "from=9999-12-31&until=9999-12-31", "from=2030-01-01&until=2020-01-01",
     "user_id=5", "from=%00"],
)
def test_odd_query_strings_never_fail(client, auth, db, group, leader, member, coordinator, query):
    auth.login(coordinator)
    urls = [f"/leaders/{leader.id}/portfolio", f"/leaders/{leader.id}/portfolio.csv",
            f"/members/{member.id}/certificate", f"/groups/{group.id}/timeline", f"/groups/{group.id}/attendance",
            "/my/attendance", f"/groups/{group.id}/rounds"]
    for url in urls:
        response = client.get(f"{url}?{query}")
        assert response.status_code < 500, (url, query, response.status_code)


def test_unknown_ids_are_not_found(client, auth, coordinator):
    auth.login(coordinator)
    for url in ("/leaders/999999/portfolio", "/members/999999/certificate", "/groups/999999/timeline",
                "/groups/999999/attendance", "/members/99999999999999999999/certificate"):
        assert client.get(url).status_code == 404, url
