"""Coordinators' pages for people: invitations, roles, deactivation, training records, who may lead."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine

from app.accounts import rules
from app.accounts.models import TrainingRecord, User
from app.audit.models import AuditEntry
from app.timeutil import local_today
from tests.conftest import Auth
from tests.factories import PASSWORD, give_training, make_org, make_user
from tests.querylog import recorded_statements

NEW_PASSWORD = "a brand new password"
ADMIN_ENDPOINTS = (
    "accounts.users", "accounts.invite", "accounts.user", "accounts.edit_user", "accounts.resend_invite",
    "accounts.set_user_active", "accounts.new_training", "accounts.edit_training", "accounts.verify_training",
    "accounts.delete_training", "accounts.leaders",
)


# --- helpers ---------------------------------------------------------------------------------

def login(db, auth, user, password=PASSWORD):
    """Commit what the test set up (requests use their own session), then log in through the form."""
    db.session.commit()
    response = auth.login(user, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def fresh(db, model, object_id):
    """The object as the database holds it now (after requests changed it)."""
    db.session.commit()
    return db.session.get(model, object_id)


def path_of_link(body: str, kind: str) -> str:
    match = re.search(rf"http://localhost(/{kind}/\S+)", body)
    assert match, body
    return match.group(1)


def invite_data(**overrides):
    data = {
        "email": "new.person@example.org", "name": "New Person", "roles": ["member"],
        "organisation_id": "0", "coordinator_org_id": "0", "profession": "nurse", "department": "Paediatrics",
        "locale": "",
    }
    data.update(overrides)
    return data


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- invitations -----------------------------------------------------------------------------

def test_coordinator_invites_a_person_who_sets_a_password_through_the_mailed_link_and_logs_in(
    client, auth, db, coordinator, org, outbox
):
    login(db, auth, coordinator)
    response = client.post("/people/invite", data=invite_data(organisation_id=str(org.id)))
    assert response.status_code == 302

    person = db.session.scalar(sa.select(User).where(User.email == "new.person@example.org"))
    assert response.headers["Location"].endswith(f"/people/{person.id}")
    assert not person.has_password and person.invited_at is not None
    assert person.roles == {"member"} and person.organisation_id == org.id and person.profession == "nurse"

    assert len(outbox) == 1
    message = outbox[0]
    assert message.to == ["new.person@example.org"]
    assert "Coordinator Chen" in message.body
    link = path_of_link(message.body, "invite")

    assert "New Person" in client.get(link).get_data(as_text=True)
    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")

    other = Auth(client.application.test_client())
    assert other.login("new.person@example.org", NEW_PASSWORD).status_code == 302
    assert other.client.get("/").status_code == 200


def test_invitation_link_is_refused_when_used_a_second_time(client, auth, db, coordinator, outbox):
    login(db, auth, coordinator)
    client.post("/people/invite", data=invite_data())
    link = path_of_link(outbox[0].body, "invite")
    assert client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302

    response = client.post(link, data={"password": "someone else's choice", "confirm": "someone else's choice"})
    assert response.status_code == 400
    assert "already been used" in response.get_data(as_text=True)
    assert Auth(client).login("new.person@example.org", NEW_PASSWORD).status_code == 302


def test_invitation_link_is_refused_once_it_has_expired(app, client, auth, db, coordinator, outbox):
    login(db, auth, coordinator)
    client.post("/people/invite", data=invite_data())
    link = path_of_link(outbox[0].body, "invite")
    days = app.config["INVITE_MAX_AGE"].days
    assert f"expires in {days} days" in outbox[0].body

    with time_machine.travel(datetime.now(UTC) + timedelta(days=days - 1), tick=False):
        assert client.get(link).status_code == 200
    with time_machine.travel(datetime.now(UTC) + timedelta(days=days, hours=1), tick=False):
        response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    person = fresh(db, User, db.session.scalar(sa.select(User.id).where(User.email == "new.person@example.org")))
    assert not person.has_password


def test_invited_person_is_kept_and_a_resend_offered_when_the_mail_server_is_down(
    app, client, auth, db, coordinator, outbox, monkeypatch
):
    login(db, auth, coordinator)
    state = app.extensions["mailman"]
    monkeypatch.setattr(state, "backend", "smtp")
    monkeypatch.setattr(state, "server", "127.0.0.1")
    monkeypatch.setattr(state, "port", closed_port())
    monkeypatch.setattr(state, "timeout", 5)

    response = client.post("/people/invite", data=invite_data(), follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "could not be sent" in page and "Resend invitation" in page
    person_id = db.session.scalar(sa.select(User.id).where(User.email == "new.person@example.org"))
    assert person_id is not None and fresh(db, User, person_id).invited_at is None

    response = client.post(f"/people/{person_id}/invite", follow_redirects=True)
    assert "could not be sent" in response.get_data(as_text=True)

    monkeypatch.setattr(state, "backend", "locmem")
    response = client.post(f"/people/{person_id}/invite", follow_redirects=True)
    assert "A new invitation is on its way" in response.get_data(as_text=True)
    assert len(outbox) == 1 and outbox[0].to == ["new.person@example.org"]
    assert fresh(db, User, person_id).invited_at is not None


def test_resend_is_refused_for_a_person_who_already_has_a_password(client, auth, db, coordinator, member, outbox):
    login(db, auth, coordinator)
    response = client.post(f"/people/{member.id}/invite", follow_redirects=True)
    assert "already chosen a password" in response.get_data(as_text=True)
    assert outbox == []


def test_invitation_to_an_address_already_taken_shows_the_error_beside_the_email(
    client, auth, db, coordinator, member, outbox
):
    login(db, auth, coordinator)
    response = client.post("/people/invite", data=invite_data(email="MEMBER@example.org", name="Typed Name"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "already exists" in page and 'value="Typed Name"' in page
    assert outbox == []


def test_invitation_may_make_an_organisation_coordinator(client, auth, db, coordinator, org, outbox):
    login(db, auth, coordinator)
    client.post("/people/invite", data=invite_data(roles=["coordinator", "member"], coordinator_org_id=str(org.id)))
    person = db.session.scalar(sa.select(User).where(User.email == "new.person@example.org"))
    assert person.roles == {"coordinator", "member"} and person.coordinator_scope == org.id


# --- roles, profile and deactivation ---------------------------------------------------------

def test_coordinator_sets_the_roles_to_exactly_those_ticked(client, auth, db, coordinator, org, member):
    login(db, auth, coordinator)
    response = client.post(f"/people/{member.id}/edit", data={
        "name": "Member Ma Renamed", "roles": ["leader", "coordinator"], "organisation_id": str(org.id),
        "coordinator_org_id": str(org.id), "profession": "physician", "department": "Emergency",
    })
    assert response.status_code == 302
    person = fresh(db, User, member.id)
    assert person.roles == {"leader", "coordinator"}
    assert person.coordinator_scope == org.id
    assert (person.name, person.profession, person.department) == ("Member Ma Renamed", "physician", "Emergency")

    client.post(f"/people/{member.id}/edit", data={
        "name": "Member Ma", "roles": ["member"], "organisation_id": "0", "coordinator_org_id": "0",
    })
    person = fresh(db, User, member.id)
    assert person.roles == {"member"} and person.organisation_id is None


def test_edit_page_shows_the_current_values(client, auth, db, coordinator, org, member):
    login(db, auth, coordinator)
    page = client.get(f"/people/{member.id}/edit").get_data(as_text=True)
    assert 'value="Member Ma"' in page
    assert re.search(r'checked[^>]*value="member"', page)
    assert not re.search(r'checked[^>]*value="leader"', page)
    assert f'<option selected value="{org.id}">' in page


def test_coordinator_cannot_remove_their_own_coordinator_role(client, auth, db, coordinator):
    login(db, auth, coordinator)
    response = client.post(f"/people/{coordinator.id}/edit", data={
        "name": "Coordinator Chen", "roles": ["member"], "organisation_id": "0", "coordinator_org_id": "0",
    })
    assert response.status_code == 422
    assert "cannot remove your own coordinator role" in response.get_data(as_text=True)
    assert fresh(db, User, coordinator.id).roles == {"coordinator"}


def test_deactivating_a_person_signs_out_their_open_session(app, client, auth, db, coordinator, member):
    db.session.commit()
    member_browser = Auth(app.test_client())
    assert member_browser.login(member).status_code == 302
    assert member_browser.client.get("/").status_code == 200

    login(db, auth, coordinator)
    response = client.post(f"/people/{member.id}/active", data={"active": "0"}, follow_redirects=True)
    assert "deactivated and signed out" in response.get_data(as_text=True)
    assert not fresh(db, User, member.id).active

    response = member_browser.client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert member_browser.login(member).status_code == 200  # refused: stays on the log-in page


def test_reactivated_person_can_log_in_again(app, client, auth, db, coordinator, member):
    login(db, auth, coordinator)
    client.post(f"/people/{member.id}/active", data={"active": "0"})
    client.post(f"/people/{member.id}/active", data={"active": "1"})
    assert fresh(db, User, member.id).active
    assert Auth(app.test_client()).login(member).status_code == 302


def test_coordinator_cannot_deactivate_themselves(client, auth, db, coordinator):
    login(db, auth, coordinator)
    response = client.post(f"/people/{coordinator.id}/active", data={"active": "0"}, follow_redirects=True)
    assert "cannot deactivate yourself" in response.get_data(as_text=True)
    assert fresh(db, User, coordinator.id).active
    assert client.get("/people").status_code == 200


@pytest.mark.parametrize("value", ["", "yes", "2", "<b>"])
def test_active_switch_with_an_odd_value_is_a_bad_request(client, auth, db, coordinator, member, value):
    login(db, auth, coordinator)
    assert client.post(f"/people/{member.id}/active", data={"active": value}).status_code == 400
    assert fresh(db, User, member.id).active


# --- training records ------------------------------------------------------------------------

def training_data(**overrides):
    data = {
        "kind": "Balint leader training", "level": "leader", "issuer": "Chinese Balint Federation",
        "completed_on": (local_today() - timedelta(days=30)).isoformat(), "valid_until": "", "note": "",
    }
    data.update(overrides)
    return data


def test_verifying_a_training_record_makes_the_person_eligible_to_lead_today(client, auth, db, coordinator, member,
                                                                             today):
    login(db, auth, coordinator)
    page = client.get(f"/people/{member.id}").get_data(as_text=True)
    assert "No verified leader training is on record." in page

    assert client.post(f"/people/{member.id}/training/new", data=training_data()).status_code == 302
    record = db.session.scalar(sa.select(TrainingRecord).where(TrainingRecord.user_id == member.id))
    assert not record.verified
    assert not rules.is_eligible_leader(fresh(db, User, member.id), today)
    assert "Member Ma" not in client.get("/people/leaders").get_data(as_text=True)

    response = client.post(f"/people/{member.id}/training/{record.id}/verify", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "The training record is verified." in page and "by Coordinator Chen" in page
    person = fresh(db, User, member.id)
    assert person.training_records[0].verified_by_id == coordinator.id
    assert rules.is_eligible_leader(person, today, rules.LEAD)
    assert "Member Ma" in client.get("/people/leaders").get_data(as_text=True)


def test_a_record_verified_on_entry_counts_at_once(client, auth, db, coordinator, member, today):
    login(db, auth, coordinator)
    client.post(f"/people/{member.id}/training/new", data=training_data(verified="y", level="leader_in_training"))
    person = fresh(db, User, member.id)
    assert person.training_records[0].verified
    assert rules.is_eligible_leader(person, today, rules.CO_LEAD)
    assert not rules.is_eligible_leader(person, today, rules.LEAD)


def test_editing_a_verified_record_withdraws_the_verification_unless_ticked_again(
    client, auth, db, coordinator, leader
):
    login(db, auth, coordinator)
    record_id = leader.training_records[0].id
    url = f"/people/{leader.id}/training/{record_id}/edit"
    assert "Balint Society" in client.get(url).get_data(as_text=True)

    assert client.post(url, data=training_data(issuer="Another body")).status_code == 302
    record = fresh(db, TrainingRecord, record_id)
    assert record.issuer == "Another body" and not record.verified

    client.post(url, data=training_data(issuer="Balint Society", verified="y"))
    record = fresh(db, TrainingRecord, record_id)
    assert record.issuer == "Balint Society" and record.verified and record.verified_by_id == coordinator.id


def test_training_record_with_an_end_before_its_start_is_refused_beside_the_field(
    client, auth, db, coordinator, member
):
    login(db, auth, coordinator)
    response = client.post(f"/people/{member.id}/training/new", data=training_data(
        completed_on="2024-05-01", valid_until="2024-04-30"))
    assert response.status_code == 422
    assert "must not be before" in response.get_data(as_text=True)
    assert fresh(db, User, member.id).training_records == []


def test_coordinator_deletes_a_training_record(client, auth, db, coordinator, leader, today):
    login(db, auth, coordinator)
    record_id = leader.training_records[0].id
    assert client.post(f"/people/{leader.id}/training/{record_id}/delete").status_code == 302
    assert fresh(db, TrainingRecord, record_id) is None
    assert not rules.is_eligible_leader(db.session.get(User, leader.id), today)


@pytest.mark.parametrize("action", ["edit", "verify", "delete"])
def test_a_training_record_of_another_person_is_not_found(client, auth, db, coordinator, leader, member, action):
    login(db, auth, coordinator)
    record_id = leader.training_records[0].id
    method = client.get if action == "edit" else client.post
    assert method(f"/people/{member.id}/training/{record_id}/{action}").status_code == 404
    assert fresh(db, TrainingRecord, record_id) is not None


def test_person_page_shows_groups_training_and_eligibility(client, auth, db, coordinator, group, leader, member):
    give_training(member, "leader_in_training", verified=False)
    login(db, auth, coordinator)
    page = client.get(f"/people/{leader.id}").get_data(as_text=True)
    assert "Paediatrics Balint group" in page and "Leads" in page
    assert "Balint Society" in page and "Verified" in page
    assert page.count(">Yes<") == 2  # may lead and co-lead today

    page = client.get(f"/people/{member.id}").get_data(as_text=True)
    assert "Member of" in page and "Paediatrics Balint group" in page
    assert "Not verified" in page and "No verified leader training is on record." in page


# --- who may lead ----------------------------------------------------------------------------

def test_leaders_page_lists_who_may_lead_and_who_may_co_lead_on_a_date(
    app, client, auth, db, coordinator, leader, trainee_leader, today
):
    deployment_today = datetime.now(ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])).date()
    later = make_user("later@example.org", roles=["leader"], name="Later Lu")
    give_training(later, "leader", completed_on=today + timedelta(days=10))
    login(db, auth, coordinator)

    page = client.get("/people/leaders").get_data(as_text=True)
    lead_part, co_lead_part = page.split('id="co-lead-heading"')
    assert "Leader Li" in lead_part and "Trainee Tang" not in lead_part and "Later Lu" not in lead_part
    assert "Leader Li" in co_lead_part and "Trainee Tang" in co_lead_part
    assert f'value="{deployment_today.isoformat()}"' in page  # today where the programme runs

    page = client.get(f"/people/leaders?on={(today + timedelta(days=20)).isoformat()}").get_data(as_text=True)
    assert "Later Lu" in page


@pytest.mark.parametrize("value", ["tomorrow", "2024-02-30", "99999-01-01", "😀", "<script>x</script>", "x" * 10000])
def test_leaders_page_with_a_bad_date_shows_a_form_error(client, auth, db, coordinator, value):
    login(db, auth, coordinator)
    response = client.get("/people/leaders", query_string={"on": value})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "invalid-feedback" in page and "<script>x" not in page


# --- the list of people ----------------------------------------------------------------------

def test_people_list_shows_roles_organisation_profession_and_account_state(client, auth, db, coordinator, org, member):
    make_user("pending@example.org", roles=["leader"], name="Pending Pan", password=None, profession="nurse")
    gone = make_user("gone@example.org", name="Gone Guo")
    gone.active = False
    login(db, auth, coordinator)
    page = client.get("/people").get_data(as_text=True)
    assert "Member Ma" in page and "Test Hospital" in page
    pending_row = page[page.index("Pending Pan"):].split("</tr>")[0]
    assert "Not invited yet" in pending_row and "Nurse" in pending_row and "Leader" in pending_row
    assert "Deactivated" in page[page.index("Gone Guo"):].split("</tr>")[0]


def test_people_list_searches_filters_and_pages(app, client, auth, db, coordinator, org):
    for i in range(25):
        make_user(f"nurse{i:02d}@example.org", name=f"Nurse {i:02d}", department="Neonatal care")
    make_user("lead@example.org", roles=["leader"], name="Lead Person", department="Psychiatry")
    sleeper = make_user("sleeper@example.org", name="Sleeping Nurse", department="Neonatal care")
    sleeper.active = False
    login(db, auth, coordinator)

    page = client.get("/people", query_string={"q": "neonatal"}).get_data(as_text=True)
    assert "26 people" in page and "Lead Person" not in page and "Page 1 of 2" in page
    page2 = client.get("/people", query_string={"q": "neonatal", "page": 2}).get_data(as_text=True)
    assert len(re.findall(r'href="/people/\d+"', page2)) == 26 - app.config["PAGE_SIZE"]

    page = client.get("/people", query_string={"role": "leader"}).get_data(as_text=True)
    assert "Lead Person" in page and "Nurse 01" not in page

    page = client.get("/people", query_string={"active": "0"}).get_data(as_text=True)
    assert "Sleeping Nurse" in page and "Nurse 01" not in page

    page = client.get("/people", query_string={"q": "lead@EXAMPLE"}).get_data(as_text=True)
    assert "Lead Person" in page and "1 person" in page

    page = client.get("/people", query_string={"q": "%"}).get_data(as_text=True)
    assert "Nobody matches." in page


def test_people_list_needs_the_same_number_of_queries_for_more_people(app, client, auth, db, coordinator):
    def queries_for_list() -> int:
        # Requests share this test's session: empty it, so nothing is served from its identity map.
        db.session.commit()
        db.session.expunge_all()
        with recorded_statements(db.engine) as statements:
            assert client.get("/people").status_code == 200
        return len(statements)

    def add_people(numbers):
        for i in numbers:
            hospital = make_org(f"Hospital {i}")
            person = make_user(f"a{i}@example.org", roles=["member", "leader"], organisation_id=hospital.id)
            give_training(person)

    add_people(range(2))
    login(db, auth, coordinator)
    few = queries_for_list()
    add_people(range(2, 14))
    assert queries_for_list() == few


@pytest.mark.parametrize("query", [
    {"role": "admin"}, {"active": "maybe"}, {"q": "x" * 10000}, {"role": "<script>"},
])
def test_people_list_with_odd_filters_shows_a_form_error(client, auth, db, coordinator, query):
    login(db, auth, coordinator)
    response = client.get("/people", query_string=query)
    assert response.status_code == 422
    assert "invalid-feedback" in response.get_data(as_text=True)
    assert "<script>" not in response.get_data(as_text=True).split("<main", 1)[1]


@pytest.mark.parametrize("query", [
    {"q": "😀"}, {"q": "<b>bold</b>"}, {"page": "abc"}, {"page": "-3"}, {"page": "999"}, {"page": "9" * 25},
])
def test_people_list_with_odd_search_or_page_still_answers(client, auth, db, coordinator, query):
    login(db, auth, coordinator)
    response = client.get("/people", query_string=query)
    assert response.status_code == 200
    assert "<b>bold</b>" not in response.get_data(as_text=True)


# --- organisation coordinators ---------------------------------------------------------------

def test_organisation_coordinator_sees_only_people_of_their_organisation(
    client, auth, db, org_coordinator, org, other_org, member
):
    stranger = make_user("stranger@example.org", name="Stranger Su", organisation_id=other_org.id)
    login(db, auth, org_coordinator)
    page = client.get("/people").get_data(as_text=True)
    assert "Member Ma" in page and "Stranger Su" not in page
    assert client.get(f"/people/{member.id}").status_code == 200
    for method, url in [
        ("get", f"/people/{stranger.id}"), ("get", f"/people/{stranger.id}/edit"),
        ("post", f"/people/{stranger.id}/active"), ("post", f"/people/{stranger.id}/invite"),
        ("get", f"/people/{stranger.id}/training/new"),
    ]:
        assert getattr(client, method)(url, data={"active": "0"}).status_code == 403, url
    assert fresh(db, User, stranger.id).active


def test_organisation_coordinator_invites_only_into_their_organisation(
    client, auth, db, org_coordinator, org, other_org, outbox
):
    login(db, auth, org_coordinator)
    page = client.get("/people/invite").get_data(as_text=True)
    assert "Other Hospital" not in page and "The whole programme" not in page
    response = client.post("/people/invite", data=invite_data(
        roles=["coordinator"], organisation_id=str(other_org.id), coordinator_org_id="0"))
    assert response.status_code == 302
    person = db.session.scalar(sa.select(User).where(User.email == "new.person@example.org"))
    assert person.organisation_id == org.id
    assert person.coordinator_scope == org.id and not person.is_programme_coordinator


def test_organisation_coordinator_cannot_change_a_programme_coordinator_of_their_organisation(
    client, auth, db, org_coordinator, org
):
    chief = make_user("chief@example.org", roles=["coordinator"], name="Chief Zhao", organisation_id=org.id)
    login(db, auth, org_coordinator)
    page = client.get(f"/people/{chief.id}").get_data(as_text=True)
    assert "Chief Zhao" in page and f"/people/{chief.id}/edit" not in page
    assert client.get(f"/people/{chief.id}/edit").status_code == 403
    assert client.post(f"/people/{chief.id}/active", data={"active": "0"}).status_code == 403
    assert fresh(db, User, chief.id).active and fresh(db, User, chief.id).is_programme_coordinator


def test_organisation_coordinator_sees_only_their_organisations_leaders(
    client, auth, db, org_coordinator, leader, other_org
):
    far = make_user("far@example.org", roles=["leader"], name="Far Fang", organisation_id=other_org.id)
    give_training(far, "leader")
    login(db, auth, org_coordinator)
    page = client.get("/people/leaders").get_data(as_text=True)
    assert "Leader Li" in page and "Far Fang" not in page


# --- who may open what -----------------------------------------------------------------------

def admin_requests(person_id: int, record_id: int) -> list[tuple[str, str]]:
    base = f"/people/{person_id}"
    training = f"{base}/training/{record_id}"
    return [
        ("get", "/people"), ("get", "/people/invite"), ("post", "/people/invite"), ("get", "/people/leaders"),
        ("get", base), ("get", f"{base}/edit"), ("post", f"{base}/edit"), ("post", f"{base}/invite"),
        ("post", f"{base}/active"), ("get", f"{base}/training/new"), ("post", f"{base}/training/new"),
        ("get", f"{training}/edit"), ("post", f"{training}/edit"), ("post", f"{training}/verify"),
        ("post", f"{training}/delete"),
    ]


def test_every_people_page_is_for_coordinators_only(app):
    for endpoint in ADMIN_ENDPOINTS:
        assert app.view_functions[endpoint].access == frozenset({"coordinator"}), endpoint


@pytest.mark.parametrize("persona", ["member", "leader"])
def test_members_and_leaders_are_refused_every_people_page(request, client, auth, db, trainee_leader, persona):
    user = request.getfixturevalue(persona)
    record_id = trainee_leader.training_records[0].id
    login(db, auth, user)
    for method, url in admin_requests(trainee_leader.id, record_id):
        assert getattr(client, method)(url, data={"active": "0"}).status_code == 403, url
    assert fresh(db, TrainingRecord, record_id) is not None
    assert fresh(db, User, trainee_leader.id).active


def test_anonymous_visitors_are_sent_to_log_in_from_every_people_page(client, db, trainee_leader):
    db.session.commit()
    for method, url in admin_requests(trainee_leader.id, trainee_leader.training_records[0].id):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_unknown_people_and_records_are_not_found(client, auth, db, coordinator, leader):
    login(db, auth, coordinator)
    for method, url in admin_requests(999999, leader.training_records[0].id):
        if "999999" in url:
            assert getattr(client, method)(url).status_code == 404, url
    for method, url in admin_requests(leader.id, 999999)[-4:]:
        assert getattr(client, method)(url).status_code == 404, url
    for method, url in admin_requests(int("9" * 25), int("9" * 25)):
        if "9999" in url:
            assert getattr(client, method)(url).status_code == 404, url


# --- odd input -------------------------------------------------------------------------------

ODD_VALUES = ["", " ", "x" * 10000, "😀🙂", "<script>alert(1)</script>", "999999", "-1", "\x07"]


@pytest.mark.parametrize("value", ODD_VALUES)
@pytest.mark.parametrize("field", [
    "email", "name", "roles", "organisation_id", "coordinator_org_id", "profession", "department", "locale",
])
def test_odd_invitation_input_is_answered_with_a_form_error_or_a_clean_save(
    client, auth, db, coordinator, outbox, field, value
):
    login(db, auth, coordinator)
    response = client.post("/people/invite", data=invite_data(**{field: value}))
    page = response.get_data(as_text=True)
    assert response.status_code in (302, 422)
    assert "<script>alert" not in page
    if response.status_code == 422:
        assert "invalid-feedback" in page
        assert outbox == []
    else:
        assert len(outbox) == 1


@pytest.mark.parametrize("value", ODD_VALUES)
@pytest.mark.parametrize(
    "field", ["name", "roles", "organisation_id", "coordinator_org_id", "profession", "department"]
)
def test_odd_edit_input_is_answered_with_a_form_error_or_a_clean_save(
    client, auth, db, coordinator, member, field, value
):
    login(db, auth, coordinator)
    data = {"name": "Member Ma", "roles": ["member"], "organisation_id": "0", "coordinator_org_id": "0",
            "profession": "", "department": ""}
    data[field] = value
    response = client.post(f"/people/{member.id}/edit", data=data)
    assert response.status_code in (302, 422)
    assert "<script>alert" not in response.get_data(as_text=True)
    if response.status_code == 422:
        assert "invalid-feedback" in response.get_data(as_text=True)


@pytest.mark.parametrize("value", ODD_VALUES + ["2024-13-01", "0001-01-01", "31/12/2024"])
@pytest.mark.parametrize("field", ["kind", "level", "issuer", "completed_on", "valid_until", "note"])
def test_odd_training_input_is_answered_with_a_form_error_or_a_clean_save(
    client, auth, db, coordinator, member, field, value
):
    login(db, auth, coordinator)
    response = client.post(f"/people/{member.id}/training/new", data=training_data(**{field: value}))
    assert response.status_code in (302, 422)
    assert "<script>alert" not in response.get_data(as_text=True)
    if response.status_code == 422:
        assert "invalid-feedback" in response.get_data(as_text=True)
        assert fresh(db, User, member.id).training_records == []


@pytest.mark.parametrize("url, field", [
    ("/people/invite", "name"), ("/people/invite", "department"), ("/people/{id}/edit", "name"),
    ("/people/{id}/training/new", "kind"), ("/people/{id}/training/new", "note"),
])
def test_control_characters_are_refused_beside_the_field(client, auth, db, coordinator, member, outbox, url, field):
    login(db, auth, coordinator)
    data = {**invite_data(), **training_data(), field: "Ma\x07Li"}
    response = client.post(url.format(id=member.id), data=data)
    assert response.status_code == 422
    assert "Remove the control characters." in response.get_data(as_text=True)
    assert outbox == []


def test_the_people_pages_write_the_audit_log(client, auth, db, coordinator, member, outbox):
    login(db, auth, coordinator)
    client.post("/people/invite", data=invite_data())
    client.post(f"/people/{member.id}/active", data={"active": "0"})
    db.session.commit()
    actions = set(db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.actor_id == coordinator.id)))
    assert {"user_created", "user_invited", "user_deactivated"} <= actions
