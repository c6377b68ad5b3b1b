"""Calendar feeds: private addresses by token, revocation, group feeds, .ics downloads, the profile's address."""

from __future__ import annotations

import re
from datetime import time, timedelta

import ics
import pytest
import sqlalchemy as sa

from app.programme import services as programme
from app.scheduling import services
from app.scheduling.models import CalendarFeed
from app.scheduling.services import feeds as calendars
from app.timeutil import local_today, utcnow
from tests.factories import give_training, make_group, make_user
from tests.querylog import recorded_statements


def add_meeting(group, days_ahead, leader=None, at=time(14, 0)):
    meeting = services.add_extra_meeting(None, group, day=local_today() + timedelta(days=days_ahead), at=at)
    if leader is not None:
        services.assign_leaders(None, meeting, leader)
    return meeting


@pytest.fixture
def world(db, org, group, leader, member):
    """The persona group with three meetings; another group whose one meeting the persona leader leads."""
    ours = [add_meeting(group, d, leader) for d in (3, 17)]
    cancelled = add_meeting(group, 31, leader)
    services.cancel_meeting(None, cancelled, "Leader ill")
    other = make_group(org, "Oncology Balint group")
    other_leader = make_user("other.leader@example.org", roles=["leader"], name="Other Leader")
    give_training(other_leader)
    led_elsewhere = add_meeting(other, 10, leader, at=time(9, 0))
    not_ours = add_meeting(other, 24, other_leader, at=time(9, 0))
    db.session.commit()
    return {"ours": ours, "cancelled": cancelled, "other": other, "led_elsewhere": led_elsewhere,
            "not_ours": not_ours}


def uids(response) -> set[str]:
    return {event.uid for event in ics.Calendar(response.get_data(as_text=True)).events}


def feed_path(feed) -> str:
    return f"/calendar/{feed.token}.ics"


# --- personal feeds --------------------------------------------------------------------------

def test_a_members_feed_opens_without_logging_in_and_holds_their_groups_meetings_only(client, db, member, world):
    feed = calendars.personal_feed(member)
    db.session.commit()
    response = client.get(feed_path(feed))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert uids(response) == {m.uid for m in world["ours"]} | {world["cancelled"].uid}
    assert "STATUS:CANCELLED" in response.get_data(as_text=True)
    assert "X-WR-CALNAME:My Balint group meetings" in response.get_data(as_text=True)


def test_an_unchanged_feed_answers_304_to_a_polling_calendar(client, db, member, world):
    feed = calendars.personal_feed(member)
    db.session.commit()
    first = client.get(feed_path(feed))
    assert first.headers["ETag"]
    again = client.get(feed_path(feed), headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    services.cancel_meeting(None, world["ours"][0], "Room flooded")
    db.session.commit()
    changed = client.get(feed_path(feed), headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and "Room flooded" in changed.get_data(as_text=True)


def test_a_leaders_feed_holds_the_meetings_they_lead_in_any_group(client, db, leader, world):
    feed = calendars.personal_feed(leader)
    db.session.commit()
    found = uids(client.get(feed_path(feed)))
    assert world["led_elsewhere"].uid in found
    assert world["not_ours"].uid not in found
    assert {m.uid for m in world["ours"]} <= found


def test_a_members_feed_follows_their_membership_periods(db, group, leader, world, today):
    joiner = make_user("joiner@example.org", name="Joins Late")
    membership = programme.add_member(None, group, joiner, joined_on=today + timedelta(days=10))
    programme.end_membership(None, membership, today + timedelta(days=20))
    db.session.commit()
    found = calendars.meetings_for_user(joiner, calendars.feed_since(utcnow()))
    assert [m.id for m in found] == [world["ours"][1].id]  # day 17 only: days 3 and 31 are outside


def test_the_feed_reaches_back_sixty_days(db, group, today):
    veteran = make_user("veteran@example.org", name="Long Standing")
    programme.add_member(None, group, veteran, joined_on=today - timedelta(days=400))
    old = add_meeting(group, -61)
    recent = add_meeting(group, -59)
    db.session.commit()
    found = {m.id for m in calendars.meetings_for_user(veteran, calendars.feed_since(utcnow()))}
    assert recent.id in found and old.id not in found


def test_the_number_of_queries_does_not_grow_with_meetings_or_groups(db, org, leader, member, group, today):
    def count_queries(user):
        db.session.expire_all()
        assert user.name  # the user loaded before counting, as the feed route has it
        with recorded_statements(db.engine) as seen:
            found = calendars.meetings_for_user(user, calendars.feed_since(utcnow()))
            for meeting in found:
                _ = (meeting.group.name, [ml.user.name for ml in meeting.leaders])
        return len(found), len(seen)

    add_meeting(group, 3, leader)
    db.session.commit()
    few_meetings, few_queries = count_queries(member)
    for i in range(4):
        extra = make_group(org, f"Extra group {i}")
        programme.add_member(None, extra, member, joined_on=today - timedelta(days=5))
        for d in (4, 11, 18):
            add_meeting(extra, d + i, leader if i % 2 else None, at=time(8 + i, 0))
    db.session.commit()
    many_meetings, many_queries = count_queries(member)
    assert (few_meetings, many_meetings) == (1, 13)
    # memberships, meetings, then the selectin loads of the leaders (with their users) and their roles
    assert many_queries == few_queries <= 4


def test_an_unknown_token_is_a_404(client, db, world):
    assert client.get("/calendar/not-a-real-token.ics").status_code == 404
    assert client.get("/calendar/" + "x" * 500 + ".ics").status_code == 404


def test_getting_a_new_address_revokes_the_old_one(client, auth, db, member, world):
    auth.login(member)
    page = client.get("/profile").get_data(as_text=True)
    old_url = re.search(r'id="personal-feed-url"[^>]*value="(http://localhost/calendar/[^"]+\.ics)"', page).group(1)
    old_path = old_url.removeprefix("http://localhost")
    assert client.get(old_path).status_code == 200
    assert client.get("/profile").get_data(as_text=True).count(old_url) == 1  # the same address on every visit

    response = client.post("/profile/calendar/renew")
    assert response.status_code == 302 and response.headers["Location"] == "/profile"
    assert client.get(old_path).status_code == 404
    page = client.get("/profile").get_data(as_text=True)
    assert old_url not in page
    new_url = re.search(r'value="(http://localhost/calendar/[^"]+\.ics)"', page).group(1)
    assert client.get(new_url.removeprefix("http://localhost")).status_code == 200
    feeds = db.session.scalars(sa.select(CalendarFeed).where(CalendarFeed.user_id == member.id)).all()
    assert sorted(f.revoked_at is None for f in feeds) == [False, True]


def test_a_deactivated_persons_feed_stops_working(client, db, member, world):
    from app.accounts import services as accounts

    feed = calendars.personal_feed(member)
    accounts.set_active(None, member, False)
    db.session.commit()
    assert client.get(feed_path(feed)).status_code == 404


def test_nobody_else_can_revoke_a_personal_feed(db, member, outsider):
    from app.errors import NotAllowed

    feed = calendars.personal_feed(member)
    with pytest.raises(NotAllowed):
        calendars.revoke_feed(feed, outsider)
    assert feed.revoked_at is None


# --- group feeds -----------------------------------------------------------------------------

def test_a_member_makes_the_group_feed_and_it_shows_the_groups_meetings(client, auth, db, group, member, world):
    auth.login(member)
    page = client.get(f"/groups/{group.id}/calendar").get_data(as_text=True)
    assert "no calendar address yet" in page
    assert client.post(f"/groups/{group.id}/calendar").status_code == 302
    page = client.get(f"/groups/{group.id}/calendar").get_data(as_text=True)
    url = re.search(r'value="(http://localhost/calendar/[^"]+\.ics)"', page).group(1)
    assert "Get a new address" not in page  # members may not revoke it

    auth.logout()
    response = client.get(url.removeprefix("http://localhost"))
    assert response.status_code == 200
    assert uids(response) == {m.uid for m in world["ours"]} | {world["cancelled"].uid}
    assert "X-WR-CALNAME:Balint group: Paediatrics Balint group" in response.get_data(as_text=True)

    auth.login(member)
    assert client.post(f"/groups/{group.id}/calendar").status_code == 302
    feeds = db.session.scalars(sa.select(CalendarFeed).where(CalendarFeed.group_id == group.id)).all()
    assert len(feeds) == 1  # making it again keeps the one there is


def test_only_the_groups_leaders_replace_its_feed_address(client, auth, db, group, member, leader, world):
    feed = calendars.group_feed(group, member)
    db.session.commit()
    auth.login(member)
    assert client.post(f"/groups/{group.id}/calendar/renew").status_code == 403
    assert client.get(feed_path(feed)).status_code == 200

    auth.logout()
    auth.login(leader)
    assert "Get a new address" in client.get(f"/groups/{group.id}/calendar").get_data(as_text=True)
    assert client.post(f"/groups/{group.id}/calendar/renew").status_code == 302
    assert client.get(feed_path(feed)).status_code == 404
    assert client.get(feed_path(calendars.existing_group_feed(group))).status_code == 200


def test_people_outside_the_group_see_no_group_feed_page(client, auth, db, group, outsider, world):
    auth.login(outsider)
    assert client.get(f"/groups/{group.id}/calendar").status_code == 403
    assert client.post(f"/groups/{group.id}/calendar").status_code == 403
    assert client.get("/groups/999999/calendar").status_code == 404


def test_a_group_feed_stops_working_when_its_maker_leaves_the_group(client, db, group, member, world, today):
    feed = calendars.group_feed(group, member)
    programme.end_membership(None, group.memberships[0], today)
    db.session.commit()
    assert client.get(feed_path(feed)).status_code == 404


# --- one meeting as a file -------------------------------------------------------------------

def test_a_member_downloads_one_meeting_as_an_ics_file(client, auth, db, member, world):
    meeting = world["ours"][0]
    auth.login(member)
    response = client.get(f"/meetings/{meeting.id}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="meeting-{meeting.id}.ics"'
    assert uids(response) == {meeting.uid}


def test_the_ics_download_is_refused_to_outsiders_and_asks_strangers_to_log_in(client, auth, db, outsider, world):
    meeting = world["ours"][0]
    response = client.get(f"/meetings/{meeting.id}.ics")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    auth.login(outsider)
    assert client.get(f"/meetings/{meeting.id}.ics").status_code == 403
    assert client.get("/meetings/999999.ics").status_code == 404


def test_a_leader_downloads_a_meeting_they_lead_in_a_group_they_do_not_stand_with(client, auth, db, leader, world):
    auth.login(leader)
    assert client.get(f"/meetings/{world['led_elsewhere'].id}.ics").status_code == 200
    assert client.get(f"/meetings/{world['not_ours'].id}.ics").status_code == 403
