"""add staff numbers: the staff number (工号) HR gives a person in their organisation, for the people import

Revision ID: 9c4d7e2a5b10
Revises: e701a1cdb087
Create Date: 2026-12-06 18:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9c4d7e2a5b10'
down_revision = 'e701a1cdb087'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('staff_numbers',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'],
                            name=op.f('fk_staff_numbers_organisation_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_numbers_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_staff_numbers')),
    sa.UniqueConstraint('organisation_id', 'number', name=op.f('uq_staff_numbers_organisation_id_number'))
    )


def downgrade():
    op.drop_table('staff_numbers')
