"""`flask backup` writes a consistent copy that restores with every response (SQLite); PostgreSQL uses pg_dump."""

import sqlalchemy as sa

from app import create_app
from app.feedback.models import Response
from tests.factories import GOOD, open_round


def test_a_backup_taken_while_the_app_runs_restores_every_response(app, db, group, member, tmp_path):
    from app.feedback.services.responses import submit_response
    from app.timeutil import utcnow

    feedback_round = open_round(group, present=[member])
    submit_response(member, feedback_round, dict(GOOD), utcnow())
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["backup", "--output", str(tmp_path / "copy.db")])

    if db.engine.dialect.name != "sqlite":
        assert result.exit_code != 0 and "pg_dump" in result.output
        return
    assert result.exit_code == 0, result.output
    restored = create_app("testing", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'copy.db'}"})
    from app.extensions import db as restored_db

    with restored.app_context():
        try:
            ids = set(restored_db.session.scalars(sa.select(Response.id)))
        finally:
            restored_db.session.remove()
            restored_db.engine.dispose()
    assert ids == set(db.session.scalars(sa.select(Response.id))) and len(ids) == 1
