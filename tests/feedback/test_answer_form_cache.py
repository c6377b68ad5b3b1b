"""The answer form drawn once per questionnaire version and language: what is reused, what is drawn per request, and
that the page is the same either way."""

from __future__ import annotations

import copy
import re

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.feedback.models import Instrument
from app.feedback.routes import answer as answer_page
from app.feedback.services import responses as answering
from app.feedback.services.responses import LRU
from tests.factories import GOOD, PULSE, make_instrument, open_round


def text(response) -> str:
    return response.get_data(as_text=True)


def form_data(answers: dict, action: str = "submit") -> dict:
    return {**{f"a-{code}": value for code, value in answers.items()}, "action": action}


def without_tokens(page: str) -> str:
    """The page with its CSRF tokens blanked (they differ from one request to the next)."""
    return re.sub(r'(csrf_token" value="|data-csrf=")[^"]+', r"\1", page)


def forget_drawn_forms() -> None:
    for cache in (answer_page._QUESTIONS, answer_page._ITEM_HTML, answer_page._PAGE_TEXTS, answering._DEFINITIONS):
        cache.clear()


@pytest.fixture
def the_round(db, group, member):
    feedback_round = open_round(group, present=[member])
    db.session.commit()
    return feedback_round


def test_a_page_drawn_from_kept_questions_equals_one_drawn_afresh(client, auth, the_round, member):
    auth.login(member)
    url = f"/rounds/{the_round.id}/answer"
    client.post(url, data=form_data({"recovery": "4", "format": "online", "comment": 'A <b>"hard"</b> week & more'},
                                    action="save"))
    client.get(url)  # the flash said once
    forget_drawn_forms()
    fresh = without_tokens(text(client.get(url)))
    assert len(answer_page._ITEM_HTML) > 0 and len(answer_page._PAGE_TEXTS) == 1
    kept = without_tokens(text(client.get(url)))
    assert kept == fresh
    assert ">A &lt;b&gt;&#34;hard&#34;&lt;/b&gt; week &amp; more</textarea>" in kept  # escaped as Jinja escapes


def test_a_drafts_values_are_checked_and_the_next_reader_gets_a_blank_form(client, auth, db, the_round, member):
    from app.meetings.models import Attendance
    from tests.factories import make_user

    other = make_user("second@example.org", roles=["member"], name="Second Member")
    db.session.add(Attendance(meeting_id=the_round.round_meetings[0].meeting_id, user_id=other.id, status="present"))
    db.session.commit()
    url = f"/rounds/{the_round.id}/answer"
    auth.login(member)
    client.post(url, data=form_data({"recovery": "4", "format": "online", "comment": "Mine only"}, action="save"))
    page = text(client.get(url))
    assert re.search(r'name="a-recovery"[^>]*value="4" checked', page)
    assert re.search(r'name="a-format"[^>]*value="online" checked', page)
    assert ">Mine only</textarea>" in page and "3 of 5 answered" in page
    auth.logout()
    auth.login(other)
    page = text(client.get(url))
    assert " checked" not in page and "Mine only" not in page and "0 of 5 answered" in page
    assert "></textarea>" in page


def test_errors_are_drawn_for_the_request_that_has_them_only(client, auth, the_round, member):
    auth.login(member)
    url = f"/rounds/{the_round.id}/answer"
    refused = client.post(url, data=form_data({"recovery": "4", "comment": "x" * 10_000}))
    page = text(refused)
    assert refused.status_code == 422
    assert 'aria-describedby="a-coping-error"' in page and 'id="a-coping-error"' in page
    assert "Please answer this question." in page
    assert re.search(r'<textarea class="form-control is-invalid"[^>]*aria-invalid="true">x{10000}</textarea>', page)
    assert re.search(r'name="a-recovery"[^>]*value="4" checked', page)
    again = text(client.get(url))  # the draft kept, and no error left behind in the kept questions
    assert "Please answer this question." not in again and "-error" not in again
    assert re.search(r'name="a-recovery"[^>]*value="4" checked', again)


def test_each_language_has_its_own_drawn_form(client, auth, db, the_round, member):
    auth.login(member)
    url = f"/rounds/{the_round.id}/answer"
    english = text(client.get(url))
    member.locale = "zh_CN"
    db.session.commit()
    chinese = text(client.get(url))
    assert "I recover after a hard day." in english and "Your answers are anonymous" in english
    assert "我能在辛苦的一天后恢复。" in chinese and "您的回答是匿名的" in chinese
    assert "I recover after a hard day." not in chinese and "Your answers are anonymous" not in chinese
    refused = text(client.post(url, data=form_data({"recovery": "4"})))
    assert "请回答此题。" in refused
    saved = client.post(url, data=form_data({"recovery": "4"}, action="save"), follow_redirects=True)
    assert "您的回答已保存" in text(saved)  # the flash in the reader's language, though said after the commit


def test_each_questionnaire_version_has_its_own_drawn_form(client, auth, db, group, member, make_group_with_member):
    v2 = copy.deepcopy(PULSE)
    v2["version"] = 2
    v2["items"][0]["text"] = {"en": "I bounce back after a hard shift.", "zh_CN": "辛苦的一班后我能恢复过来。"}
    first = open_round(group, present=[member])
    second = open_round(make_group_with_member(member), present=[member], instrument=make_instrument(v2))
    db.session.commit()
    auth.login(member)
    one = text(client.get(f"/rounds/{first.id}/answer"))
    two = text(client.get(f"/rounds/{second.id}/answer"))
    assert "I recover after a hard day." in one and "I bounce back" not in one
    assert "I bounce back after a hard shift." in two and "I recover after a hard day." not in two
    _, key_one = answering.round_questionnaire(first)
    _, key_two = answering.round_questionnaire(second)
    assert key_one != key_two


def test_the_key_is_the_stored_text_so_a_changed_definition_is_never_served_stale(client, auth, db, the_round,
                                                                                  member):
    """Ids repeat across databases (each test's database starts again at 1): the key is the definition's text."""
    auth.login(member)
    url = f"/rounds/{the_round.id}/answer"
    assert "I recover after a hard day." in text(client.get(url))
    _, before = answering.round_questionnaire(the_round)
    changed = copy.deepcopy(PULSE)
    changed["items"][0]["text"] = {"en": "Another question under the same id.", "zh_CN": "同一编号下的另一题。"}
    db.session.execute(sa.update(Instrument).where(Instrument.id == the_round.instrument_id)
                       .values(definition=changed))
    db.session.commit()
    assert "Another question under the same id." in text(client.get(url))
    _, after = answering.round_questionnaire(the_round)
    assert after != before


def test_the_questionnaire_is_read_once_per_transaction(app, db, the_round):
    statements = []

    def note(conn, cursor, statement, *args):
        if "FROM instruments" in statement:
            statements.append(statement)

    sa.event.listen(_db.engine, "before_cursor_execute", note)
    try:
        first = answering.round_questionnaire(the_round)
        assert answering.round_questionnaire(the_round) == first and len(statements) == 1
        db.session.commit()
        assert answering.round_questionnaire(the_round) == first and len(statements) == 2
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", note)


def test_the_kept_forms_are_bounded_least_recently_used_first():
    kept = LRU(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # now b is the least recently used
    kept.put("c", 3)
    assert kept.get("b") is None and kept.get("a") == 1 and kept.get("c") == 3 and len(kept) == 2


def test_submitting_thanks_in_the_readers_language(client, auth, db, the_round, member):
    member.locale = "zh_CN"
    db.session.commit()
    auth.login(member)
    page = text(client.post(f"/rounds/{the_round.id}/answer", data=form_data(GOOD)))
    assert "感谢您的参与" in page and f'data-storage-key="balint-answers-{the_round.id}-{member.id}"' in page


@pytest.fixture
def make_group_with_member(db, group, today):
    from datetime import timedelta

    from app.programme import services as programme
    from tests.factories import make_group

    def make(person):
        other = make_group(group.organisation, name="Second group")
        programme.add_member(None, other, person, joined_on=today - timedelta(days=30))
        return other

    return make
