"""Answering a feedback round: drafts, one anonymous submission, reminders, signposting — services and pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.errors import Conflict, DomainError, NotAllowed
from app.extensions import db as _db
from app.feedback.models import Completion, Draft, Response
from app.feedback.services import responses as answering
from app.feedback.services import rounds as feedback
from app.meetings.models import Attendance
from app.notifications.services import queue
from app.timeutil import utcnow
from tests.factories import GOOD, LOW, make_user, open_round


def text(response) -> str:
    return response.get_data(as_text=True)


def count(model) -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model))


def row_counts() -> dict[str, int]:
    return {t.name: _db.session.scalar(sa.select(sa.func.count()).select_from(t))
            for t in _db.metadata.sorted_tables}


@pytest.fixture
def the_round(db, group, member, outsider, today):
    """An open round of the persona group: the member attended, the outsider was absent."""
    from app.programme import services as programme

    programme.add_member(None, group, outsider, joined_on=today - timedelta(days=30))
    feedback_round = open_round(group, present=[member], absent=[outsider])
    db.session.commit()
    return feedback_round


# --- services: drafts ------------------------------------------------------------------------

def test_a_draft_keeps_partial_answers_and_later_ones_join_them(db, the_round, member):
    now = utcnow()
    answering.save_draft(member, the_round, {"recovery": "4"}, now)
    answering.save_draft(member, the_round, {"calm": 7, "comment": "So far so good"}, now)
    db.session.commit()
    assert answering.get_draft(member, the_round) == {"recovery": 4, "calm": 7, "comment": "So far so good"}
    answering.save_draft(member, the_round, {"calm": ""}, now)  # a cleared answer leaves the draft
    assert answering.get_draft(member, the_round) == {"recovery": 4, "comment": "So far so good"}


def test_a_draft_refuses_a_question_the_questionnaire_does_not_have(db, the_round, member):
    with pytest.raises(DomainError) as refused:
        answering.save_draft(member, the_round, {"salary": "5"}, utcnow())
    assert refused.value.field == "salary"
    with pytest.raises(DomainError) as refused:
        answering.save_draft(member, the_round, {"recovery": "9"}, utcnow())
    assert refused.value.field == "recovery"


def test_only_members_who_attended_may_keep_a_draft_or_submit(db, the_round, outsider):
    with pytest.raises(NotAllowed):
        answering.save_draft(outsider, the_round, {"recovery": "4"}, utcnow())
    with pytest.raises(NotAllowed):
        answering.submit_response(outsider, the_round, GOOD, utcnow())


# --- services: submission --------------------------------------------------------------------

def test_submitted_answers_are_stored_with_no_link_to_the_respondent(db, the_round, member):
    answering.save_draft(member, the_round, {"recovery": "4"}, utcnow())
    answering.submit_response(member, the_round, GOOD, utcnow())
    db.session.commit()

    (response,) = db.session.scalars(sa.select(Response)).all()
    assert {a.item_code: (a.value, a.text) for a in response.answers} == {
        "recovery": (4, None), "coping": (5, None), "calm": (7, None), "format": (1, None),
        "comment": (None, "Helpful group."),
    }
    assert db.session.get(Completion, (the_round.id, member.id)) is not None
    assert db.session.get(Draft, (the_round.id, member.id)) is None
    assert feedback.has_responded(the_round, member)
    for table in ("responses", "answers", "completions"):
        columns = {c.name for c in _db.metadata.tables[table].columns}
        assert not {c for c in columns if "user" in c or c.endswith("_at") or "time" in c or "date" in c} - (
            {"user_id"} if table == "completions" else set()), table
    assert {c.name for c in _db.metadata.tables["completions"].columns} == {"round_id", "user_id"}


def test_submitting_drops_the_members_pending_reminders_of_the_round_only(db, the_round, member, outsider):
    later = utcnow() + timedelta(days=10)
    mine = queue(feedback.ROUND_CLOSING, member, f"closing:{the_round.id}:{member.id}", later, round_id=the_round.id)
    theirs = queue(feedback.ROUND_CLOSING, outsider, f"closing:{the_round.id}:{outsider.id}", later,
                   round_id=the_round.id)
    sent = queue(feedback.ROUND_OPENED, member, f"opened:{the_round.id}:{member.id}", utcnow(),
                 round_id=the_round.id)
    sent.status = "sent"
    db.session.commit()
    answering.submit_response(member, the_round, GOOD, utcnow())
    db.session.commit()
    db.session.expire_all()
    assert (mine.status, theirs.status, sent.status) == ("dropped", "pending", "sent")


def test_a_second_submission_is_refused_and_the_first_is_kept(db, the_round, member):
    answering.submit_response(member, the_round, GOOD, utcnow())
    db.session.commit()
    with pytest.raises(Conflict, match="already submitted"):
        answering.submit_response(member, the_round, LOW, utcnow())
    assert count(Response) == 1 and count(Completion) == 1


def test_a_race_lost_at_the_database_is_a_conflict_and_the_transaction_stays_usable(
    db, the_round, member, monkeypatch
):
    db.session.add(Completion(round_id=the_round.id, user_id=member.id))  # the other request won
    db.session.flush()
    monkeypatch.setattr(answering, "has_responded", lambda *_args: False)  # it had not when we checked
    with pytest.raises(Conflict, match="already submitted"):
        answering.submit_response(member, the_round, GOOD, utcnow())
    assert count(Response) == 0 and count(Completion) == 1  # the session still answers


def test_a_late_submission_is_refused_and_the_draft_is_kept(db, the_round, member):
    answering.save_draft(member, the_round, {"recovery": "4"}, utcnow())
    db.session.commit()
    with pytest.raises(Conflict, match="closed"):
        answering.submit_response(member, the_round, GOOD, the_round.closes_at + timedelta(seconds=1))
    db.session.rollback()
    assert answering.get_draft(member, the_round) == {"recovery": 4}
    assert count(Response) == 0 and count(Completion) == 0


def test_invalid_answers_name_each_question(db, the_round, member):
    with pytest.raises(DomainError) as refused:
        answering.submit_response(member, the_round, {**GOOD, "coping": "", "calm": "11", "format": "phone"},
                                  utcnow())
    assert refused.value.field == "coping"
    assert refused.value.problems == {"coping": "required", "calm": "out_of_range", "format": "unknown_choice"}


def test_a_low_wellbeing_score_is_returned_for_the_respondent_and_stored_nowhere(db, the_round, member, group):
    other = make_user("other@example.org", roles=["member"])
    meeting_id = the_round.meeting_ids[0]
    db.session.add(Attendance(meeting_id=meeting_id, user_id=other.id, status="present"))
    db.session.commit()

    before = row_counts()
    low = answering.submit_response(member, the_round, LOW, utcnow())
    db.session.commit()
    after_low = row_counts()
    good = answering.submit_response(other, the_round, GOOD, utcnow())
    db.session.commit()
    after_good = row_counts()

    assert [b.label["en"] for b in low.concerns] == ["Low wellbeing"] and good.concerns == []
    low_delta = {t: after_low[t] - before[t] for t in before if after_low[t] != before[t]}
    good_delta = {t: after_good[t] - after_low[t] for t in before if after_good[t] != after_low[t]}
    # The response's subscale scores are stored with it (as anonymous as its answers), the same rows for a low
    # score as for a good one: nothing says that a score fell in a concern band.
    assert set(low_delta) == {"responses", "answers", "completions", "response_scores"}
    assert low_delta["responses"] == good_delta["responses"] == 1
    assert low_delta["completions"] == good_delta["completions"] == 1
    assert low_delta["response_scores"] == good_delta["response_scores"] == 1
    for table in _db.metadata.sorted_tables:
        if table.name == "instruments":
            continue
        dump = repr(db.session.execute(sa.select(table)).all())
        assert "Low wellbeing" not in dump and "concern" not in dump, table.name


def test_support_contacts_come_from_the_configuration(app, db):
    app.config["SUPPORT_CONTACTS"] = "Hotline: ext. 6688; Wellbeing room, building 3\nEAP: 400-000-0000"
    try:
        assert answering.support_contacts() == ["Hotline: ext. 6688", "Wellbeing room, building 3",
                                                "EAP: 400-000-0000"]
    finally:
        app.config["SUPPORT_CONTACTS"] = "Staff psychological support hotline: ext. 6688"


# --- pages -----------------------------------------------------------------------------------

def form_data(answers: dict, action: str = "submit") -> dict:
    return {**{f"a-{code}": value for code, value in answers.items()}, "action": action}


def test_the_home_banner_links_to_the_form_and_thanks_after_submission(client, auth, the_round, member):
    auth.login(member)
    home = text(client.get("/"))
    assert f'href="/rounds/{the_round.id}/answer"' in home
    client.post(f"/rounds/{the_round.id}/answer", data=form_data(GOOD))
    home = text(client.get("/"))
    assert f'id="open-round-{the_round.id}"' not in home
    assert "answered, thank you" in home


def test_the_form_says_the_answers_are_anonymous_before_the_first_question(client, auth, the_round, member):
    auth.login(member)
    response = client.get(f"/rounds/{the_round.id}/answer")
    page = text(response)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert page.index("Your answers are anonymous") < page.index("I recover after a hard day.")
    assert 'id="answer-progress"' in page and "0 of 5 answered" in page
    assert 'name="action" value="save"' in page and 'name="action" value="submit"' in page
    assert "<script>" not in page and " style=" not in page and " onclick=" not in page  # the CSP allows neither


def test_the_form_is_filled_from_the_draft(client, auth, the_round, member):
    auth.login(member)
    response = client.post(f"/rounds/{the_round.id}/answer", data=form_data({"recovery": "4", "comment": "Half"},
                                                                             action="save"))
    assert response.status_code == 302
    page = text(client.get(f"/rounds/{the_round.id}/answer"))
    assert re.search(r'name="a-recovery"[^>]*value="4" checked', page)
    assert ">Half</textarea>" in page and "2 of 5 answered" in page


def test_each_member_sees_only_their_own_draft_in_the_questions_drawn_once(client, auth, db, the_round, member):
    other = make_user("second@example.org", roles=["member"], name="Second Member")
    db.session.add(Attendance(meeting_id=the_round.round_meetings[0].meeting_id, user_id=other.id, status="present"))
    db.session.commit()
    pages = {}
    for person, value in ((member, "4"), (other, "2"), (member, "4")):
        auth.login(person)
        client.post(f"/rounds/{the_round.id}/answer", data=form_data({"recovery": value}, action="save"))
        pages[person.email, value] = text(client.get(f"/rounds/{the_round.id}/answer"))
        auth.logout()
    for (_email, value), page in pages.items():
        checked = re.findall(r'name="a-recovery"[^>]*value="(\d+)" checked', page)
        assert checked == [value] and "1 of 5 answered" in page


def test_autosave_keeps_the_draft_and_says_401_when_the_session_has_ended(client, auth, the_round, member):
    auth.login(member)
    url = f"/rounds/{the_round.id}/draft"
    response = client.post(url, json={"answers": {"recovery": "3", "calm": "6"}})
    assert response.status_code == 200 and response.json == {"saved": 2}
    _db.session.expire_all()
    assert answering.get_draft(member, the_round) == {"recovery": 3, "calm": 6}

    assert client.post(url, json={"answers": {"oops": "1"}}).json["field"] == "oops"
    assert client.post(url, data="not json").status_code == 400

    auth.logout()
    response = client.post(url, json={"answers": {"coping": "4"}})
    assert response.status_code == 401
    assert response.json["login"] == f"/login?next=/rounds/{the_round.id}/answer"


def test_autosave_refuses_answers_nested_too_deeply_to_read(client, auth, the_round, member):
    """Found by fuzzing: a deeply nested JSON body raised RecursionError in the JSON reader (a 500)."""
    auth.login(member)
    response = client.post(f"/rounds/{the_round.id}/draft", data='{"answers": ' + "[" * 5000,
                           content_type="application/json")
    assert response.status_code == 400 and response.json["detail"] == "The answers could not be read."
    assert answering.get_draft(member, the_round) == {}


def test_autosave_refuses_a_lone_surrogate_and_the_form_still_opens(client, auth, the_round, member):
    """Found by fuzzing: JSON may spell a lone surrogate; kept in the draft, it made the form a 500 for good."""
    auth.login(member)
    response = client.post(f"/rounds/{the_round.id}/draft", json={"answers": {"comment": "calm\ud800", "calm": "6"}})
    assert response.status_code == 400 and response.json["detail"] == "The answers could not be read."
    assert answering.get_draft(member, the_round) == {}
    assert client.get(f"/rounds/{the_round.id}/answer").status_code == 200
    emoji = client.post(f"/rounds/{the_round.id}/draft", data='{"answers": {"comment": "\\ud83d\\ude00"}}',
                        content_type="application/json")
    assert emoji.status_code == 200  # a surrogate pair is an emoji, and welcome


@pytest.mark.parametrize("answer", ["1" * 5000, "-" + "9" * 30, "+-3", "--3"])
def test_a_number_no_scale_holds_is_refused_naming_the_question(client, auth, the_round, member, answer):
    """Found by fuzzing: int() refuses more than 4300 digits and "+-3" (a ValueError, so a 500)."""
    auth.login(member)
    response = client.post(f"/rounds/{the_round.id}/answer", data=form_data({**GOOD, "recovery": answer}))
    assert response.status_code == 422
    assert 'id="a-recovery-error"' in text(response)
    assert count(Response) == 0 and count(Completion) == 0


def test_autosave_requires_the_csrf_token_when_csrf_is_on(app, db, the_round, member):
    from tests.factories import PASSWORD

    db.session.commit()
    app.config["WTF_CSRF_ENABLED"] = True  # read per request by Flask-WTF; restored below
    try:
        with app.test_client() as client:
            login_page = text(client.get("/login"))
            token = re.search(
                r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"', login_page
            )
            token = token.group(1) or token.group(2) if token else ""
            client.post("/login", data={"email": member.email, "password": PASSWORD, "csrf_token": token})
            page = text(client.get(f"/rounds/{the_round.id}/answer"))
            csrf = re.search(r'data-csrf="([^"]+)"', page).group(1)
            url = f"/rounds/{the_round.id}/draft"
            assert client.post(url, json={"answers": {"recovery": "2"}}).status_code == 400
            response = client.post(url, json={"answers": {"recovery": "2"}}, headers={"X-CSRFToken": csrf})
            assert response.status_code == 200
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_submitting_shows_thanks_and_a_second_submission_says_already_submitted(client, auth, the_round, member):
    auth.login(member)
    url = f"/rounds/{the_round.id}/answer"
    response = client.post(url, data=form_data(GOOD))
    assert response.status_code == 200 and "Thank you" in text(response)
    assert 'id="signposting"' not in text(response)

    again = client.post(url, data=form_data(LOW))
    assert again.status_code == 409 and "already submitted" in text(again)
    assert client.post(f"/rounds/{the_round.id}/draft", json={"answers": {"recovery": "1"}}).status_code == 409
    page = client.get(url)
    assert "already submitted" in text(page) and 'name="action"' not in text(page)
    _db.session.expire_all()
    assert count(Response) == 1 and count(Completion) == 1


def test_a_low_wellbeing_score_shows_the_support_contacts_to_the_respondent_only(client, auth, the_round, member):
    auth.login(member)
    response = client.post(f"/rounds/{the_round.id}/answer", data=form_data(LOW))
    page = text(response)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert 'id="signposting"' in page and "Low wellbeing" in page
    assert "Staff psychological support hotline: ext. 6688" in page
    # Nothing of it comes back later: not on the home page, not on the form.
    assert "Low wellbeing" not in text(client.get("/"))
    assert "Low wellbeing" not in text(client.get(f"/rounds/{the_round.id}/answer"))


def test_a_late_submission_is_refused_with_a_clear_message_and_the_draft_kept(client, auth, the_round, member):
    auth.login(member)
    url = f"/rounds/{the_round.id}/answer"
    client.post(url, data=form_data({"recovery": "4"}, action="save"))
    the_round.closes_at = utcnow() - timedelta(minutes=1)
    _db.session.commit()
    response = client.post(url, data=form_data(GOOD))
    assert response.status_code == 409 and "closed" in text(response)
    assert ">Helpful group.</textarea>" in text(response)  # what was sent stays on the page
    _db.session.expire_all()
    assert answering.get_draft(member, the_round) == {"recovery": 4}
    assert count(Response) == 0
    page = text(client.get(url))
    assert "closed" in page and 'name="action"' not in page


def test_a_member_who_did_not_attend_is_refused(client, auth, the_round, outsider):
    auth.login(outsider)
    assert client.get(f"/rounds/{the_round.id}/answer").status_code == 403
    assert client.post(f"/rounds/{the_round.id}/answer", data=form_data(GOOD)).status_code == 403
    assert client.post(f"/rounds/{the_round.id}/draft", json={"answers": {}}).status_code == 403
    assert count(Response) == 0


def test_invalid_answers_are_refused_naming_the_question_and_kept(client, auth, the_round, member):
    auth.login(member)
    response = client.post(f"/rounds/{the_round.id}/answer", data=form_data({**GOOD, "coping": ""}))
    page = text(response)
    assert response.status_code == 422
    assert 'id="a-coping-error"' in page and "Please answer this question." in page
    assert count(Response) == 0 and count(Completion) == 0
    _db.session.expire_all()
    assert answering.get_draft(member, the_round)["recovery"] == 4  # kept for next time
