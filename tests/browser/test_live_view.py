"""A leader facilitates a meeting in the live view, through a dropped network and a reload."""

from __future__ import annotations

import re
import time as clock
from datetime import UTC, datetime, time, timedelta

import pytest
from playwright.sync_api import expect

from app.meetings import services
from app.programme import services as programme
from app.scheduling import services as scheduling
from tests.factories import PASSWORD, make_group, make_leader, make_org, make_user


@pytest.fixture
def setting(db, today):
    """A group with a trained leader and five members, and a meeting of it today."""
    org = make_org()
    leader = make_leader(organisation_id=org.id)
    group = make_group(org, "Paediatrics Balint group", leader=leader)
    members = []
    for name in ("Chen Jing", "Wang Fang", "Zhang Wei", "Liu Yang", "Zhao Lei"):
        person = make_user(f"{name.split()[1].lower()}@example.org", roles=["member"], name=name,
                           organisation_id=org.id)
        programme.add_member(None, group, person, joined_on=today - timedelta(days=60))
        members.append(person)
    meeting = scheduling.add_extra_meeting(None, group, day=today, at=time(14, 0))
    db.session.commit()
    return {"leader": leader, "members": members, "meeting": meeting}


def log_in(page, live_server, email):
    page.goto(live_server + "/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))


def checkin(page, person):
    return page.locator(f'.live-checkin[data-member-id="{person.id}"]')


def saved_state(page, db, meeting, until, timeout=10.0) -> dict:
    """Poll what the server has committed until `until(state)` holds (or the time runs out).

    The page waits rather than Python sleeping, so that Playwright keeps serving the page's routes meanwhile.
    """
    deadline = clock.monotonic() + timeout
    while True:
        db.session.rollback()  # end the read snapshot: see what the server committed
        state = services.live_state(meeting)
        if until(state) or clock.monotonic() > deadline:
            return state
        page.wait_for_timeout(200)


def test_a_leader_checks_in_picks_a_presenter_runs_the_phases_and_loses_nothing_offline(
    offline_page, live_server, db, setting
):
    page = offline_page
    meeting, members = setting["meeting"], setting["members"]
    first, second, third, late = members[:4]
    log_in(page, live_server, "leader@example.org")

    # From the meeting page to the live view.
    page.goto(f"{live_server}/meetings/{meeting.id}")
    page.get_by_role("link", name="Facilitate live").click()
    expect(page.get_by_role("heading", name="Facilitate live")).to_be_visible()
    expect(page.locator("#live-presenter-empty")).to_be_visible()

    # Three members check in; the presenter is chosen among them.
    for person in (first, second, third):
        checkin(page, person).click()
        expect(checkin(page, person)).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#live-present-count")).to_have_text("3")
    expect(page.locator(f'.live-presenter[data-member-id="{late.id}"]')).to_be_hidden()
    page.locator(f'.live-presenter[data-member-id="{second.id}"]').click()
    expect(page.locator("#live-presenter-name")).to_have_text(second.name)

    # The timer starts with the case and moves on to the questions.
    advance = page.locator("#live-advance")
    expect(advance).to_have_text("Start the meeting")
    advance.click()
    expect(page.locator("#live-phase-name")).to_have_text("Case told")
    expect(advance).to_have_text("Next phase")
    advance.click()
    expect(page.locator("#live-phase-name")).to_have_text("Questions of fact")
    expect(page.locator('.live-phase[data-phase="questions"]')).to_have_attribute("aria-current", "step")
    expect(page.locator("#live-sync")).to_have_text("Saved.")

    state = saved_state(page, db, meeting, lambda s: s.get("phase") == "questions")
    assert sorted(state["present"]) == sorted([first.id, second.id, third.id])
    assert state["presenter_id"] == second.id
    assert [e["phase"] for e in state["phase_log"]] == ["case", "questions"]
    assert state["phase_log"][0]["ended_at"] == state["phase_log"][1]["started_at"]

    # The network drops; one more member arrives.
    page.context.set_offline(True)
    checkin(page, late).click()
    expect(checkin(page, late)).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#live-sync")).to_contain_text("Offline")
    page.wait_for_timeout(1500)  # past the save that follows a change: it found the network down
    assert late.id not in saved_state(page, db, meeting, lambda s: False, timeout=0)["present"]

    # Back online, the check-in reaches the server without the leader doing anything.
    page.context.set_offline(False)
    state = saved_state(page, db, meeting, lambda s: late.id in s.get("present", []))
    assert sorted(state["present"]) == sorted([first.id, second.id, third.id, late.id])
    expect(page.locator("#live-sync")).to_have_text("Saved.")

    # A reload shows the same check-ins, presenter and phase; the clock goes on from the recorded start.
    page.reload()
    for person in (first, second, third, late):
        expect(checkin(page, person)).to_have_attribute("aria-pressed", "true")
    expect(checkin(page, members[4])).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#live-presenter-name")).to_have_text(second.name)
    expect(page.locator("#live-phase-name")).to_have_text("Questions of fact")
    expect(page.locator("#live-total-elapsed")).not_to_have_text("0:00")


def test_changes_made_offline_survive_a_reload_before_the_network_is_back(offline_page, live_server, db, setting):
    page = offline_page
    meeting, members = setting["meeting"], setting["members"]
    page.clock.install()  # time flows as usual, and can jump to the next retry
    log_in(page, live_server, "leader@example.org")
    page.goto(f"{live_server}/meetings/{meeting.id}/live")
    checkin(page, members[0]).click()
    expect(page.locator("#live-sync")).to_have_text("Saved.")

    page.context.set_offline(True)
    checkin(page, members[1]).click()
    expect(page.locator("#live-sync")).to_contain_text("Offline")

    def unreachable(route):  # the network is back but the server stays out of reach for saving
        if route.request.method == "POST":
            route.abort()
        else:
            route.fallback()

    page.route(f"**/meetings/{meeting.id}/live", unreachable)
    page.context.set_offline(False)
    page.reload()
    expect(checkin(page, members[1])).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#live-sync")).to_contain_text("Offline")
    assert members[1].id not in saved_state(page, db, meeting, lambda s: False, timeout=0)["present"]

    page.unroute(f"**/meetings/{meeting.id}/live")
    page.clock.fast_forward(16_000)  # the retry every 15 seconds while unsaved
    state = saved_state(page, db, meeting, lambda s: members[1].id in s.get("present", []))
    assert sorted(state["present"]) == sorted([members[0].id, members[1].id])


def test_a_phase_that_runs_over_shows_a_quiet_warning(offline_page, live_server, db, setting):
    meeting, members = setting["meeting"], setting["members"]
    started = (datetime.now(UTC) - timedelta(minutes=7)).isoformat().replace("+00:00", "Z")
    services.sync_live_state(meeting, {
        "present": [members[0].id], "presenter_id": members[0].id, "phase": "case", "started_at": started,
        "phase_started_at": started, "phase_log": [{"phase": "case", "started_at": started, "ended_at": None}],
    }, now=datetime.now(UTC).replace(tzinfo=None))
    db.session.commit()
    page = offline_page
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, live_server, "leader@example.org")
    page.goto(f"{live_server}/meetings/{meeting.id}/live")

    warning = page.locator("#live-overrun")
    expect(warning).to_have_attribute("role", "status")
    expect(warning).to_have_text("Over time: “Case told” was planned for 5 minutes.")
    expect(page.locator("#live-timer")).to_have_class(re.compile(r"\blive-over\b"))
    page.locator("#live-advance").click()
    expect(warning).to_have_text("")
    expect(page.locator("#live-timer")).not_to_have_class(re.compile(r"\blive-over\b"))
    assert dialogs == []
