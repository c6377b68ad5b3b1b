"""One door: no module but app.disclosure reads feedback answers for anything it shows.

Two checks. Statically, only app.disclosure and the modules that write answers (or the scores and round sums
stored from them) or review one answer mention the answers' columns, the stored scores or the stored sums. At run
time, every page, export, report and API call (every GET route of the app, as a coordinator and as a leader, the
API with a token) is opened on a programme with closed rounds (one with its sums stored), and every SQL statement
that reads the answers, the stored scores or the stored round sums must come from app.disclosure.
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.api.services import create_token
from app.disclosure.services import refresh_round_aggregates
from app.extensions import db as _db
from app.programme import services as programme
from tests.disclosure.world import make_world

APP = Path(__file__).resolve().parents[2] / "app"
# Modules that touch answers without publishing an aggregate: the model, submitting and drafting (writes), an
# interview (a write), the coordinator's review of one free-text answer (reads one answer to release it), and
# `flask feedback verify-scores` (recomputes the stored scores and compares; with --fix stores them again).
WRITERS = {"feedback/models.py", "feedback/services/responses.py", "feedback/services/interviews.py",
           "feedback/services/review.py", "feedback/services/scores.py"}
STORED_SCORES = r"\bResponseScore\.|\bresponse_scores\.c\."  # the stored scores, as answers above
# The sums of closed rounds stored from the scores (round_aggregates): computed, stored and read in app/disclosure;
# the model drops them when a score changes and `verify-scores` compares them (both writers above).
STORED_SUMS = r"|\bRoundAggregate\b|\bround_aggregates\.c\."
DOOR = "disclosure/"


def test_only_the_disclosure_module_and_the_writers_mention_the_answers_columns():
    mentions = set()
    for path in APP.rglob("*.py"):
        relative = path.relative_to(APP).as_posix()
        source = path.read_text(encoding="utf-8")
        answers = r"\bAnswer\.(value|text|item_code|response_id|review)\b|\banswers\.c\.|"
        if re.search(answers + STORED_SCORES + STORED_SUMS, source):
            mentions.add(relative)
    outside = {m for m in mentions if not m.startswith(DOOR)} - WRITERS
    assert outside == set(), f"answers read outside app/disclosure: {sorted(outside)}"
    assert any(m.startswith(DOOR) for m in mentions)


def _origin() -> str:
    """The innermost frame of our own app package that ran the statement."""
    for frame in reversed(traceback.extract_stack()):
        path = Path(frame.filename).resolve()
        if APP in path.parents:
            return path.relative_to(APP).as_posix()
    return "?"


def _urls(app, values: dict) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "bootstrap.static"):
            continue
        args = {name: values.get(name, 1) for name in rule.arguments}
        args.update(rule.defaults or {})
        try:
            with app.test_request_context():
                from flask import url_for

                urls.append(url_for(rule.endpoint, **args))
        except Exception:  # noqa: BLE001 - a route whose arguments we cannot fill is opened with what we can
            continue
    return sorted(set(urls))


@pytest.fixture
def programme_world(app, db, coordinator, leader):
    spec = {"orgs": [{"groups": [{"rounds": [
        {"closed": True, "mode": "questionnaire", "month": 1, "responses": [
            {"source": "questionnaire", "profession": p, "answers": {"a1": 1 + i % 5, "a2": 2, "a3": 3, "b1": i,
                                                                     "c1": i % 2, "t1": f"Text {i}"}}
            for i, p in enumerate(["physician"] * 3 + ["nurse"] * 3)]},
        {"closed": False, "mode": "questionnaire", "month": 0, "responses": [
            {"source": "questionnaire", "profession": "nurse", "answers": {"a1": 3, "a2": 3, "a3": 3}}] * 3},
    ]}]}]}
    world = make_world(spec)
    refresh_round_aggregates()  # the closed round's sums stored, as when it closed: pages read them
    programme.add_group_leader(None, world.groups[0], leader)
    leader.organisation_id = coordinator.organisation_id = world.organisations[0].id
    _db.session.commit()
    return world


def test_every_page_export_report_and_api_call_reads_answers_only_through_the_door(app, client, auth, db,
                                                                                   programme_world, coordinator,
                                                                                   leader):
    world = programme_world
    values = {"group_id": world.groups[0].id, "round_id": world.rounds[0].id,
              "organisation_id": world.organisations[0].id, "org_id": world.organisations[0].id}
    urls = _urls(app, values)
    api_urls = [u for u in urls if u.startswith("/api/")]
    pages = [u for u in urls if not u.startswith("/api/")]
    readers: dict[str, set[str]] = {}
    stored_sums_read: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if re.search(r"\b(answers|response_scores|round_aggregates)\b", statement):
            readers.setdefault(_origin(), set()).add(statement.split()[0].upper())
        if statement.lstrip().upper().startswith("SELECT") and re.search(r"\bround_aggregates\b", statement):
            stored_sums_read.append(_origin())

    sa.event.listen(_db.engine, "before_cursor_execute", before)
    opened = 0
    try:
        for persona in (coordinator, leader):
            auth.login(persona)
            for url in pages:
                assert client.get(url).status_code < 500, url
                opened += 1
            auth.logout()
            token, _row = create_token(None, persona)
            _db.session.commit()
            for url in api_urls:
                assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code < 500, url
                opened += 1
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", before)
    assert opened > 100, opened
    # The answers were read (the results page, trends, exports, report, API), and only through the door.
    assert any(origin.startswith(DOOR) for origin in readers), readers
    assert stored_sums_read, "no page read the stored round sums"
    outside = {origin: kinds for origin, kinds in readers.items() if not origin.startswith(DOOR)}
    assert outside == {}, outside
