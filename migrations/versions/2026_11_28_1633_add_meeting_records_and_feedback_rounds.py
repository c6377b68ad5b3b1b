"""add meeting records attendance themes notes feedback rounds

Revision ID: 8a6462686ca9
Revises: a248d3f1ca7d
Create Date: 2026-11-28 16:33:13.164165

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8a6462686ca9'
down_revision = 'a248d3f1ca7d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('themes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('name_zh', sa.String(length=120), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_themes')),
    sa.UniqueConstraint('code', name=op.f('uq_themes_code'))
    )
    op.create_table('facilitation_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('phases', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_facilitation_plans_group_id_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_facilitation_plans')),
    sa.UniqueConstraint('group_id', name=op.f('uq_facilitation_plans_group_id'))
    )
    op.create_table('feedback_rounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('mode', sa.String(length=15), nullable=False),
    sa.Column('opens_at', sa.DateTime(), nullable=False),
    sa.Column('closes_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('correction_notice', sa.String(length=500), nullable=True),
    sa.CheckConstraint("mode IN ('questionnaire', 'interview')", name=op.f('ck_feedback_rounds_mode')),
    sa.CheckConstraint("status IN ('open', 'closed')", name=op.f('ck_feedback_rounds_status')),
    sa.CheckConstraint('closes_at > opens_at', name=op.f('ck_feedback_rounds_window')),
    sa.CheckConstraint('number >= 1', name=op.f('ck_feedback_rounds_number')),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_feedback_rounds_group_id_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_rounds')),
    sa.UniqueConstraint('group_id', 'number', name=op.f('uq_feedback_rounds_group_id_number'))
    )
    with op.batch_alter_table('feedback_rounds', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_rounds_status_closes', ['status', 'closes_at'], unique=False)

    op.create_table('supervisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('leader_id', sa.Integer(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('supervisor', sa.String(length=200), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('minutes BETWEEN 5 AND 1440', name=op.f('ck_supervisions_minutes')),
    sa.ForeignKeyConstraint(['leader_id'], ['users.id'], name=op.f('fk_supervisions_leader_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervisions'))
    )
    with op.batch_alter_table('supervisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervisions_leader_id'), ['leader_id'], unique=False)

    op.create_table('attendances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.CheckConstraint("status IN ('present', 'absent', 'excused')", name=op.f('ck_attendances_status')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_attendances_meeting_id_meetings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_attendances_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendances')),
    sa.UniqueConstraint('meeting_id', 'user_id', name=op.f('uq_attendances_meeting_id_user_id'))
    )
    with op.batch_alter_table('attendances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attendances_user_id'), ['user_id'], unique=False)

    op.create_table('leader_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('reflection', 'debrief', 'supervision')", name=op.f('ck_leader_notes_kind')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_leader_notes_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_leader_notes_meeting_id_meetings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leader_notes'))
    )
    with op.batch_alter_table('leader_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leader_notes_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('live_states',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_live_states_meeting_id_meetings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_states')),
    sa.UniqueConstraint('meeting_id', name=op.f('uq_live_states_meeting_id'))
    )
    op.create_table('meeting_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('presenter_id', sa.Integer(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('guest_count', sa.Integer(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("mode IN ('onsite', 'online', 'hybrid')", name=op.f('ck_meeting_records_mode')),
    sa.CheckConstraint('duration_minutes BETWEEN 5 AND 600', name=op.f('ck_meeting_records_duration')),
    sa.CheckConstraint('guest_count BETWEEN 0 AND 50', name=op.f('ck_meeting_records_guests')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_meeting_records_meeting_id_meetings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['presenter_id'], ['users.id'], name=op.f('fk_meeting_records_presenter_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_meeting_records_recorded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_records')),
    sa.UniqueConstraint('meeting_id', name=op.f('uq_meeting_records_meeting_id'))
    )
    with op.batch_alter_table('meeting_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_records_presenter_id'), ['presenter_id'], unique=False)

    op.create_table('meeting_themes',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('theme_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_meeting_themes_meeting_id_meetings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['theme_id'], ['themes.id'], name=op.f('fk_meeting_themes_theme_id_themes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('meeting_id', 'theme_id', name=op.f('pk_meeting_themes'))
    )
    with op.batch_alter_table('meeting_themes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_themes_theme_id'), ['theme_id'], unique=False)

    op.create_table('round_meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_round_meetings_meeting_id_meetings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['feedback_rounds.id'], name=op.f('fk_round_meetings_round_id_feedback_rounds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_round_meetings')),
    sa.UniqueConstraint('meeting_id', name=op.f('uq_round_meetings_meeting_id'))
    )
    with op.batch_alter_table('round_meetings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_round_meetings_round_id'), ['round_id'], unique=False)

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('round_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_notifications_round_id'), ['round_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_notifications_round_id_feedback_rounds'), 'feedback_rounds', ['round_id'], ['id'], ondelete='CASCADE')


    # The shipped, controlled list of theme tags; coordinators extend it in the app.
    themes = sa.table(
        "themes", sa.column("code", sa.String), sa.column("name_en", sa.String), sa.column("name_zh", sa.String),
        sa.column("active", sa.Boolean),
    )
    op.bulk_insert(themes, [
        {"code": code, "name_en": en, "name_zh": zh, "active": True}
        for code, en, zh in (
            ("difficult_parents", "Difficult parents", "难以沟通的家长"),
            ("death_and_dying", "Death and dying", "死亡与临终"),
            ("aggression", "Aggression", "攻击与暴力"),
            ("boundaries", "Boundaries", "边界"),
            ("colleague_conflict", "Conflict with colleagues", "同事冲突"),
            ("helplessness", "Helplessness", "无力感"),
            ("uncertainty", "Diagnostic uncertainty", "诊断的不确定性"),
            ("child_suffering", "A child's suffering", "患儿的痛苦"),
            ("complaints", "Complaints and blame", "投诉与指责"),
            ("own_life", "When it touches one's own life", "触及自身经历"),
        )
    ])


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_notifications_round_id_feedback_rounds'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_notifications_round_id'))
        batch_op.drop_column('round_id')

    with op.batch_alter_table('round_meetings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_round_meetings_round_id'))

    op.drop_table('round_meetings')
    with op.batch_alter_table('meeting_themes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meeting_themes_theme_id'))

    op.drop_table('meeting_themes')
    with op.batch_alter_table('meeting_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meeting_records_presenter_id'))

    op.drop_table('meeting_records')
    op.drop_table('live_states')
    with op.batch_alter_table('leader_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leader_notes_meeting_id'))

    op.drop_table('leader_notes')
    with op.batch_alter_table('attendances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attendances_user_id'))

    op.drop_table('attendances')
    with op.batch_alter_table('supervisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervisions_leader_id'))

    op.drop_table('supervisions')
    with op.batch_alter_table('feedback_rounds', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_rounds_status_closes')

    op.drop_table('feedback_rounds')
    op.drop_table('facilitation_plans')
    op.drop_table('themes')
