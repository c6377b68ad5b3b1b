"""response codes: a response may carry the respondent's self-generated code (a hex HMAC built in their browser)

Revision ID: e5b81f0c7a42
Revises: d4a7e1c93b20
Create Date: 2026-12-07 03:40:00.000000

Only instrument versions whose file says `self_generated_code: true` ask for it; existing responses have none.
The index serves the pairing of one group's rounds by code (app.trends.paired_queries).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5b81f0c7a42'
down_revision = 'd4a7e1c93b20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_responses_round_code', ['round_id', 'code'], unique=False)


def downgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('ix_responses_round_code')
        batch_op.drop_column('code')
