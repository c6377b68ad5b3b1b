"""The same member submits the same round from 20 threads at once against a real server: one response."""

from __future__ import annotations

import http.cookiejar
import threading

import sqlalchemy as sa

from app.feedback.models import Completion, Draft, Response
from tests.factories import GOOD, PASSWORD, open_round
from tests.loopback import cookie_opener, post_form

THREADS = 20


def test_twenty_simultaneous_submissions_by_one_member_store_one_response(db, served, group, member):
    feedback_round = open_round(group, present=[member])
    db.session.commit()
    # Log in once (the log-in rate limit counts per account) and share the session cookie with every thread.
    jar = http.cookiejar.CookieJar()
    assert post_form(cookie_opener(jar), f"{served}/login", {"email": member.email, "password": PASSWORD}) == 302
    cookies = list(jar)
    assert cookies

    url = f"{served}/rounds/{feedback_round.id}/answer"
    data = {**{f"a-{code}": value for code, value in GOOD.items()}, "action": "submit"}
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []
    lock = threading.Lock()

    def submit():
        own = http.cookiejar.CookieJar()
        for cookie in cookies:
            own.set_cookie(cookie)
        opener = cookie_opener(own)
        barrier.wait()
        status = post_form(opener, url, data)
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=submit) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(statuses) == THREADS
    assert sorted(statuses) == [200] + [409] * (THREADS - 1), statuses
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Completion)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Draft)) == 0
