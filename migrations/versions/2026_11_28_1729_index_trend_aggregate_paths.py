"""index trend aggregate paths

Revision ID: fd5e72c405e8
Revises: 5d546eb9ac54
Create Date: 2026-11-28 17:29:58.089022

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'fd5e72c405e8'
down_revision = '5d546eb9ac54'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('feedback_rounds', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_rounds_opens_at', ['opens_at'], unique=False)

    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index('ix_responses_round_profession', ['round_id', 'profession'], unique=False)



def downgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('ix_responses_round_profession')

    with op.batch_alter_table('feedback_rounds', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_rounds_opens_at')

