"""The coordinators' pages for organisations, groups, memberships and leaders, through HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.programme import services
from app.programme.forms import local_today
from app.programme.models import Group, GroupLeader, Membership, Organisation
from tests.factories import give_training, make_group, make_org, make_user
from tests.querylog import recorded_statements

GROUP_FIELDS = {
    "name": "Night-shift nurses", "description": "Nurses of the night shifts.", "capacity": "10",
    "mode": "hybrid", "location": "Building 2, room 301", "video_link": "https://meet.example.org/balint",
    "duration_minutes": "60", "feedback_interval": "5", "feedback_window_days": "14", "status": "active",
}


def group_data(org, **changes):
    return {**GROUP_FIELDS, "organisation_id": str(org.id), **changes}


def text(response) -> str:
    return response.get_data(as_text=True)


def count(db, model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def memberships_of(db, group, user):
    db.session.expire_all()
    return db.session.scalars(
        sa.select(Membership).where(Membership.group_id == group.id, Membership.user_id == user.id)
        .order_by(Membership.id)
    ).all()


# --- organisations ---------------------------------------------------------------------------


def test_a_coordinator_creates_an_organisation(client, auth, coordinator, db):
    auth.login(coordinator)
    response = client.post("/organisations/new", data={"name": "Chaoyang Health Centre", "kind": "other"},
                           follow_redirects=True)
    assert response.status_code == 200
    assert "Chaoyang Health Centre" in text(response) and "created" in text(response)
    org = db.session.scalar(sa.select(Organisation).where(Organisation.name == "Chaoyang Health Centre"))
    assert org is not None and org.kind == "other" and org.active


def test_a_duplicate_organisation_name_is_shown_beside_the_field_and_nothing_is_lost(client, auth, coordinator, org):
    auth.login(coordinator)
    response = client.post("/organisations/new", data={"name": "test hospital", "kind": "department"})
    assert response.status_code == 422
    page = text(response)
    assert "already exists" in page and "invalid-feedback" in page
    assert 'value="test hospital"' in page and '<option selected value="department">' in page


def test_a_scoped_coordinator_may_not_create_organisations(client, auth, org_coordinator, db):
    auth.login(org_coordinator)
    assert client.get("/organisations/new").status_code == 403
    assert client.post("/organisations/new", data={"name": "Mine", "kind": "hospital"}).status_code == 403
    assert count(db, Organisation, Organisation.name == "Mine") == 0
    assert "New organisation" not in text(client.get("/organisations"))


def test_the_organisation_list_shows_kind_state_and_number_of_groups(client, auth, coordinator, org, other_org):
    make_group(org, "A")
    make_group(org, "B")
    services.set_organisation_active(None, other_org, False)
    auth.login(coordinator)
    page = text(client.get("/organisations"))
    assert "Test Hospital" in page and "Other Hospital" in page
    assert f'href="/groups?organisation={org.id}">2</a>' in page
    assert f'href="/groups?organisation={other_org.id}">0</a>' in page
    assert "Inactive" in page and "Hospital" in page


def test_the_organisation_list_searches_by_name(client, auth, coordinator, org, other_org):
    auth.login(coordinator)
    page = text(client.get("/organisations?q=other"))
    assert "Other Hospital" in page and "Test Hospital" not in page
    assert "No organisation matches" in text(client.get("/organisations?q=%25_"))


def test_the_organisation_list_is_paged(app, client, auth, coordinator, monkeypatch):
    for n in range(5):
        make_org(f"Clinic {n}")
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    auth.login(coordinator)
    first = text(client.get("/organisations"))
    assert "Page 1 of 3" in first and "Clinic 0" in first and "Clinic 4" not in first
    last = text(client.get("/organisations?page=3"))
    assert "Clinic 4" in last and "Clinic 0" not in last
    assert client.get("/organisations?page=abc").status_code == 200


def test_a_scoped_coordinator_sees_only_their_organisation(client, auth, org_coordinator, org, other_org):
    auth.login(org_coordinator)
    page = text(client.get("/organisations"))
    assert "Test Hospital" in page and "Other Hospital" not in page
    assert client.get(f"/organisations/{other_org.id}/edit").status_code == 403


def test_a_coordinator_renames_an_organisation(client, auth, coordinator, org, db):
    auth.login(coordinator)
    response = client.post(f"/organisations/{org.id}/edit", data={"name": "Children's Hospital", "kind": "hospital"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Organisation, org.id).name == "Children's Hospital"


def test_a_coordinator_deactivates_and_reactivates_an_organisation(client, auth, coordinator, org, db):
    auth.login(coordinator)
    response = client.post(f"/organisations/{org.id}/active", data={"active": "0"}, follow_redirects=True)
    assert "deactivated" in text(response)
    db.session.expire_all()
    assert db.session.get(Organisation, org.id).active is False
    client.post(f"/organisations/{org.id}/active", data={"active": "1"})
    db.session.expire_all()
    assert db.session.get(Organisation, org.id).active is True


@pytest.mark.parametrize("value", ["abc", "", "7", "🙂"])
def test_a_bad_active_value_changes_nothing_and_says_so(client, auth, coordinator, org, db, value):
    auth.login(coordinator)
    response = client.post(f"/organisations/{org.id}/active", data={"active": value}, follow_redirects=True)
    assert response.status_code == 200 and "Choose whether the organisation is active" in text(response)
    db.session.expire_all()
    assert db.session.get(Organisation, org.id).active is True


# --- groups ----------------------------------------------------------------------------------


def test_a_coordinator_creates_a_group_with_every_setting(client, auth, coordinator, org, db):
    auth.login(coordinator)
    response = client.post("/groups/new", data=group_data(org, capacity="8"))
    group = db.session.scalar(sa.select(Group).where(Group.name == "Night-shift nurses"))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/groups/{group.id}")
    assert (group.organisation_id, group.capacity, group.mode, group.location) == (
        org.id, 8, "hybrid", "Building 2, room 301")
    assert (group.video_link, group.duration_minutes, group.feedback_interval, group.feedback_window_days) == (
        "https://meet.example.org/balint", 60, 5, 14)
    page = text(client.get(response.headers["Location"]))
    assert "created" in page and "recommended size" not in page


def test_the_new_group_form_offers_the_programme_defaults(client, auth, coordinator, org):
    auth.login(coordinator)
    page = text(client.get("/groups/new"))
    assert 'name="duration_minutes" required type="number" value="60"' in page
    assert 'name="feedback_interval" required type="number" value="5"' in page
    assert 'name="feedback_window_days" required type="number" value="14"' in page


@pytest.mark.parametrize("capacity", ["13", "4"])
def test_a_capacity_outside_six_to_twelve_saves_with_a_warning(client, auth, coordinator, org, db, capacity):
    auth.login(coordinator)
    response = client.post("/groups/new", data=group_data(org, capacity=capacity), follow_redirects=True)
    assert response.status_code == 200
    assert "recommended size of a Balint group is 6–12" in text(response)
    assert db.session.scalar(sa.select(Group.capacity).where(Group.name == "Night-shift nurses")) == int(capacity)


def test_a_coordinator_edits_a_group_and_a_too_large_capacity_warns(client, auth, coordinator, group, db):
    auth.login(coordinator)
    response = client.post(f"/groups/{group.id}/edit", data=group_data(group.organisation, name="Renamed",
                                                                        capacity="15", status="paused"),
                           follow_redirects=True)
    assert "6–12" in text(response)
    db.session.expire_all()
    saved = db.session.get(Group, group.id)
    assert (saved.name, saved.capacity, saved.status) == ("Renamed", 15, "paused")


def test_a_duplicate_group_name_is_refused_beside_the_name(client, auth, coordinator, group, db):
    auth.login(coordinator)
    response = client.post("/groups/new", data=group_data(group.organisation, name=group.name.upper()))
    assert response.status_code == 422
    assert "already has a group with this name" in text(response)
    assert count(db, Group) == 1


ODD_INPUT = [
    ({"name": "x" * 10_000}, "name", "longer than 200"),
    ({"name": "<script>alert(1)</script>"}, "name", "Remove the HTML"),
    ({"name": ""}, "name", "Enter a name"),
    ({"description": "<b>bold</b>"}, "description", "Remove the HTML"),
    ({"location": "Room\x07 1"}, "location", "control characters"),
    ({"capacity": "abc"}, "capacity", "Not a valid integer value"),
    ({"capacity": ""}, "capacity", "Enter a number"),
    ({"capacity": "9" * 10_000}, "capacity", "Not a valid integer value"),
    ({"capacity": "0"}, "capacity", "from 1 to 100"),
    ({"duration_minutes": "5"}, "duration_minutes", "from 15 to 480"),
    ({"feedback_window_days": "-1"}, "feedback_window_days", "from 1 to 120"),
    ({"organisation_id": "999999"}, "organisation_id", "Not a valid choice"),
    ({"organisation_id": "abc"}, "organisation_id", "Choose an organisation"),
    ({"organisation_id": ""}, "organisation_id", "Choose an organisation"),
    ({"mode": "telepathy"}, "mode", "Not a valid choice"),
    ({"status": "archived"}, "status", "Not a valid choice"),
    ({"video_link": "javascript://x%0aalert(1)"}, "video_link", "starting with https://"),
]


@pytest.mark.parametrize(("changes", "field", "message"), ODD_INPUT)
def test_odd_group_input_is_shown_beside_the_field_and_nothing_is_saved(
    client, auth, coordinator, org, db, changes, field, message
):
    auth.login(coordinator)
    response = client.post("/groups/new", data=group_data(org, **changes))
    assert response.status_code == 422
    page = text(response)
    assert message in page
    assert f'id="{field}"' in page and "is-invalid" in page
    assert "Building 2, room 301" in page or field == "location"  # what was typed is kept
    assert count(db, Group) == 0


def test_odd_organisation_names_are_refused_without_a_500(client, auth, coordinator, org, db):
    auth.login(coordinator)
    for name, message in [("x" * 10_000, "longer than 200"),
                          ("<img src=x onerror=alert(1)>", "Remove the HTML"), ("   ", "Enter a name")]:
        response = client.post("/organisations/new", data={"name": name, "kind": "hospital"})
        assert response.status_code == 422 and message in text(response)
    response = client.post("/organisations/new", data={"name": "Clinic", "kind": "castle"})
    assert response.status_code == 422 and "Not a valid choice" in text(response)
    assert db.session.scalars(sa.select(Organisation.name)).all() == [org.name]


def test_emoji_in_names_are_kept_as_typed(client, auth, coordinator, org, db):
    auth.login(coordinator)
    response = client.post("/groups/new", data=group_data(org, name="Balint 🙂 group"))
    assert response.status_code == 302
    assert db.session.scalar(sa.select(Group.name)) == "Balint 🙂 group"
    assert "Balint 🙂 group" in text(client.get("/groups"))


def test_the_group_list_filters_searches_and_counts_current_members(client, auth, coordinator, group, other_org, db,
                                                                    today):
    make_group(other_org, "Surgeons", status="paused")
    services.add_member(None, group, make_user("second@example.org"), today)
    db.session.commit()
    auth.login(coordinator)
    page = text(client.get("/groups"))
    assert group.name in page and "Surgeons" in page and "2 of 10" in page
    paused = text(client.get("/groups?status=paused"))
    assert "Surgeons" in paused and group.name not in paused
    by_org = text(client.get(f"/groups?organisation={group.organisation_id}"))
    assert group.name in by_org and "Surgeons" not in by_org
    searched = text(client.get("/groups?q=paediatrics"))
    assert group.name in searched and "Surgeons" not in searched
    odd = client.get("/groups?organisation=abc&status=<x>&q=" + "🙂" * 500 + "&page=-4")
    assert odd.status_code == 200


def statements_for(client, db, url) -> int:
    """How many SQL statements one page needs."""
    with recorded_statements(db.engine) as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def add_groups(db, org, names):
    leader = make_user(f"lead-{names[0]}@example.org", roles=["leader"])
    for name in names:
        g = make_group(org, name)
        services.add_group_leader(None, g, leader)
        services.add_member(None, g, make_user(f"{name}@example.org"), local_today())
    db.session.commit()


def test_the_group_list_needs_the_same_number_of_queries_for_many_groups(client, auth, coordinator, org, db):
    auth.login(coordinator)
    add_groups(db, org, ["g1", "g2"])
    few = statements_for(client, db, "/groups")
    add_groups(db, org, ["g3", "g4", "g5", "g6", "g7"])
    assert statements_for(client, db, "/groups") == few


def test_the_organisation_list_needs_the_same_number_of_queries_for_many_organisations(
    client, auth, coordinator, org, db
):
    auth.login(coordinator)
    add_groups(db, org, ["g1"])
    few = statements_for(client, db, "/organisations")
    for n in range(5):
        add_groups(db, make_org(f"Clinic {n}"), [f"c{n}"])
    assert statements_for(client, db, "/organisations") == few


def test_the_group_page_needs_the_same_number_of_queries_for_many_members(client, auth, coordinator, group, db, today):
    auth.login(coordinator)
    few = statements_for(client, db, f"/groups/{group.id}")
    for n in range(6):
        person = make_user(f"p{n}@example.org", department="Paediatrics", profession="nurse")
        services.add_member(None, group, person, today - timedelta(days=10))
        if n % 2:
            services.end_membership(None, services.open_membership(group, person), today)
    extra_leader = make_user("second-leader@example.org", roles=["leader"])
    give_training(extra_leader)
    services.add_group_leader(None, group, extra_leader)
    db.session.commit()
    assert statements_for(client, db, f"/groups/{group.id}") == few


def test_a_scoped_coordinator_chooses_only_their_organisation_for_a_group(client, auth, org_coordinator, org,
                                                                          other_org, db):
    auth.login(org_coordinator)
    page = text(client.get("/groups/new"))
    assert "Test Hospital" in page and "Other Hospital" not in page
    response = client.post("/groups/new", data=group_data(other_org))
    assert response.status_code == 422 and "Not a valid choice" in text(response)
    assert count(db, Group) == 0


def test_a_scoped_coordinator_gets_403_on_another_organisations_group(client, auth, org_coordinator, other_org,
                                                                      outsider, db, today):
    foreign = make_group(other_org, "Foreign")
    db.session.commit()
    auth.login(org_coordinator)
    assert client.get(f"/groups/{foreign.id}").status_code == 403
    assert client.get(f"/groups/{foreign.id}/edit").status_code == 403
    response = client.post(f"/groups/{foreign.id}/members",
                           data={"member-user_id": outsider.id, "member-joined_on": today.isoformat()})
    assert response.status_code == 403
    assert count(db, Membership, Membership.group_id == foreign.id) == 0
    assert "Foreign" not in text(client.get("/groups"))


# --- the group page --------------------------------------------------------------------------


def test_a_member_sees_their_group_but_not_its_history_or_forms(client, auth, member, group, outsider, db, today):
    services.add_member(None, group, outsider, today - timedelta(days=20))
    services.end_membership(None, services.open_membership(group, outsider), today - timedelta(days=1))
    db.session.commit()
    auth.login(member)
    response = client.get(f"/groups/{group.id}")
    assert response.status_code == 200
    page = text(response)
    assert group.name in page and "Member Ma" in page and "Leader Li" in page
    assert "Past memberships" not in page and "Outsider Ou" not in page
    assert "Add a member" not in page and "End membership" not in page and "verified training" not in page


def test_a_member_gets_403_on_another_group_and_on_every_manage_action(client, auth, member, group, org, leader, db,
                                                                       today):
    other = make_group(org, "Other group")
    db.session.commit()
    membership = services.open_membership(group, member)
    standing = db.session.scalar(sa.select(GroupLeader).where(GroupLeader.group_id == group.id))
    auth.login(member)
    assert client.get(f"/groups/{other.id}").status_code == 403
    assert client.get("/groups").status_code == 403
    assert client.get("/organisations").status_code == 403
    assert client.get(f"/groups/{group.id}/edit").status_code == 403
    assert client.post(f"/groups/{group.id}/members",
                       data={"member-user_id": member.id, "member-joined_on": today.isoformat()}).status_code == 403
    assert client.post(f"/groups/{group.id}/members/{membership.id}/end",
                       data={f"end-{membership.id}-left_on": today.isoformat()}).status_code == 403
    assert client.post(f"/groups/{group.id}/leaders", data={"leader-user_id": leader.id}).status_code == 403
    assert client.post(f"/groups/{group.id}/leaders/{standing.id}/remove").status_code == 403
    assert len(memberships_of(db, group, member)) == 1 and memberships_of(db, group, member)[0].left_on is None
    assert count(db, GroupLeader, GroupLeader.group_id == group.id) == 1


def test_a_leader_sees_past_memberships_of_their_group_but_cannot_manage_it(client, auth, leader, group, member, db,
                                                                            today):
    services.end_membership(None, services.open_membership(group, member), today)
    db.session.commit()
    auth.login(leader)
    page = text(client.get(f"/groups/{group.id}"))
    assert "Past memberships" in page and "Member Ma" in page
    assert "Add a member" not in page and "verified training" not in page
    assert client.post(f"/groups/{group.id}/leaders/1/remove").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client, group):
    response = client.get(f"/groups/{group.id}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_unknown_ids_give_404(client, auth, coordinator, group, member, org, db, today):
    other = make_group(org, "Other group")
    db.session.commit()
    membership = services.open_membership(group, member)
    standing = db.session.scalar(sa.select(GroupLeader).where(GroupLeader.group_id == group.id))
    auth.login(coordinator)
    assert client.get("/groups/99999").status_code == 404
    assert client.get("/groups/99999/edit").status_code == 404
    assert client.get("/organisations/99999/edit").status_code == 404
    assert client.post("/organisations/99999/active", data={"active": "0"}).status_code == 404
    assert client.post("/groups/99999/members", data={}).status_code == 404
    assert client.post(f"/groups/{group.id}/members/99999/end", data={}).status_code == 404
    assert client.post(f"/groups/{group.id}/leaders/99999/remove").status_code == 404
    # ids that exist but belong to another group
    assert client.post(f"/groups/{other.id}/members/{membership.id}/end",
                       data={f"end-{membership.id}-left_on": today.isoformat()}).status_code == 404
    assert client.post(f"/groups/{other.id}/leaders/{standing.id}/remove").status_code == 404
    assert memberships_of(db, group, member)[0].left_on is None
    assert count(db, GroupLeader) == 1


# --- memberships through the page ------------------------------------------------------------


def test_a_coordinator_adds_a_member_ends_the_membership_and_the_member_rejoins(
    client, auth, coordinator, group, outsider, db, today
):
    auth.login(coordinator)
    page = text(client.get(f"/groups/{group.id}"))
    assert f'<option value="{outsider.id}">Outsider Ou' in page
    assert f'name="member-joined_on" required type="date" value="{local_today().isoformat()}"' in page

    joined = today - timedelta(days=20)
    response = client.post(f"/groups/{group.id}/members",
                           data={"member-user_id": outsider.id, "member-joined_on": joined.isoformat()},
                           follow_redirects=True)
    assert "Outsider Ou is a member from" in text(response)
    (first,) = memberships_of(db, group, outsider)
    assert (first.joined_on, first.left_on) == (joined, None)

    left = today - timedelta(days=5)
    response = client.post(f"/groups/{group.id}/members/{first.id}/end",
                           data={f"end-{first.id}-left_on": left.isoformat()}, follow_redirects=True)
    assert "left the group" in text(response) and "Past memberships" in text(response)
    assert memberships_of(db, group, outsider)[0].left_on == left

    response = client.post(f"/groups/{group.id}/members",
                           data={"member-user_id": outsider.id, "member-joined_on": today.isoformat()},
                           follow_redirects=True)
    assert response.status_code == 200
    rows = memberships_of(db, group, outsider)
    assert [(m.joined_on, m.left_on) for m in rows] == [(joined, left), (today, None)]


def test_a_current_member_is_not_offered_again(client, auth, coordinator, group, member):
    auth.login(coordinator)
    page = text(client.get(f"/groups/{group.id}"))
    assert f'<option value="{member.id}">' not in page


def test_a_scoped_coordinator_is_offered_only_people_of_their_organisation(client, auth, org_coordinator, group,
                                                                          other_org, outsider, db):
    make_user("elsewhere@example.org", name="Elsewhere Er", organisation_id=other_org.id)
    db.session.commit()
    auth.login(org_coordinator)
    page = text(client.get(f"/groups/{group.id}"))
    assert "Outsider Ou" in page and "Elsewhere Er" not in page


def test_a_full_group_refuses_a_member_beside_the_person_field(client, auth, coordinator, org, outsider, member, db,
                                                               today):
    small = make_group(org, "Small", capacity=1)
    services.add_member(None, small, member, today)
    db.session.commit()
    auth.login(coordinator)
    response = client.post(f"/groups/{small.id}/members",
                           data={"member-user_id": outsider.id, "member-joined_on": today.isoformat()})
    assert response.status_code == 422
    assert "The group is full (capacity 1)" in text(response) and "is-invalid" in text(response)
    assert memberships_of(db, small, outsider) == []


def test_a_rejoin_on_the_day_of_leaving_is_refused_beside_the_date(client, auth, coordinator, group, member, db, today):
    services.end_membership(None, services.open_membership(group, member), today - timedelta(days=3))
    db.session.commit()
    auth.login(coordinator)
    day = (today - timedelta(days=3)).isoformat()
    response = client.post(f"/groups/{group.id}/members", data={"member-user_id": member.id, "member-joined_on": day})
    assert response.status_code == 422
    page = text(response)
    assert "must start after the day the last membership ended" in page
    assert f'id="member-joined_on" name="member-joined_on" required type="date" value="{day}"' in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"member-user_id": "abc", "member-joined_on": "{today}"}, "Choose a person"),
        ({"member-user_id": "99999", "member-joined_on": "{today}"}, "Not a valid choice"),
        ({"member-user_id": "", "member-joined_on": "{today}"}, "Choose a person"),
        ({"member-user_id": "🙂", "member-joined_on": "{today}"}, "Choose a person"),
        ({"member-user_id": "{outsider}", "member-joined_on": "yesterday"}, "Not a valid date value"),
        ({"member-user_id": "{outsider}", "member-joined_on": ""}, "Enter a date"),
        ({"member-user_id": "{outsider}", "member-joined_on": "2024-02-30"}, "Not a valid date value"),
    ],
)
def test_odd_member_input_is_shown_beside_the_field(client, auth, coordinator, group, outsider, db, data, message,
                                                    today):
    data = {k: v.format(outsider=outsider.id, today=today) for k, v in data.items()}
    auth.login(coordinator)
    response = client.post(f"/groups/{group.id}/members", data=data)
    assert response.status_code == 422
    assert message in text(response)
    assert memberships_of(db, group, outsider) == []


def test_ending_a_membership_before_it_began_is_refused_beside_the_date(client, auth, coordinator, group, member, db):
    membership = services.open_membership(group, member)
    auth.login(coordinator)
    day = (membership.joined_on - timedelta(days=1)).isoformat()
    response = client.post(f"/groups/{group.id}/members/{membership.id}/end",
                           data={f"end-{membership.id}-left_on": day})
    assert response.status_code == 422
    page = text(response)
    assert "cannot be before the joining date" in page and '<details class="mt-1" open>' in page
    assert memberships_of(db, group, member)[0].left_on is None


def test_ending_a_membership_with_a_bad_date_is_refused(client, auth, coordinator, group, member, db):
    membership = services.open_membership(group, member)
    auth.login(coordinator)
    response = client.post(f"/groups/{group.id}/members/{membership.id}/end",
                           data={f"end-{membership.id}-left_on": "<script>"})
    assert response.status_code == 422 and "Not a valid date value" in text(response)
    assert memberships_of(db, group, member)[0].left_on is None


def test_ending_an_ended_membership_again_changes_nothing(client, auth, coordinator, group, member, db, today):
    membership = services.open_membership(group, member)
    services.end_membership(None, membership, today - timedelta(days=2))
    db.session.commit()
    auth.login(coordinator)
    response = client.post(f"/groups/{group.id}/members/{membership.id}/end",
                           data={f"end-{membership.id}-left_on": today.isoformat()}, follow_redirects=True)
    assert "already ended" in text(response)
    assert memberships_of(db, group, member)[0].left_on == today - timedelta(days=2)


# --- leaders through the page ----------------------------------------------------------------


def test_the_leader_choices_show_who_has_valid_verified_training_today(client, auth, coordinator, org, db, today):
    target = make_group(org, "Needs leaders")
    qualified = make_user("q@example.org", roles=["leader"], name="Qualified Qi")
    give_training(qualified, "leader")
    expired = make_user("e@example.org", roles=["leader"], name="Expired Er")
    give_training(expired, "leader", completed_on=today - timedelta(days=800), valid_until=today - timedelta(days=1))
    unverified = make_user("u@example.org", roles=["leader"], name="Unverified Un")
    give_training(unverified, "leader", verified=False)
    make_user("plain@example.org", roles=["member"], name="Plain Pu")
    db.session.commit()
    auth.login(coordinator)
    page = text(client.get(f"/groups/{target.id}"))
    page = page[page.index('id="leader-user_id"'):page.index('id="member-user_id"')]
    assert "Qualified Qi — verified training: Leader" in page
    assert "Expired Er — no verified training in force today" in page
    assert "Unverified Un — no verified training in force today" in page
    assert "Plain Pu" not in page


def test_a_coordinator_adds_and_removes_a_leader(client, auth, coordinator, group, trainee_leader, db):
    auth.login(coordinator)
    response = client.post(f"/groups/{group.id}/leaders", data={"leader-user_id": trainee_leader.id},
                           follow_redirects=True)
    assert "Trainee Tang now leads this group" in text(response)
    assert "verified training: Leader in training" in text(response)
    standing = db.session.scalar(
        sa.select(GroupLeader).where(GroupLeader.group_id == group.id, GroupLeader.user_id == trainee_leader.id)
    )
    assert standing is not None
    response = client.post(f"/groups/{group.id}/leaders/{standing.id}/remove", follow_redirects=True)
    assert "no longer leads this group" in text(response)
    assert count(db, GroupLeader, GroupLeader.user_id == trainee_leader.id) == 0


def test_a_member_of_the_group_cannot_be_made_its_leader_through_the_page(client, auth, coordinator, group, member,
                                                                         db):
    from app.accounts.models import RoleAssignment

    member.role_assignments.append(RoleAssignment(role="leader"))
    db.session.commit()
    auth.login(coordinator)
    page = text(client.get(f"/groups/{group.id}"))
    assert f'<option value="{member.id}">' not in page
    response = client.post(f"/groups/{group.id}/leaders", data={"leader-user_id": member.id})
    assert response.status_code == 422 and "Not a valid choice" in text(response)
    assert count(db, GroupLeader, GroupLeader.user_id == member.id) == 0


@pytest.mark.parametrize("value", ["", "abc", "99999", "1; DROP TABLE users"])
def test_odd_leader_input_is_shown_beside_the_field(client, auth, coordinator, group, db, value):
    auth.login(coordinator)
    response = client.post(f"/groups/{group.id}/leaders", data={"leader-user_id": value})
    assert response.status_code == 422 and 'id="leader-user_id"' in text(response)
    assert "invalid-feedback" in text(response)
    assert count(db, GroupLeader) == 1


def test_the_forms_of_the_group_page_work_with_csrf_protection_on(app, client, auth, coordinator, group, member,
                                                                  outsider, db, monkeypatch, today):
    auth.login(coordinator)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    membership = services.open_membership(group, member)
    page = text(client.get(f"/groups/{group.id}"))
    token = re.search(rf'name="end-{membership.id}-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post(f"/groups/{group.id}/members/{membership.id}/end",
                       data={f"end-{membership.id}-left_on": today.isoformat()}).status_code == 400
    response = client.post(f"/groups/{group.id}/members/{membership.id}/end",
                           data={f"end-{membership.id}-csrf_token": token,
                                 f"end-{membership.id}-left_on": today.isoformat()})
    assert response.status_code == 302
    assert memberships_of(db, group, member)[0].left_on == today
    token = re.search(r'name="member-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(f"/groups/{group.id}/members", data={
        "member-csrf_token": token, "member-user_id": outsider.id, "member-joined_on": today.isoformat()})
    assert response.status_code == 302 and len(memberships_of(db, group, outsider)) == 1
