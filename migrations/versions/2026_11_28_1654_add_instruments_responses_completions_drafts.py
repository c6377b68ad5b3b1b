"""add instruments responses completions drafts

Revision ID: 5d546eb9ac54
Revises: 8a6462686ca9
Create Date: 2026-11-28 16:54:33.419078

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5d546eb9ac54'
down_revision = '8a6462686ca9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('instruments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title_en', sa.String(length=300), nullable=False),
    sa.Column('title_zh', sa.String(length=300), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('source_text', sa.Text(), nullable=False),
    sa.Column('licence', sa.String(length=300), nullable=False),
    sa.Column('source', sa.String(length=500), nullable=False),
    sa.Column('requires_permission', sa.Boolean(), nullable=False),
    sa.Column('permission_note', sa.Text(), nullable=True),
    sa.Column('permission_recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('permission_recorded_at', sa.DateTime(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_instruments_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['permission_recorded_by_id'], ['users.id'], name=op.f('fk_instruments_permission_recorded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instruments')),
    sa.UniqueConstraint('code', 'version', name=op.f('uq_instruments_code_version'))
    )
    op.create_table('completions',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['feedback_rounds.id'], name=op.f('fk_completions_round_id_feedback_rounds'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_completions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'user_id', name=op.f('pk_completions')),
    sqlite_with_rowid=False
    )
    op.create_table('drafts',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['feedback_rounds.id'], name=op.f('fk_drafts_round_id_feedback_rounds'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_drafts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'user_id', name=op.f('pk_drafts'))
    )
    op.create_table('responses',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=15), nullable=False),
    sa.Column('profession', sa.String(length=20), nullable=True),
    sa.CheckConstraint("source IN ('questionnaire', 'interview')", name=op.f('ck_responses_source')),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_responses_instrument_id_instruments')),
    sa.ForeignKeyConstraint(['round_id'], ['feedback_rounds.id'], name=op.f('fk_responses_round_id_feedback_rounds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_responses')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_responses_round_id'), ['round_id'], unique=False)

    op.create_table('answers',
    sa.Column('response_id', sa.String(length=32), nullable=False),
    sa.Column('item_code', sa.String(length=60), nullable=False),
    sa.Column('value', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('review', sa.String(length=10), nullable=False),
    sa.CheckConstraint("review IN ('pending', 'released', 'withheld')", name=op.f('ck_answers_review')),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_answers_response_id_responses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('response_id', 'item_code', name=op.f('pk_answers')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('feedback_rounds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('instrument_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_feedback_rounds_instrument_id'), ['instrument_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_feedback_rounds_instrument_id_instruments'), 'instruments', ['instrument_id'], ['id'])

    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('instrument_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('feedback_mode', sa.String(length=15), server_default='questionnaire', nullable=False))
        batch_op.create_check_constraint('feedback_mode', "feedback_mode IN ('questionnaire', 'interview')")
        batch_op.create_foreign_key(batch_op.f('fk_groups_instrument_id_instruments'), 'instruments', ['instrument_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_groups_instrument_id_instruments'), type_='foreignkey')
        batch_op.drop_constraint(op.f('ck_groups_feedback_mode'), type_='check')
        batch_op.drop_column('feedback_mode')
        batch_op.drop_column('instrument_id')

    with op.batch_alter_table('feedback_rounds', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_feedback_rounds_instrument_id_instruments'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_feedback_rounds_instrument_id'))
        batch_op.drop_column('instrument_id')

    op.drop_table('answers')
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_responses_round_id'))

    op.drop_table('responses')
    op.drop_table('drafts')
    op.drop_table('completions')
    op.drop_table('instruments')
