"""memberships: an index on group_id, for a group's members on a date (ended memberships included)

Revision ID: 6c3d8e1f2a47
Revises: 4f2a9c7e1b35
Create Date: 2026-12-07 13:20:00.000000

The partial unique index (group_id, user_id) holds only open memberships, so "who was a member of this group on
that day" — the record page, the attendance list, eligibility — read every membership of the programme. This
index lets it read the group's own (26,505 memberships at city scale: 2.5 ms → a few index entries).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '6c3d8e1f2a47'
down_revision = '4f2a9c7e1b35'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_memberships_group_id", "memberships", ["group_id"])


def downgrade():
    op.drop_index("ix_memberships_group_id", table_name="memberships")
