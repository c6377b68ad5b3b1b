"""meeting leader bookings: each leader row carries its meeting's time range and liveness, kept in step by
triggers; on PostgreSQL an exclusion constraint (btree_gist) refuses a leader in two overlapping live meetings

Revision ID: 3e9b6c0d2a71
Revises: 6fa203af48be
Create Date: 2026-12-06 10:00:00.000000

The statements are written out here (not imported from app.scheduling.models) so that this revision stays as it
was reviewed whatever the models become. An existing double booking (possible before this revision: a meeting
corrected back to held) stops the upgrade on PostgreSQL with the meetings named: cancel or reassign one of each
pair, then upgrade again. On SQLite there is no constraint (writers are serialised and checked by the app).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3e9b6c0d2a71'
down_revision = '6fa203af48be'
branch_labels = None
depends_on = None

CONSTRAINT = "ex_meeting_leaders_booking"

POSTGRESQL = [
    """CREATE OR REPLACE FUNCTION meeting_leaders_copy_booking() RETURNS trigger AS $$
BEGIN
    SELECT m.starts_at, m.ends_at, m.status <> 'cancelled' INTO NEW.starts_at, NEW.ends_at, NEW.live
    FROM meetings m WHERE m.id = NEW.meeting_id;
    RETURN NEW;
END $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE FUNCTION meetings_copy_booking() RETURNS trigger AS $$
BEGIN
    UPDATE meeting_leaders SET starts_at = NEW.starts_at, ends_at = NEW.ends_at, live = NEW.status <> 'cancelled'
    WHERE meeting_id = NEW.id;
    RETURN NULL;
END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER meeting_leaders_copy_booking BEFORE INSERT OR UPDATE OF meeting_id, starts_at, ends_at, live
    ON meeting_leaders FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION meeting_leaders_copy_booking()""",
    """CREATE TRIGGER meetings_copy_booking AFTER UPDATE OF starts_at, ends_at, status ON meetings
    FOR EACH ROW EXECUTE FUNCTION meetings_copy_booking()""",
]

SQLITE = [
    """CREATE TRIGGER meeting_leaders_copy_booking AFTER INSERT ON meeting_leaders
BEGIN
    UPDATE meeting_leaders SET
        starts_at = (SELECT starts_at FROM meetings WHERE id = NEW.meeting_id),
        ends_at = (SELECT ends_at FROM meetings WHERE id = NEW.meeting_id),
        live = (SELECT status <> 'cancelled' FROM meetings WHERE id = NEW.meeting_id)
    WHERE id = NEW.id;
END""",
    """CREATE TRIGGER meeting_leaders_copy_booking_on_move AFTER UPDATE OF meeting_id ON meeting_leaders
BEGIN
    UPDATE meeting_leaders SET
        starts_at = (SELECT starts_at FROM meetings WHERE id = NEW.meeting_id),
        ends_at = (SELECT ends_at FROM meetings WHERE id = NEW.meeting_id),
        live = (SELECT status <> 'cancelled' FROM meetings WHERE id = NEW.meeting_id)
    WHERE id = NEW.id;
END""",
    """CREATE TRIGGER meetings_copy_booking AFTER UPDATE OF starts_at, ends_at, status ON meetings
BEGIN
    UPDATE meeting_leaders SET starts_at = NEW.starts_at, ends_at = NEW.ends_at, live = NEW.status <> 'cancelled'
    WHERE meeting_id = NEW.id;
END""",
]

BACKFILL = """UPDATE meeting_leaders SET
    starts_at = (SELECT m.starts_at FROM meetings m WHERE m.id = meeting_leaders.meeting_id),
    ends_at = (SELECT m.ends_at FROM meetings m WHERE m.id = meeting_leaders.meeting_id),
    live = (SELECT m.status <> 'cancelled' FROM meetings m WHERE m.id = meeting_leaders.meeting_id)"""

DOUBLE_BOOKINGS = """SELECT a.user_id, a.meeting_id, b.meeting_id FROM meeting_leaders a
JOIN meeting_leaders b ON b.user_id = a.user_id AND b.id > a.id
WHERE a.live AND b.live AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
ORDER BY a.user_id, a.meeting_id LIMIT 20"""


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    with op.batch_alter_table('meeting_leaders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('starts_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('ends_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('live', sa.Boolean(), nullable=True))
    op.execute(BACKFILL)
    for statement in {"postgresql": POSTGRESQL, "sqlite": SQLITE}.get(dialect, []):
        op.execute(statement)
    if dialect == "postgresql":
        clashes = op.get_bind().execute(sa.text(DOUBLE_BOOKINGS)).all()
        if clashes:
            listed = "; ".join(f"user {u}: meetings {a} and {b}" for u, a, b in clashes)
            raise RuntimeError(
                "Leaders are booked into overlapping scheduled or held meetings; cancel or reassign one meeting of "
                f"each pair, then upgrade again: {listed}"
            )
        op.execute(f"ALTER TABLE meeting_leaders ADD CONSTRAINT {CONSTRAINT} "
                   "EXCLUDE USING gist (user_id WITH =, tsrange(starts_at, ends_at) WITH &&) WHERE (live)")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"ALTER TABLE meeting_leaders DROP CONSTRAINT IF EXISTS {CONSTRAINT}")
        op.execute("DROP TRIGGER IF EXISTS meetings_copy_booking ON meetings")
        op.execute("DROP TRIGGER IF EXISTS meeting_leaders_copy_booking ON meeting_leaders")
        op.execute("DROP FUNCTION IF EXISTS meetings_copy_booking()")
        op.execute("DROP FUNCTION IF EXISTS meeting_leaders_copy_booking()")
    elif dialect == "sqlite":
        for trigger in ("meetings_copy_booking", "meeting_leaders_copy_booking_on_move",
                        "meeting_leaders_copy_booking"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    with op.batch_alter_table('meeting_leaders', schema=None) as batch_op:
        batch_op.drop_column('live')
        batch_op.drop_column('ends_at')
        batch_op.drop_column('starts_at')
