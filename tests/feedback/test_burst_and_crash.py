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

import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.feedback.models import Answer, Completion, Draft, Response
from app.programme import services as programme
from app.timeutil import local_today
from tests.factories import GOOD, PASSWORD, make_group, make_members, open_round, pulse_instrument
from tests.gunicorn_server import serve
from tests.loopback import cookie_opener

GROUPS, PER_GROUP = 20, 10
MEMBERS = GROUPS * PER_GROUP
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SUBMISSION = {**{f"a-{code}": value for code, value in GOOD.items()}, "action": "submit"}


class Browser:
    """One member's session: a cookie jar, a CSRF token, plain HTTP over loopback."""

    def __init__(self, base: str, email: str, round_id: int):
        self.base, self.email = base, email
        self.answer_path = f"/rounds/{round_id}/answer"
        self.jar = http.cookiejar.CookieJar()
        self.opener = cookie_opener(self.jar)

    def request(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, method="POST" if data is not None else "GET")
        try:
            with self.opener.open(req, timeout=120) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def csrf(self, path: str) -> str:
        status, page = self.request(path)
        assert status == 200, (path, status)
        return CSRF.search(page).group(1)

    def log_in(self) -> None:
        token = self.csrf("/login")
        status, _ = self.request("/login", {"csrf_token": token, "email": self.email, "password": PASSWORD})
        assert status == 302, (self.email, status)

    def post_answers(self, data: dict, token: str) -> int:
        return self.request(self.answer_path, {**data, "csrf_token": token})[0]


def _database_url() -> str:
    return _db.engine.url.render_as_string(hide_password=False)


def _count(model) -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _open_rounds() -> list[tuple[str, int]]:
    """20 groups of 10 members; each group held a meeting all its members attended and its round is open.

    Returns (member e-mail, round id) for the 200 members.
    """
    org = programme.create_organisation(None, name="Burst Hospital")
    instrument = pulse_instrument()
    joined_on = local_today() - timedelta(days=60)
    people: list[tuple[str, int]] = []
    for g in range(GROUPS):
        group = make_group(org, f"Group {g:02d}")
        members = make_members(group, PER_GROUP, f"m{g:02d}{{i:02d}}@burst.test", joined_on=joined_on,
                               organisation_id=org.id)
        feedback_round = open_round(group, present=members, instrument=instrument)
        people += [(person.email, feedback_round.id) for person in members]
    _db.session.commit()
    return people


def _prepared(base: str, people: list[tuple[str, int]]) -> list[tuple[Browser, str]]:
    """Every member logged in with the form's CSRF token in hand (done in parallel, before the burst)."""

    def prepare(person: tuple[str, int]) -> tuple[Browser, str]:
        browser = Browser(base, *person)
        browser.log_in()
        return browser, browser.csrf(browser.answer_path)

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(prepare, people))


def _submissions(sessions: list[tuple[Browser, str]], data: dict = SUBMISSION, times: int = 1) -> list:
    return [lambda b=b, t=t: b.post_answers(data, t) for b, t in sessions for _ in range(times)]


def _burst(jobs: list, on_result=None) -> list:
    """Run every job at the same instant (one thread each); a connection error counts as None."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i: int, job) -> None:
        barrier.wait()
        try:
            results[i] = job()
        except OSError:  # refused, reset or cut off by the crash
            results[i] = None
        if on_result:
            on_result(results[i])

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)
    return results


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
        statuses = _burst(_submissions(_prepared(server.url, people)))
    assert Counter(statuses) == {200: MEMBERS}
    _assert_every_response_intact(MEMBERS)


def test_two_hundred_members_each_submitting_twice_at_once_store_exactly_two_hundred(db):
    people = _open_rounds()
    with serve(_database_url()) as server:
        statuses = _burst(_submissions(_prepared(server.url, people), times=2))
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

        statuses = _burst(_submissions(sessions), on_result=watch)
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
            browser = Browser(server.url, *person)
            browser.log_in()
            status, page = browser.request(browser.answer_path)
            assert status == 200 and "Half-way there" in page
        statuses = _burst(_submissions(_prepared(server.url, unfinished)))
    assert Counter(statuses) == {200: len(unfinished)}
    _assert_every_response_intact(MEMBERS)
    assert _count(Draft) == 0


@pytest.fixture(autouse=True)
def _no_leftover_connections(db):
    """The servers' connections are gone before the next test wipes the tables."""
    yield
    _db.session.rollback()
