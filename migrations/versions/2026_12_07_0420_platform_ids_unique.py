"""users: one person per WeCom user id and per DingTalk user id (unique indexes; empty ids are NULL and never clash)

Revision ID: 3f6d2a9c8e14
Revises: 8b3e51c0a7d2
Create Date: 2026-12-07 04:20:00.000000

A message addressed to a user id reaches whoever holds it on the platform, so two people of the programme never
share one: the services check it and say whose it is; these indexes close the race of two requests at once.
An id that two people already share stops the upgrade with their user ids, so a coordinator corrects it first.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3f6d2a9c8e14'
down_revision = '8b3e51c0a7d2'
branch_labels = None
depends_on = None

COLUMNS = ("wecom_userid", "dingtalk_userid")


def upgrade():
    bind = op.get_bind()
    for column in COLUMNS:
        shared = bind.execute(sa.text(
            f"SELECT {column}, MIN(id), MAX(id) FROM users WHERE {column} IS NOT NULL "
            f"GROUP BY {column} HAVING COUNT(*) > 1"
        )).all()
        if shared:
            raise RuntimeError(f"{column} shared by several people (id, first user id, last user id): {shared[:20]}; "
                               "give each person their own id on their page, then upgrade again")
        op.create_index(f"ix_users_{column}", "users", [column], unique=True)


def downgrade():
    for column in COLUMNS:
        op.drop_index(f"ix_users_{column}", table_name="users")
