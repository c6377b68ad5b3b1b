"""Migrations: an empty database upgrades to head, and models and migrations agree (`flask db check`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]


def _flask(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "wsgi", "FLASK_CONFIG": "development"}
    return subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_an_empty_database_upgrades_to_head_and_matches_the_models(empty_database_url):
    upgrade = _flask(empty_database_url, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    check = _flask(empty_database_url, "db", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr


def test_every_migration_downgrades_cleanly(empty_database_url):
    assert _flask(empty_database_url, "db", "upgrade").returncode == 0
    down = _flask(empty_database_url, "db", "downgrade", "base")
    assert down.returncode == 0, down.stderr
    engine = sa.create_engine(empty_database_url)
    try:
        tables = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()
    assert tables == set()


def test_the_shipped_questionnaire_is_active_after_the_first_upgrade_and_a_second_changes_nothing(
        empty_database_url):
    assert _flask(empty_database_url, "db", "upgrade").returncode == 0
    engine = sa.create_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT code, version, active FROM instruments")).all()
        assert [(code, version, bool(active)) for code, version, active in rows] == [("balint-feedback", 1, True)]
        with engine.begin() as conn:  # a coordinator deactivates it; running the migration again leaves that
            conn.execute(sa.text("UPDATE instruments SET active = false"))
        # Run that one migration again (only it: the later ones are not written to run twice).
        assert _flask(empty_database_url, "db", "stamp", "9c4d7e2a5b10").returncode == 0
        assert _flask(empty_database_url, "db", "upgrade", "b7f3c2d41e08").returncode == 0
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM instruments")).scalar() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM instruments WHERE active")).scalar() == 0
    finally:
        engine.dispose()


BEFORE_STORED_SCORES = "b7f3c2d41e08"


def test_the_stored_scores_migration_scores_every_response_already_stored(empty_database_url):
    """Responses written before the table existed get their scores from the migration (more than one page of
    them), as app.feedback.scoring computes them, and `flask feedback verify-scores` then finds nothing amiss."""
    from app.feedback.scoring import definition_from_dict, subscale_results
    from tests.factories import likert, questionnaire, scale, subscale, t

    definition = questionnaire(
        "migrated", t("Migrated"),
        items=[likert("a1", t("a1")), likert("a2", t("a2"), reverse=True, required=False),
               likert("a3", t("a3"), required=False), scale("b1", t("b1"), reverse=True)],
        subscales=[subscale("A", t("A"), "a1", "a2", "a3"), subscale("B", t("B"), "b1")],
    )
    assert _flask(empty_database_url, "db", "upgrade", BEFORE_STORED_SCORES).returncode == 0
    now = sa.func.current_timestamp()
    table = sa.table
    instruments = table("instruments", *(sa.column(c) for c in (
        "id", "code", "version", "title_en", "title_zh", "source_text", "licence", "source", "requires_permission",
        "active", "locked", "created_at")), sa.column("definition", sa.JSON))
    answers = [{"a1": 1 + i % 5, **({"a2": 1 + i % 4} if i % 3 else {}), **({"a3": 5} if i % 2 else {}),
                "b1": i % 11} for i in range(1003)]
    engine = sa.create_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(instruments.insert().values(
                id=100, code="migrated", version=1, title_en="Migrated", title_zh="Migrated", definition=definition,
                source_text="{}", licence="CC0", source="tests", requires_permission=False, active=False,
                locked=True, created_at=now))
            conn.execute(sa.text("INSERT INTO organisations (id, name, kind, active, created_at) "
                                 "VALUES (1, 'Hospital', 'hospital', true, CURRENT_TIMESTAMP)"))
            conn.execute(sa.text(
                "INSERT INTO groups (id, organisation_id, name, capacity, mode, duration_minutes, feedback_interval, "
                "feedback_window_days, status, created_at) "
                "VALUES (1, 1, 'Group', 12, 'onsite', 60, 5, 14, 'active', CURRENT_TIMESTAMP)"))
            conn.execute(sa.text(
                "INSERT INTO feedback_rounds (id, group_id, number, status, mode, opens_at, closes_at, instrument_id) "
                "VALUES (1, 1, 1, 'closed', 'questionnaire', '2026-01-01 00:00:00', '2026-01-15 00:00:00', 100)"))
            ids = [f"{i:032x}" for i in range(len(answers))]
            conn.execute(sa.text("INSERT INTO responses (id, round_id, instrument_id, source) "
                                 "VALUES (:id, 1, 100, 'questionnaire')"), [{"id": i} for i in ids])
            conn.execute(sa.text("INSERT INTO answers (response_id, item_code, value, review) "
                                 "VALUES (:id, :code, :value, 'pending')"),
                         [{"id": i, "code": code, "value": value}
                          for i, given in zip(ids, answers, strict=True) for code, value in given.items()])
            conn.execute(sa.text("INSERT INTO answers (response_id, item_code, text, review) "
                                 "VALUES (:id, 't1', 'Free text', 'pending')"), {"id": ids[0]})

        upgrade = _flask(empty_database_url, "db", "upgrade")
        assert upgrade.returncode == 0, upgrade.stderr

        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT response_id, subscale, score, answered, missing "
                                        "FROM response_scores")).all()
        found = {(r, key): (score, answered, missing) for r, key, score, answered, missing in rows}
        scored = definition_from_dict(definition)
        expected = {(i, r.subscale): (r.score, r.answered, r.missing)
                    for i, given in zip(ids, answers, strict=True) for r in subscale_results(scored, given)}
        assert len(found) == 2 * 1003 and found.keys() == expected.keys()
        assert all(found[key][1:] == expected[key][1:] for key in expected)
        assert all((found[key][0] is None) == (expected[key][0] is None) for key in expected)
        assert all(abs(found[key][0] - expected[key][0]) < 1e-9 for key in expected if expected[key][0] is not None)
        # By hand: response 1 answered a1 = 2, a2 = 2 (reversed: 4), a3 = 5, b1 = 1 (reversed: 9).
        assert found[(ids[1], "migrated/A")] == (pytest.approx(11 / 3), 3, 0)
        assert found[(ids[1], "migrated/B")] == (9.0, 1, 0)
        # Response 0 left a2 and a3 out: more than half of A is missing.
        assert found[(ids[0], "migrated/A")] == (None, 1, 2)

        verify = _flask(empty_database_url, "feedback", "verify-scores")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "Checked 1003 responses (2006 stored scores): 0 differences" in verify.stdout
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE response_scores SET score = 1 WHERE response_id = :id AND subscale = "
                                 "'migrated/B'"), {"id": ids[1]})
        assert _flask(empty_database_url, "feedback", "verify-scores").returncode == 1
    finally:
        engine.dispose()


def test_the_round_aggregates_migration_stores_the_sums_of_every_closed_round(empty_database_url):
    """Closed rounds written before the table existed get their sums (whole round and per source × profession,
    a round nobody answered marked with n = 0), open rounds none, and `flask feedback verify-scores` finds them
    equal to a recomputation."""
    from tests.factories import likert, questionnaire, subscale, t

    definition = questionnaire("summed", t("Summed"), items=[likert("a1", t("a1")), likert("a2", t("a2"))],
                               subscales=[subscale("A", t("A"), "a1", "a2")])
    assert _flask(empty_database_url, "db", "upgrade", BEFORE_STORED_SCORES).returncode == 0
    instruments = sa.table("instruments", *(sa.column(c) for c in (
        "id", "code", "version", "title_en", "title_zh", "source_text", "licence", "source", "requires_permission",
        "active", "locked", "created_at")), sa.column("definition", sa.JSON))
    engine = sa.create_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(instruments.insert().values(
                id=100, code="summed", version=1, title_en="Summed", title_zh="Summed", definition=definition,
                source_text="{}", licence="CC0", source="tests", requires_permission=False, active=False,
                locked=True, created_at=sa.func.current_timestamp()))
            conn.execute(sa.text("INSERT INTO organisations (id, name, kind, active, created_at) "
                                 "VALUES (1, 'Hospital', 'hospital', true, CURRENT_TIMESTAMP)"))
            conn.execute(sa.text(
                "INSERT INTO groups (id, organisation_id, name, capacity, mode, duration_minutes, feedback_interval, "
                "feedback_window_days, status, created_at) "
                "VALUES (1, 1, 'Group', 12, 'onsite', 60, 5, 14, 'active', CURRENT_TIMESTAMP)"))
            for rid, status in ((1, "closed"), (2, "open"), (3, "closed")):
                conn.execute(sa.text(
                    "INSERT INTO feedback_rounds (id, group_id, number, status, mode, opens_at, closes_at, "
                    "instrument_id) VALUES (:id, 1, :id, :status, 'questionnaire', '2026-01-01 00:00:00', "
                    "'2026-01-15 00:00:00', 100)"), {"id": rid, "status": status})
            given = [(1, "nurse", 1, 2), (1, "nurse", 3, 4), (1, None, 5, 5), (1, "physician", 2, None),
                     (2, "nurse", 4, 4)]
            for i, (rid, profession, a1, a2) in enumerate(given):
                conn.execute(sa.text("INSERT INTO responses (id, round_id, instrument_id, source, profession) "
                                     "VALUES (:id, :rid, 100, 'questionnaire', :profession)"),
                             {"id": f"{i:032x}", "rid": rid, "profession": profession})
                for code, value in (("a1", a1), ("a2", a2)):
                    if value is not None:
                        conn.execute(sa.text("INSERT INTO answers (response_id, item_code, value, review) "
                                             "VALUES (:id, :code, :value, 'pending')"),
                                     {"id": f"{i:032x}", "code": code, "value": value})
        upgrade = _flask(empty_database_url, "db", "upgrade")
        assert upgrade.returncode == 0, upgrade.stderr
        with engine.connect() as conn:
            rows = {(rid, source, profession, measure): (n, total, partial)
                    for rid, source, profession, measure, n, total, partial in conn.execute(sa.text(
                        "SELECT round_id, source, profession, measure, n, total, partial FROM round_aggregates"))}
        assert {key[0] for key in rows} == {1, 3}
        assert rows[(3, "*", "*", "responses")] == (0, 0, 0) and len([k for k in rows if k[0] == 3]) == 1
        assert rows[(1, "*", "*", "responses")][0] == 4
        assert rows[(1, "questionnaire", "nurse", "responses")][0] == 2
        assert rows[(1, "questionnaire", "unknown", "responses")][0] == 1
        n, total, partial = rows[(1, "*", "*", "summed/A")]
        assert (n, partial) == (4, 1) and total == pytest.approx(1.5 + 3.5 + 5 + 2)
        # The questions' sums (for Cronbach's alpha), whole round and per source × profession.
        assert rows[(1, "*", "*", "item:a1")] == (4, 1 + 3 + 5 + 2, 0)
        assert rows[(1, "*", "*", "item:a2")] == (3, 2 + 4 + 5, 0)
        assert rows[(1, "questionnaire", "nurse", "item:a2")] == (2, 6, 0)
        verify = _flask(empty_database_url, "feedback", "verify-scores")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "Checked the stored sums of 2 closed rounds" in verify.stdout
    finally:
        engine.dispose()
