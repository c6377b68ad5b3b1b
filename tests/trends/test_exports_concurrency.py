"""Exports are GETs that write their audit entry: many at once on a real server all succeed.

On SQLite a read transaction cannot turn into a writer after another connection committed, so a GET that
writes must write in a transaction of its own (app.sqlite.write_after_read); before that, concurrent
exports failed with "database is locked".
"""

from __future__ import annotations

import threading

import sqlalchemy as sa

from app.audit.models import AuditEntry
from tests.conftest import PASSWORD
from tests.feedback.test_answer_concurrency import _opener, _post, served  # noqa: F401
from tests.meetings.conftest import crew, past_meetings  # noqa: F401
from tests.trends.test_exports import answer, feedback_round  # noqa: F401

THREADS, EACH = 8, 4


def test_concurrent_exports_all_succeed_and_are_all_audited(db, served, feedback_round, crew, coordinator):  # noqa: F811
    import http.cookiejar

    answer(db, feedback_round, crew[:4])
    jar = http.cookiejar.CookieJar()
    assert _post(_opener(jar), f"{served}/login", {"email": coordinator.email, "password": PASSWORD}) == 302
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def export():
        opener = _opener(jar)
        barrier.wait()
        for i in range(EACH):
            path = "/exports/aggregates.csv" if i % 2 else "/exports/aggregates.xlsx"
            try:
                with opener.open(f"{served}{path}", timeout=60) as response:
                    status = response.status
            except Exception as exc:  # noqa: BLE001 - an HTTPError carries the status
                status = getattr(exc, "code", 0)
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=export) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [200] * (THREADS * EACH)
    db.session.rollback()
    exports = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "export"))
    assert exports == THREADS * EACH
