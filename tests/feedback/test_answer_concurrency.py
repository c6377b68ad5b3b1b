"""The same member submits the same round from 20 threads at once against a real server: one response."""

from __future__ import annotations

import http.cookiejar
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from app.feedback.models import Completion, Draft, Response
from tests.conftest import PASSWORD
from tests.feedback.test_answer import GOOD, open_round

THREADS = 20


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def served(app, db):
    """The test app (CSRF off) on a threaded loopback server."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _opener(jar: http.cookiejar.CookieJar):
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)


def _post(opener, url: str, data: dict) -> int:
    body = urllib.parse.urlencode(data).encode()
    try:
        with opener.open(urllib.request.Request(url, data=body, method="POST"), timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_twenty_simultaneous_submissions_by_one_member_store_one_response(db, served, group, member):
    feedback_round = open_round(group, present=[member])
    db.session.commit()
    # Log in once (the log-in rate limit counts per account) and share the session cookie with every thread.
    jar = http.cookiejar.CookieJar()
    assert _post(_opener(jar), f"{served}/login", {"email": member.email, "password": PASSWORD}) == 302
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
        opener = _opener(own)
        barrier.wait()
        status = _post(opener, url, data)
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
