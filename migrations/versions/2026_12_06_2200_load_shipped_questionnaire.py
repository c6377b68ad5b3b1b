"""load the shipped questionnaire: the project's own Balint group feedback questionnaire (version 1) is there,
active, from the first `flask db upgrade`, so the first round the five-meeting rule opens has a questionnaire

Revision ID: b7f3c2d41e08
Revises: 9c4d7e2a5b10
Create Date: 2026-12-06 22:00:00.000000

The file is read with the app's own parser (pure: no database), the row written with a plain table of the
columns that exist at this revision. An install that has the version already (from `flask demo` or
`flask instruments load`) is left as it is, active or not.
"""
from datetime import datetime, timezone
from pathlib import Path

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7f3c2d41e08'
down_revision = '9c4d7e2a5b10'
branch_labels = None
depends_on = None

SHIPPED = Path(__file__).resolve().parents[2] / "app" / "feedback" / "instruments" / "balint-feedback-v1.yaml"

instruments = sa.table(
    "instruments",
    sa.column("id", sa.Integer), sa.column("code", sa.String), sa.column("version", sa.Integer),
    sa.column("title_en", sa.String), sa.column("title_zh", sa.String), sa.column("definition", sa.JSON),
    sa.column("source_text", sa.Text), sa.column("licence", sa.String), sa.column("source", sa.String),
    sa.column("requires_permission", sa.Boolean), sa.column("active", sa.Boolean), sa.column("locked", sa.Boolean),
    sa.column("created_at", sa.DateTime),
)


def _shipped():
    from app.feedback.instrument_files import parse_instrument
    from app.feedback.scoring import definition_to_dict

    text = SHIPPED.read_text(encoding="utf-8")
    definition = parse_instrument(text, SHIPPED.name)
    return definition, definition_to_dict(definition), text


def upgrade():
    definition, data, text = _shipped()
    bind = op.get_bind()
    found = bind.execute(sa.select(instruments.c.id).where(
        instruments.c.code == definition.code, instruments.c.version == definition.version)).first()
    if found is not None:
        return
    bind.execute(instruments.insert().values(
        code=definition.code, version=definition.version, title_en=definition.title["en"],
        title_zh=definition.title["zh_CN"], definition=data, source_text=text, licence=definition.licence,
        source=definition.source, requires_permission=definition.requires_permission, active=True, locked=False,
        created_at=datetime.now(timezone.utc).replace(tzinfo=None),
    ))


def downgrade():
    # The version goes only while nothing refers to it (no round asked it, no response answered it).
    definition, _data, _text = _shipped()
    bind = op.get_bind()
    used = sa.text("SELECT 1 FROM feedback_rounds WHERE instrument_id = :id "
                   "UNION ALL SELECT 1 FROM responses WHERE instrument_id = :id "
                   "UNION ALL SELECT 1 FROM groups WHERE instrument_id = :id")
    for (instrument_id,) in bind.execute(sa.select(instruments.c.id).where(
            instruments.c.code == definition.code, instruments.c.version == definition.version)).all():
        if bind.execute(used, {"id": instrument_id}).first() is None:
            bind.execute(instruments.delete().where(instruments.c.id == instrument_id))
