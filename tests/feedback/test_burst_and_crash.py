"""A round's e-mails go out and everyone answers at once: nothing may be lost, even in a crash.

The programme opens the round of 20 groups of 10 members on the same day (a group holds at most 100, and
a Balint group about 10, so 200 clinicians answering one questionnaire means many groups' rounds).
Against gunicorn (2 worker processes × 8 threads, CSRF on) on the suite's database (SQLite or PostgreSQL):
- 200 distinct members submit concurrently → 200 responses, every request answered 200;
- each of 200 members submits twice at the same instant → still exactly 200 responses (the twin gets 409);
- the server is killed with SIGKILL in the middle of a burst and restarted → every submission that was
  answered with success is stored with all its answers, every member either completed or still has the
  draft saved beforehand, and the members cut off can then finish.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.feedback.models import Answer, Completion, Draft, Response
from tests.browsing import Browser, at_once
from tests.factories import GOOD, groups_with_open_rounds
from tests.gunicorn_server import serve

GROUPS, PER_GROUP = 20, 10
MEMBERS = GROUPS * PER_GROUP
SUBMISSION = {**{f"a-{code}": value for code, value in GOOD.items()}, "action": "submit"}


class Member(Browser):
    """One member's browser on one server, with the round they answer."""

    def __init__(self, base: str, email: str, round_id: int):
        super().__init__(base)
        self.email = email
        self.answer_path = f"/rounds/{round_id}/answer"

    def log_in(self) -> None:
        status = self.sign_in(self.email)
        assert status == 302, (self.email, status)

    def post_answers(self, data: dict, token: str) -> int:
        return self.request(self.answer_path, {**data, "csrf_token": token})[0]


def _database_url() -> str:
    return _db.engine.url.render_as_string(hide_password=False)


def _count(model) -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _open_rounds() -> list[tuple[str, int]]:
    """20 groups of 10 members, each group's round open; (member e-mail, round id) for the 200 members."""
    people = groups_with_open_rounds("Burst Hospital", GROUPS, PER_GROUP, "m{g:02d}{i:02d}@burst.test")
    _db.session.commit()
    return people


def _prepared(base: str, people: list[tuple[str, int]]) -> list[tuple[Member, str]]:
    """Every member logged in with the form's CSRF token in hand (done in parallel, before the burst)."""

    def prepare(person: tuple[str, int]) -> tuple[Member, str]:
        browser = Member(base, *person)
        browser.log_in()
        return browser, browser.csrf(browser.answer_path)

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(prepare, people))


def _submissions(sessions: list[tuple[Member, str]], data: dict = SUBMISSION, times: int = 1) -> list:
    return [lambda b=b, t=t: b.post_answers(data, t) for b, t in sessions for _ in range(times)]


def _assert_every_response_intact(expected: int) -> None:
    _db.session.rollback()
    assert _count(Response) == expected
    assert _count(Completion) == expected
    per_response = _db.session.execute(
        sa.select(Answer.response_id, sa.func.count()).group_by(Answer.response_id)
    ).all()
    assert len(per_response) == expected
    assert {n for _, n in per_response} == {len(GOOD)}


def test_two_hundred_members_submit_at_once_and_every_answer_is_stored(db):
    people = _open_rounds()
    with serve(_database_url()) as server:
        statuses = at_once(_submissions(_prepared(server.url, people)))
    assert Counter(statuses) == {200: MEMBERS}
    _assert_every_response_intact(MEMBERS)


def test_two_hundred_members_each_submitting_twice_at_once_store_exactly_two_hundred(db):
    people = _open_rounds()
    with serve(_database_url()) as server:
        statuses = at_once(_submissions(_prepared(server.url, people), times=2))
    assert Counter(statuses) == {200: MEMBERS, 409: MEMBERS}
    for i in range(MEMBERS):  # exactly one success per member, whichever twin won
        assert sorted(statuses[2 * i:2 * i + 2]) == [200, 409]
    _assert_every_response_intact(MEMBERS)


def test_a_crash_in_the_middle_of_a_burst_loses_nothing_that_was_confirmed(db):
    people = _open_rounds()
    emails = [email for email, _ in people]
    draft = {"a-recovery": "3", "a-comment": "Half-way there", "action": "save"}
    with serve(_database_url(), threads=4) as server:
        sessions = _prepared(server.url, people)
        # Everyone saved a draft first; then all submit and the server dies part-way through.
        with ThreadPoolExecutor(16) as pool:
            saved = list(pool.map(lambda s: s[0].post_answers(draft, s[1]), sessions))
        assert Counter(saved) == {302: MEMBERS}
        successes = 0
        lock = threading.Lock()

        def watch(result) -> None:
            nonlocal successes
            with lock:
                successes += result == 200
                if successes == 30:
                    server.kill()

        statuses = at_once(_submissions(sessions), on_result=watch)
    confirmed = [email for email, status in zip(emails, statuses, strict=True) if status == 200]
    assert 30 <= len(confirmed) < MEMBERS, "the crash must fall in the middle of the burst"
    assert set(statuses) <= {200, None}, Counter(statuses)

    # After the crash: each member has either a completed submission (whole) or the draft saved before.
    _db.session.rollback()
    completed = set(_db.session.scalars(sa.select(Completion.user_id)))
    drafted = set(_db.session.scalars(sa.select(Draft.user_id)))
    ids = dict(_db.session.execute(sa.text("SELECT email, id FROM users")).all())
    assert {ids[email] for email in confirmed} <= completed
    assert completed.isdisjoint(drafted)
    assert completed | drafted == {ids[email] for email in emails}
    _assert_every_response_intact(len(completed))

    # Restarted, the server still holds every draft, and those cut off can finish.
    with serve(_database_url()) as server:
        unfinished = [person for person in people if ids[person[0]] not in completed]
        for person in unfinished[:3]:
            browser = Member(server.url, *person)
            browser.log_in()
            status, page = browser.request(browser.answer_path)
            assert status == 200 and "Half-way there" in page
        statuses = at_once(_submissions(_prepared(server.url, unfinished)))
    assert Counter(statuses) == {200: len(unfinished)}
    _assert_every_response_intact(MEMBERS)
    assert _count(Draft) == 0


@pytest.fixture(autouse=True)
def _no_leftover_connections(db):
    """The servers' connections are gone before the next test wipes the tables."""
    yield
    _db.session.rollback()
