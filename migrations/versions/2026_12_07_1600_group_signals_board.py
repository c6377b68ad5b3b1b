"""group signals: the programme board's facts too (the round rules' findings, the thresholds they were judged
with, the starts of meetings ahead with no eligible lead), so the board and the coordinator's home read them

Revision ID: 7d2b4a9e5c13
Revises: 6c3d8e1f2a47
Create Date: 2026-12-07 16:00:00.000000

Existing rows have no board facts (`board_key` NULL): they are not used for the board and send-due stores them
again on its next run (a NULL key counts as due), so nothing needs filling here.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '7d2b4a9e5c13'
down_revision = '6c3d8e1f2a47'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("group_signals") as batch:
        batch.add_column(sa.Column("board_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("board", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("unled", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("group_signals") as batch:
        batch.drop_column("unled")
        batch.drop_column("board")
        batch.drop_column("board_key")
