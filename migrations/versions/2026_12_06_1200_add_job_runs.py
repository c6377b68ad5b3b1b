"""add job runs: one row per run of `flask notify send-due` (start, end, counts, error), for the System page

Revision ID: e701a1cdb087
Revises: 3e9b6c0d2a71
Create Date: 2026-12-06 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e701a1cdb087'
down_revision = '3e9b6c0d2a71'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=60), nullable=False),
    sa.Column('host', sa.String(length=200), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('closed_rounds', sa.Integer(), nullable=True),
    sa.Column('queued', sa.Integer(), nullable=True),
    sa.Column('sent', sa.Integer(), nullable=True),
    sa.Column('retrying', sa.Integer(), nullable=True),
    sa.Column('failed', sa.Integer(), nullable=True),
    sa.Column('dropped', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.CheckConstraint("status IN ('running', 'finished', 'failed', 'skipped')", name=op.f('ck_job_runs_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs'))
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index('ix_job_runs_job_started', ['job', 'started_at'], unique=False)


def downgrade():
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_job_runs_job_started')

    op.drop_table('job_runs')
