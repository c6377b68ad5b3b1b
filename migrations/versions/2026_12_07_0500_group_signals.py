"""group signals: one row per group with the facts the coordinator's home needs (last held meeting, the latest
closed round's participation and published means beside the round before, upcoming meetings breaking an invariant)

Revision ID: 4f2a9c7e1b35
Revises: 3f6d2a9c8e14
Create Date: 2026-12-07 05:00:00.000000

The table starts empty: the home computes a group without a valid row live, so nothing is wrong meanwhile, only
slower. `flask trends refresh-signals` fills it at once (the next `flask notify send-due` run fills it too). The
computation needs the app's rules (disclosure at k, the meeting invariants), so it is not repeated here.
Downgrade drops the table.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4f2a9c7e1b35'
down_revision = '3f6d2a9c8e14'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('group_signals',
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.Column('valid_until', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='0', nullable=False),
    sa.Column('k', sa.Integer(), nullable=False),
    sa.Column('last_held_at', sa.DateTime(), nullable=True),
    sa.Column('round_number', sa.Integer(), nullable=True),
    sa.Column('eligible', sa.Integer(), nullable=True),
    sa.Column('responses', sa.Integer(), nullable=True),
    sa.Column('pairs', sa.JSON(), nullable=False),
    sa.Column('flagged', sa.JSON(), nullable=False),
    sa.Column('horizon_end', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_signals_group_id_groups'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', name=op.f('pk_group_signals'))
    )
    with op.batch_alter_table('group_signals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_signals_valid_until'), ['valid_until'], unique=False)


def downgrade():
    with op.batch_alter_table('group_signals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_signals_valid_until'))
    op.drop_table('group_signals')
