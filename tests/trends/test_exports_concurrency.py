"""Exports are GETs that write their audit entry: many at once on a real server all succeed.

On SQLite a read transaction cannot turn into a writer after another connection committed, so a GET that
writes must write in a transaction of its own (app.sqlite.write_after_read); before that, concurrent
exports failed with "database is locked".
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEntry
from tests.factories import EXPORT, PASSWORD, answer_round, round_of_five
from tests.loopback import cookie_opener, post_form

THREADS, EACH = 8, 4


@pytest.fixture
def feedback_round(db, group, crew, past_meetings):
    """Round 1 of the persona group, opened by five held meetings all eight members attended."""
    found = round_of_five(group, past_meetings[:5], crew, EXPORT, title_en="Export", title_zh="导出")
    db.session.commit()
    return found


def test_concurrent_exports_all_succeed_and_are_all_audited(db, served, feedback_round, crew, coordinator):
    import http.cookiejar

    answer_round(feedback_round, crew[:4], [{"a1": 1 + i, "a2": 2} for i in range(4)], close=True)
    db.session.commit()
    jar = http.cookiejar.CookieJar()
    assert post_form(cookie_opener(jar), f"{served}/login", {"email": coordinator.email, "password": PASSWORD}) == 302
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def export():
        opener = cookie_opener(jar)
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
