"""The reminder switch in the user's own profile."""

from __future__ import annotations

import re
from datetime import timedelta

from app.accounts import services as accounts
from app.notifications import services

PROFILE = {"name": "Member Ma", "profession": "", "department": "", "locale": ""}


def reminder_box(page: str) -> str:
    """The <input> tag of the reminder switch."""
    match = re.search(r"<input[^>]*name=\"email_reminders\"[^>]*>", page)
    assert match, "no reminder switch on the page"
    return match.group(0)


def fresh(db, user):
    db.session.expire_all()
    return db.session.get(type(user), user.id)


def test_a_member_turns_reminder_emails_off_and_on_again_in_the_profile(client, auth, db, member, meeting):
    auth.login(member)
    assert "checked" in reminder_box(client.get("/profile").get_data(as_text=True))

    assert client.post("/profile", data=PROFILE).status_code == 302  # an unticked box is not sent
    assert fresh(db, member).email_reminders is False
    assert "checked" not in reminder_box(client.get("/profile").get_data(as_text=True))
    queued = services.queue_due_reminders(meeting.starts_at - timedelta(hours=1), dry_run=True)
    assert [p.user.email for p in queued] == ["leader@example.org"]

    assert client.post("/profile", data={**PROFILE, "email_reminders": "y"}).status_code == 302
    assert fresh(db, member).email_reminders is True
    queued = services.queue_due_reminders(meeting.starts_at - timedelta(hours=1), dry_run=True)
    assert sorted(p.user.email for p in queued) == ["leader@example.org", "member@example.org"]


def test_update_profile_keeps_the_reminder_switch_a_boolean(db, member):
    accounts.update_profile(member, member, email_reminders=False)
    assert fresh(db, member).email_reminders is False  # not None: the column is NOT NULL
    accounts.update_profile(member, member, email_reminders=True, department="")
    person = fresh(db, member)
    assert person.email_reminders is True and person.department is None


def test_a_refused_profile_form_saves_nothing_even_though_the_page_makes_a_calendar_address(
    client, auth, db, member
):
    auth.login(member)
    response = client.post("/profile", data={**PROFILE, "name": "New Name", "profession": "surgeon"})
    assert response.status_code == 200 and "invalid-feedback" in response.get_data(as_text=True)
    person = fresh(db, member)
    assert person.name == "Member Ma" and person.email_reminders is True
