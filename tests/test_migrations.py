"""Migrations: an empty database upgrades to head, and models and migrations agree (`flask db check`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
        assert _flask(empty_database_url, "db", "stamp", "9c4d7e2a5b10").returncode == 0
        assert _flask(empty_database_url, "db", "upgrade").returncode == 0
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM instruments")).scalar() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM instruments WHERE active")).scalar() == 0
    finally:
        engine.dispose()
