"""provider identities: the id a directory or an OpenID Connect provider gives a person, linked to one user

Revision ID: 5b1e0c7f3a16
Revises: e5b81f0c7a42
Create Date: 2026-12-07 03:50:00.000000
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b1e0c7f3a16'
down_revision = 'e5b81f0c7a42'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'provider_identities',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('provider', sa.String(length=20), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=False),
        sa.Column('display', sa.String(length=254), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_login_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint("provider IN ('ldap', 'oidc')", name=op.f('ck_provider_identities_provider')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_provider_identities_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_identities')),
        sa.UniqueConstraint('provider', 'subject', name=op.f('uq_provider_identities_provider_subject')),
    )
    with op.batch_alter_table('provider_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_identities_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('provider_identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provider_identities_user_id'))
    op.drop_table('provider_identities')
